"""Markov kernels restricted to a level, built from a prior-invariant move (:mod:`countnets.rare.moves`).

:func:`move_kernel` is one transition of a population at a level (a proposal kept iff its
score stays at or above the level, or a move's own transition); :func:`sweep_kernel` runs
sweeps of it, adapting the step (:func:`adapt_step`, Robbins-Monro on its log);
:func:`level_kernel` is one level of a splitting run: resample the particles at or above
the level (:func:`resample`), then the sweeps. Keys are raw threefry2x32 words, as in
:mod:`countnets.rare.moves`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, Int, UInt32

from countnets import _threefry
from countnets.rare.moves import Move, keep_at_level, subkey

__all__ = [
    "adapt_step",
    "resample",
    "LevelState",
    "MoveInfo",
    "MoveKernel",
    "move_kernel",
    "sweep_kernel",
    "level_kernel",
]


def adapt_step(
    log_step: Float[Array, ""], acceptance: Float[Array, ""], target: float, gain: float, lo: float, hi: float
) -> Float[Array, ""]:
    """One Robbins-Monro update: ``log step += gain (acceptance - target)``, clipped to ``[log lo, log hi]``."""
    out = log_step + jnp.float32(gain) * (acceptance - jnp.float32(target))
    return jnp.clip(out, jnp.float32(np.log(lo)), jnp.float32(np.log(hi)))


def resample(key: UInt32[Array, " 2"], alive: Bool[Array, " n"]) -> tuple[Int[Array, " n"], Int[Array, ""]]:
    """Indices of N particles drawn from the alive ones, and the alive count.

    The alive particles are put in a uniformly random order (sorted by random uint32
    keys) and particle ``i`` copies the ``(i mod count)``-th: each survivor gets
    ``floor(N / count)`` copies or one more, with expectation exactly ``N / count``
    (an unbiased resampling with less variance than multinomial). With no alive
    particle the indices are ``0 .. N - 1`` and the count is 0.
    """
    n = alive.shape[0]
    count = jnp.sum(alive, dtype=jnp.int32)
    u = _threefry.bits(key, n, 1)[:, 0]
    _, _, order = jax.lax.sort(((~alive).astype(jnp.uint32), u, jnp.arange(n, dtype=jnp.int32)), num_keys=2)
    return order[jnp.arange(n, dtype=jnp.int32) % jnp.maximum(count, 1)], count


Kernel = Callable[..., tuple[Array, ...]]


class LevelState(NamedTuple):
    """A population restricted to a level: ``theta`` ``(particles, n_params)`` and its ``scores`` ``(particles,)``."""

    theta: Array
    scores: Array


class MoveInfo(NamedTuple):
    """What one step of a :class:`MoveKernel` did: ``moved`` (int32) particles changed, with step size ``step``."""

    moved: Array
    step: Array


class MoveKernel(NamedTuple):
    """A move restricted to a level as an ``init`` / ``step`` pair (the shape of blackjax's kernels).

    ``init(theta) -> LevelState`` scores a population; ``step(key, state, level, step_size,
    sweep) -> (LevelState, MoveInfo)`` moves it once, never below ``level``, leaving the
    prior restricted to ``{score >= level}`` invariant. ``sweep`` (an int, possibly traced)
    is the sweep's index in its level, the same for every particle; a move may use it to
    pick what it updates (a fixed schedule). Pure and traceable: jit and vmap apply.
    """

    init: Callable[[Array], LevelState]
    step: Callable[..., tuple[LevelState, MoveInfo]]


def move_kernel(move: Move, score_fn: Callable[[Array], Array]) -> MoveKernel:
    """The :class:`MoveKernel` of ``move`` for the batched scorer ``score_fn`` (particles -> float32 scores).

    A move with a ``transition`` runs it; otherwise its proposal is kept iff its score is
    at least the level (a Metropolis step for the restricted prior: the proposal is
    reversible with respect to the prior).
    """

    def init(theta: Array) -> LevelState:
        return LevelState(theta, score_fn(theta))

    def step(key, state: LevelState, level, step_size, sweep=0) -> tuple[LevelState, MoveInfo]:
        if move.transition is not None:
            theta, scores, moved = move.transition(key, state.theta, state.scores, level, step_size, score_fn, sweep)
            return LevelState(theta, scores), MoveInfo(moved, jnp.asarray(step_size, jnp.float32))
        proposal = move.propose(key, state.theta, step_size)  # type: ignore[misc]
        theta, scores, moved = keep_at_level(proposal, state.theta, state.scores, level, score_fn)
        return LevelState(theta, scores), MoveInfo(moved, jnp.asarray(step_size, jnp.float32))

    return MoveKernel(init, step)


def sweep_kernel(
    score_fn: Callable[[Array], Array], move: Move, max_sweeps: int, *, adapt: bool, target: float, gain: float
) -> Kernel:
    """``run(key, theta, scores, level, log_step, start, stop)``: sweeps ``start .. stop - 1`` of the move at ``level``.

    Sweep ``s`` draws from ``subkey(key, s + 1)`` whatever ``start`` is, so running sweeps
    ``0 .. a - 1`` and then ``a .. b - 1`` is the same as running ``0 .. b - 1`` at once
    (the pilot adds sweeps until its mixing check passes). A proposal is accepted iff its
    score is at least ``level``, so the sweeps leave the prior restricted to ``{score >=
    level}`` invariant. With ``adapt`` the step follows :func:`adapt_step` after each sweep
    (for the pilot); without, it stays fixed (replicas).

    Args:
      score_fn: ``scores(theta: (particles, n_params)) -> (particles,)`` float32.
      move: the prior's :class:`Move`.
      max_sweeps: the most sweeps a level may run (the length of the per-sweep records).
      adapt, target, gain: step adaptation (see :func:`adapt_step`).

    Returns:
      ``run`` returning ``(theta, scores, accepted, log_step, rates, steps)``: the moved
      population, the accepted proposals (int32; for a move with a ``transition``, the
      particles it moved), the final log step, and each sweep's acceptance rate and step
      (float32 ``(max_sweeps,)``, zero outside ``start .. stop - 1``).
    """

    kernel = move_kernel(move, score_fn)

    def run(key, theta, scores, level, log_step, start, stop):
        n = theta.shape[0]

        def sweep(s, carry):
            theta, scores, log_step, accepted, rates, steps = carry
            step = jnp.exp(log_step)
            state, info = kernel.step(subkey(key, s + 1), LevelState(theta, scores), level, step, s)
            theta, scores, n_ok = state.theta, state.scores, info.moved
            rate = n_ok.astype(jnp.float32) / jnp.float32(n)
            rates, steps = rates.at[s].set(rate), steps.at[s].set(step)
            if adapt:
                log_step = adapt_step(log_step, rate, target, gain, move.min_step, move.max_step)
            return theta, scores, log_step, accepted + n_ok, rates, steps

        # Initial values derived from the population, so that under shard_map they vary like it.
        zero = (scores[0] > scores[0]).astype(jnp.float32)
        zeros = jnp.zeros((max_sweeps,), jnp.float32) + zero
        accepted0 = zero.astype(jnp.int32)
        carry = (theta, scores, jnp.asarray(log_step, jnp.float32) + zero, accepted0, zeros, zeros + zero)
        theta, scores, log_step, accepted, rates, steps = jax.lax.fori_loop(start, stop, sweep, carry)
        return theta, scores, accepted, log_step, rates, steps

    return run


def level_kernel(
    score_fn: Callable[[Array], Array], move: Move, max_sweeps: int, *, adapt: bool, target: float, gain: float
) -> Kernel:
    """``kernel(key, theta, scores, level, log_step, roots, sweeps)``: resample at ``level``, then ``sweeps`` sweeps.

    Keys: ``subkey(key, 0)`` resamples, ``subkey(key, s + 1)`` drives sweep ``s``
    (:func:`sweep_kernel`; ``sweeps`` at most ``max_sweeps``, possibly traced).

    ``roots`` (int32 ``(particles,)``) names each particle's initial ancestor; it follows
    the resampling, and the kernel counts the distinct ones among the resampled
    population: the genealogy of the run (moves change positions, never ancestors).

    Returns:
      ``kernel`` returning ``(theta, scores, count, accepted, log_step, rates, steps,
      roots, distinct)``: the moved population, the survivors before resampling (int32),
      then :func:`sweep_kernel`'s accepted count, log step and per-sweep records, the
      resampled roots and their number of distinct values (int32).
    """
    run = sweep_kernel(score_fn, move, max_sweeps, adapt=adapt, target=target, gain=gain)

    def kernel(key, theta, scores, level, log_step, roots, sweeps):
        idx, count = resample(subkey(key, 0), scores >= level)
        theta, scores, roots = theta[idx], scores[idx], roots[idx]
        ordered = jnp.sort(roots)
        distinct = 1 + jnp.sum(ordered[1:] != ordered[:-1], dtype=jnp.int32)
        theta, scores, accepted, log_step, rates, steps = run(key, theta, scores, level, log_step, 0, sweeps)
        return theta, scores, count, accepted, log_step, rates, steps, roots, distinct

    return kernel
