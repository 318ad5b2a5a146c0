"""Option types and shared option groups of the ``countnets`` command line, and the objects they build.

Every command's parser is built from these groups, so an option means the same thing
and is checked the same way wherever it appears.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence

from countnets import boolean, estimators, sharding, statistics
from countnets import checkpoint as checkpoint_lib
from countnets._errors import CountnetsError
from countnets.architectures import ACTIVATIONS, MLP, ResMLP
from countnets.cli.output import check_output_path
from countnets.priors import Gaussian, Lattice, Uniform

__all__ = [
    "int_list",
    "float_list",
    "nonneg_int",
    "finite_float",
    "add_network_options",
    "add_prior_options",
    "add_run_options",
    "prior_from_args",
    "arch_from_args",
    "check_output_path",
]


def int_list(text: str) -> tuple[int, ...]:
    """Comma-separated ints; ``""``, ``none`` or ``-`` for none."""
    text = text.strip()
    if text in ("", "none", "-"):
        return ()
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated ints, got {text!r}") from None
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


def nonneg_int(text: str) -> int:
    """An int >= 0 (``1_000``, ``1e6`` accepted when integral)."""
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        try:
            as_float = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an int, got {text!r}") from None
        if not as_float.is_integer():
            raise argparse.ArgumentTypeError(f"expected an int, got {text!r}") from None
        value = int(as_float)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def finite_float(text: str) -> float:
    """A finite number."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def add_network_options(parser: argparse.ArgumentParser, *, arch_choices: Sequence[str] = ("mlp", "resmlp")) -> None:
    """Architecture, prior and encoding options shared by every counting command."""
    g = parser.add_argument_group("network")
    g.add_argument("--arch", choices=arch_choices, default=arch_choices[0], help="architecture (default %(default)s)")
    g.add_argument("--n", type=nonneg_int, required=True, help="number of Boolean inputs, 1..8")
    g.add_argument(
        "--hidden", type=int_list, default=(8,), help="MLP hidden widths, e.g. 40,40; 'none' for a perceptron"
    )
    g.add_argument("--activation", default="relu", help=f"MLP activation: {', '.join(ACTIVATIONS)}")
    g.add_argument("--width", type=nonneg_int, default=8, help="ResMLP stream width d")
    g.add_argument("--blocks", type=nonneg_int, default=2, help="ResMLP number of blocks L")
    g.add_argument("--block-width", type=nonneg_int, default=8, help="ResMLP block hidden width w")
    g.add_argument("--branch-scale", type=finite_float, default=1.0, help="ResMLP branch multiplier alpha")
    g.add_argument("--encoding", choices=boolean.ENCODINGS, default="01", help="input encoding (default %(default)s)")
    add_prior_options(parser)


def add_prior_options(parser: argparse.ArgumentParser) -> None:
    """Prior options (--prior, --sigma-w, --sigma-b, --bound, --values), read by :func:`prior_from_args`."""
    p = parser.add_argument_group("prior")
    p.add_argument("--prior", choices=("gaussian", "uniform", "lattice"), default="gaussian")
    p.add_argument("--sigma-w", type=finite_float, default=1.0, help="Gaussian weight scale (std sigma_w/sqrt(fan_in))")
    p.add_argument("--sigma-b", type=finite_float, default=1.0, help="Gaussian bias std; 0 for no bias")
    p.add_argument("--bound", type=finite_float, default=None, help="Uniform prior half-width")
    p.add_argument("--values", type=float_list, default=None, help="Lattice values, e.g. -1,0,1")


def add_run_options(parser: argparse.ArgumentParser, *, default_samples: int) -> None:
    """Sampling, statistics and output options shared by every counting command."""
    r = parser.add_argument_group("run")
    r.add_argument(
        "--samples", type=nonneg_int, default=default_samples, help="number of prior samples (default %(default)s)"
    )
    r.add_argument("--seed", type=nonneg_int, default=0, help="integer seed below 2**32")
    r.add_argument("--chunk-size", type=nonneg_int, default=estimators.DEFAULT_CHUNK_SIZE, help="samples per chunk C")
    r.add_argument(
        "--chunks-per-step",
        type=nonneg_int,
        default=None,
        help=(
            "chunks per jitted step (counts for a given sample count do not depend on it; "
            "--rel-width and --max-seconds are checked after each step)"
        ),
    )
    r.add_argument("--confidence", type=finite_float, default=0.95, help="interval confidence level")
    r.add_argument("--interval", choices=statistics.INTERVAL_METHODS, default="clopper-pearson")
    r.add_argument("--precision", choices=estimators.PRECISIONS, default="highest", help="matmul precision")
    r.add_argument("--max-seconds", type=finite_float, default=None, help="stop after this wall time")
    r.add_argument("--json", default=None, help="write the result record to this path")
    r.add_argument("--quiet", action="store_true", help="no progress bar and no table")
    r.add_argument("--devices", type=nonneg_int, default=None,
                   help="local devices to shard chunks over (default: all; counts do not depend on it)")  # fmt: skip
    r.add_argument("--checkpoint", default=None, metavar="PATH",
                   help="save counts and progress here; rerunning the same command resumes")  # fmt: skip
    r.add_argument("--checkpoint-every", type=finite_float, default=checkpoint_lib.DEFAULT_EVERY_SECONDS,
                   metavar="SECONDS",
                   help="save the checkpoint after a step at most this often (0: after every step); it is "
                   "always saved when the run stops or ends (default %(default)s)")  # fmt: skip
    d = parser.add_argument_group("multi-process (jax.distributed; every process runs the same command)")
    d.add_argument("--coordinator", default=None, metavar="HOST:PORT",
                   help=f"process 0's address (env {sharding.ENV_COORDINATOR})")  # fmt: skip
    d.add_argument("--num-processes", type=nonneg_int, default=None,
                   help=f"number of processes (env {sharding.ENV_NUM_PROCESSES})")  # fmt: skip
    d.add_argument("--process-id", type=nonneg_int, default=None,
                   help=f"this process's index, 0..num-processes-1 (env {sharding.ENV_PROCESS_ID})")  # fmt: skip


def prior_from_args(args: argparse.Namespace):
    """Build the prior named by ``--prior`` and its options."""
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
    """Build the architecture named by ``--arch`` and its options."""
    if args.arch == "mlp":
        return MLP(args.n, args.hidden, args.activation)
    return ResMLP(args.n, args.width, args.blocks, args.block_width, args.branch_scale)
