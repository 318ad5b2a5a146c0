"""Moves that leave a prior invariant, for the rare-event estimators (:mod:`countnets.rare.splitting`).

A :class:`Move` proposes new parameter vectors for a whole population at once; a
proposal is accepted iff its score stays at or above the current level, which makes
the accept step invariant for the prior restricted to ``{score >= level}`` whenever the
proposal kernel is reversible with respect to the prior itself:

* :class:`~countnets.network.priors.Gaussian`: preconditioned Crank-Nicolson,
  ``theta' = sqrt(1 - beta**2) theta + beta sigma z`` with ``z ~ N(0, I)`` and ``sigma``
  the prior's per-parameter standard deviations. The Gaussian prior is its stationary
  law and the kernel is reversible with respect to it. Step: ``beta`` in (0, 1].
  Elliptical slice sampling restricted to the level (``"ess"``, the default) and its exact
  form for a readout block in which the output is linear (``"lin-ess"``) are listed
  with the move makers below.
* :class:`~countnets.network.priors.Uniform`: a reflected Gaussian random walk,
  ``theta' = reflect(theta + s a z)`` on ``[-a, a]``; reflection at the faces keeps the
  kernel symmetric, so the uniform law on the box is invariant. Step: ``s`` in (0, 2].
* :class:`~countnets.network.priors.Lattice`: a unit's exact conditional (``"unit-gibbs"``, the
  default, with the move makers below), or coordinate resampling. Every coordinate is picked
  with probability ``r`` (and one uniformly chosen coordinate always is); each picked
  value index ``i`` moves to ``(i + d) mod V`` with ``d`` uniform on ``1 .. V - 1`` and then
  symmetrised (``d`` or ``V - d`` by a fair coin), so the proposal is exactly symmetric
  and the uniform law on the lattice is invariant. Step: ``r`` in [1/P, 1].

:func:`countnets.rare.kernels.level_kernel` is one level of a splitting run on a population:
resample the particles at or above the level, then ``sweeps`` sweeps of the move, each
particle proposing once per sweep, optionally adapting the step.

Keys are raw threefry2x32 words (shape ``(2,)``, uint32); :func:`subkey` derives the
key of draw ``i`` with ``fold_in``, so every draw depends only on (key, i).

Example:
  >>> from countnets.network.priors import Gaussian
  >>> from countnets.network.architectures import MLP
  >>> invariant_move(Gaussian(1.0, 1.0), MLP(2, (3,)).layout()).name
  'ess'
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike
from jaxtyping import Array, Float, Int, UInt32

from countnets import _threefry
from countnets._errors import CountnetsError
from countnets.defaults import MOVES  # noqa: F401 (re-exported)
from countnets.measures import Measure
from countnets.network import boolean
from countnets.network.architectures import Architecture, readout_indices
from countnets.network.layout import ParamSpec, layout_size
from countnets.network.priors import Gaussian, Lattice, Uniform

__all__ = [
    "Move",
    "LinearReadout",
    "MOVES",
    "MOVES_OF",
    "MAX_SHRINKS",
    "MAX_UNIT_CONFIGURATIONS",
    "invariant_move",
    "move_for",
    "unit_blocks",
    "subkey",
    "reflect",
    "keep_at_level",
]


def subkey(key: UInt32[Array, " 2"], index: Int[Array, ""] | UInt32[Array, ""] | int) -> UInt32[Array, " 2"]:
    """The raw key words of draw ``index``: ``fold_in(key, index)`` (threefry2x32, non-partitionable)."""
    with jax.threefry_partitionable(False):
        folded = jax.random.fold_in(jax.random.wrap_key_data(key, impl="threefry2x32"), jnp.asarray(index, jnp.uint32))
    return jax.random.key_data(folded)


Propose = Callable[[UInt32[Array, " 2"], Float[Array, "particles n_params"], Float[Array, ""]], Array]
# transition(key, theta, scores, level, step, score_fn, sweep) -> (theta, scores, moved): a whole move restricted to
# the level; ``sweep`` (the sweep's index in its level, the same for every replica) may pick what it updates.
Transition = Callable[..., tuple[Array, Array, Array]]


@dataclasses.dataclass(frozen=True)
class Move:
    """A proposal kernel reversible with respect to a prior (see the module docstring).

    Attributes:
      name: one of :data:`MOVES` (a user prior's own move may name itself).
      step_name: what the step size means: ``"beta"``, ``"step/bound"``, ``"fraction resampled"``,
        ``"bracket/2pi"`` or ``"none"``.
      propose: ``propose(key, theta, step) -> theta'``, both ``Float[Array, "particles n_params"]``;
        pure and traceable; ``step`` is a float32 scalar. A proposal is kept iff its
        score stays at or above the level (``None`` for a move with a ``transition``).
      initial_step: the step the pilot starts from.
      min_step, max_step: the range adaptation keeps the step in.
      transition: ``transition(key, theta, scores, level, step, score_fn, sweep) -> (theta,
        scores, moved)``: a whole transition that stays at or above the level by itself
        (elliptical slice sampling, a unit's exact conditional); ``moved`` counts the
        particles that changed. ``None``: the move is ``propose`` and an accept step.
    """

    name: str
    step_name: str
    propose: Propose | None
    initial_step: float
    min_step: float
    max_step: float
    transition: Transition | None = None

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


MAX_SHRINKS = 24  # elliptical slice sampling: bracket shrinks per transition before the particle stays put


def _uniforms(key: UInt32[Array, " 2"], rows: int) -> Float[Array, " rows"]:
    return _threefry.unit_float(_threefry.bits(key, rows, 1))[:, 0]


def _ess(prior: Gaussian, layout: tuple[ParamSpec, ...]) -> Move:
    """Elliptical slice sampling restricted to the level (Murray, Adams & MacKay 2010).

    For a particle ``theta`` draw ``nu`` from the prior; the ellipse ``theta cos(phi) +
    nu sin(phi)`` passes through ``theta`` at ``phi = 0`` and every point of it has the
    prior's law jointly with ``(theta, nu)``. An angle is drawn in a bracket of width
    ``2 pi step`` placed uniformly at random around 0; while the point's score is below
    the level the bracket shrinks toward 0 and a new angle is drawn in it. The first
    point at or above the level is the move: rejection-free and invariant for the prior
    restricted to the level (slice sampling with shrinkage is reversible path by path,
    so stopping after :data:`MAX_SHRINKS` shrinks and staying put keeps it so).
    """
    scales = jnp.asarray(prior.scales(layout))
    two_pi = np.float32(2 * np.pi)

    def transition(key, theta, scores, level, step, score_fn, sweep):
        n, p = theta.shape
        nu = scales[None, :] * _normals(subkey(key, 0), n, p)
        width = two_pi * step
        phi = _uniforms(subkey(key, 1), n) * width
        lo, hi = phi - width, phi

        def body(carry):
            i, phi, lo, hi, done, new_theta, new_scores = carry
            point = theta * jnp.cos(phi)[:, None] + nu * jnp.sin(phi)[:, None]
            s = score_fn(point)
            ok = (s >= level) & ~done
            new_theta = jnp.where(ok[:, None], point, new_theta)
            new_scores = jnp.where(ok, s, new_scores)
            done = done | ok
            lo = jnp.where(~done & (phi < 0), phi, lo)
            hi = jnp.where(~done & (phi >= 0), phi, hi)
            phi = jnp.where(done, phi, lo + _uniforms(subkey(key, i + 2), n) * (hi - lo))
            return i + 1, phi, lo, hi, done, new_theta, new_scores

        def more(carry):
            return (carry[0] < MAX_SHRINKS) & ~jnp.all(carry[4])

        done0 = scores != scores  # all False, varying like the population (shard_map)
        carry = (jnp.int32(0) + (scores[0] != scores[0]).astype(jnp.int32), phi, lo, hi, done0, theta, scores)
        _, _, _, _, done, theta, scores = jax.lax.while_loop(more, body, carry)
        return theta, scores, jnp.sum(done, dtype=jnp.int32)

    return Move("ess", "bracket/2pi", None, initial_step=1.0, min_step=1.0, max_step=1.0, transition=transition)


def keep_at_level(
    proposal: Array, theta: Array, scores: Array, level: ArrayLike, score_fn: Callable[[Array], Array]
) -> tuple[Array, Array, Array]:
    """The Metropolis step of a move restricted to a level: each particle takes its proposal iff that scores >= level.

    ``proposal`` and ``theta`` are ``(particles, n_params)``, ``scores`` ``(particles,)``;
    returns the new ``(theta, scores)`` and the number of particles that moved (int32).
    """
    new = score_fn(proposal)
    ok = new >= level
    return jnp.where(ok[:, None], proposal, theta), jnp.where(ok, new, scores), jnp.sum(ok, dtype=jnp.int32)


@dataclasses.dataclass(frozen=True, eq=False)
class LinearReadout:
    """What the exact readout move (``"lin-ess"``) needs besides the prior.

    Attributes:
      indices: flat indices (int32) of the readout block, in which the output is linear
        and homogeneous with the rest fixed (:func:`countnets.network.architectures.readout_indices`).
      outputs: ``outputs(theta (particles, n_params)) -> (particles, m)``, the output
        pre-activations at the measure's points.
      labels: bool ``(m,)``: the score counts the points where ``(y > 0) == label``.
    """

    indices: np.ndarray
    outputs: Callable[[Array], Array]
    labels: np.ndarray


def _lin_ess(prior: Gaussian, layout: tuple[ParamSpec, ...], linear: LinearReadout) -> Move:
    """An exact ellipse move of the readout block (LIN-ESS, Gessner, Kanjilal & Hennig 2020), alternating with ESS.

    With the hidden layers fixed, the output at point ``j`` on the ellipse ``r cos(phi) +
    nu sin(phi)`` of the readout ``r`` (``nu`` a prior draw of the block) is ``y_j(r) cos(phi)
    + y_j(nu) sin(phi)``, so point ``j`` agrees on an open half circle and the agreeing count
    is piecewise constant in ``phi`` with ``2 m`` known breakpoints. The angle is drawn
    uniformly on the arcs where the count is at least ``ceil(level - 1/2)`` (necessary for
    ``score >= level``, the tie-break being at most 1/2) and the point is kept iff its score is
    at or above the level. The proposal is symmetric (the arcs seen from the new point are the
    same arcs shifted, and the rotation of ``(r, nu)`` keeps their joint law), so this is a
    Metropolis step exact for the restricted prior; at an integer level (the event itself,
    an intersection of half-spaces) it never rejects. A perceptron (no hidden layer) uses it
    on every sweep; otherwise odd sweeps use it and even sweeps move every parameter by
    :func:`_ess`.
    """
    scales = jnp.asarray(prior.scales(layout))
    idx = jnp.asarray(np.asarray(linear.indices, np.int32))
    sign = jnp.where(jnp.asarray(np.asarray(linear.labels, bool)), 1.0, -1.0).astype(jnp.float32)
    pi = np.float32(np.pi)
    ess = _ess(prior, layout).transition
    every_sweep = len(linear.indices) == layout_size(layout)

    def readout(key, theta, scores, level, score_fn):
        n, k, m = theta.shape[0], idx.shape[0], sign.shape[0]
        nu = scales[idx][None, :] * _normals(subkey(key, 0), n, k)
        y0 = linear.outputs(theta) * sign[None, :]  # > 0 where the point agrees at phi = 0
        y1 = linear.outputs(theta.at[:, idx].set(nu)) * sign[None, :]
        delta = jnp.arctan2(y1, y0)  # point j agrees for phi in (delta_j - pi/2, delta_j + pi/2) mod 2 pi
        events = jnp.concatenate([jnp.mod(delta - pi / 2, 2 * pi), jnp.mod(delta + pi / 2, 2 * pi)], axis=1)
        change = jnp.concatenate([jnp.ones((n, m), jnp.int32), -jnp.ones((n, m), jnp.int32)], axis=1)
        events, change = jax.lax.sort((events, change), dimension=1, num_keys=1)
        start = jnp.sum(y0 > 0, axis=1, dtype=jnp.int32)
        counts = start[:, None] + jnp.concatenate([jnp.zeros((n, 1), jnp.int32), jnp.cumsum(change, axis=1)], 1)
        edges = jnp.concatenate([jnp.zeros((n, 1)), events, jnp.full((n, 1), 2 * pi)], axis=1)
        need = jnp.ceil(level - np.float32(0.5))
        lengths = jnp.where(counts.astype(jnp.float32) >= need, jnp.diff(edges, axis=1), jnp.float32(0.0))
        cum = jnp.cumsum(lengths, axis=1)
        u = _uniforms(subkey(key, 1), n) * cum[:, -1]
        segment = jnp.minimum(jnp.sum(cum <= u[:, None], axis=1), 2 * m)
        before = jnp.take_along_axis(cum - lengths, segment[:, None], 1)[:, 0]
        phi = jnp.take_along_axis(edges, segment[:, None], 1)[:, 0] + (u - before)
        block = theta[:, idx] * jnp.cos(phi)[:, None] + nu * jnp.sin(phi)[:, None]
        return keep_at_level(theta.at[:, idx].set(block), theta, scores, level, score_fn)

    def transition(key, theta, scores, level, step, score_fn, sweep):
        if every_sweep:
            return readout(key, theta, scores, level, score_fn)
        return jax.lax.cond(
            sweep % 2 == 1, lambda k, t, s, lv: readout(k, t, s, lv, score_fn),
            lambda k, t, s, lv: ess(k, t, s, lv, step, score_fn, sweep), key, theta, scores, level,
        )  # fmt: skip

    return Move("lin-ess", "none", None, initial_step=1.0, min_step=1.0, max_step=1.0, transition=transition)


MAX_UNIT_CONFIGURATIONS = 243
"""A lattice unit's exact conditional enumerates at most this many value combinations;
past it, a random block of the unit's coordinates small enough to enumerate moves instead."""


def unit_blocks(layout: tuple[ParamSpec, ...]) -> list[np.ndarray]:
    """The flat indices of each unit's incoming weights and bias, in layout order; every index once.

    A weight ``(fan_in, fan_out)`` gives one block per output column, joined by the
    entry of the bias ``(fan_out,)`` that follows it, if one does; a 1-d weight (a
    readout ``u``) is one block, joined by a scalar bias that follows it. Anything else
    (a bias with no weight before it) is a block of its own.

    >>> from countnets.network.architectures import MLP
    >>> [b.tolist() for b in unit_blocks(MLP(2, (2,)).layout())]
    [[0, 2, 4], [1, 3, 5], [6, 7, 8]]
    """
    from countnets.network.layout import layout_offsets

    specs = layout_offsets(layout)
    blocks: list[np.ndarray] = []
    i = 0
    while i < len(specs):
        spec, offset = specs[i]
        nxt = specs[i + 1] if i + 1 < len(specs) else None
        if spec.kind == "weight" and len(spec.shape) == 2:
            fan_in, fan_out = spec.shape
            bias = nxt if nxt is not None and nxt[0].kind == "bias" and nxt[0].shape == (fan_out,) else None
            for j in range(fan_out):
                cols = [offset + r * fan_out + j for r in range(fan_in)]
                blocks.append(np.asarray(cols + ([bias[1] + j] if bias else []), np.int32))
            i += 2 if bias else 1
        elif spec.kind == "weight" and len(spec.shape) == 1:
            scalar = nxt is not None and nxt[0].kind == "bias" and nxt[0].size == 1
            blocks.append(np.arange(offset, offset + spec.size + (1 if scalar else 0), dtype=np.int32))
            i += 2 if scalar else 1
        else:
            blocks += [np.asarray([k], np.int32) for k in range(offset, offset + spec.size)]
            i += 1
    return blocks


def _unit_gibbs(prior: Lattice, layout: tuple[ParamSpec, ...]) -> Move:
    """One unit per sweep, its exact conditional restricted to the level (heat-bath Gibbs on a lattice).

    Sweep ``s`` updates unit ``s mod U`` (units of :func:`unit_blocks`, a fixed schedule
    that does not look at the state): every combination of the unit's incoming weights
    and bias (``V^(fan_in + 1)`` of them, at most :data:`MAX_UNIT_CONFIGURATIONS`) is
    scored with the rest of the network fixed, and the unit takes one of those at or
    above the level uniformly at random. The prior is uniform on the
    lattice, so this is the exact conditional; the current values are always among the
    candidates. A unit with more combinations updates a random subset of its
    coordinates, as many as the limit allows, chosen independently of the state. Values
    that must change together (two weights of one unit) connect, which single-coordinate
    moves cannot do.
    """
    values = np.asarray(prior.values, np.float32)
    base = len(values)
    per_block = max(1, int(math.floor(math.log(MAX_UNIT_CONFIGURATIONS) / math.log(base)))) if base > 1 else 1
    plans = []
    for block in unit_blocks(layout):
        size = min(len(block), per_block)
        grid = np.stack(np.meshgrid(*[np.arange(base)] * size, indexing="ij"), -1).reshape(-1, size)
        plans.append((block, size, values[grid]))

    def update(plan, score_fn, key, theta, scores, level):
        block, size, configs = plan
        n, p = theta.shape
        if size < len(block):  # a random subset of the unit's coordinates, independent of the state
            order = jnp.argsort(_threefry.bits(subkey(key, 0), 1, len(block))[0])
            idx = jnp.asarray(block)[order[:size]]
        else:
            idx = jnp.asarray(block)
        c = configs.shape[0]
        candidates = jnp.broadcast_to(theta[:, None, :], (n, c, p)).at[:, :, idx].set(jnp.asarray(configs)[None])
        s = score_fn(candidates.reshape(n * c, p)).reshape(n, c)
        # Uniform among the allowed: the largest of i.i.d. uniform 31-bit keys, the top bit set on allowed ones only
        # (the current values are always allowed, so the choice is never a disallowed one).
        keys = (_threefry.bits(subkey(key, 1), n, c) >> np.uint32(1)) | np.uint32(1 << 31)
        choice = jnp.argmax(jnp.where(s >= level, keys, np.uint32(0)), axis=1)
        new = jnp.take_along_axis(candidates, choice[:, None, None], axis=1)[:, 0]
        moved = jnp.sum(jnp.any(new != theta, axis=1), dtype=jnp.int32)
        return new, jnp.take_along_axis(s, choice[:, None], axis=1)[:, 0], moved

    def transition(key, theta, scores, level, step, score_fn, sweep):
        branches = [functools.partial(update, plan, score_fn) for plan in plans]
        return jax.lax.switch(sweep % len(plans), branches, key, theta, scores, level)

    return Move("unit-gibbs", "none", None, initial_step=1.0, min_step=1.0, max_step=1.0, transition=transition)


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


# Each prior's moves, the first its default ("auto").
MOVES_OF = {
    "Gaussian": ("ess", "pcn", "lin-ess"),
    "Uniform": ("reflected-walk",),
    # unit-gibbs: determined and covering on every lattice case of the coverage study where any move is
    # (docs/rare-events.md); coordinate-resample is about ten times cheaper per run where it mixes.
    "Lattice": ("unit-gibbs", "coordinate-resample"),
}


def invariant_move(
    prior: object, layout: tuple[ParamSpec, ...], name: str = "auto", linear: LinearReadout | None = None
) -> Move:
    """The prior-invariant move ``name`` of ``prior`` over parameter vectors of ``layout``.

    ``"auto"`` is the prior's default, the first of :data:`MOVES_OF`. ``"lin-ess"`` needs
    ``linear`` (a score that counts agreeing points, and the readout block).

    Raises:
      CountnetsError: for a prior without an invariant move: anything but exactly a
        :class:`~countnets.network.priors.Gaussian`, :class:`~countnets.network.priors.Uniform` or
        :class:`~countnets.network.priors.Lattice` (a subclass may sample another law) that has no
        ``invariant_move(layout, name)`` method of its own (see :class:`countnets.network.priors.Prior`),
        or whose method returns anything but a :class:`Move`; for a move name that does not apply
        to the prior, or that countnets does not know.
    """
    # Exact types: a subclass may draw from another law, for which these moves are not invariant.
    kind = type(prior).__name__ if type(prior) in (Gaussian, Uniform, Lattice) else None
    if kind is None:
        return _own_move(prior, layout, name)
    if name not in MOVES:
        raise CountnetsError(f"unknown move {name!r}; expected one of {', '.join(MOVES)}")
    own = MOVES_OF[kind]
    if name == "auto":
        name = own[0]
    if name not in own:
        raise CountnetsError(f"the move {name!r} does not apply to a {kind} prior; its moves are {', '.join(own)}")
    if name == "lin-ess" and linear is None:
        raise CountnetsError("the move 'lin-ess' needs a measure whose score counts agreeing points (implements, fits)")
    makers = {
        "lin-ess": lambda: _lin_ess(prior, layout, linear),
        "ess": lambda: _ess(prior, layout),
        "pcn": lambda: _pcn(prior, layout),
        "reflected-walk": lambda: _reflected_walk(prior),
        "unit-gibbs": lambda: _unit_gibbs(prior, layout),
        "coordinate-resample": lambda: _coordinate_resample(prior, layout_size(layout)),
    }
    return makers[name]()


def _own_move(prior: object, layout: tuple[ParamSpec, ...], name: str) -> Move:
    """The move a user's prior supplies through its ``invariant_move(layout, name)`` method."""
    supply = getattr(prior, "invariant_move", None)
    if not callable(supply):
        raise CountnetsError(
            f"splitting needs a prior with an invariant move (Gaussian, Uniform, Lattice, or a prior with an "
            f"invariant_move(layout, name) method), got {type(prior).__name__}"
        )
    move = supply(layout, name)
    if not isinstance(move, Move):
        raise CountnetsError(
            f"{type(prior).__name__}.invariant_move must return a countnets.rare.moves.Move, got {type(move).__name__}"
        )
    if (move.propose is None) == (move.transition is None):
        raise CountnetsError(f"{type(prior).__name__}.invariant_move returned a Move with "
                             f"{'both' if move.propose is not None else 'neither'} of propose and transition; "
                             f"give exactly one")  # fmt: skip
    return move


def move_for(prior: object, arch: Architecture, measure: Measure, name: str, encoding: str, precision: str) -> Move:
    """:func:`invariant_move` for a run of ``measure`` on ``arch``: ``"lin-ess"`` gets its readout and points here.

    Raises:
      CountnetsError: as :func:`invariant_move`; for ``"lin-ess"`` with a measure whose
        score does not count agreeing points.
    """
    linear = None
    if name == "lin-ess" and type(prior) is Gaussian:
        if measure.agreement is None:
            raise CountnetsError(f"the move 'lin-ess' needs a measure whose score counts agreeing points "
                                 f"(implements, fits), got {measure.name}")  # fmt: skip
        points, labels = measure.agreement(arch)
        x = jnp.asarray(boolean.cube(arch.n, encoding))[jnp.asarray(points)]

        def outputs(theta):
            return jax.vmap(lambda t: arch.apply(arch.unflatten(t), x, precision=precision))(theta)

        linear = LinearReadout(readout_indices(arch), outputs, np.asarray(labels, bool))
    return invariant_move(prior, arch.layout(), name, linear)


# Names that moved to countnets.rare.kernels (issue 27); the old attribute still resolves, with a warning.
_MOVED_TO_KERNELS = ("adapt_step", "resample", "LevelState", "MoveInfo", "MoveKernel", "move_kernel", "sweep_kernel",
                     "level_kernel")  # fmt: skip


def __getattr__(name: str):
    if name in _MOVED_TO_KERNELS:
        import importlib
        import warnings

        warnings.warn(f"countnets.rare.moves.{name} moved to countnets.rare.kernels.{name}; import it from there "
                      "(the old name goes in the next release)", DeprecationWarning, stacklevel=2)  # fmt: skip
        return getattr(importlib.import_module("countnets.rare.kernels"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
