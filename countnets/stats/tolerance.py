"""Comparing recomputed numbers with committed ones, by a documented tolerance (no JAX).

A committed result, summary or table is written on one machine and checked on another.
Integers and strings (counts, seeds, hex truth tables, labels) are promises and must be
equal. A float that is *recomputed* (a sum in another order, another BLAS code path, an
optimiser's iterate) may differ in its last bits from one CPU to the next, so it is
compared by a tolerance instead of bit for bit:

* **closed-form arithmetic** (sums, means, correlations, quantiles, intervals from special
  functions): ``|a - b| <= max(REL * max(|a|, |b|), ABS)`` with ``REL = 1e-9`` and the
  absolute floor ``ABS = 1e-15`` for values that are zero up to cancellation on an O(1)
  scale (a correlation, an intercept, a difference). A perturbation of a few ulps (about
  1e-16 relative) passes; one of 1e-6 relative fails. A quantity that is genuinely tiny
  (a probability of 1e-20) must be compared with ``abs_tol=0`` or on a log scale.
* **fitted values** (the iterate of an optimiser, e.g. a Tobit slope from
  ``scipy.optimize.minimize`` or a root from ``brentq(xtol=...)``): the optimiser's own
  convergence tolerance, passed per field name in ``fitted``.
* **text** with rounded numbers (docs tables, ``results/*.txt``): the words must be equal,
  and each number with a decimal point or an exponent may differ by at most one unit in
  its last printed digit, because a value that moves by 1e-9 relative can cross a
  rounding boundary. Whole numbers (counts, sample sizes) must be equal.
* **a recomputed value quoted in a page**: :func:`renderings` gives every string the
  value formats to within the closed-form tolerance; the page must hold one of them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["REL", "ABS", "floats_close", "mismatches", "text_mismatches", "renderings"]

REL = 1e-9
ABS = 1e-15

# A number token as the tables print it: not glued to a word ("x0", "0x80", "pm1" are words).
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?(?:[eE][-+]?\d+)?(?![\w])")


def floats_close(a: float, b: float, *, rel: float = REL, abs_tol: float = ABS) -> bool:
    """Whether two floats agree within ``max(rel * max(|a|, |b|), abs_tol)``.

    NaN equals NaN and an infinity equals only itself (both are stored outcomes, not noise).

    >>> floats_close(-0.7346365195040051, -0.7346365195040054)
    True
    >>> floats_close(1.0, 1.0 + 1e-6)
    False
    """
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= max(rel * max(abs(a), abs(b)), abs_tol)


def _is_float(x: Any) -> bool:
    return isinstance(x, float) and not isinstance(x, bool)


def mismatches(
    expected: Any,
    actual: Any,
    *,
    rel: float = REL,
    abs_tol: float = ABS,
    fitted: Mapping[str, float] | None = None,
    path: str = "",
) -> list[str]:
    """Every place where two JSON-like values differ beyond the tolerance rule.

    Dicts must have the same keys and lists the same length; ints, bools, strings and None
    must be equal; floats are compared with :func:`floats_close` (an int on one side and
    a float on the other compare as numbers). A field whose key is in ``fitted`` is the
    output of an optimiser: its floats use that relative tolerance (absolute floor
    ``abs_tol`` kept) in place of ``rel``, for the whole subtree under the key.

    Args:
      expected: the committed value (as read from JSON).
      actual: the recomputed value.
      rel, abs_tol: the closed-form tolerance (module defaults :data:`REL`, :data:`ABS`).
      fitted: field name -> relative tolerance of the optimiser that produced it.
      path: prefix of the reported locations.

    Returns:
      A list of one-line descriptions, ``"path: expected X, got Y"``; empty if the two agree.

    >>> mismatches({"n": 3, "r": [0.1, 0.2]}, {"n": 3, "r": [0.1, 0.2 + 1e-17]})
    []
    >>> mismatches({"slope": 1.0}, {"slope": 1.0 + 1e-7}, fitted={"slope": 1e-6})
    []
    >>> mismatches({"n": 3}, {"n": 4})
    ['n: expected 3, got 4']
    """
    fitted = fitted or {}
    where = path or "<root>"
    if isinstance(expected, Mapping) and isinstance(actual, Mapping):
        if set(expected) != set(actual):
            missing, extra = sorted(set(expected) - set(actual)), sorted(set(actual) - set(expected))
            return [f"{where}: keys differ (missing {missing}, unexpected {extra})"]
        out: list[str] = []
        for key in expected:
            sub_rel = fitted.get(key, rel)
            out += mismatches(expected[key], actual[key], rel=sub_rel, abs_tol=abs_tol, fitted=fitted,
                              path=f"{path}.{key}" if path else str(key))  # fmt: skip
        return out
    if isinstance(expected, list | tuple) and isinstance(actual, list | tuple):
        if len(expected) != len(actual):
            return [f"{where}: length {len(expected)} expected, got {len(actual)}"]
        out = []
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            out += mismatches(e, a, rel=rel, abs_tol=abs_tol, fitted=fitted, path=f"{path}[{i}]")
        return out
    numbers = (int, float)
    if (_is_float(expected) or _is_float(actual)) and isinstance(expected, numbers) and isinstance(actual, numbers):
        if isinstance(expected, bool) or isinstance(actual, bool):
            return [] if expected is actual else [f"{where}: expected {expected!r}, got {actual!r}"]
        if floats_close(float(expected), float(actual), rel=rel, abs_tol=abs_tol):
            return []
        return [f"{where}: expected {expected!r}, got {actual!r}"]
    if type(expected) is not type(actual) or expected != actual:
        return [f"{where}: expected {expected!r}, got {actual!r}"]
    return []


def renderings(value: float, spec: str, *, rel: float = REL) -> set[str]:
    """Every way ``format(x, spec)`` prints an ``x`` within ``rel`` of ``value``.

    Usually one string; two when ``value`` sits within ``rel`` of a rounding boundary.
    A page quoting a recomputed value must quote one of them.

    >>> sorted(renderings(0.125, ".2f", rel=1e-9))
    ['0.12', '0.13']
    >>> renderings(0.8337533369678295, ".3g")
    {'0.834'}
    """
    delta = rel * abs(value)
    return {format(v, spec) for v in (value - delta, value, value + delta)}


def _last_digit_unit(token: str) -> float:
    # One unit in the last printed digit: "0.335" -> 1e-3, "1.08e-07" -> 1e-9, "12,345" -> 1.
    mantissa, _, exponent = token.lower().replace(",", "").lstrip("+-").partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 10.0 ** (int(exponent or 0) - decimals)


def text_mismatches(expected: str, actual: str) -> list[str]:
    """Where two texts with rounded numbers differ beyond one unit in a number's last printed digit.

    The texts are split into number tokens and the words between them; the words must be
    equal (whitespace included), whole-number tokens equal, and the other number tokens
    pairwise within one unit of the coarser of their two last printed digits (``0.335``
    against ``0.336`` passes, against ``0.337`` fails). A different count of numbers is a
    mismatch.

    Returns:
      One-line descriptions with the line number in ``expected``; empty if the texts agree.

    >>> text_mismatches("ratio 0.335 [0.113, 0.557]", "ratio 0.336 [0.113, 0.557]")
    []
    >>> text_mismatches("ratio 0.335", "ratio 0.337")
    ['line 1: 0.335 expected, got 0.337']
    """
    words_e, words_a = _NUMBER.split(expected), _NUMBER.split(actual)
    nums_e, nums_a = _NUMBER.findall(expected), _NUMBER.findall(actual)
    if len(nums_e) != len(nums_a) or words_e != words_a:
        for i, (le, la) in enumerate(zip(expected.splitlines(), actual.splitlines(), strict=False), start=1):
            if _NUMBER.split(le) != _NUMBER.split(la):
                return [f"line {i}: text differs: {le.strip()!r} expected, got {la.strip()!r}"]
        return [f"texts differ in length: {len(expected.splitlines())} lines expected, got {len(actual.splitlines())}"]
    out = []
    offset = 0
    for token_e, token_a, word in zip(nums_e, nums_a, words_e, strict=False):
        offset += word.count("\n")
        if token_e == token_a:
            continue
        if not any(c in token for token in (token_e, token_a) for c in ".eE"):
            out.append(f"line {offset + 1}: {token_e} expected, got {token_a}")
            continue
        e, a = float(token_e.replace(",", "")), float(token_a.replace(",", ""))
        unit = max(_last_digit_unit(token_e), _last_digit_unit(token_a))
        if abs(e - a) > unit * (1 + 1e-9):
            out.append(f"line {offset + 1}: {token_e} expected, got {token_a}")
    return out
