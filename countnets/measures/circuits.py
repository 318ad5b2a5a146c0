"""Circuit measurements: path-order truncation, effective depth, block removal, goal clamping.

Every function here evaluates *one* network (named parameter arrays from
``arch.unflatten``) on a batch of inputs and is pure and vmappable; batches of
networks come from ``jax.vmap``. Interventions are re-evaluations of the same
parameters with parts truncated, removed or clamped, never modified copies.
The measures of :mod:`countnets.measures` (``effective_depth``, ``cancelling_pair``,
``goal``) wrap them, and :func:`countnets.engine.steps.build_step` counts them.

Definitions (DESIGN section 3; ``docs/circuits.md`` has the full text):

* Path-order truncation of ``ResMLP``: ``s^(0)_l = h_0`` for every l,
  ``s^(k)_l = h_0 + sum_{j<l} B_j(s^(k-1)_j)`` and
  ``y^(k) = (h_0 + sum_l B_l(s^(k-1)_l)) u + c``; ``y^(0) = h_0 u + c`` and
  ``y^(L)`` is the forward pass.
* Effective depth ``k*``: the least k whose ``y^(k)`` has the table of ``y^(L)``.
  Stable depth: the least k such that every order ``k' >= k`` has that table.
* Removing block i: ``B_i`` outputs zero and later blocks are recomputed.
  Blocks ``i < j`` cancel if removing i breaks f, removing j breaks f and removing
  both preserves f.
* ``GoalNet`` goal g: the truth table of z. Detour: g not constant, not f, not
  not-f, and clamping z to 0 and to 1 both break f. Direct: f survives z clamped to
  0 or to 1, or g is f or not-f.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, Int

from countnets._errors import CountnetsError
from countnets.network.architectures import DEFAULT_PRECISION, GoalNet, ResMLP

__all__ = [
    "truncated_outputs",
    "depth_statistics",
    "removal_sets",
    "block_pairs",
    "removal_outputs",
    "cancelling_pairs",
    "GOAL_CLAMP0_KEEPS",
    "GOAL_CLAMP1_KEEPS",
    "GOAL_IS_F",
    "GOAL_IS_NOT_F",
    "GOAL_CONSTANT",
    "DIRECT",
    "DETOUR",
    "OTHER",
    "goal_outputs",
    "goal_flags",
    "goal_class",
]

# Bits of the goal flag word (see :func:`goal_flags`).
GOAL_CLAMP0_KEEPS = 1  # f survives z clamped to 0
GOAL_CLAMP1_KEEPS = 2  # f survives z clamped to 1
GOAL_IS_F = 4  # g == f
GOAL_IS_NOT_F = 8  # g == not f
GOAL_CONSTANT = 16  # g is constant (all 0 or all 1)

# Goal classes (see :func:`goal_class`).
DIRECT = 0
DETOUR = 1
OTHER = 2


# ----------------------------------------------------------------------------- truncation


def truncated_outputs(
    arch: ResMLP, params: dict[str, Array], x: Float[Array, "points n"], *, precision: str = DEFAULT_PRECISION
) -> Float[Array, "orders points"]:
    """Path-order truncated outputs ``y^(0) .. y^(L)`` of one ResMLP, in one pass.

    With ``s^(0)_l = h_0`` and ``s^(k)_l = h_0 + sum_{j<l} B_j(s^(k-1)_j)``,
    ``y^(k) = (h_0 + sum_{l=1}^{L} B_l(s^(k-1)_l)) u + c``. Since ``s^(k)_l`` is the
    full stream ``h_{l-1}`` whenever ``k >= l - 1``, block l only needs ``l``
    distinct inputs (orders ``0 .. l-1``): ``L (L + 1) / 2`` branch evaluations in all
    instead of ``L**2``. The full stream is evaluated on its own, with the same
    operations in the same (block) order as :meth:`ResMLP.apply`, so ``y^(L)`` is the
    forward pass bit for bit; truncated streams accumulate in block order too.

    Args:
      arch: the ResMLP.
      params: one network's named parameters (``arch.unflatten(theta)``).
      x: inputs, one row per cube point.

    Returns:
      ``(L + 1, points)``: row k is ``y^(k)``.
    """
    points, d = x.shape[0], arch.d
    h0 = arch.embed(params, x, precision=precision)
    streams = [h0]  # streams[k]: order-k input of the next block, k = 0 .. l-1; the last is h_{l-1}
    for l in range(1, arch.L + 1):
        full = streams[-1] + arch.branch(params, l, streams[-1], precision=precision)
        truncated = []
        if l > 1:
            stacked = jnp.concatenate(streams[:-1], axis=0)
            out = arch.branch(params, l, stacked, precision=precision).reshape(l - 1, points, d)
            # order k (1 <= k <= l-1) adds block l applied to the order k-1 stream
            truncated = [streams[k] + out[k - 1] for k in range(1, l)]
        streams = [h0, *truncated, full]
    return jnp.stack([arch.readout(params, s, precision=precision) for s in streams], axis=0)


def depth_statistics(
    tables: Bool[Array, "orders points"],
) -> tuple[Int[Array, ""], Int[Array, ""], Int[Array, ""]]:
    """Effective depth, stable depth and Hamming distance from the truncated truth tables.

    With ``f = tables[L]`` (the full network's function):

    * ``k* = min{k : tables[k] == f}`` (the first match; always ``<= L``);
    * stable depth ``= min{k : tables[k'] == f for all k' >= k}``;
    * Hamming distance ``= #{j : tables[k*-1][j] != f[j]}`` for ``k* >= 1`` and 0 when
      ``k* = 0``.

    Returns:
      ``(kstar, stable, hamming)``, int32 scalars.
    """
    f = tables[-1]
    match = jnp.all(tables == f[None, :], axis=1)
    orders = jnp.arange(tables.shape[0], dtype=jnp.int32)
    kstar = jnp.argmax(match).astype(jnp.int32)
    stable = jnp.max(jnp.where(match, jnp.int32(0), orders + 1))
    before = tables[jnp.maximum(kstar - 1, 0)]
    hamming = jnp.where(kstar > 0, jnp.sum(before != f, dtype=jnp.int32), jnp.int32(0))
    return kstar, stable, hamming


# ----------------------------------------------------------------------------- block removal


def block_pairs(L: int) -> tuple[tuple[int, int], ...]:
    """All pairs ``(i, j)``, ``1 <= i < j <= L``, in lexicographic order.

    >>> block_pairs(3)
    ((1, 2), (1, 3), (2, 3))
    """
    return tuple(itertools.combinations(range(1, L + 1), 2))


def removal_sets(L: int) -> tuple[tuple[int, ...], ...]:
    """The removal sets a pair search evaluates: none, each block, each pair (1-based).

    >>> removal_sets(2)
    ((), (1,), (2,), (1, 2))
    """
    return ((),) + tuple((i,) for i in range(1, L + 1)) + block_pairs(L)


def removal_outputs(
    arch: ResMLP,
    params: dict[str, Array],
    x: Float[Array, "points n"],
    removed: Sequence[Sequence[int]],
    *,
    precision: str = DEFAULT_PRECISION,
) -> Float[Array, "sets points"]:
    """Outputs of one ResMLP with sets of blocks removed, sharing common prefixes.

    Removing block i sets ``B_i``'s output to zero; every later block is recomputed
    from the changed stream: ``h_l = h_{l-1} + [l not removed] B_l(h_{l-1})``. Runs
    whose kept/removed pattern agrees on blocks ``1 .. l`` share their stream up to
    block l, so each distinct prefix is evaluated once. The run with nothing
    removed uses the same operations as :meth:`ResMLP.apply`.

    Args:
      arch: the ResMLP.
      params: one network's named parameters.
      x: inputs, one row per cube point.
      removed: removal sets, each a sequence of 1-based block indices (static).

    Returns:
      ``(len(removed), points)`` outputs, in the order of ``removed``.
    """
    L, points, d = arch.L, x.shape[0], arch.d
    for s in removed:
        for i in s:
            if not 1 <= int(i) <= L:
                raise CountnetsError(f"removed block indices must be in 1..{L}, got {tuple(s)}")
    masks = [tuple(l not in {int(i) for i in s} for l in range(1, L + 1)) for s in removed]
    full_mask = (True,) * L
    streams: dict[tuple[bool, ...], Array] = {(): arch.embed(params, x, precision=precision)}
    for l in range(1, L + 1):
        prefixes = sorted({m[:l] for m in masks})
        needs = sorted({p[:-1] for p in prefixes if p[-1]})
        branch_out: dict[tuple[bool, ...], Array] = {}
        full_parent = full_mask[: l - 1]
        if full_parent in needs:
            branch_out[full_parent] = arch.branch(params, l, streams[full_parent], precision=precision)
        others = [p for p in needs if p != full_parent]
        if others:
            stacked = jnp.concatenate([streams[p] for p in others], axis=0)
            out = arch.branch(params, l, stacked, precision=precision).reshape(len(others), points, d)
            branch_out.update({p: out[i] for i, p in enumerate(others)})
        streams = {p: streams[p[:-1]] + branch_out[p[:-1]] if p[-1] else streams[p[:-1]] for p in prefixes}
    return jnp.stack([arch.readout(params, streams[m], precision=precision) for m in masks], axis=0)


def cancelling_pairs(tables: Bool[Array, "sets points"], L: int) -> Bool[Array, " pairs"]:
    """Which block pairs cancel, from the tables of :func:`removal_sets` (same order).

    ``f = tables[0]`` (nothing removed). Pair ``(i, j)`` cancels iff removing i
    changes the table, removing j changes it, and removing both gives f back.

    Returns:
      One flag per pair of :func:`block_pairs`.
    """
    pairs = block_pairs(L)
    if tables.shape[0] != 1 + L + len(pairs):
        raise CountnetsError(f"expected {1 + L + len(pairs)} tables (removal_sets({L})), got {tables.shape[0]}")
    f = tables[0]
    same = jnp.all(tables == f[None, :], axis=1)
    if not pairs:
        return jnp.zeros((0,), dtype=bool)
    first = jnp.asarray([i for i, _ in pairs], dtype=jnp.int32)
    second = jnp.asarray([j for _, j in pairs], dtype=jnp.int32)
    return ~same[first] & ~same[second] & same[1 + L :]


# ----------------------------------------------------------------------------- goal clamping


def goal_outputs(
    arch: GoalNet, params: dict[str, Array], x: Float[Array, "points n"], *, precision: str = DEFAULT_PRECISION
) -> tuple[Float[Array, " points"], Float[Array, "3 points"]]:
    """The goal pre-activation and the outputs with z free, clamped to 0 and clamped to 1.

    Returns:
      ``(goal_pre, outputs)``: ``goal_pre > 0`` is the goal table g; ``outputs`` rows
      are y (z computed), y with z = 0 everywhere, y with z = 1 everywhere.
    """
    pre = arch.goal_preactivation(params, x, precision=precision)
    z = (pre > 0).astype(jnp.float32)
    ys = [arch.output_given_goal(params, x, zz, precision=precision) for zz in (z, jnp.zeros_like(z), jnp.ones_like(z))]
    return pre, jnp.stack(ys, axis=0)


def goal_flags(goal: Bool[Array, " points"], tables: Bool[Array, "3 points"]) -> Int[Array, ""]:
    """Flag word of one GoalNet from its goal table g and the tables of :func:`goal_outputs`.

    Bits: ``GOAL_CLAMP0_KEEPS`` (f survives z = 0), ``GOAL_CLAMP1_KEEPS`` (f survives
    z = 1), ``GOAL_IS_F`` (g == f), ``GOAL_IS_NOT_F`` (g == not f), ``GOAL_CONSTANT``
    (g constant), with f = ``tables[0]``.
    """
    f = tables[0]
    bits = [
        (jnp.all(tables[1] == f), GOAL_CLAMP0_KEEPS),
        (jnp.all(tables[2] == f), GOAL_CLAMP1_KEEPS),
        (jnp.all(goal == f), GOAL_IS_F),
        (jnp.all(goal != f), GOAL_IS_NOT_F),
        (jnp.all(goal == goal[0]), GOAL_CONSTANT),
    ]
    return sum((flag.astype(jnp.int32) * jnp.int32(bit) for flag, bit in bits), start=jnp.int32(0))


def goal_class(flags: Any) -> Any:
    """Class of a GoalNet from its flag word: ``DIRECT``, ``DETOUR`` or ``OTHER``.

    Direct: f survives a clamp, or g is f or not f. Detour: g is not constant, not f
    and not not-f, and both clamps break f. Anything else is ``OTHER`` (impossible in
    exact arithmetic, since a constant g makes one clamp a no-op; it is counted, not
    dropped). Works on Python ints, NumPy and JAX integer arrays.
    """
    direct = (flags & (GOAL_CLAMP0_KEEPS | GOAL_CLAMP1_KEEPS | GOAL_IS_F | GOAL_IS_NOT_F)) != 0
    detour = (flags & (GOAL_CLAMP0_KEEPS | GOAL_CLAMP1_KEEPS | GOAL_IS_F | GOAL_IS_NOT_F | GOAL_CONSTANT)) == 0
    if isinstance(flags, int):
        return DIRECT if direct else (DETOUR if detour else OTHER)
    xp = jnp if isinstance(flags, jax.Array) else np
    return xp.where(direct, DIRECT, xp.where(detour, DETOUR, OTHER))
