"""Chunked Monte Carlo and exact lattice enumeration of network functions.

The unit of randomness is the chunk: sample ``i`` lives in chunk ``i // C`` and a
chunk's parameters depend only on (seed, chunk index, C). A *step* evaluates a
batch of chunks in one jitted call and returns only counts (or, for histograms,
the sorted distinct keys of the step and their counts); the host sums them as
Python ints. Counts are therefore identical for any number of chunks per step.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray, UInt32

from countnets import _threefry, boolean, sharding, statistics
from countnets import checkpoint as checkpoint_lib
from countnets._errors import CountnetsError, check_finite_float, check_positive_int
from countnets.architectures import DEFAULT_PRECISION, Architecture, apply_flat_batch
from countnets.priors import PRNG_DESCRIPTION, Lattice, Prior
from countnets.results import CountResult, Estimate, make_estimate, runtime_info

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_MARGIN",
    "DEFAULT_MAX_EXACT",
    "PRECISIONS",
    "ChunkSource",
    "sampling_source",
    "lattice_source",
    "chunk_tables",
    "Blocking",
    "plan_blocking",
    "map_blocks",
    "network_bytes",
    "build_chunk_counter",
    "build_chunk_histogram",
    "run_chunks",
    "estimate_mc",
    "histogram_mc",
    "enumerate_exact",
    "histogram_estimates",
    "sorted_run_counts",
    "table_histogram",
    "merge_histogram_step",
    "HistogramAccumulator",
    "CountAccumulator",
    "DEFAULT_MAX_DISTINCT",
    "RunInfo",
    "last_run_info",
]

DEFAULT_CHUNK_SIZE = 4096
DEFAULT_MARGIN = 1e-5
DEFAULT_MAX_EXACT = 2**34
# Distinct functions a histogram keeps on the host by default (about 1.25x this many
# entries at most; see HistogramAccumulator and docs/scaling.md).
DEFAULT_MAX_DISTINCT = 1_000_000
PRECISIONS = ("highest", "high", "default")
_STEP_BYTES = 256 * 2**20  # activation memory aimed at per step when choosing chunks per step


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
    if chunk_size % 2 == 0:

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


def _check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise CountnetsError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    return precision


def chunk_tables(
    arch: Architecture,
    theta: Float[Array, "chunk n_params"],
    x: Float[Array, "points n"],
    *,
    precision: str = DEFAULT_PRECISION,
    margin: float = DEFAULT_MARGIN,
) -> tuple[UInt32[Array, "chunk words"], Bool[Array, " chunk"], Bool[Array, " chunk"]]:
    """Packed truth tables of a chunk of networks.

    Returns:
      ``(keys, nonfinite, near)``: packed tables (uint32, DESIGN bit order); whether
      any output was NaN or infinite; whether any output was within ``margin`` of 0.
    """
    y = apply_flat_batch(arch, theta, x, precision=precision)
    keys = boolean.pack_table(boolean.truth_table(y))
    nonfinite = ~jnp.all(jnp.isfinite(y), axis=1)
    near = jnp.any(jnp.abs(y) <= margin, axis=1)
    return keys, nonfinite, near


def _valid_mask(chunk_size: int, n_valid: Int[Array, " batch"]) -> Bool[Array, "batch chunk"]:
    return jnp.arange(chunk_size, dtype=jnp.int32)[None, :] < n_valid[:, None]


def _flag_counts(
    nonfinite: Bool[Array, "*shape"], near: Bool[Array, "*shape"], valid: Bool[Array, "*shape"]
) -> tuple[Int[Array, ""], Int[Array, ""]]:
    """int32 counts of kept networks (``valid``) with a non-finite output and with one near 0."""
    return jnp.sum(nonfinite & valid, dtype=jnp.int32), jnp.sum(near & valid, dtype=jnp.int32)


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


def build_chunk_counter(
    source: ChunkSource,
    arch: Architecture,
    targets: Sequence[int],
    *,
    encoding: str = "01",
    precision: str = DEFAULT_PRECISION,
    margin: float = DEFAULT_MARGIN,
    blocking: Blocking | None = None,
) -> Callable[[PRNGKeyArray, Int[Array, " batch"], Int[Array, " batch"]], dict[str, Array]]:
    """A jitted step counting hits of each target over a batch of chunks.

    The returned ``count(key, chunk_indices, n_valid)`` takes int32 arrays of shape
    ``(batch,)``: the chunks to evaluate and how many leading samples of each to
    keep (``0 .. chunk_size``). It returns int32 counts: ``hits`` (one per target),
    ``nonfinite`` and ``near`` (scalars) over the kept samples. ``blocking`` (default:
    :func:`plan_blocking`) sets only the speed.
    """
    n_words = boolean.words_per_table(arch.n)
    target_words = jnp.asarray(np.stack([boolean.int_to_words(t, arch.n) for t in targets]).reshape(-1, n_words))
    x = boolean.cube(arch.n, encoding)
    precision = _check_precision(precision)
    blocking = blocking or plan_blocking(source, network_bytes(arch))

    def per_block(theta, valid):
        keys, nonfinite, near = chunk_tables(arch, theta, x, precision=precision, margin=margin)
        match = jnp.all(keys[:, None, :] == target_words[None, :, :], axis=-1)  # (rows, T)
        return (jnp.sum(match & valid[:, None], axis=0, dtype=jnp.int32), *_flag_counts(nonfinite, near, valid))

    @jax.jit
    def count(key, chunk_indices, n_valid):
        hits, nonfinite, near = map_blocks(source, blocking, per_block, key, chunk_indices, n_valid)
        return {
            "hits": jnp.sum(hits, axis=0, dtype=jnp.int32),
            "nonfinite": jnp.sum(nonfinite, dtype=jnp.int32),
            "near": jnp.sum(near, dtype=jnp.int32),
        }

    return count


def sorted_run_counts(columns: UInt32[Array, "m k"], weight: Int[Array, " m"]) -> dict[str, Array]:
    """Histogram of the rows of ``columns`` (one key per row), on device.

    Sorts the rows lexicographically (column 0 most significant) and counts runs,
    adding ``weight`` (1 for a kept sample, 0 for padding).

    Returns:
      ``keys`` (``(m, k)``, distinct rows first, sorted), ``counts`` (int32 ``(m,)``)
      and ``n_unique`` (how many leading rows are distinct keys; the rest is padding).
    """
    m, k = columns.shape
    sorted_ops = jax.lax.sort([columns[:, i] for i in range(k)] + [weight], num_keys=k)
    keys = jnp.stack(sorted_ops[:k], axis=1)
    new_run = jnp.concatenate([jnp.ones((1,), bool), jnp.any(keys[1:] != keys[:-1], axis=1)])
    run_id = jnp.cumsum(new_run, dtype=jnp.int32) - 1
    counts = jnp.zeros((m,), jnp.int32).at[run_id].add(sorted_ops[k])
    starts = jnp.nonzero(new_run, size=m, fill_value=0)[0]
    return {"keys": keys[starts], "counts": counts, "n_unique": run_id[-1] + 1}


def table_histogram(keys: UInt32[Array, "m words"], weight: Int[Array, " m"]) -> dict[str, Array]:
    """:func:`sorted_run_counts` of packed truth tables, sorted by their integer value.

    Packed words are least significant first, so they are reversed for the sort and
    back again in the returned ``keys``.
    """
    out = sorted_run_counts(keys[:, ::-1], weight)
    out["keys"] = out["keys"][:, ::-1]
    return out


def build_chunk_histogram(
    source: ChunkSource,
    arch: Architecture,
    *,
    encoding: str = "01",
    precision: str = DEFAULT_PRECISION,
    margin: float = DEFAULT_MARGIN,
    blocking: Blocking | None = None,
) -> Callable[[PRNGKeyArray, Int[Array, " batch"], Int[Array, " batch"]], dict[str, Array]]:
    """A jitted step computing the histogram of functions over a batch of chunks, on device.

    The step sorts the packed keys of all ``batch * chunk_size`` networks and counts
    runs. It returns ``keys`` (uint32 ``(M, words)``, distinct tables first, sorted),
    ``counts`` (int32 ``(M,)``, counting only kept samples), ``n_unique`` (how many
    leading rows are distinct tables) and ``nonfinite``/``near`` counts, with
    ``M = batch * chunk_size``. Rows past ``n_unique`` are padding. ``blocking``
    (default: :func:`plan_blocking`) sets only the speed.
    """
    x = boolean.cube(arch.n, encoding)
    precision = _check_precision(precision)
    n_words = boolean.words_per_table(arch.n)
    blocking = blocking or plan_blocking(source, network_bytes(arch))

    def per_block(theta, valid):
        keys, nonfinite, near = chunk_tables(arch, theta, x, precision=precision, margin=margin)
        return keys, valid, *_flag_counts(nonfinite, near, valid)

    @jax.jit
    def histogram(key, chunk_indices, n_valid):
        keys, valid, nonfinite, near = map_blocks(source, blocking, per_block, key, chunk_indices, n_valid)
        out = table_histogram(keys.reshape(-1, n_words), valid.reshape(-1).astype(jnp.int32))
        out["nonfinite"] = jnp.sum(nonfinite, dtype=jnp.int32)
        out["near"] = jnp.sum(near, dtype=jnp.int32)
        return out

    return histogram


def _keys_to_ints(keys: np.ndarray) -> list[int]:
    keys = np.asarray(keys, dtype=np.uint64)
    if keys.shape[1] == 1:
        return keys[:, 0].tolist()
    out = [0] * keys.shape[0]
    for w in range(keys.shape[1]):
        column = keys[:, w].tolist()
        out = [acc | (int(v) << (32 * w)) for acc, v in zip(out, column)]
    return out


def merge_histogram_step(histogram: Counter, step_out: dict[str, Any]) -> None:
    """Add one histogram step's device output into a host ``Counter`` (int table -> count)."""
    n_unique = int(step_out["n_unique"])
    keys = np.asarray(step_out["keys"])[:n_unique]
    counts = np.asarray(step_out["counts"])[:n_unique]
    for table, count in zip(_keys_to_ints(keys), counts.tolist()):
        if count:
            histogram[table] += count


@dataclasses.dataclass
class HistogramAccumulator:
    """Host-side sums of histogram steps, with an optional bound on the functions kept.

    With ``max_distinct=None`` every distinct function is kept and the counts are exact.
    With ``max_distinct=K`` the host table never holds more than about ``1.25 K``
    functions plus one step's rows: whenever it exceeds ``K + max(1, K // 4)`` entries it
    is reduced as in the mergeable Misra-Gries summary: with ``c`` the ``(K+1)``-th
    largest count, ``c`` is subtracted from every count and functions left with nothing
    are dropped. The guarantee, for every function f (kept count 0 if f is not kept)::

        kept(f) <= true(f) <= kept(f) + max_undercount,   max_undercount <= other / (K + 1)

    where ``other = samples merged - sum(kept)`` counts the samples not attributed to a
    kept function. So kept counts are lower bounds, every function with
    ``true(f) > max_undercount`` is kept, and ``other == 0`` means nothing was dropped
    (all counts exact). Which functions are kept can depend on how chunks were grouped
    into steps (chunks per step, devices); the bound holds for any grouping.

    Attributes:
      histogram: int truth table -> (kept) count.
      nonfinite: networks with a non-finite output.
      near: networks with an output within the margin of 0.
      max_distinct: K, or ``None`` for no bound.
      other: samples not attributed to a kept function.
      max_undercount: the largest amount by which any kept count can be below the truth.

    Raises:
      CountnetsError: if ``max_distinct`` is not ``None`` or a positive int.
    """

    histogram: Counter = dataclasses.field(default_factory=Counter)
    nonfinite: int = 0
    near: int = 0
    max_distinct: int | None = None
    other: int = 0
    max_undercount: int = 0

    def __post_init__(self):
        if self.max_distinct is not None:
            self.max_distinct = check_positive_int("max_distinct", self.max_distinct)

    @property
    def truncated(self) -> bool:
        """Whether any count was dropped (then kept counts are lower bounds)."""
        return self.other > 0

    def merge(self, step_out: dict[str, Any]) -> None:
        """Add one step's output (see :func:`build_chunk_histogram`), then reduce if over the bound."""
        merge_histogram_step(self.histogram, step_out)
        self.nonfinite += int(step_out["nonfinite"])
        self.near += int(step_out["near"])
        if self.max_distinct is not None and len(self.histogram) > self.max_distinct + max(1, self.max_distinct // 4):
            self._reduce()

    def _reduce(self) -> None:
        k = self.max_distinct
        counts = np.fromiter(self.histogram.values(), dtype=np.int64, count=len(self.histogram))
        cut = int(np.partition(counts, len(counts) - (k + 1))[len(counts) - (k + 1)])
        kept = {key: value - cut for key, value in self.histogram.items() if value > cut}
        self.other += int(counts.sum()) - sum(kept.values())
        self.max_undercount += cut
        self.histogram.clear()
        self.histogram.update(kept)

    def state_dict(self) -> dict[str, Any]:
        """JSON-ready state for a checkpoint (tables as hex strings)."""
        return {
            "histogram": {format(k, "x"): v for k, v in self.histogram.items()},
            "nonfinite": self.nonfinite,
            "near": self.near,
            "max_distinct": self.max_distinct,
            "other": self.other,
            "max_undercount": self.max_undercount,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from :meth:`state_dict`.

        Raises:
          CountnetsError: if the state is malformed or has another ``max_distinct``.
        """
        try:
            if state["max_distinct"] != self.max_distinct:
                raise CountnetsError(
                    f"saved histogram has max_distinct={state['max_distinct']}, this run {self.max_distinct}"
                )
            histogram = Counter({int(k, 16): int(v) for k, v in state["histogram"].items()})
            nonfinite, near = int(state["nonfinite"]), int(state["near"])
            other, under = int(state["other"]), int(state["max_undercount"])
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise CountnetsError(f"malformed histogram state in checkpoint: {err!r}") from None
        self.histogram.clear()
        self.histogram.update(histogram)
        self.nonfinite, self.near, self.other, self.max_undercount = nonfinite, near, other, under


@dataclasses.dataclass
class CountAccumulator:
    """Host-side sums of counter steps (see :func:`build_chunk_counter`), as Python ints.

    Attributes:
      hits: hits per target, in target order.
      nonfinite: networks with a non-finite output.
      near: networks with an output within the margin of 0.
    """

    hits: list[int]
    nonfinite: int = 0
    near: int = 0

    def merge(self, step_out: dict[str, Any]) -> None:
        """Add one step's output."""
        for i, h in enumerate(np.asarray(step_out["hits"]).tolist()):
            self.hits[i] += h
        self.nonfinite += int(step_out["nonfinite"])
        self.near += int(step_out["near"])

    def state_dict(self) -> dict[str, Any]:
        """JSON-ready state for a checkpoint."""
        return {"hits": list(self.hits), "nonfinite": self.nonfinite, "near": self.near}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from :meth:`state_dict`.

        Raises:
          CountnetsError: if the state is malformed or has another number of targets.
        """
        try:
            hits = [int(h) for h in state["hits"]]
            nonfinite, near = int(state["nonfinite"]), int(state["near"])
        except (KeyError, TypeError, ValueError) as err:
            raise CountnetsError(f"malformed count state in checkpoint: {err!r}") from None
        if len(hits) != len(self.hits):
            raise CountnetsError(f"saved counts have {len(hits)} targets, this run {len(self.hits)}")
        self.hits[:], self.nonfinite, self.near = hits, nonfinite, near


def _chunks_per_step(arch: Architecture, chunk_size: int) -> int:
    per_chunk = chunk_size * network_bytes(arch)
    return int(max(1, min(64, _STEP_BYTES // max(per_chunk, 1))))


@dataclasses.dataclass(frozen=True)
class RunInfo:
    """How the last :func:`run_chunks` call in this thread ran (read by result builders).

    Attributes:
      devices: devices that evaluated chunks, over all processes.
      processes: processes in the run (``jax.process_count()``).
      resumed_from: samples restored from a checkpoint (0 for a fresh run).
      seconds_before: counting seconds spent by earlier invocations (from the checkpoint).
      checkpoint: the checkpoint path, or ``None``.
    """

    devices: int = 1
    processes: int = 1
    resumed_from: int = 0
    seconds_before: float = 0.0
    checkpoint: str | None = None


_last_run = threading.local()


def last_run_info() -> RunInfo:
    """The :class:`RunInfo` of the last :func:`run_chunks` call in this thread (defaults if none)."""
    return getattr(_last_run, "info", RunInfo())


def run_chunks(
    step: Callable[[PRNGKeyArray, Array, Array], Any],
    merge: Callable[[Any], None],
    *,
    key: PRNGKeyArray,
    chunk_size: int,
    n_samples: int,
    chunks_per_step: int,
    start_chunk: int = 0,
    should_stop: Callable[[int], str | None] | None = None,
    max_seconds: float | None = None,
    progress: bool = False,
    description: str = "counting",
    devices: int | None = None,
    checkpoint: checkpoint_lib.Checkpoint | None = None,
    state: checkpoint_lib.Checkpointable | None = None,
) -> tuple[int, str]:
    """Drive ``step`` over chunks ``start_chunk ..`` until ``n_samples`` samples are done.

    Sample ``i`` (``i < n_samples``) is sample ``i % C`` of chunk ``i // C``; the last
    chunk is truncated by passing ``n_valid < C``. Padding chunks in the final step
    have ``n_valid = 0``, so shapes (and the compiled step) never change.

    **Devices and processes.** A jitted ``step`` (see :func:`countnets.sharding.is_shardable`)
    is sharded over ``devices`` local devices (default: every one, or the
    :func:`countnets.sharding.use_devices` setting) of every process of a
    ``jax.distributed`` run. A step then covers ``chunks_per_step`` rounded up to a
    multiple of the device count ``D``; each device evaluates ``chunks_per_step / D``
    consecutive chunks, and ``merge`` is called once per device, in chunk order, on
    that device's output (as if the step had been run with ``chunks_per_step / D``
    chunks). Every process merges every device's output, so all hold the same counts.
    A plain Python ``step`` runs as given on one device, after the previous merge.
    Counts are identical in every case, as ``merge`` only ever sees chunks in order.

    **Checkpoints.** With ``checkpoint`` (and ``state``, the object ``merge`` adds
    into, with ``state_dict``/``load_state_dict``) an existing checkpoint of the same
    run is loaded first and the run continues from its next chunk; progress and
    ``state.state_dict()`` are saved atomically after completed steps (see
    :class:`countnets.checkpoint.Checkpoint`), and when the run stops.

    **Stopping.** After each step: all samples done (``"samples"``); ``should_stop``;
    a signal caught by :func:`countnets.checkpoint.catch_signals` (``"interrupted"``);
    ``max_seconds`` (``"time"``). With several processes the last two are agreed by
    all processes after every step.

    Args:
      step: ``step(key, chunk_indices, n_valid)``, int32 arrays of shape ``(chunks per step (per device),)``.
      merge: called on each step's (or each device's) output, on the host, in chunk order.
      should_stop: called with the samples done after each step; a non-None return
        is the reason for stopping early. Also called once on resuming.
      max_seconds: stop after the first step that ends past this wall time.
      devices: local devices to shard over (``None``: the default described above).
      checkpoint: where to save and resume (``None``: no checkpoint).
      state: the accumulator saved in the checkpoint.

    Returns:
      ``(samples_done, stopped_by)``.

    Raises:
      CountnetsError: for invalid arguments, a device count the step cannot use, a
        checkpoint without ``state``, or a checkpoint of another run.
    """
    from tqdm.auto import tqdm

    chunk_size = check_positive_int("chunk_size", chunk_size)
    n_samples = check_positive_int("n_samples (sample count)", n_samples)
    chunks_per_step = check_positive_int("chunks_per_step", chunks_per_step)
    start_chunk = check_positive_int("start_chunk", start_chunk, allow_zero=True)
    if max_seconds is not None:
        max_seconds = check_finite_float("max_seconds", max_seconds, positive=True)
    n_chunks = -(-n_samples // chunk_size)
    if n_chunks >= 2**31:
        raise CountnetsError(
            f"{n_samples} samples in chunks of {chunk_size} make {n_chunks} chunks, more than the 2**31 - 1 "
            "that chunk indices (int32) can address; raise chunk_size"
        )
    if checkpoint is None and checkpoint_lib.required_checkpoint() is not None:
        raise CountnetsError(
            f"--checkpoint {checkpoint_lib.required_checkpoint()} was given, but this command's counting loop "
            f"({description!r}) cannot save checkpoints; run it without --checkpoint"
        )
    if checkpoint is not None:
        if not isinstance(checkpoint, checkpoint_lib.Checkpoint):
            raise CountnetsError(
                f"checkpoint must be a countnets.checkpoint.Checkpoint, got {type(checkpoint).__name__}"
            )
        if state is None or not (hasattr(state, "state_dict") and hasattr(state, "load_state_dict")):
            raise CountnetsError(
                f"{description}: a checkpoint needs state=, an accumulator with state_dict()/load_state_dict()"
            )
    n_proc = jax.process_count()
    n_local, explicit = sharding.resolve_devices(devices)
    shardable = sharding.is_shardable(step)
    if not shardable:
        if n_proc > 1:
            raise CountnetsError(
                f"{description}: its step is not a jitted function, so it cannot be split over {n_proc} processes"
            )
        if explicit and n_local > 1:
            raise CountnetsError(
                f"{description}: its step is not a jitted function, so it cannot be sharded over {n_local} devices; "
                "use 1 device"
            )
        n_local = 1
    n_total = n_local * n_proc

    done = min(n_samples, start_chunk * chunk_size)
    resumed_from, seconds_before = 0, 0.0
    if checkpoint is not None:
        saved = checkpoint_lib.load(checkpoint)
        if saved is not None:
            if saved.next_chunk > n_chunks or saved.samples != min(n_samples, saved.next_chunk * chunk_size):
                raise CountnetsError(
                    f"checkpoint {str(checkpoint.path)!r} is damaged: chunk {saved.next_chunk} and "
                    f"{saved.samples} samples do not fit {n_samples} samples in chunks of {chunk_size}"
                )
            state.load_state_dict(saved.state)  # type: ignore[union-attr]
            start_chunk, done, seconds_before = saved.next_chunk, saved.samples, saved.seconds
            resumed_from = done
        digest = zlib.crc32(json.dumps(checkpoint.fingerprint, sort_keys=True).encode())
        sharding.check_same_on_all_processes(
            (start_chunk, done, digest), f"checkpoint {str(checkpoint.path)!r} (next chunk, samples, run fingerprint)"
        )
    _last_run.info = RunInfo(
        devices=n_total,
        processes=n_proc,
        resumed_from=resumed_from,
        seconds_before=seconds_before,
        checkpoint=None if checkpoint is None else str(checkpoint.path),
    )

    # Never pad a short run up to a full step of empty chunks; one chunk block per device.
    cps = sharding.round_chunks_per_step(max(1, min(chunks_per_step, n_chunks - start_chunk)), n_total)
    if cps // n_total * chunk_size >= 2**31:
        raise CountnetsError(
            f"one device's share of a step ({cps // n_total} chunks of {chunk_size}) must be below 2**31 samples "
            "(per-step counts are int32); lower chunks_per_step"
        )
    if shardable and n_total > 1:
        runner = sharding.ShardedStep(step, sharding.make_mesh(n_local))

        def dispatch(indices, n_valid):
            return runner.dispatch(key, indices, n_valid)

        collect = runner.collect
    else:

        def dispatch(indices, n_valid):
            return step(key, jnp.asarray(indices, dtype=jnp.int32), jnp.asarray(n_valid, dtype=jnp.int32))

        def collect(out):
            return [out]

    def plan(first: int):
        indices = np.arange(first, first + cps, dtype=np.int64)
        n_valid = np.clip(n_samples - indices * chunk_size, 0, chunk_size)
        indices = np.where(indices < n_chunks, indices, 0)
        return first, indices.astype(np.int32), n_valid.astype(np.int32)

    def launch(planned):
        first, indices, n_valid = planned
        return first, dispatch(indices, n_valid), int(n_valid.sum())

    start = time.perf_counter()
    last_save = start

    def save(next_chunk: int, why: str) -> None:
        checkpoint_lib.save(
            checkpoint,  # type: ignore[arg-type]
            next_chunk=next_chunk,
            samples=done,
            seconds=seconds_before + time.perf_counter() - start,
            stopped_by=why,
            state=state.state_dict(),  # type: ignore[union-attr]
        )

    if done >= n_samples:
        return done, "samples"
    if resumed_from and should_stop is not None:
        # A resumed run that had met its stop rule stops again, as the uninterrupted run did.
        reason = should_stop(done)
        if reason is not None:
            return done, reason

    stopped_by = "samples"
    show = progress and sys.stderr.isatty() and jax.process_index() == 0
    firsts = iter(range(start_chunk, n_chunks, cps))
    bar = tqdm(
        total=n_samples, initial=done, unit="net", unit_scale=True, delay=2.0, disable=not show, desc=description
    )
    with bar:
        pending = launch(plan(next(firsts)))
        while pending is not None:
            first, out, step_samples = pending
            following = next(firsts, None)
            # A jitted step is pure, so the next one can run on the devices during this merge.
            pending = launch(plan(following)) if shardable and following is not None else None
            for part in collect(out):
                merge(part)
            done += step_samples
            bar.update(step_samples)
            next_chunk = min(first + cps, n_chunks)
            reason = None
            if done < n_samples:
                reason = should_stop(done) if should_stop else None
                local = None
                if checkpoint_lib.interrupt_signal() is not None:
                    local = "interrupted"
                elif max_seconds is not None and time.perf_counter() - start >= max_seconds:
                    local = "time"
                agreed = sharding.agree_stop(local)
                reason = reason or agreed
            finished = done >= n_samples
            now = time.perf_counter()
            due = checkpoint is not None and now - last_save >= checkpoint.every_seconds
            if checkpoint is not None and (finished or reason is not None or due):
                save(next_chunk, "samples" if finished else reason or "running")
                last_save = now
            if finished:
                break
            if reason is not None:
                stopped_by = reason
                break
            if pending is None and following is not None:
                pending = launch(plan(following))
    return done, stopped_by


def _device_info() -> tuple[str, int]:
    device = jax.devices()[0]
    return str(device.device_kind), last_run_info().devices


def _key(seed: int) -> PRNGKeyArray:
    seed = check_positive_int("seed", seed, allow_zero=True)
    if seed >= 2**32:
        raise CountnetsError(f"seed must be below 2**32, got {seed}")
    # Threefry whatever JAX's default PRNG: the raw words of key(seed, impl="threefry2x32").
    return jax.random.key_data(jax.random.key(seed, impl="threefry2x32"))


def _check_common(n_samples: int, confidence: float, method: str) -> tuple[int, float]:
    n_samples = check_positive_int("n_samples (sample count)", n_samples)
    confidence = check_finite_float("confidence", confidence)
    if not 0 < confidence < 1:
        raise CountnetsError(f"confidence must be in (0, 1), got {confidence}")
    if method not in statistics.INTERVAL_METHODS:
        raise CountnetsError(f"unknown interval method {method!r}; expected one of {statistics.INTERVAL_METHODS}")
    return n_samples, confidence


def _base_config(prior: Prior, arch: Architecture, encoding: str, precision: str, margin: float, method: str) -> dict:
    if encoding not in boolean.ENCODINGS:
        raise CountnetsError(f"encoding must be one of {boolean.ENCODINGS}, got {encoding!r}")
    return {
        "arch": arch.config(),
        "prior": prior.config(),
        "encoding": encoding,
        "precision": _check_precision(precision),
        "margin": margin,
        "interval": method,
        "prng": PRNG_DESCRIPTION,
    }


def _normalise_targets(targets: Iterable[int | str], n: int) -> list[int]:
    if isinstance(targets, (str, int)):
        targets = [targets]
    out = []
    for t in targets:
        if isinstance(t, str):
            out.append(boolean.parse_function(t, n))
        elif isinstance(t, (int, np.integer)) and not isinstance(t, bool):
            if not 0 <= int(t) < 2 ** (2**n):
                raise CountnetsError(f"target {t} is out of range for n={n}")
            out.append(int(t))
        else:
            raise CountnetsError(f"a target must be an int truth table or a hex/name string, got {t!r}")
    if not out:
        raise CountnetsError("at least one target function is needed")
    if len(set(out)) != len(out):
        raise CountnetsError(f"targets must be distinct, got {[boolean.to_hex(t) for t in out]}")
    return out


def _finish(
    kind, config, seed, source, samples, stopped_by, histogram, estimates, nonfinite, near, seconds, extra=None
) -> CountResult:
    device, count = _device_info()
    info = last_run_info()
    extra = dict(extra or {})
    if info.checkpoint is not None:
        extra["checkpoint"] = {
            "path": info.checkpoint,
            "resumed_from": info.resumed_from,
            "seconds_before": info.seconds_before,
            "seconds_total": info.seconds_before + seconds,
        }
    if info.processes > 1:
        extra["processes"] = info.processes
    # Throughput of this invocation: samples restored from a checkpoint are not counted.
    new_samples = max(0, samples - info.resumed_from)
    return CountResult(
        kind=kind,
        config=config,
        seed=seed,
        chunk_size=source.chunk_size,
        samples=samples,
        exact=source.exact,
        histogram=None if histogram is None else {boolean.to_hex(k): v for k, v in sorted(histogram.items())},
        estimates=tuple(estimates),
        nonfinite=nonfinite,
        near_threshold=near,
        stopped_by=stopped_by,
        seconds=seconds,
        samples_per_s=new_samples / seconds if seconds > 0 else 0.0,
        device=device,
        device_count=count,
        versions=runtime_info(),
        extra=extra,
    )


def _plan_cps(chunks_per_step: int | None, arch: Architecture, chunk_size: int, devices: int | None) -> int:
    """Chunks per step: the given value, or the per-device memory-based choice times the device count.

    Raises:
      CountnetsError: if both ``chunks_per_step`` and ``devices`` are given and the
        former is not a multiple of the devices of all processes.
    """
    n_local, explicit = sharding.resolve_devices(devices)
    total = n_local * jax.process_count()
    if chunks_per_step is None:
        return _chunks_per_step(arch, chunk_size) * total
    cps = check_positive_int("chunks_per_step", chunks_per_step)
    if explicit and cps % total:
        raise CountnetsError(
            f"chunks_per_step must be a multiple of the device count {total} "
            f"({n_local} per process x {jax.process_count()} process(es)), got {cps}"
        )
    return cps


def _fingerprint(kind: str, config: dict, seed: int | None, chunk_size: int, n_samples: int, **more: Any) -> dict:
    """What decides a run's counts (a checkpoint must match it). Interval settings do not."""
    from countnets import __version__

    cfg = {k: v for k, v in config.items() if k not in ("interval", "confidence")}
    return {"kind": kind, "countnets": __version__, "config": cfg, "seed": seed, "chunk_size": chunk_size,
            "n_samples": n_samples, **more}  # fmt: skip


def _checkpoint(path, fingerprint: dict, every: float) -> checkpoint_lib.Checkpoint | None:
    every = check_finite_float("checkpoint_every", every, non_negative=True)
    if path is None:
        return None
    return checkpoint_lib.Checkpoint(path, fingerprint, every)


def _widen(est: Estimate, undercount: int) -> Estimate:
    """An estimate whose count is a lower bound ``hits <= true <= hits + undercount``.

    The interval runs from the lower end at ``hits`` to the upper end at
    ``hits + undercount`` (both ends are monotone in the count, so the coverage holds);
    the method gets a ``"+truncation"`` suffix.
    """
    if undercount <= 0:
        return est
    high_hits = min(est.n, est.hits + undercount)
    if est.method == "exact":
        lo, hi = est.p, high_hits / est.n
    else:
        lo = est.ci[0]
        hi = statistics.binomial_interval(high_hits, est.n, est.confidence, est.method)[1]
    return dataclasses.replace(
        est, ci=(lo, hi), method=est.method + "+truncation", bits_ci=(statistics.bits(hi), statistics.bits(lo))
    )


def _histogram_extra(acc: HistogramAccumulator, extra_undercount: int = 0) -> dict[str, Any]:
    return {
        "max_distinct": acc.max_distinct,
        "other": acc.other,
        "max_undercount": acc.max_undercount + extra_undercount,
        "distinct_kept": len(acc.histogram),
    }


def estimate_mc(
    prior: Prior,
    arch: Architecture,
    targets: Sequence[int | str] | int | str,
    *,
    n_samples: int,
    seed: int = 0,
    encoding: str = "01",
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    chunks_per_step: int | None = None,
    confidence: float = 0.95,
    method: str = "clopper-pearson",
    rel_halfwidth: float | None = None,
    max_seconds: float | None = None,
    precision: str = DEFAULT_PRECISION,
    margin: float = DEFAULT_MARGIN,
    progress: bool = False,
    devices: int | None = None,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: float = checkpoint_lib.DEFAULT_EVERY_SECONDS,
) -> CountResult:
    """Monte Carlo estimate of ``P(network implements f)`` for each target f.

    Args:
      prior: parameter prior.
      arch: architecture.
      targets: truth tables as ints, hex strings or names (see :func:`countnets.parse_function`).
      n_samples: samples to draw (the maximum, when another stop rule is given).
      seed: integer seed, ``0 <= seed < 2**32``.
      encoding: ``"01"`` or ``"pm1"``.
      chunk_size: samples per chunk C (part of the random stream: keep it fixed to
        reproduce a run).
      chunks_per_step: chunks per jitted step over all devices (any value gives
        identical counts; default: a per-device memory budget times the device count).
      confidence: interval confidence level.
      method: ``"clopper-pearson"`` (default), ``"wilson"`` or ``"jeffreys"``.
      rel_halfwidth: stop once every target has hits and interval half-width / p at most this.
      max_seconds: stop after the first step past this wall time.
      precision: matmul precision, ``"highest"`` (default), ``"high"`` or ``"default"``.
      margin: outputs with ``|y| <= margin`` count as near the threshold.
      progress: show a progress bar (only on a terminal, after 2 s).
      devices: local devices to shard chunks over (default: all; counts do not depend on it).
      checkpoint: save progress to this file and resume from it (see :func:`run_chunks`).
      checkpoint_every: seconds between checkpoint saves (0: after every step).

    Returns:
      A :class:`CountResult` with one estimate per target, in the order given.

    Raises:
      CountnetsError: for invalid arguments or a checkpoint of another run.
    """
    n_samples, confidence = _check_common(n_samples, confidence, method)
    target_ints = _normalise_targets(targets, arch.n)
    config = _base_config(prior, arch, encoding, precision, margin, method)
    config["targets"] = [boolean.to_hex(t) for t in target_ints]
    if rel_halfwidth is not None:
        rel_halfwidth = check_finite_float("rel_halfwidth", rel_halfwidth, positive=True)
    if max_seconds is not None:
        max_seconds = check_finite_float("max_seconds", max_seconds, positive=True)
    key = _key(seed)
    source = sampling_source(prior, arch, chunk_size)
    cps = _plan_cps(chunks_per_step, arch, source.chunk_size, devices)
    fingerprint = _fingerprint("estimate", config, seed, source.chunk_size, n_samples)
    ckpt = _checkpoint(checkpoint, fingerprint, checkpoint_every)
    step = build_chunk_counter(source, arch, target_ints, encoding=encoding, precision=precision, margin=margin)
    acc = CountAccumulator([0] * len(target_ints))

    def should_stop(done: int) -> str | None:
        if rel_halfwidth is None:
            return None
        for h in acc.hits:
            if h == 0:
                return None
            lo, hi = statistics.binomial_interval(h, done, confidence, method)
            if (hi - lo) / 2 > rel_halfwidth * (h / done):
                return None
        return "rel_halfwidth"

    start = time.perf_counter()
    done, stopped_by = run_chunks(
        step,
        acc.merge,
        key=key,
        chunk_size=source.chunk_size,
        n_samples=n_samples,
        chunks_per_step=cps,
        should_stop=should_stop,
        max_seconds=max_seconds,
        progress=progress,
        description="estimate",
        devices=devices,
        checkpoint=ckpt,
        state=acc,
    )
    seconds = time.perf_counter() - start
    estimates = [
        make_estimate(boolean.to_hex(t), h, done, confidence=confidence, method=method)
        for t, h in zip(target_ints, acc.hits, strict=True)
    ]
    return _finish(
        "estimate", config, seed, source, done, stopped_by, None, estimates, acc.nonfinite, acc.near, seconds,
    )  # fmt: skip


def histogram_estimates(
    histogram: dict[int, int] | Counter,
    total: int,
    *,
    top: int | None = None,
    confidence: float = 0.95,
    method: str = "clopper-pearson",
    functions: Sequence[int] = (),
) -> list[Estimate]:
    """Estimates for the ``top`` most frequent functions (ties: smaller table first), then ``functions``.

    ``method="exact"`` for enumerations gives exact probabilities ``count / total``.
    """
    ranked = sorted(histogram.items(), key=lambda kv: (-kv[1], kv[0]))
    chosen = [k for k, _ in (ranked if top is None else ranked[:top])]
    chosen += [f for f in functions if f not in chosen]
    return [
        make_estimate(boolean.to_hex(k), histogram.get(k, 0), total, confidence=confidence, method=method)
        for k in chosen
    ]


def _check_max_distinct(max_distinct: int | None) -> int | None:
    return None if max_distinct is None else check_positive_int("max_distinct", max_distinct)


def histogram_mc(
    prior: Prior,
    arch: Architecture,
    *,
    n_samples: int,
    seed: int = 0,
    encoding: str = "01",
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    chunks_per_step: int | None = None,
    confidence: float = 0.95,
    method: str = "clopper-pearson",
    top: int | None = 10,
    targets: Sequence[int | str] = (),
    max_seconds: float | None = None,
    precision: str = DEFAULT_PRECISION,
    margin: float = DEFAULT_MARGIN,
    progress: bool = False,
    devices: int | None = None,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: float = checkpoint_lib.DEFAULT_EVERY_SECONDS,
    max_distinct: int | None = DEFAULT_MAX_DISTINCT,
) -> CountResult:
    """Monte Carlo histogram of the functions implemented by prior samples.

    The histogram is computed on device per step (sort packed keys, count runs) and
    merged on the host. ``estimates`` holds the ``top`` most frequent functions and
    then any ``targets``; ``histogram`` holds every distinct function kept.

    Host memory is bounded by ``max_distinct`` (``None``: no bound): past it the host
    table keeps the heavy functions with lower-bound counts (see
    :class:`HistogramAccumulator`); ``extra`` then reports ``other`` (samples not
    attributed to a kept function) and ``max_undercount`` (how far below the truth a
    kept count can be), and every estimate's interval is widened to cover it (method
    suffix ``"+truncation"``). Other arguments are as in :func:`estimate_mc`.
    """
    n_samples, confidence = _check_common(n_samples, confidence, method)
    target_ints = _normalise_targets(targets, arch.n) if targets else []
    if top is not None:
        top = check_positive_int("top", top, allow_zero=True)
    if max_seconds is not None:
        max_seconds = check_finite_float("max_seconds", max_seconds, positive=True)
    max_distinct = _check_max_distinct(max_distinct)
    config = _base_config(prior, arch, encoding, precision, margin, method)
    config["targets"] = [boolean.to_hex(t) for t in target_ints]
    key = _key(seed)
    source = sampling_source(prior, arch, chunk_size)
    cps = _plan_cps(chunks_per_step, arch, source.chunk_size, devices)
    fingerprint = _fingerprint("histogram", config, seed, source.chunk_size, n_samples, max_distinct=max_distinct)
    ckpt = _checkpoint(checkpoint, fingerprint, checkpoint_every)
    step = build_chunk_histogram(source, arch, encoding=encoding, precision=precision, margin=margin)
    acc = HistogramAccumulator(max_distinct=max_distinct)

    start = time.perf_counter()
    done, stopped_by = run_chunks(
        step,
        acc.merge,
        key=key,
        chunk_size=source.chunk_size,
        n_samples=n_samples,
        chunks_per_step=cps,
        max_seconds=max_seconds,
        progress=progress,
        description="histogram",
        devices=devices,
        checkpoint=ckpt,
        state=acc,
    )
    seconds = time.perf_counter() - start
    estimates = histogram_estimates(
        acc.histogram, done, top=top, confidence=confidence, method=method, functions=target_ints
    )
    estimates = [_widen(e, acc.max_undercount) for e in estimates]
    return _finish(
        "histogram", config, seed, source, done, stopped_by, acc.histogram, estimates, acc.nonfinite, acc.near, seconds,
        extra=_histogram_extra(acc),
    )  # fmt: skip


def enumerate_exact(
    prior: Prior,
    arch: Architecture,
    *,
    encoding: str = "01",
    top: int | None = 10,
    targets: Sequence[int | str] = (),
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    chunks_per_step: int | None = None,
    max_configurations: int = DEFAULT_MAX_EXACT,
    precision: str = DEFAULT_PRECISION,
    margin: float = DEFAULT_MARGIN,
    progress: bool = False,
    devices: int | None = None,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: float = checkpoint_lib.DEFAULT_EVERY_SECONDS,
    max_distinct: int | None = DEFAULT_MAX_DISTINCT,
) -> CountResult:
    """Exact prior masses under a lattice prior, by evaluating every parameter vector once.

    The prior mass of function f is ``#{configurations implementing f} / V**n_params``
    exactly. ``histogram`` holds every function with its configuration count;
    ``estimates`` the ``top`` most frequent and then ``targets`` (method ``"exact"``).
    ``devices``, ``checkpoint`` and ``max_distinct`` are as in :func:`histogram_mc`;
    an enumeration stopped early (a signal) reports ``stopped_by="interrupted"`` and
    intervals covering the configurations not yet enumerated.

    Raises:
      CountnetsError: if the prior is not a lattice or there are more than
        ``max_configurations`` configurations (the message names the count).
    """
    target_ints = _normalise_targets(targets, arch.n) if targets else []
    if top is not None:
        top = check_positive_int("top", top, allow_zero=True)
    max_distinct = _check_max_distinct(max_distinct)
    config = _base_config(prior, arch, encoding, precision, margin, "exact")
    config["targets"] = [boolean.to_hex(t) for t in target_ints]
    source = lattice_source(prior, arch, chunk_size, max_configurations)
    total = prior.n_configurations(arch.layout())
    cps = _plan_cps(chunks_per_step, arch, source.chunk_size, devices)
    fingerprint = _fingerprint("enumerate", config, None, source.chunk_size, total, max_distinct=max_distinct)
    ckpt = _checkpoint(checkpoint, fingerprint, checkpoint_every)
    step = build_chunk_histogram(source, arch, encoding=encoding, precision=precision, margin=margin)
    acc = HistogramAccumulator(max_distinct=max_distinct)

    start = time.perf_counter()
    done, stopped_by = run_chunks(
        step,
        acc.merge,
        key=jax.random.PRNGKey(0),
        chunk_size=source.chunk_size,
        n_samples=total,
        chunks_per_step=cps,
        progress=progress,
        description="enumerate",
        devices=devices,
        checkpoint=ckpt,
        state=acc,
    )
    seconds = time.perf_counter() - start
    missing = total - done
    estimates = histogram_estimates(acc.histogram, total, top=top, method="exact", functions=target_ints)
    estimates = [_widen(e, acc.max_undercount + missing) for e in estimates]
    return _finish(
        "histogram", config, None, source, done, "exhausted" if missing == 0 else stopped_by, acc.histogram, estimates,
        acc.nonfinite, acc.near, seconds, extra=_histogram_extra(acc, missing),
    )  # fmt: skip
