"""One hidden layer of ReLUs: which truth tables it computes, decided exactly by LPs (issue 15).

A lower bound of :func:`countnets.measures.composition.min_depth`: a target that no
one-hidden-layer ReLU network of ``L*w`` units (with an affine skip) computes needs
effective depth 2. :func:`one_layer_search` decides that for ``n <= 4`` inputs by
enumerating the units' active sets over the threshold dichotomies of the cube
(:func:`threshold_dichotomies`) and solving one LP per configuration, using the cube's
symmetries to skip equivalent ones; :func:`one_layer_eval` evaluates a witness.
``countnets.measures.composition`` re-exports these names; ``scripts/one_layer_lp.py``
runs the full enumeration (``docs/composition.md``).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from countnets._errors import CountnetsError, check_positive_int

__all__ = [
    "threshold_dichotomies",
    "OneLayerSearch",
    "one_layer_search",
    "one_layer_realizable",
    "one_layer_eval",
]


def _cube_bits(n: int) -> np.ndarray:
    """The 0/1 cube points, row j has bit i of j in column i (DESIGN bit order), int64."""
    return (np.arange(2**n)[:, None] >> np.arange(n)[None, :]) & 1


def threshold_dichotomies(n: int, max_weight: int = 3) -> np.ndarray:
    """Every set ``D = {x in {0,1}^n : v.x + b > 0}`` with integer ``|v_i| <= max_weight``, as sorted bit masks.

    Bit j of a mask is cube point j. With half-integer thresholds between the extremes of
    ``v.x`` every cut of the integer values ``v.x`` is taken. At ``max_weight = 3`` the counts
    are 4, 14, 104, 1882 for n = 1..4 (tested), the number of threshold functions of n
    variables, constants included (OEIS A000609; Muroga), so every threshold dichotomy of
    the cube for n <= 4 is in the list (a larger ``max_weight`` adds none; tested).
    """
    n = check_positive_int("n", n)
    x = _cube_bits(n)
    v = np.array(list(itertools.product(range(-max_weight, max_weight + 1), repeat=n)))
    z = v @ x.T  # (weights, points), integers in [-n max_weight, n max_weight]
    pow2 = 1 << np.arange(2**n, dtype=np.int64)
    masks: set[int] = set()
    for t in np.arange(-n * max_weight - 1, n * max_weight + 1) + 0.5:
        masks.update(((z > t).astype(np.int64) @ pow2).tolist())
    return np.array(sorted(masks), dtype=np.int64)


def _cube_automorphisms(n: int) -> list[np.ndarray]:
    """The ``2**n n!`` maps ``x -> pi(x)`` (permute and negate coordinates) as point-index arrays ``p[j] = pi(x_j)``."""
    x = _cube_bits(n)
    out = []
    for perm in itertools.permutations(range(n)):
        for neg in itertools.product((0, 1), repeat=n):
            y = x[:, list(perm)] ^ np.array(neg)
            out.append(y @ (1 << np.arange(n)))
    return out


@dataclasses.dataclass
class OneLayerSearch:
    """Outcome of :func:`one_layer_search`.

    ``witness`` (when realizable): ``(a, c0, units)`` with ``units`` a list of ``(s, U, B)``;
    the network ``g(x) = a.x + c0 + sum s relu(U.x + B)`` has ``g >= 1`` on the target's
    ones and ``g <= -1`` on its zeros (up to the LP tolerance; :func:`one_layer_eval`).
    """

    realizable: bool
    n: int
    units: int
    dichotomies: int
    classes: int
    symmetries: int
    orbits: int
    lps: int
    seconds: float
    witness: tuple[np.ndarray, float, list[tuple[int, np.ndarray, float]]] | None


def one_layer_eval(witness: tuple[np.ndarray, float, list[tuple[int, np.ndarray, float]]], n: int) -> np.ndarray:
    """The real outputs ``g(x) = a.x + c0 + sum_i s_i relu(U_i.x + B_i)`` of a witness on the cube (float64)."""
    a, c0, units = witness
    x = _cube_bits(n).astype(float)
    g = x @ np.asarray(a, float) + float(c0)
    for s, u, b in units:
        g = g + s * np.maximum(x @ np.asarray(u, float) + float(b), 0.0)
    return g


def _one_layer_system(sign: np.ndarray, xa: np.ndarray, config: Sequence[tuple[np.ndarray, int]]) -> tuple:
    """The LP ``A x <= b`` (small integers) for fixed active sets and readout signs, x = (a, c0, U_i, B_i)."""
    points, m = xa.shape
    nv = m * (1 + len(config))
    out = np.zeros((points, nv))
    out[:, :m] = xa
    rows = []
    for i, (inside, s) in enumerate(config):
        cols = slice(m * (1 + i), m * (2 + i))
        out[:, cols] = s * inside[:, None] * xa
        unit = np.zeros((points, nv))
        unit[:, cols] = -np.where(inside, 1.0, -1.0)[:, None] * xa  # z >= 0 on D, z <= 0 off D
        rows.append(unit)
    return np.vstack([-sign[:, None] * out, *rows]), np.concatenate([-np.ones(points), np.zeros(points * len(rows))])


def _one_layer_lp(a_ub: np.ndarray, b_ub: np.ndarray) -> np.ndarray | None:
    """A solution of ``a_ub x <= b_ub`` by scipy's HiGHS, or None if it reports the LP infeasible."""
    from scipy.optimize import linprog

    nv = a_ub.shape[1]
    res = linprog(np.zeros(nv), A_ub=a_ub, b_ub=b_ub, bounds=[(None, None)] * nv, method="highs")
    if res.status == 2:
        return None
    if res.status != 0:
        raise CountnetsError(f"one-layer LP did not finish: {res.message}")
    return np.asarray(res.x)


def one_layer_search(
    table: Sequence[bool] | np.ndarray, n: int, units: int, symmetry: bool = True, check: Any = None
) -> OneLayerSearch:
    """Decide exactly whether ``units`` ReLUs in one hidden layer, with an affine skip, compute ``table``.

    The question: are there ``a, c0`` and ``(c_i, u_i, b_i)``, i < units, with
    ``g(x) = a.x + c0 + sum_i c_i relu(u_i.x + b_i) > 0`` exactly on the ones of ``table``
    (0/1 inputs, n <= 4)? This is the class of order-1 truncations ``y^(1)`` of ResMLPs with
    L*w = ``units`` (see :func:`countnets.measures.composition.min_depth`).

    **Reduction to LPs.** (i) Margins: the cube is finite, so if g > 0 on the ones and
    g <= 0 on the zeros, subtracting half the least value on the ones from ``c0`` and
    rescaling ``(a, c0, c)`` by a positive factor gives g >= 1 on the ones and g <= -1 on
    the zeros, with the same units; conversely margins imply the table. (ii) Signs: write
    ``c_i relu(z_i) = s_i relu(|c_i| z_i)``, ``s_i = +-1`` (``c_i = 0`` is ``z_i = 0``).
    (iii) Active sets: with ``D_i = {x : z_i(x) > 0}``, ``relu(z_i(x)) = [x in D_i] z_i(x)``;
    and *any* affine ``z`` with ``z >= 0`` on D and ``z <= 0`` off D has
    ``relu(z) = [x in D] z`` on the cube. So for fixed ``(D_i, s_i)`` the question is
    the feasibility of the linear constraints, in ``(a, c0, U_i, B_i)``,
    ``U_i.x + B_i >= 0`` on ``D_i``, ``<= 0`` off ``D_i``, and
    ``sigma(x) (a.x + c0 + sum_i s_i [x in D_i] (U_i.x + B_i)) >= 1`` with
    ``sigma = +1`` on the ones, ``-1`` on the zeros. Each ``D_i`` of a real network is a
    threshold dichotomy (:func:`threshold_dichotomies`), so the target is realizable iff
    one of these LPs is feasible (scipy's HiGHS). Fewer units are included (``D = {}``,
    ``z = 0``).

    **Symmetries** (``symmetry=True``), each mapping feasible configurations to feasible ones:
    (a) complement: ``relu(z) = z + relu(-z)``, and ``-z`` is ``>= 0`` on the complement
    of D and ``<= 0`` on D, so ``(D, s)`` and ``(D^c, s)`` give the same functions up to an
    affine term, absorbed into ``(a, c0)``; a class is ``{D, D^c}``. (b) An automorphism
    pi of the cube (permuting and negating coordinates, an affine bijection of R^n) with
    ``f o pi = f`` maps a solution g to ``g o pi``, with active sets ``pi^-1(D_i)`` and the
    same signs; with ``f o pi = not f``, ``-(g o pi)`` solves f (margins are symmetric),
    with the signs flipped. (c) The units can be reordered. So each configuration can be
    mapped to one whose first unit is the least member of its orbit under (a)+(b) and
    whose second unit's orbit is not below the first's (by (c)); only those are solved.
    ``symmetry=False`` solves every configuration (a check).

    Args:
      table: the target's truth table (``2**n`` bools, DESIGN bit order).
      n: inputs, 1..4.
      units: hidden units, 0..2.
      symmetry: use the reductions above.
      check: if given, called as ``check(A, b)`` on every LP ``A x <= b`` found infeasible
        (``scripts/one_layer_lp.py --certify`` verifies an exact Farkas certificate there).

    Returns:
      :class:`OneLayerSearch`: the answer, counts of dichotomies, classes, symmetries used,
      first-unit orbits and LPs solved, the wall time and a witness when realizable.

    >>> j = range(4); xor = [bool((i ^ i >> 1) & 1) for i in j]
    >>> one_layer_search(xor, 2, 1).realizable, one_layer_search(xor, 2, 0).realizable
    (True, False)
    """
    import time

    start = time.perf_counter()
    n = check_positive_int("n", n)
    if n > 4:
        raise CountnetsError(f"one_layer_search enumerates the threshold dichotomies of n <= 4 inputs, got n={n}")
    if units not in (0, 1, 2):
        raise CountnetsError(f"units must be 0, 1 or 2, got {units}")
    table = np.asarray(table, bool).reshape(-1)
    if table.size != 2**n:
        raise CountnetsError(f"table has {table.size} entries, expected 2**{n}")
    points, full = 2**n, (1 << 2**n) - 1
    xa = np.hstack([_cube_bits(n).astype(float), np.ones((points, 1))])
    sign = np.where(table, 1.0, -1.0)
    masks = threshold_dichotomies(n)
    # a class is {D, D^c}, keyed by the smaller mask (every D on its own without the symmetries)
    classes = np.unique(np.minimum(masks, full ^ masks)) if symmetry else masks
    autos = []
    for p in _cube_automorphisms(n) if symmetry else []:
        if (table[p] == table).all() or (table[p] != table).all():
            autos.append((p, 1 if (table[p] == table).all() else -1))
    # items: 2 * class + (s == +1); orbit[i] = least item of i's orbit under (a) + (b)
    n_items = 2 * classes.size
    orbit = np.arange(n_items)
    bits = (classes[:, None] >> np.arange(points)[None, :]) & 1
    pow2 = 1 << np.arange(points, dtype=np.int64)
    for p, eps in autos:
        moved = bits[:, p] @ pow2  # pi^-1(D) = {j : pi(x_j) in D}
        cls = np.searchsorted(classes, np.minimum(moved, full ^ moved))
        for sbit in (0, 1):
            image = 2 * cls + (sbit if eps == 1 else 1 - sbit)
            np.minimum.at(orbit, np.arange(sbit, n_items, 2), image)
    # orbits are closed under the group, so one pass of minima over all elements gives the least member
    reps = np.flatnonzero(orbit == np.arange(n_items))

    def config(items: Sequence[int]) -> list[tuple[np.ndarray, int]]:
        return [(bits[i // 2].astype(bool), 1 if i % 2 else -1) for i in items]

    if units == 0:
        todo: Any = iter([()])
    elif units == 1:
        todo = ((int(r),) for r in reps)
    elif symmetry:
        todo = ((int(r), int(i)) for r in reps for i in range(n_items) if orbit[i] >= r)
    else:
        todo = itertools.product(range(n_items), repeat=2)
    lps, witness = 0, None
    for items in todo:
        cfg = config(items)
        lps += 1
        system = _one_layer_system(sign, xa, cfg)
        sol = _one_layer_lp(*system)
        if sol is None and check is not None:
            check(*system)
        if sol is not None:
            m = n + 1
            witness = (sol[:n], float(sol[n]), [(s, sol[m * (1 + i) : m * (1 + i) + n], float(sol[m * (2 + i) - 1]))
                                                for i, (_, s) in enumerate(cfg)])  # fmt: skip
            break
    return OneLayerSearch(
        realizable=witness is not None, n=n, units=units, dichotomies=int(masks.size), classes=int(classes.size),
        symmetries=len(autos), orbits=int(reps.size), lps=lps, seconds=time.perf_counter() - start, witness=witness,
    )  # fmt: skip


def one_layer_realizable(table: Sequence[bool] | np.ndarray, n: int, units: int) -> bool:
    """Whether one hidden layer of ``units`` ReLUs plus an affine skip computes ``table`` (:func:`one_layer_search`)."""
    return one_layer_search(table, n, units).realizable
