"""Independent references for the counting suite: closed forms, brute force and published values, in NumPy/SciPy.

Nothing here calls the engine (no JAX): every reference is derived apart from the code
it checks, so that an engine bug cannot move the reference with it.

* Threshold functions (OEIS A000609): the published counts, a brute-force enumeration
  over small integer weights, and an LP test of whether one truth table is a threshold
  function.
* Closed forms of the Gaussian perceptron on n = 1 (a bivariate orthant) and n = 2
  (spherical triangles and quadrilaterals, Girard's theorem), and the zero-bias law.
* AND of n inputs on a Gaussian perceptron (pm1): a one-dimensional bias integral
  inside a Monte Carlo average over the weights (Rao-Blackwellised), with its error.
* Lempel-Ziv complexity of a truth table as Valle-Perez et al. (2019) define it.
* The orbits of truth tables under input permutation, input negation and output negation.
* Small statistical helpers: the missing-mass bound and chi-square pooling.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from scipy import optimize, stats

from countnets._errors import CountnetsError

__all__ = [
    "A000609",
    "threshold_count",
    "threshold_functions_bruteforce",
    "is_threshold",
    "orthant_n1",
    "isotropic_n2_pm1",
    "zero_bias_ones_law",
    "perceptron_and_pm1",
    "lz76_words",
    "lz_complexity",
    "ones",
    "orbit",
    "orbits",
    "missing_mass_bound",
    "chi_square_pooled",
]

A000609 = {0: 2, 1: 4, 2: 14, 3: 104, 4: 1882, 5: 94572, 6: 15028134, 7: 8378070864}
"""Number of threshold functions of n inputs (OEIS A000609, https://oeis.org/A000609).

A threshold (linearly separable) function is ``f(x) = [w . x + b > 0]`` for some real w, b;
these are exactly the functions a perceptron with bias can implement.
"""


def threshold_count(n: int) -> int:
    """A000609(n): the number of threshold functions of ``n`` inputs (published, n <= 7).

    >>> threshold_count(3), threshold_count(4)
    (104, 1882)
    """
    if n not in A000609:
        raise CountnetsError(f"A000609 is tabulated here for n = 0..7, got n={n}")
    return A000609[n]


def _bits(n: int) -> np.ndarray:
    """Cube points as rows of 0/1 bits, point j's bit i = (j >> i) & 1 (DESIGN section 2)."""
    j = np.arange(2**n)
    return ((j[:, None] >> np.arange(n)[None, :]) & 1).astype(np.int64)


def _table_ints(bits: np.ndarray) -> np.ndarray:
    """Integer truth tables (sum_j bit_j 2**j) of rows of bits; needs 2**n <= 62 bits."""
    weights = (1 << np.arange(bits.shape[-1], dtype=np.int64)).astype(np.int64)
    return (bits.astype(np.int64) * weights).sum(axis=-1)


def threshold_functions_bruteforce(n: int, max_weight: int = 3) -> set[int]:
    """Every table ``[w . x > theta]`` with integer weights ``|w_i| <= max_weight`` (x in {0,1}^n).

    Thresholds run over the half-integers between the extreme sums, so every distinct
    function of those weights appears. For n <= 4, weights up to 3 suffice (the result
    has A000609(n) elements; the suite checks this), so the set is every threshold
    function; for larger n it is a subset.

    >>> len(threshold_functions_bruteforce(3))
    104
    """
    if not 1 <= n <= 4:
        raise CountnetsError(f"brute-force threshold enumeration is for n = 1..4, got n={n}")
    x = _bits(n)
    grid = np.array(list(itertools.product(range(-max_weight, max_weight + 1), repeat=n)), dtype=np.int64)
    sums = grid @ x.T  # (weights, points), integers
    thetas = np.arange(-max_weight * n - 1, max_weight * n + 1) + 0.5
    out: set[int] = set()
    for theta in thetas:
        out.update(_table_ints(sums > theta).tolist())
    return out


def is_threshold(table: int, n: int) -> bool:
    """Whether ``table`` (an int truth table on n inputs) is a threshold function, by linear programming.

    Feasibility of ``s_j (w . x_j + b) >= 1`` for every cube point j, ``s_j = +1`` where the
    table is 1 and ``-1`` where it is 0 (any strict separation rescales to margin 1). Solved
    by SciPy's HiGHS; independent of the integer enumeration above.

    >>> is_threshold(0x8, 2), is_threshold(0x6, 2)  # AND yes, XOR no
    (True, False)
    """
    x = _bits(n).astype(float)
    bits = np.array([(table >> j) & 1 for j in range(2**n)], dtype=float)
    s = 2 * bits - 1
    # -s_j (w . x_j + b) <= -1
    a_ub = -s[:, None] * np.hstack([x, np.ones((2**n, 1))])
    res = optimize.linprog(
        np.zeros(n + 1), A_ub=a_ub, b_ub=-np.ones(2**n), bounds=[(None, None)] * (n + 1), method="highs"
    )
    if res.status not in (0, 2):
        raise CountnetsError(f"linear program for table {table:#x} ended with status {res.status}: {res.message}")
    return res.status == 0


def orthant_n1(sigma_w: float, sigma_b: float) -> dict[int, float]:
    """P(f) for every f of a Gaussian perceptron on n = 1, encoding ``"01"`` (closed form).

    ``y(0) = b``, ``y(1) = w + b`` with ``w ~ N(0, sigma_w^2)`` (fan-in 1) and
    ``b ~ N(0, sigma_b^2)``: a centred bivariate normal with correlation
    ``rho = sigma_b / sqrt(sigma_w^2 + sigma_b^2)``. Sheppard's orthant formula gives
    ``P(y(0) > 0, y(1) > 0) = 1/4 + arcsin(rho) / (2 pi)``, so
    ``P(0x0) = P(0x3) = 1/4 + arcsin(rho)/(2 pi)`` and ``P(0x1) = P(0x2) = 1/4 - arcsin(rho)/(2 pi)``.

    >>> round(orthant_n1(1.0, 1.0)[0x2], 6)  # rho = 1/sqrt(2): 1/4 - 1/8
    0.125
    """
    rho = sigma_b / math.sqrt(sigma_w**2 + sigma_b**2)
    same = 0.25 + math.asin(rho) / (2 * math.pi)
    return {0x0: same, 0x1: 0.5 - same, 0x2: 0.5 - same, 0x3: same}


def isotropic_n2_pm1() -> dict[int, float]:
    """P(f) for every f of a perceptron on n = 2, encoding ``"pm1"``, when ``(w1, w2, b)`` is isotropic.

    With ``w_i ~ N(0, sigma_w^2 / 2)`` and ``b ~ N(0, sigma_b^2)``, ``sigma_w = sqrt(2) sigma_b``
    makes ``v = (w1, w2, b)`` an isotropic Gaussian, so ``P(f)`` is the solid angle of f's
    cone over ``4 pi``. The cone is cut by the four planes ``a_j . v = 0``,
    ``a_j = (x_j, 1)`` with x_j in {-1, 1}^2; by Girard's theorem a spherical polygon with
    interior angles ``A_i`` has area ``sum A_i - (k - 2) pi``, and the interior angle between
    faces with inward normals ``u, u'`` is ``pi - angle(u, u')``. With ``c = arccos(1/3)``:

    * AND-type functions (one point on its own side; 8 of them) are triangles whose
      normals meet pairwise at ``arccos(-1/3) = pi - c``: area ``3c - pi``;
    * the constants are quadrilaterals with neighbouring normals at ``c``: area
      ``2 pi - 4c``; the four literals (x0, x1 and their negations) are the images of the
      constants under the rotation that swaps b with w1 (it maps {(x, 1)} to
      {+-(1, x2, x1)}), so they have the same area;
    * XOR and XNOR are not threshold functions: probability 0.

    The 14 masses sum to 1: ``6 (2 pi - 4c) + 8 (3c - pi) = 4 pi``.

    >>> p = isotropic_n2_pm1(); round(p[0x8], 6), round(p[0x0], 6), round(sum(p.values()), 12)
    (0.04387, 0.108173, 1.0)
    """
    c = math.acos(1.0 / 3.0)
    corner = (3 * c - math.pi) / (4 * math.pi)
    square = (2 * math.pi - 4 * c) / (4 * math.pi)
    out = {}
    for f in range(16):
        t = bin(f).count("1")
        if f in (0x6, 0x9):
            out[f] = 0.0
        elif t in (1, 3):
            out[f] = corner
        else:  # constants (t = 0, 4) and literals (t = 2, not XOR/XNOR)
            out[f] = square
    return out


def zero_bias_ones_law(n: int) -> np.ndarray:
    """P(t ones) under a zero-bias perceptron on {0,1}^n with i.i.d. symmetric continuous weights.

    Mingard et al. (2019), "Neural networks are a priori biased towards Boolean functions
    with low entropy" (arXiv:1909.11522): ``P(t) = 2^-n`` for ``t = 0 .. 2^n - 1`` and
    ``P(2^n) = 0`` (the origin's output is 0, never > 0). For n = 2 by hand: with
    ``w1, w2`` i.i.d. symmetric, ``t = 3`` iff both are positive (1/4), ``t = 0`` iff both
    are negative (1/4), and for mixed signs (1/2) the point (1, 1) is on the side of the
    larger ``|w_i|`` (1/2 each by exchangeability), giving ``t = 1`` and ``t = 2`` 1/4 each.

    >>> zero_bias_ones_law(2).tolist()
    [0.25, 0.25, 0.25, 0.25, 0.0]
    """
    out = np.full(2**n + 1, 2.0**-n)
    out[-1] = 0.0
    return out


def perceptron_and_pm1(
    n: int, sigma_w: float = 1.0, sigma_b: float = 1.0, *, samples: int = 1 << 22, seed: int = 0
) -> tuple[float, float]:
    """P(AND of n) for a Gaussian perceptron on the pm1 cube, and its standard error.

    The perceptron ``y = w . x + b`` (``w_i ~ N(0, sigma_w^2 / n)``, ``b ~ N(0, sigma_b^2)``)
    computes AND (1 only at ``x = (1, ..., 1)``) iff every ``w_i > 0`` and
    ``-S < b < 2 m - S``, with ``S = sum w_i`` and ``m = min w_i``: a negative ``w_j`` makes
    the point with bit ``j`` flipped score ``y(1) - 2 w_j >= y(1) > 0``, and with all weights
    positive the largest output off ``(1, ..., 1)`` flips the smallest weight. So

        P = 2^-n E[ Phi((2 m - S) / sigma_b) - Phi(-S / sigma_b) ],   w_i i.i.d. half-normal,

    averaged here over ``samples`` draws of the weights (NumPy, ``seed``); the bias is
    integrated exactly, which is why the average has little spread.

    Returns:
      ``(p, standard_error)``, both probabilities.

    >>> p, se = perceptron_and_pm1(1, samples=1 << 16)   # n = 1: P(w > 0, -w < b < w) = 1/4
    >>> bool(abs(p - 0.25) < 4 * se)
    True
    """
    if not isinstance(n, int) or n < 1:
        raise CountnetsError(f"n must be a positive int, got {n!r}")
    if not (sigma_w > 0 and sigma_b > 0):
        raise CountnetsError(f"sigma_w and sigma_b must be positive, got {sigma_w} and {sigma_b}")
    rng = np.random.default_rng(seed)
    total, total_sq, done, block = 0.0, 0.0, 0, 1 << 18
    while done < samples:
        k = min(block, samples - done)
        w = np.abs(rng.standard_normal((k, n))) * (sigma_w / math.sqrt(n))
        s, m = w.sum(axis=1), w.min(axis=1)
        # Phi(hi) - Phi(lo) for lo < hi < 0 mostly: as a difference of upper tails, without cancellation.
        g = stats.norm.sf(s / sigma_b - 2 * m / sigma_b) - stats.norm.sf(s / sigma_b)
        total, total_sq, done = total + g.sum(), total_sq + (g * g).sum(), done + k
    mean = total / samples
    var = max(total_sq / samples - mean * mean, 0.0) / max(samples - 1, 1)
    return mean * 2.0**-n, math.sqrt(var) * 2.0**-n


def lz76_words(bits: Sequence[int]) -> int:
    """Number of words of the Lempel-Ziv (1976) parsing of a binary sequence (Kaspar and Schuster, 1987).

    >>> lz76_words([0, 0, 0, 0]), lz76_words([0, 1, 0, 1, 0, 1]), lz76_words([0, 0, 0, 1, 1, 0, 1, 0])
    (2, 3, 4)
    """
    s = list(bits)
    n = len(s)
    if n <= 1:
        return n
    c, ell, i, k, k_max = 1, 1, 0, 1, 1
    while True:
        if s[i + k - 1] == s[ell + k - 1]:
            k += 1
            if ell + k > n:
                c += 1
                break
        else:
            k_max = max(k_max, k)
            i += 1
            if i == ell:
                c += 1
                ell += k_max
                if ell + 1 > n:
                    break
                i, k, k_max = 0, 1, 1
            else:
                k = 1
    return c


def lz_complexity(table: int, n: int) -> float:
    """Valle-Perez et al. (2019)'s LZ complexity of a truth table read as the string bit 0 .. bit 2^n - 1.

    ``K(x) = log2(N)`` for a constant string of length ``N = 2^n``, else
    ``log2(N) (N_w(x_1..x_N) + N_w(x_N..x_1)) / 2`` with ``N_w`` the LZ76 word count
    (:func:`lz76_words`): the forward and reversed parsings are averaged.

    >>> lz_complexity(0x0, 3), lz_complexity(0xff, 3)
    (3.0, 3.0)
    """
    length = 2**n
    bits = [(table >> j) & 1 for j in range(length)]
    if all(b == bits[0] for b in bits):
        return math.log2(length)
    return math.log2(length) * (lz76_words(bits) + lz76_words(bits[::-1])) / 2


def ones(table: int) -> int:
    """Number of ones of a truth table (its popcount)."""
    return bin(int(table)).count("1")


def _point_maps(n: int) -> np.ndarray:
    """Index maps of the hyperoctahedral group on the cube: row g gives the point j maps to under g.

    Element (pi, m) sends point j (bits x) to the point with bits ``x_{pi(i)} xor m_i``: a
    permutation of the inputs then negation of those in mask m (a sign flip under ``pm1``).
    """
    x = _bits(n)
    maps = []
    for perm in itertools.permutations(range(n)):
        permuted = x[:, list(perm)]
        for mask in range(2**n):
            flipped = permuted ^ ((mask >> np.arange(n)) & 1)[None, :]
            maps.append((flipped * (1 << np.arange(n))[None, :]).sum(axis=1))
    return np.array(maps, dtype=np.int64)


def orbit(table: int, n: int, *, output_negation: bool = True) -> frozenset[int]:
    """Every table ``g(j) = f(sigma(j))`` (and its complement) over the input permutations and negations.

    >>> sorted(orbit(0x8, 2))  # AND: the four one-point functions and the four three-point ones
    [1, 2, 4, 7, 8, 11, 13, 14]
    """
    bits = np.array([(table >> j) & 1 for j in range(2**n)], dtype=np.int64)
    images = {int(v) for v in _table_ints_any(bits[_point_maps(n)])}
    if output_negation:
        full = (1 << 2**n) - 1
        images |= {full ^ v for v in images}
    return frozenset(images)


def _table_ints_any(bits: np.ndarray) -> list[int]:
    """Python-int tables of rows of bits (any width)."""
    return [sum(int(b) << j for j, b in enumerate(row)) for row in bits]


def orbits(tables: Iterable[int], n: int, *, output_negation: bool = True) -> list[frozenset[int]]:
    """The distinct orbits (:func:`orbit`) containing the given tables."""
    seen: dict[int, frozenset[int]] = {}
    out = []
    for t in tables:
        if t in seen:
            continue
        o = orbit(t, n, output_negation=output_negation)
        for member in o:
            seen[member] = o
        out.append(o)
    return out


def missing_mass_bound(singletons: int, n: int, delta: float) -> float:
    """Upper bound on the prior mass of the functions never seen in n samples, at confidence ``1 - delta``.

    Good-Turing estimate ``f1 / n`` plus the deviation bound of McAllester and Schapire
    (2000, COLT, Theorem 3 as sharpened by Berend and Kontorovich 2013):
    ``M <= f1/n + (2 sqrt(2) + sqrt(3)) sqrt(ln(3/delta) / n)``. Loose, but distribution-free.
    """
    if n <= 0:
        return 1.0
    return min(1.0, singletons / n + (2 * math.sqrt(2) + math.sqrt(3)) * math.sqrt(math.log(3 / delta) / n))


def chi_square_pooled(
    observed: Mapping[int, int], expected_p: Mapping[int, float], n: int, *, min_expected: float = 5.0
) -> dict[str, float | int]:
    """Pearson chi-square goodness of fit of counts to probabilities, small cells pooled.

    Cells with expected count ``n p >= min_expected`` stand alone; the others are pooled into
    one cell (kept when its expected count reaches ``min_expected``, else merged into the
    smallest standing cell). A count in a cell of probability 0 is an impossible outcome:
    the p-value is 0.

    Returns:
      ``statistic``, ``dof``, ``p_value``, ``cells`` and ``impossible`` (count seen where p = 0).
    """
    impossible = sum(c for f, c in observed.items() if expected_p.get(f, 0.0) == 0.0)
    keys = set(observed) | {f for f, p in expected_p.items() if p > 0}
    big = sorted(f for f in keys if expected_p.get(f, 0.0) * n >= min_expected)
    small = [f for f in keys if f not in big and expected_p.get(f, 0.0) > 0]
    obs = [float(observed.get(f, 0)) for f in big]
    exp = [expected_p[f] * n for f in big]
    if small:
        so = float(sum(observed.get(f, 0) for f in small))
        se = float(sum(expected_p[f] for f in small)) * n
        if se >= min_expected or not big:
            obs.append(so)
            exp.append(se)
        else:
            i = int(np.argmin(exp))
            obs[i] += so
            exp[i] += se
    o, e = np.array(obs), np.array(exp)
    statistic = float(((o - e) ** 2 / e).sum()) if len(e) else 0.0
    dof = max(len(e) - 1, 1)
    p_value = 0.0 if impossible else float(stats.chi2.sf(statistic, dof))
    return {"statistic": statistic, "dof": dof, "p_value": p_value, "cells": len(e), "impossible": int(impossible)}
