"""Regenerate the one-hidden-layer realizability table behind ``min_depth``'s lower bound 2 (issue 15).

Run from the repository root::

    python scripts/one_layer_lp.py                 # the table, about a minute on one core
    python scripts/one_layer_lp.py --checks        # plus cross-checks of the enumeration (a few minutes)
    python scripts/one_layer_lp.py --certify       # plus an exact Farkas certificate for every infeasible LP

For each composition target and unit count it runs
:func:`countnets.measures.composition.one_layer_search` (one LP per configuration of active
sets and readout signs, up to symmetry) and checks the answer against
``ONE_LAYER_INSUFFICIENT`` / ``ONE_LAYER_SUFFICIENT``; it prints the counts quoted in
docs/composition.md ("A target that needs composition"). ``--checks`` adds: every
mask of the 4-cube is a threshold function (LP) iff it is among the 1882 enumerated
dichotomies; on n = 3 the symmetric and the plain enumeration agree for all 256
functions at 1 unit; the tables of random integer 2-unit networks on n = 3 are found
realizable with 2 units; and the n = 3 functions that 2 units do not realize are
checked with the plain (no-symmetry) enumeration too. ``--certify`` reruns the
infeasible searches and, for every LP ``A x <= b`` HiGHS calls infeasible, finds
``y >= 0`` with ``y A = 0``, ``y b = -1`` (a second LP), then recomputes ``y`` on its
support in exact rational arithmetic and checks it: then ``0 = y A x <= y b = -1``
for any solution x, so the LP is infeasible in exact arithmetic, not only by HiGHS's
floating-point tolerance.
"""

from __future__ import annotations

import argparse
import time
from fractions import Fraction

import numpy as np

from countnets.measures import composition as C


def table() -> None:
    for target in C.TARGETS:
        bad, good = C.ONE_LAYER_INSUFFICIENT[target], C.ONE_LAYER_SUFFICIENT[target]
        for units in range(0, min(bad + 1, 2) + 1):
            r = C.one_layer_search(C.target_table(target, 4), 4, units)
            print(f"{target} units={units}: realizable={r.realizable} dichotomies={r.dichotomies} "
                  f"classes={r.classes} symmetries={r.symmetries} first-unit orbits={r.orbits} LPs={r.lps} "
                  f"seconds={r.seconds:.1f}")  # fmt: skip
            assert r.realizable == (units >= good) and (r.realizable or units <= bad)
            if r.realizable:
                g = C.one_layer_eval(r.witness, 4)
                assert ((g > 0) == C.target_table(target, 4)).all()
                print(f"  witness: min |g| = {np.abs(g).min():.3f}")


def checks() -> None:
    t = time.perf_counter()
    listed = set(C.threshold_dichotomies(4).tolist())
    for m in range(2**16):
        bits = np.array([(m >> j) & 1 for j in range(16)], bool)
        assert (m in listed) == C.is_threshold_function(bits, 4), m
    print(f"4-cube: the 1882 dichotomies are exactly the LP-threshold masks of 65536 ({time.perf_counter() - t:.0f} s)")
    t = time.perf_counter()
    need3 = []
    for m in range(256):
        f = np.array([(m >> j) & 1 for j in range(8)], bool)
        one = C.one_layer_search(f, 3, 1)
        assert one.realizable == C.one_layer_search(f, 3, 1, symmetry=False).realizable, m
        if not C.one_layer_search(f, 3, 2).realizable:
            need3.append(m)
    print(f"n = 3: symmetric = plain at 1 unit for all 256 functions; not realizable with 2 units: {need3} "
          f"({time.perf_counter() - t:.0f} s)")  # fmt: skip
    for m in need3[:2]:
        f = np.array([(m >> j) & 1 for j in range(8)], bool)
        r = C.one_layer_search(f, 3, 2, symmetry=False)
        assert not r.realizable
        print(f"  plain enumeration agrees for table {m}: {r.lps} LPs")
    rng = np.random.default_rng(15)
    x = C._cube_bits(3)
    t = time.perf_counter()
    for _ in range(30):
        a, u1, u2 = (rng.integers(-2, 3, 3) for _ in range(3))
        b1, b2 = rng.integers(-2, 3, 2)
        g = x @ a + rng.integers(-2, 3) + 0.5 + rng.choice([-2, 2]) * np.maximum(x @ u1 + b1, 0)
        g = g + rng.choice([-2, 2]) * np.maximum(x @ u2 + b2, 0)
        assert C.one_layer_search(g > 0, 3, 2).realizable
    seconds = time.perf_counter() - t
    print(f"n = 3: 30 random integer 2-unit networks, all found realizable with 2 units ({seconds:.0f} s)")


def farkas(a: np.ndarray, b: np.ndarray) -> None:
    """Assert an exact rational certificate ``y >= 0, y a = 0, y b = -1`` that ``a x <= b`` has no solution."""
    from scipy.optimize import linprog

    ai, bi = a.round().astype(int), b.round().astype(int)
    assert (ai == a).all() and (bi == b).all()
    m, nv = a.shape
    res = linprog(np.zeros(m), A_eq=np.vstack([a.T, b[None, :]]), b_eq=np.r_[np.zeros(nv), -1.0],
                  bounds=[(0, None)] * m, method="highs-ds")  # fmt: skip
    assert res.status == 0, res.message
    support = np.flatnonzero(res.x > 1e-9)
    # Gauss-Jordan on [a_S^T; b_S] y_S = [0; -1] over the rationals; a vertex has independent columns
    rows = [[Fraction(int(v)) for v in r] + [Fraction(0)] for r in ai[support].T]
    rows.append([Fraction(int(v)) for v in bi[support]] + [Fraction(-1)])
    k, pivots, r = len(support), [], 0
    for c in range(k):
        p = next((i for i in range(r, len(rows)) if rows[i][c] != 0), None)
        if p is None:
            continue
        rows[r], rows[p] = rows[p], rows[r]
        rows[r] = [v / rows[r][c] for v in rows[r]]
        for i in range(len(rows)):
            if i != r and rows[i][c] != 0:
                f = rows[i][c]
                rows[i] = [v - f * w for v, w in zip(rows[i], rows[r], strict=True)]
        pivots.append(c)
        r += 1
    assert len(pivots) == k and all(row[-1] == 0 for row in rows[r:]), "support columns dependent or inconsistent"
    y = [Fraction(0)] * m
    for i, c in enumerate(pivots):
        y[support[c]] = rows[i][-1]
    assert all(v >= 0 for v in y)
    assert all(sum(y[i] * int(ai[i, j]) for i in range(m)) == 0 for j in range(nv))
    assert sum(y[i] * int(bi[i]) for i in range(m)) == -1


def certify() -> None:
    for target in C.TARGETS:
        for units in range(0, min(C.ONE_LAYER_INSUFFICIENT[target], 2) + 1):
            count = [0]

            def check(a: np.ndarray, b: np.ndarray) -> None:
                farkas(a, b)
                count[0] += 1

            r = C.one_layer_search(C.target_table(target, 4), 4, units, check=check)
            assert not r.realizable and count[0] == r.lps
            print(f"{target} units={units}: {count[0]} of {r.lps} LPs have an exact Farkas certificate "
                  f"({r.seconds:.0f} s)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", action="store_true", help="also cross-check the enumeration")
    parser.add_argument("--certify", action="store_true", help="exact Farkas certificates for the infeasible LPs")
    args = parser.parse_args()
    start = time.perf_counter()
    table()
    if args.certify:
        certify()
    if args.checks:
        checks()
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
