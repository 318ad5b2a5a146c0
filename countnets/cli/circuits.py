"""``countnets experiment serial-parallel`` and ``countnets experiment detour``: their options and runs."""

from __future__ import annotations

import argparse
from typing import Any

from countnets import boolean, plotting, results
from countnets import checkpoint as checkpoint_lib
from countnets._errors import CountnetsError
from countnets.cli.options import add_prior_options, add_run_options, nonneg_int, prior_from_args
from countnets.composition import TARGETS as COMPOSITION_TARGETS
from countnets.estimators import DEFAULT_MAX_EXACT
from countnets.experiments.composition import ESTIMATORS, composition_experiment, format_composition
from countnets.experiments.detour import KINDS, format_detour, goal_detour, write_erase
from countnets.experiments.serial_parallel import format_serial_parallel, serial_parallel
from countnets.passes import ALL
from countnets.results import CountResult

__all__ = [
    "blocks_list",
    "add_circuit_options",
    "common_kwargs",
    "finish",
    "add_serial_parallel_parser",
    "run_serial_parallel",
    "add_detour_parser",
    "run_detour",
    "add_composition_parser",
    "run_composition",
]


def blocks_list(text: str) -> tuple[int, ...]:
    """Comma-separated block counts L."""
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated block counts, got {text!r}") from None
    return values


def add_circuit_options(parser: argparse.ArgumentParser, *, resmlp: bool, default_samples: int) -> None:
    """Network, prior, target and run options shared by the circuit experiments."""
    g = parser.add_argument_group("network")
    g.add_argument("--n", type=nonneg_int, required=True, help="number of Boolean inputs, 1..8")
    if resmlp:
        g.add_argument("--width", type=nonneg_int, default=8, help="ResMLP stream width d")
        g.add_argument("--block-width", type=nonneg_int, default=8, help="ResMLP block hidden width w")
        g.add_argument("--blocks", type=blocks_list, default=(1, 2, 4), help="block counts L, comma-separated")
        g.add_argument("--branch-scale", default="1", help="branch scales alpha, comma-separated: numbers or invsqrt")
    g.add_argument("--encoding", choices=boolean.ENCODINGS, default="01", help="input encoding (default %(default)s)")
    g.add_argument("--targets", default=ALL, help="'all' (every function) or functions: hex or names, comma-separated")
    add_prior_options(parser)
    add_run_options(parser, default_samples=default_samples)
    r = parser.add_argument_group("circuit run")
    r.add_argument("--exact", action="store_true", help="enumerate every lattice configuration instead of sampling")
    r.add_argument("--max-exact", type=nonneg_int, default=DEFAULT_MAX_EXACT, help="limit on enumerated configurations")
    r.add_argument("--plot", default=None, help="write PNG figures to this path (suffixes added per figure)")


def common_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """Library keyword arguments from the shared options."""
    return dict(
        n_samples=args.samples,
        seed=args.seed,
        encoding=args.encoding,
        chunk_size=args.chunk_size,
        chunks_per_step=args.chunks_per_step or None,
        confidence=args.confidence,
        method=args.interval,
        precision=args.precision,
        max_seconds=args.max_seconds,
        exact=args.exact,
        max_configurations=args.max_exact,
        progress=not args.quiet,
        devices=getattr(args, "devices", None),
        checkpoint=getattr(args, "checkpoint", None),
        checkpoint_every=getattr(args, "checkpoint_every", checkpoint_lib.DEFAULT_EVERY_SECONDS),
    )


def finish(args: argparse.Namespace, result: CountResult, table: str) -> int:
    """Write JSON and figures as asked, print the table unless ``--quiet``."""

    if args.json:
        results.save_json(result, args.json)
    if args.plot:
        for path in plotting.plot_result(result, args.plot):
            if not args.quiet:
                print(f"wrote {path}")
    if not args.quiet:
        print(table)
    return 0


def add_serial_parallel_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``serial-parallel`` subcommand."""
    p = subparsers.add_parser(
        "serial-parallel",
        help="effective depth k* of ResMLPs: parallel (k* <= 1) vs serial (k* >= 2) volume",
        description="Volume of ResMLP parameter space implementing functions in parallel (k* <= 1) "
        "versus serially (k* >= 2), per block count and branch scale.",
    )
    add_circuit_options(p, resmlp=True, default_samples=200_000)
    return p


def run_serial_parallel(args: argparse.Namespace) -> int:
    """Run ``countnets experiment serial-parallel`` from parsed arguments."""
    prior = prior_from_args(args)
    result = serial_parallel(
        prior, n=args.n, d=args.width, w=args.block_width, blocks=args.blocks, branch_scales=args.branch_scale,
        targets=args.targets, **common_kwargs(args),
    )  # fmt: skip
    return finish(args, result, format_serial_parallel(result))


def add_detour_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``detour`` subcommand."""
    p = subparsers.add_parser(
        "detour",
        help="detour vs direct volumes: cancelling block pairs (write-erase) or goal units (goal)",
        description="write-erase: ResMLPs implementing f with a cancelling pair of blocks vs with none. "
        "goal: GoalNets implementing f via a goal g (summed over g) vs directly. --width is d for "
        "write-erase and the hidden width w for goal.",
    )
    p.add_argument("--kind", choices=KINDS, required=True, help="which detour")
    add_circuit_options(p, resmlp=True, default_samples=200_000)
    # Unset means the kind's default; --kind goal refuses the ResMLP-only options.
    p.set_defaults(blocks=None, branch_scale=None, block_width=None, width=None)
    return p


def run_detour(args: argparse.Namespace) -> int:
    """Run ``countnets experiment detour`` from parsed arguments."""
    prior = prior_from_args(args)
    common = common_kwargs(args)
    if args.kind == "goal":
        given = [f"--{name.replace('_', '-')}" for name in ("blocks", "block_width", "branch_scale")
                 if getattr(args, name) is not None]  # fmt: skip
        if given:
            raise CountnetsError(f"{', '.join(given)} only apply to --kind write-erase, not to --kind goal")
        result = goal_detour(prior, n=args.n, w=8 if args.width is None else args.width, targets=args.targets, **common)
    else:
        blocks = (3,) if args.blocks is None else args.blocks
        if len(blocks) != 1:
            raise CountnetsError(f"--kind write-erase takes one block count, got --blocks {','.join(map(str, blocks))}")
        result = write_erase(
            prior, n=args.n, d=8 if args.width is None else args.width,
            w=8 if args.block_width is None else args.block_width, blocks=blocks[0],
            branch_scale=args.branch_scale or "1", targets=args.targets, **common,
        )  # fmt: skip
    return finish(args, result, format_detour(result))


def _names(text: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(","))
    bad = [t for t in names if t not in COMPOSITION_TARGETS]
    if bad:
        raise argparse.ArgumentTypeError(f"unknown targets {bad}; expected some of {', '.join(COMPOSITION_TARGETS)}")
    return names


def add_composition_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``composition`` subcommand."""
    p = subparsers.add_parser(
        "composition",
        help="serial vs parallel on gate-built targets (parity of 4, XOR-and-XOR) in narrow-block ResMLPs",
        description="P(f), P(k* = k | f), the Hamming distance at order k*-1, min_depth and the "
        "parallel/serial ratio beside the placement null, per (target, form, n, d, L, w, alpha).",
    )
    g = p.add_argument_group("network")
    g.add_argument("--n", type=blocks_list, default=(4,), help="input counts (>= 4), comma-separated")
    g.add_argument("--width", type=nonneg_int, default=8, help="ResMLP stream width d")
    g.add_argument("--blocks", type=blocks_list, default=(3, 4), help="block counts L, comma-separated")
    g.add_argument("--block-widths", type=blocks_list, default=(2,), help="block widths w, comma-separated")
    g.add_argument("--branch-scale", default="1,invsqrt,0.25", help="branch scales alpha: numbers or invsqrt")
    g.add_argument("--encoding", choices=boolean.ENCODINGS, default="01", help="input encoding (default %(default)s)")
    g.add_argument("--targets", type=_names, default=COMPOSITION_TARGETS, help="targets, comma-separated")
    g.add_argument("--estimator", choices=ESTIMATORS, default="mc", help="mc; splitting needs countnets.splitting")
    add_prior_options(p)
    add_run_options(p, default_samples=200_000)
    r = p.add_argument_group("circuit run")
    r.add_argument("--exact", action="store_true", help="enumerate every lattice configuration instead of sampling")
    r.add_argument("--max-exact", type=nonneg_int, default=DEFAULT_MAX_EXACT, help="limit on enumerated configurations")
    return p


def run_composition(args: argparse.Namespace) -> int:
    """Run ``countnets experiment composition`` from parsed arguments."""
    prior = prior_from_args(args)
    result = composition_experiment(
        prior, n_values=args.n, d=args.width, blocks=args.blocks, widths=args.block_widths,
        branch_scales=args.branch_scale, targets=args.targets, estimator=args.estimator, **common_kwargs(args),
    )  # fmt: skip
    if args.json:
        results.save_json(result, args.json)
    if not args.quiet:
        print(format_composition(result))
    return 0
