"""Intervals: closed forms, exact coverage by summing the binomial pmf, ratio intervals."""

import math

import numpy as np
import pytest
from scipy import stats

from countnets import CountnetsError, statistics


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
