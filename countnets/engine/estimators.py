"""The Monte Carlo front end, :func:`estimate_mc`, and the names every front end shares, re-exported.

Each front end is a measure (:mod:`countnets.measures`), one step from
:func:`countnets.engine.steps.build_step`, an accumulator (:mod:`countnets.engine.accumulators`) and
one call of the driver (:func:`countnets.engine.driver.run_chunks`), configured by a
:class:`countnets.engine.driver.RunConfig` and an :class:`IntervalConfig`. The histogram and
the exact enumeration are in :mod:`countnets.engine.histograms`; what front ends and
experiments share (:func:`check_interval`, :func:`base_config`, :func:`run_step`,
:func:`pass_result`, ...) in :mod:`countnets.engine.frontend`. This module re-exports them
all, and the engine's parts (:mod:`countnets.engine.sources`, :mod:`countnets.engine.steps`,
:mod:`countnets.engine.accumulators`, :mod:`countnets.engine.driver`), under their old names.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from countnets import measures as measures_lib
from countnets._errors import CountnetsError
from countnets.defaults import READOUTS  # noqa: F401 (re-exported)
from countnets.engine import checkpoint as checkpoint_lib
from countnets.engine import integrate
from countnets.engine._validate import check_prior_and_arch
from countnets.engine.accumulators import (
    DEFAULT_MAX_DISTINCT,
    CountAccumulator,
    HistogramAccumulator,
    KeyedAccumulator,
    merge_histogram_step,
)
from countnets.engine.driver import RunConfig, RunOutcome, run_chunks
from countnets.engine.frontend import (
    IntervalConfig,
    Step,
    base_config,
    check_interval,
    interval_config,
    normalise_measures,
    normalise_targets,
    pass_result,
    run_config,
    run_step,
)
from countnets.engine.histograms import (
    build_chunk_histogram,
    enumerate_exact,
    histogram_estimates,
    histogram_mc,
    widen,
)
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
    chunk_tables,
    sorted_run_counts,
)
from countnets.measures import Measure
from countnets.network.architectures import DEFAULT_PRECISION, Architecture
from countnets.network.priors import Prior
from countnets.results import CountResult, make_estimate
from countnets.stats import statistics

__all__ = [
    # front ends
    "estimate_mc",
    "histogram_mc",
    "enumerate_exact",
    "histogram_estimates",
    # what an experiment needs to build its own counting pass (countnets.engine.frontend)
    "IntervalConfig",
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
    interval: Any = None,  # an IntervalConfig; anything else is a one-line error (interval_config)
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
      interval: ``confidence`` and ``method`` at once, as an :class:`IntervalConfig` (then give
        neither separately).
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
    chosen_interval = interval_config(interval, "estimate_mc", confidence=confidence, method=method)
    confidence, method = chosen_interval.confidence, chosen_interval.method
    if readout not in READOUTS:
        raise CountnetsError(f"readout must be one of {', '.join(READOUTS)}, got {readout!r}")
    if readout == "integrate":
        return _estimate_integrated(
            prior, arch, measures, n_samples=n_samples, seed=seed, encoding=encoding, chunk_size=chunk_size,
            confidence=confidence, method=method, precision=precision, run=run,
            unsupported={"chunks_per_step": chunks_per_step, "rel_halfwidth": rel_halfwidth,
                         "max_seconds": max_seconds, "devices": devices, "checkpoint": checkpoint},
        )  # fmt: skip
    run = run_config(
        run, n_samples=n_samples, seed=seed, chunk_size=chunk_size, chunks_per_step=chunks_per_step, devices=devices,
        checkpoint=checkpoint, checkpoint_every=checkpoint_every, max_seconds=max_seconds,
        rel_halfwidth=rel_halfwidth, progress=progress,
    )  # fmt: skip
    chosen, names, targets = normalise_measures(measures, arch.n, "estimate_mc")
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
        "estimate-mc", config, seed=run.seed, source=source, outcome=outcome, estimates=estimates,
        nonfinite=acc.nonfinite, near=acc.near,
    )  # fmt: skip


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
