"""The ``countnets`` command line: parse options into library objects, call one function, write JSON.

Exit codes (also in every ``--help``, :data:`EXIT_CODES_HELP`):

* 0: success (also a run stopped by ``--max-seconds`` or ``--rel-width``).
* 1: ``countnets bench``: a task's verdict is "fail" or "error"; elsewhere an internal
  error, a bug in countnets (Python's traceback; please report it).
* 2: bad input (options, values, files, environment variables, a checkpoint of
  another run, an edited checkpoint, an output another run holds): one line on
  stderr, ``countnets: error: ...``, never a traceback; also a result that could not
  be written where asked (it is then kept elsewhere, and the message says where).
* 3: stopped by SIGINT or SIGTERM: the current step was finished, the checkpoint
  (with ``--checkpoint``) saved, the partial result printed (and written with
  ``--json``, ``stopped_by: "interrupted"``). Rerun the same command to resume.
  A signal before any work stops at once with this code too (nothing computed).
* 130: a second SIGINT/SIGTERM while stopping: stopped at once; the checkpoint holds
  the last completed save.

The signal handler is installed by the console script (:mod:`countnets._entry`) before
this module or JAX is imported, and again (nested) when :func:`main` starts.

Output files: a finished result in ``--json`` is never replaced by a partial
(interrupted) one, which goes beside it as ``NAME.partial.json``; replacing a finished
result with a new finished one is allowed and said on stderr. A checkpoint save that
fails (a full disk) warns once and the run goes on; its result is still written.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import re
import sys
import threading
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from countnets import _registry as experiments
from countnets import defaults
from countnets._errors import CountnetsError, check_finite_float
from countnets._version import __version__
from countnets.cli import output, rare
from countnets.cli.bench import add_bench_parser, run_bench
from countnets.cli.options import (
    add_network_options,
    add_prior_options,
    add_run_options,
    arch_from_args,
    check_applicable,
    check_output_path,
    nonneg_int,
    positive_float,
    positive_int,
    prior_from_args,
    progress_from_args,
)
from countnets.engine import checkpoint as checkpoint_lib

if TYPE_CHECKING:
    from countnets import results
    from countnets.engine import sharding

__all__ = [
    "main",
    "build_parser",
    "prior_from_args",
    "arch_from_args",
    "add_network_options",
    "add_prior_options",
    "add_run_options",
]


EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 3
EXIT_FORCED = 130

EXIT_CODES_HELP = """exit codes:
  0    done (also when stopped early by --max-seconds or --rel-width)
  1    countnets bench: a task failed or raised (its row says why); elsewhere an internal
       error, a bug in countnets (the traceback says where; please report it)
  2    bad input: options, values, files, a checkpoint of another run or edited, an output
       another run holds; or a result that could not be written where asked (the message
       says where it was kept instead). One line on stderr.
  3    stopped by SIGINT/SIGTERM (Ctrl-C): the step was finished, the partial result printed
       and kept (--json, --checkpoint); rerun the same command to resume
  130  a second SIGINT/SIGTERM: stopped at once; the checkpoint keeps its last save"""


def _show_default(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return ",".join(_show_default(v) for v in value) if value else "none"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Help that keeps the exit-code table's layout and shows every option's default.

    An option whose help does not already say its default (or that it is required)
    gets `` (default: VALUE)``; flags and required options get none.
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            action.help is argparse.SUPPRESS
            or not action.option_strings
            or action.nargs == 0
            or action.required
            or action.default is None
            or action.default is argparse.SUPPRESS
            or "default" in text.lower()
        ):
            return text
        return f"{text} (default: {_show_default(action.default).replace('%', '%%')})"


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump) and exit code 2.

    Values that start with a minus sign and a digit (``--values -1,0,1``) are read
    as values, not options.
    """

    def __init__(self, *args, given: dict[str, str] | None = None, **kwargs):
        kwargs.setdefault("formatter_class", _HelpFormatter)
        kwargs.setdefault("epilog", EXIT_CODES_HELP)
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = re.compile(r"^-[0-9.][0-9.,eE+-]*$")
        # dest -> option string, for each option given on the command line (shared with subparsers)
        self._owns_given = given is None
        self._given: dict[str, str] = {} if given is None else given

    def add_subparsers(self, **kwargs):
        kwargs.setdefault("parser_class", functools.partial(_Parser, given=self._given))
        return super().add_subparsers(**kwargs)

    def error(self, message: str):  # type: ignore[override]
        raise CountnetsError(message)

    def _get_values(self, action, arg_strings):
        # argparse drops a lone "--" value (``--n=--``) and would return [] unconverted.
        if action.option_strings and action.nargs is None and arg_strings == ["--"]:
            self.error(f"argument {'/'.join(action.option_strings)}: expected one argument, got '--'")
        if action.option_strings:
            self._given[action.dest] = action.option_strings[0]
        return super()._get_values(action, arg_strings)

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        if self._owns_given:  # the top-level parse; subparsers add to its record
            self._given.clear()
        parsed, extra = super().parse_known_args(args, namespace)
        if self._owns_given:
            parsed._given = dict(self._given)
        return parsed, extra


def build_parser() -> argparse.ArgumentParser:
    """The full ``countnets`` argument parser."""
    parser = _Parser(prog="countnets", description="Measure prior volumes of functions of small neural networks.")
    parser.add_argument("-V", "--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    hist = sub.add_parser("histogram", help="histogram of functions implemented by prior samples")
    add_network_options(hist)
    add_run_options(hist, default_samples=1_000_000, samples_help="prior samples to draw")
    hist.add_argument("--exact", action="store_true", help="enumerate every lattice configuration instead of sampling")
    hist.add_argument(
        "--max-exact", type=positive_int, default=defaults.DEFAULT_MAX_EXACT,
        help="limit on enumerated configurations",
    )  # fmt: skip
    hist.add_argument("--top", type=nonneg_int, default=10, help="report the K most frequent functions")
    hist.add_argument("--max-distinct", type=nonneg_int, default=defaults.DEFAULT_MAX_DISTINCT, metavar="K",
                      help="keep at most about K distinct functions on the host, the rest counted as 'other' "
                      "(0: no bound; default %(default)s)")  # fmt: skip

    est = sub.add_parser("estimate", help="prior mass of given target functions")
    add_network_options(est)
    add_run_options(est, default_samples=1_000_000,
                    samples_help="prior samples to draw, at most (--rel-width or --max-seconds may stop "
                    "earlier)")  # fmt: skip
    # --targets, as in the experiments; --target (the README's spelling) stays as a hidden alias.
    est.add_argument("--targets", dest="target", default=None, metavar="TARGETS",
                     help="target functions: hex (0x8) or names (and, or, parity, x0, ...), comma-separated "
                     "(required)")  # fmt: skip
    est.add_argument("--target", dest="target", default=None, help=argparse.SUPPRESS)
    est.add_argument("--exact", action="store_true", help="enumerate every lattice configuration instead of sampling")
    est.add_argument(
        "--max-exact", type=positive_int, default=defaults.DEFAULT_MAX_EXACT,
        help="limit on enumerated configurations",
    )  # fmt: skip
    est.add_argument(
        "--rel-width",
        type=positive_float,
        default=None,
        help="stop when every target's interval half-width / p is below this (default: off)",
    )
    rare.add_method_options(est)

    add_bench_parser(sub).set_defaults(_run=run_bench)

    plot = sub.add_parser("plot", help="draw the figures of a saved result (any kind countnets writes)")
    plot.add_argument("result", help="a result JSON written with --json")
    plot.add_argument("--out", default=None,
                      help="figure path; more figures get _NAME suffixes (default: the JSON path, .png)")  # fmt: skip
    plot.set_defaults(_run=_run_plot)

    exp = sub.add_parser("experiment", help="run a circuit or training experiment (any registered experiment)")
    exp_sub = exp.add_subparsers(dest="experiment", required=True)
    for experiment in experiments.registered():  # sorted by name; a user's registered experiments too
        command = exp_sub.add_parser(experiment.name, help=experiment.help, description=experiment.description)
        experiment.add_arguments(command)
        command.set_defaults(_run=functools.partial(_run_experiment, experiment), _checkpoints=experiment.checkpoints)
    return parser


def _run_experiment(experiment: experiments.Experiment, args: argparse.Namespace) -> int:
    """Run a registered experiment; print its table, write ``--json`` and draw ``--plot``. The exit code."""
    from countnets import results
    from countnets.results import plotting

    out = experiment.run(args)
    if isinstance(out, int) and not isinstance(out, bool):  # the command wrote what it makes (a plan file)
        return out
    if not isinstance(out, results.CountResult) or out.kind != experiment.name:
        got = f"a result of kind {out.kind!r}" if isinstance(out, results.CountResult) else type(out).__name__
        raise TypeError(f"experiment {experiment.name!r}: run returned {got}, not a CountResult of its kind")
    return output.finish(args, out, experiment.format(out), plotting.plot_result if experiment.plot else None)


def _run_counting(args: argparse.Namespace) -> results.CountResult:
    from countnets.engine import estimators

    prior = prior_from_args(args)
    arch = arch_from_args(args)
    progress = progress_from_args(args)
    targets = [t for t in args.target.split(",")] if args.command == "estimate" else []
    if args.command == "estimate" and not all(t.strip() for t in targets):
        raise CountnetsError(f"--targets must be a comma-separated list of functions, got {args.target!r}")
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
    if args.exact and getattr(args, "readout", "sample") == "integrate":
        raise CountnetsError("--readout integrate samples hidden draws; it does not apply with --exact")
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
    if args.method == "splitting":
        return rare.run_splitting(args, prior, arch, targets)
    return estimators.estimate_mc(prior, arch, targets, rel_halfwidth=args.rel_width, readout=args.readout, **sampling)


def _run_plot(args: argparse.Namespace) -> int:
    from countnets import _io, results
    from countnets.results import plotting

    out = args.out if args.out is not None else str(args.result).removesuffix(".json") + ".png"
    option = "--out" if args.out is not None else "the figure path"
    plotting.figure_format(out, option)  # .png, .pdf, .svg or none, before anything is read or drawn
    check_output_path(out, option)  # a device, FIFO or directory, or a path under a file: refused as given
    data = _io.read_json(args.result, "result")  # read once: what it is decides the message
    if isinstance(data, dict) and data.get("format") == checkpoint_lib.FORMAT:
        raise CountnetsError(
            f"{args.result!r} is a countnets checkpoint, not a result; "
            "finish or resume the run and plot its --json result"
        )
    if isinstance(data, dict) and "plan_version" in data:
        raise CountnetsError(
            f"{args.result!r} is a flip-decisive plan, not a result; run "
            "'countnets experiment flip-decisive --plan' on it and plot its --json result"
        )
    try:
        result = results.from_json(data)
    except CountnetsError as err:  # as results.load_json words it
        raise CountnetsError(f"result {args.result!r}: {err}") from None
    for path in plotting.output_paths(result.kind, out):
        check_output_path(str(path), option)
    try:
        written = plotting.plot_result(result, out)
    except CountnetsError as err:
        raise CountnetsError(f"result {args.result!r}: {err}") from None
    for path in written:
        print(f"wrote {path}")
    return 0


def _prepare(args: argparse.Namespace) -> sharding.DistributedConfig | None:
    """Validate the run, output and multi-process options (before JAX starts); the distributed config."""
    if not hasattr(args, "devices"):  # a command without run options (plot)
        return None
    from countnets.engine import sharding

    if getattr(args, "command", None) == "estimate" and args.target is None:
        raise CountnetsError("the following arguments are required: --targets")
    check_applicable(args, getattr(args, "_given", {}))
    dist = sharding.distributed_config(args.coordinator, args.num_processes, args.process_id)
    check_finite_float("--checkpoint-every", args.checkpoint_every, non_negative=True)
    output.check_outputs(args)
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


_FORCED_MESSAGE = "countnets: stopped at once by a second interrupt; a checkpoint keeps its last save"


def _counting_table(result: results.CountResult, command: str) -> str:
    from countnets import results

    table = results.format_table(result)
    if table.startswith(f"{result.kind}:") and command != result.kind:  # estimate --exact enumerates a histogram
        table = command + table[len(result.kind) :]
    for attempt in getattr(result.extra, "attempts", None) or []:  # a splitting run rerun with more particles
        table += (f"\nrerun with {result.extra.particles} particles: {attempt.particles} particles were not "
                  f"determined ({attempt.effective_replicas:.1f} effective replicas)")  # fmt: skip
    if getattr(result.extra, "reliable", None) is False:  # a splitting result the reliability rule does not pass
        table += "\nnot determined (the interval is one-sided): " + "; ".join(result.extra.unreliable_reasons)
    if result.extra.get("other"):
        table += (
            f"\nhistogram bounded by --max-distinct {result.extra['max_distinct']}: "
            f"{result.extra['other']:,} samples not attributed to a kept function; "
            "kept counts are lower bounds, each at most "
            f"{result.extra['max_undercount']:,} below the truth (intervals widened to cover it)"
        )
    return table


def _exit_code(code: int, result: results.CountResult | None, args: argparse.Namespace, lead: bool) -> int:
    """The exit code after a run that returned ``code``: 3 if a signal stopped it, 130 after a second signal."""
    if checkpoint_lib.signal_count() >= 2:
        print(_FORCED_MESSAGE, file=sys.stderr)
        return EXIT_FORCED
    signal_name = checkpoint_lib.interrupt_signal()
    interrupted = result.stopped_by == "interrupted" if result is not None else signal_name is not None
    if not interrupted:
        return code
    if lead:
        print(_interrupted_message(signal_name, result, args), file=sys.stderr)
    return EXIT_INTERRUPTED if code == EXIT_OK else code


# A library check names its parameter; on the command line the message names the option.
_OPTION_OF = {
    "n_samples (sample count)": "--samples",
    "n (number of inputs)": "--n",
    "chunk_size": "--chunk-size",
    "chunks_per_step": "--chunks-per-step",
    "seed": "--seed",
    "devices": "--devices",
    "max_seconds": "--max-seconds",
    "rel_halfwidth": "--rel-width",
    "checkpoint_every": "--checkpoint-every",
    "confidence": "--confidence",
    "sigma_w": "--sigma-w",
    "sigma_b": "--sigma-b",
    "bound": "--bound",
    "lattice value": "--values",
    "lattice values": "--values",
    "hidden width": "--hidden",
    "d (stream width)": "--width",
    "w (block width)": "--block-width",
    "w (hidden width)": "--width",
    "L (number of blocks)": "--blocks",
    "branch_scale": "--branch-scale",
    "branch scale": "--branch-scale",
    "top": "--top",
    "max_distinct": "--max-distinct",
    "learning rate": "--lr",
    "hinge margin": "--margin",
    "momentum": "--momentum",
    "max_steps": "--max-steps",
    "reward": "--reward",
    "lambda": "--lambdas",
    "runs (trained networks)": "--runs",
    "runs (sequential runs per chain)": "--runs",
    "chains": "--chains",
    "training set size": "--train-size",
}
_PARAMETER = re.compile("^(" + "|".join(re.escape(k) for k in sorted(_OPTION_OF, key=len, reverse=True)) + ") ")


# Library parameter names a message may use anywhere, and the option the user set instead.
_OPTION_ANYWHERE = {"max_configurations": "--max-exact", "replicas_per_chunk": "--replicas-per-chunk"}
_ANYWHERE = re.compile(r"\b(" + "|".join(_OPTION_ANYWHERE) + r")\b")


def _name_options(message: str) -> str:
    """``message`` with library parameter names replaced by their options (``n_samples`` -> ``--samples``)."""
    message = _PARAMETER.sub(lambda m: _OPTION_OF[m.group(1)] + " ", message, count=1)
    return _ANYWHERE.sub(lambda m: _OPTION_ANYWHERE[m.group(1)], message)


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    # A library warning (a checkpoint save that failed, a deprecated option) is one line on stderr.
    print(f"countnets: warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``countnets``; returns the process exit code (see the module docstring).

    The SIGINT/SIGTERM handler is installed first, before parsing and before any JAX
    work, so an early Ctrl-C is never lost (the console script, :mod:`countnets._entry`,
    installs it before this module is even imported). Warnings print as one line.
    """
    with _signal_guard(), warnings.catch_warnings():
        warnings.showwarning = _one_line_warning
        return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    try:
        try:
            args = parser.parse_args(argv)
        except SystemExit as stop:  # --help, --version
            return int(stop.code or 0)
        dist = _prepare(args)
        signal_name = checkpoint_lib.interrupt_signal()
        if signal_name is not None:
            print(f"countnets: interrupted by {signal_name} before any work; nothing was computed", file=sys.stderr)
            return EXIT_INTERRUPTED
        if dist is not None:
            from countnets.engine import sharding

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
        with output.output_locks(args) if lead else contextlib.nullcontext():
            if hasattr(args, "_run"):
                return _exit_code(int(args._run(args)), None, args, lead)
            result = _run_counting(args)
            return _exit_code(output.finish(args, result, _counting_table(result, args.command)), result, args, lead)
    except CountnetsError as err:
        print(f"countnets: error: {_name_options(str(err))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as err:
        print(f"countnets: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(_FORCED_MESSAGE, file=sys.stderr)
        return EXIT_FORCED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
