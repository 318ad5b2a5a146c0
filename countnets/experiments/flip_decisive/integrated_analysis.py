"""The analysis of an integrated-pressure run (issue 29), exactly as the plan's ``analysis`` section states it.

:func:`integrated_summary` reads the pair rows (:func:`.integrated.pair_rows`) and returns
the requirements (met or not), the two primary tests with Holm's correction and their
verdicts, and the secondary analyses. A response that a stage has not produced yet is
reported as ``"not run"``, never guessed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from countnets._errors import CountnetsError
from countnets.experiments.flip_decisive.grouped import random_intercept_regression, stratified_kendall
from countnets.experiments.flip_decisive.integrated_plan import EQUIVALENCE_RATIO
from countnets.stats import statistics

__all__ = ["observation", "slope_test", "integrated_summary", "verdict"]

MIN_DETERMINED = 0.8
MIN_GROUPS, MIN_PAIRS, MIN_SPAN = 30, 90, 8.0


def observation(response: dict[str, Any] | None, *, log: bool = False) -> tuple[float, float] | None:
    """``(lo, hi)`` of one determined response (``None`` when not determined or not run).

    Training's ``Lambda*`` (:func:`.integrated_training.integrated_pressure`) and a sampled
    ``lambda*`` (:func:`.langevin.mala_lambda_star`, :func:`.tilt_smc.tilt_lambda_star`) both
    read: exact ``(v, v)``, right censored ``(lo, inf)``, left censored ``(0, hi)``. With
    ``log`` the natural log of each end (``-inf`` for 0).
    """
    if response is None or not response.get("determined", response.get("evaluable", False)):
        return None
    if "kind" in response:  # training's Lambda*
        lo, hi = float(response["lo"]), float(response["hi"])
    else:
        est, (b_lo, b_hi) = float(response["lambda_star"]), response["bound"]
        if math.isnan(est) or response.get("censored") == "none":
            return None
        lo, hi = (est, est) if response.get("censored") is None else (float(b_lo), float(b_hi))
    if math.isnan(lo) or math.isnan(hi):
        return None
    if log:
        return (math.log(lo) if lo > 0 else -math.inf), (math.log(hi) if hi > 0 else -math.inf)
    return lo, hi


def slope_test(rows: list[dict[str, Any]], field: str, *, log: bool = False) -> dict[str, Any]:
    """The primary model of ``field`` on ``ln O``: the within-group slope, determined rows only.

    :func:`~countnets.experiments.flip_decisive.grouped.random_intercept_regression` with
    ``within=True`` (a random intercept per group and the group's mean ``ln O`` as a
    covariate, plan amendment 2). ``n`` counts every pair row, run or not, so a stage that
    has not reached every pair cannot pass the plan's 80% rule; ``run`` counts the rows that
    have the response. Returns ``{"n", "run", "determined", "slope": {"estimate", "ci"},
    "between", "p", "fit"}`` or, without a fit, ``{"n", "run", "determined", "note"}``.
    """
    have = [r for r in rows if field in r]
    obs = [(r, observation(r[field], log=log)) for r in have]
    used = [(r, o) for r, o in obs if o is not None and math.isfinite(r["log_odds"])]
    out: dict[str, Any] = {"n": len(rows), "run": len(have), "determined": len(used)}
    if len(have) == 0:
        return {**out, "note": "not run"}
    if len(used) < 6:
        return {**out, "note": f"{len(used)} determined pairs, fewer than 6: no fit"}
    try:
        fit = random_intercept_regression([o[0] for _, o in used], [o[1] for _, o in used],
                                          [r["log_odds"] for r, _ in used], [r["group"] for r, _ in used])  # fmt: skip
    except CountnetsError as err:
        return {**out, "note": f"no fit: {err}"}
    return {**out, "slope": {"estimate": fit["slope"], "ci": fit["slope_ci"]}, "between": fit["between"],
            "p": fit["p"], "fit": fit}  # fmt: skip


def verdict(test: dict[str, Any], adjusted_p: float | None, share_needed: float = MIN_DETERMINED) -> str:
    """The plan's verdict wording: supported, contradicted, not detected, or not determined."""
    if "slope" not in test or adjusted_p is None:
        return "not determined"
    if test["determined"] < share_needed * test["n"]:
        return "not determined"
    if adjusted_p < 0.05:
        return "supported" if test["slope"]["estimate"] > 0 else "contradicted"
    return "not detected"


def _agreement(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean ``ln(lambda*_MALA / lambda*_tilt)`` over pairs exact and determined in both, with a 95% t-interval."""
    diffs = []
    for r in rows:
        m, t = r.get("sgld"), r.get("tilt")
        om, ot = observation(m), observation(t)
        if om and ot and om[0] == om[1] and ot[0] == ot[1] and om[0] > 0 and ot[0] > 0:
            diffs.append(math.log(om[0] / ot[0]))
    if len(diffs) < 2:
        return {"n": len(diffs), "note": "fewer than 2 pairs exact in both: not evaluable"}
    d = np.array(diffs)
    half = statistics.t_quantile(0.95, d.size - 1) * d.std(ddof=1) / math.sqrt(d.size)
    ci = [float(d.mean() - half), float(d.mean() + half)]
    margin = math.log(EQUIVALENCE_RATIO)
    return {"n": int(d.size), "mean_log_ratio": float(d.mean()), "ci": ci, "margin": margin,
            "equal": bool(-margin < ci[0] and ci[1] < margin)}  # fmt: skip


def _stability(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Share of pairs with a determined Lambda*, and median ratios of Lambda*_T between successive budgets."""
    have = [r["Lambda_star"] for r in rows if "Lambda_star" in r]
    if not have:
        return {"note": "not run"}
    budgets = sorted(int(t) for t in have[0]["per_T"])
    ratios = {}
    for t0, t1 in zip(budgets, budgets[1:], strict=False):
        vals = [s["per_T"][str(t1)] / s["per_T"][str(t0)] for s in have
                if all(math.isfinite(s["per_T"][str(t)]) and s["per_T"][str(t)] > 0 for t in (t0, t1))]  # fmt: skip
        ratios[f"{t1}/{t0}"] = {"median": float(np.median(vals)) if vals else math.nan, "n": len(vals)}
    kinds = {k: sum(s["kind"] == k for s in have) for k in ("exact", "right", "left", "mixed")}
    within = sum(s["kind"] == "exact" and s["determined"] for s in have)
    determined = sum(bool(s["determined"]) for s in have)
    return {"pairs": len(have), "determined": determined, "fraction_determined": determined / len(have),
            "kinds": kinds, "exact_within_bound": within, "ratios": ratios}  # fmt: skip


def _within_kendall(points: list[tuple[dict[str, Any], float, float]]) -> dict[str, Any]:
    """Stratified Kendall tau of ``ln O`` and a response given as ``(row, lo, hi)`` per pair (a note when none fits)."""
    try:
        return stratified_kendall([r["log_odds"] for r, _, _ in points], [lo for _, lo, _ in points],
                                  [hi for _, _, hi in points], [r["group"] for r, _, _ in points])  # fmt: skip
    except CountnetsError as err:
        return {"note": str(err)}


def _rank(rows: list[dict[str, Any]], field: str, value: Any) -> dict[str, Any]:
    """Stratified Kendall tau of ``ln O`` and ``value(row[field])`` (exact values; NaN left out)."""
    pts = [(r, value(r[field])) for r in rows if field in r]
    pts = [(r, v) for r, v in pts if math.isfinite(v) and math.isfinite(r["log_odds"])]
    if not pts:
        return {"note": "not run" if not any(field in r for r in rows) else "no finite value"}
    out = _within_kendall([(r, v, v) for r, v in pts])
    return out if "note" in out else {**out, "left_out": sum(field in r for r in rows) - len(pts)}


def _kendall(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Stratified Kendall tau of ``ln O`` and the interval-censored Lambda* (determined pairs)."""
    obs = [(r, observation(r.get("Lambda_star"))) for r in rows]
    return _within_kendall([(r, o[0], o[1]) for r, o in obs if o is not None])


def integrated_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The plan's analysis of the pair rows: requirements, primary tests (Holm, verdicts), secondary analyses."""
    log_odds = [r["log_odds"] for r in rows if math.isfinite(r["log_odds"])]
    groups = {r["group"] for r in rows}
    span = max(log_odds) - min(log_odds) if log_odds else 0.0
    primary = {"sgd": slope_test(rows, "Lambda_star"), "langevin": slope_test(rows, "sgld")}
    # Holm over both primary tests always: a test without a p counts as p = 1, so the other is never left unadjusted
    adjusted = dict(zip(primary, statistics.holm([primary[k].get("p", 1.0) for k in primary]), strict=True))
    for name, test in primary.items():
        test["p_holm"] = adjusted[name] if "p" in test else None
        test["verdict"] = verdict(test, test["p_holm"])
    requirements = {
        "groups": {"value": len(groups), "needed": MIN_GROUPS, "met": len(groups) >= MIN_GROUPS},
        "pairs": {"value": len(rows), "needed": MIN_PAIRS, "met": len(rows) >= MIN_PAIRS},
        "log_odds_span": {"value": span, "needed": MIN_SPAN, "met": span >= MIN_SPAN},
    }
    for name, test in primary.items():
        share = test["determined"] / test["n"] if test["n"] else 0.0  # n: every pair row
        requirements[f"{name}_determined"] = {"value": share, "needed": MIN_DETERMINED, "met": share >= MIN_DETERMINED}
    return {
        "pairs": len(rows), "groups": len(groups), "requirements": requirements, "primary": primary,
        "multiplicity": "Holm over the two primary p-values (a test without one counts as p = 1)",
        "secondary": {
            "langevin_vs_tilt": _agreement(rows), "tilt": slope_test(rows, "tilt"),
            "log_log": slope_test(rows, "Lambda_star", log=True), "kendall": _kendall(rows),
            "adam": slope_test(rows, "Lambda_star_adam"), "stability": _stability(rows),
            "diversity": _rank(rows, "diversity", lambda d: d["fraction"]),
            "training_odds": _rank(rows, "selection_counts", lambda c: math.log(c["a"] / c["b"]) if c["a"] and c["b"]
                                   else math.nan),
        },
    }  # fmt: skip
