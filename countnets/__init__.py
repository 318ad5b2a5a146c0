"""countnets: measure the prior volume of parameter space that implements a function.

Public API, re-exported lazily: ``import countnets`` loads nothing heavy (no JAX, optax,
matplotlib or pandas); each name is imported from the module named in ``_EXPORTS`` on
first use (PEP 562 module ``__getattr__``). Submodules (``countnets.results``, ...) load
the same way.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings
from typing import TYPE_CHECKING, Any

from countnets._version import __version__ as __version__

# Public name -> (module, attribute); attribute None: the name is the module itself.
_EXPORTS: dict[str, tuple[str, str | None]] = {
    "bench": ("countnets.bench", None),
    "measures": ("countnets.measures", None),
    "experiments": ("countnets.experiments", None),
    "CountnetsError": ("countnets._errors", "CountnetsError"),
    "MLP": ("countnets.network.architectures", "MLP"),
    "GoalNet": ("countnets.network.architectures", "GoalNet"),
    "Architecture": ("countnets.network.architectures", "Architecture"),
    "ResMLP": ("countnets.network.architectures", "ResMLP"),
    "apply_flat_batch": ("countnets.network.architectures", "apply_flat_batch"),
    "cube": ("countnets.network.boolean", "cube"),
    "named_function": ("countnets.network.boolean", "named_function"),
    "pack_table": ("countnets.network.boolean", "pack_table"),
    "parse_function": ("countnets.network.boolean", "parse_function"),
    "to_hex": ("countnets.network.boolean", "to_hex"),
    "truth_table": ("countnets.network.boolean", "truth_table"),
    "unpack_table": ("countnets.network.boolean", "unpack_table"),
    "RunConfig": ("countnets.engine.driver", "RunConfig"),
    "IntervalConfig": ("countnets.engine.frontend", "IntervalConfig"),
    "RunOutcome": ("countnets.engine.driver", "RunOutcome"),
    "run_chunks": ("countnets.engine.driver", "run_chunks"),
    "build_chunk_counter": ("countnets.engine.estimators", "build_chunk_counter"),
    "build_chunk_histogram": ("countnets.engine.histograms", "build_chunk_histogram"),
    "enumerate_exact": ("countnets.engine.histograms", "enumerate_exact"),
    "estimate_mc": ("countnets.engine.estimators", "estimate_mc"),
    "histogram_mc": ("countnets.engine.histograms", "histogram_mc"),
    "Measure": ("countnets.measures", "Measure"),
    "Gaussian": ("countnets.network.priors", "Gaussian"),
    "Lattice": ("countnets.network.priors", "Lattice"),
    "Prior": ("countnets.network.priors", "Prior"),
    "Uniform": ("countnets.network.priors", "Uniform"),
    "CountResult": ("countnets.results", "CountResult"),
    "count_result": ("countnets.results", "count_result"),
    "Estimate": ("countnets.results", "Estimate"),
    "load_json": ("countnets.results", "load_json"),
    "save_json": ("countnets.results", "save_json"),
    "to_dataframe": ("countnets.results", "to_dataframe"),
    "estimate_rare": ("countnets.rare.splitting", "estimate_rare"),
    "sample_rare": ("countnets.rare.splitting", "sample_rare"),
    "SplittingOptions": ("countnets.rare.splitting", "SplittingOptions"),
    "RarePopulation": ("countnets.rare.replicas", "RarePopulation"),
    "clopper_pearson": ("countnets.stats.statistics", "clopper_pearson"),
    "jeffreys": ("countnets.stats.statistics", "jeffreys"),
    "ratio_interval": ("countnets.stats.statistics", "ratio_interval"),
    "wilson": ("countnets.stats.statistics", "wilson"),
    "build_step": ("countnets.engine.steps", "build_step"),
}

if TYPE_CHECKING:  # what a type checker sees: the plain imports
    from countnets import bench as bench
    from countnets import experiments as experiments
    from countnets import measures as measures
    from countnets._errors import CountnetsError as CountnetsError
    from countnets.engine.driver import RunConfig as RunConfig
    from countnets.engine.driver import RunOutcome as RunOutcome
    from countnets.engine.driver import run_chunks as run_chunks
    from countnets.engine.estimators import build_chunk_counter as build_chunk_counter
    from countnets.engine.estimators import estimate_mc as estimate_mc
    from countnets.engine.frontend import IntervalConfig as IntervalConfig
    from countnets.engine.histograms import build_chunk_histogram as build_chunk_histogram
    from countnets.engine.histograms import enumerate_exact as enumerate_exact
    from countnets.engine.histograms import histogram_mc as histogram_mc
    from countnets.engine.steps import build_step as build_step
    from countnets.measures import Measure as Measure
    from countnets.network.architectures import MLP as MLP
    from countnets.network.architectures import Architecture as Architecture
    from countnets.network.architectures import GoalNet as GoalNet
    from countnets.network.architectures import ResMLP as ResMLP
    from countnets.network.architectures import apply_flat_batch as apply_flat_batch
    from countnets.network.boolean import cube as cube
    from countnets.network.boolean import named_function as named_function
    from countnets.network.boolean import pack_table as pack_table
    from countnets.network.boolean import parse_function as parse_function
    from countnets.network.boolean import to_hex as to_hex
    from countnets.network.boolean import truth_table as truth_table
    from countnets.network.boolean import unpack_table as unpack_table
    from countnets.network.priors import Gaussian as Gaussian
    from countnets.network.priors import Lattice as Lattice
    from countnets.network.priors import Prior as Prior
    from countnets.network.priors import Uniform as Uniform
    from countnets.rare.replicas import RarePopulation as RarePopulation
    from countnets.rare.splitting import SplittingOptions as SplittingOptions
    from countnets.rare.splitting import estimate_rare as estimate_rare
    from countnets.rare.splitting import sample_rare as sample_rare
    from countnets.results import CountResult as CountResult
    from countnets.results import Estimate as Estimate
    from countnets.results import count_result as count_result
    from countnets.results import load_json as load_json
    from countnets.results import save_json as save_json
    from countnets.results import to_dataframe as to_dataframe
    from countnets.stats.statistics import clopper_pearson as clopper_pearson
    from countnets.stats.statistics import jeffreys as jeffreys
    from countnets.stats.statistics import ratio_interval as ratio_interval
    from countnets.stats.statistics import wilson as wilson



# Modules that moved into the subpackages (issue 27): old name -> new name under countnets. Importing an old
# name (``countnets.splitting``, ``from countnets import splitting``) still works, with a DeprecationWarning,
# and gives the module itself; the old names go in the next release.
_MOVED: dict[str, str] = {
    "_validate": "engine._validate",
    "accumulators": "engine.accumulators",
    "architectures": "network.architectures",
    "basin": "measures.basin",
    "boolean": "network.boolean",
    "censored": "experiments.flip_decisive.censored",
    "checkpoint": "engine.checkpoint",
    "circuits": "measures.circuits",
    "composition": "measures.composition",
    "conditional": "train.conditional",
    "cones": "engine.cones",
    "driver": "engine.driver",
    "estimators": "engine.estimators",
    "integrate": "engine.integrate",
    "layout": "network.layout",
    "moves": "rare.moves",
    "passes": "engine.passes",
    "payloads": "results.payloads",
    "pilot": "rare.pilot",
    "plotting": "results.plotting",
    "priors": "network.priors",
    "rare_pairs": "experiments.flip_decisive.rare_pairs",
    "reliability": "stats.reliability",
    "replicas": "rare.replicas",
    "report": "results.report",
    "sharding": "engine.sharding",
    "smc": "experiments.flip_decisive.smc",
    "sources": "engine.sources",
    "splitting": "rare.splitting",
    "statistics": "stats.statistics",
    "steps": "engine.steps",
    "symmetry": "network.symmetry",
    "tolerance": "stats.tolerance",
    "trainer": "train.trainer",
    "training": "train.training",
    "training_plots": "train.plots",
    "training_results": "train.training_results",
}


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Import ``countnets.OLD`` as the module now at ``countnets.<subpackage>.OLD``, with one warning."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        old = fullname.removeprefix(__name__ + ".")
        if fullname.startswith(__name__ + ".") and old in _MOVED:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec: Any) -> Any:
        new = f"{__name__}.{_MOVED[spec.name.removeprefix(__name__ + '.')]}"
        warnings.warn(f"{spec.name} moved to {new}; import it from there (the old name goes in the next release)",
                      DeprecationWarning, stacklevel=2)  # fmt: skip
        module = importlib.import_module(new)
        spec.loader_state = module.__spec__  # the import system sets __spec__ to the alias's; exec_module puts it back
        return module

    def exec_module(self, module: Any) -> None:
        module.__spec__ = module.__spec__.loader_state


if not any(isinstance(finder, _MovedModules) for finder in sys.meta_path):
    sys.meta_path.append(_MovedModules())


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
    "IntervalConfig",
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
    "SplittingOptions",
    "RarePopulation",
    "Gaussian",
    "Lattice",
    "Uniform",
    "Prior",
    "Architecture",
    "CountResult",
    "count_result",
    "Estimate",
    "load_json",
    "save_json",
    "to_dataframe",
    "clopper_pearson",
    "jeffreys",
    "ratio_interval",
    "wilson",
]
