"""The plan of ``countnets experiment flip-decisive``: the pairs, chosen before any training, and their file.

:func:`plan_pairs` chooses the ``K`` independent pairs (targets, training sets, seeds, A
and B with their prior log-odds; rare B by multilevel splitting when Monte Carlo cannot
reach), and records :data:`PRIMARY_ANALYSIS`, the analysis fixed before any data;
:func:`write_plan` and :func:`read_plan` write and check the plan's JSON. See the
package docstring (:mod:`countnets.experiments.flip_decisive`) for the design.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

import numpy as np

from countnets._errors import CountnetsError, check_positive_int
from countnets.experiments.flip_decisive.rare_pairs import (
    RARE_ESTIMATOR,
    RareOptions,
    pilot_log_p,
    rare_candidates,
    rare_log_odds,
)
from countnets.network import boolean
from countnets.records import encode_float
from countnets.stats import statistics
from countnets.train.conditional import conditional_prior
from countnets.train.training import TrainingSet, training_set
from countnets.train.training_results import DEFAULT_EXPERIMENT_CHUNK, MIN_EVALUABLE_ESS

__all__ = [
    "KIND",
    "PLAN_VERSION",
    "MC_ESTIMATOR",
    "PRIMARY_ANALYSIS",
    "PLAN_FIELDS",
    "PAIR_FIELDS",
    "pair_training_set",
    "plan_pairs",
    "write_plan",
    "read_plan_file",
    "check_plan",
    "read_plan",
]

KIND = "flip-decisive"
PLAN_VERSION = 1

MC_ESTIMATOR = "mc-conditional"
"""``ln O = ln(n_A / n_B)`` from the conditional prior's counts; exact conditional-binomial interval."""

PRIMARY_ANALYSIS = {
    "response": "lambda* per pair on the linear scale: exact when the isotonic fit of q = n_B/(n_A+n_B) crosses "
    "1/2 inside the grid (log-linear interpolation); the interval [0, lambda_min] when q >= 1/2 at lambda_min "
    "(left censored); [lambda_max, inf) when it never reaches 1/2 (right censored). No pair is dropped.",
    "predictor": "ln O = ln(n_A / n_B) from the conditional prior of the plan (fixed before training)",
    "slope": "interval-censored normal maximum likelihood (Tobit): lambda* = a + b ln O + sigma eps; "
    "b with its 95% profile-likelihood interval and the likelihood-ratio p-value of b = 0",
    "rank": "Kendall tau-a of ln O and the interval-censored lambda* (overlapping intervals count 0), "
    "95% percentile bootstrap interval over pairs (2000 resamples, seed 0), permutation p (2000, seed 0)",
    "primary_sets": ["sgd", "tilt"],
    "multiplicity": "Holm over the two primary slope p-values (sgd, tilt), family-wise alpha 0.05",
    "tilt_evaluable": f"a pair's tilted lambda* enters only if every SMC step up to it kept ESS >= "
    f"{MIN_EVALUABLE_ESS:g}; the number left out is reported",
    "secondary": [
        "adam: the same analysis, reported apart (Adam rescales gradients, so lambda is only relative)",
        "training's own odds: the same regression with x = ln(n_A/n_B) of SGD at lambda = 0 (pairs with both seen)",
        "Hamming covariate: the primary regression with d_H(A, B) / |off S| added",
        "diversity runs: runs until B first appears against ln O (not built yet)",
    ],
    "prediction": "the conjecture predicts b > 0 for sgd and for tilt; for a 0-1 function-level tilt "
    "lambda*_Bayes = ln O exactly (slope 1, intercept 0)",
}


def pair_training_set(n: int, m: int, seed: int, index: int) -> TrainingSet:
    """Pair ``index``'s training set: target from ``default_rng([seed, index])``, m points of seed ``seed*1000+i``."""
    rng = np.random.default_rng([seed, index])
    bits = rng.integers(0, 2, 2**n)
    target = sum(int(b) << j for j, b in enumerate(bits))
    return training_set(n, target, size=m, seed=seed * 1000 + index)


def _mc_choice(
    ranked: list[tuple[int, int]], free: list[int], aims: list[float], tol: float, min_count: int, confidence: float
) -> dict[str, Any]:
    """Monte Carlo's pair for one candidate: A, and the B and free slot nearest (``reason`` says why none).

    B is a function besides A seen ``min_count`` times; the pair fills the free slot whose
    aim its ``ln(n_A / n_B)`` comes nearest, if within ``tol`` nats.
    """
    usable = [(f, c) for f, c in ranked[1:] if c >= min_count]
    if not (ranked and usable):
        return {"reason": f"no function besides A seen >= {min_count} times", "extra": {}}
    a, na = ranked[0]
    # the free slot and B that are nearest: |ln(n_A/n_B) - aim|
    gap, slot, b, nb = min(((abs(math.log(na / c) - aims[i]), i, f, c) for i in free for f, c in usable))
    if not gap <= tol:
        return {"reason": f"no B within {tol:g} nats of a free slot's aim", "extra": {}}
    odds, (olo, ohi) = statistics.ratio_interval(na, nb, confidence)
    log_odds_ci = [math.log(olo), math.log(ohi) if math.isfinite(ohi) else math.inf]
    return {"reason": "", "slot": slot, "a": a, "na": na, "b": b, "nb": nb, "log_odds": math.log(odds),
            "log_odds_ci": log_odds_ci, "estimator": MC_ESTIMATOR, "extra": {}}  # fmt: skip


def _rare_choice(
    got: dict[str, Any] | str, a: int, na: int, cp: Any, free: list[int], aims: list[float], tol: float
) -> dict[str, Any]:
    """The pair of a rare-B step (:func:`_plan_rare`'s result): the free slot nearest the measured ``ln O``."""
    if isinstance(got, str):
        return {"reason": got, "extra": {}}
    log_odds = got["log_odds"]
    near = min(free, key=lambda i: abs(log_odds - aims[i]))
    reason = ""
    if abs(log_odds - aims[near]) > tol:
        reason = f"rare B measured at ln O = {log_odds:.3g}, not within {tol:g} nats of a free slot's aim"
    return {"reason": reason, "slot": near, "a": a, "na": na, "b": got["b"], "nb": cp.histogram.get(got["b"], 0),
            "log_odds": log_odds, "log_odds_ci": got["log_odds_ci"], "estimator": RARE_ESTIMATOR,
            "extra": {"rare": got}}  # fmt: skip


def _pair_record(
    choice: dict[str, Any], aims: list[float], cand: int, tset: TrainingSet, prior_seed: int, cp: Any, n: int
) -> dict[str, Any]:
    """A plan's pair: its slot, candidate, training set, seeds, A and B with ``ln O`` (and a rare pair's run)."""
    slot, a, b = choice["slot"], choice["a"], choice["b"]
    return {
        "slot": slot,
        "aim_log_odds": aims[slot],
        "candidate": cand,
        "target": boolean.to_hex(tset.target),
        "train_points": list(tset.points),
        "prior_seed": prior_seed,
        "train_seed": prior_seed + 1,
        "a": boolean.to_hex(a),
        "b": boolean.to_hex(b),
        "prior_counts": [choice["na"], choice["nb"]],
        "prior_fit": cp.fit,
        "prior_samples": cp.samples,
        "log_odds": choice["log_odds"],
        "log_odds_ci": choice["log_odds_ci"],
        "log_odds_estimator": choice["estimator"],
        "hamming": boolean.hamming(a, b),
        "off_points": 2**n - tset.m,
        **choice["extra"],
    }


def plan_pairs(
    prior: Any,
    arch: Any,
    *,
    n_pairs: int = 30,
    train_size: int,
    n_samples: int,
    seed: int = 0,
    log_odds_range: tuple[float, float] = (0.0, 10.0),
    min_count: int = 3,
    tolerance: float | None = None,
    max_attempts: int | None = None,
    encoding: str = "01",
    chunk_size: int = DEFAULT_EXPERIMENT_CHUNK,
    precision: str = "highest",
    confidence: float = 0.95,
    devices: int | None = None,
    rare: RareOptions | None = None,
) -> dict[str, Any]:
    """Choose the pairs before any training (see the module docstring); a JSON-ready dict.

    Pair slots ``i = 0 .. n_pairs - 1`` each aim at ``ln O = lo + (hi - lo)(i + 1/2)/K``.
    Candidate indices are tried in order (0, 1, 2, ...); a candidate whose conditional
    prior has no function besides A seen ``min_count`` times is recorded in ``skipped``
    with its reason; a usable candidate fills the free slot whose aim its best B comes
    nearest, if within ``tolerance`` nats (default one slot width, ``(hi - lo) / K``), and
    is skipped otherwise. The plan is a deterministic function of the arguments; each
    pair's ``log_odds`` (achieved) and ``aim_log_odds`` are both recorded, and
    ``log_odds_estimator`` says which estimator gave ``ln O`` (:data:`MC_ESTIMATOR` or
    :data:`RARE_ESTIMATOR`).

    Rare B (``rare`` given): a candidate whose Monte Carlo B fills no free slot, with A
    seen at least ``min_count`` times, aims instead at the free slots beyond what its
    Monte Carlo pass can show (aim above ``ln(n_A / min_count) - tolerance``). Its
    proposals (:func:`rare_candidates`, seeded ``[seed, candidate]``) are ranked by the
    splitting pilot's guess of ``ln P(A) - ln P(B)`` (proposals are tried in the order of
    ``rare.flips`` and stop after the first guess above every target aim plus
    ``tolerance``); the proposal and slot nearest
    (within ``2 tolerance``) get a full :func:`rare_log_odds` run (seed ``10**9 + 1000
    seed + candidate``, disjoint from every prior and training seed), and the pair fills
    the free slot nearest the measured ``ln O``, if within ``tolerance``. Each rare pair
    records its proposals with their guesses and the splitting run.

    Raises:
      CountnetsError: if fewer than ``n_pairs`` usable pairs are found in ``max_attempts``
        candidates (default ``4 * n_pairs``).
    """
    K = check_positive_int("n_pairs", n_pairs)
    lo, hi = (float(v) for v in log_odds_range)
    if not hi > lo:
        raise CountnetsError(f"log_odds_range must be (lo, hi) with hi > lo, got {log_odds_range}")
    min_count = check_positive_int("min_count", min_count)
    attempts = check_positive_int("max_attempts", max_attempts or 4 * K)
    aims = [lo + (hi - lo) * (i + 0.5) / K for i in range(K)]
    tol = (hi - lo) / K if tolerance is None else float(tolerance)
    slots: list[dict[str, Any] | None] = [None] * K
    skipped = []
    start = time.perf_counter()
    for cand in range(attempts):
        if all(s is not None for s in slots):
            break
        tset = pair_training_set(arch.n, train_size, seed, cand)
        prior_seed = 2 * (seed * 1000 + cand)
        cp = conditional_prior(prior, arch, tset, n_samples=n_samples, seed=prior_seed, encoding=encoding,
                               chunk_size=chunk_size, precision=precision, devices=devices)  # fmt: skip
        ranked = cp.ranked()
        free = [i for i in range(K) if slots[i] is None]
        choice = _mc_choice(ranked, free, aims, tol, min_count, confidence)
        if choice["reason"] and rare is not None and ranked and ranked[0][1] >= min_count:
            a, na = ranked[0]
            got = _plan_rare(prior, arch, tset, a, na, cp.samples, [aims[i] for i in free], free, tol, min_count,
                             rare, seed, cand, confidence, encoding, precision, devices)  # fmt: skip
            choice = _rare_choice(got, a, na, cp, free, aims, tol)
        if choice["reason"]:
            skipped.append({"candidate": cand, "reason": choice["reason"], "prior_fit": cp.fit, **choice["extra"]})
            continue
        slots[choice["slot"]] = _pair_record(choice, aims, cand, tset, prior_seed, cp, arch.n)
    if any(s is None for s in slots):
        got = sum(s is not None for s in slots)
        raise CountnetsError(f"only {got} of {K} usable pairs in {attempts} candidates; raise n_samples or attempts")
    return {
        "plan_version": PLAN_VERSION,
        "kind": KIND,
        "arch": arch.config(),
        "prior": prior.config(),
        "encoding": encoding,
        "precision": precision,
        "train_size": train_size,
        "samples": n_samples,
        "seed": seed,
        "log_odds_range": [lo, hi],
        "min_count": min_count,
        "tolerance": tol,
        "confidence": confidence,
        "pairs": slots,
        "skipped": skipped,
        "primary_analysis": PRIMARY_ANALYSIS,
        "rare": None if rare is None else rare.config(),
        "seconds": time.perf_counter() - start,
    }


def _plan_rare(prior, arch, tset, a, na, samples, free_aims, free, tol, min_count, rare, seed, cand, confidence,
               encoding, precision, devices) -> dict[str, Any] | str:  # fmt: skip
    """The rare-B step of :func:`plan_pairs` for one candidate: a measured B (dict) or the reason there is none."""
    reach = math.log(na / min_count)
    targets = [(aim, i) for aim, i in zip(free_aims, free, strict=True) if aim > reach - tol]
    if not targets:
        return f"no B within {tol:g} nats of a free slot's aim, and no free slot beyond Monte Carlo's reach"
    rare_seed = 10**9 + 1000 * seed + cand
    log_pa = math.log(na / samples)
    proposals = []
    top = max(aim for aim, _ in targets) + tol
    for b in rare_candidates(a, tset, rare.flips, rare.per_flip, [seed, cand]):
        guess = log_pa - pilot_log_p(prior, arch, b, rare_seed, rare, encoding, precision)
        proposals.append({"b": boolean.to_hex(b), "flips": boolean.hamming(a, b), "pilot_log_odds": guess})
        if guess > top:  # more flips are (roughly) rarer still: stop proposing
            break
    if not proposals:
        return "no rare-B proposal: no off-S bit to flip"
    gap, _, b_hex = min((abs(p["pilot_log_odds"] - aim), i, p["b"]) for p in proposals for aim, i in targets)
    if not gap <= 2 * tol:
        return f"no rare-B proposal's pilot guess within {2 * tol:g} nats of a free slot beyond Monte Carlo's reach"
    b = int(b_hex, 16)
    out = rare_log_odds(prior, arch, a, b, na, samples, seed=rare_seed, options=rare, confidence=confidence,
                        encoding=encoding, precision=precision, devices=devices)  # fmt: skip
    return {"b": b, **out, "proposals": proposals}


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, float):
        return encode_float(value)
    return value


def write_plan(plan: dict[str, Any], path: Any) -> None:
    """Write the plan as standard JSON (infinite values as the strings ``"inf"``)."""
    with open(path, "w") as fh:
        json.dump(_clean(plan), fh, indent=1)
        fh.write("\n")


# The fields run_plan reads from a plan, and from each of its pairs.
PLAN_FIELDS = ("plan_version", "kind", "arch", "prior", "seed", "pairs")
PAIR_FIELDS = ("slot", "target", "train_points", "train_seed", "a", "b", "log_odds", "hamming", "off_points")


def _plan_error(path: Any, what: str) -> CountnetsError:
    return CountnetsError(f"plan {str(path)!r} {what}")


def _check_pair(path: Any, i: int, pair: Any, n: int) -> None:
    if not isinstance(pair, dict):
        raise _plan_error(path, f"pair {i} is {type(pair).__name__}, not an object")
    missing = [k for k in PAIR_FIELDS if k not in pair]
    if missing:
        raise _plan_error(path, f"pair {i} lacks the field {missing[0]!r}")
    try:
        target, a, b = (boolean.parse_function(pair[k], n) for k in ("target", "a", "b"))
    except CountnetsError as err:
        raise _plan_error(path, f"pair {i}: target, a and b must be hex truth tables of {n} inputs: {err}") from None
    points = pair["train_points"]
    if not isinstance(points, list) or not all(isinstance(x, int) and not isinstance(x, bool) for x in points):
        raise _plan_error(path, f"pair {i}: train_points must be a list of ints, got {points!r}")
    if not isinstance(pair["train_seed"], int) or isinstance(pair["train_seed"], bool):
        raise _plan_error(path, f"pair {i}: train_seed must be an int, got {pair['train_seed']!r}")
    for name, table in (("a", a), ("b", b)):
        wrong = [x for x in points if not 0 <= x < 2**n or (table >> x & 1) != (target >> x & 1)]
        if wrong:
            raise _plan_error(path, f"pair {i}: {name} = {pair[name]} does not fit the training set (point {wrong[0]})")


def read_plan_file(path: Any) -> dict[str, Any]:
    """A plan file's JSON object, unchecked: its ``plan_version`` picks the check (:func:`check_plan` for version 1).

    Raises:
      CountnetsError: one line, for a missing, empty, non-UTF-8 or non-JSON file, or JSON
        that is not an object.
    """
    from countnets import _io

    plan = _io.read_json(path, "plan")
    if not isinstance(plan, dict):
        raise _plan_error(path, f"is a JSON {type(plan).__name__}, not a flip-decisive plan")
    return plan


def check_plan(plan: dict[str, Any], path: Any = "<plan>") -> dict[str, Any]:
    """Check a version-1 plan's version and every field :func:`run_plan` reads; returns it.

    Raises:
      CountnetsError: one line, for a plan of another kind or version, a missing or
        mistyped field, or a pair whose A or B does not fit its training set.
    """
    if plan.get("plan_version") != PLAN_VERSION or plan.get("kind") != KIND:
        raise CountnetsError(f"{path} is not a flip-decisive plan of version {PLAN_VERSION}")
    missing = [k for k in PLAN_FIELDS if k not in plan]
    if missing:
        raise _plan_error(path, f"lacks the field {missing[0]!r}")
    n = plan["arch"].get("n") if isinstance(plan["arch"], dict) else None
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 12:
        raise _plan_error(path, f"arch must be an object with an input count n, got {plan['arch']!r}")
    if not isinstance(plan["pairs"], list) or not plan["pairs"]:
        raise _plan_error(path, "has no pairs")
    for i, pair in enumerate(plan["pairs"]):
        _check_pair(path, i, pair, n)
    return plan


def read_plan(path: Any) -> dict[str, Any]:
    """Read a plan written by :func:`write_plan` and check it (:func:`read_plan_file`, :func:`check_plan`).

    Raises:
      CountnetsError: one line, for a missing, empty, non-UTF-8 or non-JSON file, a plan
        of another kind or version, a missing or mistyped field, or a pair whose A or B
        does not fit its training set.
    """
    return check_plan(read_plan_file(path), path)
