"""Priors over flat parameter vectors, sampled one chunk at a time.

A prior is a small frozen dataclass: hashable, so it is static under ``jit``.
``sample(key, chunk_index, chunk_size, layout)`` draws chunk ``chunk_index`` with
one RNG call from ``fold_in(key, chunk_index)``; a chunk's parameters therefore
depend only on (seed, chunk index, chunk size), never on batching, device count
or resumption. ``sample_paired_rows`` draws just some rows of a chunk, bit for bit
equal to the same rows of ``sample`` (see :mod:`countnets._threefry`), so the
engine can draw and evaluate a chunk in cache-sized blocks.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int, PRNGKeyArray, UInt32

from countnets import _threefry
from countnets._errors import CountnetsError, check_finite_float
from countnets.network.layout import ParamSpec, layout_size

__all__ = [
    "Prior", "BUILTIN_PRIORS", "Gaussian", "Uniform", "Lattice", "chunk_key", "prior_from_config", "PRNG_DESCRIPTION",
    "MAX_SCALE",
]  # fmt: skip

MAX_SCALE = 1e6
"""The largest prior scale accepted: Gaussian ``sigma_w`` and ``sigma_b``, Uniform ``bound``, ``|value|`` of a Lattice.

Why a cap: parameters are drawn and networks evaluated in float32, whose largest finite
value is about 3.4e38. A pre-activation after ``l`` layers grows like ``(scale * g)**l``,
with ``g`` the gain per layer from the width (about 1 under the Gaussian's ``1/sqrt(fan_in)``
scaling; growing with the fan-in for Uniform and Lattice weights, which are not scaled).
The cap is safe for networks of up to 5 weight layers (4 hidden layers) of widths up to
about 100: with every scale at 1e6, the largest output of 20000 draws is about 1e31
(Gaussian), 1e33 (Uniform) and 1e34 (Lattice), below 3.4e38 (``1e6**5 = 1e30`` times the
width gains). At 6 weight layers the largest outputs reach 1e37 to 1e38, the edge of
float32. Above the cap overflow comes fast: ``1e300`` is already infinite as a float32, so
every output would be NaN and every count meaningless (``P(0x0) = 1``). A network past the
safe depth may still overflow at large scales; its non-finite outputs are then counted in
a result's ``nonfinite``.
"""


def _check_scale(name: str, value: float) -> float:
    """``value`` if ``|value| <= MAX_SCALE``; else a :class:`CountnetsError` naming ``name`` (its option on the CLI)."""
    if abs(value) > MAX_SCALE:
        raise CountnetsError(
            f"{name} must be at most {MAX_SCALE:g} in absolute value (a larger scale overflows the float32 forward "
            f"pass; see countnets.network.priors.MAX_SCALE), got {value:g}"
        )
    return value


def chunk_key(key: PRNGKeyArray, chunk_index: Int[Array, ""] | int) -> PRNGKeyArray:
    """The key of one chunk: ``jax.random.fold_in(key, chunk_index)``."""
    return jax.random.fold_in(key, jnp.asarray(chunk_index, dtype=jnp.uint32))


def _stream():
    # fold_in and jax.random are pinned to threefry2x32 in its non-partitionable
    # counter layout (jax_threefry_partitionable=False), whatever the user's global
    # setting, so the stream (hence every count) does not change with JAX's
    # configuration. Chunks are never split across devices, so partitionability buys
    # nothing here; the layout is what makes paired-row blocks possible.
    return jax.threefry_partitionable(False)


def _chunk_key_words(key: PRNGKeyArray, chunk_index: Int[Array, ""] | int) -> UInt32[Array, " 2"]:
    """The two threefry key words of chunk ``chunk_index``, whatever JAX's default PRNG."""
    if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        if str(jax.random.key_impl(key)) != "threefry2x32":
            raise CountnetsError(f"countnets draws with threefry2x32 keys, got a {jax.random.key_impl(key)} key")
        key = jax.random.key_data(key)
    words = jnp.asarray(key)
    if words.shape != (2,) or words.dtype != jnp.uint32:
        raise CountnetsError(
            f"a raw key must be the two uint32 words of a threefry2x32 key, got {words.dtype}{words.shape}"
        )
    with _stream():
        folded = chunk_key(jax.random.wrap_key_data(words, impl="threefry2x32"), chunk_index)
    return jax.random.key_data(folded)


BitsDraw = Callable[[UInt32[Array, " 2"]], UInt32[Array, "rows n_params"]]


class _ChunkStream:
    """``sample`` and ``sample_paired_rows`` from the subclass's ``_from_bits``.

    ``_from_bits(draw, key_words, layout)`` turns raw threefry words into parameters;
    ``draw(words)`` gives the words of the rows being drawn under a key (the whole
    chunk, or a pair of row blocks), so every prior draws whole chunks and blocks of
    rows with one piece of code.
    """

    def _from_bits(self, draw: BitsDraw, key_words: UInt32[Array, " 2"], layout: tuple[ParamSpec, ...]) -> Array:
        raise NotImplementedError  # pragma: no cover - every prior defines it

    def sample(
        self, key: PRNGKeyArray, chunk_index: Int[Array, ""] | int, chunk_size: int, layout: tuple[ParamSpec, ...]
    ) -> Float[Array, "chunk n_params"]:
        """Draw chunk ``chunk_index``, shape ``(chunk_size, n_params)`` (the class docstring gives the draw).

        The engine's steps trace it under ``jit``, where XLA folds constants into the
        float transforms; called eagerly it can differ from that in the last bit, so
        wrap it in ``jax.jit`` to reproduce an engine's parameters exactly.

        Raises:
          CountnetsError: for a key that is not a threefry2x32 key.
        """
        n_params = layout_size(layout)
        return self._from_bits(
            lambda words: _threefry.bits(words, chunk_size, n_params), _chunk_key_words(key, chunk_index), layout
        )

    def sample_paired_rows(
        self,
        key: PRNGKeyArray,
        chunk_index: Int[Array, ""] | int,
        chunk_size: int,
        layout: tuple[ParamSpec, ...],
        first_row: Int[Array, ""] | int,
        rows: int,
    ) -> Float[Array, "two_rows n_params"]:
        """Rows ``first_row + i`` then ``chunk_size // 2 + first_row + i`` (``i < rows``) of :meth:`sample`.

        Shape ``(2 rows, n_params)``, bit for bit equal to those rows; needs an even ``chunk_size``.
        """
        n_params = layout_size(layout)

        def draw(words):
            return _threefry.paired_row_bits(words, chunk_size, n_params, first_row, rows).reshape(2 * rows, n_params)

        return self._from_bits(draw, _chunk_key_words(key, chunk_index), layout)


PRNG_DESCRIPTION = "threefry2x32, non-partitionable counters, fold_in(PRNGKey(seed), chunk_index)"


@dataclasses.dataclass(frozen=True)
class Gaussian(_ChunkStream):
    """Independent Gaussians with the NNGP scaling.

    A weight with fan-in ``m`` is ``N(0, sigma_w**2 / m)``; a bias is ``N(0, sigma_b**2)``.
    ``sigma_b = 0`` means every bias is exactly zero (no bias). Chunk ``i`` is
    ``jax.random.normal(fold_in(key, i), (chunk_size, n_params)) * scales`` (float32,
    threefry2x32, non-partitionable, as traced under ``jit``).

    Args:
      sigma_w: weight scale, > 0 and at most :data:`MAX_SCALE`.
      sigma_b: bias scale, >= 0 and at most :data:`MAX_SCALE`.

    Raises:
      CountnetsError: for a scale that is not a finite number in its range (the message names it).
    """

    sigma_w: float = 1.0
    sigma_b: float = 1.0

    def __post_init__(self) -> None:
        sigma_w = check_finite_float("sigma_w", self.sigma_w, positive=True)
        sigma_b = check_finite_float("sigma_b", self.sigma_b, non_negative=True)
        object.__setattr__(self, "sigma_w", _check_scale("sigma_w", sigma_w))
        object.__setattr__(self, "sigma_b", _check_scale("sigma_b", sigma_b))

    def scales(self, layout: tuple[ParamSpec, ...]) -> np.ndarray:
        """Per-parameter standard deviations, float32 of shape ``(n_params,)``."""
        parts = []
        for spec in layout:
            std = self.sigma_w / math.sqrt(spec.fan_in) if spec.kind == "weight" else self.sigma_b
            parts.append(np.full(spec.size, std, dtype=np.float32))
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)

    def _from_bits(self, draw: BitsDraw, key_words: UInt32[Array, " 2"], layout: tuple[ParamSpec, ...]) -> Array:
        return _threefry.normal(draw(key_words)) * jnp.asarray(self.scales(layout))[None, :]

    def config(self) -> dict:
        """Plain-dict description, stored in results."""
        return {"prior": "gaussian", "sigma_w": self.sigma_w, "sigma_b": self.sigma_b}


@dataclasses.dataclass(frozen=True)
class Uniform(_ChunkStream):
    """Every parameter independent and uniform on ``[-bound, bound]``.

    The prior mass of a set is then its Lebesgue volume divided by ``(2 bound)**n_params``.
    Chunk ``i`` is ``jax.random.uniform(fold_in(key, i), (chunk_size, n_params), minval=-bound,
    maxval=bound)`` (float32, threefry2x32, non-partitionable, as traced under ``jit``).

    Args:
      bound: half-width of the box, > 0 and at most :data:`MAX_SCALE`.

    Raises:
      CountnetsError: for a bound that is not a finite number in that range.
    """

    bound: float = 1.0

    def __post_init__(self) -> None:
        bound = check_finite_float("bound", self.bound, positive=True)
        object.__setattr__(self, "bound", _check_scale("bound", bound))

    def _from_bits(self, draw: BitsDraw, key_words: UInt32[Array, " 2"], layout: tuple[ParamSpec, ...]) -> Array:
        return _threefry.uniform(draw(key_words), -self.bound, self.bound)

    def config(self) -> dict:
        """Plain-dict description, stored in results."""
        return {"prior": "uniform", "bound": self.bound}


@dataclasses.dataclass(frozen=True)
class Lattice(_ChunkStream):
    """Every parameter independent and uniform on a finite set of values.

    Chunk ``i`` is ``values[jax.random.randint(fold_in(key, i), (chunk_size, n_params), 0,
    len(values))]`` (threefry2x32, non-partitionable).

    Because the set is finite, the prior mass of any set of networks can be found
    exactly by enumerating all ``len(values)**n_params`` parameter vectors (see
    :func:`countnets.enumerate_exact`). Enumeration order: parameter 0 is the least
    significant digit, i.e. configuration ``i`` has parameter ``p`` equal to
    ``values[(i // V**p) % V]`` with ``V = len(values)``.

    Args:
      values: distinct finite numbers of absolute value at most :data:`MAX_SCALE`, e.g. ``(-1.0, 0.0, 1.0)``.

    Raises:
      CountnetsError: for an empty or repeated set, or a value that is not such a number.
    """

    values: tuple[float, ...] = (-1.0, 0.0, 1.0)

    def __post_init__(self) -> None:
        try:
            raw = tuple(self.values)
        except TypeError:
            raise CountnetsError(f"lattice values must be a sequence of numbers, got {self.values!r}") from None
        values = tuple(_check_scale("lattice value", check_finite_float("lattice value", v)) for v in raw)
        if not values:
            raise CountnetsError("lattice values must not be empty")
        if len(set(values)) != len(values):
            raise CountnetsError(f"lattice values must be distinct, got {values}")
        object.__setattr__(self, "values", values)

    def _from_bits(self, draw: BitsDraw, key_words: UInt32[Array, " 2"], layout: tuple[ParamSpec, ...]) -> Array:
        # jax.random.randint: two words per value under the two halves of split(key),
        # reduced to [0, V) with the same uint32 arithmetic.
        # One vmapped draw for both keys: two separate unrolled hashes in one function
        # sent XLA:CPU's compiler into a minutes-long (unbounded) compile for some shapes.
        high, low = jax.vmap(draw)(_threefry.bits(key_words, 2, 2))
        span = np.uint32(len(self.values))
        multiplier = np.uint32(((2**16 % len(self.values)) ** 2 & 0xFFFFFFFF) % len(self.values))
        index = ((high % span) * multiplier + low % span) % span
        return jnp.asarray(self.values, dtype=jnp.float32)[index.astype(jnp.int32)]

    def n_configurations(self, layout: tuple[ParamSpec, ...]) -> int:
        """Number of distinct parameter vectors, ``len(values)**n_params`` (a Python int)."""
        return len(self.values) ** layout_size(layout)

    def enumerate_chunk(
        self, chunk_index: Int[Array, ""] | int, low_digits: int, layout: tuple[ParamSpec, ...]
    ) -> Float[Array, "chunk n_params"]:
        """Configurations ``chunk_index * V**low_digits`` .. ``+ V**low_digits - 1`` in enumeration order.

        The ``low_digits`` least significant parameters run over all values inside the
        chunk; the rest are the digits of ``chunk_index``.
        """
        return self.enumerate_rows(
            chunk_index, low_digits, layout, jnp.arange(len(self.values) ** low_digits, dtype=jnp.int32)
        )

    def enumerate_rows(
        self,
        chunk_index: Int[Array, ""] | int,
        low_digits: int,
        layout: tuple[ParamSpec, ...],
        local_rows: Int[Array, " rows"],
    ) -> Float[Array, "rows n_params"]:
        """Rows ``local_rows`` (each in ``0 .. V**low_digits - 1``) of :meth:`enumerate_chunk`."""
        n_params = layout_size(layout)
        base = len(self.values)
        local = jnp.asarray(local_rows, dtype=jnp.int32)
        rows = local.shape[0]
        low = [(local // base**p) % base for p in range(low_digits)]
        chunk_index = jnp.asarray(chunk_index, dtype=jnp.int32)
        high = [
            jnp.broadcast_to((chunk_index // base ** (p - low_digits)) % base, (rows,))
            for p in range(low_digits, n_params)
        ]
        digits = jnp.stack(low + high, axis=1) if n_params else jnp.zeros((rows, 0), jnp.int32)
        return jnp.asarray(self.values, dtype=jnp.float32)[digits]

    def config(self) -> dict:
        """Plain-dict description, stored in results."""
        return {"prior": "lattice", "values": list(self.values)}


@runtime_checkable
class Prior(Protocol):
    """What the engine needs of a prior: a law over flat parameter vectors, drawn a chunk at a time.

    :class:`Gaussian`, :class:`Uniform` and :class:`Lattice` are priors; so is any object with
    these methods (a user's prior needs no base class). Make it a frozen dataclass: the engine
    closes over it under ``jit``, and its :meth:`config` goes into every result and checkpoint
    fingerprint.

    * ``sample(key, chunk_index, chunk_size, layout)``: chunk ``chunk_index`` of the stream,
      ``Float[Array, "chunk_size n_params"]``, a pure function of ``(key, chunk_index,
      chunk_size)``; ``key`` is a threefry key and ``layout`` the architecture's
      :class:`~countnets.network.layout.ParamSpec` tuple (fan-ins give scalings). It is traced
      under ``jit``, so it must be traceable. Counts are reproducible on any batch size or
      device count exactly when chunk ``i`` depends on nothing else.
    * ``config()``: a JSON-able dict naming the prior and its parameters (key ``"prior"``).

    Optional methods, each used where present:

    * ``sample_paired_rows(key, chunk_index, chunk_size, layout, first_row, rows)``: rows
      ``first_row + i`` and ``chunk_size // 2 + first_row + i`` of ``sample``, bit for bit
      (lets the engine evaluate a chunk in cache-sized blocks; without it, whole chunks).
    * ``invariant_move(layout, name)``: a :class:`countnets.rare.moves.Move` reversible with
      respect to this prior, for ``name == "auto"`` or a move the prior knows; what
      :func:`countnets.estimate_rare` needs. Without it, splitting refuses the prior.
    """

    def sample(self, key: Any, chunk_index: Any, chunk_size: int, layout: tuple[ParamSpec, ...]) -> Any:
        """Chunk ``chunk_index``, shape ``(chunk_size, n_params)``."""
        ...  # pragma: no cover - a protocol

    def config(self) -> dict:
        """Plain-dict description, stored in results."""
        ...  # pragma: no cover - a protocol


BUILTIN_PRIORS = (Gaussian, Uniform, Lattice)
"""The priors countnets ships: exact enumeration, the symmetry tests and result loading know them by name."""


def prior_from_config(config: dict) -> Prior:
    """Rebuild a prior from its :meth:`config` dict (as stored in results)."""
    kind = config.get("prior")
    if kind == "gaussian":
        return Gaussian(config["sigma_w"], config["sigma_b"])
    if kind == "uniform":
        return Uniform(config["bound"])
    if kind == "lattice":
        return Lattice(tuple(config["values"]))
    raise CountnetsError(f"unknown prior {kind!r}; expected gaussian, uniform or lattice")
