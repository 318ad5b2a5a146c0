"""Groups ``(S, A)`` and their single-flip pairs for the integrated-pressure flip test (issue 29).

:func:`select_group` applies the plan's rules (:mod:`.integrated_plan`) to one candidate:

1. the training set of candidate ``c`` (:func:`countnets.experiments.flip_decisive.plan.pair_training_set`);
2. ``runs`` SGD runs at ``lambda = 0`` (``stop_on_fit`` off, the selection seed); ``A`` is
   their most common function and must hold at least ``min_share`` of them and fit S;
3. ``ln P(A)`` over the whole cube by splitting (:func:`countnets.rare.splitting.sample_rare`),
   which must be determined (the reliability rule);
4. for every off-S point ``p``, ``B = A xor e_p`` and ``ln P(B)`` the same way;
   ``ln O = ln P(A) - ln P(B)`` with the Bonferroni interval of the two;
5. of the determined B, ``per_group`` at evenly spaced ranks of ``ln O`` (:func:`choose_flips`).

Each splitting run also gives the chains their starts: one particle of each replica
that reached the function (the prior conditioned on it).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from countnets.experiments.flip_decisive.integrated_plan import group_seeds, splitting_seed
from countnets.experiments.flip_decisive.plan import pair_training_set
from countnets.measures import implements
from countnets.network import boolean
from countnets.rare.splitting import sample_rare
from countnets.train.trainer import TrainConfig
from countnets.train.training import train_networks

__all__ = ["choose_flips", "measure_function", "select_group", "flip_log_odds"]


def choose_flips(flips: list[dict[str, Any]], per_group: int) -> list[int]:
    """The points whose flip is taken: determined flips sorted by ``ln O`` (ties: lower point), at evenly spaced ranks.

    Ranks ``floor(j (k - 1) / (per_group - 1) + 1/2)`` for ``j = 0 .. per_group - 1`` among
    the ``k`` determined flips, without repeats; all of them when ``k <= per_group``.

    >>> rows = [{"point": p, "reliable": True, "log_odds": v} for p, v in [(0, 3.0), (1, 1.0), (2, 2.0), (5, 9.0)]]
    >>> choose_flips(rows, 2)
    [1, 5]
    """
    ok = sorted((f for f in flips if f["reliable"]), key=lambda f: (f["log_odds"], f["point"]))
    k = len(ok)
    if k <= per_group:
        return [f["point"] for f in ok]
    ranks: list[int] = []
    for j in range(per_group):
        r = math.floor(j * (k - 1) / (per_group - 1) + 0.5)
        if r not in ranks:
            ranks.append(r)
    return [ok[r]["point"] for r in ranks]


def measure_function(prior: Any, arch: Any, f: int, *, seed: int, replicas: int, confidence: float, encoding: str,
                     precision: str) -> dict[str, Any]:  # fmt: skip
    """``ln P(f)`` over the whole cube by splitting, its interval and reliability, and chain starts.

    Returns ``log_p``, ``log_p_ci`` (nats, at ``confidence``), ``reliable``,
    ``effective_replicas``, ``seed``, ``seconds`` and ``starts``: ``replicas`` flat
    parameter vectors, particle ``k`` of each replica that reached f in turn (``k = 0``
    first), and ``start_replicas``, how many replicas they come from.
    """
    start = time.perf_counter()
    pop = sample_rare(prior, arch, implements(int(f)), seed=seed, replicas=replicas, confidence=confidence,
                      encoding=encoding, precision=precision)  # fmt: skip
    est, extra = pop.result.estimates[0], pop.result.extra
    reached = np.flatnonzero(pop.weights > 0)
    starts = [pop.theta[reached[i % reached.size], i // reached.size] for i in range(replicas)] if reached.size else []
    lo, hi = est.ci
    return {
        "function": boolean.to_hex(int(f)),
        "p": float(est.p),
        "log_p": math.log(est.p) if est.p > 0 else -math.inf,
        "log_p_ci": [math.log(lo) if lo > 0 else -math.inf, math.log(hi) if hi > 0 else -math.inf],
        "reliable": bool(extra.reliable) and est.p > 0,
        "effective_replicas": float(extra.effective_replicas),
        "seed": seed,
        "seconds": time.perf_counter() - start,
        "starts": [[float(v) for v in s] for s in starts],
        "start_replicas": int(reached.size),
    }


def flip_log_odds(a: dict[str, Any], b: dict[str, Any]) -> tuple[float, list[float]]:
    """``ln O = ln P(A) - ln P(B)`` and its interval from the two intervals' ends (Bonferroni: each at 1 - alpha/2)."""
    return a["log_p"] - b["log_p"], [a["log_p_ci"][0] - b["log_p_ci"][1], a["log_p_ci"][1] - b["log_p_ci"][0]]


def _selection(plan: dict[str, Any], prior: Any, arch: Any, tset: Any, seed: int) -> dict[str, Any]:
    """The selection runs at lambda = 0: every function's count (``counts``), the top 8, and the most common, A."""
    rule = plan["groups"]["selection"]
    cfg = TrainConfig(optimizer=rule["optimizer"], learning_rate=rule["learning_rate"], loss=rule["loss"],
                      max_steps=rule["steps"], stop_on_fit=rule["stop_on_fit"],
                      precision=plan["precision"])  # fmt: skip
    runs = train_networks(prior, arch, tset, cfg, n_runs=rule["runs"], seed=seed, encoding=plan["encoding"],
                          chunk_size=rule["runs"])  # fmt: skip
    tables = np.asarray(runs.tables)
    values, counts = np.unique(tables, return_counts=True)
    order = np.lexsort((values, -counts))
    top = [(int(values[i]), int(counts[i])) for i in order[:8]]
    a, count = top[0]
    fits_a = bool(runs.fit[tables == a].all())
    counts = {boolean.to_hex(int(values[i])): int(counts[i]) for i in order}
    return {"runs": int(tables.size), "fit": int(runs.fit.sum()), "top": [[boolean.to_hex(f), c] for f, c in top],
            "counts": counts, "a": a, "a_count": count, "a_share": count / tables.size, "a_fits": fits_a,
            "seconds": runs.seconds}  # fmt: skip


def select_group(plan: dict[str, Any], prior: Any, arch: Any, candidate: int) -> dict[str, Any]:
    """Apply the plan's group rules to ``candidate``: a record with ``qualifies`` and, when not, ``reason``.

    A qualifying record holds ``a``, ``log_p_a`` (with ``starts``), ``flips`` (every off-S
    point's ``b``, ``log_p``, ``log_odds``, ``log_odds_ci``, ``reliable``; the chosen ones with
    their ``starts``) and ``chosen`` (the points, :func:`choose_flips`).
    """
    n, seed = arch.n, int(plan["seed"])
    tset = pair_training_set(n, int(plan["groups"]["train_size"]), seed, candidate)
    seeds = group_seeds(seed, candidate)
    out: dict[str, Any] = {"candidate": candidate, "target": boolean.to_hex(tset.target),
                           "train_points": list(tset.points), "seeds": seeds, "qualifies": False}  # fmt: skip
    sel = _selection(plan, prior, arch, tset, seeds["selection"])
    a = sel.pop("a")
    out["selection"] = sel
    min_share = float(plan["groups"]["selection"]["min_share"])
    if not sel["a_fits"]:
        return {**out, "reason": "the most common function does not fit S"}
    if sel["a_share"] < min_share:
        return {**out, "a": boolean.to_hex(a), "reason": f"A holds {sel['a_share']:.3f} of runs, below {min_share:g}"}
    out["a"] = boolean.to_hex(a)
    each = 1 - (1 - float(plan["log_odds"]["confidence"])) / 2
    common = dict(replicas=int(plan["log_odds"]["replicas"]), confidence=each, encoding=plan["encoding"],
                  precision=plan["precision"])  # fmt: skip
    meas_a = measure_function(prior, arch, a, seed=splitting_seed(seed, candidate, None), **common)
    out["log_p_a"] = meas_a
    if not meas_a["reliable"]:
        return {**out, "reason": "ln P(A) is not determined (splitting's reliability rule)"}
    flips = []
    for point in tset.off_points():
        b = a ^ (1 << int(point))
        meas_b = measure_function(prior, arch, b, seed=splitting_seed(seed, candidate, int(point)), **common)
        log_odds, ci = flip_log_odds(meas_a, meas_b)
        flips.append({"point": int(point), "b": boolean.to_hex(b), "log_odds": log_odds, "log_odds_ci": ci,
                      "reliable": meas_b["reliable"], "log_p": meas_b})  # fmt: skip
    chosen = choose_flips(flips, int(plan["groups"]["per_group"]))
    for f in flips:  # keep the chains' starts of the chosen B only
        if f["point"] not in chosen:
            f["log_p"] = {k: v for k, v in f["log_p"].items() if k != "starts"}
    out.update(flips=flips, chosen=chosen)
    if len(chosen) < 2:
        return {**out, "reason": f"{len(chosen)} determined single-flip B, fewer than 2"}
    return {**out, "qualifies": True, "reason": ""}
