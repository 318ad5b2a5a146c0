"""The chunk stream, computed so that XLA can fuse it and split a chunk into blocks.

``jax.random`` draws a chunk of shape ``(C, P)`` with threefry2x32 in its
non-partitionable layout: the counters ``0 .. C P - 1`` are split into two halves,
counter ``j`` of the first half is hashed together with counter ``j + C P / 2`` of
the second, and the two output words land at flat positions ``j`` and
``j + C P / 2``. For even ``C`` the first output word of the pair belongs to row
``r`` and the second to row ``r + C / 2`` at the same column, so the rows
``[s, s + R)`` and ``[C/2 + s, C/2 + s + R)`` can be drawn on their own, from the
counters of just those rows. That is what lets the engine draw and evaluate a chunk
block by block, in cache, with values bit-for-bit equal to the whole chunk.

On CPU, JAX lowers threefry as a rolled loop of five separate passes over memory;
this module writes the same 20 rounds out in full so that the hash, the float
transform and the network evaluation fuse into one loop (about 2x faster normals on
CPU). The transforms below repeat ``jax.random.uniform`` and ``jax.random.normal``
operation for operation; ``tests/test_threefry.py`` checks every function here
against ``jax.random`` bit for bit, both traced inside ``jit`` as the engine runs
them. (Under ``jit`` XLA folds constants into the float arithmetic, e.g.
``(f - 1) * 1 + lo`` becomes ``f + (lo - 1)``, so a value can differ in the last
bit from an eager call; the engine's stream is the traced one, as it always was.)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, UInt32

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_KEY_PARITY = np.uint32(0x1BD11BDA)


def _rotate_left(v: Array, r: int) -> Array:
    return (v << np.uint32(r)) | (v >> np.uint32(32 - r))


def threefry2x32(
    key: UInt32[Array, " 2"],
    x1: UInt32[Array, "*shape"],
    x2: UInt32[Array, "*shape"],
    offsets: tuple[UInt32[Array, ""] | int, UInt32[Array, ""] | int] = (0, 0),
) -> tuple[UInt32[Array, "*shape"], UInt32[Array, "*shape"]]:
    """The threefry2x32 hash (20 rounds) of counter pairs ``(x1 + offsets[0], x2 + offsets[1])``, unrolled.

    The scalar offsets are added together with the first key injection (the same sum
    modulo 2**32): XLA:CPU vectorises a static counter array plus scalars several
    times better than counters computed from a traced offset.
    """
    ks = (key[0], key[1], key[0] ^ key[1] ^ _KEY_PARITY)
    x1 = x1 + (ks[0] + jnp.asarray(offsets[0], jnp.uint32))
    x2 = x2 + (ks[1] + jnp.asarray(offsets[1], jnp.uint32))
    for i in range(5):
        for r in _ROTATIONS[i % 2]:
            x1 = x1 + x2
            x2 = _rotate_left(x2, r) ^ x1
        x1 = x1 + ks[(i + 1) % 3]
        x2 = x2 + ks[(i + 2) % 3] + np.uint32(i + 1)
    return x1, x2


# One stream holds fewer words than this; past it jax.random switches to another counter scheme.
MAX_STREAM_WORDS = 2**32 - 1


def check_stream_shape(n_rows: int, n_cols: int) -> None:
    """Raise ``ValueError`` unless a ``(n_rows, n_cols)`` draw has fewer than ``MAX_STREAM_WORDS`` words."""
    if n_rows * n_cols >= MAX_STREAM_WORDS:
        raise ValueError(f"a chunk of {n_rows} x {n_cols} parameters is too large for one threefry stream")


def bits(key: UInt32[Array, " 2"], n_rows: int, n_cols: int) -> UInt32[Array, "n_rows n_cols"]:
    """``jax.random.bits(key, (n_rows, n_cols))`` (non-partitionable threefry), fusible."""
    check_stream_shape(n_rows, n_cols)
    size = n_rows * n_cols
    half = (size + 1) // 2
    counters = jnp.arange(half, dtype=jnp.uint32)
    # For an odd size the last counter of the second half is a padding zero.
    second = jnp.where(counters + np.uint32(half) < size, counters + np.uint32(half), np.uint32(0))
    a, b = threefry2x32(key, counters, second)
    return jnp.concatenate([a, b])[:size].reshape(n_rows, n_cols)


def paired_row_bits(
    key: UInt32[Array, " 2"], n_rows: int, n_cols: int, first_row: Array | int, rows: int
) -> UInt32[Array, "2 rows n_cols"]:
    """Rows ``first_row + i`` and ``n_rows / 2 + first_row + i`` (``i < rows``) of :func:`bits`.

    Needs an even ``n_rows``; ``first_row`` may be traced.
    """
    if n_rows % 2:
        raise ValueError(f"paired rows need an even number of rows, got {n_rows}")
    check_stream_shape(n_rows, n_cols)
    half = np.uint32(n_rows // 2 * n_cols)
    start = jnp.asarray(first_row, jnp.uint32) * np.uint32(n_cols)
    counters = jnp.arange(rows * n_cols, dtype=jnp.uint32).reshape(rows, n_cols)
    a, b = threefry2x32(key, counters, counters, offsets=(start, start + half))
    return jnp.stack([a, b])


def unit_float(raw: UInt32[Array, "*shape"]) -> Float[Array, "*shape"]:
    """Float32 in ``[0, 1)`` from the top 23 bits, as ``jax.random.uniform`` makes it."""
    mantissa = (raw >> np.uint32(9)) | np.uint32(np.float32(1.0).view(np.uint32))
    return jax.lax.bitcast_convert_type(mantissa, jnp.float32) - np.float32(1.0)


def uniform(raw: UInt32[Array, "*shape"], minval: float, maxval: float) -> Float[Array, "*shape"]:
    """``jax.random.uniform(..., minval, maxval)`` in float32 from the raw bits."""
    lo, hi = jnp.float32(minval), jnp.float32(maxval)
    return jnp.maximum(lo, unit_float(raw) * (hi - lo) + lo)


_NORMAL_LOW = float(np.nextafter(np.float32(-1.0), np.float32(0.0)))


def normal(raw: UInt32[Array, "*shape"]) -> Float[Array, "*shape"]:
    """``jax.random.normal`` in float32 from the raw bits: ``sqrt(2) erfinv(u)``, ``u`` uniform on ``(-1, 1)``."""
    return np.float32(np.sqrt(2)) * jax.lax.erf_inv(uniform(raw, _NORMAL_LOW, 1.0))
