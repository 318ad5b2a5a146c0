"""What every counting front end shares, and what an experiment needs to run a counting pass of its own.

* :class:`IntervalConfig`, :func:`interval_config` and :func:`check_interval`: the interval's confidence and method;
* :func:`normalise_targets` and :func:`normalise_measures`: truth tables, hex, names and
  measures checked and named as results name them;
* :func:`base_config`: the config every result records;
* :func:`run_config`: a :class:`~countnets.engine.driver.RunConfig` from ``run=`` or from keywords (not both);
* :func:`run_step`: one pass of a step through the driver, checkpoint and all;
* :func:`pass_result`: the :class:`~countnets.results.CountResult` of that pass.

The front ends themselves are :mod:`countnets.engine.estimators` (Monte Carlo) and
:mod:`countnets.engine.histograms` (histograms and exact enumeration).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import jax
from jaxtyping import Array, Int, PRNGKeyArray

from countnets import measures as measures_lib
from countnets._errors import CountnetsError, check_finite_float, check_type
from countnets.engine._validate import FUNCTION_TYPES, check_function, check_measure
from countnets.engine.driver import RunConfig, RunOutcome, run_chunks, seed_key
from countnets.engine.sources import ChunkSource
from countnets.engine.steps import check_precision
from countnets.measures import Measure
from countnets.network import boolean
from countnets.network.architectures import Architecture
from countnets.network.priors import PRNG_DESCRIPTION, Prior
from countnets.records import Record
from countnets.results import CountResult, Estimate, count_result
from countnets.stats import statistics

__all__ = [
    "IntervalConfig",
    "interval_config",
    "check_interval",
    "base_config",
    "normalise_targets",
    "normalise_measures",
    "given",
    "run_config",
    "run_step",
    "pass_result",
    "Step",
]

Step = Callable[[PRNGKeyArray, Int[Array, " batch"], Int[Array, " batch"]], dict[str, Array]]


@dataclasses.dataclass(frozen=True)
class IntervalConfig:
    """How a front end builds its intervals, validated once.

    Attributes:
      confidence: the interval's confidence level, in (0, 1).
      method: for a binomial count (:func:`countnets.estimate_mc`, :func:`countnets.histogram_mc`),
        ``"clopper-pearson"`` (default), ``"wilson"`` or ``"jeffreys"``. A front end with an
        interval of its own (splitting's log-t over replicas, an exact enumeration) takes only
        the default and refuses another method in one line.

    Raises:
      CountnetsError: for a confidence outside (0, 1) or an unknown method.
    """

    confidence: float = 0.95
    method: str = "clopper-pearson"

    def __post_init__(self):
        object.__setattr__(self, "confidence", check_interval(self.confidence, self.method))


def interval_config(interval: Any, where: str, **options: Any) -> IntervalConfig:
    """``interval`` if given (then ``options``, the keywords ``confidence`` and ``method``, must be left at their
    defaults), else an :class:`IntervalConfig` of ``options``.

    Raises:
      CountnetsError: for ``interval`` of another type, or given beside a changed keyword.
    """
    if interval is None:
        return IntervalConfig(**options)
    if not isinstance(interval, IntervalConfig):
        raise CountnetsError(f"{where}: interval must be a countnets.IntervalConfig, got {type(interval).__name__}")
    defaults = {f.name: f.default for f in dataclasses.fields(IntervalConfig)}
    clash = [k for k, v in options.items() if v != defaults[k]]
    if clash:
        raise CountnetsError(f"{where}: give interval options either in interval= or as arguments, not both "
                             f"({', '.join(clash)})")  # fmt: skip
    return interval


def check_interval(confidence: float, method: str) -> float:
    """``confidence`` if it is in (0, 1) and ``method`` is an interval method; else :class:`CountnetsError`."""
    confidence = check_finite_float("confidence", confidence)
    if not 0 < confidence < 1:
        raise CountnetsError(f"confidence must be in (0, 1), got {confidence}")
    if method not in statistics.INTERVAL_METHODS:
        raise CountnetsError(f"unknown interval method {method!r}; expected one of {statistics.INTERVAL_METHODS}")
    return confidence


def base_config(prior: Prior, arch: Architecture, encoding: str, precision: str, margin: float, method: str) -> dict:
    """The config every result records: architecture, prior, encoding, precision, margin, interval, PRNG."""
    if encoding not in boolean.ENCODINGS:
        raise CountnetsError(f"encoding must be one of {boolean.ENCODINGS}, got {encoding!r}")
    return {
        "arch": arch.config(),
        "prior": prior.config(),
        "encoding": encoding,
        "precision": check_precision(precision),
        "margin": margin,
        "interval": method,
        "prng": PRNG_DESCRIPTION,
    }


_FUNCTIONS = "a function (int truth table, hex or name) or a list of them"
_MEASURES = "a Measure or a function (int truth table, hex or name), or a list of them"


def normalise_targets(targets: Iterable[int | str] | int | str, n: int, *, where: str = "") -> list[int]:
    """Distinct int truth tables from ints, hex strings or names (at least one).

    Raises:
      CountnetsError: for an empty list, a repeated target, or one that is not a function of ``n`` inputs;
        a ``TypeError`` too for a ``targets`` or target of the wrong type (named with ``where``, the front end).
    """
    if isinstance(targets, FUNCTION_TYPES) and not isinstance(targets, bool):
        targets = [targets]
    check_type(targets, Iterable, "targets", _FUNCTIONS, where=where, exclude=(dict, bytes))
    out = []
    for t in targets:
        check_function(t, where, "a target")
        if isinstance(t, str):
            out.append(boolean.parse_function(t, n))
        else:
            if not 0 <= int(t) < 2 ** (2**n):
                raise CountnetsError(f"target {t} is out of range for n={n}")
            out.append(int(t))
    if not out:
        raise CountnetsError("at least one target function is needed")
    if len(set(out)) != len(out):
        raise CountnetsError(f"targets must be distinct, got {[boolean.to_hex(t) for t in out]}")
    return out


def normalise_measures(
    measures: Any, n: int, where: str = "estimate_mc"
) -> tuple[list[Measure], list[str], list[int] | None]:
    """Measures, their estimate names, and the int targets when every measure is ``implements(f)``.

    Ints, hex and names mean :func:`countnets.measures.implements`; estimates of
    ``implements(f)`` are named by the hex table of f, as results always were.
    """
    if isinstance(measures, (Measure, *FUNCTION_TYPES)) and not isinstance(measures, bool):
        measures = [measures]
    check_type(measures, Iterable, "measures", _MEASURES, where=where, exclude=(dict, bytes))
    items = list(measures)
    if items and all(not isinstance(m, Measure) for m in items):
        targets = normalise_targets(items, n, where=where)
        return [measures_lib.implements(t) for t in targets], [boolean.to_hex(t) for t in targets], targets
    out = [check_measure(m, where, "a measure") for m in items]
    if not out:
        raise CountnetsError("at least one measure is needed")
    tables = [measures_lib.target_of(m, n) for m in out]
    names = [m.name if t is None else boolean.to_hex(t) for m, t in zip(out, tables, strict=True)]
    if len(set(names)) != len(names):
        raise CountnetsError(f"measures must be distinct, got {names}")
    return out, names, None if None in tables else tables  # type: ignore[return-value]


def run_step(
    step: Step,
    acc: Any,
    *,
    run: RunConfig,
    source: ChunkSource,
    kind: str,
    config: dict,
    bytes_per_network: int,
    description: str,
    n_samples: int | None = None,
    seed: int | None = -1,
    should_stop: Callable[[int], str | None] | None = None,
    checkpoint_suffix: str = "",
    fingerprint_extra: dict | None = None,
) -> RunOutcome:
    """Run ``step`` over ``run.n_samples`` samples (or ``n_samples``, every lattice configuration) into ``acc``.

    The checkpoint (with ``run.checkpoint``, suffixed by ``checkpoint_suffix``) is that of
    run ``kind`` with ``config`` and ``fingerprint_extra``. ``seed=None`` marks an
    enumeration: no seed, and the key is unused.
    """
    n_run = run.n_samples if n_samples is None else n_samples
    run_seed = run.seed if seed == -1 else seed
    fingerprint = run.fingerprint(
        kind, config, seed=run_seed, chunk_size=source.chunk_size, n_samples=n_run, **(fingerprint_extra or {})
    )
    ckpt = run.open_checkpoint(fingerprint, checkpoint_suffix)
    return run_chunks(
        step,
        acc.merge,
        key=jax.random.PRNGKey(0) if run_seed is None else seed_key(run_seed),
        chunk_size=source.chunk_size,
        n_samples=n_run,
        chunks_per_step=run.steps_for(source.chunk_size, bytes_per_network),
        should_stop=should_stop,
        max_seconds=run.max_seconds,
        progress=run.progress,
        description=description,
        devices=run.devices,
        checkpoint=ckpt,
        state=acc if ckpt is not None else None,
    )


def pass_result(
    kind: str,
    config: dict,
    *,
    seed: int | None,
    source: ChunkSource,
    outcome: RunOutcome,
    estimates: Sequence[Estimate],
    nonfinite: int,
    near: int,
    histogram: dict[int, int] | None = None,
    stopped_by: str | None = None,
    extra: Any = None,
) -> CountResult:
    """The :class:`CountResult` of one counting pass (``stopped_by`` overrides the outcome's).

    ``extra`` is the payload (a record of :mod:`countnets.results.payloads`, or a dict); the run
    information ``checkpoint`` (path, ``resumed_from``, seconds) and ``processes`` is
    added to it when there is any.
    """
    info: dict[str, Any] = {}
    if outcome.checkpoint is not None:
        info["checkpoint"] = {
            "path": outcome.checkpoint,
            "resumed_from": outcome.resumed_from,
            "seconds_before": outcome.seconds_before,
            "seconds_total": outcome.seconds_before + outcome.seconds,
        }
    if outcome.processes > 1:
        info["processes"] = outcome.processes
    if isinstance(extra, Record):
        extra = dataclasses.replace(extra, **info)
    else:
        extra = {**(extra or {}), **info}
    return count_result(
        kind, config, seed=seed, chunk_size=source.chunk_size, samples=outcome.samples, exact=source.exact,
        histogram=None if histogram is None else {boolean.to_hex(k): v for k, v in sorted(histogram.items())},
        estimates=estimates, nonfinite=nonfinite, near_threshold=near,
        stopped_by=outcome.stopped_by if stopped_by is None else stopped_by, seconds=outcome.seconds,
        samples_per_s=outcome.samples_per_s, device_count=outcome.devices, extra=extra,
    )  # fmt: skip


def given(targets: Any) -> bool:
    """Whether ``targets`` names any (``None``, ``()``, ``[]`` and ``""`` do not; the int 0 does).

    Anything else goes to :func:`normalise_targets`, which checks its type.
    """
    return targets is not None and not (isinstance(targets, (list, tuple, str)) and len(targets) == 0)


def run_config(run: RunConfig | None, **options: Any) -> RunConfig:
    """``run`` if given (then no other run option may be), else a :class:`RunConfig` of ``options``."""
    if run is None:
        return RunConfig(**options)
    if not isinstance(run, RunConfig):
        raise CountnetsError(f"run must be a countnets.RunConfig, got {type(run).__name__}")
    defaults = {f.name: f.default for f in dataclasses.fields(RunConfig)}
    clash = [k for k, v in options.items() if k != "n_samples" and v != defaults.get(k)]
    if clash or options.get("n_samples") is not None:
        named = ", ".join(clash or ["n_samples"])
        raise CountnetsError(f"give run options either in run= or as arguments, not both ({named})")
    return run
