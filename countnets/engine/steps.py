"""The one step builder: a measure over every network of a batch of chunks, reduced on the device.

A *step* ``step(key, chunk_indices, n_valid)`` evaluates a batch of chunks in one jitted
call and returns only what the host needs: counts of events (``reduce="count"``), or the
sorted distinct histogram keys of the step with their counts (``reduce="histogram"``).
The host sums steps as Python ints (:mod:`countnets.engine.accumulators`), so counts are the
same for any number of chunks per step, device count or blocking.

Every counting path in countnets (target counts, function histograms, the circuit
experiments, the conditional prior of the training experiments) is ``build_step`` with a
measure from :mod:`countnets.measures`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray, UInt32

from countnets._errors import CountnetsError
from countnets.defaults import PRECISIONS  # noqa: F401 (re-exported)
from countnets.engine.sources import Blocking, ChunkSource, map_blocks, network_bytes, plan_blocking
from countnets.measures import Measure, as_measure
from countnets.network import boolean
from countnets.network.architectures import DEFAULT_PRECISION, Architecture, apply_flat_batch

__all__ = [
    "DEFAULT_MARGIN",
    "PRECISIONS",
    "REDUCES",
    "Step",
    "check_precision",
    "build_step",
    "chunk_tables",
    "flag_counts",
    "sorted_run_counts",
]

DEFAULT_MARGIN = 1e-5
REDUCES = ("count", "histogram")

Step = Callable[[PRNGKeyArray, Int[Array, " batch"], Int[Array, " batch"]], dict[str, Array]]


def check_precision(precision: str) -> str:
    """``precision`` if it is a matmul precision countnets accepts, else :class:`CountnetsError`."""
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
    """Packed truth tables of a chunk of networks (words least significant first, as :func:`boolean.pack_table`).

    Returns:
      ``(keys, nonfinite, near)``: packed tables; whether any output was NaN or
      infinite; whether any output was within ``margin`` of 0.
    """
    y = apply_flat_batch(arch, theta, x, precision=precision)
    keys = boolean.pack_table(boolean.truth_table(y))
    return keys, ~jnp.all(jnp.isfinite(y), axis=1), jnp.any(jnp.abs(y) <= margin, axis=1)


def flag_counts(
    nonfinite: Bool[Array, "*shape"], near: Bool[Array, "*shape"], valid: Bool[Array, "*shape"]
) -> tuple[Int[Array, ""], Int[Array, ""]]:
    """int32 counts of kept rows (``valid``) with a non-finite value and with one near 0."""
    return jnp.sum(nonfinite & valid, dtype=jnp.int32), jnp.sum(near & valid, dtype=jnp.int32)


def sorted_run_counts(columns: UInt32[Array, "m k"], weight: Int[Array, " m"]) -> dict[str, Array]:
    """Histogram of the rows of ``columns`` (one key per row), on device.

    Sorts the rows lexicographically (column 0 most significant) and counts runs,
    adding ``weight`` (1 for a counted row, 0 for padding or a row outside the event).

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


def _flags(values: Float[Array, "variants m"], margin: float) -> tuple[Array, Array]:
    """Per variant: a non-finite value; a value within ``margin`` of 0."""
    return ~jnp.all(jnp.isfinite(values), axis=1), jnp.any(jnp.abs(values) <= margin, axis=1)


def _as_measures(measure: Measure | Sequence[Measure | int | str] | int | str) -> tuple[Measure, ...]:
    if isinstance(measure, Measure) or isinstance(measure, (int, str)):
        return (as_measure(measure),)
    try:
        measures = tuple(as_measure(m) for m in measure)  # type: ignore[union-attr]
    except TypeError:
        raise CountnetsError(f"expected a Measure or a sequence of measures, got {type(measure).__name__}") from None
    if not measures:
        raise CountnetsError("at least one measure is needed")
    return measures


def build_step(
    source: ChunkSource,
    arch: Architecture,
    measure: Measure | Sequence[Measure | int | str] | int | str,
    *,
    reduce: str = "count",
    where: Measure | None = None,
    encoding: str = "01",
    precision: str = DEFAULT_PRECISION,
    margin: float = DEFAULT_MARGIN,
    blocking: Blocking | None = None,
    bytes_per_network: int | None = None,
) -> Step:
    """A jitted step evaluating ``measure`` on every network of a batch of chunks.

    The returned ``step(key, chunk_indices, n_valid)`` takes int32 arrays of shape
    ``(batch,)``: the chunks to evaluate and how many leading networks of each to keep
    (``0 .. chunk_size``); padding networks are evaluated but never counted.

    * ``reduce="count"``: ``measure`` is one measure or a sequence of measures, each
      with an event (ints and strings mean :func:`countnets.measures.implements`).
      Returns int32 ``hits`` (one count per measure), ``nonfinite`` and ``near``: kept
      networks with a non-finite value, or one within ``margin`` of 0, among the
      ``outputs`` of any of the measures.
    * ``reduce="histogram"``: one measure with a key. Returns the histogram of its key
      rows over the kept networks (in ``where``'s event, if given), computed on the
      device by :func:`sorted_run_counts`: ``keys`` (uint32 ``(M, columns)``, distinct
      rows first, sorted, most significant column first), ``counts`` (int32 ``(M,)``),
      ``n_unique``, and ``nonfinite``/``near`` counted per (network, key variant) over
      the kept networks. ``M`` is the number of key rows of the step.

    ``blocking`` (default :func:`countnets.engine.sources.plan_blocking` with
    ``bytes_per_network``, default :func:`countnets.engine.sources.network_bytes` times the
    key variants) sets only the speed.

    Raises:
      CountnetsError: for an unknown ``reduce``, a measure without the event or key it
        needs, a measure that does not apply to ``arch``, or a bad encoding or precision.
    """
    if reduce not in REDUCES:
        raise CountnetsError(f"reduce must be one of {REDUCES}, got {reduce!r}")
    measures = _as_measures(measure)
    precision = check_precision(precision)
    x = boolean.cube(arch.n, encoding)
    for m in measures + (() if where is None else (where,)):
        m.check(arch)
    if where is not None and where.event is None:
        raise CountnetsError(f"where= needs a measure with an event, got {where.name}")
    if reduce == "count":
        missing = [m.name for m in measures if m.event is None]
        if missing:
            raise CountnetsError(f"counting needs measures with an event; {', '.join(missing)} has none")
        if where is not None:
            raise CountnetsError("where= applies to histograms; count all_of(measure, where) instead")
        return _count_step(source, arch, measures, x, precision, margin, blocking, bytes_per_network)
    if len(measures) != 1:
        raise CountnetsError(f"a histogram takes one measure with a key, got {len(measures)}")
    if measures[0].key is None:
        raise CountnetsError(f"a histogram needs a measure with a key; {measures[0].name} has none")
    return _histogram_step(source, arch, measures[0], where, x, precision, margin, blocking, bytes_per_network)


def _count_step(source, arch, measures, x, precision, margin, blocking, bytes_per_network) -> Step:
    blocking = blocking or plan_blocking(source, bytes_per_network or network_bytes(arch))

    # Measures that read the same values (every implements(f) reads the forward pass) are flagged once.
    outputs = tuple(dict.fromkeys(m.outputs for m in measures))

    def per_network(theta):
        params = arch.unflatten(theta)
        hits = jnp.stack([m.event(arch, params, x, precision) for m in measures])
        values = jnp.concatenate([fn(arch, params, x, precision).reshape(-1) for fn in outputs])
        nonfinite, near = _flags(values[None, :], margin)
        return hits, nonfinite[0], near[0]

    def per_block(theta, valid):
        hits, nonfinite, near = jax.vmap(per_network)(theta)
        return (jnp.sum(hits & valid[:, None], axis=0, dtype=jnp.int32), *flag_counts(nonfinite, near, valid))

    @jax.jit
    def count(key, chunk_indices, n_valid):
        hits, nonfinite, near = map_blocks(source, blocking, per_block, key, chunk_indices, n_valid)
        return {
            "hits": jnp.sum(hits, axis=0, dtype=jnp.int32),
            "nonfinite": jnp.sum(nonfinite, dtype=jnp.int32),
            "near": jnp.sum(near, dtype=jnp.int32),
        }

    return count


def _histogram_step(source, arch, measure, where, x, precision, margin, blocking, bytes_per_network) -> Step:
    def per_network(theta):
        params = arch.unflatten(theta)
        keys = measure.key(arch, params, x, precision)
        nonfinite, near = _flags(measure.outputs(arch, params, x, precision), margin)
        inside = jnp.asarray(True) if where is None else where.event(arch, params, x, precision)
        return keys, nonfinite, near, inside

    if blocking is None:
        if bytes_per_network is None:
            variants = jax.eval_shape(per_network, jax.ShapeDtypeStruct((arch.n_params,), jnp.float32))[0].shape[0]
            bytes_per_network = network_bytes(arch) * variants
        blocking = plan_blocking(source, bytes_per_network)

    def per_block(theta, valid):
        keys, nonfinite, near, inside = jax.vmap(per_network)(theta)  # (rows, V, k), (rows, V), (rows, V), (rows,)
        valid_rows = jnp.broadcast_to(valid[:, None], nonfinite.shape)
        counted = jnp.broadcast_to((valid & inside)[:, None], nonfinite.shape)
        return keys, counted, *flag_counts(nonfinite, near, valid_rows)

    @jax.jit
    def histogram(key, chunk_indices, n_valid):
        keys, counted, nonfinite, near = map_blocks(source, blocking, per_block, key, chunk_indices, n_valid)
        out = sorted_run_counts(keys.reshape(-1, keys.shape[-1]), counted.reshape(-1).astype(jnp.int32))
        out["nonfinite"] = jnp.sum(nonfinite, dtype=jnp.int32)
        out["near"] = jnp.sum(near, dtype=jnp.int32)
        return out

    return histogram
