"""Training's integrated pressure ``Lambda* = lambda* x T`` for the integrated-pressure flip test (issue 29).

:func:`pressure_sweep` trains one group's networks under ``L_S + lambda l_B`` for every
chosen B, every lambda of the grid (and 0) and every budget T, with ``stop_on_fit`` off so
the pressure acts for all T updates; the same initialisations (the group's sweep seed)
at every setting. Per B and T, ``lambda*_T`` is the crossing of 1/2 by the isotonic fit of
``q = n_B / (n_A + n_B)``, grid points with no run on A or B left out
(:func:`countnets.experiments.flip_decisive.censored.bootstrap_lambda_star` with
``skip_missing``). :func:`integrated_pressure` combines the budgets by the plan's rule.
"""

from __future__ import annotations

import math
from typing import Any

import jax.numpy as jnp
import numpy as np

from countnets._errors import CountnetsError
from countnets.experiments.flip_decisive import censored
from countnets.network import boolean
from countnets.train.trainer import TrainConfig, TrainingSet, pressure_penalty
from countnets.train.training import train_networks
from countnets.train.training_results import DEFAULT_EXPERIMENT_CHUNK

__all__ = ["pressure_sweep", "integrated_pressure"]


def pressure_sweep(
    section: dict[str, Any],
    prior: Any,
    arch: Any,
    tset: TrainingSet,
    a: int,
    bs: list[int],
    *,
    seed: int,
    encoding: str,
    precision: str,
    chunk_size: int = DEFAULT_EXPERIMENT_CHUNK,
) -> dict[str, Any]:
    """One group's sweeps for the optimiser of a plan section (``sgd`` or ``adam``), every B and budget at once per T.

    Returns ``{"per_b": [{"b", "per_T": {T: lambda*_T record}}], "seconds"}``, each record
    as :func:`~countnets.experiments.flip_decisive.censored.bootstrap_lambda_star` returns it
    (``a``, ``b``, ``other``, ``not_fit`` counts per positive lambda), plus ``lambda0``:
    the counts at lambda = 0.
    """
    lams = [0.0] + [float(v) for v in section["lambdas"]]
    off = np.array(tset.off_points())
    labels = np.concatenate([np.repeat(boolean.int_to_table(b, tset.n)[off][None], len(lams), axis=0) for b in bs])
    args = (jnp.asarray(np.tile(np.array(lams, np.float32), len(bs))), jnp.asarray(labels))
    per_b: list[dict[str, Any]] = [{"b": boolean.to_hex(b), "per_T": {}} for b in bs]
    seconds = 0.0
    for T in section["budgets"]:
        cfg = TrainConfig(optimizer=section["optimizer"], learning_rate=section["learning_rate"],
                          loss=section["loss"], max_steps=int(T), stop_on_fit=False, precision=precision)  # fmt: skip
        runs = train_networks(prior, arch, tset, cfg, n_runs=int(section["runs"]), seed=seed, encoding=encoding,
                              chunk_size=chunk_size, penalty=pressure_penalty(tset, cfg),
                              setting_args=args)  # fmt: skip
        seconds += runs.seconds
        for k, b in enumerate(bs):
            rows = slice(k * len(lams), (k + 1) * len(lams))
            out = censored.outcomes(runs.tables[rows], runs.fit[rows], a, b)
            star = censored.bootstrap_lambda_star(lams[1:], out[1:].astype(int), n_boot=int(section["bootstrap"]),
                                                  seed=seed, skip_missing=True)  # fmt: skip
            star["lambda0"] = censored.outcome_counts(out[0])
            per_b[k]["per_T"][str(int(T))] = star
    return {"per_b": per_b, "seconds": seconds}


def integrated_pressure(per_t: dict[str, dict[str, Any]], bound: float) -> dict[str, Any]:
    """``Lambda*`` of one pair from its per-budget records, by the plan's rule (``bound``: the stability bound).

    * every budget crosses inside the grid: ``Lambda*_T = T lambda*_T``; determined when
      ``max / min <= bound``, with value the geometric mean (an exact observation);
    * right censored at every budget: ``Lambda* > max_T T lambda_last`` (``lo`` that, ``hi = inf``);
    * left censored at every budget: ``Lambda* <= min_T T lambda_first`` (``lo = 0``);
    * anything else (mixed, or no run on A or B at some budget): not determined.

    Returns ``value``, ``lo``, ``hi`` (the observation: equal when exact), ``kind`` (``"exact"``,
    ``"right"``, ``"left"`` or ``"mixed"``), ``determined``, ``ratio`` (max/min of the exact
    ``Lambda*_T``, else None), ``per_T`` (``{T: Lambda*_T}``, NaN where none) and ``ci``: the
    hull of the budgets' bootstrap intervals times T (NaN when a record has none), an
    interval that holds every budget's.

    >>> rec = lambda v: {"estimate": v, "censored": None, "bound": [v, v]}
    >>> out = integrated_pressure({"100": rec(0.02), "400": rec(0.004)}, 2.0)  # Lambda*_T = 2 and 1.6
    >>> round(out["value"], 4), out["determined"]
    (1.7889, True)
    """
    if not per_t:
        raise CountnetsError("integrated_pressure needs at least one budget")
    budgets = {int(t): r for t, r in per_t.items()}
    kinds = {r.get("censored") or ("exact" if math.isfinite(r["estimate"]) else "none") for r in budgets.values()}
    scaled = {t: t * r["estimate"] if math.isfinite(r["estimate"]) else math.nan for t, r in budgets.items()}
    ends = [(t * r["interval"][0], t * r["interval"][1]) for t, r in budgets.items() if "interval" in r]
    whole = len(ends) == len(budgets) and not any(math.isnan(v) for e in ends for v in e)
    ci = [min(e[0] for e in ends), max(e[1] for e in ends)] if whole else [math.nan, math.nan]
    out: dict[str, Any] = {"per_T": {str(t): v for t, v in scaled.items()}, "ratio": None, "ci": ci}
    if kinds == {"exact"}:
        vals = np.array(list(scaled.values()))
        ratio = float(vals.max() / vals.min())
        value = float(np.exp(np.mean(np.log(vals))))
        return {**out, "value": value, "lo": value, "hi": value, "kind": "exact", "determined": ratio <= bound,
                "ratio": ratio}  # fmt: skip
    if kinds == {"right"}:
        lo = max(t * r["bound"][0] for t, r in budgets.items())
        return {**out, "value": lo, "lo": lo, "hi": math.inf, "kind": "right", "determined": True}
    if kinds == {"left"}:
        hi = min(t * r["bound"][1] for t, r in budgets.items())
        return {**out, "value": hi, "lo": 0.0, "hi": hi, "kind": "left", "determined": True}
    return {**out, "value": math.nan, "lo": math.nan, "hi": math.nan, "kind": "mixed", "determined": False}
