"""Targets built from gates, their planted ResMLPs, minimal effective depth and the placement null.

Issue 15 / DESIGN section 3c. A *form* of a target is a small circuit of *gates*; a
gate is a group of ReLU units that fits in one ResMLP block. Every unit reads an
affine combination of *refs*: the inputs ``x0 .. x3`` (the targets here depend on
those four inputs only, whatever ``n``) and the stream coordinates of earlier gates.
A gate writes ``sum_j out_j relu(unit_j)`` into its own stream coordinate; the
readout is an affine combination of refs. A form is therefore a set of weights
written by hand (:func:`planted_network`), and its stated effective depth ``kstar``
is checked with the library's own k* code (:func:`planted_depth`).

Stream layout of a planted network (``d >= 4 + len(gates)``): coordinate i < 4 holds
input bit ``x_i`` in {0, 1} (``E = I``, ``e = 0`` for encoding ``"01"``;
``E = I / 2``, ``e = 1/2`` for ``"pm1"``), coordinate ``4 + k`` holds gate k's output;
``G`` is divided by the branch scale alpha so that alpha does not change the function.
Unused blocks and coordinates are zero (a zero block adds exactly zero).

The *placement null* (:func:`placement_count`): the number of ways to put a form's
gates into L blocks of width w, each gate in a block strictly after the blocks of the
gates it reads, with the widths of the gates sharing a block summing to at most w.
Gates are labelled (they read different inputs). ``placement_count`` is a dynamic
programme over blocks; :func:`placement_count_bruteforce` checks it.

Minimal depth (:func:`min_depth`): the least k* any ResMLP(n, d, L, w) implementing
the target can have. The upper bound is the least stated k* of the forms that fit;
the lower bound is 1 for a target that is not a linear threshold function (``y^(0)``
is affine in x), and 2 when moreover no one-hidden-layer ReLU network of L*w units
computes it (``y^(1)`` is one): :func:`one_layer_search` decides that exactly by
enumerating the units' active sets and solving one LP per configuration; parity4 needs
3 units, so it needs composition at L*w <= 2 (``docs/composition.md``).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from countnets._errors import CountnetsError, check_positive_int
from countnets.defaults import COMPOSITION_TARGETS as TARGETS  # noqa: F401 (re-exported)
from countnets.measures.one_layer import (  # noqa: F401 (re-exported)
    OneLayerSearch,
    _cube_bits,
    _one_layer_lp,
    _one_layer_system,
    one_layer_eval,
    one_layer_realizable,
    one_layer_search,
    threshold_dichotomies,
)
from countnets.network.architectures import ResMLP

__all__ = [
    "INPUTS",
    "Unit",
    "Gate",
    "Form",
    "TARGETS",
    "FORMS",
    "PAIRS",
    "target_table",
    "forms_of",
    "form",
    "stream_width",
    "fits",
    "default_placement",
    "valid_placement",
    "planted_params",
    "planted_network",
    "planted_depth",
    "placement_count",
    "placement_count_bruteforce",
    "placement_null_ratio",
    "is_threshold_function",
    "threshold_dichotomies",
    "OneLayerSearch",
    "one_layer_search",
    "one_layer_realizable",
    "one_layer_eval",
    "ONE_LAYER_INSUFFICIENT",
    "ONE_LAYER_SUFFICIENT",
    "min_depth",
]

INPUTS = 4  # the targets read x0 .. x3


@dataclasses.dataclass(frozen=True)
class Unit:
    """One ReLU unit: ``relu(sum_r coefs[r] * r + bias)`` over refs ``r`` (``"x0"``.. or gate names)."""

    coefs: tuple[tuple[str, float], ...]
    bias: float


@dataclasses.dataclass(frozen=True)
class Gate:
    """A group of units in one block, writing ``sum_j out[j] * unit_j`` into its own stream coordinate."""

    name: str
    units: tuple[Unit, ...]
    out: tuple[float, ...]

    @property
    def width(self) -> int:
        """Number of ReLU units (block width it needs)."""
        return len(self.units)

    def reads(self) -> frozenset[str]:
        """Refs the gate's units read."""
        return frozenset(r for u in self.units for r, _ in u.coefs)


@dataclasses.dataclass(frozen=True)
class Form:
    """A circuit computing ``target``: gates in a valid (topological) order and an affine readout.

    ``kstar`` is the stated effective depth of its planted networks (checked by the
    tests with :func:`planted_depth`); :data:`PAIRS` says which forms are compared.
    """

    target: str
    name: str
    gates: tuple[Gate, ...]
    readout: tuple[tuple[str, float], ...]
    constant: float
    kstar: int
    note: str

    def deps(self) -> tuple[frozenset[int], ...]:
        """For each gate, the indices of the gates it reads."""
        index = {g.name: i for i, g in enumerate(self.gates)}
        return tuple(frozenset(index[r] for r in g.reads() if r in index) for g in self.gates)

    @property
    def units(self) -> int:
        """Total ReLU units (the parameter cost of the form)."""
        return sum(g.width for g in self.gates)


def _u(bias: float, **coefs: float) -> Unit:
    return Unit(tuple(coefs.items()), float(bias))


def _xor2(name: str, a: str, b: str) -> Gate:
    # a XOR b = relu(a + b) - 2 relu(a + b - 1) on bits.
    return Gate(name, (_u(0, **{a: 1, b: 1}), _u(-1, **{a: 1, b: 1})), (1.0, -2.0))


def _andxor2(name: str, t: str, a: str, b: str) -> Gate:
    # t AND (a XOR b) = relu(a - b + t - 1) + relu(b - a + t - 1) on bits.
    return Gate(name, (_u(-1, **{a: 1, b: -1, t: 1}), _u(-1, **{a: -1, b: 1, t: 1})), (1.0, 1.0))


def _relu1(name: str, bias: float, **coefs: float) -> Gate:
    return Gate(name, (_u(bias, **coefs),), (1.0,))


# One-unit XOR with the skip path: a XOR b = a + b - 2 relu(a + b - 1), the linear part read from the stream.
_X01 = {"x0": 1.0, "x1": 1.0}
_X23 = {"x2": 1.0, "x3": 1.0}
_P4 = ("x0", "x1", "x2", "x3")


def _forms() -> tuple[Form, ...]:
    p4, xa = "parity4", "xor-and-xor"
    # w = 1 parity: g1 = relu(x0+x1-1) so X01 = x0+x1-2 g1, etc.
    chain1 = (
        _relu1("g1", -1, x0=1, x1=1),
        _relu1("g2", -1, x0=1, x1=1, g1=-2, x2=1),  # X012 = X01 + x2 - 2 g2
        _relu1("g3", -1, x0=1, x1=1, g1=-2, x2=1, g2=-2, x3=1),
    )
    tree1 = (
        _relu1("g1", -1, x0=1, x1=1),
        _relu1("g2", -1, x2=1, x3=1),
        _relu1("g3", -1, x0=1, x1=1, g1=-2, x2=1, x3=1, g2=-2),  # X01 + X23 - 1
    )
    parity_sum = (("x0", 1.0), ("x1", 1.0), ("x2", 1.0), ("x3", 1.0))
    return (
        Form(p4, "tree", (_xor2("g1", "x0", "x1"), _xor2("g2", "x2", "x3"), _xor2("g3", "g1", "g2")),
             (("g3", 1.0),), -0.5, 2, "two parallel 2-unit XORs, then one combining them"),
        Form(p4, "chain", (_xor2("g1", "x0", "x1"), _xor2("g2", "g1", "x2"), _xor2("g3", "g2", "x3")),
             (("g3", 1.0),), -0.5, 3, "three 2-unit XORs in sequence"),
        Form(p4, "tree-w1", tree1, (*parity_sum, ("g1", -2.0), ("g2", -2.0), ("g3", -2.0)), -0.5, 2,
             "one-unit XORs using the skip path: X01, X23 in parallel, then X01 XOR X23"),
        Form(p4, "chain-w1", chain1, (*parity_sum, ("g1", -2.0), ("g2", -2.0), ("g3", -2.0)), -0.5, 3,
             "one-unit XORs using the skip path, in sequence"),
        Form(p4, "shallow", (_relu1("g1", -1, **dict(parity_sum)), _relu1("g2", -2, **dict(parity_sum)),
                             _relu1("g3", -3, **dict(parity_sum))),
             (*parity_sum, ("g1", -2.0), ("g2", 2.0), ("g3", -2.0)), -0.5, 1,
             "one hidden layer: s - 2 relu(s-1) + 2 relu(s-2) - 2 relu(s-3), s = x0+..+x3"),
        Form(p4, "serial-2", (_relu1("g1", -2, **dict(parity_sum)), _relu1("g2", 1, g1=3, **{r: -1.0 for r in _P4})),
             (*((r, -2.0) for r in _P4), ("g1", 8.0), ("g2", -4.0)), 3.0, 2,
             "two units in sequence (s = x0+..+x3): g1 = relu(s-2), g2 = relu(1-s+3 g1), -2s + 8 g1 - 4 g2 + 3; "
             "no one-hidden-layer net of 2 units computes parity4 (one_layer_search), so k* >= 2"),
        Form(xa, "parallel", (_xor2("g1", "x0", "x1"), _xor2("g2", "x2", "x3")),
             (("g1", 1.0), ("g2", 1.0)), -1.5, 1, "two parallel 2-unit XORs, AND by the linear readout"),
        Form(xa, "serial", (_xor2("g1", "x0", "x1"), _andxor2("g2", "g1", "x2", "x3")),
             (("g2", 1.0),), -0.5, 2, "2-unit XOR, then a 2-unit gate computing g1 AND (x2 XOR x3)"),
        Form(xa, "parallel-w1", (_relu1("g1", -1, **_X01), _relu1("g2", -1, **_X23)),
             (*_X01.items(), *_X23.items(), ("g1", -2.0), ("g2", -2.0)), -1.5, 1,
             "two one-unit XORs using the skip path, AND by the readout"),
    )  # fmt: skip


FORMS: tuple[Form, ...] = _forms()
# Parallel/serial pairs of equal unit cost: (target, parallel form, serial form).
PAIRS = (
    ("parity4", "tree", "chain"),
    ("parity4", "tree-w1", "chain-w1"),
    ("xor-and-xor", "parallel", "serial"),
)


def target_table(target: str, n: int) -> np.ndarray:
    """Truth table (bool, ``2**n``, DESIGN bit order) of ``target`` on inputs ``x0 .. x3`` of n >= 4.

    >>> int(target_table("parity4", 4).sum())
    8
    """
    n = check_positive_int("n", n)
    if n < INPUTS:
        raise CountnetsError(f"composition targets need n >= {INPUTS}, got n={n}")
    j = np.arange(2**n)
    x = [(j >> i) & 1 for i in range(INPUTS)]
    if target == "parity4":
        return ((x[0] ^ x[1] ^ x[2] ^ x[3]) & 1).astype(bool)
    if target == "xor-and-xor":
        return ((x[0] ^ x[1]) & (x[2] ^ x[3])).astype(bool)
    raise CountnetsError(f"unknown composition target {target!r}; expected one of {', '.join(TARGETS)}")


def forms_of(target: str) -> tuple[Form, ...]:
    """The forms of ``target``."""
    out = tuple(f for f in FORMS if f.target == target)
    if not out:
        raise CountnetsError(f"unknown composition target {target!r}; expected one of {', '.join(TARGETS)}")
    return out


def form(target: str, name: str) -> Form:
    """The form ``name`` of ``target``."""
    for f in forms_of(target):
        if f.name == name:
            return f
    raise CountnetsError(f"{target} has no form {name!r}; forms: {', '.join(f.name for f in forms_of(target))}")


def stream_width(f: Form) -> int:
    """Least stream width d of the planted layout: the four inputs plus one coordinate per gate."""
    return INPUTS + len(f.gates)


def valid_placement(f: Form, placement: Sequence[int], L: int, w: int) -> bool:
    """Whether ``placement`` (1-based block of each gate) respects order and block width."""
    if len(placement) != len(f.gates) or any(not 1 <= int(b) <= L for b in placement):
        return False
    for i, deps in enumerate(f.deps()):
        if any(placement[j] >= placement[i] for j in deps):
            return False
    load: dict[int, int] = {}
    for g, b in zip(f.gates, placement, strict=True):
        load[b] = load.get(b, 0) + g.width
    return all(v <= w for v in load.values())


def default_placement(f: Form, L: int, w: int) -> tuple[int, ...] | None:
    """The earliest valid placement (gates greedily in order, each in the first block that can hold it), or None."""
    placement: list[int] = []
    load = [0] * (L + 1)
    for g, deps in zip(f.gates, f.deps(), strict=True):
        start = max((placement[j] for j in deps), default=0) + 1
        for b in range(start, L + 1):
            if load[b] + g.width <= w:
                placement.append(b)
                load[b] += g.width
                break
        else:
            return None
    return tuple(placement)


def fits(f: Form, d: int, L: int, w: int) -> bool:
    """Whether ``f`` can be planted in ResMLP(n, d, L, w): ``d >= stream_width(f)`` and a valid placement exists."""
    return d >= stream_width(f) and default_placement(f, L, w) is not None


def planted_params(
    f: Form, arch: ResMLP, placement: Sequence[int] | None = None, encoding: str = "01"
) -> dict[str, np.ndarray]:
    """The hand-written parameters of form ``f`` in ``arch`` (named arrays, float32).

    Raises:
      CountnetsError: if ``arch.n < 4``, ``arch.d`` is too small, or the placement is invalid.
    """
    n, d, L, w = arch.n, arch.d, arch.L, arch.w
    if n < INPUTS:
        raise CountnetsError(f"composition targets need n >= {INPUTS}, got n={n}")
    if d < stream_width(f):
        raise CountnetsError(f"form {f.target}/{f.name} needs d >= {stream_width(f)}, got d={d}")
    if placement is None:
        placement = default_placement(f, L, w)
        if placement is None:
            raise CountnetsError(f"form {f.target}/{f.name} does not fit in L={L} blocks of width w={w}")
    placement = tuple(int(b) for b in placement)
    if not valid_placement(f, placement, L, w):
        raise CountnetsError(f"invalid placement {placement} of {f.target}/{f.name} in L={L}, w={w}")
    if arch.branch_scale == 0:
        raise CountnetsError("a planted network needs a non-zero branch scale")
    coord = {f"x{i}": i for i in range(INPUTS)} | {g.name: INPUTS + k for k, g in enumerate(f.gates)}
    p: dict[str, np.ndarray] = {"E": np.zeros((n, d), np.float32), "e": np.zeros(d, np.float32)}
    scale = {"01": (1.0, 0.0), "pm1": (0.5, 0.5)}.get(encoding)
    if scale is None:
        raise CountnetsError(f"encoding must be '01' or 'pm1', got {encoding!r}")
    for i in range(INPUTS):
        p["E"][i, i], p["e"][i] = scale
    for l in range(1, L + 1):
        p[f"A{l}"] = np.zeros((d, w), np.float32)
        p[f"a{l}"] = np.zeros(w, np.float32)
        p[f"G{l}"] = np.zeros((w, d), np.float32)
    used = [0] * (L + 1)
    for g, b in zip(f.gates, placement, strict=True):
        for unit, out in zip(g.units, g.out, strict=True):
            col = used[b]
            used[b] += 1
            for ref, coef in unit.coefs:
                p[f"A{b}"][coord[ref], col] += coef
            p[f"a{b}"][col] = unit.bias
            p[f"G{b}"][col, coord[g.name]] = out / arch.branch_scale
    p["u"] = np.zeros(d, np.float32)
    for ref, coef in f.readout:
        p["u"][coord[ref]] += coef
    p["c"] = np.asarray(f.constant, np.float32)
    return p


def planted_network(f: Form, arch: ResMLP, placement: Sequence[int] | None = None, encoding: str = "01") -> np.ndarray:
    """The planted parameters of :func:`planted_params` as one flat vector in ``arch``'s documented order."""
    p = planted_params(f, arch, placement, encoding)
    return np.concatenate([p[spec.name].reshape(-1) for spec in arch.layout()]).astype(np.float32)


def planted_depth(
    f: Form, arch: ResMLP, placement: Sequence[int] | None = None, encoding: str = "01"
) -> tuple[np.ndarray, int, int, int]:
    """Truth table, k*, stable depth and Hamming distance of the planted network, by countnets' k* code.

    Returns:
      ``(table, kstar, stable, hamming)`` with ``table`` the bool table of ``y^(L)``.
    """
    import jax.numpy as jnp

    from countnets.measures import circuits
    from countnets.network import boolean

    theta = planted_network(f, arch, placement, encoding)
    params = arch.unflatten(jnp.asarray(theta))
    tables = boolean.truth_table(circuits.truncated_outputs(arch, params, boolean.cube(arch.n, encoding)))
    kstar, stable, ham = circuits.depth_statistics(tables)
    return np.asarray(tables[-1]), int(kstar), int(stable), int(ham)


# ----------------------------------------------------------------------------- placement null


def placement_count(f: Form, L: int, w: int) -> int:
    """Number of valid placements of ``f``'s (labelled) gates into L blocks of width w.

    Dynamic programme over blocks 1..L: the state is the set of gates already placed;
    block l takes any subset of the unplaced gates whose dependencies are all placed
    in earlier blocks and whose widths sum to at most w.

    >>> placement_count(form("parity4", "chain"), 5, 2)  # C(5, 3)
    10
    """
    L = check_positive_int("L", L)
    w = check_positive_int("w", w)
    m, deps = len(f.gates), f.deps()
    widths = [g.width for g in f.gates]
    full = (1 << m) - 1
    ways = {0: 1}
    for _ in range(L):
        nxt: dict[int, int] = {}
        for placed, count in ways.items():
            ready = [i for i in range(m) if not placed >> i & 1 and all(placed >> j & 1 for j in deps[i])]
            for r in range(len(ready) + 1):
                for subset in itertools.combinations(ready, r):
                    if sum(widths[i] for i in subset) <= w:
                        key = placed | sum(1 << i for i in subset)
                        nxt[key] = nxt.get(key, 0) + count
        ways = nxt
    return ways.get(full, 0)


def placement_count_bruteforce(f: Form, L: int, w: int) -> int:
    """:func:`placement_count` by trying all ``L**gates`` assignments (a check, plain Python)."""
    return sum(valid_placement(f, p, L, w) for p in itertools.product(range(1, L + 1), repeat=len(f.gates)))


def placement_null_ratio(target: str, parallel: str, serial: str, L: int, w: int) -> float:
    """Placement-count ratio ``placements(parallel) / placements(serial)`` (nan if neither fits, inf if only one)."""
    a = placement_count(form(target, parallel), L, w)
    b = placement_count(form(target, serial), L, w)
    if b == 0:
        return math.nan if a == 0 else math.inf
    return a / b


# ----------------------------------------------------------------------------- minimal depth


def is_threshold_function(table: Sequence[bool] | np.ndarray, n: int) -> bool:
    """Whether a truth table is a linear threshold function of the 0/1 inputs (LP feasibility, scipy).

    Feasible iff some ``(v, b)`` has ``v.x + b >= 1`` on the ones and ``<= -1`` on the zeros.
    """
    from scipy.optimize import linprog

    table = np.asarray(table, bool)
    j = np.arange(2**n)
    x = ((j[:, None] >> np.arange(n)[None, :]) & 1).astype(float)
    sign = np.where(table, 1.0, -1.0)
    a_ub = -sign[:, None] * np.hstack([x, np.ones((2**n, 1))])
    res = linprog(np.zeros(n + 1), A_ub=a_ub, b_ub=-np.ones(2**n), bounds=[(None, None)] * (n + 1), method="highs")
    return bool(res.status == 0)


# One-hidden-layer unit counts on x0..x3 (ReLUs plus an affine skip): the most units proved NOT to suffice
# (one_layer_search; parity4 at 2 units: 25,162 LPs over 24 first-unit orbits, regenerated by
# scripts/one_layer_lp.py, cheap cases by the tests) and the fewest known to suffice (shallow form; LP witness).
ONE_LAYER_INSUFFICIENT = {"parity4": 2, "xor-and-xor": 0}
ONE_LAYER_SUFFICIENT = {"parity4": 3, "xor-and-xor": 1}


def min_depth(target: str, n: int, d: int, L: int, w: int) -> dict[str, Any]:
    """What is established about the least k* of ResMLP(n, d, L, w) networks implementing ``target``.

    * ``upper``: the least stated k* among the forms that fit (each planted network is
      checked by the tests with countnets' k* code), ``None`` if none fits;
    * ``lower``: 0 for a linear threshold function; 1 otherwise (``y^(0)`` is affine in
      x, so k* = 0 would make it one); **2** if moreover no one-hidden-layer ReLU network of
      ``L*w`` units with an affine skip computes it (:data:`ONE_LAYER_INSUFFICIENT`).
      Reason for the last: block l's order-1 term is
      ``alpha relu(h0 A_l + a_l) G_l`` with ``h0 = x E + e`` affine in the input bits (for
      either encoding), so ``y^(1) = h0 u + c + sum_l alpha relu(h0 A_l + a_l) G_l u`` is an
      affine function plus ``L*w`` ReLUs of affine functions of x; if its table
      (``y > 0``) were f, such a network would compute f. For n > 4 the target ignores
      x4.., and fixing those inputs to 0 turns a one-layer network on n inputs into one on
      x0..x3 with the same units computing the n = 4 table, so the n = 4 result transfers.
      (The argument is in real arithmetic; the library evaluates in float32.)
    * ``lower_reason``: which of these gave ``lower``;
    * ``min_depth``: ``upper`` when ``upper == lower`` (then proved), else ``None``;
      ``status`` ``"not implementable"`` when ``lower > L`` (k* <= L always, so no
      ResMLP(n, d, L, w) computes the target);
    * ``one_hidden_layer``: the ``shallow``/parallel k* = 1 construction fits in L*w units,
      so order-1 paths alone can compute the target;
    * ``composition_needed``: ``lower >= 2`` (parity4 with L*w <= 2).

    >>> min_depth("parity4", 4, 8, 3, 2)["min_depth"]
    1
    >>> r = min_depth("parity4", 6, 6, 2, 1)
    >>> r["min_depth"], r["status"], r["composition_needed"]
    (2, 'proved', True)
    """
    table = target_table(target, n)
    if is_threshold_function(table, n):
        lower, reason = 0, "threshold function"
    elif L * w <= ONE_LAYER_INSUFFICIENT.get(target, 0):
        lower, reason = 2, f"no one-hidden-layer ReLU net of {L * w} units computes it (LP enumeration), so y^(1) != f"
    else:
        lower, reason = 1, "not a threshold function, so y^(0) != f"
    fitting = [f for f in forms_of(target) if fits(f, d, L, w)]
    upper = min((f.kstar for f in fitting), default=None)
    one_layer = any(f.kstar == 1 for f in fitting)
    if lower > L:
        status = "not implementable"
    else:
        status = "proved" if upper == lower else ("no construction fits" if upper is None else "open")
    return {
        "target": target,
        "n": n,
        "d": d,
        "L": L,
        "w": w,
        "lower": lower,
        "lower_reason": reason,
        "upper": upper,
        "min_depth": upper if upper == lower else None,
        "status": status,
        "one_hidden_layer": one_layer,
        "composition_needed": lower >= 2,
        "forms_fitting": {f.name: f.kstar for f in fitting},
    }
