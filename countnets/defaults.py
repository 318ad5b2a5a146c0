"""The defaults, choices and value spellings the library and the command line share, loading nothing heavy.

Each value is defined here once; the module that uses it (``countnets.rare.splitting``,
``countnets.engine.sources``, ...) imports it from here and keeps its old name, so
``countnets.rare.splitting.DEFAULT_PARTICLES`` still works. The command line builds every
parser from this module alone (it imports only the standard library and
:mod:`countnets._errors`), so ``countnets --help``, any ``--help`` and any option error run
without loading JAX, NumPy or SciPy (tests/test_startup.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from types import MappingProxyType

from countnets._errors import CountnetsError, check_finite_float

__all__ = [
    "MAX_INPUTS",
    "ENCODINGS",
    "ACTIVATIONS",
    "PRECISIONS",
    "INTERVAL_METHODS",
    "ENGINE_KINDS",
    "LEGACY_KINDS",
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_MAX_EXACT",
    "DEFAULT_MAX_DISTINCT",
    "DEFAULT_LOG_SECONDS",
    "DEFAULT_EVERY_SECONDS",
    "ENV_COORDINATOR",
    "ENV_NUM_PROCESSES",
    "ENV_PROCESS_ID",
    "READOUTS",
    "MOVES",
    "DEFAULT_REPLICAS",
    "DEFAULT_PARTICLES",
    "DEFAULT_SWEEPS",
    "DEFAULT_LEVEL_FRACTION",
    "DEFAULT_TARGET_ACCEPTANCE",
    "DEFAULT_MAX_LEVELS",
    "DEFAULT_REPLICAS_PER_CHUNK",
    "DEFAULT_MOVE",
    "DEFAULT_RETRY_FACTOR",
    "MAX_REPLICAS",
    "SAMPLE_OPTIONS",
    "LOSSES",
    "OPTIMIZERS",
    "DEFAULT_EXPERIMENT_CHUNK",
    "ALL_FUNCTIONS",
    "COMPOSITION_TARGETS",
    "COMPOSITION_ESTIMATORS",
    "DETOUR_KINDS",
    "FLIP_LAMBDAS",
    "RARE_B_FLIPS",
    "RARE_B_REPLICAS",
    "RARE_B_PARTICLES",
    "BASIN_TOLERANCES",
    "BASIN_SPLITTING",
    "BENCH_SUITES",
    "parse_branch_scales",
    "resolve_branch_scale",
]

# Functions and inputs (countnets.network.boolean, countnets.network.architectures, countnets.engine.steps)
MAX_INPUTS = 12
"""Inputs a measure or an estimate takes: up to 4,096 cube points, 128 words per truth table."""
ENCODINGS = ("01", "pm1")
ACTIVATIONS = ("relu", "tanh", "step")
PRECISIONS = ("highest", "high", "default")

# Counting runs (countnets.stats.statistics, countnets.engine.sources, countnets.engine.accumulators,
# countnets.engine.driver, countnets.engine.checkpoint, countnets.engine.sharding)
INTERVAL_METHODS = ("clopper-pearson", "wilson", "jeffreys")
# The result kinds the engine's front ends write, each naming what made it (countnets.results).
ENGINE_KINDS = ("estimate-mc", "estimate-splitting", "estimate-integrated", "histogram-mc", "histogram-exact", "bench")
# Kinds older files carry; countnets.results.current_kind reads them as the kinds above.
LEGACY_KINDS = ("estimate", "histogram")
DEFAULT_CHUNK_SIZE = 4096
DEFAULT_MAX_EXACT = 2**34
DEFAULT_MAX_DISTINCT = 1_000_000
DEFAULT_LOG_SECONDS = 30.0
"""Seconds between progress lines where stderr is not a terminal (``--progress-every``)."""
DEFAULT_EVERY_SECONDS = 30.0  # seconds between checkpoint saves; a run also saves whenever it stops
ENV_COORDINATOR = "COUNTNETS_COORDINATOR"
ENV_NUM_PROCESSES = "COUNTNETS_NUM_PROCESSES"
ENV_PROCESS_ID = "COUNTNETS_PROCESS_ID"

# Rare events (countnets.engine.estimators, countnets.rare.moves, countnets.stats.reliability, countnets.rare.splitting)
READOUTS = ("sample", "integrate")
MOVES = ("auto", "ess", "pcn", "lin-ess", "reflected-walk", "unit-gibbs", "coordinate-resample")
DEFAULT_REPLICAS = 64  # a well-mixed run passes the reliability rule (countnets.stats.reliability)
DEFAULT_PARTICLES = 500
DEFAULT_SWEEPS = 8
DEFAULT_LEVEL_FRACTION = 0.25
DEFAULT_TARGET_ACCEPTANCE = 0.3
DEFAULT_MAX_LEVELS = 200
DEFAULT_REPLICAS_PER_CHUNK = 4
DEFAULT_MOVE = "auto"
DEFAULT_RETRY_FACTOR = 4  # a run not determined though the event was reached is rerun once with 4x the particles
MAX_REPLICAS = 2**20  # the replica budget when only a stop rule (rel_halfwidth, max_seconds) ends the run
SAMPLE_OPTIONS = ("replicas", "particles", "sweeps", "level_fraction", "target_acceptance", "pilot_particles",
                  "max_levels", "move", "max_sweeps", "retry_factor", "replicas_per_chunk")  # fmt: skip
"""The effort and algorithm keywords sample_rare and estimate_rare share (the CLI's splitting options)."""

# Training (countnets.train.trainer, countnets.train.training_results)
LOSSES = ("logistic", "hinge")
OPTIMIZERS = ("sgd", "momentum", "adam")
DEFAULT_EXPERIMENT_CHUNK = 1024  # training experiments' chunk size: their steps hold a training set

# Experiments (countnets.engine.passes, countnets.measures.composition, countnets.experiments.*,
# countnets.experiments.flip_decisive.rare_pairs)
ALL_FUNCTIONS = "all"
COMPOSITION_TARGETS = ("parity4", "xor-and-xor")
COMPOSITION_ESTIMATORS = ("mc", "splitting")
DETOUR_KINDS = ("write-erase", "goal")
FLIP_LAMBDAS = (0.0, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
RARE_B_FLIPS = (1, 2, 3, 4, 5, 6)
RARE_B_REPLICAS = 16
RARE_B_PARTICLES = 200
BASIN_TOLERANCES = (0.01, 0.03, 0.1)  # nats of mean KL; fixed in docs/basin.md before any run
BASIN_SPLITTING = MappingProxyType({"replicas": 48, "particles": 200})  # read-only: shared

# The counting suite (countnets.bench.registry)
BENCH_SUITES = ("quick", "standard")


# ResMLP branch scales, as the library and the command line spell them
def parse_branch_scales(spec: str | float | Sequence[str | float]) -> tuple[str, ...]:
    """Branch scales as canonical strings: numbers (``"1"``, ``"0.25"``) or ``"invsqrt"`` (1/sqrt(L)).

    >>> parse_branch_scales("1,invsqrt,0.25")
    ('1', 'invsqrt', '0.25')
    """
    items = spec.split(",") if isinstance(spec, str) else [spec] if isinstance(spec, (int, float)) else list(spec)
    out = []
    for item in items:
        text = str(item).strip().lower()
        if text == "invsqrt":
            out.append("invsqrt")
            continue
        try:
            value = check_finite_float("branch scale", float(text))
        except ValueError:
            raise CountnetsError(f"a branch scale must be a number or 'invsqrt', got {item!r}") from None
        out.append(f"{value:g}")
    if not out:
        raise CountnetsError("at least one branch scale is needed")
    if len(set(out)) != len(out):
        raise CountnetsError(f"branch scales must be distinct, got {out}")
    return tuple(out)


def resolve_branch_scale(spec: str | float, L: int) -> float:
    """The number alpha for a branch-scale spec at L blocks (``"invsqrt"`` is ``1/sqrt(L)``).

    >>> resolve_branch_scale("invsqrt", 4), resolve_branch_scale("0.5", 4)
    (0.5, 0.5)
    """
    if isinstance(spec, str) and spec.strip().lower() == "invsqrt":
        return 1.0 / math.sqrt(L) if L > 0 else 1.0
    return float(spec)
