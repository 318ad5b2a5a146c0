"""Symmetries of the prior: transformations of truth tables that preserve prior volume.

A symmetry here is a map ``g`` on Boolean functions with ``P(g(f)) = P(f)`` for every
f, because it comes from a measure-preserving map on parameters. For the priors and
architectures of countnets (every weight of a layer drawn i.i.d. from one law; see
``docs/definitions.md``):

* **Input permutation.** Permuting the inputs permutes the rows of the first weight
  matrix (``W1`` of an MLP or GoalNet, ``E`` of a ResMLP; the first n rows of a
  GoalNet's ``W2`` too). Those rows are i.i.d., so the permuted parameters have the
  same law and compute ``f(x_pi(1), ..., x_pi(n))``. Exact for every prior.
* **Input negation, pm1 encoding only.** With inputs in {-1, +1}, ``x_i -> -x_i`` is
  the same as negating row i of the first weight matrix, which a sign-symmetric prior
  (Gaussian, Uniform, a Lattice whose value set equals its negation) leaves
  invariant; every later quantity (hidden units, residual stream, truncated
  path-order outputs, removed blocks, goal unit) is unchanged, bit for bit. With the
  01 encoding, ``x_i -> 1 - x_i`` also moves row i into the bias, which changes the
  bias's law: not a symmetry.
* **Output negation, continuous sign-symmetric priors only.** Negating the output
  layer (``u, c``; the last ``W, b`` of an MLP) maps ``y`` to ``-y`` at every point and
  every path order, so the table becomes its complement except where ``y = 0``. That
  set has prior mass 0 under Gaussian and Uniform priors, but not under a Lattice
  prior (``y = 0`` gives bit 0 both ways), so for a Lattice this is not a symmetry.

Together they generate a group acting on the ``2^(2^n)`` functions; functions in one
orbit (a *symmetry class*) have equal volumes, and so equal per-function statistics
that are defined from the same parameters (effective depth counts, detour counts).
For n = 3 the group with all three generators has order 96 and 14 orbits (the NPN
classes); with the 01 encoding (permutations and output negation) it has 40.

Truth tables are integers (bit j is the output at cube point j, DESIGN convention:
``x_i = (j >> i) & 1``). Plain Python and NumPy; nothing here imports jax.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from countnets._errors import CountnetsError

__all__ = [
    "Symmetry",
    "prior_symmetry",
    "transforms",
    "apply",
    "orbit",
    "canonical",
    "classes",
]


@dataclasses.dataclass(frozen=True)
class Symmetry:
    """Which generators of the symmetry group hold (see the module docstring).

    Attributes:
      input_permutation: permutations of the n inputs.
      input_negation: negation of any subset of inputs (pm1 encoding, sign-symmetric prior).
      output_negation: complement of the table (continuous sign-symmetric prior).
    """

    input_permutation: bool = True
    input_negation: bool = True
    output_negation: bool = True

    def describe(self) -> str:
        """A short name: e.g. ``"input permutations, input negations, output negation"``."""
        parts = [
            name
            for name, on in (
                ("input permutations", self.input_permutation),
                ("input negations", self.input_negation),
                ("output negation", self.output_negation),
            )
            if on
        ]
        return ", ".join(parts) if parts else "none"


def prior_symmetry(prior: Mapping[str, Any], encoding: str) -> Symmetry:
    """The symmetries that hold exactly for a stored prior config and input encoding.

    ``prior`` is a prior's ``config()`` (``{"prior": "gaussian", ...}``). Gaussian and
    Uniform priors are sign-symmetric and continuous; a Lattice is sign-symmetric when
    its value set equals its negation, and never continuous. Unknown priors get input
    permutations only.

    >>> prior_symmetry({"prior": "gaussian", "sigma_w": 1.0, "sigma_b": 1.0}, "pm1").describe()
    'input permutations, input negations, output negation'
    >>> prior_symmetry({"prior": "lattice", "values": [-1, 0, 1]}, "01").describe()
    'input permutations'
    """
    kind = prior.get("prior")
    if kind in ("gaussian", "uniform"):
        symmetric, continuous = True, True
    elif kind == "lattice":
        values = sorted(float(v) for v in prior.get("values", ()))
        symmetric, continuous = values == sorted(-v for v in values), False
    else:
        symmetric, continuous = False, False
    if encoding not in ("01", "pm1"):
        raise CountnetsError(f"encoding must be '01' or 'pm1', got {encoding!r}")
    return Symmetry(
        input_permutation=True,
        input_negation=symmetric and encoding == "pm1",
        output_negation=symmetric and continuous,
    )


def _check_n(n: int, limit: int = 5) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= int(n) <= limit:
        raise CountnetsError(f"n must be an int in 1..{limit}, got {n!r}")
    return int(n)


def transforms(n: int, symmetry: Symmetry = Symmetry()) -> Iterator[tuple[tuple[int, ...], int, bool]]:
    """Every group element as ``(perm, negation_mask, negate_output)``, the identity first.

    ``apply(f, n, perm, mask, neg)`` is the function ``x -> f(y)`` (complemented when
    ``neg``) where ``y_i = x_perm[i] XOR bit i of mask``.
    """
    n = _check_n(n)
    perms = itertools.permutations(range(n)) if symmetry.input_permutation else [tuple(range(n))]
    masks = range(2**n) if symmetry.input_negation else [0]
    outs = (False, True) if symmetry.output_negation else (False,)
    for perm in perms:
        for mask in masks:
            for neg in outs:
                yield tuple(perm), mask, neg


def _point_map(n: int, perm: tuple[int, ...], mask: int) -> np.ndarray:
    j = np.arange(2**n)
    bits = [((j >> perm[i]) & 1) ^ ((mask >> i) & 1) for i in range(n)]
    return sum(b << i for i, b in enumerate(bits))


def apply(f: int, n: int, perm: tuple[int, ...], mask: int, negate_output: bool) -> int:
    """The table of ``x -> f(y)`` with ``y_i = x_perm[i] XOR mask_i``, complemented if ``negate_output``.

    >>> hex(apply(0x80, 3, (0, 1, 2), 0b111, True))  # AND with all inputs negated, then complemented: OR
    '0xfe'
    """
    n = _check_n(n)
    size = 2**n
    if not 0 <= int(f) < 2**size:
        raise CountnetsError(f"a table on n = {n} inputs is an int in [0, 2^{size}), got {f!r}")
    if sorted(perm) != list(range(n)):
        raise CountnetsError(f"perm must be a permutation of 0..{n - 1}, got {perm!r}")
    src = _point_map(n, perm, int(mask))
    out = 0
    for j in range(size):
        if (int(f) >> int(src[j])) & 1:
            out |= 1 << j
    return out ^ (2**size - 1) if negate_output else out


def orbit(f: int, n: int, symmetry: Symmetry = Symmetry()) -> list[int]:
    """The sorted symmetry class of f: every ``apply(f, ...)`` over the group."""
    return sorted({apply(f, n, p, m, o) for p, m, o in transforms(n, symmetry)})


def canonical(f: int, n: int, symmetry: Symmetry = Symmetry()) -> int:
    """The smallest table in f's class: a label shared by the whole class."""
    return orbit(f, n, symmetry)[0]


def classes(n: int, symmetry: Symmetry = Symmetry()) -> dict[int, list[int]]:
    """Every symmetry class of the functions of n <= 4 inputs: canonical table -> sorted members.

    >>> len(classes(3))  # the NPN classes of 3-input functions
    14
    >>> len(classes(3, Symmetry(input_negation=False)))
    40
    """
    n = _check_n(n, limit=4)
    size = 2**n
    group = list(transforms(n, symmetry))
    maps = [(_point_map(n, p, m), o) for p, m, o in group]
    weights = 1 << np.arange(size, dtype=np.uint64)
    seen = np.zeros(2**size, dtype=bool)
    out: dict[int, list[int]] = {}
    for f in range(2**size):
        if seen[f]:
            continue
        bits = (f >> np.arange(size)) & 1
        members = set()
        for src, neg in maps:
            b = bits[src] ^ int(neg)
            members.add(int((b.astype(np.uint64) * weights).sum()))
        members_sorted = sorted(members)
        seen[members_sorted] = True
        out[members_sorted[0]] = members_sorted
    return out
