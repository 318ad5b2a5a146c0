"""Issue 29's within-group statistics, against closed forms and plain numerical integration."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, special, stats

from countnets._errors import CountnetsError
from countnets.experiments.flip_decisive.grouped import group_loglik, random_intercept_regression, stratified_kendall


def _simulated(seed: int, groups: int = 30, per: int = 4, slope: float = 0.7, tau: float = 3.0, sigma: float = 0.5):
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(groups), per)
    x = rng.normal(size=g.size) * 2.0
    y = 1.0 + slope * x + rng.normal(size=groups)[g] * tau + rng.normal(size=g.size) * sigma
    return g, x, y


def test_loglik_of_exact_data_is_the_compound_symmetric_normal():
    g, x, y = _simulated(0)
    mu = 1.0 + 0.7 * x
    cov = 0.25 * np.eye(4) + 9.0 * np.ones((4, 4))
    expected = sum(stats.multivariate_normal(mu[g == i], cov).logpdf(y[g == i]) for i in range(30))
    assert group_loglik(y, y, mu, g, 30, 3.0, 0.5) == pytest.approx(expected, rel=1e-10)


def test_loglik_of_censored_data_is_the_integral_over_the_intercept():
    g, x, y = _simulated(1)
    lo, hi = y.copy(), y.copy()
    hi[::3] = np.inf
    lo[1::5], hi[1::5] = -np.inf, y[1::5] + 1.0
    lo[2::7], hi[2::7] = y[2::7] - 0.3, y[2::7] + 0.2
    mu = 1.0 + 0.7 * x

    def group(i):
        m = g == i

        def integrand(u):
            v = stats.norm.pdf(u, 0, 3.0)
            for a, b, c in zip(lo[m], hi[m], mu[m], strict=True):
                if a == b:
                    v *= stats.norm.pdf(a, c + u, 0.5)
                else:
                    v *= stats.norm.cdf(b, c + u, 0.5) - stats.norm.cdf(a, c + u, 0.5)
            return v

        return math.log(integrate.quad(integrand, -40, 40, limit=500, epsabs=0, epsrel=1e-11)[0])

    expected = sum(group(i) for i in range(30))
    assert group_loglik(lo, hi, mu, g, 30, 3.0, 0.5) == pytest.approx(expected, rel=1e-9)


def test_loglik_holds_for_groups_censored_far_out_with_small_sigma():
    # two right-censored observations at 2 (tau = sigma = 0.05): the mode lies 40 tau out; a trapezoid in log space
    lo, hi = np.array([2.0, 2.0]), np.array([np.inf, np.inf])
    u = np.linspace(-1.0, 3.0, 400_001)
    log_f = stats.norm.logpdf(u, 0, 0.05) + 2 * special.log_ndtr((u - 2.0) / 0.05)
    expected = special.logsumexp(log_f) + math.log(u[1] - u[0])
    assert group_loglik(lo, hi, np.zeros(2), np.zeros(2, int), 1, 0.05, 0.05) == pytest.approx(expected, abs=1e-6)
    # sigma ten times smaller than tau, censored at 3
    u = np.linspace(-2.0, 5.0, 700_001)
    log_f = stats.norm.logpdf(u, 0, 0.2) + 2 * special.log_ndtr((u - 3.0) / 0.02)
    expected = special.logsumexp(log_f) + math.log(u[1] - u[0])
    assert group_loglik(lo + 1.0, hi, np.zeros(2), np.zeros(2, int), 1, 0.2, 0.02) == pytest.approx(expected, abs=1e-6)


def test_within_slope_ignores_levels_that_follow_the_group_mean():
    # true within-group slope 0; each group's level is 1.5 x its mean x (a confounded between-group slope)
    rng = np.random.default_rng(11)
    g = np.repeat(np.arange(30), 4)
    x = (rng.normal(size=30) * 2)[g] + rng.normal(size=g.size)
    xbar = np.bincount(g, weights=x)[g] / 4
    y = 1.5 * xbar + (rng.normal(size=30) * 0.1)[g] + rng.normal(size=g.size) * 1.0
    res = random_intercept_regression(y, y, x, g, confidence=0.999)
    assert res["slope_ci"][0] <= 0.0 <= res["slope_ci"][1]
    # the plain random-intercept slope takes in the between-group slope: its interval misses the true 0 here
    mixed = random_intercept_regression(y, y, x, g, confidence=0.999, within=False)
    assert mixed["slope_ci"][0] > 0.0


def test_slope_interval_covers_the_truth_with_right_censoring():
    g, x, y = _simulated(2)
    cut = 3.0
    res = random_intercept_regression(np.where(y > cut, cut, y), np.where(y > cut, np.inf, y), x, g, confidence=0.999)
    assert res["censored"] > 10
    assert res["slope_ci"][0] <= 0.7 <= res["slope_ci"][1]
    assert res["slope_ci"][0] > 0  # detected: the interval excludes 0
    assert res["p"] < 1e-6


def test_group_levels_do_not_enter_the_within_group_statistics():
    g, x, y = _simulated(3, slope=0.0, tau=0.0 + 1e-9)
    shifted = y + 50.0 * np.sin(g)  # a large level per group, unrelated to x within groups
    a = stratified_kendall(x, y, y, g, n_perm=50)
    b = stratified_kendall(x, shifted, shifted, g, n_perm=50)
    assert a["tau"] == b["tau"] and a["p"] == b["p"]


def test_stratified_kendall_counts_known_pairs():
    # group 0: x up, y up (3 concordant); group 1: y intervals overlap in one pair, the other two discordant
    x = [0, 1, 2, 0, 1, 2]
    lo = [0, 1, 2, 5, 4.5, 3]
    hi = [0, 1, 2, 5, 5.5, 3]
    res = stratified_kendall(x, lo, hi, ["a", "a", "a", "b", "b", "b"], n_perm=20)
    assert res["pairs"] == 6
    assert res["tau"] == pytest.approx((3 - 2) / 6)


def test_bad_input_is_one_line():
    with pytest.raises(CountnetsError, match="one length"):
        random_intercept_regression([1, 2], [1, 2, 3], [1, 2], [0, 0])
    with pytest.raises(CountnetsError, match="lo <= hi"):
        random_intercept_regression([1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5, 0], [1, 2, 3, 4, 5, 6], [0, 0, 0, 1, 1, 1])
    with pytest.raises(CountnetsError, match="at least 6"):
        random_intercept_regression([1, 2, 3], [1, 2, 3], [1, 2, 3], [0, 0, 1])
    with pytest.raises(CountnetsError, match="at least 2 observations"):
        stratified_kendall([1, 2], [1, 2], [1, 2], [0, 1])
