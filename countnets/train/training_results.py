"""Result records of the training experiments (train-vs-prior, flip, diverse): config, extras, the CountResult.

Shared by the experiments under ``countnets.experiments`` that train networks; none of
them imports another.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax

from countnets._errors import CountnetsError
from countnets.defaults import DEFAULT_EXPERIMENT_CHUNK  # noqa: F401 (re-exported)
from countnets.engine import sharding
from countnets.network import boolean
from countnets.records import encode_float
from countnets.results import CountResult, Estimate, count_result, make_estimate, payloads, report
from countnets.train.conditional import ConditionalPrior
from countnets.train.trainer import TrainConfig, TrainingSet

__all__ = [
    "DEFAULT_EXPERIMENT_CHUNK",
    "MIN_EVALUABLE_ESS",
    "tilt_evaluable",
    "experiment_config",
    "set_extra",
    "prior_extra",
    "prior_fit_estimate",
    "make_result",
]



MIN_EVALUABLE_ESS = 100.0
"""Least effective sample size at which a tilted-prior estimate is shown.

The tilted prior's interval is a delta-method normal interval of a self-normalised
importance-sampling estimate; at an ESS near 1 a single sample carries all the weight
and neither the estimate nor the interval means anything. Below this ESS the summaries
print "not evaluable" instead (a rule of thumb: about 100 effective samples before a
normal interval for a proportion is taken at face value)."""


def tilt_evaluable(pair: dict[str, Any], min_ess: float = MIN_EVALUABLE_ESS) -> tuple[bool, float | None]:
    """Whether a pair's tilted-prior ``lambda*`` rests only on sweep points with ``ESS >= min_ess``.

    ``lambda*`` and its bracket ``(lo, hi]`` are read off the sweep values up to ``hi``
    (all of them when ``hi`` is infinite, i.e. censored or never decided), so every one
    of those needs a usable ESS. Returns ``(ok, first lambda whose ESS is below min_ess)``.
    """
    hi = report.number(pair["lambda_star_tilt"]["interval"][1])
    for w in pair["tilt_sweep"]:
        if report.number(w["lambda"]) > hi:
            break
        if not report.number(w["ess"]) >= min_ess:
            return False, report.number(w["lambda"])
    return True, None


def experiment_config(
    prior: Any,
    arch: Any,
    tset: TrainingSet,
    train_config: TrainConfig,
    *,
    encoding: str,
    precision: str,
    method: str,
    confidence: float,
    n_samples: int | None,
    n_runs: int,
) -> dict[str, Any]:
    """The leading fields of a training experiment's stored config, ``arch`` to ``runs``."""
    return {
        "arch": arch.config(),
        "prior": prior.config(),
        "encoding": encoding,
        "precision": precision,
        "interval": method,
        "confidence": confidence,
        "training_set": tset.config(),
        "training": train_config.config(),
        "samples": n_samples,
        "runs": n_runs,
    }


def set_extra(tset: TrainingSet) -> dict[str, Any]:
    """``target`` (hex) and ``train_points`` of a record's ``extra``."""
    return {"target": boolean.to_hex(tset.target), "train_points": list(tset.points)}


def prior_extra(cp: ConditionalPrior, confidence: float, method: str) -> dict[str, Any]:
    """``prior`` (hex -> count fitting S), ``prior_samples``, ``prior_fit`` and ``prior_fit_ci`` of ``extra``."""
    return {
        "prior": report.hist_hex(cp.histogram),
        "prior_samples": cp.samples,
        "prior_fit": cp.fit,
        "prior_fit_ci": report.interval(cp.fit, cp.samples, confidence, "exact" if cp.exact else method),
    }


def prior_fit_estimate(cp: ConditionalPrior, confidence: float, method: str) -> Estimate:
    """The estimate of ``P(fits S)`` under the prior."""
    return make_estimate("fits S", cp.fit, cp.samples, confidence=confidence, method="exact" if cp.exact else method)


def make_result(
    kind: str,
    config: dict,
    seed: int,
    chunk_size: int,
    cp: ConditionalPrior | None,
    estimates: Sequence[Estimate],
    seconds: float,
    extra: dict,
    *,
    devices: int | None = None,
) -> CountResult:
    """A :class:`CountResult` for a training experiment (``samples``: prior samples; ``devices`` as run)."""
    count = sharding.resolve_devices(devices)[0] * jax.process_count()
    return count_result(
        kind, config, seed=seed, chunk_size=chunk_size, samples=cp.samples if cp is not None else 0,
        exact=bool(cp.exact) if cp is not None else False, estimates=estimates,
        nonfinite=cp.nonfinite if cp is not None else 0,
        stopped_by="exhausted" if cp is not None and cp.exact else "samples", seconds=seconds, device_count=count,
        extra=payloads.make(payloads.payload_type(kind, extra), _json_clean(extra)),
    )  # fmt: skip


def _json_clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_clean(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return encode_float(value)
    if hasattr(value, "item"):  # numpy scalars
        return _json_clean(value.item())
    raise CountnetsError(f"cannot store {type(value).__name__} in a result record")

