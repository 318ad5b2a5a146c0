"""The splitting pilot: levels, steps and sweeps per level, fixed before any replica runs.

:func:`adaptive_levels` runs adaptive multilevel splitting on one population (SMC with
adaptive levels). At each level it resamples the particles at or above the level and
moves them, ``sweeps`` sweeps at a time, until the **mixing check** passes or the cap
``max_sweeps`` is reached:

    rho = max( |corr(score before, score after)|, mean_j |corr(output_j before, output_j after)| )

with correlations across the pilot's particles between the population just after the
resampling and the population after the sweeps so far, ``output_j`` the values the
measure's decision reads (for ``implements``, the network's output at cube point j), and a
column constant in either population counting 0 (nothing to mix). The check passes when
``rho <= MIXING_THRESHOLD`` (0.1, fixed before any run was tuned): the moved population
then carries almost no memory of which copy of which survivor it came from, in its score
(what decides the next level) or in what it computes. The sweeps a level needed are fixed
for every replica, so the replicas' kernels are fixed before they start and their
estimates stay unbiased; adapting inside a replica would not.

The move's step adapts in the pilot too (Robbins-Monro toward ``target_acceptance``).
:class:`KernelSpec` is everything a compiled kernel closes over; pilot and replicas share it.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from countnets.measures import Measure
from countnets.network import boolean
from countnets.network.architectures import Architecture
from countnets.network.priors import Prior
from countnets.rare.kernels import level_kernel, resample, sweep_kernel
from countnets.rare.moves import Move, move_for, subkey

__all__ = ["MIXING_THRESHOLD", "Pilot", "ByIdentity", "KernelSpec", "mixing_correlation", "adaptive_levels"]

MIXING_THRESHOLD = 0.1
"""A level's sweeps are enough once :func:`mixing_correlation` is at most this."""


@dataclasses.dataclass(frozen=True)
class Pilot:
    """What the pilot fixed: levels, steps and sweeps, with the adaptation it went through.

    Attributes:
      levels: ``L_1 < ... < L_K`` (float32 values); ``L_K`` is the event's level.
      steps: the move's step at each level (the pilot's last adapted value there).
      survival: fraction of the pilot population at or above each level.
      acceptance: per level, the acceptance rate of each sweep.
      step_trace: per level, the step used in each sweep.
      status: ``"reached"`` (the pilot reached the event), ``"stalled"`` (no particle
        scored above the last level: the event looks unreachable) or ``"max_levels"``.
      particles: the pilot population.
      evaluations: network evaluations the pilot used.
      seconds: its wall time.
      sweeps: the sweeps each level runs (the mixing check's outcome, at most ``max_sweeps``).
      mixing: each level's last :func:`mixing_correlation` (NaN for an appended level the pilot never moved at).
    """

    levels: tuple[float, ...]
    steps: tuple[float, ...]
    survival: tuple[float, ...]
    acceptance: tuple[tuple[float, ...], ...]
    step_trace: tuple[tuple[float, ...], ...]
    status: str
    particles: int
    evaluations: int
    seconds: float
    sweeps: tuple[int, ...] = ()
    mixing: tuple[float, ...] = ()

    def fingerprint(self) -> dict:
        """Levels, steps, sweeps and status: what the replicas depend on (checked on resume)."""
        return {"levels": list(self.levels), "steps": list(self.steps), "sweeps": list(self.sweeps),
                "status": self.status}  # fmt: skip


class ByIdentity:
    """A measure compared by identity, so that it can sit in a static ``jit`` argument.

    JAX then reuses a compiled pilot level or replica step for every run with the same
    measure object, prior, architecture and options (another seed, another pilot).
    """

    __slots__ = ("measure",)

    def __init__(self, measure: Measure):
        self.measure = measure

    def __hash__(self) -> int:
        return id(self.measure)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ByIdentity) and other.measure is self.measure


@dataclasses.dataclass(frozen=True)
class KernelSpec:
    """Everything a compiled kernel closes over (hashable: a static ``jit`` argument).

    ``max_sweeps`` is the length of the per-sweep records (the most sweeps a level runs).
    """

    prior: Prior
    arch: Architecture
    measure: ByIdentity
    encoding: str
    precision: str
    max_sweeps: int
    target_acceptance: float
    gain: float
    margin: float = 0.0
    per_chunk: int = 0
    particles: int = 0
    conditional: ByIdentity | None = None
    move: str = "auto"

    def parts(self) -> tuple[Move, Callable[[Array], Array], Array]:
        """The move, the batched scorer and the cube."""
        x = boolean.cube(self.arch.n, self.encoding)
        measure, arch, precision = self.measure.measure, self.arch, self.precision

        def one(theta):
            s = jnp.asarray(measure.score(arch, arch.unflatten(theta), x, precision), jnp.float32)  # type: ignore[misc]
            return jnp.where(jnp.isnan(s), -jnp.inf, s)

        return move_for(self.prior, arch, measure, self.move, self.encoding, precision), jax.vmap(one), x

    def kernel(self, adapt: bool):
        """:func:`countnets.rare.kernels.level_kernel` of this spec."""
        move, score_fn, _ = self.parts()
        return level_kernel(score_fn, move, self.max_sweeps, adapt=adapt, target=self.target_acceptance, gain=self.gain)

    def sweeper(self, adapt: bool):
        """:func:`countnets.rare.kernels.sweep_kernel` of this spec."""
        move, score_fn, _ = self.parts()
        return sweep_kernel(score_fn, move, self.max_sweeps, adapt=adapt, target=self.target_acceptance, gain=self.gain)


@functools.partial(jax.jit, static_argnums=(0, 2))
def _pilot_init(spec: KernelSpec, key: Array, n: int) -> tuple[Array, Array]:
    theta = spec.prior.sample(key, 0, n, spec.arch.layout())
    return theta, spec.parts()[1](theta)


@functools.partial(jax.jit, static_argnums=0)
def _pilot_resample(spec: KernelSpec, key, theta, scores, level):
    idx, _ = resample(subkey(key, 0), scores >= level)
    return theta[idx], scores[idx]


@functools.partial(jax.jit, static_argnums=0)
def _pilot_sweeps(spec: KernelSpec, key, theta, scores, level, log_step, start, stop):
    return spec.sweeper(True)(key, theta, scores, level, log_step, start, stop)


@functools.partial(jax.jit, static_argnums=0)
def _pilot_outputs(spec: KernelSpec, theta):
    arch, measure, x = spec.arch, spec.measure.measure, boolean.cube(spec.arch.n, spec.encoding)
    values = jax.vmap(lambda t: measure.outputs(arch, arch.unflatten(t), x, spec.precision))(theta)
    return values.reshape(theta.shape[0], -1).astype(jnp.float32)


def _column_correlations(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of each column of ``a`` with the same column of ``b``; 0 where either is constant."""
    a = np.where(np.isfinite(a), a, 0.0).astype(np.float64)
    b = np.where(np.isfinite(b), b, 0.0).astype(np.float64)
    a, b = a - a.mean(axis=0), b - b.mean(axis=0)
    scale = np.sqrt((a * a).sum(axis=0) * (b * b).sum(axis=0))
    out = np.zeros(a.shape[1])
    ok = scale > 1e-12 * max(1.0, float(scale.max(initial=0.0)))
    out[ok] = (a * b).sum(axis=0)[ok] / scale[ok]
    return out


def mixing_correlation(
    scores_before: np.ndarray, scores_after: np.ndarray, outputs_before: np.ndarray, outputs_after: np.ndarray
) -> float:
    """The pilot's mixing statistic (module docstring): the larger of the score's and the outputs' mean |correlation|.

    Args:
      scores_before, scores_after: ``(particles,)``, after the resampling and after the sweeps.
      outputs_before, outputs_after: ``(particles, values)``, the measure's outputs at the same times.

    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.normal(size=(4000, 3)), rng.normal(size=(4000, 3))
    >>> round(mixing_correlation(a[:, 0], a[:, 0], a, a), 6), mixing_correlation(a[:, 0], b[:, 0], a, b) < 0.05
    (1.0, True)
    """
    score = abs(float(_column_correlations(scores_before[:, None], scores_after[:, None])[0]))
    outputs = float(np.mean(np.abs(_column_correlations(outputs_before, outputs_after)))) if outputs_before.size else 0
    return max(score, outputs)


def adaptive_levels(
    spec: KernelSpec, key: Array, *, particles: int, sweeps: int, max_sweeps: int, level_fraction: float,
    max_levels: int, target: float, initial_step: float,
) -> dict:  # fmt: skip
    """The pilot's loop (module docstring); the fields of a :class:`Pilot` but ``seconds``.

    Level ``k`` is the ``ceil(level_fraction * particles)``-th largest score, or the smallest
    score above level ``k - 1`` when ties would repeat it, capped at ``target``; the
    population is resampled at it (``subkey(level key, 0)``) and moved ``sweeps`` sweeps at a
    time (sweep ``s`` from ``subkey(level key, s + 1)``, as in a replica) until the mixing
    check passes or ``max_sweeps`` sweeps are done.
    """
    n = particles
    theta, scores = _pilot_init(spec, key, n)
    log_step = np.float32(math.log(initial_step))
    out: dict = {k: [] for k in ("levels", "steps", "survival", "acceptance", "step_trace", "sweeps", "mixing")}
    evaluations, status, previous = n, "max_levels", -math.inf
    rank = max(1, math.ceil(level_fraction * n))
    for k in range(max_levels):
        s = np.asarray(scores, np.float32)
        candidate = float(np.sort(s)[::-1][rank - 1])
        if candidate >= target:
            level = target
        elif candidate > previous:
            level = candidate
        else:
            above = s[s > previous]
            if above.size == 0:
                status = "stalled"
                break
            level = float(min(float(above.min()), target))
        out["survival"].append(float(np.mean(s >= level)))
        level_key = subkey(key, k + 1)
        theta, scores = _pilot_resample(spec, level_key, theta, scores, np.float32(level))
        before_scores, before_outputs = np.asarray(scores), np.asarray(_pilot_outputs(spec, theta))
        done, rates, used = 0, [], []
        while True:
            stop = min(done + sweeps, max_sweeps)
            theta, scores, _, log_step, r, u = _pilot_sweeps(spec, level_key, theta, scores, np.float32(level),
                                                             log_step, np.int32(done), np.int32(stop))  # fmt: skip
            rates += [float(v) for v in np.asarray(r)[done:stop]]
            used += [float(v) for v in np.asarray(u)[done:stop]]
            evaluations += (stop - done) * n
            done = stop
            rho = mixing_correlation(before_scores, np.asarray(scores), before_outputs,
                                     np.asarray(_pilot_outputs(spec, theta)))  # fmt: skip
            if rho <= MIXING_THRESHOLD or done >= max_sweeps:
                break
        out["levels"].append(level)
        out["steps"].append(float(np.exp(np.float32(log_step))))
        out["acceptance"].append(tuple(rates))
        out["step_trace"].append(tuple(used))
        out["sweeps"].append(done)
        out["mixing"].append(rho)
        if level >= target:
            status = "reached"
            break
        previous = level
    if status != "reached":
        out["levels"].append(target)
        out["steps"].append(float(np.exp(np.float32(log_step))))
        out["survival"].append(float(np.mean(np.asarray(scores, np.float32) >= target)))
        out["acceptance"].append(())
        out["step_trace"].append(())
        out["sweeps"].append(max(out["sweeps"], default=sweeps))
        out["mixing"].append(math.nan)
    fields = {name: tuple(values) for name, values in out.items()}
    return {**fields, "status": status, "particles": n, "evaluations": evaluations}
