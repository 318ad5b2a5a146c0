"""The experiments' registry: one record per experiment, read by the command line, the plots and the loader.

Public as :mod:`countnets.experiments` (``cn.experiments.register``); defined here, below
the results layer (:mod:`countnets.results.payloads` and :mod:`countnets.results.plotting`
read it), so that no layer imports one above it.

Each experiment is one :class:`Experiment` record (a small record of functions, as an
optax transformation is): its name (the subcommand ``countnets experiment NAME`` and the
``kind`` of its results), how the command line adds its options and runs it, how a result
is shown, drawn and decoded. :func:`register` adds one; the command line
(``countnets experiment --help``), ``countnets plot`` and :func:`countnets.load_json` find it
there, so a new experiment needs no edit to the package. The built-in records name their
functions by module path (:class:`LazyAttribute`), so this module loads nothing heavy and
``countnets --help`` stays fast; their option parsers live in :mod:`countnets.cli`, which
nothing imports.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
from collections.abc import Callable, Mapping
from typing import Any

from countnets._errors import CountnetsError
from countnets.defaults import ENGINE_KINDS, LEGACY_KINDS

__all__ = ["Experiment", "LazyAttribute", "register", "registered", "get", "unregister"]

_NAME = re.compile(r"^[a-z][a-z0-9-]*$")


@dataclasses.dataclass(frozen=True)
class LazyAttribute:
    """A callable named by ``module`` and ``attribute``, imported on first call (so a registry entry costs nothing)."""

    module: str
    attribute: str

    def resolve(self) -> Any:
        """The object itself (imports its module)."""
        return getattr(importlib.import_module(self.module), self.attribute)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)


@dataclasses.dataclass(frozen=True)
class Experiment:
    """One experiment: its command, and how its results are shown, drawn and decoded.

    Attributes:
      name: the subcommand (``countnets experiment NAME``) and the ``kind`` of its results;
        lower case, digits and hyphens.
      help: one line for ``countnets experiment --help``.
      add_arguments: ``add_arguments(parser)`` adds the command's options to its
        ``argparse.ArgumentParser`` (the shared groups are in :mod:`countnets.cli.options`).
      run: ``run(args)`` runs the experiment from the parsed options and returns its
        :class:`~countnets.CountResult` of kind ``name`` (the command line prints
        ``format(result)``, writes ``--json`` and draws ``--plot``), or an exit code when
        the command wrote what it makes itself (a plan file, say).
      format: ``format(result) -> str``, the table printed after a run.
      plot: ``plot(result, path)`` writes the figures and returns their paths (or one
        path); ``None``: the experiment draws nothing (``--plot`` and ``countnets plot``
        say so).
      figures: the figures' names; the first is written at ``PATH``, the others at
        ``PATH_NAME`` with the same suffix.
      payload: the record type of a result's ``extra`` (a
        :func:`countnets.records.record` class), or a function of its top-level fields
        returning that type; ``None``: ``extra`` is kept as plain values.
      description: the paragraph at the top of the command's ``--help``.
      checkpoints: whether ``--checkpoint PATH`` makes the command resumable.
      bench_tasks: ``bench_tasks()`` returns the experiment's rows of the counting suite (a list
        of :class:`countnets.bench.Task`); ``None``: it has none. :mod:`countnets.bench` registers
        the tasks of every experiment registered when it is first imported; a later one adds
        its own with :func:`countnets.bench.register`.
    """

    # Checked in __post_init__ with one-line errors, so annotated loosely: (parser) -> None, (args) -> result or
    # int, (result) -> str, (result, path) -> paths, and a type or (fields) -> type.
    name: str
    help: str
    add_arguments: Any
    run: Any
    format: Any
    plot: Any = None
    figures: tuple[str, ...] = ("figure",)
    payload: Any = None
    description: str | None = None
    checkpoints: bool = False
    bench_tasks: Any = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise CountnetsError(f"an experiment's name is lower case, digits and hyphens, got {self.name!r}")
        for field in ("add_arguments", "run", "format"):
            if not callable(getattr(self, field)):
                raise CountnetsError(f"experiment {self.name!r}: {field} must be callable")
        if self.plot is not None and not callable(self.plot):
            raise CountnetsError(f"experiment {self.name!r}: plot must be callable or None")
        if self.bench_tasks is not None and not callable(self.bench_tasks):
            raise CountnetsError(f"experiment {self.name!r}: bench_tasks must be callable or None")
        if self.payload is not None and not callable(self.payload):
            raise CountnetsError(f"experiment {self.name!r}: payload must be a record type, a function or None")
        if not self.figures or not all(isinstance(f, str) and f for f in self.figures):
            raise CountnetsError(f"experiment {self.name!r}: figures must be non-empty names")

    def payload_type(self, fields: Mapping[str, Any]) -> type | None:
        """The record type of a result's ``extra`` with these top-level ``fields`` (``None``: plain values)."""
        if self.payload is None or isinstance(self.payload, type):
            return self.payload
        return self.payload(fields)


_REGISTRY: dict[str, Experiment] = {}
# Result kinds the engine itself writes, or wrote: no experiment may take their name.
_RESERVED = ENGINE_KINDS + LEGACY_KINDS


def register(experiment: Any, *, replace: bool = False) -> Experiment:
    """Add ``experiment`` to the registry; returns it (so it can decorate an assignment).

    Raises:
      CountnetsError: for something that is not an :class:`Experiment`, a name the engine's
        own results use (:data:`countnets.defaults.ENGINE_KINDS`, or the older ``estimate`` and
        ``histogram``), or a name already
        registered unless ``replace=True``.
    """
    if not isinstance(experiment, Experiment):
        raise CountnetsError(f"register takes a countnets.experiments.Experiment, got {type(experiment).__name__}")
    if experiment.name in _RESERVED:
        raise CountnetsError(f"{experiment.name!r} is the kind of the engine's own results; choose another name")
    if experiment.name in _REGISTRY and not replace:
        raise CountnetsError(
            f"an experiment named {experiment.name!r} is already registered (replace=True replaces it)"
        )
    _REGISTRY[experiment.name] = experiment
    return experiment


def unregister(name: str) -> None:
    """Remove the experiment called ``name`` (a user's, or a built-in one); an unknown name is an error."""
    if name not in _REGISTRY:
        raise CountnetsError(f"no experiment named {name!r} is registered")
    del _REGISTRY[name]


def registered() -> tuple[Experiment, ...]:
    """Every registered experiment, sorted by name (the order ``countnets experiment --help`` lists them)."""
    return tuple(_REGISTRY[name] for name in sorted(_REGISTRY))


def get(name: str) -> Experiment | None:
    """The experiment whose results have kind ``name``, or ``None``."""
    return _REGISTRY.get(name)


def _payload(name: str) -> LazyAttribute:
    return LazyAttribute("countnets.results.payloads", name)


def _detour_payload(fields: Mapping[str, Any]) -> type:
    return (_payload("WriteErasePayload") if fields.get("detour_kind") == "write-erase"
            else _payload("GoalPayload")).resolve()  # fmt: skip


def _flip_decisive_payload(fields: Mapping[str, Any]) -> type:
    return (_payload("FlipIntegratedPayload") if "analysis" in fields
            else _payload("FlipDecisivePayload")).resolve()  # fmt: skip


def _fixed(name: str) -> Callable[[Mapping[str, Any]], type]:
    return lambda fields: _payload(name).resolve()


def _builtin(name: str, cli: str, command: str, library: str, fmt: str, plot: tuple[str, str] | None,
             figures: tuple[str, ...], payload: Any, *, help: str, description: str,
             checkpoints: bool, bench: str | None = None) -> None:  # fmt: skip
    register(Experiment(
        name=name, help=help, description=description, checkpoints=checkpoints,
        bench_tasks=None if bench is None else LazyAttribute("countnets.bench.experiment_tasks", bench),
        add_arguments=LazyAttribute(f"countnets.cli.{cli}", f"add_{command}_arguments"),
        run=LazyAttribute(f"countnets.cli.{cli}", f"run_{command}"),
        format=LazyAttribute(f"countnets.experiments.{library}", fmt),
        plot=None if plot is None else LazyAttribute(*plot), figures=figures, payload=payload,
    ))  # fmt: skip


_builtin(
    "basin", "basin", "basin", "basin_volume", "format_basin", ("countnets.train.plots", "plot_basin"),
    ("volumes",), _fixed("BasinPayload"), checkpoints=True,
    help="prior volume of the basins around trained networks, with intervals, against the radial estimator",
    description="Train networks from the prior on S; for the first --anchors that fit S, the prior mass of the "
    "basin (same function, mean KL to the anchor within a tolerance), of its star domain, the star-domain "
    "radial estimate (Scherlis & Belrose 2025), and P(f) and P(f|S) (docs/basin.md).",
)
_builtin(
    "composition", "circuits", "composition", "composition", "format_composition",
    ("countnets.results.plotting", "plot_composition"), ("rows",), _fixed("CompositionPayload"), checkpoints=True,
    bench="composition_tasks",
    help="serial vs parallel on gate-built targets (parity of 4, XOR-and-XOR) in narrow-block ResMLPs",
    description="P(f), P(k* = k | f), the Hamming distance at order k*-1, min_depth and the "
    "parallel/serial ratio beside the placement null, per (target, form, n, d, L, w, alpha).",
)
_builtin(
    "detour", "circuits", "detour", "detour", "format_detour", ("countnets.results.plotting", "plot_detour"),
    ("volumes",), _detour_payload, checkpoints=True, bench="detour_tasks",
    help="detour vs direct volumes: cancelling block pairs (write-erase) or goal units (goal)",
    description="write-erase: ResMLPs implementing f with a cancelling pair of blocks vs with none. "
    "goal: GoalNets implementing f via a goal g (summed over g) vs directly. --width is d for "
    "write-erase and the hidden width w for goal.",
)
_builtin(
    "diverse", "training", "diverse", "diverse", "format_diverse", ("countnets.train.plots", "plot_diverse"),
    ("runs",), _fixed("DiversePayload"), checkpoints=False,
    help="sequential training runs rewarded for disagreeing off S with functions already found",
    description="Distinct functions found by K sequential runs, each rewarded for disagreeing off S with the "
    "earlier runs' functions, against independent restarts; and the first run at which B appears.",
)
_builtin(
    "flip", "training", "flip", "flip", "format_flip", ("countnets.experiments.flip", "plot_flip"),
    ("pairs",), _fixed("FlipPayload"), checkpoints=False, bench="flip_tasks",
    help="prior odds of two policies A, B fitting S and the pressure lambda* needed to make B as likely",
    description="Prior odds O = P(A|S)/P(B|S) and the least pressure lambda (loss term toward B's labels off S) "
    "at which training, and the exp(-lambda l_B)-tilted prior, find B at least as often as A.",
)
_builtin(
    "flip-decisive", "training", "flip_decisive", "flip_decisive", "format_flip_decisive",
    ("countnets.experiments.flip_decisive.integrated_plots", "plot_flip_decisive"), ("lambda_star",),
    _flip_decisive_payload,
    checkpoints=True,
    help="pre-registered flip test: >= 30 independent pairs, lambda* per pair (SGD, SMC-tilted prior), censored",
    description="Step 1 (--plan-out PATH): choose independent (S, A, B) pairs spread over ln O and write them, "
    "with the fixed primary analysis, before any training. Step 2 (--plan PATH): run them and analyse.",
)
_builtin(
    "serial-parallel", "circuits", "serial_parallel", "serial_parallel", "format_serial_parallel",
    ("countnets.results.plotting", "plot_serial_parallel"), ("ratio", "kstar"), _fixed("SerialParallelPayload"),
    checkpoints=True,
    bench="serial_parallel_tasks",
    help="effective depth k* of ResMLPs: parallel (k* <= 1) vs serial (k* >= 2) volume",
    description="Volume of ResMLP parameter space implementing functions in parallel (k* <= 1) "
    "versus serially (k* >= 2), per block count and branch scale.",
)
_builtin(
    "train-vs-prior", "training", "train_vs_prior", "train_vs_prior", "format_train_vs_prior",
    ("countnets.train.plots", "plot_train_vs_prior"), ("scatter",), _fixed("TrainVsPriorPayload"),
    checkpoints=False,
    help="P_opt(f|S) of optax-trained networks against the conditional prior P_prior(f|S)",
    description="Train many networks from the prior on S and compare where they land with the prior "
    "conditioned on fitting S (Mingard et al. 2021).",
)
