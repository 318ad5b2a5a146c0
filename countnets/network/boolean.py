"""The Boolean cube, truth tables and their packed, integer and hex forms.

Conventions (public API, see ``docs/definitions.md``):

* The cube on ``n`` inputs has ``2**n`` points. Point ``j`` has
  ``x_i = (j >> i) & 1`` for ``i = 0 .. n-1``. Encoding ``"01"`` feeds ``x_i``
  in {0, 1}; encoding ``"pm1"`` feeds ``2 x_i - 1`` in {-1, +1}.
* The function of a network is its truth table: bit ``j`` is 1 iff the output
  pre-activation at point ``j`` is strictly greater than 0.
* A truth table packs into ``ceil(2**n / 32)`` uint32 words: bit ``j`` in word
  ``j // 32`` at bit ``j % 32``. As an integer it is ``sum_j bit_j 2**j`` and
  its hex form is ``"0x"`` + lowercase hex of that integer (``"0x0"`` for the
  constant zero).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, UInt32

from countnets._errors import CountnetsError
from countnets.defaults import ENCODINGS, MAX_INPUTS  # noqa: F401 (re-exported)

__all__ = [
    "ENCODINGS",
    "MAX_INPUTS",
    "MAX_HISTOGRAM_INPUTS",
    "check_histogram_inputs",
    "cube",
    "cube_bits",
    "truth_table",
    "pack_table",
    "unpack_table",
    "words_per_table",
    "words_to_int",
    "int_to_words",
    "table_to_int",
    "int_to_table",
    "to_hex",
    "parse_function",
    "named_function",
    "FUNCTION_NAMES",
    "hamming",
]

MAX_HISTOGRAM_INPUTS = 8
"""Inputs a histogram of functions takes: its keys are whole truth tables, sorted on the device."""


def check_histogram_inputs(n: int, what: str = "a histogram of functions") -> int:
    """``n``, refused past :data:`MAX_HISTOGRAM_INPUTS` with a one-line error.

    >>> check_histogram_inputs(8)
    8
    """
    if n > MAX_HISTOGRAM_INPUTS:
        raise CountnetsError(
            f"{what} keeps whole truth tables as keys and takes n <= {MAX_HISTOGRAM_INPUTS}, got n={n}; "
            "estimate given targets instead (countnets estimate --targets ...)"
        )
    return n


def _check_n(n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise CountnetsError(f"n (number of inputs) must be an int, got {n!r}")
    if not 1 <= int(n) <= MAX_INPUTS:
        raise CountnetsError(f"n (number of inputs) must be in 1..{MAX_INPUTS}, got {n}")
    return int(n)


def _check_encoding(encoding: object) -> str:
    if encoding not in ENCODINGS:
        raise CountnetsError(f"encoding must be one of {ENCODINGS}, got {encoding!r}")
    return str(encoding)


def words_per_table(n: int) -> int:
    """Number of uint32 words in a packed truth table on ``n`` inputs: ``ceil(2**n / 32)``.

    >>> words_per_table(3), words_per_table(5), words_per_table(8)
    (1, 1, 8)
    """
    n = _check_n(n)
    return max(1, (2**n) // 32)


def cube_bits(n: int) -> np.ndarray:
    """The cube's points as bits: an int array of shape ``(2**n, n)``, row ``j`` = bits of ``j``.

    >>> cube_bits(2).tolist()
    [[0, 0], [1, 0], [0, 1], [1, 1]]
    """
    n = _check_n(n)
    j = np.arange(2**n)[:, None]
    return ((j >> np.arange(n)[None, :]) & 1).astype(np.int64)


def cube(n: int, encoding: str = "01") -> Float[Array, "points n"]:
    """The Boolean cube as network inputs, float32 of shape ``(2**n, n)``.

    Args:
      n: number of inputs, 1..8.
      encoding: ``"01"`` (x_i in {0, 1}) or ``"pm1"`` (2 x_i - 1 in {-1, +1}).

    Returns:
      Row ``j`` is point ``j``: ``x_i = (j >> i) & 1``, encoded.

    >>> cube(2, "pm1").tolist()
    [[-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0], [1.0, 1.0]]
    """
    bits = cube_bits(n)
    encoding = _check_encoding(encoding)
    values = bits if encoding == "01" else 2 * bits - 1
    return jnp.asarray(values, dtype=jnp.float32)


def truth_table(outputs: Float[Array, "*batch points"]) -> Bool[Array, "*batch points"]:
    """Truth table of output pre-activations: bit j is ``outputs[..., j] > 0`` (strict).

    NaN outputs give bit 0 (``NaN > 0`` is false); estimators count them separately.
    """
    return outputs > 0


def pack_table(bits: Bool[Array, "*batch points"]) -> UInt32[Array, "*batch words"]:
    """Pack truth tables into uint32 words: bit j in word ``j // 32`` at bit ``j % 32``.

    Args:
      bits: boolean tables whose last axis has ``2**n`` entries.

    Returns:
      uint32 array whose last axis has ``max(1, 2**n // 32)`` words; unused high bits
      (n < 5) are zero.
    """
    points = bits.shape[-1]
    n_words = max(1, points // 32)
    padded = n_words * 32
    if padded != points:
        pad = [(0, 0)] * (bits.ndim - 1) + [(0, padded - points)]
        bits = jnp.pad(bits, pad)
    grouped = bits.reshape(*bits.shape[:-1], n_words, 32).astype(jnp.uint32)
    shifts = jnp.arange(32, dtype=jnp.uint32).reshape((1,) * (grouped.ndim - 1) + (32,))
    return jnp.sum(grouped << shifts, axis=-1, dtype=jnp.uint32)


def unpack_table(words: UInt32[Array, "*batch words"], n: int) -> Bool[Array, "*batch points"]:
    """Inverse of :func:`pack_table` for tables on ``n`` inputs."""
    n = _check_n(n)
    words = jnp.asarray(words, dtype=jnp.uint32)
    shifts = jnp.arange(32, dtype=jnp.uint32).reshape((1,) * words.ndim + (32,))
    bits = (words[..., :, None] >> shifts) & jnp.uint32(1)
    return bits.reshape(*words.shape[:-1], -1)[..., : 2**n].astype(bool)


def words_to_int(words: np.ndarray) -> int:
    """Integer value ``sum_w words[w] << (32 w)`` of one packed table (host side)."""
    out = 0
    for w, value in enumerate(np.asarray(words, dtype=np.uint64).tolist()):
        out |= int(value) << (32 * w)
    return out


def int_to_words(value: int, n: int) -> np.ndarray:
    """Packed uint32 words (numpy) of the table whose integer value is ``value``."""
    n_words = words_per_table(n)
    return np.array([(value >> (32 * w)) & 0xFFFFFFFF for w in range(n_words)], dtype=np.uint32)


def table_to_int(bits: object) -> int:
    """Integer ``sum_j bit_j 2**j`` of one boolean truth table (host side).

    >>> table_to_int([False, True, True, True])  # OR on 2 inputs
    14
    """
    arr = np.asarray(bits, dtype=bool).reshape(-1)
    return sum(1 << j for j in np.flatnonzero(arr).tolist())


def int_to_table(value: int, n: int) -> np.ndarray:
    """Boolean numpy truth table of length ``2**n`` for the integer ``value``."""
    n = _check_n(n)
    return np.array([(value >> j) & 1 for j in range(2**n)], dtype=bool)


def to_hex(value: int) -> str:
    """Canonical hex form: ``"0x"`` + lowercase hex, ``"0x0"`` for zero.

    >>> to_hex(0), to_hex(15)
    ('0x0', '0xf')
    """
    return hex(int(value))


def _truth_function(n: int, predicate: Callable[[np.ndarray], np.ndarray]) -> int:
    bits = cube_bits(n)
    return table_to_int(predicate(bits))


def _named_functions() -> dict[str, Callable[[int], int]]:
    return {
        "zero": lambda n: 0,
        "one": lambda n: 2 ** (2**n) - 1,
        "and": lambda n: _truth_function(n, lambda b: b.all(axis=1)),
        "or": lambda n: _truth_function(n, lambda b: b.any(axis=1)),
        "parity": lambda n: _truth_function(n, lambda b: b.sum(axis=1) % 2 == 1),
        "xor": lambda n: _truth_function(n, lambda b: b.sum(axis=1) % 2 == 1),
        "majority": lambda n: _truth_function(n, lambda b: 2 * b.sum(axis=1) > n),
    }


FUNCTION_NAMES = ("zero", "one", "and", "or", "parity", "xor", "majority", "x0 .. x{n-1}", "not:NAME")


def named_function(name: str, n: int) -> int:
    """Integer truth table of a named function on ``n`` inputs.

    Names: ``zero``, ``one`` (constants); ``x0`` .. ``x{n-1}`` (dictators,
    bit j = ``(j >> i) & 1``); ``and``; ``or``; ``parity`` (alias ``xor``:
    odd number of ones); ``majority`` (strictly more than n/2 ones); and
    ``not:NAME`` for the complement of any of these.

    >>> named_function("and", 2), named_function("x1", 2), named_function("not:or", 2)
    (8, 12, 1)
    """
    n = _check_n(n)
    key = name.strip().lower()
    if key.startswith("not:"):
        return (2 ** (2**n) - 1) ^ named_function(key[4:], n)
    table = _named_functions()
    if key in table:
        return table[key](n)
    match = re.fullmatch(r"x(\d+)", key)
    if match:
        i = int(match.group(1))
        if i >= n:
            raise CountnetsError(f"dictator {name!r} needs an input index below n={n}")
        return _truth_function(n, lambda b: b[:, i] == 1)
    raise CountnetsError(
        f"unknown function name {name!r}; expected a hex table like 0x8 or one of {', '.join(FUNCTION_NAMES)}"
    )


_HEX = re.compile(r"0x[0-9a-fA-F]+")


def parse_function(spec: str, n: int) -> int:
    """Parse a function given as hex (``0x8``) or a name (see :func:`named_function`).

    Args:
      spec: ``"0x"`` followed by hex digits (any case), or a function name.
      n: number of inputs; the value must be below ``2**(2**n)``.

    Returns:
      The integer truth table.

    Raises:
      CountnetsError: for malformed hex, unknown names, or a value with bits at or
        beyond position ``2**n``.

    >>> parse_function("0xE", 2), parse_function("or", 2)
    (14, 14)
    """
    n = _check_n(n)
    if not isinstance(spec, str):
        raise CountnetsError(f"a function must be given as a hex string or a name, got {spec!r}")
    text = spec.strip()
    if text.lower().startswith("0x"):
        if not _HEX.fullmatch(text):
            raise CountnetsError(f"malformed hex truth table {spec!r}; expected 0x followed by hex digits")
        value = int(text, 16)
        if value >= 2 ** (2**n):
            raise CountnetsError(
                f"truth table {spec!r} is out of range for n={n}: it must be below 2**(2**{n}) = {hex(2 ** (2**n))}"
            )
        return value
    return named_function(text, n)


def hamming(a: int, b: int) -> int:
    """Number of cube points on which two integer truth tables differ."""
    return (int(a) ^ int(b)).bit_count()
