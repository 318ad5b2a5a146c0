"""Regenerate the one-hidden-layer realizability table behind ``min_depth``'s lower bound 2 (issue 15).

Run from the repository root::

    python scripts/one_layer_lp.py                 # the table, about a minute on one core
    python scripts/one_layer_lp.py --checks        # plus cross-checks of the enumeration (a few minutes)

For each composition target and unit count it runs
:func:`countnets.composition.one_layer_search` (one LP per configuration of active
sets and readout signs, up to symmetry) and checks the answer against
``ONE_LAYER_INSUFFICIENT`` / ``ONE_LAYER_SUFFICIENT``; it prints the counts quoted in
docs/composition.md ("A target that needs composition"). ``--checks`` adds: every
mask of the 4-cube is a threshold function (LP) iff it is among the 1882 enumerated
dichotomies; on n = 3 the symmetric and the plain enumeration agree for all 256
functions at 1 unit; the tables of random integer 2-unit networks on n = 3 are found
realizable with 2 units; and the n = 3 functions that 2 units do not realize are
checked with the plain (no-symmetry) enumeration too.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from countnets import composition as C


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", action="store_true", help="also cross-check the enumeration")
    args = parser.parse_args()
    start = time.perf_counter()
    table()
    if args.checks:
        checks()
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
