"""Typed payloads of the experiments' results (the fields a ``CountResult`` carries beyond the counts).

Each experiment returns its payload as one of these records (:mod:`countnets.records`):
frozen, typed, written and read by the one JSON codec, and read-only mappings of
their fields, so ``result.extra["results"][0]["ratio"]`` and
``result.extra.results[0].ratio`` are the same value. Every payload has two optional
fields of run information, ``checkpoint`` (path, ``resumed_from``, seconds) and
``processes``, written only when set. :func:`payload_type` says which
record a saved result of a given kind holds; :mod:`countnets.results` decodes with it.
The rare-event estimators' payloads (:class:`SplittingPayload`, :class:`IntegratedPayload`
and their parts) are in :mod:`countnets.results.rare_payloads`, re-exported here.

Sequences are lists, as JSON reads them, so a payload equals the JSON-read dicts of
schema 1 field by field. Non-finite floats are the strings ``"inf"``, ``"-inf"`` and ``"nan"`` in JSON; files of
schema 1 that wrote an undefined value as ``null`` read back as NaN.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from countnets.records import Record, StopReason, decode, encode, record
from countnets.results.rare_payloads import (
    ConditionalRow,
    IntegratedPayload,
    SplittingAttempt,
    SplittingLevel,
    SplittingPayload,
)
from countnets.stats.statistics import Estimate

__all__ = [
    "Ratio",
    "Verdicts",
    "DepthTarget",
    "DepthEntry",
    "SerialParallelPayload",
    "WriteEraseTarget",
    "WriteEraseScale",
    "WriteErasePayload",
    "GoalTarget",
    "GoalPayload",
    "TrainedFunction",
    "TrainVsPriorPayload",
    "FlipPayload",
    "DiversePayload",
    "BasinPayload",
    "IntegratedPayload",
    "SplittingAttempt",
    "SplittingLevel",
    "ConditionalRow",
    "SplittingPayload",
    "FlipDecisivePayload",
    "FlipIntegratedPayload",
    "CompositionRow",
    "CompositionPayload",
    "BenchRow",
    "BenchPayload",
    "make",
    "payload_type",
]


@record
class Ratio(Record):
    """``P(A) / P(B)`` for disjoint events A and B with its interval (:func:`countnets.results.report.ratio_record`)."""

    estimate: float
    ci: list[float]
    confidence: float
    hits_a: int
    hits_b: int
    method: str


@record
class Verdicts(Record):
    """How many per-target ratio intervals lie above 1, below 1, contain 1, or have no hits."""

    above_1: int
    below_1: int
    contains_1: int
    no_hits: int


# ----------------------------------------------------------------------------- serial-parallel


@record
class DepthTarget(Record):
    """One function's effective-depth counts at one (L, alpha)."""

    function: str
    hits: int
    p: float
    kstar_counts: list[int]
    stable_counts: list[int]
    serial_hamming_counts: list[int]
    ratio: float
    ratio_ci: list[float]


@record
class DepthEntry(Record):
    """The effective-depth distribution of one (block count L, branch scale alpha)."""

    blocks: int
    branch_scale: float
    branch_scale_spec: str
    arch: dict[str, Any]
    stopped_by: StopReason
    seconds: float
    samples: int
    kstar_counts: list[int]
    stable_counts: list[int]
    hamming_counts: list[list[int]]
    stable_exceeds_kstar: int
    serial_one_bit: int
    distinct_functions: int
    parallel: Estimate
    serial: Estimate
    ratio: Ratio
    ratio_nonconstant: Ratio
    target_verdicts: Verdicts
    per_target: list[DepthTarget]


@record
class SerialParallelPayload(Record):
    """``countnets experiment serial-parallel``: one entry per (L, alpha)."""

    results: list[DepthEntry]
    checkpoint: dict[str, Any] | None = None
    processes: int | None = None


# ----------------------------------------------------------------------------- detours


@record
class WriteEraseTarget(Record):
    """One function's networks with and without a cancelling block pair."""

    function: str
    hits: int
    p: float
    with_pair: int
    without_pair: int
    with_pair_ci: list[float]
    without_pair_ci: list[float]
    pair_counts: dict[str, int]
    ratio: float
    ratio_ci: list[float]


@record
class WriteEraseScale(Record):
    """The write-erase counts at one branch scale alpha (every alpha of a run on the same draws)."""

    branch_scale: float
    branch_scale_spec: str
    counts: dict[str, int]
    pair_counts: dict[str, int]
    with_pair: Estimate
    without_pair: Estimate
    ratio: Ratio
    distinct_functions: int
    target_verdicts: Verdicts
    per_target: list[WriteEraseTarget]


@record
class WriteErasePayload(Record):
    """``countnets experiment detour --kind write-erase``.

    The top-level counts are those of the first branch scale; with several scales,
    ``scales`` holds one entry per scale, the first included (absent with one scale,
    as in results written before it existed).
    """

    detour_kind: str
    blocks: int
    branch_scale: float
    counts: dict[str, int]
    pair_counts: dict[str, int]
    with_pair: Estimate
    without_pair: Estimate
    ratio: Ratio
    distinct_functions: int
    target_verdicts: Verdicts
    per_target: list[WriteEraseTarget]
    scales: list[WriteEraseScale] | None = None
    checkpoint: dict[str, Any] | None = None
    processes: int | None = None


@record
class GoalTarget(Record):
    """One function's direct, detour and other networks, and its detours' goals."""

    function: str
    hits: int
    p: float
    direct: int
    detour: int
    other: int
    direct_ci: list[float]
    detour_ci: list[float]
    distinct_goals: int
    goals: dict[str, int]
    goal_ci: dict[str, list[float]]
    ratio: float
    ratio_ci: list[float]


@record
class GoalPayload(Record):
    """``countnets experiment detour --kind goal``."""

    detour_kind: str
    counts: dict[str, int]
    direct: Estimate
    detour: Estimate
    ratio: Ratio
    distinct_goals: int
    distinct_function_goal_pairs: int
    goals: dict[str, int]
    direct_breakdown: dict[str, int]
    distinct_functions: int
    target_verdicts: Verdicts
    per_target: list[GoalTarget]
    checkpoint: dict[str, Any] | None = None
    processes: int | None = None


# ----------------------------------------------------------------------------- training
# The prior conditioned on fitting S (``prior``: hex -> count) and the fields around it
# are the same in every training experiment (:func:`countnets.train.training_results.prior_extra`).
# Nested analysis fields (``summary``, flip's ``pairs``) stay mappings: their fields
# depend on the analysis run, and the formatters read them by name.


@record
class TrainedFunction(Record):
    """One function's count among prior samples fitting S and among trained networks."""

    function: str
    prior_count: int
    prior_p: float
    prior_ci: list[float]
    trained_count: int
    trained_p: float
    trained_ci: list[float]


@record
class TrainVsPriorPayload(Record):
    """``countnets experiment train-vs-prior``."""

    target: str
    train_points: list[int]
    prior: dict[str, int]
    prior_samples: int
    prior_fit: int
    prior_fit_ci: list[float]
    trained: dict[str, int]
    trained_not_converged: dict[str, int]
    runs: int
    not_converged: int
    trained_nonfinite: int
    init_fit: int
    steps: dict[str, Any]
    moved: dict[str, int]
    train_seconds: float
    prior_seconds: float
    functions: list[TrainedFunction]
    summary: dict[str, Any]


@record
class FlipPayload(Record):
    """``countnets experiment flip``: one entry of ``pairs`` per (A, B)."""

    target: str
    train_points: list[int]
    prior: dict[str, int]
    prior_samples: int
    prior_fit: int
    prior_fit_ci: list[float]
    lambdas: list[float]
    tilt_lambdas: list[float]
    pairs: list[dict[str, Any]]
    trained: list[dict[str, Any]]
    runs: int
    not_converged: int
    train_seconds: float
    prior_seconds: float
    tilt_seconds: float
    summary: dict[str, Any]


@record
class DiversePayload(Record):
    """``countnets experiment diverse``: one entry of ``settings`` per reward; the prior fields when asked for."""

    target: str
    train_points: list[int]
    b: str | None
    runs: int
    chains: int
    not_converged: int
    trained: dict[str, dict[str, int]]
    settings: list[dict[str, Any]]
    train_seconds: float
    summary: dict[str, Any]
    prior: dict[str, int] | None = None
    prior_samples: int | None = None
    prior_fit: int | None = None
    prior_fit_ci: list[float] | None = None
    prior_b: float | None = None


# ----------------------------------------------------------------------------- basin volume and flip-decisive


@record
class BasinPayload(Record):
    """``countnets experiment basin``: one row per (anchor, tolerance); see docs/basin.md."""

    rows: list[dict[str, Any]]
    fitted_runs: int
    p_fits_s: dict[str, Any]
    summary: dict[str, Any]


@record
class FlipDecisivePayload(Record):
    """``countnets experiment flip-decisive``: the plan it ran, one entry of ``pairs`` per pair, the analysis."""

    plan: dict[str, Any]
    pairs: list[dict[str, Any]]
    summary: dict[str, Any]
    lambdas: list[float]
    tilt_lambdas: list[float]
    tilt_loss: str
    optimizers: list[str]


@record
class FlipIntegratedPayload(Record):
    """``countnets experiment flip-decisive`` on a version-2 (integrated-pressure) plan, issue 29.

    ``candidates``: every candidate group tried, in order, with why it did or did not
    qualify; ``pairs``: one row per pair (group, A, B, ``ln O`` and each response run);
    ``analysis``: the plan's analysis of the rows; ``stages``: the stages this result covers.
    """

    plan: dict[str, Any]
    candidates: list[dict[str, Any]]
    pairs: list[dict[str, Any]]
    analysis: dict[str, Any]
    stages: list[str]


# ----------------------------------------------------------------------------- composition


@record
class CompositionRow(Record):
    """One (target, form, n, d, L, w, alpha) row of ``countnets experiment composition``.

    ``p`` is P(f); ``p_form`` is P(f and k* = the form's stated k*); ``kstar_given_f`` maps
    each k (a string) to ``{"hits", "p", "ci"}`` of P(k* = k | f); ``hamming`` maps each k
    to the counts of the Hamming distance between the order k-1 table and f (index =
    distance) over the networks implementing f with k* = k; ``below_min_depth`` counts
    networks implementing f with k* below the proved lower bound (must be 0).

    ``estimator`` is ``None`` for Monte Carlo rows. With ``estimator == "splitting"``
    (see :mod:`countnets.experiments.composition`): ``hamming`` holds fractions instead
    of counts; ``kstar_given_f[k]["hits"]`` counts final particles (``ci`` is ``None``
    for a k no particle had); ``interval_factor`` is P(f)'s ``hi / lo``; ``splitting``
    holds the run's pilot status, levels, particles, replicas (and how many reached f),
    sweeps, relative error, evaluations and seed.
    """

    target: str
    form: str
    form_kstar: int
    form_units: int
    n: int
    d: int
    blocks: int
    w: int
    branch_scale: float
    branch_scale_spec: str
    samples: int
    stopped_by: StopReason
    seconds: float
    min_depth: int | None
    min_depth_lower: int
    min_depth_upper: int | None
    min_depth_status: str
    one_hidden_layer: bool
    p: Estimate
    p_form: Estimate
    needs_splitting: bool
    kstar_given_f: dict[str, Any]
    hamming: dict[str, Any]
    below_min_depth: int
    placement_count: int
    pair: str | None = None
    ratio: Ratio | None = None
    placement_null_ratio: float | None = None
    estimator: str | None = None
    interval_factor: float | None = None
    splitting: dict[str, Any] | None = None


@record
class CompositionPayload(Record):
    """``countnets experiment composition``: one row per (target, form, n, d, L, w, alpha).

    ``checks`` has one entry per (target, n, L, w, alpha), also where no form fits:
    ``hits`` (networks implementing the target), ``lower`` (proved lower bound on k*)
    and ``below`` (hits with k* < lower; must be 0). ``bound_violations`` sums ``below``;
    ``kstar0_nonthreshold`` counts networks with k* = 0 whose function is not a linear
    threshold function (must be 0: ``y^(0)`` is affine in x), over every function seen.
    ``splitting_run`` (splitting only): why the run stopped, groups done of all, and the
    checkpoint path.
    """

    rows: list[CompositionRow]
    checks: list[dict[str, Any]]
    bound_violations: int
    kstar0_nonthreshold: int
    splitting_run: dict[str, Any] | None = None
    checkpoint: dict[str, Any] | None = None
    processes: int | None = None


# ----------------------------------------------------------------------------- the counting suite


@record
class BenchRow(Record):
    """One task of ``countnets bench``: the measurement, its reference and the verdict.

    ``reference`` is absent for qualitative and measured-only rows, ``p_value`` for tests
    that judge an interval, ``overlap`` (does the interval meet the reference or the
    claimed region) for tests without one. ``verdict`` is ``"pass"``, ``"fail"``,
    ``"measured"`` or ``"error"`` (then ``note`` holds the error).
    """

    name: str
    group: str
    what: str
    suite: str
    config: dict[str, Any]
    command: str
    estimate: float
    interval: list[float]
    confidence: float
    unit: str
    source: str
    citation: str
    claim: str
    tolerance: str
    test: str
    verdict: str
    note: str
    samples: int
    evaluations: int
    seconds: float
    details: dict[str, Any]
    reference: float | None = None
    p_value: float | None = None
    overlap: bool | None = None


@record
class BenchPayload(Record):
    """``countnets bench``: the suite, per-row level, command, machine, verdict tallies and one row per task.

    The seed is the result's own ``seed``.
    """

    suite: str
    alpha: float
    command: str
    date: str
    machine: dict[str, Any]
    verdicts: dict[str, int]
    rows: list[BenchRow]


def make(payload_type: type, fields: Mapping[str, Any]) -> Record:
    """The payload record of ``fields`` (plain values), checked against its type: every field present and typed."""
    return decode(payload_type, encode(fields), payload_type.__name__)


def payload_type(kind: str, fields: Mapping[str, Any]) -> type | None:
    """The payload record of a result of ``kind`` with these top-level ``fields``, or ``None``.

    ``None`` means the kind's extra fields are run information only (``estimate-mc``,
    ``histogram-mc``, ``histogram-exact``); ``estimate-splitting`` holds a :class:`SplittingPayload`
    and ``estimate-integrated`` an :class:`IntegratedPayload`. An experiment's kind has the
    payload its registry record names (:mod:`countnets.experiments`). The kinds of older
    files are read as today's first (:func:`countnets.results.current_kind`).
    """
    rare = {"estimate-splitting": SplittingPayload, "estimate-integrated": IntegratedPayload}
    if kind in rare:
        return rare[kind]
    if kind == "bench":
        return BenchPayload
    from countnets import _registry as experiments

    experiment = experiments.get(kind)
    return None if experiment is None else experiment.payload_type(fields)
