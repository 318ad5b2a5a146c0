"""Published rows of the counting suite: Valle-Perez et al. (2019) and Mingard et al. (2021).

No figure of either paper is copied as a number: what each paper is taken to claim is
stated as a qualitative claim (``Reference.claim``), and the tolerance that turns it into
a verdict is ours, fixed before the runs and stated in ``docs/bench.md``. The measurements
come from :func:`countnets.histogram_mc` and
:func:`countnets.experiments.train_vs_prior.train_vs_prior`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from scipy import stats

from countnets.bench import references as refs
from countnets.bench.registry import (
    Measurement,
    Reference,
    Task,
    call,
    interval_above,
    interval_below,
    interval_overlaps,
    register,
)
from countnets.engine.estimators import histogram_mc
from countnets.experiments.train_vs_prior import train_vs_prior
from countnets.network.architectures import MLP
from countnets.network.priors import Gaussian
from countnets.train.training import TrainConfig, training_set

__all__ = ["TASKS", "rank_slope", "basic_bootstrap", "multinomial_draw"]

BOOTSTRAP_CONFIDENCE = 0.99
"""Level of the percentile-bootstrap intervals of these rows (a 99.9% percentile needs far more resamples)."""

VALLE_PEREZ = (
    "Valle-Perez, Camargo and Louis 2019, 'Deep learning generalizes because the parameter-function map is "
    "biased towards simple functions', ICLR 2019, arXiv:1805.08522 (7-40-40-1 network on n = 7)"
)
MINGARD = (
    "Mingard, Valle-Perez, Skalse and Louis 2021, 'Is SGD a Bayesian sampler? Well, almost', "
    "JMLR 22(79):1-64 (n = 7 Boolean system, 7-40-40-1 network)"
)


@functools.lru_cache(maxsize=2)
def _vp_histogram(samples: int, seed: int, sigma_w: float, sigma_b: float) -> tuple[dict[int, int], int, str]:
    """The 7-40-40-1 histogram, shared by the two Valle-Perez rows of one run (same call, same seed)."""
    prior, arch = Gaussian(sigma_w, sigma_b), MLP(7, (40, 40))
    kwargs = dict(n_samples=samples, seed=seed, encoding="01", top=0, max_distinct=None)
    result = histogram_mc(prior, arch, **kwargs)
    hist = {int(k, 16): int(v) for k, v in (result.histogram or {}).items()}
    return hist, result.samples, call("cn.histogram_mc", prior, arch, **kwargs)


def _vp(config: Mapping[str, Any], seed: int) -> tuple[dict[int, int], int, str]:
    return _vp_histogram(int(config["samples"]), seed, float(config["sigma_w"]), float(config["sigma_b"]))


def rank_slope(counts: np.ndarray, total: int) -> float:
    """Least-squares slope of ``log10 (count / total)`` on ``log10 rank`` (rank 1 = largest count).

    A zero count (possible in a bootstrap resample) is read as 1/2.

    >>> round(rank_slope(np.array([1000, 500, 333, 250]), 10_000), 3)  # Zipf: count ~ 1/rank
    -1.0
    """
    head = np.sort(np.maximum(counts, 0.5))[::-1]
    if head.size < 3:
        return math.nan
    ranks = np.arange(1, head.size + 1)
    return float(np.polyfit(np.log10(ranks), np.log10(head / total), 1)[0])


def basic_bootstrap(
    statistic: Callable[..., float], observed: tuple[np.ndarray, ...], draw: Callable[[np.random.Generator], tuple],
    *, resamples: int, seed: int,
) -> tuple[float, tuple[float, float], float]:  # fmt: skip
    """Bias-corrected estimate and basic bootstrap interval (:data:`BOOTSTRAP_CONFIDENCE`) of a statistic of counts.

    ``theta = statistic(*observed)``; ``draw(rng)`` gives one resample of the same arrays.
    With ``q`` the bootstrap quantiles and ``m`` their median, the interval is
    ``[2 theta - q_hi, 2 theta - q_lo]`` and the estimate ``2 theta - m`` (the basic, or
    reverse-percentile, bootstrap). Counting noise biases these statistics (it attenuates
    correlations and steepens sorted counts); the bootstrap sees the same bias once more,
    and the basic interval subtracts it, where the plain percentile interval would add it.

    Returns:
      ``(bias_corrected, (lo, hi), theta)``; NaNs when fewer than half the resamples are finite.
    """
    theta = statistic(*observed)
    rng = np.random.default_rng(seed)
    values = [v for v in (statistic(*draw(rng)) for _ in range(resamples)) if math.isfinite(v)]
    if not math.isfinite(theta) or len(values) < resamples // 2:
        return math.nan, (math.nan, math.nan), theta
    alpha = 1 - BOOTSTRAP_CONFIDENCE
    q_lo, q_mid, q_hi = np.quantile(values, [alpha / 2, 0.5, 1 - alpha / 2])
    return float(2 * theta - q_mid), (float(2 * theta - q_hi), float(2 * theta - q_lo)), theta


def multinomial_draw(counts: np.ndarray, total: int) -> Callable[[np.random.Generator], tuple[np.ndarray]]:
    """Resampler of a fixed set of counts: all ``total`` samples redrawn, the rest pooled in one cell.

    The set of functions is chosen once, from the observed counts, so the interval reflects
    the counting noise of that set and not a changing selection.
    """
    probs = np.append(counts, total - int(counts.sum())) / total
    return lambda rng: (rng.multinomial(total, probs)[:-1],)


# ----------------------------------------------------------------------------- Valle-Perez et al. 2019


def _rank_measure(config: Mapping[str, Any], seed: int) -> Measurement:
    hist, total, text = _vp(config, seed)
    min_count = int(config["min_count"])
    head = np.sort(np.array([c for c in hist.values() if c >= min_count], dtype=np.int64))[::-1]
    slope, (lo, hi), naive = basic_bootstrap(
        lambda c: rank_slope(c, total), (head,), multinomial_draw(head, total), resamples=int(config["bootstrap"]),
        seed=seed,
    )  # fmt: skip
    return Measurement(
        estimate=slope,
        interval=(lo, hi),
        confidence=BOOTSTRAP_CONFIDENCE,
        unit=f"slope of log10 P(f) on log10 rank (functions seen >= {min_count} times)",
        samples=total,
        evaluations=total,
        call=text,
        details={
            "functions_fitted": int(head.size),
            "slope_uncorrected": naive,
            "slope_without_top_two": rank_slope(head[2:], total),
            "distinct": len(hist),
            "p_top": float(head[0] / total) if head.size else math.nan,
            "p_last_fitted": float(head[-1] / total) if head.size else math.nan,
            "top_counts": head[:10].tolist(),
        },
    )


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    if x.size < 3 or np.all(x == x[0]) or np.all(y == y[0]):
        return math.nan
    return float(stats.spearmanr(x, y).statistic)


def _complexity_measure(config: Mapping[str, Any], seed: int) -> Measurement:
    hist, total, text = _vp(config, seed)
    min_count = int(config["min_count"])
    funcs = [f for f, c in hist.items() if c >= min_count]
    counts = np.array([hist[f] for f in funcs], dtype=np.int64)
    lz = np.array([refs.lz_complexity(f, 7) for f in funcs])
    ones = np.array([min(refs.ones(f), 128 - refs.ones(f)) for f in funcs], dtype=float)

    # Spearman correlations read only the ranks of the counts (ties averaged), so log10 P is not needed.
    def gap(c: np.ndarray) -> float:  # |rho_LZ| - |rho_ones|: > 0 when LZ tracks P(f) better
        return abs(_spearman(c, lz)) - abs(_spearman(c, ones))

    boot = dict(resamples=int(config["bootstrap"]), seed=seed)
    draw = multinomial_draw(counts, total)
    rho_lz, ci_lz, naive_lz = basic_bootstrap(lambda c: _spearman(c, lz), (counts,), draw, **boot)
    rho_ones, ci_ones, naive_ones = basic_bootstrap(lambda c: _spearman(c, ones), (counts,), draw, **boot)
    gap_hat, ci_gap, _ = basic_bootstrap(gap, (counts,), draw, **boot)
    if ci_gap[0] > 0:
        better = "LZ complexity"
    elif ci_gap[1] < 0:
        better = "number of ones"
    else:
        better = "neither (interval of the difference contains 0)"
    return Measurement(
        estimate=rho_lz,
        interval=ci_lz,
        confidence=BOOTSTRAP_CONFIDENCE,
        unit=f"Spearman correlation of log10 P(f) with LZ complexity (functions seen >= {min_count} times)",
        samples=total,
        evaluations=total,
        call=text,
        details={
            "functions_used": len(funcs),
            "spearman_lz_uncorrected": naive_lz,
            "spearman_ones": rho_ones,
            "spearman_ones_ci": list(ci_ones),
            "spearman_ones_uncorrected": naive_ones,
            "ones_measure": "min(t, 128 - t), t = number of ones",
            "abs_gap_lz_minus_ones": gap_hat,
            "abs_gap_ci": list(ci_gap),
            "tracks_p_better": better,
            "spearman_lz_vs_ones": _spearman(lz, ones),
        },
    )


_VP_QUICK = {"sigma_w": 1.0, "sigma_b": 1.0, "samples": 100_000, "bootstrap": 300}
_VP_STANDARD = {"sigma_w": 1.0, "sigma_b": 1.0, "samples": 1_000_000, "bootstrap": 1000}


# ----------------------------------------------------------------------------- Mingard et al. 2021


def _log_fit(p: np.ndarray, q: np.ndarray, n_p: int, n_q: int) -> tuple[float, float]:
    """Pearson correlation and slope of ``log10 P_SGD`` on ``log10 P_B`` (a zero count read as 1/2)."""
    lp, lq = np.log10(np.maximum(p, 0.5) / n_p), np.log10(np.maximum(q, 0.5) / n_q)
    if lp.size < 3 or np.all(lp == lp[0]) or np.all(lq == lq[0]):
        return math.nan, math.nan
    return float(np.corrcoef(lq, lp)[0, 1]), float(np.polyfit(lq, lp, 1)[0])


def _sgd_measure(config: Mapping[str, Any], seed: int) -> Measurement:
    prior, arch = Gaussian(float(config["sigma_w"]), float(config["sigma_b"])), MLP(7, (40, 40))
    tset = training_set(7, config["target"], size=int(config["train_size"]), seed=int(config["train_seed"]))
    train = TrainConfig(optimizer=config["optimizer"], max_steps=int(config["max_steps"]))
    kwargs = dict(n_runs=int(config["runs"]), n_samples=int(config["samples"]), seed=seed)
    result = train_vs_prior(prior, arch, tset, train, **kwargs)
    prior_hist = {k: int(v) for k, v in result.extra["prior"].items()}
    trained_hist = {k: int(v) for k, v in result.extra["trained"].items()}
    n_q, n_p = int(result.extra["prior_fit"]), result.extra["runs"] - result.extra["not_converged"]
    min_count = int(config["min_count"])
    # The fixed set: functions seen at least min_count times under both.
    funcs = sorted(f for f in prior_hist if prior_hist[f] >= min_count and trained_hist.get(f, 0) >= min_count)
    p = np.array([trained_hist[f] for f in funcs], dtype=np.int64)
    q = np.array([prior_hist[f] for f in funcs], dtype=np.int64)
    draw_p, draw_q = multinomial_draw(p, n_p), multinomial_draw(q, n_q)

    def draw(rng):
        return draw_p(rng)[0], draw_q(rng)[0]

    boot = dict(resamples=int(config["bootstrap"]), seed=seed)
    r, ci, naive_r = basic_bootstrap(lambda a, b: _log_fit(a, b, n_p, n_q)[0], (p, q), draw, **boot)
    slope, slope_ci, naive_slope = basic_bootstrap(lambda a, b: _log_fit(a, b, n_p, n_q)[1], (p, q), draw, **boot)
    text = call("train_vs_prior", prior, arch, f"training_set(7, {config['target']!r}, size={config['train_size']}, "
                f"seed={config['train_seed']})", train, **kwargs)  # fmt: skip
    return Measurement(
        estimate=r,
        interval=ci,
        confidence=BOOTSTRAP_CONFIDENCE,
        unit=f"Pearson correlation of log10 P_SGD(f|S) and log10 P_B(f|S) (functions >= {min_count} in both)",
        samples=result.samples,
        evaluations=result.samples + int(result.extra["runs"]),
        call=text,
        details={
            "functions_compared": len(funcs),
            "correlation_uncorrected": naive_r,
            "slope_log_sgd_on_log_b": slope,
            "slope_ci": list(slope_ci),
            "slope_uncorrected": naive_slope,
            "prior_fit": n_q,
            "trained_fit": n_p,
            "init_fit": int(result.extra["init_fit"]),
            "not_converged": int(result.extra["not_converged"]),
            "train_points": list(result.extra["train_points"]),
            "tv": result.extra["summary"].get("tv"),
            "tv_ci": result.extra["summary"].get("tv_ci"),
            "prior_top": result.extra["summary"].get("prior_top"),
            "prior_top_p": result.extra["summary"].get("prior_top_p"),
            "trained_top_p": result.extra["summary"].get("trained_top_p"),
        },
    )


# ----------------------------------------------------------------------------- the tasks

TASKS = [
    register(
        Task(
            name="valle-perez-rank-frequency",
            group="published",
            what="rank-frequency law of P(f) for the 7-40-40-1 ReLU network on n = 7 (Gaussian prior, 01)",
            suites={"standard": {**_VP_STANDARD, "min_count": 10}},
            measure=_rank_measure,
            reference=Reference(
                source="published",
                citation=VALLE_PEREZ,
                claim="qualitative: P(f) falls with rank roughly as a power law, close to Zipf's law (slope about -1)"
                " (no number read off the paper's figure)",
                tolerance="ours: the 99% bootstrap interval of the slope meets [-1.5, -0.5]",
            ),
            agree=interval_overlaps(-1.5, -0.5, "slope interval meets the Zipf band [-1.5, -0.5]"),
        )
    ),
    register(
        Task(
            name="valle-perez-complexity",
            group="published",
            what="P(f) against LZ complexity (and against the number of ones) for the 7-40-40-1 network on n = 7",
            suites={"quick": {**_VP_QUICK, "min_count": 5}, "standard": {**_VP_STANDARD, "min_count": 5}},
            measure=_complexity_measure,
            reference=Reference(
                source="published",
                citation=VALLE_PEREZ + "; critics: LZ complexity largely tracks the number of ones (entropy)",
                claim="qualitative: P(f) decreases with LZ complexity (negative rank correlation)",
                tolerance="ours: the 99% bootstrap interval of the Spearman correlation lies below 0",
            ),
            agree=interval_below(0.0, "Spearman correlation interval below 0"),
        )
    ),
    register(
        Task(
            name="mingard-sgd-vs-bayes",
            group="published",
            what="P_SGD(f|S) (Adam from the prior) against P_B(f|S) (rejection sampling), 7-40-40-1 on n = 7",
            suites={
                "standard": {
                    "sigma_w": 1.0,
                    "sigma_b": 1.0,
                    "target": "or",
                    "train_size": 32,
                    "train_seed": 0,
                    "optimizer": "adam",
                    "max_steps": 2000,
                    "samples": 1_000_000,
                    "runs": 65_536,
                    "min_count": 5,
                    "bootstrap": 1000,
                },
            },  # fmt: skip
            measure=_sgd_measure,
            reference=Reference(
                source="published",
                citation=MINGARD,
                claim="qualitative: log P_SGD(f|S) and log P_B(f|S) are strongly positively correlated, points "
                "near the diagonal (no number read off the paper's figures)",
                tolerance="ours: the 99% bootstrap interval of the log-log correlation lies above 0; the slope is "
                "reported, not judged",
            ),
            agree=interval_above(0.0, "log-log correlation interval above 0"),
        )
    ),
]
