"""One counting pass of a histogram measure, sampled or exactly enumerated, as experiments run it.

The circuit experiments (serial-parallel, detour) each count one keyed measure over
the prior, either by sampling or by enumerating every configuration of a lattice
prior. This module holds what they share: checking the options, the run config, the
pass itself, and the :class:`countnets.results.CountResult` it ends in.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from countnets._errors import CountnetsError, check_finite_float, check_positive_int
from countnets.defaults import ALL_FUNCTIONS as ALL  # noqa: F401 (re-exported)
from countnets.engine import estimators
from countnets.engine.accumulators import KeyedAccumulator
from countnets.engine.driver import RunConfig, RunOutcome
from countnets.engine.sources import ChunkSource, lattice_source, sampling_source
from countnets.engine.steps import build_step
from countnets.measures import Measure
from countnets.network import boolean
from countnets.network.priors import Prior
from countnets.results import CountResult

__all__ = [
    "ALL",
    "resolve_targets",
    "check_run",
    "experiment_config",
    "circuit_run",
    "source_for",
    "keyed_pass",
    "stop_reason",
    "finish",
]


def resolve_targets(targets: str | Sequence[int | str], n: int) -> list[int] | None:
    """Target truth tables as ints, or ``None`` for ``"all"`` (every one of the 2**(2**n) functions).

    ``targets`` is ``"all"``, a comma-separated string of hex tables or names, or a
    sequence of ints/strings (see :func:`countnets.parse_function`).
    """
    if isinstance(targets, str):
        if targets.strip().lower() == ALL:
            return None
        parts = [t.strip() for t in targets.split(",")]
        if not all(parts):
            raise CountnetsError(f"targets must be 'all' or comma-separated functions, got {targets!r}")
        targets = parts
    return estimators.normalise_targets(list(targets), n)


def check_run(n_samples: int | None, confidence: float, method: str, exact: bool) -> tuple[int, float, str]:
    """``(n_samples, confidence, method)`` checked; an enumeration has 1 nominal sample and method ``"exact"``."""
    if exact:
        confidence = check_finite_float("confidence", confidence)
        if not 0 < confidence < 1:
            raise CountnetsError(f"confidence must be in (0, 1), got {confidence}")
        return 1, confidence, "exact"
    if n_samples is None:
        raise CountnetsError("n_samples is required when sampling (exact=False)")
    n_samples = check_positive_int("n_samples (sample count)", n_samples)
    return n_samples, estimators.check_interval(confidence, method), method


def experiment_config(
    prior: Prior, arch: Any, *, n: int, targets: str | Sequence[int | str], encoding: str, precision: str,
    margin: float, method: str, confidence: float, max_seconds: float | None,
) -> tuple[list[int] | None, float | None, dict[str, Any]]:  # fmt: skip
    """Checked targets and ``max_seconds``, and the config of a circuit experiment.

    Checks the targets, then ``max_seconds``, then the base config of ``arch``
    (:func:`countnets.engine.estimators.base_config`); the config gets ``targets`` (``"all"`` or
    hex tables) and ``confidence``.

    Returns:
      ``(target_ints, max_seconds, config)``; ``target_ints`` is ``None`` for ``"all"``.
    """
    target_ints = resolve_targets(targets, n)
    if max_seconds is not None:
        max_seconds = check_finite_float("max_seconds", max_seconds, positive=True)
    config = estimators.base_config(prior, arch, encoding, precision, margin, method)
    config["targets"] = ALL if target_ints is None else [boolean.to_hex(t) for t in target_ints]
    config["confidence"] = confidence
    return target_ints, max_seconds, config


def circuit_run(
    *, n_samples: int, seed: int, chunk_size: int, chunks_per_step: int | None, max_seconds: float | None,
    progress: bool | float, devices: int | None, checkpoint: str | os.PathLike | None, checkpoint_every: float,
) -> RunConfig:  # fmt: skip
    """The :class:`RunConfig` of a circuit experiment (``n_samples`` is nominal for an enumeration)."""
    return RunConfig(
        n_samples=n_samples, seed=seed, chunk_size=chunk_size, chunks_per_step=chunks_per_step, devices=devices,
        checkpoint=checkpoint, checkpoint_every=checkpoint_every, max_seconds=max_seconds, progress=progress,
    )  # fmt: skip


def source_for(prior: Prior, arch: Any, chunk_size: int, exact: bool, max_configurations: int):
    """``(source, total)``: every lattice configuration (``total`` of them) when ``exact``, else prior samples."""
    if exact:
        source = lattice_source(prior, arch, chunk_size, max_configurations)
        return source, source.chunk_size * source.n_chunks
    return sampling_source(prior, arch, chunk_size), None


def keyed_pass(
    kind: str, measure: Measure, prior: Prior, arch: Any, *, config: dict[str, Any], run: RunConfig, exact: bool,
    max_configurations: int, encoding: str, precision: str, margin: float, bytes_per_network: int,
    description: str, checkpoint_suffix: str = "", fingerprint_extra: dict[str, Any] | None = None,
) -> tuple[KeyedAccumulator, RunOutcome, ChunkSource]:  # fmt: skip
    """Histogram of ``measure``'s keys over ``run.n_samples`` samples, or over every configuration when ``exact``.

    The checkpoint fingerprint is that of run ``kind`` with ``config`` (plus
    ``fingerprint_extra``); an enumeration has no seed. ``bytes_per_network`` sizes the
    chunks per step (activation memory of one network).

    Returns:
      ``(accumulator, outcome, source)``.
    """
    source, total = source_for(prior, arch, run.chunk_size, exact, max_configurations)
    step = build_step(source, arch, measure, reduce="histogram", encoding=encoding, precision=precision, margin=margin)
    acc = KeyedAccumulator(measure.key_fields(arch))
    outcome = estimators.run_step(
        step, acc, run=run, source=source, kind=kind, config=config, bytes_per_network=bytes_per_network,
        description=description, n_samples=total if exact else None, seed=None if exact else run.seed,
        checkpoint_suffix=checkpoint_suffix, fingerprint_extra=fingerprint_extra,
    )  # fmt: skip
    return acc, outcome, source


def stop_reason(exact: bool, stopped_by: str) -> str:
    """How a run ended: an enumeration that ran through every configuration is ``"exhausted"``."""
    return "exhausted" if exact and stopped_by == "samples" else stopped_by


def finish(
    kind: str, config: dict[str, Any], *, exact: bool, seed: int, source: ChunkSource, outcome: RunOutcome,
    estimates: list, nonfinite: int, near: int, extra: Mapping[str, Any],
) -> CountResult:  # fmt: skip
    """The :class:`CountResult` of a circuit run (no seed and ``"exhausted"`` for a full enumeration)."""
    return estimators.pass_result(
        kind, config, seed=None if exact else seed, source=source, outcome=outcome, estimates=estimates,
        nonfinite=nonfinite, near=near, stopped_by=stop_reason(exact, outcome.stopped_by), extra=extra,
    )  # fmt: skip
