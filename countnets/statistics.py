"""Binomial intervals, ratio intervals and bits of constraint (NumPy/SciPy on integers).

All intervals are two-sided with total miss probability ``alpha = 1 - confidence``,
split equally between the two tails where the method is tail-based.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from countnets._errors import CountnetsError

__all__ = [
    "INTERVAL_METHODS",
    "binomial_interval",
    "clopper_pearson",
    "wilson",
    "jeffreys",
    "ratio_interval",
    "bits",
    "log10",
]

INTERVAL_METHODS = ("clopper-pearson", "wilson", "jeffreys")


def _check(hits: int, n: int, confidence: float) -> tuple[int, int, float]:
    if isinstance(hits, bool) or isinstance(n, bool):
        raise CountnetsError(f"hits and n must be ints, got {hits!r}, {n!r}")
    try:
        hits_i, n_i = int(hits), int(n)
    except (TypeError, ValueError):
        raise CountnetsError(f"hits and n must be ints, got {hits!r}, {n!r}") from None
    if hits_i != hits or n_i != n:
        raise CountnetsError(f"hits and n must be whole numbers, got {hits!r}, {n!r}")
    if n_i < 1:
        raise CountnetsError(f"n (trials) must be >= 1, got {n_i}")
    if not 0 <= hits_i <= n_i:
        raise CountnetsError(f"hits must be in 0..n={n_i}, got {hits_i}")
    try:
        conf = float(confidence)
    except (TypeError, ValueError):
        raise CountnetsError(f"confidence must be a number in (0, 1), got {confidence!r}") from None
    if not 0.0 < conf < 1.0:
        raise CountnetsError(f"confidence must be in (0, 1), got {confidence!r}")
    return hits_i, n_i, conf


def clopper_pearson(hits: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) two-sided interval for a binomial proportion.

    With ``alpha = 1 - confidence``:
    ``lo = BetaInv(alpha/2; k, n-k+1)`` (0 when k = 0) and
    ``hi = BetaInv(1-alpha/2; k+1, n-k)`` (1 when k = n). Coverage is at least
    ``confidence`` for every true p. At zero hits the upper bound is
    ``1 - (alpha/2)**(1/n)``.

    >>> lo, hi = clopper_pearson(0, 1000, 0.95); lo, round(hi, 6)
    (0.0, 0.003682)
    """
    k, n, conf = _check(hits, n, confidence)
    alpha = 1.0 - conf
    lo = 0.0 if k == 0 else float(stats.beta.ppf(alpha / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf(1 - alpha / 2, k + 1, n - k))
    return lo, hi


def wilson(hits: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval: ``(p + z^2/2n -+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)``.

    ``z`` is the ``1 - alpha/2`` normal quantile. Approximate coverage.
    """
    k, n, conf = _check(hits, n, confidence)
    z = float(stats.norm.ppf(1 - (1 - conf) / 2))
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def jeffreys(hits: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Jeffreys interval: equal-tailed quantiles of ``Beta(k + 1/2, n - k + 1/2)``.

    By convention the lower end is 0 at k = 0 and the upper end is 1 at k = n.
    """
    k, n, conf = _check(hits, n, confidence)
    alpha = 1.0 - conf
    lo = 0.0 if k == 0 else float(stats.beta.ppf(alpha / 2, k + 0.5, n - k + 0.5))
    hi = 1.0 if k == n else float(stats.beta.ppf(1 - alpha / 2, k + 0.5, n - k + 0.5))
    return lo, hi


def binomial_interval(
    hits: int, n: int, confidence: float = 0.95, method: str = "clopper-pearson"
) -> tuple[float, float]:
    """Interval for ``p`` from ``hits`` successes in ``n`` trials by ``method`` (see module docs)."""
    table = {"clopper-pearson": clopper_pearson, "wilson": wilson, "jeffreys": jeffreys}
    if method not in table:
        raise CountnetsError(f"unknown interval method {method!r}; expected one of {', '.join(INTERVAL_METHODS)}")
    return table[method](hits, n, confidence)


def ratio_interval(hits_a: int, hits_b: int, confidence: float = 0.95) -> tuple[float, tuple[float, float]]:
    """Estimate and exact interval for ``P(A) / P(B)`` of two disjoint events.

    Given the multinomial counts, ``hits_a | hits_a + hits_b`` is binomial with
    ``q = P(A) / (P(A) + P(B))``; a Clopper-Pearson interval ``[q_lo, q_hi]`` for q
    maps to ``[q_lo / (1 - q_lo), q_hi / (1 - q_hi)]`` for the ratio (conditional
    coverage at least ``confidence``, hence also unconditional).

    Returns:
      ``(ratio, (lo, hi))``; ``inf`` where the count of B is zero, ``nan`` estimate
      when both are zero (interval ``(0, inf)``).

    >>> r, (lo, hi) = ratio_interval(30, 10, 0.95); r
    3.0
    """
    if not all(isinstance(h, (int, np.integer)) and not isinstance(h, bool) and h >= 0 for h in (hits_a, hits_b)):
        raise CountnetsError(f"ratio counts must be non-negative ints, got {hits_a!r}, {hits_b!r}")
    a, b = int(hits_a), int(hits_b)
    total = a + b
    if total == 0:
        _check(0, 1, confidence)
        return float("nan"), (0.0, float("inf"))
    q_lo, q_hi = clopper_pearson(a, total, confidence)

    def odds(q: float) -> float:
        return float("inf") if q >= 1.0 else q / (1.0 - q)

    estimate = float("inf") if b == 0 else a / b
    return estimate, (odds(q_lo), odds(q_hi))


def bits(p: float) -> float:
    """Bits of constraint ``-log2 p`` (``inf`` at p = 0; 0 at p = 1)."""
    p = float(p)
    if p < 0 or p > 1:
        raise CountnetsError(f"a probability must be in [0, 1], got {p}")
    return math.inf if p == 0 else (0.0 if p == 1 else -math.log2(p))


def log10(p: float) -> float:
    """``log10 p`` (``-inf`` at p = 0)."""
    p = float(p)
    if p < 0 or p > 1:
        raise CountnetsError(f"a probability must be in [0, 1], got {p}")
    return -math.inf if p == 0 else math.log10(p)
