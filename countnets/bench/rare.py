"""Rare-event rows of the counting suite: multilevel splitting against exact enumeration and plain Monte Carlo.

The splitting estimator (``countnets.rare.splitting.estimate_rare``) is a separate module that
an installation may not have yet. :func:`rare_event_tasks` imports it only when called,
and :mod:`countnets.bench` registers these tasks only when :func:`splitting_available`;
otherwise asking for one by name says what is missing (:data:`RARE_TASK_NAMES`).
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import math
from collections.abc import Mapping
from typing import Any

from scipy import stats

from countnets._errors import CountnetsError
from countnets.bench.registry import Agreement, Measurement, Reference, Task, call
from countnets.engine.estimators import enumerate_exact, estimate_mc
from countnets.network import boolean
from countnets.network.architectures import MLP
from countnets.network.priors import Gaussian, Lattice

__all__ = ["RARE_TASK_NAMES", "UNAVAILABLE", "splitting_available", "rare_event_tasks"]

RARE_TASK_NAMES = ("rare-splitting-vs-exact", "rare-splitting-vs-mc")
UNAVAILABLE = (
    "it needs the splitting estimator countnets.rare.splitting (estimate_rare), which this installation does not have"
)


def splitting_available() -> bool:
    """Whether ``countnets.rare.splitting`` can be imported here (without importing it)."""
    return importlib.util.find_spec("countnets.rare.splitting") is not None


def _estimate_rare():
    try:
        return importlib.import_module("countnets.rare.splitting").estimate_rare
    except (ImportError, AttributeError):
        raise CountnetsError(f"the rare-event rows cannot run: {UNAVAILABLE}") from None


def _splitting_measurement(config: Mapping[str, Any], seed: int, prior, arch) -> Measurement:
    estimate_rare = _estimate_rare()
    kwargs = dict(
        seed=seed, replicas=int(config["replicas"]), particles=int(config["particles"]), encoding=config["encoding"],
        confidence=1.0 - float(config["alpha"]),
    )  # fmt: skip
    result = estimate_rare(prior, arch, config["target"], **kwargs)
    est = result.estimates[0]
    extra = result.extra
    evaluations = int(extra.get("evaluations", 0)) + int(extra.get("pilot_evaluations", 0))
    return Measurement(
        estimate=est.p,
        interval=(float(est.ci[0]), float(est.ci[1])),
        confidence=est.confidence,
        unit=f"P({est.function}) by splitting",
        samples=result.samples,
        evaluations=evaluations,
        call=call("cn.estimate_rare", prior, arch, config["target"], **kwargs),
        details={
            "method": est.method,
            "replicas": result.samples,
            "replicas_hit": est.hits,
            "relative_error": _number(extra.get("relative_error")),
            "levels": _number(extra.get("n_levels")),
            "speedup_vs_mc": _number(extra.get("speedup")),
        },
    )


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)


# ----------------------------------------------------------------------------- against exact enumeration


@functools.lru_cache(maxsize=2)
def _exact(values: tuple[float, ...], n: int, hidden: tuple[int, ...], encoding: str) -> tuple[dict[str, int], int]:
    result = enumerate_exact(Lattice(values), MLP(n, hidden), encoding=encoding, top=0, max_distinct=None)
    return dict(result.histogram or {}), result.samples


def _lattice(config: Mapping[str, Any]):
    return Lattice(tuple(float(v) for v in config["values"])), MLP(int(config["n"]), tuple(config["hidden"]))


def _exact_measure(config: Mapping[str, Any], seed: int) -> Measurement:
    prior, arch = _lattice(config)
    return _splitting_measurement(config, seed, prior, arch)


def _exact_reference(config: Mapping[str, Any]) -> float:
    prior, arch = _lattice(config)
    hist, total = _exact(prior.values, arch.n, arch.hidden, config["encoding"])
    return hist.get(boolean.to_hex(boolean.parse_function(config["target"], arch.n)), 0) / total


def _contains(m: Measurement, reference: float | None, config: Mapping[str, Any]) -> Agreement:
    ok = reference is not None and m.interval[0] <= reference <= m.interval[1]
    return Agreement(test="exact value inside the splitting interval", passed=bool(ok), overlap=bool(ok))


# ----------------------------------------------------------------------------- against plain Monte Carlo


def _mc_measure(config: Mapping[str, Any], seed: int) -> Measurement:
    prior, arch = Gaussian(float(config["sigma_w"]), float(config["sigma_b"])), MLP(int(config["n"]), ())
    m = _splitting_measurement(config, seed, prior, arch)
    kwargs = dict(
        n_samples=int(config["mc_samples"]), seed=seed + 1, encoding=config["encoding"], confidence=m.confidence
    )
    mc = estimate_mc(prior, arch, config["target"], **kwargs).estimates[0]
    # Two independent estimates compared on the log scale: z = (ln p_split - ln p_mc) / sqrt(e_split^2 + e_mc^2),
    # e_split the splitting relative standard error, e_mc = sqrt((1 - p) / hits) the binomial one.
    e_split = m.details["relative_error"]
    e_mc = math.sqrt((1 - mc.p) / mc.hits) if mc.hits else math.inf
    z = (math.log(m.estimate) - math.log(mc.p)) / math.hypot(e_split, e_mc) if m.estimate > 0 and mc.hits else math.nan
    p_value = float(2 * stats.norm.sf(abs(z))) if math.isfinite(z) else 0.0
    text = m.call + "; " + call("cn.estimate_mc", prior, arch, config["target"], **kwargs)
    details = {**m.details, "mc_hits": mc.hits, "mc_n": mc.n, "mc_p": mc.p, "mc_ci": list(mc.ci), "z": z}
    return Measurement(
        estimate=m.estimate, interval=m.interval, confidence=m.confidence, unit=m.unit, samples=m.samples + mc.n,
        evaluations=m.evaluations + mc.n, call=text, details={**details, "p_value": p_value},
    )  # fmt: skip


def _mc_agree(m: Measurement, reference: float | None, config: Mapping[str, Any]) -> Agreement:
    p_value = float(m.details["p_value"])
    lo, hi = m.details["mc_ci"]
    overlap = m.interval[0] <= hi and lo <= m.interval[1]
    return Agreement(
        test="z test of ln p (splitting against Monte Carlo)", passed=p_value >= float(config["alpha"]),
        p_value=p_value, overlap=bool(overlap),
    )  # fmt: skip


def rare_event_tasks() -> list[Task]:
    """The rare-event tasks (not registered): splitting against exact enumeration and against plain Monte Carlo.

    Raises:
      CountnetsError: when ``countnets.rare.splitting`` is not installed.
    """
    if not splitting_available():
        raise CountnetsError(f"the rare-event tasks {', '.join(RARE_TASK_NAMES)} are not available: {UNAVAILABLE}")
    lattice = {"values": [-1.0, 0.0, 1.0], "n": 3, "hidden": [2], "encoding": "01", "target": "0x16"}
    gauss = {"n": 4, "sigma_w": 1.0, "sigma_b": 1.0, "encoding": "01", "target": "0xeaa0"}
    return [
        Task(
            name="rare-splitting-vs-exact",
            group="rare-events",
            what="P(0x16) = 2 / 3^11 of the lattice 3-2-1 MLP by multilevel splitting, against exact enumeration",
            suites={
                "quick": {**lattice, "replicas": 32, "particles": 1000},
                "standard": {**lattice, "replicas": 128, "particles": 2000},
            },
            measure=_exact_measure,
            reference=Reference(
                source="exact",
                citation="exact enumeration of all 3^11 = 177,147 parameter vectors (cn.enumerate_exact)",
                claim="P(0x16) = 2 / 177147 = 1.13e-5",
                value=_exact_reference,
                tolerance="the exact value lies inside the splitting interval (level 1 - alpha)",
            ),
            agree=_contains,
        ),
        Task(
            name="rare-splitting-vs-mc",
            group="rare-events",
            what="P(0xeaa0) (about 3.5e-5) of a Gaussian perceptron on n = 4 by splitting, against plain Monte Carlo",
            suites={
                "quick": {**gauss, "replicas": 32, "particles": 1000, "mc_samples": 2_000_000},
                "standard": {**gauss, "replicas": 128, "particles": 2000, "mc_samples": 20_000_000},
            },
            measure=_mc_measure,
            reference=Reference(
                source="monte-carlo",
                citation="plain Monte Carlo (cn.estimate_mc) on an independent seed: unbiased, binomial error",
                claim="the same probability, estimated without splitting",
                tolerance="two-sided z test of ln p_split - ln p_mc at alpha "
                "(the splitting relative error from its replicas)",
            ),
            agree=_mc_agree,
        ),
    ]
