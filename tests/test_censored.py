"""Censored lambda* statistics (countnets.experiments.flip_decisive.censored): known answers, simulated error rates."""

import math

import numpy as np
import pytest
from scipy import stats

from countnets.experiments.flip_decisive import censored as c
from countnets.stats.statistics import clopper_pearson


def test_pava_matches_known_fit():
    assert c.pava([3, 1, 2, 5], [1, 1, 1, 1]).tolist() == [2.0, 2.0, 2.0, 5.0]
    # weights pool in proportion; zero weight copies its left neighbour
    assert c.pava([1.0, 0.0, 9.0, 2.0], [1, 3, 0, 1]).tolist() == [0.25, 0.25, 0.25, 2.0]


def test_isotonic_crossing_interpolates_in_log_lambda_and_censors():
    lam = [1.0, 10.0, 100.0]
    # q = 0.25 at 10 and 0.75 at 100: the crossing is half way in log lambda
    est, lo, hi = c.isotonic_crossing(lam, [10, 3, 1], [0, 1, 3])
    assert est == pytest.approx(math.sqrt(10 * 100))
    assert c.isotonic_crossing(lam, [5, 5, 5], [0, 1, 2]) == (math.inf, 100.0, math.inf)
    assert c.isotonic_crossing(lam, [1, 0, 0], [3, 5, 5]) == (1.0, 0.0, 1.0)
    assert all(math.isnan(v) for v in c.isotonic_crossing(lam, [0, 0, 0], [0, 0, 0]))


def test_bootstrap_resamples_initialisations_and_keeps_censored():
    lam = [1.0, 10.0, 100.0]
    never = np.full((3, 50), c.OUTCOME_A)
    r = c.bootstrap_lambda_star(lam, never, n_boot=50)
    assert r["censored"] == "right" and r["estimate"] == math.inf and r["interval"][1] == math.inf
    rng = np.random.default_rng(0)
    # P(B) rises 0.1 -> 0.5 -> 0.9: the crossing is at 10, inside the bootstrap interval
    out = np.stack([np.where(rng.random(400) < p, c.OUTCOME_B, c.OUTCOME_A) for p in (0.1, 0.5, 0.9)])
    r = c.bootstrap_lambda_star(lam, out, n_boot=200)
    assert r["censored"] is None and r["interval"][0] <= r["estimate"] <= r["interval"][1]
    assert r["interval"][0] < 10.0 < r["interval"][1]


def test_interval_regression_without_censoring_is_least_squares_with_exact_profile_interval():
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 10, 30)
    y = 1.0 + 0.5 * x + rng.standard_normal(30)
    r = c.interval_regression(y, y, x)
    slope, intercept = np.polyfit(x, y, 1)
    assert r["slope"] == pytest.approx(slope, abs=1e-5) and r["intercept"] == pytest.approx(intercept, abs=1e-4)
    # normal linear model: 2 (l_max - l_prof(b)) = n log(1 + (b - b_hat)^2 Sxx / RSS)
    sxx = float(((x - x.mean()) ** 2).sum())
    rss = float(((y - intercept - slope * x) ** 2).sum())
    half = math.sqrt(rss / sxx * math.expm1(stats.chi2.ppf(0.95, 1) / 30))
    assert r["slope_ci"] == pytest.approx([slope - half, slope + half], abs=1e-4)


def test_interval_regression_covers_the_true_slope_with_censoring():
    # 25 simulated censored designs: the 95% profile interval misses the true slope in a number
    # of them consistent with a 5% rate (the Clopper-Pearson 99% interval of the miss count)
    rng = np.random.default_rng(7)
    miss = 0
    reps = 25
    for _ in range(reps):
        x = rng.uniform(0, 10, 30)
        y = 2.0 + 0.8 * x + rng.standard_normal(30)
        lo = np.where(y > 8, 8, np.where(y < 3, -np.inf, y))
        hi = np.where(y > 8, np.inf, np.where(y < 3, 3, y))
        r = c.interval_regression(lo, hi, x)
        miss += not r["slope_ci"][0] <= 0.8 <= r["slope_ci"][1]
    lo_rate, hi_rate = clopper_pearson(miss, reps, 0.99)
    assert lo_rate <= 0.05 <= hi_rate, miss


def test_interval_kendall_equals_scipy_without_censoring_and_counts_overlaps_as_zero():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal(12), rng.standard_normal(12)
    r = c.interval_kendall(x, y, y, n_boot=20, n_perm=20)
    assert r["tau"] == pytest.approx(stats.kendalltau(x, y).statistic)
    # two censored values above 5 overlap each other: that pair counts 0
    r = c.interval_kendall([1, 2, 3, 4], [1, 2, 5, 5], [1, 2, np.inf, np.inf], n_boot=20, n_perm=20)
    assert r["tau"] == pytest.approx(5 / 6)


def test_regression_power_holds_its_level_at_rho_zero():
    x = np.linspace(0, 10, 30)
    r = c.regression_power(x, 0.0, reps=100, seed=2)
    assert r["power_ci"][0] <= 0.05 <= r["power_ci"][1], r


def test_bootstrap_interval_of_a_left_censored_pair_starts_at_zero():
    out = np.full((3, 40), c.OUTCOME_B)
    r = c.bootstrap_lambda_star([1.0, 10.0, 100.0], out, n_boot=30)
    assert r["censored"] == "left" and r["bound"] == [0.0, 1.0] and r["interval"] == [0.0, 1.0]


def test_regression_power_without_censoring_matches_the_exact_power_of_the_likelihood_ratio_test():
    # uncensored normal regression: the LR test rejects when |t| > t_c = sqrt((n-2)(exp(chi2_1/n) - 1)),
    # with t noncentral (df n-2, noncentrality b sqrt(Sxx) / sigma); b as regression_power sets it
    x = np.linspace(0, 10, 30)
    n, rho = x.size, 0.5
    r = c.regression_power(x, rho, censor_low=0.0, censor_high=0.0, reps=150, seed=4)
    t_c = math.sqrt((n - 2) * math.expm1(stats.chi2.ppf(0.95, 1) / n))
    nc = r["slope"] * math.sqrt(((x - x.mean()) ** 2).sum())
    exact = stats.nct.sf(t_c, n - 2, nc) + stats.nct.cdf(-t_c, n - 2, nc)
    lo, hi = clopper_pearson(round(r["power"] * r["reps"]), r["reps"], 0.99)
    assert lo <= exact <= hi, (r["power"], exact)
