"""``countnets estimate --method splitting``: the splitting options and the run (:func:`countnets.estimate_rare`)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from countnets import defaults
from countnets._errors import CountnetsError
from countnets.cli.options import positive_int, probability, progress_from_args
from countnets.defaults import MOVES, READOUTS

if TYPE_CHECKING:
    from countnets.results import CountResult

__all__ = ["METHODS", "add_method_options", "add_splitting_options", "splitting_kwargs", "run_splitting"]

METHODS = ("mc", "splitting")

def add_method_options(parser: argparse.ArgumentParser) -> None:
    """``--method`` and the splitting options of ``countnets estimate``.

    Which options apply to which method is checked in :func:`countnets.cli.options.check_applicable`.
    """
    parser.add_argument(
        "--method", choices=METHODS, default="mc",
        help="mc: plain Monte Carlo; splitting: adaptive multilevel splitting for rare events, one target "
        "(docs/rare-events.md) (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--readout", choices=READOUTS, default="sample",
        help="sample: draw every parameter; integrate: integrate the readout's Gaussian cone mass (one target, a "
        "Gaussian prior): with --method mc over hidden draws (conditional Monte Carlo), with --method splitting "
        "for a perceptron (--hidden none) only, so far (docs/rare-events.md) (default: %(default)s)",
    )  # fmt: skip
    add_splitting_options(parser)


def add_splitting_options(parser: argparse.ArgumentParser) -> None:
    """The splitting options (``--replicas``, ``--particles``, ...), applicable with ``--method splitting``."""
    s = parser.add_argument_group("splitting (--method splitting)")
    s.add_argument("--replicas", type=positive_int, default=None,
                   help=f"independent replicas; the most with --rel-width or --max-seconds "
                   f"(default: {defaults.DEFAULT_REPLICAS}, or {defaults.MAX_REPLICAS} with a stop rule)")
    s.add_argument("--particles", type=positive_int, default=defaults.DEFAULT_PARTICLES,
                   help="particles per replica (default: %(default)s)")
    s.add_argument("--sweeps", type=positive_int, default=defaults.DEFAULT_SWEEPS,
                   help="move sweeps per level, and the step by which the pilot adds more until its mixing check "
                   "passes (default: %(default)s)")
    s.add_argument("--max-sweeps", type=positive_int, default=None,
                   help="the mixing cap: the most sweeps the pilot may give a level, adding --sweeps at a time until "
                   "its mixing check passes (default: --sweeps, no adaptation; the check is still reported)")
    s.add_argument("--retry-factor", type=positive_int, default=defaults.DEFAULT_RETRY_FACTOR,
                   help="a run that reached the event but is not determined (too few effective replicas, or a "
                   "stalled pilot) is rerun once, same seed, with this many times the particles; 1: no retry "
                   "(default: %(default)s)")
    s.add_argument("--level-fraction", type=probability, default=defaults.DEFAULT_LEVEL_FRACTION,
                   help="fraction of the pilot population above each level (default: %(default)s)")
    s.add_argument("--target-acceptance", type=probability, default=defaults.DEFAULT_TARGET_ACCEPTANCE,
                   help="acceptance rate the pilot's step sizes adapt to (default: %(default)s)")
    s.add_argument("--pilot-particles", type=positive_int, default=None,
                   help="the pilot's population (default: 2 x --particles)")
    s.add_argument("--max-levels", type=positive_int, default=defaults.DEFAULT_MAX_LEVELS,
                   help="most levels the pilot may set (default: %(default)s)")
    s.add_argument("--move", choices=MOVES, default=defaults.DEFAULT_MOVE,
                   help="the move restricted to each level: auto is the prior's default (ess, elliptical slice "
                   "sampling, for a Gaussian prior; unit-gibbs, a unit's exact conditional, on a lattice; "
                   "reflected-walk for a uniform box); pcn and coordinate-resample are the earlier moves, lin-ess "
                   "draws the readout exactly on its ellipse (Gaussian; implements, fits) (docs/rare-events.md) "
                   "(default: %(default)s)")  # fmt: skip
    s.add_argument("--replicas-per-chunk", type=positive_int, default=defaults.DEFAULT_REPLICAS_PER_CHUNK,
                   help="replicas vmapped per chunk; results do not depend on it (default: %(default)s)")  # fmt: skip


def splitting_kwargs(args: argparse.Namespace) -> dict:
    """The parsed splitting options as keyword arguments of :func:`countnets.rare.splitting.sample_rare`."""
    return {name: getattr(args, name) for name in defaults.SAMPLE_OPTIONS if getattr(args, name) is not None}


def run_splitting(args: argparse.Namespace, prior, arch, targets: list[str]) -> CountResult:
    """Run :func:`countnets.estimate_rare` for the one target of ``--targets`` with the parsed options."""
    targets = [t.strip() for t in targets]
    if len(targets) != 1:
        raise CountnetsError(f"--method splitting estimates one target at a time, got {len(targets)}: {targets}")
    try:
        return _estimate_rare(args, prior, arch, targets[0])
    except CountnetsError as err:
        # A splitting run's chunk is a group of replicas: its chunk size is the user's --replicas-per-chunk.
        raise CountnetsError(str(err).replace("chunk_size is", "--replicas-per-chunk is")) from None


def _estimate_rare(args: argparse.Namespace, prior, arch, target: str) -> CountResult:
    from countnets.rare import splitting

    return splitting.estimate_rare(
        prior, arch, target, seed=args.seed, replicas=args.replicas, particles=args.particles,
        sweeps=args.sweeps, level_fraction=args.level_fraction, target_acceptance=args.target_acceptance,
        pilot_particles=args.pilot_particles, max_levels=args.max_levels, move=args.move, max_sweeps=args.max_sweeps,
        retry_factor=args.retry_factor, encoding=args.encoding, readout=getattr(args, "readout", "sample"),
        precision=args.precision, confidence=args.confidence, rel_halfwidth=args.rel_width,
        max_seconds=args.max_seconds, replicas_per_chunk=args.replicas_per_chunk,
        chunks_per_step=args.chunks_per_step or None, devices=args.devices, checkpoint=args.checkpoint,
        checkpoint_every=args.checkpoint_every, progress=progress_from_args(args),
    )  # fmt: skip
