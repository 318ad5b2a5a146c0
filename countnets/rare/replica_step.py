"""The device side of splitting: one jitted step that runs a batch of replicas through the pilot's levels.

Replica ``r`` draws ``N`` particles from the prior under ``fold_in(seed key, r)`` and, level by
level, counts the survivors, resamples and moves them with the level's kernel
(:mod:`countnets.rare.pilot`, :mod:`countnets.rare.moves`). :func:`replica_step_for` wraps the
step for :func:`countnets.engine.driver.run_chunks`; the host side is :mod:`countnets.rare.replicas`.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from countnets.rare.moves import subkey
from countnets.rare.pilot import KernelSpec, Pilot

__all__ = ["replica_step_for", "LEVEL_PAD"]


def _zero_like(ref: Array, dtype: Any) -> Array:
    """A scalar 0 of ``dtype`` computed from ``ref``, so that under ``shard_map`` it varies like ``ref``."""
    return (ref > ref).astype(dtype)


def _final_outputs(static: KernelSpec, theta: Array, x: Array) -> dict[str, Array]:
    """Flags (non-finite, near 0) of the final particles, their conditional keys, and the particles."""
    arch, measure, precision = static.arch, static.measure.measure, static.precision
    conditional = None if static.conditional is None else static.conditional.measure

    def one(t):
        params = arch.unflatten(t)
        values = measure.outputs(arch, params, x, precision)
        flags = (~jnp.all(jnp.isfinite(values)), jnp.any(jnp.abs(values) <= static.margin))
        return flags, (() if conditional is None else (conditional.key(arch, params, x, precision),))

    (nonfinite, near), key = jax.vmap(one)(theta)
    out = {"nonfinite": jnp.sum(nonfinite, dtype=jnp.int32), "near": jnp.sum(near, dtype=jnp.int32)}
    if conditional is not None:
        out["keys"] = key[0].reshape(-1, key[0].shape[-1])
    out["theta"] = theta
    return out


@functools.partial(jax.jit, static_argnums=0)
def _replica_step(static: KernelSpec, levels, log_steps, sweeps, first, key, chunk_indices, n_valid):
    """Replicas of a batch of chunks: chunk i holds replicas ``i C .. i C + C - 1``, replica r keyed by r.

    ``levels``, ``log_steps`` and ``sweeps`` (the pilot's per level) are padded at the front to a multiple of
    :data:`LEVEL_PAD`; levels before ``first`` are skipped (survivors N, nothing moved)
    and real level ``k`` draws from ``fold_in(replica key, k + 1)``, so padding changes nothing.
    """
    n, per_chunk, layout = static.particles, static.per_chunk, static.arch.layout()
    _, score_fn, x = static.parts()
    kernel = static.kernel(False)

    def replica(rkey):
        theta = static.prior.sample(rkey, 0, n, layout)

        def body(carry, xs):
            k, level, log_step, n_sweeps = xs

            def run(carry):
                theta, scores, roots = carry
                out = kernel(subkey(rkey, k - first + 1), theta, scores, level, log_step, roots, n_sweeps)
                theta, scores, count, accepted, _, _, _, roots, distinct = out
                return (theta, scores, roots), (count, accepted, distinct)

            def skip(carry):
                zero = _zero_like(carry[1][0], jnp.int32)
                return carry, (jnp.int32(n) + zero, zero, jnp.int32(n) + zero)

            return jax.lax.cond(k >= first, run, skip, carry)

        xs = (jnp.arange(levels.shape[0], dtype=jnp.int32), levels, log_steps, sweeps)
        scores = score_fn(theta)
        roots = jnp.arange(n, dtype=jnp.int32) + _zero_like(scores[0], jnp.int32)
        (theta, _, _), (counts, accepted, ancestors) = jax.lax.scan(body, (theta, scores, roots), xs)
        return {"survivors": counts, "accepted": accepted, "ancestors": ancestors, **_final_outputs(static, theta, x)}

    def chunk(index):
        replicas = index.astype(jnp.uint32) * np.uint32(per_chunk) + jnp.arange(per_chunk, dtype=jnp.uint32)
        return jax.vmap(lambda r: replica(subkey(key, r)))(replicas)

    def empty(index):
        # What chunk() returns, as zeros (a padding chunk is skipped, not evaluated).
        c, k = per_chunk, levels.shape[0]

        def zeros(shape, dtype):
            return jnp.zeros(shape, dtype) + _zero_like(index, dtype)

        out = {"survivors": zeros((c, k), jnp.int32), "accepted": zeros((c, k), jnp.int32),
               "ancestors": zeros((c, k), jnp.int32), "nonfinite": zeros((c,), jnp.int32),
               "near": zeros((c,), jnp.int32)}  # fmt: skip
        if static.conditional is not None:
            params = jax.ShapeDtypeStruct((static.arch.n_params,), jnp.float32)
            rows = jax.eval_shape(lambda t: static.conditional.measure.key(  # type: ignore[union-attr]
                static.arch, static.arch.unflatten(t), x, static.precision), params)  # fmt: skip
            out["keys"] = zeros((c, n * rows.shape[0], rows.shape[1]), jnp.uint32)
        out["theta"] = zeros((c, n, static.arch.n_params), jnp.float32)
        return out

    def one(args):
        index, valid = args
        out = jax.lax.cond(valid > 0, chunk, empty, index)
        out["valid"] = jnp.arange(per_chunk, dtype=jnp.int32) < valid
        return out

    return jax.lax.map(one, (chunk_indices, n_valid))


LEVEL_PAD = 8  # replica steps are compiled for level counts rounded up to a multiple of this


def replica_step_for(static: KernelSpec, pilot: Pilot):
    """``step(key, chunk_indices, n_valid)`` for :func:`countnets.run_chunks`: the pilot's levels, padded."""
    k = len(pilot.levels)
    padded = -(-k // LEVEL_PAD) * LEVEL_PAD
    levels = np.full(padded, -np.inf, np.float32)
    log_steps = np.zeros(padded, np.float32)
    levels[padded - k :] = np.asarray(pilot.levels, np.float32)
    log_steps[padded - k :] = np.log(np.asarray(pilot.steps, np.float32))
    sweeps = np.zeros(padded, np.int32)
    sweeps[padded - k :] = np.asarray(pilot.sweeps, np.int32)
    first = np.int32(padded - k)

    def step(key, chunk_indices, n_valid):
        out = _replica_step(static, levels, log_steps, sweeps, first, key, chunk_indices, n_valid)
        for name in ("survivors", "accepted", "ancestors"):
            out[name] = out[name][..., padded - k :]
        return out

    return step
