"""Chunked Monte Carlo and exact lattice enumeration of network functions.

The unit of randomness is the chunk: sample ``i`` lives in chunk ``i // C`` and a
chunk's parameters depend only on (seed, chunk index, C). A *step* evaluates a
batch of chunks in one jitted call and returns only counts (or, for histograms,
the sorted distinct keys of the step and their counts); the host sums them as
Python ints. Counts are therefore identical for any number of chunks per step.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray, UInt32

from countnets import boolean, statistics
from countnets._errors import CountnetsError, check_finite_float, check_positive_int
from countnets.architectures import DEFAULT_PRECISION, Architecture, apply_flat_batch
from countnets.priors import Lattice, Prior
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
    "build_chunk_counter",
    "build_chunk_histogram",
    "run_chunks",
    "estimate_mc",
    "histogram_mc",
    "enumerate_exact",
    "histogram_estimates",
    "merge_histogram_step",
    "HistogramAccumulator",
]

DEFAULT_CHUNK_SIZE = 4096
DEFAULT_MARGIN = 1e-5
DEFAULT_MAX_EXACT = 2**34
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
    """

    params: Callable[[PRNGKeyArray, Int[Array, ""]], Float[Array, "chunk n_params"]]
    chunk_size: int
    n_chunks: int | None
    exact: bool


def sampling_source(prior: Prior, arch: Architecture, chunk_size: int = DEFAULT_CHUNK_SIZE) -> ChunkSource:
    """Chunks drawn from ``prior``: chunk i is ``prior.sample(key, i, chunk_size, arch.layout())``."""
    chunk_size = check_positive_int("chunk_size", chunk_size)
    layout = arch.layout()
    return ChunkSource(
        params=lambda key, index: prior.sample(key, index, chunk_size, layout),
        chunk_size=chunk_size,
        n_chunks=None,
        exact=False,
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
    return ChunkSource(
        params=lambda key, index: prior.enumerate_chunk(index, low, layout),
        chunk_size=size,
        n_chunks=n_chunks,
        exact=True,
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


def _batched_tables(source, arch, x, precision, margin):
    def one_chunk(key, index):
        return chunk_tables(arch, source.params(key, index), x, precision=precision, margin=margin)

    return jax.vmap(one_chunk, in_axes=(None, 0))


def build_chunk_counter(
    source: ChunkSource,
    arch: Architecture,
    targets: Sequence[int],
    *,
    encoding: str = "01",
    precision: str = DEFAULT_PRECISION,
    margin: float = DEFAULT_MARGIN,
) -> Callable[[PRNGKeyArray, Int[Array, " batch"], Int[Array, " batch"]], dict[str, Array]]:
    """A jitted step counting hits of each target over a batch of chunks.

    The returned ``count(key, chunk_indices, n_valid)`` takes int32 arrays of shape
    ``(batch,)``: the chunks to evaluate and how many leading samples of each to
    keep (``0 .. chunk_size``). It returns int32 counts: ``hits`` (one per target),
    ``nonfinite`` and ``near`` (scalars) over the kept samples.
    """
    n_words = boolean.words_per_table(arch.n)
    target_words = jnp.asarray(np.stack([boolean.int_to_words(t, arch.n) for t in targets]).reshape(-1, n_words))
    x = boolean.cube(arch.n, encoding)
    tables = _batched_tables(source, arch, x, _check_precision(precision), margin)

    @jax.jit
    def count(key, chunk_indices, n_valid):
        keys, nonfinite, near = tables(key, chunk_indices)  # (batch, C, words), (batch, C), (batch, C)
        valid = _valid_mask(source.chunk_size, n_valid)
        match = jnp.all(keys[:, :, None, :] == target_words[None, None, :, :], axis=-1)  # (batch, C, T)
        hits = jnp.sum(match & valid[:, :, None], axis=(0, 1), dtype=jnp.int32)
        return {
            "hits": hits,
            "nonfinite": jnp.sum(nonfinite & valid, dtype=jnp.int32),
            "near": jnp.sum(near & valid, dtype=jnp.int32),
        }

    return count


def build_chunk_histogram(
    source: ChunkSource,
    arch: Architecture,
    *,
    encoding: str = "01",
    precision: str = DEFAULT_PRECISION,
    margin: float = DEFAULT_MARGIN,
) -> Callable[[PRNGKeyArray, Int[Array, " batch"], Int[Array, " batch"]], dict[str, Array]]:
    """A jitted step computing the histogram of functions over a batch of chunks, on device.

    The step sorts the packed keys of all ``batch * chunk_size`` networks and counts
    runs. It returns ``keys`` (uint32 ``(M, words)``, distinct tables first, sorted),
    ``counts`` (int32 ``(M,)``, counting only kept samples), ``n_unique`` (how many
    leading rows are distinct tables) and ``nonfinite``/``near`` counts, with
    ``M = batch * chunk_size``. Rows past ``n_unique`` are padding.
    """
    x = boolean.cube(arch.n, encoding)
    tables = _batched_tables(source, arch, x, _check_precision(precision), margin)
    n_words = boolean.words_per_table(arch.n)

    @jax.jit
    def histogram(key, chunk_indices, n_valid):
        keys, nonfinite, near = tables(key, chunk_indices)
        valid = _valid_mask(source.chunk_size, n_valid)
        flat = keys.reshape(-1, n_words)
        weight = valid.reshape(-1).astype(jnp.int32)
        # Most significant word first, so the sort is by integer value.
        operands = [flat[:, w] for w in reversed(range(n_words))] + [weight]
        sorted_ops = jax.lax.sort(operands, num_keys=n_words)
        sorted_keys = jnp.stack(sorted_ops[:n_words][::-1], axis=1)
        sorted_weight = sorted_ops[n_words]
        new_run = jnp.concatenate([jnp.ones((1,), bool), jnp.any(sorted_keys[1:] != sorted_keys[:-1], axis=1)])
        run_id = jnp.cumsum(new_run, dtype=jnp.int32) - 1
        size = flat.shape[0]
        counts = jnp.zeros((size,), jnp.int32).at[run_id].add(sorted_weight)
        starts = jnp.nonzero(new_run, size=size, fill_value=0)[0]
        return {
            "keys": sorted_keys[starts],
            "counts": counts,
            "n_unique": run_id[-1] + 1,
            "nonfinite": jnp.sum(nonfinite & valid, dtype=jnp.int32),
            "near": jnp.sum(near & valid, dtype=jnp.int32),
        }

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
    """Host-side sums of histogram steps: ``histogram`` (int table -> count), ``nonfinite``, ``near``."""

    histogram: Counter = dataclasses.field(default_factory=Counter)
    nonfinite: int = 0
    near: int = 0

    def merge(self, step_out: dict[str, Any]) -> None:
        """Add one step's output (see :func:`build_chunk_histogram`)."""
        merge_histogram_step(self.histogram, step_out)
        self.nonfinite += int(step_out["nonfinite"])
        self.near += int(step_out["near"])


def _chunks_per_step(arch: Architecture, chunk_size: int) -> int:
    points = 2**arch.n
    widest = max([arch.n_params, points * max(getattr(arch, "hidden", ()) or (1,)), points * getattr(arch, "d", 1)])
    per_chunk = chunk_size * (arch.n_params + 2 * widest) * 4
    return int(max(1, min(64, _STEP_BYTES // max(per_chunk, 1))))


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
) -> tuple[int, str]:
    """Drive ``step`` over chunks ``start_chunk ..`` until ``n_samples`` samples are done.

    Sample ``i`` (``i < n_samples``) is sample ``i % C`` of chunk ``i // C``; the last
    chunk is truncated by passing ``n_valid < C``. Padding chunks in the final step
    have ``n_valid = 0``, so shapes (and the compiled step) never change.

    Args:
      step: ``step(key, chunk_indices, n_valid)``, int32 arrays of shape ``(chunks_per_step,)``.
      merge: called on each step's output (on the host) in chunk order.
      should_stop: called with the samples done after each step; a non-None return
        is the reason for stopping early.
      max_seconds: stop after the first step that ends past this wall time.

    Returns:
      ``(samples_done, stopped_by)``.
    """
    from tqdm.auto import tqdm

    n_chunks = -(-n_samples // chunk_size)
    # Never pad a short run up to a full step of empty chunks.
    chunks_per_step = max(1, min(chunks_per_step, n_chunks - start_chunk))
    done = min(n_samples, start_chunk * chunk_size)
    stopped_by = "samples"
    start = time.perf_counter()
    show = progress and sys.stderr.isatty()
    with tqdm(total=n_samples, initial=done, unit="net", unit_scale=True, delay=2.0, disable=not show, desc=description) as bar:
        for first in range(start_chunk, n_chunks, chunks_per_step):
            indices = np.arange(first, first + chunks_per_step, dtype=np.int64)
            n_valid = np.clip(n_samples - indices * chunk_size, 0, chunk_size)
            indices = np.where(indices < n_chunks, indices, 0)
            out = step(key, jnp.asarray(indices, dtype=jnp.int32), jnp.asarray(n_valid, dtype=jnp.int32))
            merge(out)
            step_samples = int(n_valid.sum())
            done += step_samples
            bar.update(step_samples)
            if done >= n_samples:
                break
            reason = should_stop(done) if should_stop else None
            if reason is None and max_seconds is not None and time.perf_counter() - start >= max_seconds:
                reason = "time"
            if reason is not None:
                stopped_by = reason
                break
    return done, stopped_by


def _device_info() -> tuple[str, int]:
    device = jax.devices()[0]
    return str(device.device_kind), 1


def _key(seed: int) -> PRNGKeyArray:
    seed = check_positive_int("seed", seed, allow_zero=True)
    if seed >= 2**32:
        raise CountnetsError(f"seed must be below 2**32, got {seed}")
    return jax.random.PRNGKey(seed)


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
        "prng": str(jax.config.jax_default_prng_impl),
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
        samples_per_s=samples / seconds if seconds > 0 else 0.0,
        device=device,
        device_count=count,
        versions=runtime_info(),
        extra=extra or {},
    )


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
      chunks_per_step: chunks per jitted step (any value gives identical counts).
      confidence: interval confidence level.
      method: ``"clopper-pearson"`` (default), ``"wilson"`` or ``"jeffreys"``.
      rel_halfwidth: stop once every target has hits and interval half-width / p at most this.
      max_seconds: stop after the first step past this wall time.
      precision: matmul precision, ``"highest"`` (default), ``"high"`` or ``"default"``.
      margin: outputs with ``|y| <= margin`` count as near the threshold.
      progress: show a progress bar (only on a terminal, after 2 s).

    Returns:
      A :class:`CountResult` with one estimate per target, in the order given.
    """
    n_samples, confidence = _check_common(n_samples, confidence, method)
    target_ints = _normalise_targets(targets, arch.n)
    config = _base_config(prior, arch, encoding, precision, margin, method)
    config["targets"] = [boolean.to_hex(t) for t in target_ints]
    if rel_halfwidth is not None:
        rel_halfwidth = check_finite_float("rel_halfwidth", rel_halfwidth, positive=True)
    if max_seconds is not None:
        max_seconds = check_finite_float("max_seconds", max_seconds, positive=True)
    source = sampling_source(prior, arch, chunk_size)
    step = build_chunk_counter(source, arch, target_ints, encoding=encoding, precision=precision, margin=margin)
    hits = [0] * len(target_ints)
    extra_counts = {"nonfinite": 0, "near": 0}

    def merge(out):
        for i, h in enumerate(np.asarray(out["hits"]).tolist()):
            hits[i] += h
        extra_counts["nonfinite"] += int(out["nonfinite"])
        extra_counts["near"] += int(out["near"])

    def should_stop(done: int) -> str | None:
        if rel_halfwidth is None:
            return None
        for h in hits:
            if h == 0:
                return None
            lo, hi = statistics.binomial_interval(h, done, confidence, method)
            if (hi - lo) / 2 > rel_halfwidth * (h / done):
                return None
        return "rel_halfwidth"

    cps = chunks_per_step or _chunks_per_step(arch, source.chunk_size)
    cps = check_positive_int("chunks_per_step", cps)
    start = time.perf_counter()
    done, stopped_by = run_chunks(
        step,
        merge,
        key=_key(seed),
        chunk_size=source.chunk_size,
        n_samples=n_samples,
        chunks_per_step=cps,
        should_stop=should_stop,
        max_seconds=max_seconds,
        progress=progress,
        description="estimate",
    )
    seconds = time.perf_counter() - start
    estimates = [
        make_estimate(boolean.to_hex(t), h, done, confidence=confidence, method=method) for t, h in zip(target_ints, hits)
    ]
    return _finish(
        "estimate", config, seed, source, done, stopped_by, None, estimates,
        extra_counts["nonfinite"], extra_counts["near"], seconds,
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
        make_estimate(boolean.to_hex(k), histogram.get(k, 0), total, confidence=confidence, method=method) for k in chosen
    ]


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
) -> CountResult:
    """Monte Carlo histogram of the functions implemented by prior samples.

    The histogram is computed on device per step (sort packed keys, count runs) and
    merged on the host. ``estimates`` holds the ``top`` most frequent functions and
    then any ``targets``; ``histogram`` holds every distinct function seen.
    Arguments are as in :func:`estimate_mc`.
    """
    n_samples, confidence = _check_common(n_samples, confidence, method)
    target_ints = _normalise_targets(targets, arch.n) if targets else []
    if top is not None:
        top = check_positive_int("top", top, allow_zero=True)
    if max_seconds is not None:
        max_seconds = check_finite_float("max_seconds", max_seconds, positive=True)
    config = _base_config(prior, arch, encoding, precision, margin, method)
    config["targets"] = [boolean.to_hex(t) for t in target_ints]
    source = sampling_source(prior, arch, chunk_size)
    step = build_chunk_histogram(source, arch, encoding=encoding, precision=precision, margin=margin)
    acc = HistogramAccumulator()

    cps = check_positive_int("chunks_per_step", chunks_per_step or _chunks_per_step(arch, source.chunk_size))
    start = time.perf_counter()
    done, stopped_by = run_chunks(
        step,
        acc.merge,
        key=_key(seed),
        chunk_size=source.chunk_size,
        n_samples=n_samples,
        chunks_per_step=cps,
        max_seconds=max_seconds,
        progress=progress,
        description="histogram",
    )
    seconds = time.perf_counter() - start
    estimates = histogram_estimates(acc.histogram, done, top=top, confidence=confidence, method=method, functions=target_ints)
    return _finish(
        "histogram", config, seed, source, done, stopped_by, acc.histogram, estimates, acc.nonfinite, acc.near, seconds,
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
) -> CountResult:
    """Exact prior masses under a lattice prior, by evaluating every parameter vector once.

    The prior mass of function f is ``#{configurations implementing f} / V**n_params``
    exactly. ``histogram`` holds every function with its configuration count;
    ``estimates`` the ``top`` most frequent and then ``targets`` (method ``"exact"``).

    Raises:
      CountnetsError: if the prior is not a lattice or there are more than
        ``max_configurations`` configurations (the message names the count).
    """
    target_ints = _normalise_targets(targets, arch.n) if targets else []
    if top is not None:
        top = check_positive_int("top", top, allow_zero=True)
    config = _base_config(prior, arch, encoding, precision, margin, "exact")
    config["targets"] = [boolean.to_hex(t) for t in target_ints]
    source = lattice_source(prior, arch, chunk_size, max_configurations)
    step = build_chunk_histogram(source, arch, encoding=encoding, precision=precision, margin=margin)
    acc = HistogramAccumulator()

    total = prior.n_configurations(arch.layout())
    cps = check_positive_int("chunks_per_step", chunks_per_step or _chunks_per_step(arch, source.chunk_size))
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
    )
    seconds = time.perf_counter() - start
    estimates = histogram_estimates(acc.histogram, total, top=top, method="exact", functions=target_ints)
    return _finish(
        "histogram", config, None, source, done, "exhausted", acc.histogram, estimates, acc.nonfinite, acc.near, seconds,
    )  # fmt: skip
