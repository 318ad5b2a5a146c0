"""Independent estimates combined: a signed sum of masses, and a ratio of two such sums (no JAX).

Issue 28 estimates each joint mass ``P(f, order k and the orders in S compute f)`` by its
own splitting run and combines them by inclusion-exclusion
(:func:`countnets.measures.kstar_terms`), then forms the parallel/serial ratio of two
combined masses. Every input is a mean of independent replicas with a relative standard
error (:func:`countnets.stats.statistics.replica_interval`), so:

* :func:`signed_sum`: ``sum_i s_i p_i`` with ``se^2 = sum_i (p_i e_i)^2``, a t interval with
  Welch-Satterthwaite degrees of freedom, the low end clipped at 0;
* :func:`ratio_of_sums`: ``a / b`` with the delta-method log-scale standard error
  ``sqrt((se_a / a)^2 + (se_b / b)^2)``, Welch-Satterthwaite degrees of freedom on that
  scale, and the interval ``a / b exp(-+ t log_se)``.

Both are large-sample intervals; their coverage is measured in tests/test_combinations.py.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from countnets._errors import CountnetsError
from countnets.stats.statistics import t_quantile

__all__ = ["Term", "Combined", "signed_sum", "RatioOfSums", "ratio_of_sums"]


@dataclasses.dataclass(frozen=True)
class Term:
    """One independent estimate in a signed sum.

    Attributes:
      sign: +1 or -1.
      p: the estimate, a mean of ``replicas`` independent replicas (> 0).
      relative_error: its relative standard error ``e = sd / (p sqrt(R))``.
      replicas: R (its degrees of freedom are ``R - 1``).
    """

    sign: int
    p: float
    relative_error: float
    replicas: int


@dataclasses.dataclass(frozen=True)
class Combined:
    """A signed sum with its standard error, degrees of freedom and interval (``lo >= 0``)."""

    estimate: float
    se: float
    df: float
    lo: float
    hi: float
    confidence: float


def _welch(parts: Sequence[tuple[float, float]]) -> float:
    """Welch-Satterthwaite degrees of freedom of a sum of independent variances ``(variance, df)``."""
    total = sum(v for v, _ in parts)
    denominator = sum(v * v / df for v, df in parts if v > 0)
    return math.inf if denominator == 0 else total * total / denominator


def signed_sum(terms: Sequence[Term], confidence: float = 0.95) -> Combined:
    """``sum_i s_i p_i`` of independent estimates, with its Welch t interval (low end clipped at 0).

    >>> c = signed_sum([Term(1, 4e-6, 0.1, 64), Term(-1, 1e-6, 0.2, 64)])
    >>> round(c.estimate, 12), round(c.se, 10), round(c.df, 1)  # df = (1.6e-13 + 4e-14)^2 / (1.6e-13^2 + 4e-14^2) * 63
    (3e-06, 4.472e-07, 92.6)

    Raises:
      CountnetsError: for no terms, a sign other than +-1, a non-positive or non-finite
        estimate or relative error, or fewer than 2 replicas.
    """
    if not terms:
        raise CountnetsError("a signed sum needs at least one term")
    parts = []
    for term in terms:
        if term.sign not in (1, -1):
            raise CountnetsError(f"a term's sign is +1 or -1, got {term.sign}")
        if not (math.isfinite(term.p) and term.p > 0 and math.isfinite(term.relative_error)
                and term.relative_error >= 0):  # fmt: skip
            raise CountnetsError(f"a term needs a positive estimate and a finite relative error, got {term}")
        if term.replicas < 2:
            raise CountnetsError(f"a term needs at least 2 replicas, got {term.replicas}")
        parts.append(((term.p * term.relative_error) ** 2, term.replicas - 1))
    estimate = sum(t.sign * t.p for t in terms)
    se = math.sqrt(sum(v for v, _ in parts))
    df = _welch(parts)
    half = t_quantile(confidence, df) * se
    return Combined(estimate, se, df, max(0.0, estimate - half), estimate + half, confidence)


@dataclasses.dataclass(frozen=True)
class RatioOfSums:
    """``a / b`` with its log-scale standard error, degrees of freedom and interval."""

    estimate: float
    log_se: float
    df: float
    lo: float
    hi: float
    confidence: float


def ratio_of_sums(a: Combined, b: Combined, confidence: float = 0.95) -> RatioOfSums:
    """The ratio of two independent combined estimates, by the delta method on the log scale.

    >>> r = ratio_of_sums(signed_sum([Term(1, 2e-6, 0.1, 64)]), signed_sum([Term(1, 1e-6, 0.1, 64)]))
    >>> round(r.estimate, 6), round(r.log_se, 4), round(r.df, 1)
    (2.0, 0.1414, 126.0)

    Raises:
      CountnetsError: unless both estimates are positive.
    """
    if not (a.estimate > 0 and b.estimate > 0):
        raise CountnetsError(f"a ratio needs two positive estimates, got {a.estimate} and {b.estimate}")
    ra, rb = (a.se / a.estimate) ** 2, (b.se / b.estimate) ** 2
    log_se = math.sqrt(ra + rb)
    df = _welch([(ra, a.df), (rb, b.df)])
    ratio = a.estimate / b.estimate
    half = t_quantile(confidence, df) * log_se
    return RatioOfSums(ratio, log_se, df, ratio * math.exp(-half), ratio * math.exp(half), confidence)
