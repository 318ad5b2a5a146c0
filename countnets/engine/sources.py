"""Where a chunk's parameter vectors come from, and how a step walks through them in blocks.

The unit of randomness is the chunk (DESIGN section 2): sample ``i`` of a run lives in
chunk ``i // C`` and a chunk's parameters depend only on (seed, chunk index, C). A
:class:`ChunkSource` draws a chunk (sampling) or enumerates it (a lattice prior);
:func:`map_blocks` walks a step's chunks block by block, which sets only the speed:
every network's values are the same bits for every blocking (``docs/performance.md``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray

from countnets import _threefry
from countnets._errors import CountnetsError, check_positive_int
from countnets.defaults import DEFAULT_CHUNK_SIZE, DEFAULT_MAX_EXACT  # noqa: F401 (re-exported)
from countnets.network.architectures import Architecture
from countnets.network.priors import Lattice, Prior

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_MAX_EXACT",
    "ChunkSource",
    "sampling_source",
    "lattice_source",
    "Blocking",
    "plan_blocking",
    "map_blocks",
    "network_bytes",
    "valid_mask",
]


@dataclasses.dataclass(frozen=True)
class ChunkSource:
    """Where a chunk's parameter vectors come from.

    Attributes:
      params: ``params(key, chunk_index) -> Float[Array, "chunk_size n_params"]``, pure
        and traceable.
      chunk_size: vectors per chunk, C.
      n_chunks: number of chunks available (``None``: unbounded, i.e. sampling).
      exact: True for an enumeration (every vector has equal prior mass, once).
      paired_rows: ``paired_rows(key, chunk_index, first_row, rows)``: rows
        ``first_row + i`` then ``C / 2 + first_row + i`` (``i < rows``) of ``params``,
        bit for bit, shape ``(2 rows, n_params)``; ``None`` if the source cannot draw
        part of a chunk.
    """

    params: Callable[[PRNGKeyArray, Int[Array, ""]], Float[Array, "chunk n_params"]]
    chunk_size: int
    n_chunks: int | None
    exact: bool
    paired_rows: Callable[[PRNGKeyArray, Int[Array, ""], Int[Array, ""], int], Float[Array, "rows n_params"]] | None = (
        None
    )

    def can_split(self, n_blocks: int) -> bool:
        """Whether a chunk can be drawn as ``n_blocks`` blocks of paired rows."""
        return n_blocks == 1 or (self.paired_rows is not None and self.chunk_size % (2 * n_blocks) == 0)

    def block(
        self, key: PRNGKeyArray, chunk_index: Int[Array, ""] | int, block: Int[Array, ""] | int, n_blocks: int
    ) -> tuple[Float[Array, "rows n_params"], Int[Array, " rows"]]:
        """Block ``block`` of ``n_blocks`` of a chunk: its parameter vectors and their rows in the chunk.

        With ``n_blocks > 1`` a block holds rows ``b R .. (b + 1) R - 1`` and
        ``C / 2 + b R .. C / 2 + (b + 1) R - 1`` with ``R = C / (2 n_blocks)``; the
        blocks partition the chunk, and each vector equals its row of ``params``.
        """
        if not self.can_split(n_blocks):
            raise CountnetsError(f"a chunk of {self.chunk_size} cannot be drawn in {n_blocks} blocks")
        if n_blocks == 1:
            return self.params(key, chunk_index), jnp.arange(self.chunk_size, dtype=jnp.int32)
        rows = self.chunk_size // (2 * n_blocks)
        first = jnp.asarray(block, jnp.int32) * rows
        local = first + jnp.arange(rows, dtype=jnp.int32)
        assert self.paired_rows is not None
        return self.paired_rows(key, chunk_index, first, rows), jnp.concatenate([local, local + self.chunk_size // 2])


def sampling_source(prior: Prior, arch: Architecture, chunk_size: int = DEFAULT_CHUNK_SIZE) -> ChunkSource:
    """Chunks drawn from ``prior``: chunk i is ``prior.sample(key, i, chunk_size, arch.layout())``."""
    chunk_size = check_positive_int("chunk_size", chunk_size)
    layout = arch.layout()
    if chunk_size * arch.n_params >= _threefry.MAX_STREAM_WORDS:
        raise CountnetsError(
            f"a chunk must hold fewer than 2**32 - 1 parameters (one threefry stream), got {chunk_size} networks "
            f"x {arch.n_params} parameters; lower chunk_size"
        )
    paired = None
    if chunk_size % 2 == 0 and hasattr(prior, "sample_paired_rows"):  # optional (countnets.Prior): blocks go faster

        def paired(key, index, first, rows):
            return prior.sample_paired_rows(key, index, chunk_size, layout, first, rows)

    return ChunkSource(
        params=lambda key, index: prior.sample(key, index, chunk_size, layout),
        chunk_size=chunk_size,
        n_chunks=None,
        exact=False,
        paired_rows=paired,
    )


def lattice_source(
    prior: Prior, arch: Architecture, chunk_size: int = DEFAULT_CHUNK_SIZE, max_configurations: int = DEFAULT_MAX_EXACT
) -> ChunkSource:
    """Every parameter vector of a lattice prior exactly once, in enumeration order.

    The chunk size is the largest power ``V**k <= chunk_size`` (at most ``V**n_params``).

    Raises:
      CountnetsError: if the prior is not a :class:`Lattice` or ``V**n_params``
        exceeds ``max_configurations``.
    """
    if not isinstance(prior, Lattice):
        raise CountnetsError(f"exact enumeration needs a Lattice prior, got {type(prior).__name__}")
    chunk_size = check_positive_int("chunk_size", chunk_size)
    layout = arch.layout()
    total = prior.n_configurations(layout)
    if total > max_configurations:
        raise CountnetsError(
            f"exact enumeration of {arch.name} with {len(prior.values)} lattice values has "
            f"{len(prior.values)}**{arch.n_params} = {total:.3e} configurations, more than the limit "
            f"{max_configurations:.3e}; use sampling, a smaller network or a larger max_configurations"
        )
    base = len(prior.values)
    low = 0
    while low < arch.n_params and base ** (low + 1) <= chunk_size:
        low += 1
    size = base**low
    n_chunks = base ** (arch.n_params - low)
    if n_chunks >= 2**31:
        raise CountnetsError(f"exact enumeration needs fewer than 2**31 chunks, got {n_chunks}; raise chunk_size")
    paired = None
    if size % 2 == 0:

        def paired(key, index, first, rows):
            local = first + jnp.arange(rows, dtype=jnp.int32)
            return prior.enumerate_rows(index, low, layout, jnp.concatenate([local, local + size // 2]))

    return ChunkSource(
        params=lambda key, index: prior.enumerate_chunk(index, low, layout),
        chunk_size=size,
        n_chunks=n_chunks,
        exact=True,
        paired_rows=paired,
    )


# Activation bytes aimed at per block when a CPU evaluates a chunk block by block:
# about what one core's L2 cache and a share of L3 hold (docs/performance.md).
_BLOCK_BYTES = 2 * 2**20
# Fewest networks per block. XLA:CPU picks a different matmul kernel (another summation
# order, outputs off by an ulp) for batches of 1 to 4 networks than for 8 or more; the
# blocks stay well above that, so a network's outputs do not depend on the blocking.
_MIN_BLOCK_ROWS = 64


@dataclasses.dataclass(frozen=True)
class Blocking:
    """How a step walks through its chunks; a speed setting that never changes a count.

    Attributes:
      n_blocks: blocks per chunk (see :meth:`ChunkSource.block`); a split chunk's
        blocks must hold at least ``_MIN_BLOCK_ROWS`` (64) networks.
      in_flight: blocks evaluated together in one vectorised pass; ``None``: all of
        the step's blocks at once (a plain ``vmap``, what accelerators want). Steps
        are padded with empty blocks to a multiple of ``in_flight``, so every pass
        has the same size.

    Both limits exist because XLA:CPU sums a matrix product in another order for
    batches of 1 to 4 networks than for 8 or more; with them, every network is
    evaluated in a batch of at least 64 (or its whole chunk), and its outputs are the
    same bits for every blocking.
    """

    n_blocks: int = 1
    in_flight: int | None = None

    def __post_init__(self) -> None:
        check_positive_int("n_blocks", self.n_blocks)
        if self.in_flight is not None:
            check_positive_int("in_flight", self.in_flight)


def network_bytes(arch: Architecture) -> int:
    """Bytes of parameters and the two widest activations of one network over the whole cube."""
    points = 2**arch.n
    widest = max([arch.n_params, points * max(getattr(arch, "hidden", ()) or (1,)), points * getattr(arch, "d", 1)])
    return (arch.n_params + 2 * widest) * 4


def plan_blocking(source: ChunkSource, bytes_per_network: int, platform: str | None = None) -> Blocking:
    """The default :class:`Blocking` of ``source`` on ``platform`` (default: JAX's default backend).

    On CPU one block at a time, as many blocks per chunk as bring a block's working set
    near ``_BLOCK_BYTES`` (2 MiB) so that sampling and evaluation stay in cache, with at
    least ``_MIN_BLOCK_ROWS`` (64) networks a block; elsewhere the whole step in one pass.
    """
    platform = platform or jax.default_backend()
    if platform != "cpu":
        return Blocking(1, None)
    wanted = max(1, source.chunk_size * bytes_per_network // _BLOCK_BYTES)
    n_blocks = 1
    while (
        2 * n_blocks <= wanted
        and source.chunk_size // (2 * n_blocks) >= _MIN_BLOCK_ROWS
        and source.can_split(2 * n_blocks)
    ):
        n_blocks *= 2
    # Chunks smaller than the minimum go several to a pass.
    return Blocking(n_blocks, -(-_MIN_BLOCK_ROWS // (source.chunk_size // n_blocks)))


def valid_mask(chunk_size: int, n_valid: Int[Array, " batch"]) -> Bool[Array, "batch chunk"]:
    """Which networks of each chunk are kept: the first ``n_valid[b]`` of chunk ``b``."""
    return jnp.arange(chunk_size, dtype=jnp.int32)[None, :] < n_valid[:, None]


def map_blocks(
    source: ChunkSource,
    blocking: Blocking,
    per_block: Callable[[Float[Array, "rows n_params"], Bool[Array, " rows"]], Any],
    key: PRNGKeyArray,
    chunk_indices: Int[Array, " batch"],
    n_valid: Int[Array, " batch"],
) -> Any:
    """``per_block(theta, valid)`` over every block of every chunk of a step, outputs stacked.

    ``valid`` marks the block's rows below the chunk's ``n_valid``. Outputs have a
    leading axis of ``batch * n_blocks`` (chunk-major). Traceable; called inside a step.

    Raises:
      CountnetsError: if the source cannot split its chunks into ``n_blocks`` blocks of
        at least 64 networks.
    """
    n_blocks = blocking.n_blocks
    if not source.can_split(n_blocks):
        raise CountnetsError(f"a chunk of {source.chunk_size} cannot be drawn in {n_blocks} blocks")
    if n_blocks > 1 and source.chunk_size // n_blocks < _MIN_BLOCK_ROWS:
        raise CountnetsError(
            f"blocks of {source.chunk_size // n_blocks} networks are too small: a split chunk's blocks must hold at "
            f"least {_MIN_BLOCK_ROWS} (XLA:CPU sums tiny batches in another order); use fewer blocks"
        )
    batch = chunk_indices.shape[0]
    total = batch * n_blocks
    in_flight = total if blocking.in_flight is None else blocking.in_flight
    padded = -(-total // in_flight) * in_flight  # empty blocks (n_valid 0) fill the last pass
    items = (
        jnp.pad(jnp.repeat(chunk_indices, n_blocks), (0, padded - total), constant_values=chunk_indices[0]),
        jnp.pad(jnp.repeat(n_valid, n_blocks), (0, padded - total)),
        jnp.tile(jnp.arange(n_blocks, dtype=jnp.int32), padded // n_blocks + 1)[:padded],
    )

    def one(item):
        index, limit, block = item
        theta, rows = source.block(key, index, block, n_blocks)
        return per_block(theta, rows < limit)

    if in_flight == padded:
        out = jax.vmap(one)(items)
    else:
        out = jax.lax.map(one, items, batch_size=None if in_flight == 1 else in_flight)
    return jax.tree.map(lambda leaf: leaf[:total], out)
