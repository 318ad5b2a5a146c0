"""Experiment rows of the counting suite: the project's own measurements, with intervals and no reference.

Each row runs one experiment of :mod:`countnets.experiments` at a fixed config and
reports its headline number (a volume ratio, or the pressure lambda*) with its
interval; the verdict is ``"measured"``. The configs follow the committed results in
``results/`` at smaller sample counts.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from countnets import _registry as experiments
from countnets.bench.registry import Measurement, Reference, Task, call, register
from countnets.experiments.composition import composition_experiment
from countnets.experiments.detour import goal_detour, write_erase
from countnets.experiments.flip import flip
from countnets.experiments.serial_parallel import serial_parallel
from countnets.network.architectures import MLP
from countnets.network.priors import Gaussian
from countnets.train.training import TrainConfig, training_set

__all__ = ["TASKS", "serial_parallel_tasks", "detour_tasks", "composition_tasks", "flip_tasks"]

_MEASURED = Reference(source="measured-only")


def _confidence(config: Mapping[str, Any]) -> float:
    return 1.0 - float(config["alpha"])


def _ratio_measurement(ratio: Mapping[str, Any], unit: str, samples: int, text: str, details: dict) -> Measurement:
    return Measurement(
        estimate=float(ratio["estimate"]),
        interval=(float(ratio["ci"][0]), float(ratio["ci"][1])),
        confidence=float(ratio["confidence"]),
        unit=unit,
        samples=samples,
        evaluations=samples,
        call=text,
        details={"hits_a": int(ratio["hits_a"]), "hits_b": int(ratio["hits_b"]), "method": ratio["method"], **details},
    )


def _serial_parallel_measure(config: Mapping[str, Any], seed: int) -> Measurement:
    prior = Gaussian(1.0, 1.0)
    kwargs = dict(
        n=int(config["n"]), d=int(config["d"]), w=int(config["w"]), blocks=[int(config["blocks"])],
        branch_scales=[config["branch_scale"]], n_samples=int(config["samples"]), seed=seed,
        encoding=config["encoding"], confidence=_confidence(config),
    )  # fmt: skip
    result = serial_parallel(prior, **kwargs)
    entry = result.extra["results"][0]
    return _ratio_measurement(
        entry["ratio"],
        f"P(k* <= 1) / P(k* >= 2) at L = {config['blocks']} (parallel / serial volume)",
        result.samples,
        call("serial_parallel", prior, **kwargs),
        {"kstar_counts": list(entry["kstar_counts"]), "serial_one_bit": int(entry["serial_one_bit"])},
    )


def _write_erase_measure(config: Mapping[str, Any], seed: int) -> Measurement:
    prior = Gaussian(1.0, 1.0)
    kwargs = dict(
        n=int(config["n"]), d=int(config["d"]), w=int(config["w"]), blocks=int(config["blocks"]),
        n_samples=int(config["samples"]), seed=seed, encoding=config["encoding"], confidence=_confidence(config),
    )  # fmt: skip
    result = write_erase(prior, **kwargs)
    return _ratio_measurement(
        result.extra["ratio"],
        "P(with a cancelling pair) / P(without) (write-then-erase detour)",
        result.samples,
        call("write_erase", prior, **kwargs),
        {
            "with_pair": int(result.extra["with_pair"]["hits"]),
            "without_pair": int(result.extra["without_pair"]["hits"]),
        },
    )


def _goal_measure(config: Mapping[str, Any], seed: int) -> Measurement:
    prior = Gaussian(1.0, 1.0)
    kwargs = dict(
        n=int(config["n"]), w=int(config["w"]), n_samples=int(config["samples"]), seed=seed,
        encoding=config["encoding"], confidence=_confidence(config),
    )  # fmt: skip
    result = goal_detour(prior, **kwargs)
    return _ratio_measurement(
        result.extra["ratio"],
        "P(detour via a goal) / P(direct) (goal-then-backchain detour)",
        result.samples,
        call("goal_detour", prior, **kwargs),
        {"distinct_goals": int(result.extra["distinct_goals"])},
    )


def _flip_measure(config: Mapping[str, Any], seed: int) -> Measurement:
    prior, arch = Gaussian(1.0, 1.0), MLP(int(config["n"]), tuple(config["hidden"]))
    tset = training_set(arch.n, config["target"], size=int(config["train_size"]), seed=seed)
    train = TrainConfig(optimizer=config["optimizer"])
    kwargs = dict(
        b_ranks=(int(config["b_rank"]),), lambdas=tuple(config["lambdas"]), n_runs=int(config["runs"]),
        n_samples=int(config["samples"]), seed=seed, confidence=_confidence(config),
    )  # fmt: skip
    result = flip(prior, arch, tset, train, **kwargs)
    pair = result.extra["pairs"][0]
    star = pair["lambda_star_train"]
    lo, hi = (float(v) for v in star["interval"])
    text = call(
        "flip", prior, arch,
        f"training_set({arch.n}, {config['target']!r}, size={config['train_size']}, seed={seed})", train, **kwargs,
    )  # fmt: skip
    return Measurement(
        estimate=float(star["estimate"]),
        interval=(lo, hi),
        confidence=_confidence(config),
        unit=f"lambda* (SGD) to flip {pair['a']} -> {pair['b']}; bracket (lo, hi] on the sweep",
        samples=result.samples,
        evaluations=result.samples + int(result.extra["runs"]) * len(config["lambdas"]),
        call=text,
        details={
            "a": pair["a"],
            "b": pair["b"],
            "prior_odds": _plain(pair["prior_odds"]),
            "prior_odds_ci": [_plain(v) for v in pair["prior_odds_ci"]],
            "censored": bool(star["censored"]),
            "lambda_star_tilt": _plain(pair["lambda_star_tilt"]["estimate"]),
            "runs": int(result.extra["runs"]),
            "not_converged": int(result.extra["not_converged"]),
        },
    )


def _composition_measure(config: Mapping[str, Any], seed: int) -> Measurement:
    prior = Gaussian(1.0, 1.0)
    options = {"replicas": int(config["replicas"]), "particles": int(config["particles"])}
    kwargs = dict(
        n_values=[int(config["n"])], d=int(config["d"]), blocks=[int(config["blocks"])], widths=[int(config["w"])],
        branch_scales=[config["branch_scale"]], targets=[config["target"]], estimator="splitting", seed=seed,
        confidence=_confidence(config), splitting_options=options,
    )  # fmt: skip
    result = composition_experiment(prior, **kwargs)
    row = next(r for r in result.extra["rows"] if r.get("pair") and r["form"] == r["pair"].split("/")[0])
    measurement = _ratio_measurement(
        row["ratio"],
        f"P(f, k* = {config['kstar_parallel']}) / P(f, k* = {config['kstar_serial']}) for f = {config['target']} "
        f"(parallel / serial form, {row['pair']}), by splitting",
        int(result.samples),
        call("composition_experiment", prior, **kwargs),
        {"p_f": float(row["p"]["p"]), "p_f_ci": [float(v) for v in row["p"]["ci"]],
         "placement_null_ratio": float(row["placement_null_ratio"]),
         "kstar_given_f": {k: v["p"] for k, v in row["kstar_given_f"].items()}},
    )  # fmt: skip
    return dataclasses.replace(measurement, evaluations=int(row["splitting"]["evaluations"]))


def _plain(value: Any) -> float:
    return math.nan if value is None else float(value)


_RESMLP = {"n": 3, "d": 8, "w": 8, "encoding": "pm1"}
_FLIP = {"n": 5, "hidden": [16], "target": "or", "train_size": 16, "optimizer": "sgd", "b_rank": 2}


def serial_parallel_tasks() -> list[Task]:
    """The serial-parallel experiment's row: the parallel/serial volume ratio."""
    return [
        Task(
            name="exp-serial-parallel",
            group="experiments",
            what="parallel/serial volume ratio of ResMLPs (effective depth k* <= 1 against >= 2), alpha = 1",
            suites={
                "quick": {**_RESMLP, "blocks": 2, "branch_scale": "1", "samples": 20_000},
                "standard": {**_RESMLP, "blocks": 4, "branch_scale": "1", "samples": 400_000},
            },
            measure=_serial_parallel_measure,
            reference=_MEASURED,
        ),
    ]


def detour_tasks() -> list[Task]:
    """The detour experiment's rows: cancelling block pairs, and goal units."""
    return [
        Task(
            name="exp-detour-write-erase",
            group="experiments",
            what="volume with a cancelling block pair against without, ResMLP n = 3, d = w = 8, L = 3",
            suites={
                "quick": {**_RESMLP, "blocks": 3, "samples": 20_000},
                "standard": {**_RESMLP, "blocks": 3, "samples": 1_000_000},
            },
            measure=_write_erase_measure,
            reference=_MEASURED,
        ),
        Task(
            name="exp-detour-goal",
            group="experiments",
            what="volume of goal-then-backchain detours against direct solutions, GoalNet n = 3, w = 8",
            suites={
                "quick": {"n": 3, "w": 8, "encoding": "pm1", "samples": 20_000},
                "standard": {"n": 3, "w": 8, "encoding": "pm1", "samples": 2_000_000},
            },
            measure=_goal_measure,
            reference=_MEASURED,
        ),
    ]


def composition_tasks() -> list[Task]:
    """The composition experiment's row: the ratio on a gate-built target by splitting."""
    return [
        Task(
            name="exp-composition",
            group="experiments",
            what="parallel/serial volume ratio on a gate-built target (XOR-and-XOR, ResMLP n = 4, d = 8, L = 3, w = 2) "
            "by splitting, beside the placement null",
            suites={
                "standard": {
                    "n": 4,
                    "d": 8,
                    "blocks": 3,
                    "w": 2,
                    "branch_scale": "1",
                    "target": "xor-and-xor",
                    "kstar_parallel": 1,
                    "kstar_serial": 2,
                    "replicas": 32,
                    "particles": 500,
                },
            },  # fmt: skip
            measure=_composition_measure,
            reference=_MEASURED,
        ),
    ]


def flip_tasks() -> list[Task]:
    """The flip experiment's row: the SGD pressure lambda* of the top two policies."""
    return [
        Task(
            name="exp-flip",
            group="experiments",
            what="the SGD pressure lambda* that makes the 2nd most probable policy as likely as the 1st (OR, n = 5)",
            suites={
                "quick": {**_FLIP, "lambdas": [0.0, 0.3, 1.0, 3.0], "samples": 100_000, "runs": 32},
                "standard": {
                    **_FLIP,
                    "lambdas": [0.0, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0],
                    "samples": 1_000_000,
                    "runs": 512,
                },  # fmt: skip
            },
            measure=_flip_measure,
            reference=_MEASURED,
        ),
    ]


# Every registered experiment's rows (its record's ``bench_tasks``), in the registry's order.
TASKS = [
    register(task)
    for experiment in experiments.registered()
    if experiment.bench_tasks is not None
    for task in experiment.bench_tasks()
]
