"""countnets: measure the prior volume of parameter space that implements a function.

Public API, re-exported from the modules named in each import.
"""

from countnets import bench as bench
from countnets import measures as measures
from countnets._errors import CountnetsError as CountnetsError
from countnets._version import __version__ as __version__
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
