"""Intervals: closed forms, exact coverage by summing the binomial pmf, ratio intervals."""

import math

import numpy as np
import pytest
from scipy import stats

from countnets import CountnetsError
from countnets.stats import statistics, tolerance


def test_clopper_pearson_zero_and_full_hits_closed_form():
    n, conf = 1000, 0.95
    lo, hi = statistics.clopper_pearson(0, n, conf)
    assert lo == 0.0
    assert hi == pytest.approx(1 - (0.025) ** (1 / n), rel=1e-10)
    lo, hi = statistics.clopper_pearson(n, n, conf)
    assert hi == 1.0
    assert lo == pytest.approx(0.025 ** (1 / n), rel=1e-10)


def test_clopper_pearson_tail_definition():
    # The CP bounds solve P(X >= k; lo) = alpha/2 and P(X <= k; hi) = alpha/2.
    k, n, conf = 7, 50, 0.99
    lo, hi = statistics.clopper_pearson(k, n, conf)
    assert stats.binom.sf(k - 1, n, lo) == pytest.approx(0.005, rel=1e-8)
    assert stats.binom.cdf(k, n, hi) == pytest.approx(0.005, rel=1e-8)


def _exact_coverage(method, n, p, conf):
    ks = np.arange(n + 1)
    pmf = stats.binom.pmf(ks, n, p)
    inside = [lo <= p <= hi for lo, hi in (statistics.binomial_interval(int(k), n, conf, method) for k in ks)]
    return float(np.sum(pmf[inside]))


@pytest.mark.parametrize("p", [0.001, 0.03, 0.2, 0.5, 0.77])
def test_clopper_pearson_coverage_is_at_least_nominal(p):
    for n in (20, 137):
        assert _exact_coverage("clopper-pearson", n, p, 0.95) >= 0.95 - 1e-12


def test_wilson_matches_formula():
    k, n, conf = 13, 40, 0.9
    z = stats.norm.ppf(0.95)
    phat = k / n
    centre = (phat + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * math.sqrt(phat * (1 - phat) / n + z**2 / (4 * n**2))
    assert statistics.wilson(k, n, conf) == pytest.approx((centre - half, centre + half), rel=1e-12)


def test_jeffreys_matches_beta_quantiles():
    lo, hi = statistics.jeffreys(4, 30, 0.95)
    assert lo == pytest.approx(stats.beta.ppf(0.025, 4.5, 26.5))
    assert hi == pytest.approx(stats.beta.ppf(0.975, 4.5, 26.5))
    assert statistics.jeffreys(0, 30, 0.95)[0] == 0.0


def test_approximate_intervals_have_reasonable_coverage_at_moderate_p():
    # Wilson and Jeffreys are approximate; at p = 0.3, n = 200 both cover within 2 points.
    for method in ("wilson", "jeffreys"):
        assert _exact_coverage(method, 200, 0.3, 0.95) > 0.93


def test_ratio_interval_maps_conditional_binomial():
    r, (lo, hi) = statistics.ratio_interval(30, 10, 0.95)
    q_lo, q_hi = statistics.clopper_pearson(30, 40, 0.95)
    assert r == 3.0
    assert lo == pytest.approx(q_lo / (1 - q_lo)) and hi == pytest.approx(q_hi / (1 - q_hi))
    r, (lo, hi) = statistics.ratio_interval(5, 0, 0.95)
    assert r == math.inf and hi == math.inf and lo > 0
    r, (lo, hi) = statistics.ratio_interval(0, 0, 0.95)
    assert math.isnan(r) and (lo, hi) == (0.0, math.inf)


def test_ratio_interval_coverage_by_exact_conditional_sum():
    # With P(A) = 0.02, P(B) = 0.01 (ratio 2) and m = 60 events, conditional coverage >= 95%.
    q, m = 2 / 3, 60
    cov = 0.0
    for a in range(m + 1):
        _, (lo, hi) = statistics.ratio_interval(a, m - a, 0.95)
        if lo <= 2.0 <= hi:
            cov += stats.binom.pmf(a, m, q)
    assert cov >= 0.95


def test_bits_and_log10():
    assert statistics.bits(0.25) == 2.0
    assert statistics.bits(1.0) == 0.0
    assert statistics.bits(0.0) == math.inf
    assert statistics.log10(0.001) == pytest.approx(-3)


@pytest.mark.parametrize(
    "args, match",
    [
        ((5, 3, 0.95), "hits must be in 0..n=3"),
        ((-1, 3, 0.95), "hits must be in"),
        ((0, 0, 0.95), "n \\(trials\\) must be >= 1"),
        ((1, 3, 1.0), "confidence must be in \\(0, 1\\)"),
    ],
)
def test_interval_errors(args, match):
    with pytest.raises(CountnetsError, match=match):
        statistics.clopper_pearson(*args)


def test_unknown_method():
    with pytest.raises(CountnetsError, match="unknown interval method 'wald'"):
        statistics.binomial_interval(1, 3, 0.95, "wald")


def test_ratio_interval_rejects_negative_counts():
    # Non-int types are stopped by the runtime type checker under pytest before the
    # function's own check (which turns 2.7 or "x" into the same CountnetsError).
    for bad in [(-1, 3), (2, -5)]:
        with pytest.raises(CountnetsError, match="non-negative ints"):
            statistics.ratio_interval(*bad)


# ----------------------------------------------------------------------------- tests, multiplicity, correlations


def test_central_binomial_p_is_dual_to_clopper_pearson():
    # The CP interval excludes p0 exactly when the central test's p-value is below alpha.
    for n in (1, 7, 30, 111):
        for k in range(n + 1):
            lo, hi = statistics.clopper_pearson(k, n, 0.95)
            p = statistics.central_binomial_p(k, n, 0.5)
            assert (not lo <= 0.5 <= hi) == (p < 0.05), (k, n, lo, hi, p)
    assert statistics.central_binomial_p(0, 0) == 1.0
    assert statistics.central_binomial_p(5, 10) == 1.0


def _holm_by_definition(p):
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    out, running = [0.0] * m, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def test_holm_and_bh_against_their_definitions_and_scipy():
    rng = np.random.default_rng(0)
    for m in (1, 2, 5, 40):
        p = np.concatenate([rng.uniform(0, 1, m - m // 2), rng.uniform(0, 0.01, m // 2)])
        np.testing.assert_allclose(statistics.holm(p), _holm_by_definition(p.tolist()), rtol=0, atol=1e-15)
        np.testing.assert_allclose(statistics.benjamini_hochberg(p), stats.false_discovery_control(p, method="bh"),
                                   rtol=1e-12)  # fmt: skip
        assert (statistics.holm(p) >= statistics.benjamini_hochberg(p) - 1e-15).all()
    np.testing.assert_array_equal(statistics.adjust_pvalues([0.2, 0.01], "none"), [0.2, 0.01])
    assert statistics.holm([]).size == 0
    with pytest.raises(CountnetsError, match="unknown p-value adjustment"):
        statistics.adjust_pvalues([0.1], "bonferroni")
    with pytest.raises(CountnetsError, match=r"\[0, 1\]"):
        statistics.holm([1.5])


def test_holm_controls_the_family_wise_error_rate_by_simulation():
    rng = np.random.default_rng(1)
    m, reps, alpha = 20, 4000, 0.05
    # Strongly dependent null p-values (a shared component) as well as independent ones.
    shared = rng.normal(size=(reps, 1))
    z = 0.8 * shared + 0.6 * rng.normal(size=(reps, m))
    p = 2 * stats.norm.sf(np.abs(z))
    fwer = np.mean([(statistics.holm(row) < alpha).any() for row in p])
    assert fwer <= alpha + 3 * np.sqrt(alpha * (1 - alpha) / reps)


def test_fisher_z_interval_closed_form():
    lo, hi = statistics.fisher_z_interval(0.58, 10)
    s, z = np.sqrt(1.06 / 7), stats.norm.ppf(0.975)
    assert (lo, hi) == pytest.approx((np.tanh(np.arctanh(0.58) - z * s), np.tanh(np.arctanh(0.58) + z * s)))
    # the scale quoted in the docs for n = 10 (recomputed: within the tolerance rule of countnets.stats.tolerance)
    assert "-0.10" in tolerance.renderings(lo, ".2f") and "0.89" in tolerance.renderings(hi, ".2f")
    plo, phi = statistics.fisher_z_interval(0.58, 10, rank=False)
    assert lo < plo and phi < hi
    assert statistics.fisher_z_interval(1.0, 10) == (1.0, 1.0)
    with pytest.raises(CountnetsError, match="n >= 4"):
        statistics.fisher_z_interval(0.5, 3)


def test_censored_spearman_ranks_censored_values_above_every_observed_one():
    x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    y = [0.5, 0.3, 2.0, float("inf"), 1.0, float("inf")]
    out = statistics.censored_spearman(x, y)
    ref = stats.spearmanr(x, [0.5, 0.3, 2.0, 99.0, 1.0, 99.0])
    assert out["spearman"] == pytest.approx(ref.statistic) and out["p"] == pytest.approx(ref.pvalue)
    assert out["n"] == 6 and out["censored"] == 2 and out["ci"][0] < out["spearman"] < out["ci"][1]
    # A non-finite x (odds undefined or infinite) leaves its pair out; too few pairs give None.
    assert statistics.censored_spearman([1.0, float("nan"), 2.0], [1.0, 2.0, 3.0])["spearman"] is None
    assert statistics.censored_spearman([1, 2, 3], [1, 1, 1])["spearman"] is None
    with pytest.raises(CountnetsError, match="censored"):
        statistics.censored_spearman([1, 2, 3], [1, float("-inf"), 2])


def test_compare_distributions_permutation_test_and_largest_differences():
    same = statistics.compare_distributions({1: 500, 2: 300, 3: 200}, {1: 250, 2: 150, 3: 100}, bootstrap=300)
    assert same["tv"] == 0 and same["tv_permutation_p"] == 1.0 and same["tv_excess"] < 0
    diff = statistics.compare_distributions({1: 900, 2: 60, 3: 40}, {1: 300, 2: 400, 3: 300}, bootstrap=300)
    assert diff["tv_permutation_p"] == 1 / 301
    assert diff["largest_excess"] == {"function": 1, "value": pytest.approx(0.9 - 0.3)}
    assert diff["largest_deficit"]["function"] == 2
    assert diff["tv"] == pytest.approx(diff["largest_excess"]["value"])  # TV = the sum of the positive differences
    # The earlier fields do not depend on the new draws (they come first from the same generator).
    base = statistics.compare_distributions({1: 900, 2: 60, 3: 40}, {1: 300, 2: 400, 3: 300}, bootstrap=300,
                                            equal_size_draws=5)  # fmt: skip
    assert base["tv_ci"] == diff["tv_ci"] and base["tv_null_mean"] == diff["tv_null_mean"]


def test_equal_size_richness_subsamples_the_larger_histogram():
    big = {f: 10 for f in range(100)}  # 1000 draws over 100 functions
    small = {f: 5 for f in range(20)}  # 100 draws over 20 functions
    out = statistics.equal_size_richness(big, small, draws=50, seed=0)
    assert out["size"] == 100 and out["q_distinct"] == 20 and out["q_entropy"] == pytest.approx(np.log(20))
    # 100 of 1000 draws without replacement from 100 equally common functions: about 100 (1 - 0.9^10) distinct.
    assert 58 < out["p_distinct"] < 68
    assert out["p_distinct_range"][0] <= out["p_distinct"] <= out["p_distinct_range"][1]
