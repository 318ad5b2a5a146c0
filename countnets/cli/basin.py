"""``countnets experiment basin``: its options and run (:mod:`countnets.experiments.basin_volume`).

Its record (help, formatter, figure, payload) is in :mod:`countnets.experiments`.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from countnets._errors import CountnetsError
from countnets.cli.options import positive_int
from countnets.cli.training import add_training_options, inputs_from_args
from countnets.defaults import BASIN_SPLITTING, BASIN_TOLERANCES

if TYPE_CHECKING:
    from countnets.results import CountResult

__all__ = ["add_basin_arguments", "run_basin"]


def _tolerances(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated tolerances, got {text!r}") from None
    if not values or any(not v > 0 for v in values):
        raise argparse.ArgumentTypeError(f"tolerances must be positive numbers, got {text!r}")
    return values


def add_basin_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``countnets experiment basin``."""
    add_training_options(
        p, default_samples=1 << 20, default_runs=256,
        runs_help="networks to train (the anchors are the first that fit S)",
        samples_help="plain Monte Carlo samples for P(fits S), one estimate of a common event, hence a lower "
        "default than histogram's 1000000",
    )  # fmt: skip
    b = p.add_argument_group("basin")
    b.add_argument("--anchors", type=positive_int, default=50, help="anchors (default: %(default)s)")
    b.add_argument("--tolerances", type=_tolerances, default=BASIN_TOLERANCES,
                   help="mean-KL tolerances, comma-separated (default: 0.01,0.03,0.1, fixed in docs/basin.md)")
    b.add_argument("--star-points", type=positive_int, default=16, help="grid points on each segment of the star")
    b.add_argument("--directions", type=positive_int, default=256, help="directions of the radial estimate")
    b.add_argument("--replicas", type=positive_int, default=BASIN_SPLITTING["replicas"],
                   help="splitting replicas per estimate (default: %(default)s)")  # fmt: skip
    b.add_argument("--particles", type=positive_int, default=BASIN_SPLITTING["particles"],
                   help="splitting particles per replica (default: %(default)s)")  # fmt: skip


def run_basin(args: argparse.Namespace) -> CountResult:
    """Run ``countnets experiment basin`` from parsed arguments; its result."""
    from countnets.experiments.basin_volume import basin_experiment

    if args.exact:
        raise CountnetsError("--exact does not apply to the basin experiment (its estimates are by splitting)")
    prior, arch, tset, cfg = inputs_from_args(args)
    return basin_experiment(
        prior, arch, tset, cfg, anchors=args.anchors, runs=args.runs, tolerances=args.tolerances,
        star_points=args.star_points, directions=args.directions, fit_samples=args.samples,
        splitting_options={"replicas": args.replicas, "particles": args.particles}, seed=args.seed,
        encoding=args.encoding, confidence=args.confidence, progress=not args.quiet, checkpoint=args.checkpoint,
        max_seconds=args.max_seconds,
    )  # fmt: skip
