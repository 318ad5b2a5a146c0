"""Run an integrated-pressure plan (issue 29): groups, pairs, every response, resumable unit by unit.

``countnets experiment flip-decisive --plan results/flip_plan.json`` on a version-2 plan
(:mod:`.integrated_plan`) runs :func:`run_integrated`. The work is a list of units, each
saved to the checkpoint as soon as it is done, so an interrupted or time-limited run
resumes where it stopped and gives identical numbers:

1. ``groups``: candidates in order until ``n_groups`` qualify (:func:`.integrated_groups.select_group`);
2. ``sgd`` and ``adam``: one unit per group (:func:`.integrated_training.pressure_sweep`);
3. ``langevin`` and ``tilt``: one unit per pair;
4. ``diversity``: one unit per group.

They run in :data:`STAGES` order.

:func:`pair_rows` joins them into one row per pair; the analysis reads the rows.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np

from countnets import records
from countnets._errors import CountnetsError
from countnets.engine import checkpoint as checkpoint_lib
from countnets.experiments.flip_decisive import langevin, tilt_smc
from countnets.experiments.flip_decisive.integrated_analysis import integrated_summary, observation
from countnets.experiments.flip_decisive.integrated_groups import select_group
from countnets.experiments.flip_decisive.integrated_plan import DESIGN, STABILITY_BOUND
from countnets.experiments.flip_decisive.integrated_training import integrated_pressure, pressure_sweep
from countnets.experiments.flip_decisive.plan import KIND
from countnets.results import CountResult, count_result, payloads, report
from countnets.train import training_results as train_records
from countnets.train.trainer import TrainConfig, TrainingSet
from countnets.train.training import diverse_runs

__all__ = ["STAGES", "PAIR_UNITS", "run_units", "pair_rows", "groups_of", "run_integrated", "format_integrated"]

STAGES = ("groups", "sgd", "langevin", "adam", "tilt", "diversity")
"""The stages in the order they run (the SMC tilt, the costliest on a CPU, after the cheaper responses)."""


def groups_of(state: dict[str, Any]) -> list[dict[str, Any]]:
    """The qualifying groups among the candidates tried so far, in candidate order."""
    return [c for c in state["candidates"] if c["qualifies"]]


def _tset(plan: dict[str, Any], group: dict[str, Any]) -> TrainingSet:
    return TrainingSet(int(plan["arch"]["n"]), int(group["target"], 16), tuple(group["train_points"]))


def _chosen(group: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in group["flips"] if f["point"] in group["chosen"]]


def _sweep_unit(section: str) -> Callable[..., dict[str, Any]]:
    def unit(plan, prior, arch, group):
        return pressure_sweep(plan[section], prior, arch, _tset(plan, group), int(group["a"], 16),
                              [int(f["b"], 16) for f in _chosen(group)], seed=int(group["seeds"]["sweep"]),
                              encoding=plan["encoding"], precision=plan["precision"])  # fmt: skip

    return unit


def _starts(record: dict[str, Any], count: int) -> np.ndarray:
    starts = np.asarray(record["starts"], np.float32)
    if starts.shape[0] < count:
        raise CountnetsError(f"{record['function']} has {starts.shape[0]} chain starts, fewer than {count}")
    return starts[:count]


def _langevin_unit(plan, prior, arch, group, flip) -> dict[str, Any]:
    section = plan["langevin"]
    a, b = int(group["a"], 16), int(flip["b"], 16)
    model = langevin.langevin_model(prior, arch, _tset(plan, group), a, b, encoding=plan["encoding"],
                                    precision=plan["precision"])  # fmt: skip
    count = int(section["chains_per_start"])
    start = time.perf_counter()
    out = langevin.mala_lambda_star(section, model, _starts(group["log_p_a"], count), _starts(flip["log_p"], count),
                                    seed=int(group["seeds"]["chains"]) * 100 + int(flip["point"]))  # fmt: skip
    return {**out, "seconds": time.perf_counter() - start}


def _tilt_unit(plan, prior, arch, group, flip) -> dict[str, Any]:
    section, lambdas = plan["tilt"], [float(v) for v in plan["langevin"]["lambdas"]]
    a, b = int(group["a"], 16), int(flip["b"], 16)
    energies = tilt_smc.tilt_energies(prior, arch, _tset(plan, group), a, b, encoding=plan["encoding"],
                                      precision=plan["precision"])  # fmt: skip
    start = time.perf_counter()
    runs = tilt_smc.smc_tilt(prior, arch, energies, lambdas, particles=int(section["particles"]),
                             replicas=int(section["replicas"]), ess_fraction=float(section["ess_fraction"]),
                             sweeps=int(section["sweeps"]),
                             seed=int(group["seeds"]["tilt"]) * 100 + int(flip["point"]))  # fmt: skip
    return {**tilt_smc.tilt_lambda_star(section, lambdas, runs), "seconds": time.perf_counter() - start}


PAIR_UNITS = {"langevin": _langevin_unit, "tilt": _tilt_unit}


def _diversity_unit(plan, prior, arch, group) -> dict[str, Any]:
    """Marks' second experiment: sequential runs rewarded for differing off S; where each chosen B first appears."""
    section = plan["diversity"]
    cfg = TrainConfig(optimizer=section["optimizer"], learning_rate=section["learning_rate"],
                      max_steps=int(section["steps"]), precision=plan["precision"])  # fmt: skip
    runs = diverse_runs(prior, arch, _tset(plan, group), cfg, n_runs=int(section["runs"]),
                        chains=int(section["chains"]), rewards=(float(section["reward"]),),
                        seed=int(group["seeds"]["diversity"]), encoding=plan["encoding"])  # fmt: skip
    first = {f["b"]: runs.first_hit(int(f["b"], 16))[0].tolist() for f in _chosen(group)}
    return {"first_hit": first, "fraction": {b: float(np.mean(np.array(v) > 0)) for b, v in first.items()},
            "distinct": runs.distinct_curve()[0, :, -1].tolist(), "seconds": runs.seconds}  # fmt: skip


def _group_units(stage: str) -> Callable[..., dict[str, Any]] | None:
    return {"sgd": _sweep_unit("sgd"), "adam": _sweep_unit("adam"), "diversity": _diversity_unit}.get(stage)


class _Clock:
    """Seconds so far over every session, and whether the run must stop (time or a signal)."""

    def __init__(self, before: float, max_seconds: float | None):
        self.before, self.start, self.max_seconds = before, time.perf_counter(), max_seconds
        self.stopped_by = "samples"

    def total(self) -> float:
        return self.before + time.perf_counter() - self.start

    def stop(self) -> bool:
        if checkpoint_lib.interrupt_signal() is not None:
            self.stopped_by = "interrupted"
        elif self.max_seconds is not None and time.perf_counter() - self.start >= self.max_seconds:
            self.stopped_by = "time"
        return self.stopped_by != "samples"


GROUP_FIELDS = ("plan_version", "seed", "arch", "prior", "encoding", "precision", "groups", "log_odds")
"""The plan fields the groups depend on: the checkpoint's fingerprint (a stage's own section is checked per unit)."""


def _resume(plan: dict[str, Any], checkpoint: str | os.PathLike | None):
    """The checkpoint and its state; a saved unit made under another version of its stage's section is refused."""
    state: dict[str, Any] = {"candidates": [], "units": {}, "seconds": 0.0}
    if checkpoint is None:
        return None, state
    fingerprint = {"kind": KIND, "design": DESIGN, "plan": {k: plan[k] for k in GROUP_FIELDS}}
    ckpt = checkpoint_lib.Checkpoint(checkpoint, fingerprint, 0.0)
    saved = checkpoint_lib.load(ckpt)
    if saved is None:
        return ckpt, state
    for key, unit in saved.state["units"].items():
        stage = key.split(":")[0]
        if unit.get("section") != plan[stage]:
            raise CountnetsError(f"checkpoint {str(checkpoint)!r} holds {key} made under another plan section "
                                 f"{stage!r}; use a new checkpoint")  # fmt: skip
    return ckpt, records.decode_floats(dict(saved.state))  # as saved by _save: non-finite floats were strings


def _save(ckpt: Any, state: dict[str, Any], clock: _Clock) -> None:
    # Every function measured compiles its own kernels; hundreds of them exhaust the JIT's code memory
    # (LLVM "Unable to allocate section memory") unless dropped after each unit.
    jax.clear_caches()
    state["seconds"] = clock.total()
    if ckpt is not None:
        done = len(state["candidates"]) + len(state["units"])
        checkpoint_lib.save(ckpt, next_chunk=done, samples=done, seconds=state["seconds"], stopped_by="running",
                            state=train_records._json_clean(state))  # fmt: skip


def _say(progress: bool, text: str) -> None:
    if progress:
        print(text, flush=True)


def _do_stage(stage, group, plan, prior, arch, state, pair_units, ckpt, clock, progress) -> bool:
    """Do one stage's units of one group not done yet, saving after each; False when the run must stop first."""
    group_unit, pair_unit = _group_units(stage), pair_units.get(stage)
    c = group["candidate"]
    work = [(f"{stage}:{c}", None)] if group_unit else [(f"{stage}:{c}:{f['point']}", f) for f in _chosen(group)]
    for key, flip in work:
        if key in state["units"]:
            continue
        if clock.stop():
            return False
        unit = group_unit(plan, prior, arch, group) if group_unit else pair_unit(plan, prior, arch, group, flip)
        state["units"][key] = {**unit, "section": plan[stage]}
        _save(ckpt, state, clock)
        _say(progress, f"{key} done ({clock.total():.0f} s)")
    return True


def run_units(
    plan: dict[str, Any],
    prior: Any,
    arch: Any,
    *,
    stages: Sequence[str] = STAGES,
    pair_units: dict[str, Callable[..., dict[str, Any]]] | None = None,
    checkpoint: str | os.PathLike | None = None,
    max_seconds: float | None = None,
    progress: bool = False,
) -> tuple[dict[str, Any], str]:
    """Do the plan's units of ``stages`` not done yet, saving after each; returns ``(state, stopped_by)``.

    Group by group: every requested stage of a qualifying group (in :data:`STAGES` order) is
    done before the next candidate is tried, so a stopped run holds complete rows for the
    groups it reached. The order changes no number: every unit has its own seeds.

    ``pair_units`` maps a per-pair stage (``langevin``, ``tilt``) to its function
    ``unit(plan, prior, arch, group, flip) -> dict`` (default :data:`PAIR_UNITS`); ``stopped_by``
    is ``"samples"`` when every unit of ``stages`` is done, else ``"time"`` or ``"interrupted"``.

    Raises:
      CountnetsError: for an unknown stage, or a prior or architecture that is not the plan's.
    """
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise CountnetsError(f"unknown stage {unknown[0]!r}; expected some of {', '.join(STAGES)}")
    if plan["arch"] != arch.config() or plan["prior"] != prior.config():
        raise CountnetsError("the architecture and prior must be the plan's (its 'arch' and 'prior' fields)")
    ckpt, state = _resume(plan, checkpoint)
    clock = _Clock(float(state["seconds"]), max_seconds)
    later = [s for s in STAGES if s in stages and s != "groups"]
    pair_units = PAIR_UNITS if pair_units is None else pair_units
    for stage in later:
        if _group_units(stage) is None and pair_units.get(stage) is None:
            raise CountnetsError(f"stage {stage!r} is not built yet (issue 29)")
    rules = plan["groups"]
    done = 0
    while True:
        groups = groups_of(state)
        if done < len(groups):  # finish every requested stage of a group before trying the next candidate
            for stage in later:
                if not _do_stage(stage, groups[done], plan, prior, arch, state, pair_units, ckpt, clock, progress):
                    return state, clock.stopped_by
            done += 1
            continue
        if "groups" not in stages or len(groups) >= rules["n_groups"]:
            break
        if len(state["candidates"]) >= rules["max_candidates"] or clock.stop():
            return state, clock.stopped_by
        record = select_group(plan, prior, arch, len(state["candidates"]))
        state["candidates"].append(record)
        _save(ckpt, state, clock)
        _say(progress, f"candidate {record['candidate']}: {'group' if record['qualifies'] else record['reason']}")
    return state, clock.stopped_by


def pair_rows(plan: dict[str, Any], state: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per pair: group, A, B, ``ln O`` with its interval, and each response present in ``state``."""
    rows = []
    for group in groups_of(state):
        c = group["candidate"]
        for k, flip in enumerate(_chosen(group)):
            row: dict[str, Any] = {
                "group": c, "target": group["target"], "train_points": group["train_points"], "a": group["a"],
                "b": flip["b"], "point": flip["point"], "hamming": 1, "log_odds": flip["log_odds"],
                "log_odds_ci": flip["log_odds_ci"], "log_odds_estimator": "splitting",
                "a_share": group["selection"]["a_share"],
            }  # fmt: skip
            counts = group["selection"].get("counts")
            if counts is not None:  # training's own odds at lambda = 0, over the selection runs
                row["selection_counts"] = {"a": counts.get(group["a"], 0), "b": counts.get(flip["b"], 0)}
            for section in ("sgd", "adam"):
                unit = state["units"].get(f"{section}:{c}")
                if unit is not None:
                    if unit["per_b"][k]["b"] != flip["b"]:
                        raise CountnetsError(f"unit {section}:{c} lists B in another order than group {c}'s flips")
                    per_t = unit["per_b"][k]["per_T"]
                    star = integrated_pressure(per_t, float(plan[section].get("stability_bound", STABILITY_BOUND)))
                    name = "Lambda_star" if section == "sgd" else f"Lambda_star_{section}"
                    row[name] = {**star, "lambda_star": per_t}
                    # P(B) among all runs at every (T, lambda), the plan's secondary: B's count over all runs
                    row[f"p_b_all_runs_{section}"] = {t: [b / (b + r["a"][j] + r["other"][j] + r["not_fit"][j])
                                                          for j, b in enumerate(r["b"])] for t, r in per_t.items()}
            for stage in ("langevin", "tilt"):
                unit = state["units"].get(f"{stage}:{c}:{flip['point']}")
                if unit is not None:
                    row["sgld" if stage == "langevin" else "tilt"] = unit
            diversity = state["units"].get(f"diversity:{c}")
            if diversity is not None:
                row["diversity"] = {"fraction": diversity["fraction"][flip["b"]],
                                    "first_hit": diversity["first_hit"][flip["b"]]}  # fmt: skip
            rows.append(row)
    return rows


def _without_starts(value: Any) -> Any:
    """A candidate record without its chains' starts (kept in the checkpoint only: they are large)."""
    if isinstance(value, dict):
        return {k: _without_starts(v) for k, v in value.items() if k != "starts"}
    if isinstance(value, list):
        return [_without_starts(v) for v in value]
    return value


def run_integrated(
    plan: dict[str, Any],
    prior: Any,
    arch: Any,
    *,
    stages: Sequence[str] = STAGES,
    checkpoint: str | os.PathLike | None = None,
    max_seconds: float | None = None,
    progress: bool = False,
) -> CountResult:
    """Run a version-2 plan's ``stages`` (:func:`run_units`) and analyse every pair row so far.

    Returns ``kind="flip-decisive"`` with a :class:`~countnets.results.payloads.FlipIntegratedPayload`;
    ``stopped_by`` is ``"time"`` or ``"interrupted"`` when units are left (rerun with the same
    checkpoint to go on), ``"samples"`` when every unit of ``stages`` is done. ``samples`` counts
    the units done.
    """
    state, stopped = run_units(plan, prior, arch, stages=stages, checkpoint=checkpoint, max_seconds=max_seconds,
                               progress=progress)  # fmt: skip
    rows = pair_rows(plan, state)
    extra = {"plan": plan, "candidates": _without_starts(state["candidates"]), "pairs": rows,
             "analysis": integrated_summary(rows), "stages": list(stages)}  # fmt: skip
    config = {"arch": plan["arch"], "prior": plan["prior"], "encoding": plan["encoding"],
              "precision": plan["precision"], "design": DESIGN, "stages": list(stages)}  # fmt: skip
    done = len(state["candidates"]) + len(state["units"])
    return count_result(
        KIND, config, seed=int(plan["seed"]), chunk_size=1, samples=done, stopped_by=stopped,
        seconds=float(state["seconds"]), device_count=1,
        extra=payloads.make(payloads.FlipIntegratedPayload, train_records._json_clean(extra)),
    )  # fmt: skip


def _num(v: Any) -> str:
    v = float(v)
    return "inf" if math.isinf(v) else ("-" if math.isnan(v) else f"{v:.3g}")


def _response_text(resp: dict[str, Any] | None) -> str:
    if resp is None:
        return "not run"
    if "kind" in resp:  # training's Lambda*
        if not resp["determined"]:
            return f"not determined ({resp['kind']})"
        return {"exact": _num(resp["value"]), "right": f"> {_num(resp['lo'])}", "left": f"<= {_num(resp['hi'])}"}[
            resp["kind"]]  # fmt: skip
    if observation(resp) is None:
        return "not determined"
    est, ci = resp["lambda_star"], resp["ci"]
    return f"{_num(est)} [{_num(ci[0])}, {_num(ci[1])}]" + (f" ({resp['censored']})" if resp.get("censored") else "")


def format_integrated(result: CountResult) -> str:
    """Terminal summary of an integrated-pressure run: pairs, each response, the primary tests and requirements."""
    e = result.extra
    rows = [["group", "A", "B", "ln O [CI]", "Lambda* sgd", "Lambda* adam", "lambda* MALA", "lambda* tilt"]]
    for p in e["pairs"]:
        ci = p["log_odds_ci"]
        rows.append([str(p["group"]), p["a"], p["b"], f"{_num(p['log_odds'])} [{_num(ci[0])}, {_num(ci[1])}]",
                     _response_text(p.get("Lambda_star")), _response_text(p.get("Lambda_star_adam")),
                     _response_text(p.get("sgld")), _response_text(p.get("tilt"))])  # fmt: skip
    a = e["analysis"]
    tried = len(e["candidates"])
    lines = [f"flip-decisive (integrated pressure): {a['groups']} groups from {tried} candidates, {a['pairs']} pairs; "
             f"stopped by {result.stopped_by}"]  # fmt: skip
    lines += report.text_table(rows)
    for name, test in a["primary"].items():
        if "slope" not in test:
            note = test.get("note", "not run")
            lines.append(f"primary {name}: {note} ({test['determined']} of {test['n']} determined)")
            continue
        s = test["slope"]
        lines.append(f"primary {name}: slope on ln O {_num(s['estimate'])} [{_num(s['ci'][0])}, {_num(s['ci'][1])}], "
                     f"p = {test['p']:.3g}, Holm {test['p_holm']:.3g}; {test['determined']} of {test['n']} "
                     f"determined: {test['verdict']}")  # fmt: skip
    unmet = [k for k, v in a["requirements"].items() if not v["met"]]
    lines.append("requirements: " + ("all met" if not unmet else "not met: " + ", ".join(unmet)))
    return "\n".join(lines)
