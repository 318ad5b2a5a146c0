"""countnets: measure the prior volume of parameter space that implements a function.

Public API, re-exported lazily: ``import countnets`` loads nothing heavy (no JAX, optax,
matplotlib or pandas); each name is imported from the module named in ``_EXPORTS`` on
first use (PEP 562 module ``__getattr__``). Submodules (``countnets.results``, ...) load
the same way.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from countnets._version import __version__ as __version__

# Public name -> (module, attribute); attribute None: the name is the module itself.
_EXPORTS: dict[str, tuple[str, str | None]] = {
    "bench": ("countnets.bench", None),
    "measures": ("countnets.measures", None),
    "experiments": ("countnets.experiments", None),
    "CountnetsError": ("countnets._errors", "CountnetsError"),
    "MLP": ("countnets.architectures", "MLP"),
    "GoalNet": ("countnets.architectures", "GoalNet"),
    "ResMLP": ("countnets.architectures", "ResMLP"),
    "apply_flat_batch": ("countnets.architectures", "apply_flat_batch"),
    "cube": ("countnets.boolean", "cube"),
    "named_function": ("countnets.boolean", "named_function"),
    "pack_table": ("countnets.boolean", "pack_table"),
    "parse_function": ("countnets.boolean", "parse_function"),
    "to_hex": ("countnets.boolean", "to_hex"),
    "truth_table": ("countnets.boolean", "truth_table"),
    "unpack_table": ("countnets.boolean", "unpack_table"),
    "RunConfig": ("countnets.driver", "RunConfig"),
    "RunOutcome": ("countnets.driver", "RunOutcome"),
    "run_chunks": ("countnets.driver", "run_chunks"),
    "build_chunk_counter": ("countnets.estimators", "build_chunk_counter"),
    "build_chunk_histogram": ("countnets.estimators", "build_chunk_histogram"),
    "enumerate_exact": ("countnets.estimators", "enumerate_exact"),
    "estimate_mc": ("countnets.estimators", "estimate_mc"),
    "histogram_mc": ("countnets.estimators", "histogram_mc"),
    "Measure": ("countnets.measures", "Measure"),
    "Gaussian": ("countnets.priors", "Gaussian"),
    "Lattice": ("countnets.priors", "Lattice"),
    "Uniform": ("countnets.priors", "Uniform"),
    "CountResult": ("countnets.results", "CountResult"),
    "Estimate": ("countnets.results", "Estimate"),
    "load_json": ("countnets.results", "load_json"),
    "save_json": ("countnets.results", "save_json"),
    "to_dataframe": ("countnets.results", "to_dataframe"),
    "estimate_rare": ("countnets.splitting", "estimate_rare"),
    "sample_rare": ("countnets.splitting", "sample_rare"),
    "clopper_pearson": ("countnets.statistics", "clopper_pearson"),
    "jeffreys": ("countnets.statistics", "jeffreys"),
    "ratio_interval": ("countnets.statistics", "ratio_interval"),
    "wilson": ("countnets.statistics", "wilson"),
    "build_step": ("countnets.steps", "build_step"),
}

if TYPE_CHECKING:  # what a type checker sees: the plain imports
    from countnets import bench as bench
    from countnets import experiments as experiments
    from countnets import measures as measures
    from countnets._errors import CountnetsError as CountnetsError
    from countnets.architectures import MLP as MLP
    from countnets.architectures import GoalNet as GoalNet
    from countnets.architectures import ResMLP as ResMLP
    from countnets.architectures import apply_flat_batch as apply_flat_batch
    from countnets.boolean import cube as cube
    from countnets.boolean import named_function as named_function
    from countnets.boolean import pack_table as pack_table
    from countnets.boolean import parse_function as parse_function
    from countnets.boolean import to_hex as to_hex
    from countnets.boolean import truth_table as truth_table
    from countnets.boolean import unpack_table as unpack_table
    from countnets.driver import RunConfig as RunConfig
    from countnets.driver import RunOutcome as RunOutcome
    from countnets.driver import run_chunks as run_chunks
    from countnets.estimators import build_chunk_counter as build_chunk_counter
    from countnets.estimators import build_chunk_histogram as build_chunk_histogram
    from countnets.estimators import enumerate_exact as enumerate_exact
    from countnets.estimators import estimate_mc as estimate_mc
    from countnets.estimators import histogram_mc as histogram_mc
    from countnets.measures import Measure as Measure
    from countnets.priors import Gaussian as Gaussian
    from countnets.priors import Lattice as Lattice
    from countnets.priors import Uniform as Uniform
    from countnets.results import CountResult as CountResult
    from countnets.results import Estimate as Estimate
    from countnets.results import load_json as load_json
    from countnets.results import save_json as save_json
    from countnets.results import to_dataframe as to_dataframe
    from countnets.splitting import estimate_rare as estimate_rare
    from countnets.splitting import sample_rare as sample_rare
    from countnets.statistics import clopper_pearson as clopper_pearson
    from countnets.statistics import jeffreys as jeffreys
    from countnets.statistics import ratio_interval as ratio_interval
    from countnets.statistics import wilson as wilson
    from countnets.steps import build_step as build_step


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        module, attribute = _EXPORTS[name]
        value = importlib.import_module(module)
        if attribute is not None:
            value = getattr(value, attribute)
        globals()[name] = value  # later lookups skip this function
        return value
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as err:
        if err.name != f"{__name__}.{name}":
            raise
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


__all__ = [
    "CountnetsError",
    "__version__",
    "MLP",
    "GoalNet",
    "ResMLP",
    "apply_flat_batch",
    "cube",
    "named_function",
    "pack_table",
    "parse_function",
    "to_hex",
    "truth_table",
    "unpack_table",
    "measures",
    "experiments",
    "bench",
    "Measure",
    "RunConfig",
    "RunOutcome",
    "run_chunks",
    "build_step",
    "build_chunk_counter",
    "build_chunk_histogram",
    "enumerate_exact",
    "estimate_mc",
    "histogram_mc",
    "estimate_rare",
    "sample_rare",
    "Gaussian",
    "Lattice",
    "Uniform",
    "CountResult",
    "Estimate",
    "load_json",
    "save_json",
    "to_dataframe",
    "clopper_pearson",
    "jeffreys",
    "ratio_interval",
    "wilson",
]
