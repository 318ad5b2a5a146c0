"""The ``countnets`` command line: parse options into library objects, call one function, write JSON.

Exit codes:

* 0: success (also a run stopped by ``--max-seconds`` or ``--rel-width``).
* 2: bad input (options, values, files, environment variables): one line on stderr,
  ``countnets: error: ...``, never a traceback.
* 3: interrupted by SIGINT or SIGTERM: the current step was finished, the checkpoint
  (with ``--checkpoint``) saved, the partial result printed (and written with
  ``--json``, ``stopped_by: "interrupted"``). Rerun the same command to resume.
* 130: a second SIGINT/SIGTERM while stopping: stopped at once; the checkpoint holds
  the last completed save.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from countnets import checkpoint as checkpoint_lib
from countnets import estimators, results, sharding
from countnets._errors import CountnetsError, check_finite_float
from countnets.cli import circuits, training
from countnets.cli.bench import add_bench_parser, run_bench
from countnets.cli.options import (
    add_network_options,
    add_prior_options,
    add_run_options,
    arch_from_args,
    check_output_path,
    finite_float,
    nonneg_int,
    prior_from_args,
)

__all__ = [
    "main",
    "build_parser",
    "prior_from_args",
    "arch_from_args",
    "add_network_options",
    "add_prior_options",
    "add_run_options",
]


class Experiment(NamedTuple):
    """One ``countnets experiment`` subcommand: how to add its parser and run it, and whether it resumes."""

    add_parser: Callable[[Any], argparse.ArgumentParser]
    run: Callable[[argparse.Namespace], int]
    checkpoints: bool


# In the order ``countnets experiment --help`` lists them.
EXPERIMENTS = (
    Experiment(circuits.add_detour_parser, circuits.run_detour, checkpoints=True),
    Experiment(training.add_diverse_parser, training.run_diverse, checkpoints=False),
    Experiment(training.add_flip_parser, training.run_flip, checkpoints=False),
    Experiment(circuits.add_serial_parallel_parser, circuits.run_serial_parallel, checkpoints=True),
    Experiment(training.add_train_vs_prior_parser, training.run_train_vs_prior, checkpoints=False),
)

EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 3
EXIT_FORCED = 130


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump) and exit code 2.

    Values that start with a minus sign and a digit (``--values -1,0,1``) are read
    as values, not options.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = re.compile(r"^-[0-9.][0-9.,eE+-]*$")

    def error(self, message: str):  # type: ignore[override]
        raise CountnetsError(message)

    def _get_values(self, action, arg_strings):
        # argparse drops a lone "--" value (``--n=--``) and would return [] unconverted.
        if action.option_strings and action.nargs is None and arg_strings == ["--"]:
            self.error(f"argument {'/'.join(action.option_strings)}: expected one argument, got '--'")
        return super()._get_values(action, arg_strings)


def build_parser() -> argparse.ArgumentParser:
    """The full ``countnets`` argument parser."""
    parser = _Parser(prog="countnets", description="Measure prior volumes of functions of small neural networks.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    hist = sub.add_parser("histogram", help="histogram of functions implemented by prior samples")
    add_network_options(hist)
    add_run_options(hist, default_samples=1_000_000)
    hist.add_argument("--exact", action="store_true", help="enumerate every lattice configuration instead of sampling")
    hist.add_argument(
        "--max-exact", type=nonneg_int, default=estimators.DEFAULT_MAX_EXACT, help="limit on enumerated configurations"
    )
    hist.add_argument("--top", type=nonneg_int, default=10, help="report the K most frequent functions")
    hist.add_argument("--max-distinct", type=nonneg_int, default=estimators.DEFAULT_MAX_DISTINCT, metavar="K",
                      help="keep at most about K distinct functions on the host, the rest counted as 'other' "
                      "(0: no bound; default %(default)s)")  # fmt: skip

    est = sub.add_parser("estimate", help="prior mass of given target functions")
    add_network_options(est)
    add_run_options(est, default_samples=1_000_000)
    est.add_argument(
        "--target",
        required=True,
        help="target functions: hex (0x8) or names (and, or, parity, x0, ...), comma-separated",
    )
    est.add_argument("--exact", action="store_true", help="enumerate every lattice configuration instead of sampling")
    est.add_argument(
        "--max-exact", type=nonneg_int, default=estimators.DEFAULT_MAX_EXACT, help="limit on enumerated configurations"
    )
    est.add_argument(
        "--rel-width",
        type=finite_float,
        default=None,
        help="stop when every target's interval half-width / p is below this",
    )

    add_bench_parser(sub).set_defaults(_run=run_bench)

    plot = sub.add_parser("plot", help="draw PNG figures from a saved serial-parallel or detour result")
    plot.add_argument("result", help="a result JSON written with --json")
    plot.add_argument("--out", default=None, help="figure path (default: the JSON path with .png)")
    plot.set_defaults(_run=_run_plot)

    exp = sub.add_parser("experiment", help="run a circuit or training experiment")
    exp_sub = exp.add_subparsers(dest="experiment", required=True, parser_class=_Parser)
    for command in EXPERIMENTS:
        command.add_parser(exp_sub).set_defaults(_run=command.run, _checkpoints=command.checkpoints)
    return parser


def _run_counting(args: argparse.Namespace) -> results.CountResult:
    prior = prior_from_args(args)
    arch = arch_from_args(args)
    progress = not args.quiet
    targets = [t for t in args.target.split(",")] if args.command == "estimate" else []
    if args.command == "estimate" and not all(t.strip() for t in targets):
        raise CountnetsError(f"--target must be a comma-separated list of functions, got {args.target!r}")
    common = dict(
        encoding=args.encoding,
        chunk_size=args.chunk_size,
        chunks_per_step=args.chunks_per_step or None,
        precision=args.precision,
        progress=progress,
        devices=args.devices,
        checkpoint=args.checkpoint,
        checkpoint_every=args.checkpoint_every,
    )
    if args.command == "histogram":
        common["max_distinct"] = args.max_distinct or None
    if args.exact:
        if args.command == "estimate" and args.rel_width is not None:
            raise CountnetsError("--rel-width applies to sampling, not to --exact")
        if args.max_seconds is not None:
            raise CountnetsError(
                "--max-seconds applies to sampling, not to --exact: an enumeration stopped early is not exact"
            )
        top = args.top if args.command == "histogram" else 0
        return estimators.enumerate_exact(
            prior, arch, top=top, targets=targets, max_configurations=args.max_exact, **common
        )
    sampling = dict(
        n_samples=args.samples,
        seed=args.seed,
        confidence=args.confidence,
        method=args.interval,
        max_seconds=args.max_seconds,
        **common,
    )
    if args.command == "histogram":
        return estimators.histogram_mc(prior, arch, top=args.top, **sampling)
    return estimators.estimate_mc(prior, arch, targets, rel_halfwidth=args.rel_width, **sampling)


def _run_plot(args: argparse.Namespace) -> int:
    from countnets import plotting

    out = args.out or str(args.result).removesuffix(".json") + ".png"
    for path in plotting.plot_result(results.load_json(args.result), out):
        print(f"wrote {path}")
    return 0


def _prepare(args: argparse.Namespace) -> sharding.DistributedConfig | None:
    """Validate the run, output and multi-process options (before JAX starts); the distributed config."""
    if not hasattr(args, "devices"):  # a command without run options (plot)
        return None
    dist = sharding.distributed_config(args.coordinator, args.num_processes, args.process_id)
    check_finite_float("--checkpoint-every", args.checkpoint_every, non_negative=True)
    for option in ("json", "checkpoint"):
        value = getattr(args, option, None)
        if value is not None:
            check_output_path(value, f"--{option}")
    if args.checkpoint is not None:
        if args.json is not None and Path(args.json).resolve() == Path(args.checkpoint).resolve():
            raise CountnetsError("--checkpoint and --json must be different files")
    if args.devices is not None and args.chunks_per_step:
        total = args.devices * (dist.num_processes if dist else 1)
        if args.chunks_per_step % total:
            n_proc = dist.num_processes if dist else 1
            raise CountnetsError(
                f"--chunks-per-step must be a multiple of the device count {total} "
                f"(--devices {args.devices} x {n_proc} process(es)), got {args.chunks_per_step}"
            )
    return dist


def _signal_guard():
    """SIGINT/SIGTERM finish the step and stop (only the main thread can catch signals)."""
    if threading.current_thread() is threading.main_thread():
        return checkpoint_lib.catch_signals()
    return contextlib.nullcontext()


def _interrupted_message(signal_name: str | None, result: results.CountResult | None, args: argparse.Namespace) -> str:
    what = f"interrupted by {signal_name}" if signal_name else "interrupted by a signal to another process"
    if result is not None:
        if result.exact:
            what += f" after {result.samples:,} configurations"
        else:
            what += f" after {result.samples:,} of {args.samples:,} samples"
    if getattr(args, "checkpoint", None):
        return f"countnets: {what}; checkpoint saved to {args.checkpoint}; rerun the same command to resume"
    return f"countnets: {what}; no checkpoint was kept (use --checkpoint PATH to make a run resumable)"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``countnets``; returns the process exit code (see the module docstring)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        dist = _prepare(args)
        if dist is not None:
            sharding.initialize_distributed(dist)
        lead = dist is None or dist.process_id == 0
        if not lead:  # one combined result, written and printed by process 0 only
            for name, value in (("json", None), ("quiet", True), ("plot", None)):
                if hasattr(args, name):
                    setattr(args, name, value)
        if getattr(args, "checkpoint", None) is not None and not getattr(args, "_checkpoints", True):
            raise CountnetsError(
                f"--checkpoint {args.checkpoint} was given, but this command's counting loop cannot save checkpoints; "
                "run it without --checkpoint"
            )
        with _signal_guard():
            if hasattr(args, "_run"):
                code = int(args._run(args))
                signal_name = checkpoint_lib.interrupt_signal()
                if signal_name is not None and code == EXIT_OK:
                    print(_interrupted_message(signal_name, None, args), file=sys.stderr)
                    return EXIT_INTERRUPTED
                return code
            result = _run_counting(args)
            signal_name = checkpoint_lib.interrupt_signal()
        if lead and args.json:
            results.save_json(result, args.json)
    except CountnetsError as err:
        print(f"countnets: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as err:
        print(f"countnets: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("countnets: stopped at once by an interrupt; a checkpoint keeps its last save", file=sys.stderr)
        return EXIT_FORCED
    if lead and not args.quiet:
        print(results.format_table(result))
        if result.extra.get("other"):
            print(
                f"histogram bounded by --max-distinct {result.extra['max_distinct']}: "
                f"{result.extra['other']:,} samples not attributed to a kept function; "
                "kept counts are lower bounds, each at most "
                f"{result.extra['max_undercount']:,} below the truth (intervals widened to cover it)"
            )
    if result.stopped_by == "interrupted":
        if lead:
            print(_interrupted_message(signal_name, result, args), file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
