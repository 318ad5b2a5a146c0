"""The (A, B) pairs of ``countnets experiment flip``: choosing them, and each pair's part of the result.

For every pair: the prior odds ``O`` with their interval, the training sweep (runs that
fit S and landed on A or B at each lambda, with the sign of ``P(B) - P(A)``), the tilted
prior's sweep, and both ``lambda*`` (see the package docstring,
:mod:`countnets.experiments.flip`).
"""

from __future__ import annotations

import math
from typing import Any

import jax.numpy as jnp
import numpy as np

from countnets._errors import CountnetsError
from countnets.network import boolean
from countnets.results import report
from countnets.stats import statistics
from countnets.train.training import TrainingSet, lambda_star


def _choose_pairs(cp, tset, a, bs, b_ranks) -> list[tuple[int, int]]:
    ranked = cp.ranked()
    if a is None:
        if not ranked:
            raise CountnetsError("no prior sample fits S, so A (the most probable function) is undefined")
        a = ranked[0][0]
    if not tset.fits(a):
        raise CountnetsError(f"A = {boolean.to_hex(a)} does not agree with the target on S")
    chosen: list[int] = []
    for b in bs or ():
        if not tset.fits(b):
            raise CountnetsError(f"B = {boolean.to_hex(b)} does not agree with the target on S")
        chosen.append(b)
    for k in b_ranks or ():
        if k < 1 or k > len(ranked):
            raise CountnetsError(f"--b-rank {k} is out of range: {len(ranked)} functions fitting S were seen")
        chosen.append(ranked[k - 1][0])
    pairs = []
    for b in chosen:
        if b == a:
            raise CountnetsError(f"B must differ from A, got both {boolean.to_hex(a)}")
        if (a, b) not in pairs:
            pairs.append((a, b))
    if not pairs:
        raise CountnetsError("no (A, B) pair: give --b, --b-rank or --pairs")
    return pairs


def _sign_interval_train(na: int, nb: int, confidence: float) -> tuple[float, float, float]:
    # q = n_B / (n_A + n_B) against 1/2: same sign as P(B) - P(A).
    if na + nb == 0:
        return math.nan, -0.5, 0.5
    lo, hi = statistics.clopper_pearson(nb, na + nb, confidence)
    return nb / (na + nb) - 0.5, lo - 0.5, hi - 0.5


def _log(odds: float) -> float:
    # ln O: -inf for O = 0 (A never seen), inf for O = inf (B never seen), nan if undefined.
    if odds == 0:
        return -math.inf
    return math.log(odds) if 0 < odds < math.inf else odds


def _star_dict(star) -> dict:
    return {"estimate": star.estimate, "interval": list(star.interval), "censored": star.censored}


def _pressure_settings(tset: TrainingSet, pairs: list[tuple[int, int]], lams: list[float]) -> tuple[Any, Any]:
    """Per (pair, lambda) setting, pair-major: the lambda and B's labels off S (the penalty's arguments)."""
    off = np.array(tset.off_points())
    K, L = len(pairs), len(lams)
    lam_g = np.tile(np.array(lams, dtype=np.float32), K)
    labels_g = np.repeat(np.stack([boolean.int_to_table(b, tset.n)[off] for _, b in pairs]), L, axis=0)
    return jnp.asarray(lam_g), jnp.asarray(labels_g)


def _prior_odds(na_p: int, nb_p: int, exact: bool, confidence: float) -> tuple[float, list[float]]:
    """Prior odds ``n_A / n_B`` and their interval (a point for exact enumeration)."""
    if exact:
        odds = na_p / nb_p if nb_p else (math.inf if na_p else math.nan)
        return odds, [odds, odds]
    odds, (olo, ohi) = statistics.ratio_interval(na_p, nb_p, confidence)
    return odds, [olo, ohi]


def _train_sweep(runs: Any, k: int, fa: int, fb: int, lams: list[float], confidence: float, method: str) -> dict:
    """Pair ``k``'s training sweep: its rows, trained histograms, sign intervals and runs that did not fit S."""
    sweep, trained = [], []
    tr_d, tr_lo, tr_hi = [], [], []
    not_converged = 0
    for j, lam in enumerate(lams):
        g = k * len(lams) + j
        fit = runs.fit[g]
        tables = runs.tables[g]
        n_conv = int(fit.sum())
        na = int(np.sum((tables == fa) & fit))
        nb = int(np.sum((tables == fb) & fit))
        not_converged += runs.runs - n_conv
        d, dlo, dhi = _sign_interval_train(na, nb, confidence)
        tr_d.append(d)
        tr_lo.append(dlo)
        tr_hi.append(dhi)
        sweep.append(
            {
                "lambda": lam,
                "train": {
                    "runs": runs.runs,
                    "converged": n_conv,
                    "not_converged": runs.runs - n_conv,
                    "a": na,
                    "b": nb,
                    "p_a": na / n_conv if n_conv else None,
                    "p_a_ci": report.interval(na, n_conv, confidence, method),
                    "p_b": nb / n_conv if n_conv else None,
                    "p_b_ci": report.interval(nb, n_conv, confidence, method),
                    "q_b_ci": [dlo + 0.5, dhi + 0.5],
                    "steps_mean": float(runs.steps[g].mean()),
                },
            }
        )
        trained.append(
            {
                "a": boolean.to_hex(fa),
                "b": boolean.to_hex(fb),
                "lambda": lam,
                "counts": report.hist_hex(runs.histogram(g)),
            }
        )
    star = lambda_star(lams, tr_d, tr_lo, tr_hi)
    return {"sweep": sweep, "trained": trained, "star": star, "not_converged": not_converged}


def _tilt_arrays(tilt: Any, confidence: float) -> dict[str, Any]:
    """The tilted prior's ``(pair, lambda)`` arrays: P(A), P(B), ESS and the intervals of P(A), P(B), P(B) - P(A)."""
    ta_lo, ta_hi = tilt.interval("a", confidence)
    tb_lo, tb_hi = tilt.interval("b", confidence)
    td_lo, td_hi = tilt.interval("diff", confidence)
    p_a_t, p_b_t, ess = tilt.p_a(), tilt.p_b(), tilt.ess()
    return {"p_a": p_a_t, "p_b": p_b_t, "ess": ess, "a": (ta_lo, ta_hi), "b": (tb_lo, tb_hi), "diff": (td_lo, td_hi)}


def _tilt_sweep(t: dict[str, Any], k: int, tlams: list[float]) -> tuple[list[dict], Any]:
    """Pair ``k``'s tilted-prior sweep rows and its ``lambda*``."""
    (ta_lo, ta_hi), (tb_lo, tb_hi), (td_lo, td_hi) = t["a"], t["b"], t["diff"]
    p_a_t, p_b_t, ess = t["p_a"], t["p_b"], t["ess"]
    tilt_sweep = [
        {
            "lambda": lam,
            "p_a": float(p_a_t[k, j]),
            "p_a_ci": [float(ta_lo[k, j]), float(ta_hi[k, j])],
            "p_b": float(p_b_t[k, j]),
            "p_b_ci": [float(tb_lo[k, j]), float(tb_hi[k, j])],
            "diff_ci": [float(td_lo[k, j]), float(td_hi[k, j])],
            "ess": float(ess[k, j]),
        }
        for j, lam in enumerate(tlams)
    ]
    diff_t = (p_b_t[k] - p_a_t[k]).tolist()
    return tilt_sweep, lambda_star(tlams, diff_t, td_lo[k].tolist(), td_hi[k].tolist())


def _pair_row(cp: Any, fa: int, fb: int, exact: bool, confidence: float, prior_method: str) -> dict[str, Any]:
    """A pair's prior numbers: counts, probabilities with intervals and the odds ``O`` with ``ln O``."""
    na_p, nb_p = cp.histogram.get(fa, 0), cp.histogram.get(fb, 0)
    odds, odds_ci = _prior_odds(na_p, nb_p, exact, confidence)
    return {
        "a": boolean.to_hex(fa),
        "b": boolean.to_hex(fb),
        "hamming": boolean.hamming(fa, fb),
        "prior_counts": [na_p, nb_p],
        "prior_p": [cp.p(fa), cp.p(fb)],
        "prior_ci": [
            report.interval(na_p, cp.fit, confidence, prior_method),
            report.interval(nb_p, cp.fit, confidence, prior_method),
        ],
        "prior_odds": odds,
        "prior_odds_ci": odds_ci,
        "log_odds": _log(odds),
    }


def _pair_rows(
    cp: Any,
    runs: Any,
    tilt: Any,
    pairs: list[tuple[int, int]],
    lams: list[float],
    tlams: list[float],
    *,
    exact: bool,
    confidence: float,
    method: str,
) -> tuple[list[dict], list[dict], int]:
    """Per pair: its row (prior odds, both sweeps, both ``lambda*``); the trained histograms; runs not fitting S."""
    prior_method = "exact" if exact else method
    tilt_arrays = _tilt_arrays(tilt, confidence)
    pair_rows, trained_rows = [], []
    not_converged = 0
    for k, (fa, fb) in enumerate(pairs):
        row = _pair_row(cp, fa, fb, exact, confidence, prior_method)
        train = _train_sweep(runs, k, fa, fb, lams, confidence, method)
        trained_rows += train["trained"]
        not_converged += train["not_converged"]
        tilt_sweep, star_tilt = _tilt_sweep(tilt_arrays, k, tlams)
        pair_rows.append(
            {
                **row,
                "sweep": train["sweep"],
                "tilt_sweep": tilt_sweep,
                "lambda_star_train": _star_dict(train["star"]),
                "lambda_star_tilt": _star_dict(star_tilt),
            }
        )
    return pair_rows, trained_rows, not_converged
