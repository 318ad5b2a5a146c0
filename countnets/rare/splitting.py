"""Rare-event volumes by multilevel splitting: fixed levels from an adaptive pilot, then independent replicas.

Plain Monte Carlo stops near ``1/N``. This module estimates ``p = P(score >= level)``
for a measure with a score (:mod:`countnets.measures`; for ``implements(f)`` the score is
the number of agreeing cube points plus a margin tie-break) down to ``1e-9`` and below.
The algorithm (``docs/rare-events.md`` gives the derivation and the checks):

1. **Pilot** (:func:`run_pilot`): adaptive multilevel splitting, i.e. SMC with adaptive
   levels, on one population of ``pilot_particles``. Each level is the score exceeded by
   a fraction ``level_fraction`` of the population (the next distinct score when ties
   would stall it), capped at the event's own level. Survivors are resampled and moved
   by ``sweeps`` sweeps of a prior-invariant move (:mod:`countnets.rare.moves`) restricted to
   the level; the step size adapts toward ``target_acceptance`` (Robbins-Monro on its
   log), and the trace is recorded. The pilot fixes the levels ``L_1 < ... < L_K`` (the
   last one is the event) and one step size per level.
2. **Replicas**: ``R`` independent runs of fixed-level splitting with ``N`` particles,
   the pilot's levels and steps: draw N prior samples; at each level count the survivors
   ``s_k``, resample N from them (each survivor copied ``floor(N / s_k)`` or one more
   times, at random), move them. Replica r's estimate ``Z_r = prod_k s_k / N`` is an
   *unbiased* estimate of p (levels and kernels are fixed before the replica starts,
   the moves are invariant, the resampling is unbiased: Del Moral's SMC identity).
3. **Estimate and interval**: ``p_hat = mean_r Z_r``; relative standard error
   ``e = sd(Z) / (p_hat sqrt(R))``; the interval is ``p_hat exp(-+ t e)`` with ``t`` the
   Student quantile at ``R - 1`` degrees of freedom (a delta-method interval on
   ``log p_hat``, asymmetric like the skewed distribution of the replicas). When every
   replica ends at 0 the result is an upper bound (see :func:`upper_bound`), never a
   positive estimate.

Replica r draws only from ``fold_in(seed_key(seed), r)``; the pilot from
``fold_in(seed_key(seed), 2**32 - 1)``. Replicas are the chunks' samples of
:func:`countnets.engine.driver.run_chunks` (``replicas_per_chunk`` of them per chunk), so a run
is sharded over devices, stops by ``rel_halfwidth``/``max_seconds`` by adding replicas,
checkpoints and resumes, with results identical on 1 or 8 devices.

The worked example of ``docs/rare-events.md`` runs in the tests as written.

>>> SplittingOptions(particles=200).pilot_particles
400
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import os
import time
from typing import Any

import jax
import numpy as np

from countnets import measures as measures_lib
from countnets._errors import CountnetsError, check_finite_float, check_positive_int
from countnets.defaults import (  # noqa: F401 (re-exported)
    DEFAULT_LEVEL_FRACTION,
    DEFAULT_MAX_LEVELS,
    DEFAULT_MOVE,
    DEFAULT_PARTICLES,
    DEFAULT_REPLICAS,
    DEFAULT_REPLICAS_PER_CHUNK,
    DEFAULT_RETRY_FACTOR,
    DEFAULT_SWEEPS,
    DEFAULT_TARGET_ACCEPTANCE,
    MAX_REPLICAS,
    SAMPLE_OPTIONS,
)
from countnets.engine import checkpoint as checkpoint_lib
from countnets.engine import integrate, sharding
from countnets.engine._validate import check_measure, check_prior_and_arch
from countnets.engine.driver import RunConfig, run_chunks, seed_key
from countnets.engine.estimators import READOUTS, base_config
from countnets.engine.steps import DEFAULT_MARGIN, check_precision
from countnets.measures import Measure
from countnets.network import boolean
from countnets.network.architectures import DEFAULT_PRECISION, Architecture, readout_indices
from countnets.network.priors import Prior
from countnets.rare.moves import move_for, subkey
from countnets.rare.options import (  # noqa: F401 (re-exported)
    DEFAULT_ADAPT_GAIN,
    SplittingOptions,
    changed_options,
    resolve_options,
    resolve_run,
)
from countnets.rare.pilot import ByIdentity, KernelSpec, Pilot, adaptive_levels
from countnets.rare.replica_step import replica_step_for
from countnets.rare.replicas import (
    RarePopulation,
    ReplicaAccumulator,
    conditional_rows,
    level_records,
    replica_estimates,
    splitting_estimate,
)
from countnets.records import StopReason
from countnets.results import CountResult, Estimate, count_result
from countnets.results.payloads import SplittingAttempt, SplittingPayload
from countnets.stats import reliability
from countnets.stats.statistics import replica_interval

__all__ = [
    "DEFAULT_PARTICLES",
    "DEFAULT_REPLICAS",
    "DEFAULT_SWEEPS",
    "DEFAULT_LEVEL_FRACTION",
    "DEFAULT_TARGET_ACCEPTANCE",
    "DEFAULT_MAX_LEVELS",
    "DEFAULT_REPLICAS_PER_CHUNK",
    "MAX_REPLICAS",
    "MIN_REPLICAS_TO_STOP",
    "PILOT_STREAM",
    "SAMPLE_OPTIONS",
    "SplittingOptions",
    "Pilot",
    "run_pilot",
    "estimate_rare",
    "sample_rare",
]

MIN_REPLICAS_TO_STOP = reliability.MIN_EFFECTIVE_REPLICAS  # rel_halfwidth is not checked before this many replicas
PILOT_STREAM = 2**32 - 1  # the pilot draws from fold_in(seed key, PILOT_STREAM); replica r from fold_in(seed key, r)


ALGORITHM = "fixed-level splitting (SMC) with levels and steps from an adaptive pilot; log-t interval over replicas"


def _checked(prior: Prior, arch: Architecture, measure: Measure | int | str, encoding: str, precision: str, where: str,
             move_name: str = DEFAULT_MOVE):  # fmt: skip
    """The measure, after every check a splitting run needs (types, score, architecture, prior, encoding, precision).

    ``where`` is the front end named in a type error (``"estimate_rare"``...).
    """
    check_prior_and_arch(prior, arch, where)
    measure = check_measure(measure, where)
    if measure.score is None:
        raise CountnetsError(f"splitting needs a measure with a score; {measure.name} has none")
    measure.check(arch)
    if encoding not in boolean.ENCODINGS:
        raise CountnetsError(f"encoding must be one of {boolean.ENCODINGS}, got {encoding!r}")
    check_precision(precision)
    return measure, move_for(prior, arch, measure, move_name, encoding, precision)


def run_pilot(
    prior: Prior,
    arch: Architecture,
    measure: Measure | int | str,
    *,
    seed: int = 0,
    options: SplittingOptions | None = None,
    encoding: str = "01",
    precision: str = DEFAULT_PRECISION,
) -> Pilot:
    """Adaptive multilevel splitting on one population: the levels and step sizes of a run.

    Level ``k`` is the ``ceil(level_fraction * n)``-th largest score of the population
    (``n = pilot_particles``), or the smallest score above level ``k - 1`` when ties would
    repeat it, capped at ``measure.level(arch)``; the population is then resampled from
    the particles at or above it and moved ``sweeps`` sweeps at a time until the mixing
    check of :mod:`countnets.rare.pilot` passes (at most ``max_sweeps``), the step adapting after
    each sweep by ``log step += adapt_gain (rate - target_acceptance)``. If no particle scores
    above the last level (``"stalled"``) or ``max_levels`` are set, the event's level is
    appended as the last level.

    Args:
      prior, arch, measure: as in :func:`estimate_rare`.
      seed: the run's seed; the pilot draws from ``fold_in(seed_key(seed), PILOT_STREAM)``.
      options: :class:`SplittingOptions` (default: the defaults).
      encoding, precision: as in :func:`estimate_rare`.

    Returns:
      A :class:`Pilot`.

    Raises:
      CountnetsError: for a measure without a score or that does not apply to ``arch``,
        a prior without an invariant move, or a bad encoding, precision or seed.
    """
    start = time.perf_counter()
    options = options or SplittingOptions()
    measure, move = _checked(prior, arch, measure, encoding, precision, "run_pilot", options.move)
    spec = KernelSpec(prior, arch, ByIdentity(measure), encoding, precision, options.max_sweeps,  # type: ignore[arg-type]
                      options.target_acceptance, options.adapt_gain, move=options.move)  # fmt: skip
    fields = adaptive_levels(
        spec, subkey(seed_key(seed), PILOT_STREAM), particles=options.pilot_particles, sweeps=options.sweeps,  # type: ignore[arg-type]
        max_sweeps=options.max_sweeps, level_fraction=options.level_fraction, max_levels=options.max_levels,  # type: ignore[arg-type]
        target=float(np.float32(measure.level(arch))), initial_step=move.initial_step,
    )  # fmt: skip
    return Pilot(**fields, seconds=time.perf_counter() - start)


def _checked_run(prior, arch, measure, *, seed, replicas, options, encoding, precision, margin, confidence,
                 rel_halfwidth, max_seconds, replicas_per_chunk, chunks_per_step, devices, checkpoint,
                 checkpoint_every, progress, conditional, conditional_top, where) -> dict[str, Any]:  # fmt: skip
    """Every argument of a splitting run checked: the measure, its move and name, the conditional, and the run."""
    measure, move = _checked(prior, arch, measure, encoding, precision, where, options.move)
    name = measures_lib.target_of(measure, arch.n)
    name = measure.name if name is None else boolean.to_hex(name)
    cond = None
    if conditional is not None:
        cond = check_measure(conditional, where, "conditional")
        if cond.key is None:
            raise CountnetsError(f"a conditional histogram needs a measure with a key; {cond.name} has none")
        cond.check(arch)
    confidence = check_finite_float("confidence", confidence)
    if not 0 < confidence < 1:
        raise CountnetsError(f"confidence must be in (0, 1), got {confidence}")
    if conditional_top is not None:
        conditional_top = check_positive_int("conditional_top", conditional_top)
    if replicas is None:
        replicas = DEFAULT_REPLICAS if rel_halfwidth is None and max_seconds is None else MAX_REPLICAS
    replicas = check_positive_int("replicas", replicas)
    per_chunk = check_positive_int("replicas_per_chunk", replicas_per_chunk)
    if replicas >= 2**31:
        raise CountnetsError(f"replicas must be below 2**31 (replica indices key the random stream), got {replicas}")
    if replicas < 2 or per_chunk < 2:
        raise CountnetsError(f"splitting needs replicas >= 2 and replicas_per_chunk >= 2 (an interval needs a spread), "
                             f"got {replicas} and {per_chunk}")  # fmt: skip
    run = RunConfig(
        n_samples=replicas, seed=seed, chunk_size=per_chunk, chunks_per_step=chunks_per_step, devices=devices,
        checkpoint=checkpoint, checkpoint_every=checkpoint_every, max_seconds=max_seconds,
        rel_halfwidth=rel_halfwidth, progress=progress,
    )  # fmt: skip
    return dict(measure=measure, move=move, name=name, cond=cond, confidence=confidence,
                conditional_top=conditional_top, run=run, precision=check_precision(precision),
                margin=check_finite_float("margin", margin, non_negative=True))  # fmt: skip


def _payload(*, move, options: SplittingOptions, pilot: Pilot, levels: list, z: np.ndarray, estimate: Estimate,
             interval: Any, verdict: Any, bound_level: int | None, cond: Measure | None, rows: Any,
             outcome: Any) -> SplittingPayload:  # fmt: skip
    """The run's :class:`~countnets.results.payloads.SplittingPayload`: levels, replicas, cost, the rule's verdict."""
    evaluations = pilot.evaluations + len(z) * options.particles * (2 + sum(pilot.sweeps))
    p, e = estimate.p, interval.relative_error
    mc = (1 - p) / (p * e * e) if p > 0 and e > 0 else math.inf
    info: dict[str, Any] = {}
    if outcome.checkpoint is not None:
        info["checkpoint"] = {"path": outcome.checkpoint, "resumed_from": outcome.resumed_from,
                              "seconds_before": outcome.seconds_before,
                              "seconds_total": outcome.seconds_before + outcome.seconds}  # fmt: skip
    if outcome.processes > 1:
        info["processes"] = outcome.processes
    return SplittingPayload(
        method="splitting", algorithm=ALGORITHM, interval="upper-bound" if bound_level is not None else "log-t",
        move=move.name, step_name=move.step_name, particles=options.particles, sweeps=options.sweeps,
        max_sweeps=options.max_sweeps, level_fraction=options.level_fraction,
        target_acceptance=options.target_acceptance,
        pilot_particles=pilot.particles, pilot_status=pilot.status, pilot_evaluations=pilot.evaluations,
        pilot_seconds=pilot.seconds, n_levels=len(pilot.levels), levels=levels,
        replica_estimates=[float(v) for v in z],
        relative_error=e, replica_cv=e * math.sqrt(len(z)), evaluations=evaluations, mc_equivalent_evaluations=mc,
        speedup=mc / evaluations, upper_bound_level=bound_level,
        conditional_measure=None if cond is None else cond.name, conditional=rows, **info,
        reliable=verdict.reliable, unreliable_reasons=verdict.unreliable_reasons,
        effective_replicas=verdict.effective_replicas, max_replica_share=verdict.max_replica_share,
        extinct_replicas=verdict.extinct_replicas, relative_variance=verdict.relative_variance,
        well_mixed_relative_variance=verdict.well_mixed_relative_variance, reliability_rule=verdict.rule,
    )  # fmt: skip


def _run(prior, arch, measure, *, options, encoding, keep, checkpoint_suffix="", **kwargs):
    """One splitting run (pilot, then replicas through the driver): ``(result, accumulator, Z_r per replica)``."""
    checked = _checked_run(prior, arch, measure, options=options, encoding=encoding, **kwargs)
    measure, move, name, cond, run = (checked[k] for k in ("measure", "move", "name", "cond", "run"))
    confidence, precision, margin = checked["confidence"], checked["precision"], checked["margin"]
    per_chunk, replicas = run.chunk_size, run.n_samples
    pilot = run_pilot(prior, arch, measure, seed=run.seed, options=options, encoding=encoding, precision=precision)
    config = base_config(prior, arch, encoding, precision, margin, "log-t")
    config.update(method="splitting", targets=[name], measures=[measure.spec], options=options.config())
    if cond is not None:
        config["conditional"] = cond.spec
    static = KernelSpec(
        prior, arch, ByIdentity(measure), encoding, precision, options.max_sweeps, options.target_acceptance,
        options.adapt_gain, margin, per_chunk, options.particles, None if cond is None else ByIdentity(cond),
        options.move,
    )  # fmt: skip
    step = replica_step_for(static, pilot)
    acc = ReplicaAccumulator(len(pilot.levels), None if cond is None else cond.key_fields(arch), arch.n, keep,
                             particles=options.particles, sweeps=options.max_sweeps)  # fmt: skip
    ckpt = run.open_checkpoint(run.fingerprint("splitting", config, pilot=pilot.fingerprint()), checkpoint_suffix)

    def should_stop(done: int) -> str | None:
        # The width is read only once the replicas pass the reliability rule: a narrow interval of a few heavy
        # replicas is not met, it is not determined.
        if run.rel_halfwidth is None or done < MIN_REPLICAS_TO_STOP:
            return None
        z = replica_estimates(acc.survivors, options.particles)
        if not reliability.assess(z, pilot_status=pilot.status).reliable:
            return None
        r = replica_interval(z, confidence)
        return "rel_halfwidth" if r.mean > 0 and (r.hi - r.lo) / 2 <= run.rel_halfwidth * r.mean else None

    n_local, _ = sharding.resolve_devices(run.devices)
    outcome = run_chunks(
        step, acc.merge, key=seed_key(run.seed), chunk_size=per_chunk, n_samples=replicas,
        chunks_per_step=run.chunks_per_step or n_local * jax.process_count(), should_stop=should_stop,
        max_seconds=None if run.max_seconds is None else max(1e-9, run.max_seconds - pilot.seconds),
        progress=run.progress, description="splitting", unit="replicas", devices=run.devices, checkpoint=ckpt,
        state=acc if ckpt is not None else None,
    )  # fmt: skip
    survivors = np.asarray(acc.survivors, np.int64).reshape(len(acc.survivors), len(pilot.levels))
    accepted = np.asarray(acc.accepted, np.int64).reshape(survivors.shape)
    ancestors = np.asarray(acc.ancestors, np.int64).reshape(survivors.shape)
    z = replica_estimates(survivors, options.particles)
    levels = level_records(pilot, survivors, accepted, ancestors, options.particles)
    estimate, verdict, bound_level, interval = splitting_estimate(name, z, survivors, levels, pilot.status,
                                                                  options.particles, confidence)  # fmt: skip
    rows = None
    if cond is not None:
        rows = conditional_rows(z, acc.keys, options.particles, confidence, pilot_status=pilot.status)
        rows = rows[: checked["conditional_top"]]
    payload = _payload(move=move, options=options, pilot=pilot, levels=levels, z=z, estimate=estimate,
                       interval=interval, verdict=verdict, bound_level=bound_level, cond=cond, rows=rows,
                       outcome=outcome)  # fmt: skip
    result = count_result(
        "estimate-splitting", config, seed=run.seed, chunk_size=per_chunk, samples=outcome.samples,
        estimates=(estimate,), nonfinite=acc.nonfinite, near_threshold=acc.near,
        stopped_by=StopReason(outcome.stopped_by), seconds=pilot.seconds + outcome.seconds,
        samples_per_s=outcome.samples_per_s, device_count=outcome.devices, extra=payload,
    )  # fmt: skip
    return result, acc, z


def _needs_retry(result: CountResult, retry_factor: int, stop_rule: bool) -> bool:
    """Whether a finished run is rerun with more particles: it is not determined, and some replica reached the event.

    A replica that reached the event proves it reachable, so a stalled pilot is rerun too
    (four times its particles may climb where it stalled). An event no replica reached (its
    upper bound stands), an interrupted run, a run that a stop rule ended (it already adds
    replicas until the rule holds) and a run with fewer replicas than the rule's effective
    count (no particle count can make it pass) are returned as they are.
    """
    x = result.extra
    return (retry_factor > 1 and not stop_rule and x.reliable is False
            and result.estimates[0].p > 0 and result.stopped_by == StopReason.SAMPLES
            and result.samples >= reliability.MIN_EFFECTIVE_REPLICAS)  # fmt: skip


def _run_retrying(*, options: SplittingOptions, retry_factor: int, **kwargs: Any) -> tuple[CountResult, Any, Any]:
    """:func:`_run`, then, if the result is not determined though some replica reached the event, once more with
    ``retry_factor`` times the particles (and pilot particles), the same seed and replicas.

    Every replica's ``Z_r`` stays unbiased whatever N is, and more particles per replica
    shorten the heavy tail that non-mixing moves give the ``Z_r`` (docs/rare-events.md, "Not
    determined, then more particles"). The second attempt's estimate and interval are reported
    as they are; the first is summarised in ``extra.attempts`` and its cost is added to
    ``evaluations`` and ``seconds``. Its checkpoint, if any, is the path with ``.particles-N``.
    """
    retry_factor = check_positive_int("retry_factor", retry_factor)
    stop_rule = kwargs["rel_halfwidth"] is not None or kwargs["max_seconds"] is not None
    first = _run(options=options, **kwargs)
    if not _needs_retry(first[0], retry_factor, stop_rule):
        result, acc, z = first
        return dataclasses.replace(result, extra=dataclasses.replace(result.extra, retry_factor=retry_factor)), acc, z
    more = dataclasses.replace(
        options, particles=options.particles * retry_factor, pilot_particles=options.pilot_particles * retry_factor
    )  # type: ignore[operator]
    result, acc, z = _run(options=more, checkpoint_suffix=f".particles-{more.particles}", **kwargs)
    before, x = first[0], result.extra
    attempt = SplittingAttempt(
        particles=options.particles, pilot_particles=before.extra.pilot_particles, p=before.estimates[0].p,
        effective_replicas=before.extra.effective_replicas, unreliable_reasons=before.extra.unreliable_reasons,
        evaluations=before.extra.evaluations, seconds=before.seconds,
    )  # fmt: skip
    evaluations = x.evaluations + attempt.evaluations
    extra = dataclasses.replace(x, retry_factor=retry_factor, attempts=[attempt], evaluations=evaluations,
                                speedup=x.mc_equivalent_evaluations / evaluations)  # fmt: skip
    seconds = result.seconds + before.seconds
    rate = result.samples / seconds if seconds > 0 else math.inf
    return dataclasses.replace(result, extra=extra, seconds=seconds, samples_per_s=rate), acc, z


def _integrated_perceptron(prior, arch, measure, *, seed, replicas, particles, encoding, precision,
                           confidence) -> CountResult:  # fmt: skip
    """``estimate_rare(readout="integrate")``: a perceptron's cone mass by HDR replicas; else a one-line error."""
    check_prior_and_arch(prior, arch, "estimate_rare")
    if arch.n_params != len(readout_indices(arch)):
        raise CountnetsError("estimate_rare(readout='integrate') is built for a perceptron (no hidden layer) only: "
                             "splitting over hidden layers with the readout integrated is not built yet (issue 26); "
                             "use estimate_mc(readout='integrate') for conditional Monte Carlo")  # fmt: skip
    replicas = DEFAULT_REPLICAS if replicas is None else check_positive_int("replicas", replicas)
    config = base_config(prior, arch, encoding, precision, DEFAULT_MARGIN, "log-t")
    return integrate.estimate_integrated(
        prior, arch, measure, config=config, n_samples=replicas, seed=seed, encoding=encoding, precision=precision,
        confidence=confidence, cone_particles=particles,
    )  # fmt: skip


def estimate_rare(
    prior: Prior,
    arch: Architecture,
    measure: Measure | int | str,
    *,
    seed: int = 0,
    replicas: int | None = None,
    particles: int = DEFAULT_PARTICLES,
    sweeps: int = DEFAULT_SWEEPS,
    level_fraction: float = DEFAULT_LEVEL_FRACTION,
    target_acceptance: float = DEFAULT_TARGET_ACCEPTANCE,
    pilot_particles: int | None = None,
    max_levels: int = DEFAULT_MAX_LEVELS,
    move: str = DEFAULT_MOVE,
    max_sweeps: int | None = None,
    retry_factor: int = DEFAULT_RETRY_FACTOR,
    encoding: str = "01",
    precision: str = DEFAULT_PRECISION,
    margin: float = DEFAULT_MARGIN,
    confidence: float = 0.95,
    rel_halfwidth: float | None = None,
    max_seconds: float | None = None,
    replicas_per_chunk: int = DEFAULT_REPLICAS_PER_CHUNK,
    chunks_per_step: int | None = None,
    devices: int | None = None,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: float = checkpoint_lib.DEFAULT_EVERY_SECONDS,
    progress: bool | float = False,
    conditional: Measure | None = None,
    conditional_top: int | None = None,
    readout: str = "sample",
    options: Any = None,  # a SplittingOptions; anything else is a one-line error (resolve_options)
    run: Any = None,  # a RunConfig (resolve_run)
    interval: Any = None,  # an IntervalConfig (resolve_run)
) -> CountResult:
    """The prior mass of a rare event by multilevel splitting (see the module docstring).

    Args:
      prior: a :class:`~countnets.Gaussian`, :class:`~countnets.Uniform` or
        :class:`~countnets.Lattice` prior (each has an invariant move, :mod:`countnets.rare.moves`).
      arch: architecture.
      measure: a measure with a score (``event == (score >= level)``); an int, hex or name
        means :func:`countnets.measures.implements`.
      seed: integer seed, ``0 <= seed < 2**32``; it fixes the pilot and every replica.
      replicas: replicas R (the maximum when a stop rule is given). ``None``: 64, or
        :data:`MAX_REPLICAS` when ``rel_halfwidth`` or ``max_seconds`` ends the run.
      particles, sweeps, level_fraction, target_acceptance, pilot_particles, max_levels, move,
        max_sweeps: :class:`SplittingOptions`; or give ``options=SplittingOptions(...)``
        instead (which also reaches ``adapt_gain``), and none of these keywords.
      retry_factor: a run that is not determined though some replica reached the event (too
        few effective replicas, or a stalled pilot; no stop rule given; at least 30
        replicas) is rerun once, same seed, with ``retry_factor`` times the particles and
        pilot particles; the rerun is what is reported (``extra.attempts`` summarises the
        first). 1 turns the retry off.
      encoding: ``"01"`` or ``"pm1"``.
      precision: matmul precision.
      margin: final particles with an output within ``margin`` of 0 count in ``near_threshold``.
      confidence: interval confidence level.
      rel_halfwidth: add replicas until the interval's half-width / p is at most this
        (checked from :data:`MIN_REPLICAS_TO_STOP` replicas on).
      max_seconds: stop adding replicas past this wall time (the pilot's time included).
      replicas_per_chunk: replicas per chunk, vmapped together (>= 2); results do not depend on it.
      chunks_per_step: chunks per step over all devices (default: one per device).
      devices: local devices to shard replicas over (default: all; results do not depend on it).
      checkpoint, checkpoint_every: save progress and resume (see :func:`countnets.run_chunks`).
      progress: show a progress bar.
      conditional: a measure with a key (e.g. ``table()``, ``effective_depth()``, ``goal()``):
        report each key's ``P(event and key)`` and ``P(key | event)`` over the final populations.
      conditional_top: keep only this many conditional rows (default: all).
      run: the run options at once, as a :class:`~countnets.RunConfig` (then give none of ``seed``,
        ``replicas``, ``replicas_per_chunk``, ``chunks_per_step``, ``devices``, ``checkpoint``,
        ``checkpoint_every``, ``max_seconds``, ``rel_halfwidth`` or ``progress``). A sample is a
        replica: ``n_samples`` is R and ``chunk_size`` the replicas per chunk (RunConfig's default
        chunk size, sized for networks, means :data:`DEFAULT_REPLICAS_PER_CHUNK` here; results
        never depend on it).
      interval: the confidence as an :class:`~countnets.IntervalConfig` (then not ``confidence``);
        its method is left at the default, since splitting's interval is its own (log-t over replicas).
      readout: ``"sample"`` (default); ``"integrate"`` integrates the readout's Gaussian cone
        mass (:mod:`countnets.engine.cones`). Built for a perceptron (``MLP(n, ())``, all readout):
        the result is ``replicas`` Holmes-Diaconis-Ross replicas of the cone's mass with
        ``particles`` particles each, under the same reliability rule. Networks with
        hidden layers need the adaptive hidden-layer stage of issue 26, not built yet:
        a one-line error.

    Returns:
      A :class:`~countnets.CountResult` of kind ``"estimate-splitting"`` with one estimate (``hits``:
      replicas that reached the event, ``n``: replicas; method ``"splitting-log-t"``, or
      ``"splitting-upper-bound"`` with ``p = 0`` and ``ci = (0, bound)`` when none did),
      ``samples`` = replicas done, ``chunk_size`` = replicas per chunk, ``nonfinite`` and
      ``near_threshold`` counted over the final populations of the replicas that reached the
      event, and a :class:`~countnets.results.payloads.SplittingPayload` (``method: "splitting"``)
      as ``extra``.

    Raises:
      CountnetsError: for a measure without a score, a prior without an invariant move, a
        measure that does not apply to ``arch`` (e.g. a truth table wider than the cube),
        any invalid option, a checkpoint of another run, or a damaged one (counts that no
        run can produce, e.g. more survivors than particles).
      TypeError: (a ``CountnetsError`` too) for a prior, arch, measure or conditional of the
        wrong type, e.g. ``"mlp"`` as arch or prior and arch swapped.
    """
    if readout not in READOUTS:
        raise CountnetsError(f"readout must be one of {', '.join(READOUTS)}, got {readout!r}")
    given_run = dict(seed=seed, replicas=replicas, replicas_per_chunk=replicas_per_chunk,
                     chunks_per_step=chunks_per_step, devices=devices, checkpoint=checkpoint,
                     checkpoint_every=checkpoint_every, max_seconds=max_seconds, rel_halfwidth=rel_halfwidth,
                     progress=progress)  # fmt: skip
    chosen, confidence = resolve_run(run, interval, "estimate_rare", given_run, _defaults(estimate_rare), confidence)
    seed, replicas, rel_halfwidth = chosen["seed"], chosen["replicas"], chosen["rel_halfwidth"]
    max_seconds, checkpoint, devices = chosen["max_seconds"], chosen["checkpoint"], chosen["devices"]
    keywords = dict(particles=particles, sweeps=sweeps, level_fraction=level_fraction,
                    target_acceptance=target_acceptance, pilot_particles=pilot_particles, max_levels=max_levels,
                    move=move, max_sweeps=max_sweeps)  # fmt: skip
    if readout == "integrate":  # `particles` is the cone replicas' population; every other option is refused
        given = {name: changed for name, changed in changed_options(keywords).items() if name != "particles"}
        given.update(
            retry_factor=retry_factor != DEFAULT_RETRY_FACTOR,
            rel_halfwidth=rel_halfwidth is not None,
            max_seconds=max_seconds is not None,
            checkpoint=checkpoint is not None,
            devices=devices not in (None, 1),
            conditional=conditional is not None,
            options=options is not None,
        )
        integrate.refuse_options(given, ": it runs replicas of the cone's mass with `particles` each")
        return _integrated_perceptron(prior, arch, measure, seed=seed, replicas=replicas, particles=particles,
                                      encoding=encoding, precision=precision, confidence=confidence)  # fmt: skip
    options = resolve_options(options, "estimate_rare", **keywords)
    result, _, _ = _run_retrying(
        prior=prior, arch=arch, measure=measure, options=options, retry_factor=retry_factor, encoding=encoding,
        precision=precision, margin=margin, confidence=confidence, conditional=conditional,
        conditional_top=conditional_top, keep=False, where="estimate_rare", **chosen,
    )  # fmt: skip
    return result


def _defaults(front_end: Any) -> dict[str, Any]:
    """A front end's keyword defaults, read from its signature (so they are stated once)."""
    return {name: p.default for name, p in inspect.signature(front_end).parameters.items() if p.kind == p.KEYWORD_ONLY}


def sample_rare(
    prior: Prior,
    arch: Architecture,
    measure: Measure | int | str,
    *,
    seed: int = 0,
    replicas: int = DEFAULT_REPLICAS,
    particles: int = DEFAULT_PARTICLES,
    sweeps: int = DEFAULT_SWEEPS,
    level_fraction: float = DEFAULT_LEVEL_FRACTION,
    target_acceptance: float = DEFAULT_TARGET_ACCEPTANCE,
    pilot_particles: int | None = None,
    max_levels: int = DEFAULT_MAX_LEVELS,
    move: str = DEFAULT_MOVE,
    max_sweeps: int | None = None,
    retry_factor: int = DEFAULT_RETRY_FACTOR,
    encoding: str = "01",
    precision: str = DEFAULT_PRECISION,
    confidence: float = 0.95,
    replicas_per_chunk: int = DEFAULT_REPLICAS_PER_CHUNK,
    devices: int | None = None,
    options: Any = None,  # a SplittingOptions; anything else is a one-line error (resolve_options)
    run: Any = None,  # a RunConfig with only n_samples, seed, chunk_size and devices (resolve_run)
    interval: Any = None,  # an IntervalConfig (resolve_run)
) -> RarePopulation:
    """:func:`estimate_rare`, keeping every replica's final population (the prior conditioned on the event).

    The same seed and options give the same estimate as :func:`estimate_rare`. Memory:
    ``replicas * particles * n_params`` float32 values on the host. ``run`` may set only
    ``n_samples`` (replicas), ``seed``, ``chunk_size`` (replicas per chunk) and ``devices``;
    ``options`` and ``interval`` are as in :func:`estimate_rare`.

    Returns:
      A :class:`RarePopulation`.

    Raises:
      CountnetsError: as :func:`estimate_rare` (a ``TypeError`` too for an argument of the wrong type).
    """
    given_run = dict(seed=seed, replicas=replicas, replicas_per_chunk=replicas_per_chunk, devices=devices)
    chosen, confidence = resolve_run(run, interval, "sample_rare", given_run, _defaults(sample_rare), confidence)
    options = resolve_options(options, "sample_rare", particles=particles, sweeps=sweeps, level_fraction=level_fraction,
                              target_acceptance=target_acceptance, pilot_particles=pilot_particles,
                              max_levels=max_levels, move=move, max_sweeps=max_sweeps)  # fmt: skip
    result, acc, z = _run_retrying(
        prior=prior, arch=arch, measure=measure, options=options, retry_factor=retry_factor, encoding=encoding,
        precision=precision, margin=DEFAULT_MARGIN, confidence=confidence, rel_halfwidth=None, max_seconds=None,
        chunks_per_step=None, checkpoint=None, checkpoint_every=checkpoint_lib.DEFAULT_EVERY_SECONDS,
        progress=False, conditional=None, conditional_top=None, keep=True, where="sample_rare", **chosen,
    )  # fmt: skip
    return RarePopulation(theta=np.stack(acc.theta), weights=z, result=result)
