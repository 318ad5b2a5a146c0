"""Two distributions over functions compared (trained against prior), and the crossing point of a sweep.

:func:`compare_distributions` (correlation, total variation with its bootstrap, null and
permutation test), :func:`equal_size_richness` (distinct functions and entropy at a common
sample size) and :func:`lambda_star` (the least pressure at which B is at least as likely as A).
Re-exported by :mod:`countnets.stats.statistics`, where they were first defined.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

from countnets._errors import CountnetsError

__all__ = ["LambdaStar", "lambda_star", "compare_distributions", "equal_size_richness"]


def _entropy(counts: np.ndarray) -> float:
    c = counts[counts > 0].astype(np.float64)
    q = c / c.sum()
    return float(-(q * np.log(q)).sum())


def equal_size_richness(
    p_hist: dict[Any, int] | Counter, q_hist: dict[Any, int] | Counter, *, draws: int = 200, seed: int = 0
) -> dict[str, Any]:
    """Distinct functions and plug-in entropy of two histograms compared at the same sample size.

    The number of distinct values seen, and the plug-in entropy ``-sum q ln q`` (nats),
    both grow with the sample size, so two histograms of different totals cannot be
    compared on them directly. The larger histogram is subsampled without replacement
    (multivariate hypergeometric) to the smaller one's total, ``draws`` times; the
    smaller is used as it is. Returns ``size``, ``draws``, and for ``p`` and ``q``:
    ``*_distinct`` and ``*_entropy`` (means over the draws for the subsampled one) and
    ``*_distinct_range`` / ``*_entropy_range`` (2.5% and 97.5% quantiles over the draws:
    the spread from subsampling alone, not a confidence interval).
    """
    cp = np.array(list(p_hist.values()), dtype=np.int64)
    cq = np.array(list(q_hist.values()), dtype=np.int64)
    if cp.sum() == 0 or cq.sum() == 0:
        raise CountnetsError("both histograms need counts")
    size = int(min(cp.sum(), cq.sum()))
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {"size": size, "draws": draws}
    for name, c in (("p", cp), ("q", cq)):
        if int(c.sum()) == size:
            d, h = float((c > 0).sum()), _entropy(c)
            out.update({f"{name}_distinct": d, f"{name}_entropy": h, f"{name}_distinct_range": [d, d],
                        f"{name}_entropy_range": [h, h]})  # fmt: skip
            continue
        subs = [rng.multivariate_hypergeometric(c, size) for _ in range(draws)]
        dist = np.array([(s > 0).sum() for s in subs], dtype=np.float64)
        ent = np.array([_entropy(s) for s in subs])
        out.update({
            f"{name}_distinct": float(dist.mean()), f"{name}_entropy": float(ent.mean()),
            f"{name}_distinct_range": [float(v) for v in np.quantile(dist, [0.025, 0.975])],
            f"{name}_entropy_range": [float(v) for v in np.quantile(ent, [0.025, 0.975])],
        })  # fmt: skip
    return out


# ----------------------------------------------------------------------------- training-vs-prior summaries


@dataclasses.dataclass(frozen=True)
class LambdaStar:
    """The least pressure at which B is at least as likely as A, read off a sweep.

    Attributes:
      estimate: the least sweep value with ``P(B) >= P(A)`` (point estimates);
        ``inf`` if there is none.
      interval: ``(lo, hi)``: ``lo`` is the largest sweep value *below* the first one
        whose interval for ``P(B) - P(A)`` reaches 0 (0.0 if that is the first sweep
        value); ``hi`` is the first sweep value whose interval lies at or above 0
        (``inf`` if none). If ``P(B) - P(A)`` increases with lambda and the pointwise
        intervals hold, the crossing point lies in ``(lo, hi]``.
      censored: True when the sweep never reaches ``P(B) >= P(A)``.
    """

    estimate: float
    interval: tuple[float, float]
    censored: bool


def lambda_star(
    lambdas: Sequence[float], diff: Sequence[float], diff_lo: Sequence[float], diff_hi: Sequence[float]
) -> LambdaStar:
    """:class:`LambdaStar` from a sweep: ``diff = P(B) - P(A)`` with its interval per lambda.

    >>> lambda_star([0, 1, 2, 4], [-0.5, -0.1, 0.2, 0.6], [-0.6, -0.3, 0.0, 0.5], [-0.4, 0.1, 0.4, 0.7])
    LambdaStar(estimate=2.0, interval=(0.0, 2.0), censored=False)
    """
    lams = [float(v) for v in lambdas]
    if sorted(lams) != lams or len(set(lams)) != len(lams):
        raise CountnetsError(f"lambdas must be strictly increasing, got {lams}")
    if not (len(diff) == len(diff_lo) == len(diff_hi) == len(lams)):
        raise CountnetsError("lambdas, diff, diff_lo and diff_hi must have the same length")
    est = next((lam for lam, d in zip(lams, diff, strict=True) if d >= 0), math.inf)
    first_plausible = next((i for i, h in enumerate(diff_hi) if h >= 0), None)
    if first_plausible is None:
        lo = lams[-1]
    else:
        lo = 0.0 if first_plausible == 0 else lams[first_plausible - 1]
    hi = next((lam for lam, l in zip(lams, diff_lo, strict=True) if l >= 0), math.inf)
    return LambdaStar(estimate=est, interval=(lo, hi), censored=math.isinf(est))


def compare_distributions(
    p_hist: dict[int, int] | Counter,
    q_hist: dict[int, int] | Counter,
    *,
    min_count: int = 5,
    bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    q_exact: bool = False,
    equal_size_draws: int = 200,
) -> dict[str, Any]:
    """Summaries of two distributions over functions seen as counts (P = trained, Q = prior).

    * ``correlation``: Pearson correlation of ``log10 P(f)`` and ``log10 Q(f)`` over the
      functions with at least ``min_count`` counts in both (also ``spearman``).
    * ``tv``: total-variation distance ``(1/2) sum_f |P(f) - Q(f)|`` of the empirical
      distributions, with a percentile bootstrap interval: both histograms are
      resampled multinomially (Q is kept fixed when ``q_exact``) ``bootstrap`` times.
    * ``tv_null``: the mean and upper ``confidence`` quantile of the TV between two
      independent samples of the same sizes drawn from the *pooled* distribution: what
      sampling noise alone gives when P = Q (empirical TV is biased upward).
    * ``tv_excess = tv - tv_null_mean``: the TV less the part sampling noise alone
      gives (a rough bias correction, not an unbiased estimate).
    * ``tv_permutation_p``: permutation test of P = Q with the TV as statistic. The
      pooled draws are split at random into groups of the two sample sizes
      (``bootstrap`` times; multivariate hypergeometric) and
      ``p = (1 + #{TV_perm >= tv}) / (1 + bootstrap)``. When Q is exact, P is drawn
      from Q instead (a parametric test). ``tv_permutations`` records the count.
    * ``largest_excess`` / ``largest_deficit``: the function f (its key) with the
      largest ``P(f) - Q(f)`` (resp. ``Q(f) - P(f)``) and that difference. TV is the
      sum of all positive differences (and of all negative ones), so these say how
      much of the TV one function carries.
    * ``equal_size``: :func:`equal_size_richness` of P and Q (``equal_size_draws``
      subsamples): distinct functions and entropy at a common sample size.
    """
    n_p, n_q = sum(p_hist.values()), sum(q_hist.values())
    if n_p == 0 or n_q == 0:
        raise CountnetsError(f"both distributions need counts, got {n_p} and {n_q}")
    funcs = sorted(set(p_hist) | set(q_hist))
    cp = np.array([p_hist.get(f, 0) for f in funcs], dtype=np.int64)
    cq = np.array([q_hist.get(f, 0) for f in funcs], dtype=np.int64)
    P, Q = cp / n_p, cq / n_q
    tv = 0.5 * float(np.abs(P - Q).sum())
    both = (cp >= min_count) & (cq >= min_count)
    out: dict[str, Any] = {"functions_seen": len(funcs), "functions_compared": int(both.sum()), "min_count": min_count}
    if both.sum() >= 3:
        lp, lq = np.log10(P[both]), np.log10(Q[both])
        out["correlation"] = float(np.corrcoef(lp, lq)[0, 1])
        out["spearman"] = float(stats.spearmanr(lp, lq).statistic)
    else:
        out["correlation"] = None
        out["spearman"] = None
    rng = np.random.default_rng(seed)
    alpha = 1 - confidence
    tv_boot = np.empty(bootstrap)
    for b in range(bootstrap):
        bp = rng.multinomial(n_p, P) / n_p
        bq = Q if q_exact else rng.multinomial(n_q, Q) / n_q
        tv_boot[b] = 0.5 * np.abs(bp - bq).sum()
    pooled = (cp + cq) / (n_p + n_q)
    tv_null = np.empty(bootstrap)
    for b in range(bootstrap):
        bp = rng.multinomial(n_p, pooled) / n_p
        bq = pooled if q_exact else rng.multinomial(n_q, pooled) / n_q
        tv_null[b] = 0.5 * np.abs(bp - bq).sum()
    out["tv"] = tv
    out["tv_ci"] = [float(np.quantile(tv_boot, alpha / 2)), float(np.quantile(tv_boot, 1 - alpha / 2))]
    out["tv_null_mean"] = float(tv_null.mean())
    out["tv_null_quantile"] = float(np.quantile(tv_null, confidence))
    out["bootstrap"] = bootstrap
    out["confidence"] = confidence
    # Drawn after the bootstrap and null draws, so those stay what earlier versions gave.
    out["tv_excess"] = tv - out["tv_null_mean"]
    at_least = 0
    for _ in range(bootstrap):
        if q_exact:
            bp = rng.multinomial(n_p, Q) / n_p
            t = 0.5 * np.abs(bp - Q).sum()
        else:
            sp = rng.multivariate_hypergeometric(cp + cq, n_p)
            t = 0.5 * np.abs(sp / n_p - (cp + cq - sp) / n_q).sum()
        at_least += int(t >= tv - 1e-12)
    out["tv_permutation_p"] = (1 + at_least) / (1 + bootstrap)
    out["tv_permutations"] = bootstrap
    diff = P - Q
    i, j = int(np.argmax(diff)), int(np.argmin(diff))
    out["largest_excess"] = {"function": funcs[i], "value": float(diff[i])}
    out["largest_deficit"] = {"function": funcs[j], "value": float(-diff[j])}
    out["equal_size"] = equal_size_richness(p_hist, q_hist, draws=equal_size_draws, seed=seed)
    return out
