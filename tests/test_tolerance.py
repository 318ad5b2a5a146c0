"""The tolerance rule for comparing recomputed numbers with committed ones (countnets.stats.tolerance)."""

import math

import pytest

from countnets.stats import tolerance


def test_a_few_ulps_pass_and_one_part_in_a_million_fails():
    for x in [0.8337533369678295, -0.7346365195040051, 3.4e-9, 3.0e8]:
        y = x
        for _ in range(8):
            y = math.nextafter(y, math.inf)
        assert tolerance.floats_close(x, y)
        assert not tolerance.floats_close(x, x * (1 + 1e-6))


def test_values_near_zero_use_the_absolute_floor():
    assert tolerance.floats_close(0.0, 1e-16) and not tolerance.floats_close(0.0, 1e-14)
    # A genuinely tiny quantity is compared without the floor.
    assert tolerance.floats_close(1e-20, 2e-20) and not tolerance.floats_close(1e-20, 2e-20, abs_tol=0.0)


def test_nan_and_infinities_are_outcomes_not_noise():
    assert tolerance.floats_close(math.nan, math.nan) and not tolerance.floats_close(math.nan, 0.0)
    assert tolerance.floats_close(math.inf, math.inf) and not tolerance.floats_close(math.inf, 1e308)


def test_integers_strings_and_structure_are_exact():
    assert tolerance.mismatches({"hits": 3}, {"hits": 3}) == []
    assert tolerance.mismatches({"hits": 3}, {"hits": 4}) == ["hits: expected 3, got 4"]
    assert tolerance.mismatches({"f": "0x80"}, {"f": "0x81"}) == ["f: expected '0x80', got '0x81'"]
    assert tolerance.mismatches([1.0, 2.0], [1.0]) == ["<root>: length 2 expected, got 1"]
    assert "keys differ" in tolerance.mismatches({"a": 1}, {"b": 1})[0]
    assert tolerance.mismatches({"ok": True}, {"ok": 1.0}) == ["ok: expected True, got 1.0"]
    assert tolerance.mismatches(None, 0.0) == ["<root>: expected None, got 0.0"]
    # An integral float written by one run and an int by another compare as numbers.
    assert tolerance.mismatches({"x": 2}, {"x": 2.0}) == []


def test_a_fitted_field_uses_its_optimisers_tolerance_for_its_whole_subtree():
    committed = {"slope": {"estimate": 0.022, "ci": [0.0126, 0.0313]}, "p": 4.2e-5}
    refit = {"slope": {"estimate": 0.022 * (1 + 1e-7), "ci": [0.0126, 0.0313 * (1 - 1e-7)]}, "p": 4.2e-5}
    assert len(tolerance.mismatches(committed, refit)) == 2
    assert tolerance.mismatches(committed, refit, fitted={"slope": 1e-6}) == []
    moved = {**refit, "p": 4.2e-5 * (1 + 1e-7)}
    assert [m.split(":")[0] for m in tolerance.mismatches(committed, moved, fitted={"slope": 1e-6})] == ["p"]


@pytest.mark.parametrize(
    "committed, regenerated, ok",
    [
        ("| 0.335 | [0.113, 0.557] |", "| 0.335 | [0.113, 0.557] |", True),
        ("| 0.335 | [0.113, 0.557] |", "| 0.336 | [0.112, 0.557] |", True),  # a rounding boundary crossed
        ("P = 1.08e-07, n = 1,000,000", "P = 1.09e-07, n = 1,000,000", True),
        ("P = 1.08e-07", "P = 1.10e-07", False),
        ("0.0999", "0.1", True),  # the coarser last digit decides
        ("n = 1,000,000", "n = 1,000,001", False),  # counts are exact
        ("1403 hits", "1404 hits", False),
        ("| 0.335 |", "| 0.337 |", False),
        ("ratio 0.335", "ratio  0.335", False),  # words (spacing included) are exact
        ("x0 and x1", "x1 and x1", False),  # "x0" is a word, not a number
        ("a 1 b", "a 1 b 2", False),
    ],
)
def test_text_numbers_within_one_unit_of_their_last_digit(committed, regenerated, ok):
    assert (tolerance.text_mismatches(committed, regenerated) == []) is ok


def test_text_mismatch_names_the_line():
    assert tolerance.text_mismatches("a\nb 0.5\n", "a\nb 0.7\n") == ["line 2: 0.5 expected, got 0.7"]


def test_renderings_of_a_value_near_a_rounding_boundary():
    assert tolerance.renderings(0.8337533369678295, ".3f") == {"0.834"}
    near = 0.3345 + 1e-14  # within 1e-9 of the boundary between 0.334 and 0.335
    assert tolerance.renderings(near, ".3f") == {"0.334", "0.335"}
    assert tolerance.renderings(0.3346, ".3f") == {"0.335"}
