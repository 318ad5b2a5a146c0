"""Binomial intervals, ratio intervals and bits of constraint (NumPy/SciPy on integers).

All intervals are two-sided with total miss probability ``alpha = 1 - confidence``,
split equally between the two tails where the method is tail-based.

The p-value adjustments (:mod:`countnets.stats.multiplicity`) and the comparison of two
distributions over functions (:mod:`countnets.stats.distributions`) live in their own
modules; their names are re-exported here.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

from countnets._errors import CountnetsError, check_finite_float
from countnets.defaults import INTERVAL_METHODS  # noqa: F401 (re-exported)
from countnets.records import Record, record
from countnets.stats.distributions import LambdaStar, compare_distributions, equal_size_richness, lambda_star
from countnets.stats.multiplicity import P_ADJUSTMENTS, Floats, adjust_pvalues, benjamini_hochberg, holm

__all__ = [
    "Estimate",
    "make_estimate",
    "INTERVAL_METHODS",
    "binomial_interval",
    "clopper_pearson",
    "wilson",
    "jeffreys",
    "ratio_interval",
    "bits",
    "log10",
    "LambdaStar",
    "lambda_star",
    "compare_distributions",
    "central_binomial_p",
    "P_ADJUSTMENTS",
    "adjust_pvalues",
    "holm",
    "benjamini_hochberg",
    "fisher_z_interval",
    "censored_spearman",
    "equal_size_richness",
    "ReplicaInterval",
    "replica_interval",
    "t_quantile",
    "ratio_of_means",
]


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


# ----------------------------------------------------------------------------- tests and correlations


def central_binomial_p(hits: int, n: int, p0: float = 0.5) -> float:
    """Two-sided p-value of the central (equal-tailed) exact binomial test of ``p = p0``.

    ``p = min(1, 2 min(P(X <= k), P(X >= k)))`` for ``X ~ Binomial(n, p0)``. It is the
    test dual to the Clopper-Pearson interval: the interval at confidence
    ``1 - alpha`` excludes ``p0`` exactly when this p-value is below ``alpha`` (up to
    ties at the boundary). With ``n = 0`` there is no evidence: 1.0.

    >>> round(central_binomial_p(9, 10), 4)
    0.0215
    """
    if n == 0:
        return 1.0
    k, n, _ = _check(hits, n, 0.95)
    if not 0.0 < p0 < 1.0:
        raise CountnetsError(f"p0 must be in (0, 1), got {p0!r}")
    lower = float(stats.binom.cdf(k, n, p0))
    upper = float(stats.binom.sf(k - 1, n, p0))
    return min(1.0, 2.0 * min(lower, upper))


def fisher_z_interval(r: float, n: int, confidence: float = 0.95, *, rank: bool = True) -> tuple[float, float]:
    """Approximate interval for a correlation from Fisher's z transform.

    ``tanh(atanh(r) -+ z_{1 - alpha/2} s)`` with ``s = sqrt(1.06 / (n - 3))`` for a
    Spearman (rank) correlation (Fieller, Hartley and Pearson 1957) and
    ``s = sqrt(1 / (n - 3))`` for a Pearson one. Needs ``n >= 4``; ``r = -+1`` gives a
    degenerate interval. Approximate: it assumes a bivariate sample without heavy
    ties, so read it as a scale of the uncertainty at small n, not as exact coverage.

    >>> [round(v, 2) for v in fisher_z_interval(0.58, 10)]
    [-0.1, 0.89]
    """
    n = int(n)
    if n < 4:
        raise CountnetsError(f"a Fisher-z interval needs n >= 4 pairs, got {n}")
    _check(0, 1, confidence)
    r = float(r)
    if not -1.0 <= r <= 1.0:
        raise CountnetsError(f"a correlation must be in [-1, 1], got {r}")
    if abs(r) == 1.0:
        return r, r
    s = math.sqrt((1.06 if rank else 1.0) / (n - 3))
    z = float(stats.norm.ppf(1 - (1 - confidence) / 2))
    centre = math.atanh(r)
    return math.tanh(centre - z * s), math.tanh(centre + z * s)


def censored_spearman(x: Floats, y: Floats, confidence: float = 0.95) -> dict[str, Any]:
    """Spearman correlation of x and a right-censored y whose censored values exceed every observed one.

    ``y = inf`` marks a censored value known only to lie above the largest finite y
    (a sweep that never reached the event). Ranks are then still defined: censored
    values share the top midrank, so no pair is dropped. Pairs with a non-finite x are
    left out (``n`` counts the pairs used). Returns ``n``, ``censored``, ``spearman``
    (``None`` when x or y is constant or ``n < 3``), ``p`` (scipy's t approximation,
    two-sided), ``ci`` (:func:`fisher_z_interval`, ``None`` when ``n < 4``) and
    ``ci_method``.

    >>> round(censored_spearman([1, 2, 3, 4, 5], [0.5, 0.7, 2.0, float("inf"), float("inf")])["spearman"], 4)
    0.9747
    """
    pts = [(float(a), float(b)) for a, b in zip(x, y, strict=True) if math.isfinite(float(a))]
    if any(math.isnan(b) or b == -math.inf for _, b in pts):
        raise CountnetsError("y must be finite or +inf (censored above every finite value)")
    xs = np.array([a for a, _ in pts])
    ys = np.array([b for _, b in pts])
    censored = int(np.isinf(ys).sum())
    out: dict[str, Any] = {"n": len(pts), "censored": censored, "spearman": None, "p": None, "ci": None,
                           "ci_method": "fisher-z, variance 1.06/(n-3)"}  # fmt: skip
    if len(pts) < 3:
        return out
    finite = ys[np.isfinite(ys)]
    top = (finite.max() + 1.0) if finite.size else 1.0
    ys = np.where(np.isinf(ys), top, ys)
    if np.ptp(xs) == 0 or np.ptp(ys) == 0:
        return out
    res = stats.spearmanr(xs, ys)
    out["spearman"] = float(res.statistic)
    out["p"] = float(res.pvalue)
    if len(pts) >= 4:
        out["ci"] = list(fisher_z_interval(out["spearman"], len(pts), confidence, rank=True))
    return out


# ----------------------------------------------------------------------------- replicas of an unbiased estimator


@dataclasses.dataclass(frozen=True)
class ReplicaInterval:
    """Mean of i.i.d. replica estimates with its log-scale t interval.

    Attributes:
      mean: ``p_hat = mean_r Z_r``.
      lo, hi: ``p_hat exp(-+ t_{R-1, 1 - alpha/2} e)`` (both 0 when ``p_hat = 0``).
      relative_error: ``e = sd(Z, ddof=1) / (p_hat sqrt(R))`` (NaN when ``p_hat = 0``).
    """

    mean: float
    lo: float
    hi: float
    relative_error: float


def t_quantile(confidence: float, df: float) -> float:
    """The two-sided Student quantile ``t_{1 - alpha/2, df}`` of a checked ``confidence`` in (0, 1)."""
    confidence = check_finite_float("confidence", confidence)
    if not 0 < confidence < 1:
        raise CountnetsError(f"confidence must be in (0, 1), got {confidence}")
    return float(stats.t.ppf(1 - (1 - confidence) / 2, df))


def replica_interval(values: Sequence[float] | np.ndarray, confidence: float = 0.95) -> ReplicaInterval:
    """The log-scale (delta-method) t interval of the mean of i.i.d. non-negative estimates.

    ``p_hat = mean(Z)``, ``e = sd(Z) / (p_hat sqrt(R))`` (sd with ``R - 1``), and the
    interval ``[p_hat exp(-t e), p_hat exp(t e)]`` with ``t`` the ``1 - alpha/2`` quantile of
    Student's t with ``R - 1`` degrees of freedom. It is the t interval of ``log p_hat``
    with the delta-method standard error ``e``: exact in the limit of many replicas, and
    skewed to the right, like the replicas' distribution.

    >>> r = replica_interval([1e-9, 2e-9, 1.5e-9, 0.5e-9], 0.95)
    >>> round(r.mean, 12), round(r.relative_error, 4), round(r.lo, 12), round(r.hi, 12)
    (1.25e-09, 0.2582, 5.5e-10, 2.843e-09)

    Raises:
      CountnetsError: for fewer than 2 values, a negative or non-finite value, or a bad confidence.
    """
    z = np.asarray(values, np.float64).reshape(-1)
    if z.size < 2:
        raise CountnetsError(f"an interval from replicas needs at least 2 of them, got {z.size}")
    if not np.all(np.isfinite(z)) or np.any(z < 0):
        raise CountnetsError("replica estimates must be finite and non-negative")
    t = t_quantile(confidence, z.size - 1)
    mean = float(z.mean())
    if mean == 0:
        return ReplicaInterval(0.0, 0.0, 0.0, math.nan)
    e = float(z.std(ddof=1)) / (mean * math.sqrt(z.size))
    return ReplicaInterval(mean, mean * math.exp(-t * e), mean * math.exp(t * e), e)


def ratio_of_means(
    numerators: Sequence[float] | np.ndarray, denominators: Sequence[float] | np.ndarray, confidence: float = 0.95
) -> tuple[float, float, float]:
    """``sum(a) / sum(b)`` over i.i.d. replica pairs ``(a_r, b_r)``, with its delta-method t interval.

    The standard error is ``sd(a_r - R b_r) / (sqrt(n) mean(b))`` (sd with ``n - 1``), and the
    interval ``R -+ t se`` (lower end clipped at 0) with ``t`` the Student quantile at
    ``n - 1`` degrees of freedom: the usual ratio estimator of survey sampling, valid for
    many replicas. Used for conditional masses (``a_r = Z_r c_r / N``, ``b_r = Z_r``) and
    for ratios of two joint masses measured on the same replicas.

    >>> [round(v, 4) for v in ratio_of_means([1.0, 2.0, 3.0], [2.0, 4.0, 5.0])]
    [0.5455, 0.3825, 0.7084]

    Returns:
      ``(ratio, lo, hi)``; ``(nan, 0, inf)`` when every denominator is 0.

    Raises:
      CountnetsError: for arrays of different sizes or fewer than 2 replicas, non-finite
        values, or a bad confidence.
    """
    a = np.asarray(numerators, np.float64).reshape(-1)
    b = np.asarray(denominators, np.float64).reshape(-1)
    if a.size != b.size or a.size < 2:
        raise CountnetsError(
            f"a ratio over replicas needs two equal-size arrays of >= 2 values, got {a.size} and {b.size}"
        )
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise CountnetsError("replica values must be finite")
    t = t_quantile(confidence, a.size - 1)
    total = float(b.sum())
    if total == 0:
        return math.nan, 0.0, math.inf
    ratio = float(a.sum()) / total
    se = float(np.std(a - ratio * b, ddof=1)) / (math.sqrt(a.size) * total / a.size)
    return ratio, max(0.0, ratio - t * se), ratio + t * se


# ----------------------------------------------------------------------------- estimates


@record
class Estimate(Record):
    """The prior mass of one event, with its interval (a record: also a read-only mapping of its fields).

    Attributes:
      function: what was counted: a truth table in hex (``"0x8"``) or an event name.
      hits: number of samples (or lattice configurations) in the event.
      n: number of samples (or configurations) looked at.
      p: point estimate ``hits / n`` (exact for an enumeration).
      ci: ``(lo, hi)`` interval for p; ``(p, p)`` for an exact enumeration.
      confidence: the interval's confidence level, e.g. 0.95.
      method: ``"clopper-pearson"``, ``"wilson"``, ``"jeffreys"`` or ``"exact"``.
      bits: bits of constraint, ``-log2 p`` (``inf`` at zero hits).
      bits_ci: ``(-log2 hi, -log2 lo)``.
      log10_p: ``log10 p``.
    """

    function: str
    hits: int
    n: int
    p: float
    ci: tuple[float, float]
    confidence: float
    method: str
    bits: float
    bits_ci: tuple[float, float]
    log10_p: float


def make_estimate(
    function: str, hits: int, n: int, *, confidence: float = 0.95, method: str = "clopper-pearson"
) -> Estimate:
    """Build an :class:`Estimate` from counts; ``method="exact"`` gives a degenerate interval."""
    hits, n = int(hits), int(n)
    if method == "exact":
        if n < 1 or not 0 <= hits <= n:
            raise CountnetsError(f"exact counts need 0 <= hits <= n, n >= 1; got hits={hits}, n={n}")
        p = hits / n
        lo = hi = p
    else:
        lo, hi = binomial_interval(hits, n, confidence, method)
        p = hits / n
    return Estimate(
        function=function,
        hits=hits,
        n=n,
        p=p,
        ci=(lo, hi),
        confidence=float(confidence),
        method=method,
        bits=bits(p),
        bits_ci=(bits(hi), bits(lo)),
        log10_p=log10(p),
    )
