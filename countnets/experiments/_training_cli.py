"""Options, record building and table helpers shared by the training experiments.

Used by ``train-vs-prior``, ``flip`` and ``diverse`` (this module defines no command).
"""

from __future__ import annotations

import argparse
import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import jax

from countnets import boolean, sharding, statistics
from countnets._errors import CountnetsError, check_positive_int
from countnets.estimators import DEFAULT_MAX_EXACT
from countnets.results import CountResult, Estimate, make_estimate, runtime_info
from countnets.training import LOSSES, OPTIMIZERS, ConditionalPrior, TrainConfig, TrainingSet, training_set

__all__ = [
    "DEFAULT_EXPERIMENT_CHUNK",
    "add_training_options",
    "check_run_options",
    "arch_from_args",
    "training_set_from_args",
    "train_config_from_args",
    "inputs_from_args",
    "run_kwargs",
    "experiment_config",
    "set_extra",
    "prior_extra",
    "prior_fit_estimate",
    "interval",
    "hist_hex",
    "make_result",
    "arch_name",
    "fmt_p",
    "fmt_ci",
    "text_table",
    "finish",
    "float_or_none",
]

DEFAULT_EXPERIMENT_CHUNK = 1024


def _point_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in text.split(",") if p.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated cube point indices, got {text!r}") from None


def add_training_options(
    parser: argparse.ArgumentParser, *, default_samples: int, default_runs: int, runs_help: str
) -> None:
    """Network, prior, run, training-set and optimiser options."""
    from countnets import cli

    cli.add_network_options(parser, arch_choices=("mlp", "resmlp", "goalnet"))
    if not any("--goal-width" in a.option_strings for a in parser._actions):
        parser.add_argument("--goal-width", type=cli._nonneg_int, default=8, help="GoalNet hidden width w")
    cli.add_run_options(parser, default_samples=default_samples)
    parser.set_defaults(chunk_size=DEFAULT_EXPERIMENT_CHUNK)
    t = parser.add_argument_group("training")
    t.add_argument(
        "--target", required=True, help="target f*: hex truth table (0x...) or a name (and, or, majority, x0, ...)"
    )
    s = t.add_mutually_exclusive_group(required=True)
    s.add_argument("--train-points", type=_point_list, default=None, help="training points S, e.g. 0,1,5,9")
    s.add_argument(
        "--train-size", type=cli._nonneg_int, default=None, help="a seeded random subset of m points (seed --seed)"
    )
    t.add_argument("--optimizer", choices=OPTIMIZERS, default="adam", help="optax optimiser (default %(default)s)")
    t.add_argument(
        "--lr", type=cli._float, default=None, help="learning rate (default: sgd 0.5, momentum 0.1, adam 0.02)"
    )
    t.add_argument("--momentum", type=cli._float, default=0.9, help="momentum coefficient of --optimizer momentum")
    t.add_argument("--loss", choices=LOSSES, default="logistic", help="loss on the output pre-activation")
    t.add_argument("--margin", type=cli._float, default=1.0, help="hinge margin")
    t.add_argument("--max-steps", type=cli._nonneg_int, default=2000, help="step budget per network")
    t.add_argument("--runs", type=cli._nonneg_int, default=default_runs, help=runs_help)
    t.add_argument("--exact", action="store_true", help="exact conditional prior by lattice enumeration")
    t.add_argument(
        "--max-exact", type=cli._nonneg_int, default=DEFAULT_MAX_EXACT, help="limit on enumerated configurations"
    )
    t.add_argument("--plot", default=None, help="write a PNG figure to this path")


def check_run_options(args: argparse.Namespace, *, runs_name: str) -> None:
    """Reject bad ``--b-rank``, ``--runs``, ``--chains`` and ``--confidence`` before any computation.

    The experiment functions check these values too, but only after the conditional prior
    has been computed; each command calls this first, so bad input exits at once, with the
    same message (``runs_name`` is the name the training function gives ``--runs``). Only
    the number of functions fitting S is missing from a ``--b-rank`` below 1; a rank above
    that number is known only from the prior and is still reported there.
    """
    b_rank = getattr(args, "b_rank", None)
    for k in (b_rank,) if isinstance(b_rank, int) else (b_rank or ()):
        if k < 1:
            raise CountnetsError(f"--b-rank {k} is out of range: ranks start at 1")
    check_positive_int(runs_name, args.runs)
    if getattr(args, "chains", None) is not None:
        check_positive_int("chains", args.chains)
    statistics._check(0, 1, args.confidence)  # the confidence check of every interval, alone


def arch_from_args(args: argparse.Namespace) -> Any:
    """MLP, ResMLP or GoalNet from the network options."""
    from countnets import cli
    from countnets.architectures import GoalNet

    if args.arch == "goalnet":
        return GoalNet(args.n, args.goal_width)
    return cli.arch_from_args(args)


def training_set_from_args(args: argparse.Namespace) -> TrainingSet:
    """The training set of ``--target`` with ``--train-points`` or ``--train-size`` (seed ``--seed``)."""
    if args.max_seconds is not None:
        raise CountnetsError("--max-seconds is not supported by the training experiments; set --samples and --runs")
    if args.train_points is not None:
        return training_set(args.n, args.target, points=args.train_points)
    return training_set(args.n, args.target, size=args.train_size, seed=args.seed)


def train_config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The :class:`TrainConfig` of the optimiser options."""
    return TrainConfig(
        optimizer=args.optimizer,
        learning_rate=args.lr,
        loss=args.loss,
        margin=args.margin,
        max_steps=args.max_steps,
        momentum=args.momentum,
        precision=args.precision,
    )


def inputs_from_args(args: argparse.Namespace) -> tuple[Any, Any, TrainingSet, TrainConfig]:
    """``(prior, arch, tset, train_config)`` from the parsed options."""
    from countnets import cli

    return cli.prior_from_args(args), arch_from_args(args), training_set_from_args(args), train_config_from_args(args)


def run_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments every training experiment takes, from the run and prior options."""
    return dict(
        n_samples=None if args.exact else args.samples, seed=args.seed, exact=args.exact, encoding=args.encoding,
        chunk_size=args.chunk_size, chunks_per_step=args.chunks_per_step or None, confidence=args.confidence,
        method=args.interval, max_configurations=args.max_exact, precision=args.precision, progress=not args.quiet,
        devices=getattr(args, "devices", None),
    )  # fmt: skip


def experiment_config(
    prior: Any,
    arch: Any,
    tset: TrainingSet,
    train_config: TrainConfig,
    *,
    encoding: str,
    precision: str,
    method: str,
    confidence: float,
    n_samples: int | None,
    n_runs: int,
) -> dict[str, Any]:
    """The leading fields of a training experiment's stored config, ``arch`` to ``runs``."""
    return {
        "arch": arch.config(),
        "prior": prior.config(),
        "encoding": encoding,
        "precision": precision,
        "interval": method,
        "confidence": confidence,
        "training_set": tset.config(),
        "training": train_config.config(),
        "samples": n_samples,
        "runs": n_runs,
    }


def set_extra(tset: TrainingSet) -> dict[str, Any]:
    """``target`` (hex) and ``train_points`` of a record's ``extra``."""
    return {"target": boolean.to_hex(tset.target), "train_points": list(tset.points)}


def prior_extra(cp: ConditionalPrior, confidence: float, method: str) -> dict[str, Any]:
    """``prior`` (hex -> count fitting S), ``prior_samples``, ``prior_fit`` and ``prior_fit_ci`` of ``extra``."""
    return {
        "prior": hist_hex(cp.histogram),
        "prior_samples": cp.samples,
        "prior_fit": cp.fit,
        "prior_fit_ci": interval(cp.fit, cp.samples, confidence, "exact" if cp.exact else method),
    }


def interval(hits: int, n: int, confidence: float, method: str) -> list[float]:
    """``[lo, hi]`` for ``hits / n`` by ``method`` (``"exact"``: degenerate); ``[nan, nan]`` when n = 0."""
    if n == 0:
        return [math.nan, math.nan]
    if method == "exact":
        return [hits / n, hits / n]
    lo, hi = statistics.binomial_interval(hits, n, confidence, method)
    return [lo, hi]


def hist_hex(hist: Counter | dict) -> dict[str, int]:
    """Histogram keyed by hex, by decreasing count (ties: smaller table first)."""
    return {boolean.to_hex(k): int(v) for k, v in sorted(hist.items(), key=lambda kv: (-kv[1], kv[0]))}


def prior_fit_estimate(cp: ConditionalPrior, confidence: float, method: str) -> Estimate:
    """The estimate of ``P(fits S)`` under the prior."""
    return make_estimate("fits S", cp.fit, cp.samples, confidence=confidence, method="exact" if cp.exact else method)


def make_result(
    kind: str,
    config: dict,
    seed: int,
    chunk_size: int,
    cp: ConditionalPrior | None,
    estimates: Sequence[Estimate],
    seconds: float,
    extra: dict,
    *,
    devices: int | None = None,
) -> CountResult:
    """A :class:`CountResult` for a training experiment (``samples``: prior samples; ``devices`` as run)."""
    device = str(jax.devices()[0].device_kind)
    count = sharding.resolve_devices(devices)[0] * jax.process_count()
    samples = cp.samples if cp is not None else 0
    return CountResult(
        kind=kind,
        config=config,
        seed=seed,
        chunk_size=chunk_size,
        samples=samples,
        exact=bool(cp.exact) if cp is not None else False,
        histogram=None,
        estimates=tuple(estimates),
        nonfinite=cp.nonfinite if cp is not None else 0,
        near_threshold=0,
        stopped_by="exhausted" if cp is not None and cp.exact else "samples",
        seconds=seconds,
        samples_per_s=samples / seconds if seconds > 0 else 0.0,
        device=device,
        device_count=count,
        versions=runtime_info(),
        extra=_json_clean(extra),
    )


def float_or_none(x: float) -> float | str | None:
    """A JSON-safe float: ``"inf"``/``"-inf"`` for infinities, ``None`` for NaN."""
    x = float(x)
    if math.isnan(x):
        return None
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def _json_clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_clean(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float_or_none(value)
    if hasattr(value, "item"):  # numpy scalars
        return _json_clean(value.item())
    raise CountnetsError(f"cannot store {type(value).__name__} in a result record")


def arch_name(config: dict) -> str:
    """Short architecture name (e.g. ``mlp-5-16-1``) from a stored config."""
    from countnets.architectures import arch_from_config

    return arch_from_config(config["arch"]).name


def fmt_p(x: float | None) -> str:
    """Compact probability."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if isinstance(x, str):
        return x
    return "0" if x == 0 else (f"{x:.3g}" if x >= 1e-3 else f"{x:.2e}")


def fmt_ci(ci: Sequence[Any]) -> str:
    """``[lo, hi]`` compactly."""
    return f"[{fmt_p(ci[0])}, {fmt_p(ci[1])}]"


def text_table(rows: list[list[str]]) -> list[str]:
    """Left-aligned first column, right-aligned others, a rule under the header."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def finish(args: argparse.Namespace, result: CountResult, table: str, plot: Any = None) -> int:
    """Write JSON and the figure as asked; print the table unless ``--quiet``."""
    from countnets import results

    if args.json:
        results.save_json(result, args.json)
    if args.plot:
        if plot is None:
            raise CountnetsError("this experiment has no plot")
        path = plot(result, args.plot)
        if not args.quiet:
            print(f"wrote {path}")
    if not args.quiet:
        print(table)
    return 0
