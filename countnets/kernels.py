"""Batched fast paths: outputs of a whole chunk of networks at once.

The readable reference is ``vmap(arch.apply)`` (:func:`countnets.apply_flat_batch`).
The kernels here compute the same function with layouts that suit a chunk:

* the first layer reads the cube, which every network shares, so it is one
  matrix product ``(points, n) x (n, chunk * width)`` instead of ``chunk`` small ones;
* narrow layers (the readout, width 1) are an elementwise product and a sum over the
  fan-in, which XLA fuses with the activation, instead of a batched matrix-vector
  product.

Only the order of float32 additions can differ from the reference, so an output can
differ by a few ulps; a truth-table bit can then differ only for an output within
rounding of 0, which results count in ``near_threshold``. Tests check identical
tables against the reference on many prior samples.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from countnets.architectures import DEFAULT_PRECISION, MLP, ResMLP, activation_fn, apply_flat_batch

__all__ = ["chunk_outputs", "mlp_chunk_outputs", "resmlp_chunk_outputs"]


def _dense(h: Array, w: Array, b: Array, precision: str) -> Array:
    """``h[c] @ w[c] + b[c]`` for each network c: h (chunk, points, fan_in), w (chunk, fan_in, fan_out)."""
    if w.shape[-1] == 1:
        # A width-1 layer: multiply and sum over the fan-in (fuses; no batched matvec).
        return jnp.sum(h * w[:, None, :, 0], axis=-1, keepdims=True) + b[:, None, :]
    return jnp.einsum("cpi,cio->cpo", h, w, precision=precision) + b[:, None, :]


def _first_layer(x: Array, w: Array, b: Array, precision: str) -> Array:
    """Shared inputs: ``x @ w[c] + b[c]`` for every c as one matrix product, (chunk, points, fan_out)."""
    return jnp.einsum("pi,cio->cpo", x, w, precision=precision) + b[:, None, :]


def mlp_chunk_outputs(
    arch: MLP, theta: Float[Array, "chunk n_params"], x: Float[Array, "points n"], *, precision: str = DEFAULT_PRECISION
) -> Float[Array, "chunk points"]:
    """Output pre-activations of a chunk of MLPs (same function as ``vmap(arch.apply)``)."""
    p = arch.unflatten(theta)
    act = activation_fn(arch.activation)
    n_layers = len(arch.hidden) + 1
    h = _first_layer(x, p["W1"], p["b1"], precision)
    for i in range(2, n_layers + 1):
        h = _dense(act(h), p[f"W{i}"], p[f"b{i}"], precision)
    return h[:, :, 0]


def resmlp_chunk_outputs(
    arch: ResMLP, theta: Float[Array, "chunk n_params"], x: Float[Array, "points n"], *, precision: str = DEFAULT_PRECISION
) -> Float[Array, "chunk points"]:
    """Output pre-activations of a chunk of ResMLPs (same function as ``vmap(arch.apply)``)."""
    p = arch.unflatten(theta)
    h = _first_layer(x, p["E"], p["e"], precision)
    alpha = jnp.float32(arch.branch_scale)
    for l in range(1, arch.L + 1):
        hidden = jax.nn.relu(jnp.einsum("cpd,cdw->cpw", h, p[f"A{l}"], precision=precision) + p[f"a{l}"][:, None, :])
        h = h + alpha * jnp.einsum("cpw,cwd->cpd", hidden, p[f"G{l}"], precision=precision)
    return jnp.sum(h * p["u"][:, None, :], axis=-1) + p["c"][:, None]


def chunk_outputs(
    arch, theta: Float[Array | np.ndarray, "chunk n_params"], x: Float[Array | np.ndarray, "points n"], *,
    precision: str = DEFAULT_PRECISION, fast: bool = True,
) -> Float[Array, "chunk points"]:  # fmt: skip
    """Outputs of a chunk of networks: the fast kernel for MLP and ResMLP, else (or with ``fast=False``) ``vmap(apply)``."""
    theta, x = jnp.asarray(theta), jnp.asarray(x)
    if fast and type(arch) is MLP:
        return mlp_chunk_outputs(arch, theta, x, precision=precision)
    if fast and type(arch) is ResMLP:
        return resmlp_chunk_outputs(arch, theta, x, precision=precision)
    return apply_flat_batch(arch, theta, x, precision=precision)
