"""``countnets experiment serial-parallel``, ``detour`` and ``composition``: their options and runs.

Their records (help, formatter, figures, payload) are in :mod:`countnets.experiments`.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from countnets import defaults
from countnets._errors import CountnetsError
from countnets.cli import rare
from countnets.cli.options import (
    add_deprecated_alias,
    add_prior_options,
    add_run_options,
    inputs_count,
    positive_int,
    prior_from_args,
    progress_from_args,
)
from countnets.defaults import (
    ALL_FUNCTIONS,
    COMPOSITION_ESTIMATORS,
    COMPOSITION_TARGETS,
    DEFAULT_MAX_EXACT,
    MAX_INPUTS,
    parse_branch_scales,
)

if TYPE_CHECKING:
    from countnets.results import CountResult

__all__ = [
    "blocks_list",
    "add_circuit_options",
    "common_kwargs",
    "add_serial_parallel_arguments",
    "run_serial_parallel",
    "add_detour_arguments",
    "run_detour",
    "add_composition_arguments",
    "run_composition",
]


def blocks_list(text: str) -> tuple[int, ...]:
    """Comma-separated block counts L >= 1."""
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated block counts, got {text!r}") from None
    if any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected comma-separated block counts >= 1, got {text!r}")
    return values


def branch_scales(text: str) -> str:
    """Comma-separated branch scales: numbers or ``invsqrt`` (checked here, passed on as written)."""
    try:
        parse_branch_scales(text)
    except CountnetsError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def add_circuit_options(
    parser: argparse.ArgumentParser, *, resmlp: bool, default_samples: int, samples_help: str, width_help: str
) -> None:
    """Network, prior, target and run options shared by the circuit experiments."""
    g = parser.add_argument_group("network")
    g.add_argument("--n", type=inputs_count, required=True, help=f"number of Boolean inputs, 1..{MAX_INPUTS}")
    if resmlp:
        g.add_argument("--width", type=positive_int, default=8, help=width_help)
        g.add_argument("--block-width", type=positive_int, default=8, help="ResMLP block hidden width w")
        g.add_argument("--blocks", type=blocks_list, default=(1, 2, 4), help="block counts L, comma-separated")
        g.add_argument("--branch-scale", type=branch_scales, default="1",
                       help="branch scales alpha, comma-separated: numbers or invsqrt (1/sqrt(L))")  # fmt: skip
    g.add_argument("--encoding", choices=defaults.ENCODINGS, default="01", help="input encoding")
    g.add_argument("--targets", default=ALL_FUNCTIONS,
                   help="'all' (every function) or functions: hex or names, comma-separated")  # fmt: skip
    add_prior_options(parser)
    add_run_options(parser, default_samples=default_samples, samples_help=samples_help)
    r = parser.add_argument_group("circuit run")
    r.add_argument("--exact", action="store_true", help="enumerate every lattice configuration instead of sampling")
    r.add_argument("--max-exact", type=positive_int, default=DEFAULT_MAX_EXACT,
                   help="limit on enumerated configurations")  # fmt: skip
    r.add_argument("--plot", default=None, metavar="PATH",
                   help="write PNG figures to this path, suffixes added per figure (default: no figures)")  # fmt: skip


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
        progress=progress_from_args(args),
        devices=getattr(args, "devices", None),
        checkpoint=getattr(args, "checkpoint", None),
        checkpoint_every=getattr(args, "checkpoint_every", defaults.DEFAULT_EVERY_SECONDS),
    )


def add_serial_parallel_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``countnets experiment serial-parallel`` (its record: :mod:`countnets.experiments`)."""
    add_circuit_options(
        p, resmlp=True, default_samples=200_000, width_help="ResMLP stream width d",
        samples_help="prior samples per block count L: each L is a pass of its own over deeper networks, "
        "hence a lower default than histogram's 1000000",
    )  # fmt: skip


def run_serial_parallel(args: argparse.Namespace) -> CountResult:
    """Run ``countnets experiment serial-parallel`` from parsed arguments."""
    from countnets.experiments.serial_parallel import serial_parallel

    prior = prior_from_args(args)
    result = serial_parallel(
        prior, n=args.n, d=args.width, w=args.block_width, blocks=args.blocks, branch_scales=args.branch_scale,
        targets=args.targets, **common_kwargs(args),
    )  # fmt: skip
    return result


def add_detour_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``countnets experiment detour`` (its record: :mod:`countnets.experiments`)."""
    p.add_argument("--kind", choices=defaults.DETOUR_KINDS, required=True, help="which detour (required)")
    add_circuit_options(
        p, resmlp=True, default_samples=200_000,
        width_help="write-erase: ResMLP stream width d; goal: GoalNet hidden width w (default: 8)",
        samples_help="prior samples: each network is evaluated once per intervention (with and without the "
        "detour), hence a lower default than histogram's 1000000",
    )  # fmt: skip
    # Unset means the kind's default; --kind goal refuses the ResMLP-only options.
    p.set_defaults(blocks=None, branch_scale=None, block_width=None, width=None)
    kind_defaults = {"blocks": "3", "block_width": "8", "branch_scale": "1"}
    for action in p._actions:
        if action.dest in kind_defaults:
            action.help = f"{action.help} (default: {kind_defaults[action.dest]}; --kind write-erase only)"


def run_detour(args: argparse.Namespace) -> CountResult:
    """Run ``countnets experiment detour`` from parsed arguments."""
    from countnets.experiments.detour import goal_detour, write_erase

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
    return result


def _names(text: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(","))
    bad = [t for t in names if t not in COMPOSITION_TARGETS]
    if bad:
        raise argparse.ArgumentTypeError(f"unknown targets {bad}; expected some of {', '.join(COMPOSITION_TARGETS)}")
    return names


def add_composition_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``countnets experiment composition`` (its record: :mod:`countnets.experiments`)."""
    g = p.add_argument_group("network")
    # --n, --blocks and --block-width mean what they mean in every command; this one sweeps, so each takes a list.
    g.add_argument("--n", type=blocks_list, default=(4,), help="input counts (>= 4): one, or comma-separated")
    g.add_argument("--width", type=positive_int, default=8, help="ResMLP stream width d (default: %(default)s)")
    g.add_argument("--blocks", type=blocks_list, default=(3, 4), help="block counts L: one, or comma-separated")
    g.add_argument("--block-width", dest="block_widths", type=blocks_list, default=(2,),
                   help="block widths w: one, or comma-separated")  # fmt: skip
    add_deprecated_alias(g, "--block-widths", "--block-width", "block_widths", type=blocks_list)
    g.add_argument("--branch-scale", default="1,invsqrt,0.25", help="branch scales alpha: numbers or invsqrt")
    g.add_argument("--encoding", choices=defaults.ENCODINGS, default="01", help="input encoding (default: %(default)s)")
    g.add_argument("--targets", type=_names, default=COMPOSITION_TARGETS, help="targets, comma-separated")
    g.add_argument("--method", choices=COMPOSITION_ESTIMATORS, default="mc",
                   help="mc: plain Monte Carlo over every (n, L, w); splitting: one multilevel-splitting run per "
                   "(n, L, w, alpha, target), for P(f) far below 1/samples (default: %(default)s)")
    rare.add_splitting_options(p)
    add_prior_options(p)
    add_run_options(
        p, default_samples=200_000,
        samples_help="prior samples per (n, L, w): each is a pass of its own over networks evaluated at every "
        "branch scale, hence a lower default than estimate's",
    )  # fmt: skip
    r = p.add_argument_group("circuit run")
    r.add_argument("--exact", action="store_true", help="enumerate every lattice configuration instead of sampling")
    r.add_argument("--max-exact", type=positive_int, default=DEFAULT_MAX_EXACT,
                   help="limit on enumerated configurations (default: %(default)s)")


def run_composition(args: argparse.Namespace) -> CountResult:
    """Run ``countnets experiment composition`` from parsed arguments."""
    from countnets.experiments.composition import composition_experiment

    prior = prior_from_args(args)
    kwargs = common_kwargs(args)
    if args.method == "splitting":
        kwargs.update(n_samples=None, splitting_options=rare.splitting_kwargs(args))
    result = composition_experiment(
        prior, n_values=args.n, d=args.width, blocks=args.blocks, widths=args.block_widths,
        branch_scales=args.branch_scale, targets=args.targets, estimator=args.method, **kwargs,
    )  # fmt: skip
    return result
