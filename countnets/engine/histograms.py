"""Front ends that count every function at once: the Monte Carlo histogram and exact lattice enumeration.

:func:`histogram_mc` samples the prior and counts the truth table each network computes;
:func:`enumerate_exact` evaluates every parameter vector of a lattice prior once, so its
masses are exact. Both keep a bounded host table (:class:`~countnets.engine.accumulators.HistogramAccumulator`)
whose lower-bound counts :func:`widen` turns into intervals that still cover.
"""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from collections.abc import Sequence
from typing import Any

from countnets import measures as measures_lib
from countnets._errors import CountnetsError, check_positive_int
from countnets.engine import checkpoint as checkpoint_lib
from countnets.engine._validate import check_measure, check_prior_and_arch
from countnets.engine.accumulators import DEFAULT_MAX_DISTINCT, HistogramAccumulator
from countnets.engine.driver import RunConfig
from countnets.engine.frontend import (
    Step,
    base_config,
    given,
    interval_config,
    normalise_targets,
    pass_result,
    run_config,
    run_step,
)
from countnets.engine.sources import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_MAX_EXACT,
    Blocking,
    ChunkSource,
    lattice_source,
    network_bytes,
)
from countnets.engine.steps import DEFAULT_MARGIN, build_step
from countnets.measures import Measure
from countnets.network import boolean
from countnets.network.architectures import DEFAULT_PRECISION, Architecture
from countnets.network.priors import Prior
from countnets.results import CountResult, Estimate, make_estimate
from countnets.stats import statistics

__all__ = ["histogram_mc", "enumerate_exact", "histogram_estimates", "build_chunk_histogram", "widen"]


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
    interval: Any = None,  # an IntervalConfig; anything else is a one-line error (interval_config)
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
    suffix ``"+truncation"``). Other arguments (``run`` and ``interval`` too) are as in
    :func:`countnets.estimate_mc`.
    """
    check_prior_and_arch(prior, arch, "histogram_mc")
    chosen_interval = interval_config(interval, "histogram_mc", confidence=confidence, method=method)
    confidence, method = chosen_interval.confidence, chosen_interval.method
    boolean.check_histogram_inputs(arch.n)
    where = None if where is None else check_measure(where, "histogram_mc", "where")
    run = run_config(
        run, n_samples=n_samples, seed=seed, chunk_size=chunk_size, chunks_per_step=chunks_per_step, devices=devices,
        checkpoint=checkpoint, checkpoint_every=checkpoint_every, max_seconds=max_seconds, progress=progress,
    )  # fmt: skip
    target_ints = normalise_targets(targets, arch.n, where="histogram_mc") if given(targets) else []
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
        "histogram-mc", config, seed=run.seed, source=source, outcome=outcome, estimates=estimates,
        nonfinite=acc.nonfinite, near=acc.near, histogram=acc.histogram, extra=_histogram_extra(acc),
    )  # fmt: skip


def _enumeration_run(run: RunConfig | None, total: int, chunk_size: int, keywords: dict[str, Any]) -> RunConfig:
    """The run of an enumeration of ``total`` configurations in chunks of ``chunk_size`` (from ``run=`` or keywords)."""
    if run is None:
        return RunConfig(n_samples=total, **{**keywords, "chunk_size": chunk_size})
    run = run_config(run, n_samples=None, **keywords)
    if run.seed != 0 or run.rel_halfwidth is not None:
        raise CountnetsError("enumerate_exact draws nothing: leave run.seed at 0 and run.rel_halfwidth at None")
    if run.n_samples > total:
        raise CountnetsError(
            f"run.n_samples is the configurations to enumerate, at most {total:,}; got {run.n_samples:,}"
        )
    return dataclasses.replace(run, chunk_size=chunk_size)


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
    where: Measure | int | str | None = None,
    run: RunConfig | None = None,
) -> CountResult:
    """Exact prior masses under a lattice prior, by evaluating every parameter vector once.

    The prior mass of function f is ``#{configurations implementing f} / V**n_params``
    exactly. ``histogram`` holds every function with its configuration count;
    ``estimates`` the ``top`` most frequent and then ``targets`` (method ``"exact"``).
    ``devices``, ``checkpoint`` and ``max_distinct`` are as in :func:`histogram_mc`;
    an enumeration stopped early (a signal) reports ``stopped_by="interrupted"`` and
    intervals covering the configurations not yet enumerated.

    With ``where`` (a measure with an event; an int, hex or name means
    :func:`countnets.measures.implements`) only configurations in its event are counted, so
    ``count(f) / V**n_params`` is ``P(f and where)`` exactly.

    ``run`` gives the run options at once as a :class:`~countnets.engine.driver.RunConfig` (then
    give none of ``chunk_size`` .. ``checkpoint_every`` separately). Its ``n_samples`` is the
    number of configurations to enumerate, in enumeration order, at most ``V**n_params``; fewer
    (or a ``max_seconds`` that ends the run) gives a partial enumeration whose intervals cover
    the configurations left. An enumeration draws nothing, so ``seed`` and ``rel_halfwidth``
    must be left at their defaults.

    Raises:
      CountnetsError: if the prior is not a lattice or there are more than
        ``max_configurations`` configurations (the message names the count); for a ``run``
        beside run keywords, with more samples than configurations, or with a seed or
        ``rel_halfwidth``.
      TypeError: (a ``CountnetsError`` too) for a prior, arch or ``where`` of the wrong type.
    """
    check_prior_and_arch(prior, arch, "enumerate_exact")
    boolean.check_histogram_inputs(arch.n, "exact enumeration (a histogram of every configuration's function)")
    target_ints = normalise_targets(targets, arch.n, where="enumerate_exact") if given(targets) else []
    where = None if where is None else check_measure(where, "enumerate_exact", "where")
    if top is not None:
        top = check_positive_int("top", top, allow_zero=True)
    max_distinct = None if max_distinct is None else check_positive_int("max_distinct", max_distinct)
    config = base_config(prior, arch, encoding, precision, margin, "exact")
    config["targets"] = [boolean.to_hex(t) for t in target_ints]
    if where is not None:
        config["where"] = where.spec
    keywords = dict(chunk_size=chunk_size, chunks_per_step=chunks_per_step, devices=devices, checkpoint=checkpoint,
                    checkpoint_every=checkpoint_every, progress=progress)  # fmt: skip
    source = lattice_source(prior, arch, keywords["chunk_size"] if run is None else run.chunk_size, max_configurations)
    total = prior.n_configurations(arch.layout())
    run = _enumeration_run(run, total, source.chunk_size, keywords)
    step = build_step(
        source, arch, measures_lib.table(), reduce="histogram", where=where, encoding=encoding, precision=precision,
        margin=margin,
    )  # fmt: skip
    acc = HistogramAccumulator(max_distinct=max_distinct, complete=where is None)
    outcome = run_step(
        step, acc, run=run, source=source, kind="enumerate", config=config, bytes_per_network=network_bytes(arch),
        description="enumerate", seed=None, fingerprint_extra={"max_distinct": max_distinct},
    )  # fmt: skip
    missing = total - outcome.samples
    estimates = histogram_estimates(acc.histogram, total, top=top, method="exact", functions=target_ints)
    estimates = [widen(e, acc.max_undercount + missing) for e in estimates]
    return pass_result(
        "histogram-exact", config, seed=None, source=source, outcome=outcome, estimates=estimates,
        nonfinite=acc.nonfinite, near=acc.near, histogram=acc.histogram,
        stopped_by="exhausted" if missing == 0 else None, extra=_histogram_extra(acc, missing),
    )  # fmt: skip
