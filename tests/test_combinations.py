"""Coverage of the combined intervals (countnets.stats.combinations), measured against known truths.

Each trial draws every term's replicas from a normal law with a known mean, forms the
replica means and relative errors as splitting does (``replica_interval``), and combines
them. The measured coverage of the 95% interval over the trials must hold 0.95 inside its
own 99.9% Clopper-Pearson interval: the test fails when the combination under- or
over-covers by more than the trials can tell apart.
"""

import math

import numpy as np
import pytest

from countnets import CountnetsError
from countnets.stats.combinations import Term, ratio_of_sums, signed_sum
from countnets.stats.statistics import clopper_pearson

TRIALS = 3000
REPLICAS = 32


def _terms(rng, signs, means, sds):
    """One trial: each term's replica mean and relative error from REPLICAS normal replicas."""
    out = []
    for sign, mu, sd in zip(signs, means, sds, strict=True):
        z = rng.normal(mu, sd, REPLICAS)
        p = float(z.mean())
        out.append(Term(sign, p, float(z.std(ddof=1)) / (p * math.sqrt(REPLICAS)), REPLICAS))
    return out


def _assert_covers(hits, confidence=0.95):
    lo, hi = clopper_pearson(hits, TRIALS, 0.999)
    assert lo <= confidence <= hi, (hits / TRIALS, lo, hi)


def test_the_signed_sum_interval_covers_its_truth():
    # P(f, k* = 2) = P(T2) - P(T0 T2) - P(T1 T2) + P(T0 T1 T2): four independent terms of unequal precision.
    rng = np.random.default_rng(0)
    signs, means, sds = (1, -1, -1, 1), (5e-6, 1e-6, 2e-6, 0.5e-6), (4e-6, 1e-6, 3e-6, 0.6e-6)
    truth = sum(s * m for s, m in zip(signs, means, strict=True))
    hits = 0
    for _ in range(TRIALS):
        c = signed_sum(_terms(rng, signs, means, sds))
        hits += c.lo <= truth <= c.hi
    _assert_covers(hits)


def _ratio_hits(rng, scale):
    """Trials whose interval of (4 - 1) / 1.5 holds 2; ``scale`` sets the replicas' spread (relative errors)."""
    hits = 0
    for _ in range(TRIALS):
        a = signed_sum(_terms(rng, (1, -1), (4e-6, 1e-6), (3e-6 * scale, 1e-6 * scale)))
        b = signed_sum(_terms(rng, (1,), (1.5e-6,), (1.2e-6 * scale,)))
        r = ratio_of_sums(a, b)
        hits += r.lo <= 2.0 <= r.hi
    return hits


def test_the_ratio_interval_covers_its_truth_at_small_relative_errors():
    # Relative errors near 5% per sum: the delta method on the log scale is accurate.
    _assert_covers(_ratio_hits(np.random.default_rng(1), 0.25))


def test_the_ratio_interval_does_not_undercover_at_larger_relative_errors():
    # Near 20% and 14% per sum the interval is conservative (measured: 96.5% for a 95% interval, seed 1); the check
    # is one-sided: it fails only when the interval covers less than it says.
    hits = _ratio_hits(np.random.default_rng(1), 1.0)
    assert clopper_pearson(hits, TRIALS, 0.999)[1] >= 0.95, hits / TRIALS


def test_bad_terms_are_refused_in_one_line():
    with pytest.raises(CountnetsError, match="at least one term"):
        signed_sum([])
    with pytest.raises(CountnetsError, match="sign is \\+1 or -1, got 2"):
        signed_sum([Term(2, 1e-6, 0.1, 8)])
    with pytest.raises(CountnetsError, match="positive estimate and a finite relative error"):
        signed_sum([Term(1, 0.0, math.nan, 8)])  # no replica reached the event: an upper bound, not a term
    with pytest.raises(CountnetsError, match="at least 2 replicas"):
        signed_sum([Term(1, 1e-6, 0.1, 1)])
    zero = signed_sum([Term(1, 1e-6, 0.1, 8), Term(-1, 1e-6, 0.1, 8)])
    assert zero.estimate == 0 and zero.lo == 0
    with pytest.raises(CountnetsError, match="two positive estimates"):
        ratio_of_sums(zero, signed_sum([Term(1, 1e-6, 0.1, 8)]))
