"""Front ends: Monte Carlo counts and histograms, and exact lattice enumeration, of any measure.

Each front end is a measure (:mod:`countnets.measures`), one step from
:func:`countnets.engine.steps.build_step`, an accumulator (:mod:`countnets.engine.accumulators`) and
one call of the driver (:func:`countnets.engine.driver.run_chunks`), configured by a
:class:`countnets.engine.driver.RunConfig`. The helpers an experiment needs to do the same
(:func:`check_interval`, :func:`base_config`, :func:`run_step`, :func:`pass_result`)
are public here; the engine's parts live in :mod:`countnets.engine.sources`,
:mod:`countnets.engine.steps`, :mod:`countnets.engine.accumulators` and :mod:`countnets.engine.driver`, and
are re-exported under their old names.
"""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import jax
from jaxtyping import Array, Int, PRNGKeyArray

from countnets import measures as measures_lib
from countnets._errors import CountnetsError, check_finite_float, check_positive_int, check_type
from countnets.defaults import READOUTS  # noqa: F401 (re-exported)
from countnets.engine import checkpoint as checkpoint_lib
from countnets.engine import integrate
from countnets.engine._validate import FUNCTION_TYPES, check_function, check_measure, check_prior_and_arch
from countnets.engine.accumulators import (
    DEFAULT_MAX_DISTINCT,
    CountAccumulator,
    HistogramAccumulator,
    KeyedAccumulator,
    merge_histogram_step,
)
from countnets.engine.driver import RunConfig, RunOutcome, run_chunks, seed_key
from countnets.engine.sources import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_MAX_EXACT,
    Blocking,
    ChunkSource,
    lattice_source,
    map_blocks,
    network_bytes,
    plan_blocking,
    sampling_source,
)
from countnets.engine.steps import (
    DEFAULT_MARGIN,
    PRECISIONS,
    build_step,
    check_precision,
    chunk_tables,
    sorted_run_counts,
)
from countnets.measures import Measure
from countnets.network import boolean
from countnets.network.architectures import DEFAULT_PRECISION, Architecture
from countnets.network.priors import PRNG_DESCRIPTION, Prior
from countnets.records import Record
from countnets.results import CountResult, Estimate, count_result, make_estimate
from countnets.stats import statistics

__all__ = [
    # front ends
    "estimate_mc",
    "histogram_mc",
    "enumerate_exact",
    "histogram_estimates",
    # what an experiment needs to build its own counting pass
    "check_interval",
    "base_config",
    "normalise_targets",
    "run_step",
    "pass_result",
    "widen",
    # re-exported from the engine modules (sources, steps, accumulators, driver)
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_MARGIN",
    "DEFAULT_MAX_EXACT",
    "DEFAULT_MAX_DISTINCT",
    "PRECISIONS",
    "ChunkSource",
    "sampling_source",
    "lattice_source",
    "chunk_tables",
    "Blocking",
    "plan_blocking",
    "map_blocks",
    "network_bytes",
    "build_step",
    "build_chunk_counter",
    "build_chunk_histogram",
    "sorted_run_counts",
    "merge_histogram_step",
    "HistogramAccumulator",
    "CountAccumulator",
    "KeyedAccumulator",
    "RunConfig",
    "RunOutcome",
    "run_chunks",
]

Step = Callable[[PRNGKeyArray, Int[Array, " batch"], Int[Array, " batch"]], dict[str, Array]]


def build_chunk_counter(
    source: ChunkSource,
    arch: Architecture,
    targets: Sequence[int],
    *,
    encoding: str = "01",
    precision: str = DEFAULT_PRECISION,
    margin: float = DEFAULT_MARGIN,
    blocking: Blocking | None = None,
) -> Step:
    """:func:`build_step` counting :func:`countnets.measures.implements` of each target.

    The step returns int32 ``hits`` (one per target), ``nonfinite`` and ``near``.
    """
    return build_step(
        source, arch, [measures_lib.implements(int(t)) for t in targets], reduce="count", encoding=encoding,
        precision=precision, margin=margin, blocking=blocking,
    )  # fmt: skip


def build_chunk_histogram(
    source: ChunkSource,
    arch: Architecture,
    *,
    encoding: str = "01",
    precision: str = DEFAULT_PRECISION,
    margin: float = DEFAULT_MARGIN,
    blocking: Blocking | None = None,
) -> Step:
    """:func:`build_step` with the histogram of :func:`countnets.measures.table`.

    Merge its output with :class:`HistogramAccumulator`.
    """
    return build_step(
        source, arch, measures_lib.table(), reduce="histogram", encoding=encoding, precision=precision,
        margin=margin, blocking=blocking,
    )  # fmt: skip


# ----------------------------------------------------------------------------- helpers shared with experiments


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




def _estimate_integrated(prior, arch, measures, *, n_samples, seed, encoding, chunk_size, confidence, method,
                         precision, run, unsupported) -> CountResult:  # fmt: skip
    """``estimate_mc(readout="integrate")``: the checks, then :func:`countnets.engine.integrate.estimate_integrated`."""
    given = {"run": run is not None, **{name: unsupported[name] is not None for name in sorted(unsupported)}}
    integrate.refuse_options(given, " yet: it runs n_samples hidden draws in one process")
    if method != "clopper-pearson":
        raise CountnetsError(f"readout='integrate' has its own interval (log-t over draws); method={method!r} is "
                             "a binomial interval")  # fmt: skip
    chosen = measures if isinstance(measures, (Measure, int, str)) else list(measures)
    if isinstance(chosen, list):
        if len(chosen) != 1:
            raise CountnetsError(f"readout='integrate' estimates one measure at a time, got {len(chosen)}")
        chosen = chosen[0]
    if n_samples is None:
        raise CountnetsError("readout='integrate' needs n_samples (the number of hidden draws)")
    config = base_config(prior, arch, encoding, precision, DEFAULT_MARGIN, "log-t")
    return integrate.estimate_integrated(
        prior, arch, chosen, config=config, n_samples=n_samples, seed=seed, encoding=encoding, precision=precision,
        confidence=confidence,
        draws_per_chunk=integrate.DEFAULT_DRAWS_PER_CHUNK if chunk_size == DEFAULT_CHUNK_SIZE else chunk_size,
    )  # fmt: skip


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


def _normalise_measures(
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


def widen(est: Estimate, undercount: int) -> Estimate:
    """An estimate whose count is a lower bound ``hits <= true <= hits + undercount``.

    The interval runs from the lower end at ``hits`` to the upper end at
    ``hits + undercount`` (both ends are monotone in the count, so the coverage holds);
    the method gets a ``"+truncation"`` suffix.
    """
    if undercount <= 0:
        return est
    high_hits = min(est.n, est.hits + undercount)
    if est.method == "exact":
        lo, hi = est.p, high_hits / est.n
    else:
        lo = est.ci[0]
        hi = statistics.binomial_interval(high_hits, est.n, est.confidence, est.method)[1]
    return dataclasses.replace(
        est, ci=(lo, hi), method=est.method + "+truncation", bits_ci=(statistics.bits(hi), statistics.bits(lo))
    )


def _histogram_extra(acc: HistogramAccumulator, extra_undercount: int = 0) -> dict[str, Any]:
    return {
        "max_distinct": acc.max_distinct,
        "other": acc.other,
        "max_undercount": acc.max_undercount + extra_undercount,
        "distinct_kept": len(acc.histogram),
    }


# ----------------------------------------------------------------------------- front ends


def _given(targets: Any) -> bool:
    """Whether ``targets`` names any (``None``, ``()``, ``[]`` and ``""`` do not; the int 0 does).

    Anything else goes to :func:`normalise_targets`, which checks its type.
    """
    return targets is not None and not (isinstance(targets, (list, tuple, str)) and len(targets) == 0)


def _run_config(run: RunConfig | None, **options: Any) -> RunConfig:
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


def estimate_mc(
    prior: Prior,
    arch: Architecture,
    measures: Measure | Sequence[Measure | int | str] | int | str,
    *,
    n_samples: int | None = None,
    seed: int = 0,
    encoding: str = "01",
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    chunks_per_step: int | None = None,
    confidence: float = 0.95,
    method: str = "clopper-pearson",
    rel_halfwidth: float | None = None,
    max_seconds: float | None = None,
    precision: str = DEFAULT_PRECISION,
    margin: float = DEFAULT_MARGIN,
    progress: bool | float = False,
    devices: int | None = None,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: float = checkpoint_lib.DEFAULT_EVERY_SECONDS,
    run: RunConfig | None = None,
    readout: str = "sample",
) -> CountResult:
    """Monte Carlo estimate of ``P(event)`` under the prior, for each measure.

    Args:
      prior: parameter prior.
      arch: architecture.
      measures: a measure with an event (:mod:`countnets.measures`), or a list of them;
        ints, hex strings and names mean :func:`countnets.measures.implements` (see
        :func:`countnets.parse_function`), and their estimates are named by the hex table.
      n_samples: samples to draw (the maximum, when another stop rule is given).
      seed: integer seed, ``0 <= seed < 2**32``.
      encoding: ``"01"`` or ``"pm1"``.
      chunk_size: samples per chunk C (part of the random stream: keep it fixed to
        reproduce a run).
      chunks_per_step: chunks per step over all devices (any value gives identical
        counts; default: a per-device memory budget times the device count).
      confidence: interval confidence level.
      method: ``"clopper-pearson"`` (default), ``"wilson"`` or ``"jeffreys"``.
      rel_halfwidth: stop once every measure has hits and interval half-width / p at most this.
      max_seconds: stop after the first step past this wall time.
      precision: matmul precision, ``"highest"`` (default), ``"high"`` or ``"default"``.
      margin: outputs with ``|y| <= margin`` count as near the threshold.
      progress: show a progress bar (only on a terminal, after 2 s).
      devices: local devices to shard chunks over (default: all; counts do not depend on it).
      checkpoint: save progress to this file and resume from it (see :func:`run_chunks`).
      checkpoint_every: seconds between checkpoint saves (0: after every step).
      run: all run options at once, as a :class:`RunConfig` (then give none of
        ``n_samples`` .. ``checkpoint_every`` separately).
      readout: ``"sample"`` (default) draws every parameter; ``"integrate"`` draws the
        hidden layers only and integrates the readout's Gaussian cone mass
        (:mod:`countnets.engine.integrate`: conditional Monte Carlo, one measure whose event is a
        cone in the readout, a Gaussian prior; ``n_samples`` hidden draws, ``chunk_size``
        draws per chunk, 256 when left at the Monte Carlo default, results independent of
        it; no stop rules, checkpoints or devices yet).

    Returns:
      A :class:`CountResult` with one estimate per measure, in the order given.

    Raises:
      CountnetsError: for invalid arguments or a checkpoint of another run.
      TypeError: (a ``CountnetsError`` too) for a prior or arch of the wrong type, e.g.
        the two swapped.
    """
    check_prior_and_arch(prior, arch, "estimate_mc")
    if readout not in READOUTS:
        raise CountnetsError(f"readout must be one of {', '.join(READOUTS)}, got {readout!r}")
    if readout == "integrate":
        return _estimate_integrated(
            prior, arch, measures, n_samples=n_samples, seed=seed, encoding=encoding, chunk_size=chunk_size,
            confidence=confidence, method=method, precision=precision, run=run,
            unsupported={"chunks_per_step": chunks_per_step, "rel_halfwidth": rel_halfwidth,
                         "max_seconds": max_seconds, "devices": devices, "checkpoint": checkpoint},
        )  # fmt: skip
    run = _run_config(
        run, n_samples=n_samples, seed=seed, chunk_size=chunk_size, chunks_per_step=chunks_per_step, devices=devices,
        checkpoint=checkpoint, checkpoint_every=checkpoint_every, max_seconds=max_seconds,
        rel_halfwidth=rel_halfwidth, progress=progress,
    )  # fmt: skip
    confidence = check_interval(confidence, method)
    chosen, names, targets = _normalise_measures(measures, arch.n, "estimate_mc")
    config = base_config(prior, arch, encoding, precision, margin, method)
    config["targets"] = names
    if targets is None:
        config["measures"] = measures_lib.describe(chosen)
    source = run.sampling_source(prior, arch)
    step = build_step(source, arch, chosen, reduce="count", encoding=encoding, precision=precision, margin=margin)
    acc = CountAccumulator([0] * len(chosen))

    def should_stop(done: int) -> str | None:
        if run.rel_halfwidth is None:
            return None
        for h in acc.hits:
            if h == 0:
                return None
            lo, hi = statistics.binomial_interval(h, done, confidence, method)
            if (hi - lo) / 2 > run.rel_halfwidth * (h / done):
                return None
        return "rel_halfwidth"

    outcome = run_step(
        step, acc, run=run, source=source, kind="estimate", config=config, bytes_per_network=network_bytes(arch),
        description="estimate", should_stop=should_stop,
    )  # fmt: skip
    estimates = [
        make_estimate(name, h, outcome.samples, confidence=confidence, method=method)
        for name, h in zip(names, acc.hits, strict=True)
    ]
    return pass_result(
        "estimate", config, seed=run.seed, source=source, outcome=outcome, estimates=estimates,
        nonfinite=acc.nonfinite, near=acc.near,
    )  # fmt: skip


def histogram_estimates(
    histogram: dict[int, int] | Counter,
    total: int,
    *,
    top: int | None = None,
    confidence: float = 0.95,
    method: str = "clopper-pearson",
    functions: Sequence[int] = (),
) -> list[Estimate]:
    """Estimates for the ``top`` most frequent functions (ties: smaller table first), then ``functions``.

    ``method="exact"`` for enumerations gives exact probabilities ``count / total``.
    """
    ranked = sorted(histogram.items(), key=lambda kv: (-kv[1], kv[0]))
    chosen = [k for k, _ in (ranked if top is None else ranked[:top])]
    chosen += [f for f in functions if f not in chosen]
    return [
        make_estimate(boolean.to_hex(k), histogram.get(k, 0), total, confidence=confidence, method=method)
        for k in chosen
    ]


def histogram_mc(
    prior: Prior,
    arch: Architecture,
    *,
    n_samples: int | None = None,
    seed: int = 0,
    encoding: str = "01",
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    chunks_per_step: int | None = None,
    confidence: float = 0.95,
    method: str = "clopper-pearson",
    top: int | None = 10,
    targets: Sequence[int | str] | int | str = (),
    max_seconds: float | None = None,
    precision: str = DEFAULT_PRECISION,
    margin: float = DEFAULT_MARGIN,
    progress: bool | float = False,
    devices: int | None = None,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: float = checkpoint_lib.DEFAULT_EVERY_SECONDS,
    max_distinct: int | None = DEFAULT_MAX_DISTINCT,
    where: Measure | int | str | None = None,
    run: RunConfig | None = None,
) -> CountResult:
    """Monte Carlo histogram of the functions implemented by prior samples (within ``where``, if given).

    The histogram is computed on device per step (sort packed keys, count runs) and
    merged on the host. ``estimates`` holds the ``top`` most frequent functions and
    then any ``targets``; ``histogram`` holds every distinct function kept. With
    ``where`` (a measure with an event; an int, hex or name means
    :func:`countnets.measures.implements`, as for :func:`estimate_mc`) only networks in
    its event are counted, so ``count(f) / samples`` estimates ``P(f and where)``.

    Host memory is bounded by ``max_distinct`` (``None``: no bound): past it the host
    table keeps the heavy functions with lower-bound counts (see
    :class:`HistogramAccumulator`); ``extra`` then reports ``other`` (samples not
    attributed to a kept function) and ``max_undercount`` (how far below the truth a
    kept count can be), and every estimate's interval is widened to cover it (method
    suffix ``"+truncation"``). Other arguments are as in :func:`estimate_mc`.
    """
    check_prior_and_arch(prior, arch, "histogram_mc")
    boolean.check_histogram_inputs(arch.n)
    where = None if where is None else check_measure(where, "histogram_mc", "where")
    run = _run_config(
        run, n_samples=n_samples, seed=seed, chunk_size=chunk_size, chunks_per_step=chunks_per_step, devices=devices,
        checkpoint=checkpoint, checkpoint_every=checkpoint_every, max_seconds=max_seconds, progress=progress,
    )  # fmt: skip
    confidence = check_interval(confidence, method)
    target_ints = normalise_targets(targets, arch.n, where="histogram_mc") if _given(targets) else []
    if top is not None:
        top = check_positive_int("top", top, allow_zero=True)
    max_distinct = None if max_distinct is None else check_positive_int("max_distinct", max_distinct)
    config = base_config(prior, arch, encoding, precision, margin, method)
    config["targets"] = [boolean.to_hex(t) for t in target_ints]
    if where is not None:
        config["where"] = where.spec
    source = run.sampling_source(prior, arch)
    step = build_step(
        source, arch, measures_lib.table(), reduce="histogram", where=where, encoding=encoding, precision=precision,
        margin=margin,
    )  # fmt: skip
    acc = HistogramAccumulator(max_distinct=max_distinct, complete=where is None)
    outcome = run_step(
        step, acc, run=run, source=source, kind="histogram", config=config, bytes_per_network=network_bytes(arch),
        description="histogram", fingerprint_extra={"max_distinct": max_distinct},
    )  # fmt: skip
    estimates = histogram_estimates(
        acc.histogram, outcome.samples, top=top, confidence=confidence, method=method, functions=target_ints
    )
    estimates = [widen(e, acc.max_undercount) for e in estimates]
    return pass_result(
        "histogram", config, seed=run.seed, source=source, outcome=outcome, estimates=estimates,
        nonfinite=acc.nonfinite, near=acc.near, histogram=acc.histogram, extra=_histogram_extra(acc),
    )  # fmt: skip


def enumerate_exact(
    prior: Prior,
    arch: Architecture,
    *,
    encoding: str = "01",
    top: int | None = 10,
    targets: Sequence[int | str] | int | str = (),
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    chunks_per_step: int | None = None,
    max_configurations: int = DEFAULT_MAX_EXACT,
    precision: str = DEFAULT_PRECISION,
    margin: float = DEFAULT_MARGIN,
    progress: bool | float = False,
    devices: int | None = None,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: float = checkpoint_lib.DEFAULT_EVERY_SECONDS,
    max_distinct: int | None = DEFAULT_MAX_DISTINCT,
) -> CountResult:
    """Exact prior masses under a lattice prior, by evaluating every parameter vector once.

    The prior mass of function f is ``#{configurations implementing f} / V**n_params``
    exactly. ``histogram`` holds every function with its configuration count;
    ``estimates`` the ``top`` most frequent and then ``targets`` (method ``"exact"``).
    ``devices``, ``checkpoint`` and ``max_distinct`` are as in :func:`histogram_mc`;
    an enumeration stopped early (a signal) reports ``stopped_by="interrupted"`` and
    intervals covering the configurations not yet enumerated.

    Raises:
      CountnetsError: if the prior is not a lattice or there are more than
        ``max_configurations`` configurations (the message names the count).
      TypeError: (a ``CountnetsError`` too) for a prior or arch of the wrong type.
    """
    check_prior_and_arch(prior, arch, "enumerate_exact")
    boolean.check_histogram_inputs(arch.n, "exact enumeration (a histogram of every configuration's function)")
    target_ints = normalise_targets(targets, arch.n, where="enumerate_exact") if _given(targets) else []
    if top is not None:
        top = check_positive_int("top", top, allow_zero=True)
    max_distinct = None if max_distinct is None else check_positive_int("max_distinct", max_distinct)
    config = base_config(prior, arch, encoding, precision, margin, "exact")
    config["targets"] = [boolean.to_hex(t) for t in target_ints]
    source = lattice_source(prior, arch, chunk_size, max_configurations)
    total = prior.n_configurations(arch.layout())
    run = RunConfig(
        n_samples=total, chunk_size=source.chunk_size, chunks_per_step=chunks_per_step, devices=devices,
        checkpoint=checkpoint, checkpoint_every=checkpoint_every, progress=progress,
    )  # fmt: skip
    step = build_chunk_histogram(source, arch, encoding=encoding, precision=precision, margin=margin)
    acc = HistogramAccumulator(max_distinct=max_distinct, complete=True)
    outcome = run_step(
        step, acc, run=run, source=source, kind="enumerate", config=config, bytes_per_network=network_bytes(arch),
        description="enumerate", seed=None, fingerprint_extra={"max_distinct": max_distinct},
    )  # fmt: skip
    missing = total - outcome.samples
    estimates = histogram_estimates(acc.histogram, total, top=top, method="exact", functions=target_ints)
    estimates = [widen(e, acc.max_undercount + missing) for e in estimates]
    return pass_result(
        "histogram", config, seed=None, source=source, outcome=outcome, estimates=estimates, nonfinite=acc.nonfinite,
        near=acc.near, histogram=acc.histogram, stopped_by="exhausted" if missing == 0 else None,
        extra=_histogram_extra(acc, missing),
    )  # fmt: skip
