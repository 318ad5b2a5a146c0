"""Typed payloads of the rare-event estimators (result kind ``estimate``): their diagnostics.

:class:`SplittingPayload` is what a splitting run (:func:`countnets.rare.splitting.estimate_rare`)
adds to its result, with one :class:`SplittingLevel` per level, a :class:`ConditionalRow` per key
of a conditional measure and a :class:`SplittingAttempt` per earlier attempt;
:class:`IntegratedPayload` is the integrated readout's (``estimate_mc(readout="integrate")``).
See ``docs/rare-events.md`` for every field. Re-exported by :mod:`countnets.results.payloads`,
whose :func:`~countnets.results.payloads.payload_type` picks them by the result's ``method``.
"""

from __future__ import annotations

from typing import Any

from countnets.records import Record, record

__all__ = ["SplittingLevel", "ConditionalRow", "IntegratedPayload", "SplittingAttempt", "SplittingPayload"]


@record
class SplittingLevel(Record):
    """One level of a splitting run (:func:`countnets.rare.splitting.estimate_rare`).

    Attributes:
      level: the score threshold; the last level is the measure's own (the event).
      step: the move's step at this level, adapted by the pilot and then fixed for every replica.
      pilot_survival: fraction of the pilot population at or above the level.
      pilot_acceptance: the pilot's acceptance rate in each sweep at this level.
      pilot_steps: the step the pilot used in each sweep (the adaptation trace).
      survival: mean over the replicas alive before this level of their fraction at or above it.
      acceptance: mean acceptance rate of the moves at this level, over the replicas alive at it.
      alive: replicas with at least one particle at or above the level (after every earlier level).
      ancestors: median over the replicas alive after the level of the distinct initial
        ancestors of their population (the genealogy; ``None`` in results before it was recorded).
      sweeps: the sweeps every replica runs at this level, set by the pilot's mixing check
        (``None`` in results before it existed: then the run's ``sweeps``).
      mixing: the pilot's mixing statistic after those sweeps (:mod:`countnets.rare.pilot`;
        ``None`` where the pilot never moved at the level, or in older results).
    """

    level: float
    step: float
    pilot_survival: float
    pilot_acceptance: list[float]
    pilot_steps: list[float]
    survival: float
    acceptance: float
    alive: int
    ancestors: float | None = None
    sweeps: int | None = None
    mixing: float | None = None


@record
class ConditionalRow(Record):
    """A key's mass in the final populations: ``P(event and key)`` and ``P(key | event)``.

    Attributes:
      key: the key (a truth table in hex for a one-field table key, else comma-separated ints).
      replicas: replicas whose final population holds the key.
      joint: unbiased estimate of ``P(event and key)``: ``mean_r Z_r c_r / N``.
      conditional: ``sum_r Z_r c_r / (N sum_r Z_r)``, the estimate of ``P(key | event)``.
      conditional_ci: delta-method t interval of the ratio over replicas, clipped to [0, 1];
        ``[0, 1]`` when the row is not determined.
      effective_replicas: Kish's count over the weights ``Z_r c_r`` (``None`` in older results).
      reliable: whether the row passes the reliability rule (``None`` in older results).
    """

    key: str
    replicas: int
    joint: float
    conditional: float
    conditional_ci: list[float]
    effective_replicas: float | None = None
    reliable: bool | None = None


@record
class IntegratedPayload(Record):
    """``estimate_mc(readout="integrate")``: conditional Monte Carlo with the readout's cone mass integrated.

    See ``docs/rare-events.md`` ("The readout integrated") for every field's definition.
    """

    method: str
    algorithm: str
    readout_parameters: int
    exact_cones: bool
    cone_particles: int
    cone_sweeps: int
    draws: int
    nonempty_cones: int
    reliable: bool
    unreliable_reasons: list[str]
    effective_draws: float
    max_draw_share: float
    reliability_rule: str
    relative_error: float | None = None
    log10_cone_range: list[float] | None = None
    draw_values: list[float] | None = None


@record
class SplittingAttempt(Record):
    """An earlier attempt of a splitting run that was not determined, rerun with more particles (its summary)."""

    particles: int
    pilot_particles: int
    p: float
    effective_replicas: float
    unreliable_reasons: list[str]
    evaluations: int
    seconds: float


@record
class SplittingPayload(Record):
    """``estimate_rare`` (``countnets estimate --method splitting``): diagnostics of the splitting run.

    See ``docs/rare-events.md`` for every field's definition.
    """

    method: str
    algorithm: str
    interval: str
    move: str
    step_name: str
    particles: int
    sweeps: int
    level_fraction: float
    target_acceptance: float
    pilot_particles: int
    pilot_status: str
    pilot_evaluations: int
    pilot_seconds: float
    n_levels: int
    levels: list[SplittingLevel]
    replica_estimates: list[float]
    relative_error: float
    replica_cv: float
    evaluations: int
    mc_equivalent_evaluations: float
    speedup: float
    upper_bound_level: int | None = None
    conditional_measure: str | None = None
    conditional: list[ConditionalRow] | None = None
    checkpoint: dict[str, Any] | None = None
    processes: int | None = None
    # The reliability rule (countnets.stats.reliability); None in results written before it existed.
    reliable: bool | None = None
    unreliable_reasons: list[str] | None = None
    effective_replicas: float | None = None
    max_replica_share: float | None = None
    extinct_replicas: int | None = None
    relative_variance: float | None = None
    well_mixed_relative_variance: float | None = None
    reliability_rule: str | None = None
    max_sweeps: int | None = None  # the pilot's mixing cap; None in results written before it existed
    # The retry of a run not determined for too few effective replicas; None in results written before it existed.
    retry_factor: int | None = None
    attempts: list[SplittingAttempt] | None = None  # the earlier attempts (their cost is in evaluations and seconds)
