"""The prior conditioned on a training set, and tilted toward a policy B (DESIGN section 3b).

* :func:`conditional_prior`: ``P_prior(f | S)``: the histogram of functions over the
  prior samples (or lattice configurations) that fit S, which is
  :func:`countnets.engine.steps.build_step` with the measure ``table()`` where
  ``all_of(fits(S), finite())``.
* :func:`tilted_prior`: the prior restricted to S and tilted by
  ``exp(-lambda l_B(theta))`` (self-normalised importance weights).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float

from countnets._errors import CountnetsError, check_finite_float, check_positive_int
from countnets.engine.accumulators import HistogramAccumulator
from countnets.engine.driver import RunOutcome, plan_chunks_per_step, run_chunks, seed_key
from countnets.engine.sources import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_MAX_EXACT,
    ChunkSource,
    lattice_source,
    network_bytes,
    sampling_source,
    valid_mask,
)
from countnets.engine.steps import build_step, check_precision
from countnets.measures import table
from countnets.network import boolean
from countnets.network.architectures import DEFAULT_PRECISION, apply_flat_batch
from countnets.network.priors import Lattice
from countnets.stats import statistics
from countnets.train.trainer import TrainingSet, pointwise_loss

__all__ = ["ConditionalPrior", "conditional_prior", "TiltResult", "tilted_prior", "tilt_block_sums"]

# --------------------------------------------------------------------------- conditional prior


@dataclasses.dataclass(frozen=True)
class ConditionalPrior:
    """``P_prior(f | S)``: prior samples (or lattice configurations) that fit S.

    Attributes:
      histogram: function (int) -> number of samples fitting S that implement it.
      samples: prior samples (or configurations) looked at.
      fit: how many of them fit S (``sum(histogram.values())``).
      nonfinite: samples with a NaN or infinite output (never counted as fitting S).
      exact: True for a lattice enumeration (then counts are exact prior masses).
      chunk_size, seed: as in the core estimators (``seed`` is None when exact).
      seconds: wall time.
    """

    histogram: Counter
    samples: int
    fit: int
    nonfinite: int
    exact: bool
    chunk_size: int
    seed: int | None
    seconds: float

    def p(self, f: int) -> float:
        """Point estimate ``n_f / n_fit`` of ``P_prior(f | S)`` (exact for an enumeration)."""
        if self.fit == 0:
            raise CountnetsError("no prior sample fits S; P_prior(f | S) is undefined (raise --samples)")
        return self.histogram.get(int(f), 0) / self.fit

    def interval(self, f: int, confidence: float = 0.95) -> tuple[float, float]:
        """Clopper-Pearson interval for ``P_prior(f | S)`` (degenerate when exact).

        Conditional on ``n_fit``, ``n_f`` is binomial with success probability
        ``P_prior(f | S)``, so the interval is exact.
        """
        p = self.p(f)
        if self.exact:
            return p, p
        return statistics.clopper_pearson(self.histogram.get(int(f), 0), self.fit, confidence)

    def ranked(self) -> list[tuple[int, int]]:
        """``(function, count)`` by decreasing count (ties: smaller table first)."""
        return sorted(self.histogram.items(), key=lambda kv: (-kv[1], kv[0]))


def _prior_source(prior, arch, *, n_samples, exact, chunk_size, max_configurations) -> tuple[ChunkSource, int]:
    """The chunk source of one pass over the prior and its length: ``(source, total)``.

    ``total`` is the number of configurations (``exact``, a lattice prior) or
    ``n_samples``, which is then required.
    """
    if exact:
        if not isinstance(prior, Lattice):
            raise CountnetsError(f"exact conditional prior needs a Lattice prior, got {type(prior).__name__}")
        source = lattice_source(prior, arch, chunk_size, max_configurations)
        return source, prior.n_configurations(arch.layout())
    if n_samples is None:
        raise CountnetsError("n_samples is required when sampling (exact=False)")
    return sampling_source(prior, arch, chunk_size), check_positive_int("n_samples (sample count)", n_samples)


def _run_prior_pass(
    step, merge, arch, source, total, *, exact, seed, chunks_per_step, progress, description, devices
) -> RunOutcome:
    """Drive ``step``/``merge`` over every configuration (``exact``) or ``total`` prior samples.

    The key is ``PRNGKey(0)`` for an enumeration and the key of ``seed`` otherwise, so
    passes with the same arguments see the same samples.
    """
    if chunks_per_step is None:
        cps = plan_chunks_per_step(source.chunk_size, network_bytes(arch), devices)
    else:
        cps = check_positive_int("chunks_per_step", chunks_per_step)
    return run_chunks(
        step,
        merge,
        key=jax.random.PRNGKey(0) if exact else seed_key(seed),
        chunk_size=source.chunk_size,
        n_samples=total,
        chunks_per_step=cps,
        progress=progress,
        description=description,
        devices=devices,
    )


def conditional_prior(
    prior: Any,
    arch: Any,
    tset: TrainingSet,
    *,
    n_samples: int | None = None,
    seed: int = 0,
    exact: bool = False,
    encoding: str = "01",
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    chunks_per_step: int | None = None,
    max_configurations: int = DEFAULT_MAX_EXACT,
    precision: str = DEFAULT_PRECISION,
    progress: bool | float = False,
    devices: int | None = None,
) -> ConditionalPrior:
    """``P_prior(f | S) = P(f) / P(agrees with f* on S)`` by rejection sampling.

    Prior samples are drawn exactly as :func:`countnets.histogram_mc` draws them (same
    chunks, same seed); each one in the event of ``tset.measure()`` (agrees with ``f*``
    on every point of S, with finite outputs on the whole cube) is counted by function,
    on device: :func:`countnets.engine.steps.build_step` with ``table()`` and that ``where``.
    With ``exact=True`` (lattice priors) every configuration is enumerated once and the
    counts are exact.

    Raises:
      CountnetsError: for a non-lattice prior with ``exact``, or ``n_samples`` missing
        when sampling.
    """
    if tset.n != arch.n:
        raise CountnetsError(f"the training set has n={tset.n} but the architecture has n={arch.n}")
    source, total = _prior_source(
        prior, arch, n_samples=n_samples, exact=exact, chunk_size=chunk_size, max_configurations=max_configurations
    )
    step = build_step(
        source, arch, table(), reduce="histogram", where=tset.measure(), encoding=encoding, precision=precision
    )
    acc = HistogramAccumulator()
    outcome = _run_prior_pass(
        step, acc.merge, arch, source, total, exact=exact, seed=seed, chunks_per_step=chunks_per_step,
        progress=progress, description="prior | S", devices=devices,
    )  # fmt: skip
    return ConditionalPrior(
        histogram=acc.histogram,
        samples=outcome.samples,
        fit=sum(acc.histogram.values()),
        nonfinite=acc.nonfinite,
        exact=exact,
        chunk_size=source.chunk_size,
        seed=None if exact else seed,
        seconds=outcome.seconds,
    )


def _chunk_fitting(source, arch, tset, x, precision, key, chunk_indices, n_valid):
    """Outputs, packed tables, whether each kept network fits S (finite outputs), and kept non-finite ones."""
    theta = jax.vmap(source.params, in_axes=(None, 0))(key, chunk_indices).reshape(-1, arch.n_params)
    y = apply_flat_batch(arch, theta, x, precision=precision)
    keys = boolean.pack_table(boolean.truth_table(y))
    nonfinite = ~jnp.all(jnp.isfinite(y), axis=1)
    valid = valid_mask(source.chunk_size, n_valid).reshape(-1)
    fit = tset.fits_packed(keys) & valid & ~nonfinite
    return y, keys, fit, nonfinite & valid


# --------------------------------------------------------------------------- tilted prior


@dataclasses.dataclass(frozen=True)
class TiltResult:
    """The prior restricted to S and tilted by ``exp(-lambda l_B)``, per (pair, lambda).

    For prior samples ``theta_i`` fitting S (non-finite ones excluded) with weights
    ``w_i = exp(-lambda l_B(theta_i))``:
    ``P_tilt(A) = sum_{f_i = A} w_i / sum_i w_i`` (likewise B), and
    ``ESS = (sum w)^2 / sum w^2``. Sums are kept in float64 on the host relative to a
    running maximum log-weight, adding per-block float32 sums in chunk order (see
    :func:`tilted_prior`), so every field but ``seconds`` is the same for any
    ``chunks_per_step`` and device count, and at ``lambda = 0`` every weight is exactly
    1: ``sum_w = sum_w2 = fit`` and ``P_tilt(A)`` equals the untilted ``n_A / n_fit``
    exactly.

    Arrays have shape ``(pairs, lambdas)``. ``sum_w`` etc. are relative to
    ``exp(shift)`` (``sum_w2`` to ``exp(2 shift)``).
    """

    pairs: tuple[tuple[int, int], ...]
    lambdas: tuple[float, ...]
    shift: np.ndarray
    sum_w: np.ndarray
    sum_w_a: np.ndarray
    sum_w_b: np.ndarray
    sum_w2: np.ndarray
    sum_w2_a: np.ndarray
    sum_w2_b: np.ndarray
    fit: int
    samples: int
    exact: bool
    seconds: float

    def p_a(self) -> np.ndarray:
        """``P_tilt(A)``, shape ``(pairs, lambdas)``."""
        return self.sum_w_a / self.sum_w

    def p_b(self) -> np.ndarray:
        """``P_tilt(B)``, shape ``(pairs, lambdas)``."""
        return self.sum_w_b / self.sum_w

    def ess(self) -> np.ndarray:
        """Effective sample size ``(sum w)^2 / sum w^2``."""
        return self.sum_w**2 / self.sum_w2

    def _se(self, which: str) -> np.ndarray:
        # Delta-method standard error of a self-normalised estimate of E_tilt[h]:
        # sqrt(sum_i w_i^2 (h_i - h_hat)^2) / sum_i w_i.
        if which == "a":
            p = self.p_a()
            num = self.sum_w2_a * (1 - p) ** 2 + (self.sum_w2 - self.sum_w2_a) * p**2
        elif which == "b":
            p = self.p_b()
            num = self.sum_w2_b * (1 - p) ** 2 + (self.sum_w2 - self.sum_w2_b) * p**2
        else:
            d = self.p_b() - self.p_a()
            rest = self.sum_w2 - self.sum_w2_a - self.sum_w2_b
            num = self.sum_w2_b * (1 - d) ** 2 + self.sum_w2_a * (1 + d) ** 2 + rest * d**2
        return np.sqrt(np.maximum(num, 0.0)) / self.sum_w

    def interval(self, which: str, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        """Normal (delta-method) interval for ``"a"``, ``"b"`` or ``"diff"`` (= P(B) - P(A)).

        ``estimate -+ z se`` with ``z`` the ``1 - alpha/2`` normal quantile, clipped to
        [0, 1] (to [-1, 1] for the difference); degenerate for an exact enumeration.
        Approximate: it relies on the effective sample size being large.
        """
        from scipy import stats

        est = {"a": self.p_a, "b": self.p_b, "diff": lambda: self.p_b() - self.p_a()}[which]()
        if self.exact:
            return est, est
        z = float(stats.norm.ppf(1 - (1 - confidence) / 2))
        se = self._se(which)
        low = -1.0 if which == "diff" else 0.0
        return np.clip(est - z * se, low, 1.0), np.clip(est + z * se, low, 1.0)


# Per-block float32 sums returned by the tilted prior's device step, in this order.
_TILT_SUMS = ("s", "sa", "sb", "s2", "s2a", "s2b")
# Sums of at most 2**24 float32 ones are exact (every integer up to 2**24 is a float32).
_TILT_MAX_BLOCK = 2**24


def _fixed_order_sum(v: Array, axis: int) -> Array:
    """Sum over ``axis`` in a fixed order: zero-pad it to a power of two, then add halves.

    ``jnp.sum`` leaves the order of additions to the compiler, and XLA picks it from the
    whole array's shape, so in float32 the sum of one row can change with the number
    of rows. Here element ``i`` of each halving step is ``v[i] + v[i + h]``, the same
    float32 operations for every shape of the other axes.
    """
    axis = axis % v.ndim
    size = v.shape[axis]
    width = 1 << max(size - 1, 0).bit_length()
    if width > size:
        pad = [(0, 0)] * v.ndim
        pad[axis] = (0, width - size)
        v = jnp.pad(v, pad)
    while width > 1:
        width //= 2
        v = jax.lax.slice_in_dim(v, 0, width, axis=axis) + jax.lax.slice_in_dim(v, width, 2 * width, axis=axis)
    return jnp.squeeze(v, axis)


def _tilt_blocks(chunk_size: int) -> tuple[int, int]:
    """``(blocks per chunk, block size)``: a chunk cut into equal blocks of at most ``2**24`` samples.

    The last block of a chunk is padded when the blocks do not divide it. The cut
    depends on the chunk size only, never on how chunks are grouped into steps.

    >>> _tilt_blocks(4096), _tilt_blocks(2**25 + 1)
    ((1, 4096), (3, 11184811))
    """
    n_blocks = -(-chunk_size // _TILT_MAX_BLOCK)
    return n_blocks, -(-chunk_size // n_blocks)


def tilt_block_sums(
    logw: Float[Array, "samples pairs lambdas"],
    fit: Bool[Array, " samples"],
    is_a: Bool[Array, "samples pairs"],
    is_b: Bool[Array, "samples pairs"],
    chunks: int,
    n_blocks: int,
    block: int,
) -> dict[str, Array]:
    """Per-block log-weight maxima and weight sums of the tilted prior (float32, on device).

    The samples are ``chunks`` consecutive chunks, each cut into ``n_blocks`` blocks of
    ``block`` samples (see :func:`_tilt_blocks`). For block ``c`` and each (pair,
    lambda): ``top_c = max_{i in c, fits S} logw_i`` (``-inf`` if none) and, with
    ``w_i = exp(logw_i - top_c)`` for samples fitting S (0 otherwise), the float32 sums
    ``s = sum w``, ``sa = sum_{f_i = A} w``, ``sb``, ``s2 = sum w^2``, ``s2a``, ``s2b``;
    ``fit`` is the int32 count of samples fitting S. Every output has a leading axis of
    ``chunks * n_blocks`` blocks in chunk order, and each block's values are computed
    from that block alone, so they are the same whatever the number of chunks per step.
    """
    chunk = logw.shape[0] // chunks
    pad = n_blocks * block - chunk

    def blocked(v, fill):
        v = v.reshape(chunks, chunk, *v.shape[1:])
        if pad:
            v = jnp.pad(v, [(0, 0), (0, pad)] + [(0, 0)] * (v.ndim - 2), constant_values=fill)
        return v.reshape(chunks * n_blocks, block, *v.shape[2:])

    masked = blocked(jnp.where(fit[:, None, None], logw, -jnp.inf), -jnp.inf)  # (blocks, block, K, L)
    is_a = blocked(is_a, False)[..., None]  # (blocks, block, K, 1)
    is_b = blocked(is_b, False)[..., None]
    top = jnp.max(masked, axis=1)  # (blocks, K, L)
    top_safe = jnp.where(jnp.isfinite(top), top, jnp.zeros_like(top))
    w = jnp.exp(masked - top_safe[:, None])  # 0 where masked is -inf
    w2 = w * w
    zero = jnp.zeros_like(w)
    return {
        "top": top,
        "s": _fixed_order_sum(w, 1),
        "sa": _fixed_order_sum(jnp.where(is_a, w, zero), 1),
        "sb": _fixed_order_sum(jnp.where(is_b, w, zero), 1),
        "s2": _fixed_order_sum(w2, 1),
        "s2a": _fixed_order_sum(jnp.where(is_a, w2, zero), 1),
        "s2b": _fixed_order_sum(jnp.where(is_b, w2, zero), 1),
        "fit": jnp.sum(blocked(fit, False), axis=1, dtype=jnp.int32),
    }


def _check_tilt_pairs(tset: TrainingSet, pairs: Sequence[tuple[int, int]]) -> None:
    """Raise unless there is a pair and every pair has ``A != B``, both agreeing with the target on S."""
    if not pairs:
        raise CountnetsError("tilted_prior needs at least one (A, B) pair")
    for k, (a, b) in enumerate(pairs):
        if int(a) == int(b):
            raise CountnetsError(f"pair {k}: A and B must be different functions, got A = B = {boolean.to_hex(int(a))}")
        for name, f in (("A", a), ("B", b)):
            if not tset.fits(f):
                raise CountnetsError(f"policy {name}={boolean.to_hex(f)} does not agree with the target on S")


def _pair_arrays(tset: TrainingSet, pairs: Sequence[tuple[int, int]], off: np.ndarray) -> tuple[Array, Array, Array]:
    """Per pair, on device: B's labels off S ``(K, off)`` and the packed tables of A and B ``(K, words)``."""
    b_off = jnp.asarray(np.stack([boolean.int_to_table(b, tset.n)[off] for _, b in pairs]))  # (K, off)
    a_words = jnp.asarray(np.stack([boolean.int_to_words(a, tset.n) for a, _ in pairs]))  # (K, words)
    b_words = jnp.asarray(np.stack([boolean.int_to_words(b, tset.n) for _, b in pairs]))
    return b_off, a_words, b_words


def _finite(v: np.ndarray) -> np.ndarray:
    """``v`` with its non-finite entries set to 0."""
    return np.where(np.isfinite(v), v, 0.0)


class _TiltTotals:
    """The tilted prior's float64 host totals of the device's block sums, relative to a running maximum.

    ``acc`` holds the sums of :data:`_TILT_SUMS`, shape ``(6, pairs, lambdas)``, relative to
    ``exp(shift)`` (the ``s2`` sums to ``exp(2 shift)``); ``fit`` counts the samples fitting S.
    """

    def __init__(self, n_pairs: int, n_lambdas: int) -> None:
        self.acc = np.zeros((len(_TILT_SUMS), n_pairs, n_lambdas))
        self.shift = np.full((n_pairs, n_lambdas), -np.inf)
        self.fit = 0
        self.power = np.array([2.0 if name.startswith("s2") else 1.0 for name in _TILT_SUMS])[:, None, None]

    def merge(self, out: dict[str, Any]) -> None:
        """Add one step's blocks (:func:`tilt_block_sums`) to the totals."""
        acc, shift, power = self.acc, self.shift, self.power
        # One block at a time, in chunk order, so the float64 totals do not depend on how
        # many chunks a step (or a device) held.
        tops = np.asarray(out["top"], dtype=np.float64)  # (blocks, K, L)
        sums = np.stack([np.asarray(out[name], dtype=np.float64) for name in _TILT_SUMS], axis=1)  # (blocks, 6, K, L)
        for top, block_sums in zip(tops, sums, strict=True):
            if not np.isfinite(top).any():
                continue  # no sample of this block fits S (e.g. a padding chunk)
            if not np.all(top <= shift):  # a new running maximum: rescale the totals to it
                new = np.maximum(shift, top)
                acc[:] *= np.where(np.isfinite(shift), np.exp(shift - _finite(new)), 0.0) ** power
                shift[:] = new
            scale = np.where(np.isfinite(top), np.exp(top - _finite(shift)), 0.0)
            acc[:] += block_sums * scale**power
        self.fit += sum(int(v) for v in np.asarray(out["fit"]).tolist())


def tilted_prior(
    prior: Any,
    arch: Any,
    tset: TrainingSet,
    pairs: Sequence[tuple[int, int]],
    lambdas: Sequence[float],
    *,
    loss: str = "logistic",
    margin: float = 1.0,
    n_samples: int | None = None,
    seed: int = 0,
    exact: bool = False,
    encoding: str = "01",
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    chunks_per_step: int | None = None,
    max_configurations: int = DEFAULT_MAX_EXACT,
    precision: str = DEFAULT_PRECISION,
    progress: bool | float = False,
    devices: int | None = None,
) -> TiltResult:
    """Importance-weighted prior ``P_tilt(f | S) ∝ P(f | S) E[exp(-lambda l_B) | f, S]``.

    One pass over the same prior samples as :func:`conditional_prior` (same seed and
    chunks). ``l_B(theta) = mean_{j not in S} loss(y_j(theta), B_j)`` is the same loss
    toward B's labels off S as the training pressure (:func:`pressure_penalty`).

    **Sums.** Each chunk is cut into blocks of at most ``2**24`` samples (one block per
    chunk unless ``chunk_size > 2**24``). The device returns, per block, float32 weight
    sums relative to the block's largest log-weight; the host adds the blocks in float64,
    one at a time in chunk order, relative to a running maximum. The result (every
    field of :class:`TiltResult` but ``seconds``) is therefore identical for every
    ``chunks_per_step`` and device count (tested), and at ``lambda = 0`` every weight is
    exactly 1, so ``sum_w`` equals ``fit`` exactly.

    Args:
      pairs: ``(A, B)`` integer truth tables, each fitting S, with ``A != B``.
      lambdas: the tilt strengths, each >= 0.

    Raises:
      CountnetsError: for no pairs, a pair with ``A == B`` or a policy that does not
        agree with the target on S, no lambdas or a negative one, S covering the whole
        cube, or no prior sample fitting S.
    """
    _check_tilt_pairs(tset, pairs)
    lams = [check_finite_float("lambda", v, non_negative=True) for v in lambdas]
    if not lams:
        raise CountnetsError("at least one lambda is needed")
    source, total = _prior_source(
        prior, arch, n_samples=n_samples, exact=exact, chunk_size=chunk_size, max_configurations=max_configurations
    )
    precision, x = check_precision(precision), boolean.cube(arch.n, encoding)
    off = np.array(tset.off_points(), dtype=np.int32)
    if off.shape[0] == 0:
        raise CountnetsError("tilting toward B needs points off S, but S is the whole cube")
    b_off, a_words, b_words = _pair_arrays(tset, pairs, off)
    lam = jnp.asarray(np.array(lams, dtype=np.float32))  # (L,)
    off_j = jnp.asarray(off)
    n_blocks, block = _tilt_blocks(source.chunk_size)

    @jax.jit
    def step(key, chunk_indices, n_valid):
        y, keys, fit, _ = _chunk_fitting(source, arch, tset, x, precision, key, chunk_indices, n_valid)
        y_off = y[:, off_j]  # (M, off)
        shape = (y.shape[0], *b_off.shape)  # (M, K, off)
        per_point = pointwise_loss(
            loss, jnp.broadcast_to(y_off[:, None, :], shape), jnp.broadcast_to(b_off[None], shape), margin
        )
        # off_set_loss's mean, with its sum in a fixed order (see _fixed_order_sum).
        l_b = _fixed_order_sum(per_point, -1) / jnp.float32(off.shape[0])  # (M, K)
        # exp(-0 * l_B) is exactly 1, even where l_B overflowed to inf.
        logw = jnp.where(lam[None, None, :] == 0, 0.0, -lam[None, None, :] * l_b[:, :, None])  # (M, K, L)
        is_a = jnp.all(keys[:, None, :] == a_words[None], axis=-1)  # (M, K)
        is_b = jnp.all(keys[:, None, :] == b_words[None], axis=-1)
        return tilt_block_sums(logw, fit, is_a, is_b, chunk_indices.shape[0], n_blocks, block)

    totals = _TiltTotals(len(pairs), len(lams))
    outcome = _run_prior_pass(
        step, totals.merge, arch, source, total, exact=exact, seed=seed, chunks_per_step=chunks_per_step,
        progress=progress, description="tilted prior", devices=devices,
    )  # fmt: skip
    if totals.fit == 0:
        raise CountnetsError("no prior sample fits S, so the tilted prior is undefined; raise the sample count")
    acc = totals.acc
    return TiltResult(
        pairs=tuple((int(a), int(b)) for a, b in pairs),
        lambdas=tuple(lams),
        shift=totals.shift.copy(),
        sum_w=acc[0].copy(),
        sum_w_a=acc[1].copy(),
        sum_w_b=acc[2].copy(),
        sum_w2=acc[3].copy(),
        sum_w2_a=acc[4].copy(),
        sum_w2_b=acc[5].copy(),
        fit=totals.fit,
        samples=outcome.samples,
        exact=exact,
        seconds=outcome.seconds,
    )
