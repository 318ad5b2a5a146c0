"""Option types and shared option groups of the ``countnets`` command line, and the objects they build.

Every command's parser is built from these groups, so an option means the same thing
and is checked the same way wherever it appears.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from typing import Any

from countnets import defaults
from countnets._errors import CountnetsError
from countnets.cli.output import check_output_path
from countnets.defaults import MAX_INPUTS, resolve_branch_scale

__all__ = [
    "int_list",
    "float_list",
    "nonneg_float_list",
    "nonneg_int",
    "positive_int",
    "inputs_count",
    "seed_int",
    "finite_float",
    "positive_float",
    "nonneg_float",
    "probability",
    "branch_scale",
    "add_network_options",
    "add_prior_options",
    "add_run_options",
    "prior_from_args",
    "arch_from_args",
    "check_applicable",
    "check_output_path",
]


def _int(text: str) -> int:
    """``text`` as an int (``1_000``, ``1e6`` accepted when integral)."""
    try:
        return int(text.replace("_", ""))
    except ValueError:
        try:
            as_float = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an int, got {text!r}") from None
        if not as_float.is_integer():
            raise argparse.ArgumentTypeError(f"expected an int, got {text!r}") from None
        return int(as_float)


def _int_type(low: int, high: int | None, name: str, doc: str):
    """An option type: an int in ``low..high``, with one message for every value out of range."""

    def convert(text: str) -> int:
        value = _int(text)
        if value < low or (high is not None and value > high):
            if high is not None:
                raise argparse.ArgumentTypeError(f"must be in {low}..{high}, got {value}")
            kind = "a positive int" if low == 1 else "a non-negative int" if low == 0 else f"an int >= {low}"
            raise argparse.ArgumentTypeError(f"must be {kind}, got {value}")
        return value

    convert.__name__ = convert.__qualname__ = name
    convert.__doc__ = doc
    return convert


nonneg_int = _int_type(0, None, "nonneg_int", "An int >= 0 (``1_000``, ``1e6`` accepted when integral).")
positive_int = _int_type(1, None, "positive_int", "An int >= 1 (``1_000``, ``1e6`` accepted when integral).")
inputs_count = _int_type(1, MAX_INPUTS, "inputs_count", f"A number of Boolean inputs, 1..{MAX_INPUTS}.")
seed_int = _int_type(0, 2**32 - 1, "seed_int", "A seed, 0..2**32 - 1.")


def int_list(text: str) -> tuple[int, ...]:
    """Comma-separated positive ints; ``""``, ``none`` or ``-`` for none."""
    text = text.strip()
    if text in ("", "none", "-"):
        return ()
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated positive ints, got {text!r}") from None
    if any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected comma-separated positive ints, got {text!r}")
    return values


def float_list(text: str) -> tuple[float, ...]:
    """Comma-separated finite numbers."""
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"expected comma-separated finite numbers, got {text!r}")
    return values


def nonneg_float_list(text: str) -> tuple[float, ...]:
    """Comma-separated finite numbers >= 0."""
    values = float_list(text)
    if any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers >= 0, got {text!r}")
    return values


def finite_float(text: str) -> float:
    """A finite number."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0."""
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value:g}")
    return value


def nonneg_float(text: str) -> float:
    """A finite number >= 0."""
    value = finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value:g}")
    return value


def probability(text: str) -> float:
    """A number strictly between 0 and 1."""
    value = finite_float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1), got {value:g}")
    return value


def branch_scale(text: str) -> float | str:
    """A branch scale alpha: a finite number, or ``invsqrt`` (``1/sqrt(L)``, resolved with ``--blocks``)."""
    if text.strip().lower() == "invsqrt":
        return "invsqrt"
    try:
        return finite_float(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected a number or 'invsqrt', got {text!r}") from None


def add_network_options(parser: argparse.ArgumentParser, *, arch_choices: Sequence[str] = ("mlp", "resmlp")) -> None:
    """Architecture, prior and encoding options shared by every counting command."""
    g = parser.add_argument_group("network")
    g.add_argument("--arch", choices=arch_choices, default=arch_choices[0], help="architecture")
    g.add_argument("--n", type=inputs_count, required=True, help=f"number of Boolean inputs, 1..{MAX_INPUTS}")
    g.add_argument(
        "--hidden", type=int_list, default=(8,), help="MLP hidden widths, e.g. 40,40; 'none' for a perceptron"
    )
    g.add_argument("--activation", choices=defaults.ACTIVATIONS, default="relu", help="MLP activation")
    width_help = "ResMLP stream width d" + (", GoalNet hidden width w" if "goalnet" in arch_choices else "")
    g.add_argument("--width", type=positive_int, default=8, help=width_help)
    g.add_argument("--blocks", type=nonneg_int, default=2, help="ResMLP number of blocks L")
    g.add_argument("--block-width", type=positive_int, default=8, help="ResMLP block hidden width w")
    g.add_argument("--branch-scale", type=branch_scale, default=1.0,
                   help="ResMLP branch multiplier alpha: a number, or invsqrt for 1/sqrt(L)")  # fmt: skip
    g.add_argument("--encoding", choices=defaults.ENCODINGS, default="01", help="input encoding")
    add_prior_options(parser)


def add_prior_options(parser: argparse.ArgumentParser) -> None:
    """Prior options (--prior, --sigma-w, --sigma-b, --bound, --values), read by :func:`prior_from_args`."""
    p = parser.add_argument_group("prior")
    p.add_argument("--prior", choices=("gaussian", "uniform", "lattice"), default="gaussian", help="parameter prior")
    p.add_argument("--sigma-w", type=positive_float, default=1.0,
                   help="Gaussian weight scale (std sigma_w/sqrt(fan_in))")  # fmt: skip
    p.add_argument("--sigma-b", type=nonneg_float, default=1.0, help="Gaussian bias std; 0 for no bias")
    p.add_argument("--bound", type=positive_float, default=None,
                   help="Uniform prior half-width A (default: none; --prior uniform needs it)")  # fmt: skip
    p.add_argument("--values", type=float_list, default=None,
                   help="Lattice values, e.g. -1,0,1 (default: none; --prior lattice needs them)")  # fmt: skip


class _Deprecated(argparse.Action):
    """An old spelling of an option: stores into the new option's ``dest`` and says so once on stderr."""

    def __init__(self, option_strings, dest, new: str = "", **kwargs):
        self.new = new
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"countnets: warning: {option_string} is deprecated and will be removed in the next release; "
              f"use {self.new}", file=sys.stderr)  # fmt: skip
        setattr(namespace, self.dest, values)


def add_deprecated_alias(group: Any, old: str, new: str, dest: str, **kwargs: Any) -> None:
    """Accept ``old`` (hidden from ``--help``) as a deprecated spelling of ``new``, with one warning line."""
    group.add_argument(old, dest=dest, action=_Deprecated, new=new, default=argparse.SUPPRESS, help=argparse.SUPPRESS,
                       **kwargs)  # fmt: skip


def progress_from_args(args: argparse.Namespace) -> bool | float:
    """The library's ``progress`` setting for a command: off with ``--quiet``, else lines every ``--progress-every``."""
    if getattr(args, "quiet", False):
        return False
    every = getattr(args, "progress_every", defaults.DEFAULT_LOG_SECONDS)
    return every if every > 0 else math.inf  # 0: the bar on a terminal, no lines elsewhere


def add_run_options(parser: argparse.ArgumentParser, *, default_samples: int, samples_help: str | None = None) -> None:
    """Sampling, statistics and output options shared by every counting command.

    ``samples_help`` says what ``--samples`` counts in this command (and why its default
    differs from the others', where it does).
    """
    r = parser.add_argument_group("run")
    r.add_argument("--samples", type=positive_int, default=default_samples,
                   help=f"{samples_help or 'number of prior samples'} (default: %(default)s)")  # fmt: skip
    r.add_argument("--seed", type=seed_int, default=0, help="integer seed, 0..2**32-1")
    r.add_argument("--chunk-size", type=positive_int, default=defaults.DEFAULT_CHUNK_SIZE,
                   help="samples per chunk C (part of the random stream: keep it to reproduce a run)")  # fmt: skip
    r.add_argument(
        "--chunks-per-step",
        type=nonneg_int,
        default=None,
        help=(
            "chunks per jitted step (counts for a given sample count do not depend on it; "
            "--rel-width and --max-seconds are checked after each step) "
            "(default: as many as fit about 256 MiB per device; 0 means the same)"
        ),
    )
    r.add_argument("--confidence", type=probability, default=0.95, help="interval confidence level")
    r.add_argument("--interval", choices=defaults.INTERVAL_METHODS, default="clopper-pearson", help="interval method")
    r.add_argument("--precision", choices=defaults.PRECISIONS, default="highest", help="matmul precision")
    r.add_argument("--max-seconds", type=positive_float, default=None,
                   help="stop after the first step past this wall time (default: no limit)")  # fmt: skip
    r.add_argument("--json", default=None, metavar="PATH",
                   help="write the result record to this file, '-' for stdout (default: not saved)")  # fmt: skip
    r.add_argument("--quiet", action="store_true", help="no progress bar, no progress lines and no table")
    r.add_argument("--progress-every", type=nonneg_float, default=defaults.DEFAULT_LOG_SECONDS, metavar="SECONDS",
                   help="where stderr is not a terminal (a batch job's log), print a progress line (done, rate, "
                   "ETA) this often; 0: none")  # fmt: skip
    r.add_argument("--devices", type=positive_int, default=None,
                   help="local devices to shard chunks over (default: all; counts do not depend on it)")  # fmt: skip
    r.add_argument("--checkpoint", default=None, metavar="PATH",
                   help="save counts and progress here; rerunning the same command resumes (default: none)",
                   )  # fmt: skip
    r.add_argument("--checkpoint-every", type=nonneg_float, default=defaults.DEFAULT_EVERY_SECONDS,
                   metavar="SECONDS",
                   help="save the checkpoint after a step at most this often (0: after every step); it is "
                   "always saved when the run stops or ends (default: %(default)s)")  # fmt: skip
    d = parser.add_argument_group("multi-process (jax.distributed; every process runs the same command)")
    d.add_argument("--coordinator", default=None, metavar="HOST:PORT",
                   help=f"process 0's address (default: env {defaults.ENV_COORDINATOR}, else one process)")  # fmt: skip
    d.add_argument("--num-processes", type=positive_int, default=None,
                   help=f"number of processes (default: env {defaults.ENV_NUM_PROCESSES}, else 1)")  # fmt: skip
    d.add_argument("--process-id", type=nonneg_int, default=None,
                   help=f"this process's index, 0..num-processes-1 "
                   f"(default: env {defaults.ENV_PROCESS_ID}, else 0)")  # fmt: skip


def prior_from_args(args: argparse.Namespace):
    """Build the prior named by ``--prior`` and its options."""
    from countnets.network.priors import Gaussian, Lattice, Uniform

    if args.prior == "gaussian":
        return Gaussian(args.sigma_w, args.sigma_b)
    if args.prior == "uniform":
        if args.bound is None:
            raise CountnetsError("--prior uniform needs --bound A")
        return Uniform(args.bound)
    if args.values is None:
        raise CountnetsError("--prior lattice needs --values, e.g. --values -1,0,1")
    return Lattice(args.values)


def arch_from_args(args: argparse.Namespace):
    """Build the architecture named by ``--arch`` and its options (``--branch-scale invsqrt``: 1/sqrt(L))."""
    from countnets.network.architectures import MLP, ResMLP

    if args.arch == "mlp":
        return MLP(args.n, args.hidden, args.activation)
    alpha = resolve_branch_scale(args.branch_scale, args.blocks)
    return ResMLP(args.n, args.width, args.blocks, args.block_width, alpha)


# Options that apply to some choices of another option only: option dest -> (deciding dest, choices it applies to).
_APPLIES = {
    "sigma_w": ("prior", ("gaussian",)),
    "sigma_b": ("prior", ("gaussian",)),
    "bound": ("prior", ("uniform",)),
    "values": ("prior", ("lattice",)),
    "hidden": ("arch", ("mlp",)),
    "activation": ("arch", ("mlp",)),
    "width": ("arch", ("resmlp", "goalnet")),
    "blocks": ("arch", ("resmlp",)),
    "block_width": ("arch", ("resmlp",)),
    "branch_scale": ("arch", ("resmlp",)),
    "momentum": ("optimizer", ("momentum",)),
    "margin": ("loss", ("hinge",)),
    # countnets estimate: plain Monte Carlo or splitting (countnets.cli.rare)
    **{dest: ("method", ("splitting",)) for dest in defaults.SAMPLE_OPTIONS},
    **{dest: ("method", ("mc",)) for dest in ("samples", "chunk_size", "interval", "exact", "max_exact")},
}


def check_applicable(args: argparse.Namespace, given: dict[str, str]) -> None:
    """Refuse, with a one-line reason, an option given on the command line that this run would ignore.

    ``given`` maps the dest of each option given to the option string used (see the parser).

    Raises:
      CountnetsError: e.g. ``--values applies to --prior lattice, not to --prior gaussian``.
    """
    if given.get("width") == "--goal-width" and getattr(args, "arch", "goalnet") != "goalnet":
        raise CountnetsError(f"--goal-width applies to --arch goalnet, not to --arch {args.arch}")
    for dest, (decider, choices) in _APPLIES.items():
        if dest in given and hasattr(args, decider):
            value = getattr(args, decider)
            if value not in choices:
                option = f"--{decider.replace('_', '-')}"
                where = " or ".join(f"{option} {c}" for c in choices)
                raise CountnetsError(f"{given[dest]} applies to {where}, not to {option} {value}")
    training = hasattr(args, "optimizer")
    if getattr(args, "exact", False):
        for dest in ("samples",) if training else ("samples", "seed"):
            if dest in given:
                raise CountnetsError(
                    f"{given[dest]} applies to sampling, not to --exact (which enumerates every configuration once)"
                )
    elif "max_exact" in given:
        raise CountnetsError(f"{given['max_exact']} applies to --exact only")
    if "checkpoint_every" in given and getattr(args, "checkpoint", None) is None:
        raise CountnetsError(f"{given['checkpoint_every']} applies to runs with --checkpoint PATH")
