"""Priors over flat parameter vectors, sampled one chunk at a time.

A prior is a small frozen dataclass: hashable, so it is static under ``jit``.
``sample(key, chunk_index, chunk_size, layout)`` draws chunk ``chunk_index`` with
one RNG call from ``fold_in(key, chunk_index)``; a chunk's parameters therefore
depend only on (seed, chunk index, chunk size), never on batching, device count
or resumption.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int, PRNGKeyArray

from countnets._errors import CountnetsError, check_finite_float
from countnets.layout import ParamSpec, layout_size

__all__ = ["Prior", "Gaussian", "Uniform", "Lattice", "chunk_key", "prior_from_config", "PRNG_DESCRIPTION"]


def chunk_key(key: PRNGKeyArray, chunk_index: Int[Array, ""] | int) -> PRNGKeyArray:
    """The key of one chunk: ``jax.random.fold_in(key, chunk_index)``."""
    return jax.random.fold_in(key, jnp.asarray(chunk_index, dtype=jnp.uint32))


def _stream():
    # Chunks are drawn with threefry2x32 in its non-partitionable counter layout
    # (jax_threefry_partitionable=False), whatever the user's global setting, so the
    # stream (hence every count) does not change with JAX's configuration. At the
    # engine's chunk shapes it was also 1.2-1.6x faster on CPU (docs/performance.md).
    # Chunks are never split across devices, so partitionability buys nothing here.
    return jax.threefry_partitionable(False)


PRNG_DESCRIPTION = "threefry2x32, non-partitionable counters, fold_in(PRNGKey(seed), chunk_index)"


@dataclasses.dataclass(frozen=True)
class Gaussian:
    """Independent Gaussians with the NNGP scaling.

    A weight with fan-in ``m`` is ``N(0, sigma_w**2 / m)``; a bias is ``N(0, sigma_b**2)``.
    ``sigma_b = 0`` means every bias is exactly zero (no bias).

    Args:
      sigma_w: weight scale, > 0.
      sigma_b: bias scale, >= 0.
    """

    sigma_w: float = 1.0
    sigma_b: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "sigma_w", check_finite_float("sigma_w", self.sigma_w, positive=True))
        object.__setattr__(self, "sigma_b", check_finite_float("sigma_b", self.sigma_b, non_negative=True))

    def scales(self, layout: tuple[ParamSpec, ...]) -> np.ndarray:
        """Per-parameter standard deviations, float32 of shape ``(n_params,)``."""
        parts = []
        for spec in layout:
            std = self.sigma_w / math.sqrt(spec.fan_in) if spec.kind == "weight" else self.sigma_b
            parts.append(np.full(spec.size, std, dtype=np.float32))
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)

    def sample(
        self, key: PRNGKeyArray, chunk_index: Int[Array, ""] | int, chunk_size: int, layout: tuple[ParamSpec, ...]
    ) -> Float[Array, "chunk n_params"]:
        """Draw chunk ``chunk_index``: ``normal(fold_in(key, chunk_index), (chunk_size, n_params)) * scales``."""
        with _stream():
            z = jax.random.normal(chunk_key(key, chunk_index), (chunk_size, layout_size(layout)), dtype=jnp.float32)
        return z * jnp.asarray(self.scales(layout))[None, :]

    def config(self) -> dict:
        """Plain-dict description, stored in results."""
        return {"prior": "gaussian", "sigma_w": self.sigma_w, "sigma_b": self.sigma_b}


@dataclasses.dataclass(frozen=True)
class Uniform:
    """Every parameter independent and uniform on ``[-bound, bound]``.

    The prior mass of a set is then its Lebesgue volume divided by ``(2 bound)**n_params``.

    Args:
      bound: half-width of the box, > 0.
    """

    bound: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "bound", check_finite_float("bound", self.bound, positive=True))

    def sample(
        self, key: PRNGKeyArray, chunk_index: Int[Array, ""] | int, chunk_size: int, layout: tuple[ParamSpec, ...]
    ) -> Float[Array, "chunk n_params"]:
        """Draw chunk ``chunk_index``: ``uniform(fold_in(key, chunk_index), (chunk_size, n_params), -bound, bound)``."""
        with _stream():
            return jax.random.uniform(
                chunk_key(key, chunk_index),
                (chunk_size, layout_size(layout)),
                dtype=jnp.float32,
                minval=-self.bound,
                maxval=self.bound,
            )

    def config(self) -> dict:
        """Plain-dict description, stored in results."""
        return {"prior": "uniform", "bound": self.bound}


@dataclasses.dataclass(frozen=True)
class Lattice:
    """Every parameter independent and uniform on a finite set of values.

    Because the set is finite, the prior mass of any set of networks can be found
    exactly by enumerating all ``len(values)**n_params`` parameter vectors (see
    :func:`countnets.enumerate_exact`). Enumeration order: parameter 0 is the least
    significant digit, i.e. configuration ``i`` has parameter ``p`` equal to
    ``values[(i // V**p) % V]`` with ``V = len(values)``.

    Args:
      values: distinct finite numbers, e.g. ``(-1.0, 0.0, 1.0)``.
    """

    values: tuple[float, ...] = (-1.0, 0.0, 1.0)

    def __post_init__(self) -> None:
        try:
            raw = tuple(self.values)
        except TypeError:
            raise CountnetsError(f"lattice values must be a sequence of numbers, got {self.values!r}") from None
        values = tuple(check_finite_float("lattice value", v) for v in raw)
        if not values:
            raise CountnetsError("lattice values must not be empty")
        if len(set(values)) != len(values):
            raise CountnetsError(f"lattice values must be distinct, got {values}")
        object.__setattr__(self, "values", values)

    def sample(
        self, key: PRNGKeyArray, chunk_index: Int[Array, ""] | int, chunk_size: int, layout: tuple[ParamSpec, ...]
    ) -> Float[Array, "chunk n_params"]:
        """Draw chunk ``chunk_index``: independent uniform indices into ``values``."""
        with _stream():
            idx = jax.random.randint(
                chunk_key(key, chunk_index), (chunk_size, layout_size(layout)), 0, len(self.values), dtype=jnp.int32
            )
        return jnp.asarray(self.values, dtype=jnp.float32)[idx]

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
        n_params = layout_size(layout)
        base = len(self.values)
        chunk_size = base**low_digits
        local = jnp.arange(chunk_size, dtype=jnp.int32)
        low = [(local // base**p) % base for p in range(low_digits)]
        chunk_index = jnp.asarray(chunk_index, dtype=jnp.int32)
        high = [
            jnp.broadcast_to((chunk_index // base ** (p - low_digits)) % base, (chunk_size,))
            for p in range(low_digits, n_params)
        ]
        digits = jnp.stack(low + high, axis=1) if n_params else jnp.zeros((chunk_size, 0), jnp.int32)
        return jnp.asarray(self.values, dtype=jnp.float32)[digits]

    def config(self) -> dict:
        """Plain-dict description, stored in results."""
        return {"prior": "lattice", "values": list(self.values)}


Prior = Gaussian | Uniform | Lattice


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
