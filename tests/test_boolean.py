"""Truth-table conventions (DESIGN section 2), checked bit by bit against plain Python."""

import jax.numpy as jnp
import numpy as np
import pytest

from countnets import CountnetsError
from countnets.network import boolean


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8])
def test_cube_bit_order_and_encodings(n):
    x01 = np.asarray(boolean.cube(n, "01"))
    xpm = np.asarray(boolean.cube(n, "pm1"))
    assert x01.shape == (2**n, n) and x01.dtype == np.float32
    for j in range(2**n):
        for i in range(n):
            bit = (j >> i) & 1
            assert x01[j, i] == bit
            assert xpm[j, i] == (1.0 if bit else -1.0)


def test_truth_table_is_strictly_positive():
    y = jnp.asarray([0.0, 1e-30, -0.0, -1.0, jnp.nan, jnp.inf], dtype=jnp.float32)
    assert np.asarray(boolean.truth_table(y)).tolist() == [False, True, False, False, False, True]


@pytest.mark.parametrize("n", [1, 3, 5, 6, 7, 8])
def test_pack_bit_positions(n):
    rng = np.random.default_rng(n)
    bits = rng.random((17, 2**n)) < 0.5
    words = np.asarray(boolean.pack_table(jnp.asarray(bits)))
    n_words = max(1, 2**n // 32)
    assert words.shape == (17, n_words) and words.dtype == np.uint32
    for r in range(17):
        expected = [0] * n_words
        for j in range(2**n):
            if bits[r, j]:
                expected[j // 32] |= 1 << (j % 32)
        assert words[r].tolist() == expected
        value = sum(1 << j for j in range(2**n) if bits[r, j])
        assert boolean.words_to_int(words[r]) == value == boolean.table_to_int(bits[r])
        assert boolean.int_to_words(value, n).tolist() == expected
        assert np.array_equal(boolean.int_to_table(value, n), bits[r])
    assert np.array_equal(np.asarray(boolean.unpack_table(jnp.asarray(words), n)), bits)


def test_hex_forms():
    assert boolean.to_hex(0) == "0x0"
    assert boolean.to_hex(boolean.named_function("one", 2)) == "0xf"
    assert boolean.to_hex(boolean.named_function("one", 3)) == "0xff"
    assert boolean.parse_function("0xF", 2) == 15
    assert boolean.parse_function("0x00", 2) == 0


def _table(n, pred):
    return sum(1 << j for j in range(2**n) if pred([(j >> i) & 1 for i in range(n)]))


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_named_functions(n):
    nf = boolean.named_function
    assert nf("zero", n) == 0
    assert nf("one", n) == 2 ** (2**n) - 1
    assert nf("and", n) == _table(n, all)
    assert nf("or", n) == _table(n, any)
    assert nf("parity", n) == nf("xor", n) == _table(n, lambda b: sum(b) % 2 == 1)
    assert nf("majority", n) == _table(n, lambda b: 2 * sum(b) > n)
    for i in range(n):
        assert nf(f"x{i}", n) == _table(n, lambda b, i=i: b[i] == 1)
    assert nf("not:and", n) == (2 ** (2**n) - 1) ^ nf("and", n)


def test_known_small_tables():
    assert boolean.named_function("and", 2) == 0x8
    assert boolean.named_function("or", 2) == 0xE
    assert boolean.named_function("xor", 2) == 0x6
    assert boolean.named_function("x0", 2) == 0xA
    assert boolean.named_function("x1", 2) == 0xC
    assert boolean.named_function("majority", 3) == 0xE8


@pytest.mark.parametrize(
    "spec, n, match",
    [
        ("0x1ff", 3, "out of range"),
        ("0x100", 3, "out of range"),
        ("0xg1", 3, "malformed"),
        ("0x", 3, "malformed"),
        ("banana", 3, "unknown function"),
        ("x3", 3, "below n=3"),
        ("and", 0, "must be in 1..12"),
        ("and", 13, "must be in 1..12"),
    ],
)
def test_parse_errors(spec, n, match):
    with pytest.raises(CountnetsError, match=match):
        boolean.parse_function(spec, n)


def test_bad_encoding():
    with pytest.raises(CountnetsError, match="encoding must be one of"):
        boolean.cube(2, "binary")
