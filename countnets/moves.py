"""Moves that leave a prior invariant, for the rare-event estimators (:mod:`countnets.splitting`).

A :class:`Move` proposes new parameter vectors for a whole population at once; a
proposal is accepted iff its score stays at or above the current level, which makes
the accept step invariant for the prior restricted to ``{score >= level}`` whenever the
proposal kernel is reversible with respect to the prior itself:

* :class:`~countnets.priors.Gaussian`: preconditioned Crank-Nicolson,
  ``theta' = sqrt(1 - beta**2) theta + beta sigma z`` with ``z ~ N(0, I)`` and ``sigma``
  the prior's per-parameter standard deviations. The Gaussian prior is its stationary
  law and the kernel is reversible with respect to it. Step: ``beta`` in (0, 1].
* :class:`~countnets.priors.Uniform`: a reflected Gaussian random walk,
  ``theta' = reflect(theta + s a z)`` on ``[-a, a]``; reflection at the faces keeps the
  kernel symmetric, so the uniform law on the box is invariant. Step: ``s`` in (0, 2].
* :class:`~countnets.priors.Lattice`: coordinate resampling. Every coordinate is picked
  with probability ``r`` (and one uniformly chosen coordinate always is); each picked
  value index ``i`` moves to ``(i + d) mod V`` with ``d`` uniform on ``1 .. V - 1`` and then
  symmetrised (``d`` or ``V - d`` by a fair coin), so the proposal is exactly symmetric
  and the uniform law on the lattice is invariant. Step: ``r`` in [1/P, 1].

:func:`level_kernel` is one level of a splitting run on a population: resample the
particles at or above the level (:func:`resample`), then ``sweeps`` sweeps of the move,
each particle proposing once per sweep, optionally adapting the step.

Keys are raw threefry2x32 words (shape ``(2,)``, uint32); :func:`subkey` derives the
key of draw ``i`` with ``fold_in``, so every draw depends only on (key, i).

Example:
  >>> from countnets.priors import Gaussian
  >>> from countnets.architectures import MLP
  >>> invariant_move(Gaussian(1.0, 1.0), MLP(2, (3,)).layout()).name
  'pcn'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, Int, UInt32

from countnets import _threefry
from countnets._errors import CountnetsError
from countnets.layout import ParamSpec, layout_size
from countnets.priors import Gaussian, Lattice, Uniform

__all__ = ["Move", "invariant_move", "subkey", "reflect", "adapt_step", "resample", "level_kernel"]


def subkey(key: UInt32[Array, " 2"], index: Int[Array, ""] | UInt32[Array, ""] | int) -> UInt32[Array, " 2"]:
    """The raw key words of draw ``index``: ``fold_in(key, index)`` (threefry2x32, non-partitionable)."""
    with jax.threefry_partitionable(False):
        folded = jax.random.fold_in(jax.random.wrap_key_data(key, impl="threefry2x32"), jnp.asarray(index, jnp.uint32))
    return jax.random.key_data(folded)


Propose = Callable[[UInt32[Array, " 2"], Float[Array, "particles n_params"], Float[Array, ""]], Array]


@dataclasses.dataclass(frozen=True)
class Move:
    """A proposal kernel reversible with respect to a prior (see the module docstring).

    Attributes:
      name: ``"pcn"``, ``"reflected-walk"`` or ``"coordinate-resample"``.
      step_name: what the step size means: ``"beta"``, ``"step/bound"`` or ``"fraction resampled"``.
      propose: ``propose(key, theta, step) -> theta'``, both ``Float[Array, "particles n_params"]``;
        pure and traceable; ``step`` is a float32 scalar.
      initial_step: the step the pilot starts from.
      min_step, max_step: the range adaptation keeps the step in.
    """

    name: str
    step_name: str
    propose: Propose
    initial_step: float
    min_step: float
    max_step: float

    def clip(self, step: float) -> float:
        """``step`` within ``[min_step, max_step]``."""
        return float(min(self.max_step, max(self.min_step, step)))


def _normals(key: UInt32[Array, " 2"], rows: int, cols: int) -> Float[Array, "rows cols"]:
    return _threefry.normal(_threefry.bits(key, rows, cols))


def _pcn(prior: Gaussian, layout: tuple[ParamSpec, ...]) -> Move:
    scales = prior.scales(layout)

    def propose(key, theta, step):
        z = _normals(key, theta.shape[0], theta.shape[1])
        keep = jnp.sqrt(jnp.maximum(jnp.float32(1.0) - step * step, jnp.float32(0.0)))
        return keep * theta + step * jnp.asarray(scales)[None, :] * z

    return Move("pcn", "beta", propose, initial_step=0.5, min_step=1e-4, max_step=1.0)


def reflect(x: Float[Array, "*shape"], bound: float) -> Float[Array, "*shape"]:
    """``x`` folded into ``[-bound, bound]`` by reflection at the faces (period ``4 bound``)."""
    a = jnp.float32(bound)
    m = jnp.mod(x + a, 4 * a)
    m = jnp.where(m > 2 * a, 4 * a - m, m)
    return jnp.clip(m - a, -a, a)


def _reflected_walk(prior: Uniform) -> Move:
    bound = prior.bound

    def propose(key, theta, step):
        z = _normals(key, theta.shape[0], theta.shape[1])
        return reflect(theta + step * jnp.float32(bound) * z, bound)

    return Move("reflected-walk", "step/bound", propose, initial_step=0.5, min_step=1e-4, max_step=2.0)


def _coordinate_resample(prior: Lattice, n_params: int) -> Move:
    values = np.asarray(prior.values, np.float32)
    order = np.argsort(values)
    sorted_values = values[order]
    base = len(values)

    def propose(key, theta, step):
        rows, cols = theta.shape
        if base == 1 or cols == 0:
            return theta
        raw = _threefry.bits(key, rows, 3 * cols + 1)
        picked = _threefry.unit_float(raw[:, :cols]) < step
        always = (raw[:, 3 * cols] % np.uint32(cols)).astype(jnp.int32)
        picked = picked | (jnp.arange(cols, dtype=jnp.int32)[None, :] == always[:, None])
        shift = (raw[:, cols : 2 * cols] % np.uint32(base - 1)).astype(jnp.int32) + 1
        coin = (raw[:, 2 * cols : 3 * cols] >> np.uint32(31)) == 1
        shift = jnp.where(coin, shift, base - shift)
        # The value index of each entry (values are distinct; theta only ever holds lattice values).
        index = jnp.clip(jnp.searchsorted(jnp.asarray(sorted_values), theta), 0, base - 1)
        moved = jnp.asarray(sorted_values)[(index + shift) % base]
        return jnp.where(picked, moved, theta)

    return Move(
        "coordinate-resample", "fraction resampled", propose, initial_step=min(1.0, 2.0 / max(1, n_params)),
        min_step=1.0 / max(1, n_params), max_step=1.0,
    )  # fmt: skip


def invariant_move(prior: object, layout: tuple[ParamSpec, ...]) -> Move:
    """The prior-invariant move of ``prior`` over parameter vectors of ``layout``.

    Raises:
      CountnetsError: for a prior without an invariant move: anything but exactly a
        :class:`~countnets.priors.Gaussian`, :class:`~countnets.priors.Uniform` or
        :class:`~countnets.priors.Lattice` (a subclass may sample another law).
    """
    # Exact types: a subclass may draw from another law, for which these moves are not invariant.
    if type(prior) is Gaussian:
        return _pcn(prior, layout)
    if type(prior) is Uniform:
        return _reflected_walk(prior)
    if type(prior) is Lattice:
        return _coordinate_resample(prior, layout_size(layout))
    raise CountnetsError(
        f"splitting needs a prior with an invariant move (Gaussian, Uniform or Lattice), got {type(prior).__name__}"
    )


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


def level_kernel(
    score_fn: Callable[[Array], Array], move: Move, sweeps: int, *, adapt: bool, target: float, gain: float
) -> Kernel:
    """``kernel(key, theta, scores, level, log_step)``: resample at ``level``, then ``sweeps`` move sweeps.

    A proposal is accepted iff its score is at least ``level``, so the kernel leaves the
    prior restricted to ``{score >= level}`` invariant. With ``adapt`` the step follows
    :func:`adapt_step` after each sweep (for the pilot); without, it stays fixed (replicas).
    Keys: ``subkey(key, 0)`` resamples, ``subkey(key, s + 1)`` drives sweep ``s``.

    Args:
      score_fn: ``scores(theta: (particles, n_params)) -> (particles,)`` float32.
      move: the prior's :class:`Move`.
      sweeps: sweeps per level.
      adapt, target, gain: step adaptation (see :func:`adapt_step`).

    Returns:
      ``kernel`` returning ``(theta, scores, count, accepted, log_step, rates, steps)``:
      the moved population, the survivors before resampling (int32), the accepted
      proposals (int32), the final log step, and each sweep's acceptance rate and step
      (float32 ``(sweeps,)``).
    """

    def kernel(key, theta, scores, level, log_step):
        n = theta.shape[0]
        idx, count = resample(subkey(key, 0), scores >= level)
        theta, scores = theta[idx], scores[idx]

        def sweep(s, carry):
            theta, scores, log_step, accepted, rates, steps = carry
            step = jnp.exp(log_step)
            proposal = move.propose(subkey(key, s + 1), theta, step)
            new = score_fn(proposal)
            ok = new >= level
            theta = jnp.where(ok[:, None], proposal, theta)
            scores = jnp.where(ok, new, scores)
            n_ok = jnp.sum(ok, dtype=jnp.int32)
            rate = n_ok.astype(jnp.float32) / jnp.float32(n)
            rates, steps = rates.at[s].set(rate), steps.at[s].set(step)
            if adapt:
                log_step = adapt_step(log_step, rate, target, gain, move.min_step, move.max_step)
            return theta, scores, log_step, accepted + n_ok, rates, steps

        # Initial values derived from the population, so that under shard_map they vary like it.
        zero = (scores[0] > scores[0]).astype(jnp.float32)
        zeros = jnp.zeros((sweeps,), jnp.float32) + zero
        accepted0 = (count * 0).astype(jnp.int32)
        carry = (theta, scores, jnp.asarray(log_step, jnp.float32) + zero, accepted0, zeros, zeros + zero)
        theta, scores, log_step, accepted, rates, steps = jax.lax.fori_loop(0, sweeps, sweep, carry)
        return theta, scores, count, accepted, log_step, rates, steps

    return kernel
