"""Pope's rows (issue 28): every joint mass P(f, k* = k) by runs of its own, and the parallel/serial ratio.

The conditional masses read off one splitting population inherit its weight collapse
(docs/composition.md). Here each ``P(f, k* = k)`` is the signed sum of the joint masses
:func:`countnets.measures.kstar_terms` lists, each estimated by its own splitting run
(:func:`countnets.rare.splitting.estimate_rare`), and combined by
:func:`countnets.stats.combinations.signed_sum`. Then the ratio
``P(f, k* = k_parallel) / P(f, k* = k_serial)`` is formed by
:func:`countnets.stats.combinations.ratio_of_sums`. A term whose orders include one below
the proved lower bound of k* (:func:`countnets.measures.composition.min_depth`) is 0 by
the proof, and is not run. An order equal to L is "f" itself, so it is left out of the event.

:func:`joint_row` builds one row of ``results/pope_serial_parallel.json`` in the layout
that ``scripts/pope_analysis.py`` reads. The estimator is a parameter, so the assembly is
tested without sampling.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from countnets import measures
from countnets._errors import CountnetsError
from countnets.measures import composition
from countnets.network.architectures import ResMLP
from countnets.stats.combinations import Combined, Term, ratio_of_sums, signed_sum

__all__ = ["term_orders", "joint_row"]

Estimator = Callable[[Any, int], Any]  # (measure, seed) -> CountResult of estimate_rare


def term_orders(k: int, L: int, lower: int) -> list[tuple[int, tuple[int, ...]]]:
    """The terms of ``P(f, k* = k)`` that can be nonzero: ``[(sign, orders below L)]``.

    A term holds order k and every order of a subset S of ``{0 .. k-1}`` (sign ``(-1)^|S|``);
    terms with an order below ``lower`` are 0 by the proof and are dropped, and order L is
    "f" itself.

    >>> term_orders(2, 3, 1)
    [(1, (2,)), (-1, (1, 2))]
    >>> term_orders(3, 3, 2)
    [(1, ()), (-1, (2,))]
    """
    if k < lower:
        return []
    out = []
    for mask in range(2**k):
        orders = [j for j in range(k) if mask >> j & 1] + [k]
        if min(orders) < lower:
            continue
        out.append((-1 if bin(mask).count("1") % 2 else 1, tuple(j for j in orders if j != L)))
    return out


def _event(f: int, orders: tuple[int, ...]) -> Any:
    """``f``, and every order in ``orders`` computes f (``implements(f)`` alone for no orders)."""
    if not orders:
        return measures.implements(f)
    return measures.all_of(measures.implements(f), *(measures.truncation(f, j) for j in orders))


def _summary(result: Any) -> dict[str, Any]:
    e, x = result.estimates[0], result.extra
    finite = lambda v: v if v is not None and math.isfinite(v) else None  # noqa: E731 (JSON has no NaN)
    return {"p": e.p, "ci": [finite(v) for v in e.ci], "reliable": bool(x.reliable),
            "relative_error": finite(x.relative_error), "replicas": result.samples,
            "effective_replicas": finite(x.effective_replicas)}  # fmt: skip


def _combined(terms: list[tuple[int, dict[str, Any]]]) -> tuple[Combined | None, dict[str, Any]]:
    """The signed sum of estimated terms; determined only when every term is and the sum is positive."""
    if not terms:
        return None, {"p": 0.0, "ci": [0.0, 0.0], "reliable": True, "why": "0 by the proof (below min_depth)"}
    if not all(t["reliable"] and t["p"] > 0 for _, t in terms):
        return None, {"p": None, "ci": None, "reliable": False, "why": "a term is not determined"}
    c = signed_sum([Term(sign, t["p"], t["relative_error"], t["replicas"]) for sign, t in terms])
    reliable = c.estimate > 0 and c.lo > 0
    out = {"p": c.estimate, "ci": [c.lo, c.hi], "reliable": reliable, "se": c.se, "df": c.df}
    if not reliable:
        out["why"] = "the signed sum's interval reaches 0"
    return (c if reliable else None), out


def joint_row(arch: ResMLP, target: str, parallel: str, serial: str, estimate: Estimator, *, seed: int,
              cache: dict[tuple[int, tuple[int, ...]], dict[str, Any]] | None = None) -> dict[str, Any]:  # fmt: skip
    """One row: P(f), every P(f, k* = k) for k from the lower bound to L, the ratio and the placement null.

    ``estimate(measure, seed)`` runs one splitting estimate; each distinct event is run once
    (``cache``, keyed by (seed, orders)) and every run draws from ``seed``.

    Raises:
      CountnetsError: for a form that does not fit the architecture.
    """
    cache = {} if cache is None else cache
    parallel_form, serial_form = composition.form(target, parallel), composition.form(target, serial)
    for f_ in (parallel_form, serial_form):
        if not composition.fits(f_, arch.d, arch.L, arch.w):
            raise CountnetsError(f"{target} as {f_.name} does not fit ResMLP d={arch.d}, L={arch.L}, w={arch.w}")
    depth = composition.min_depth(target, arch.n, arch.d, arch.L, arch.w)
    table = composition.target_table(target, arch.n)
    f = sum(1 << i for i, bit in enumerate(table) if bit)

    def term(orders: tuple[int, ...]) -> dict[str, Any]:
        if (seed, orders) not in cache:
            cache[(seed, orders)] = _summary(estimate(_event(f, orders), seed))
        return cache[(seed, orders)]

    kstar, sums = {}, {}
    for k in range(arch.L + 1):
        terms = [(sign, term(orders)) for sign, orders in term_orders(k, arch.L, depth["lower"])]
        sums[k], kstar[str(k)] = _combined(terms)
        kstar[str(k)]["terms"] = [{"sign": sign, **t} for sign, t in terms]
    null = composition.placement_null_ratio(target, parallel, serial, arch.L, arch.w)
    a, b = sums[parallel_form.kstar], sums[serial_form.kstar]
    if a is None or b is None:
        ratio = {"estimate": None, "ci": None, "reliable": False}
        over_null = {"estimate": None, "ci": None}
    else:
        r = ratio_of_sums(a, b)
        ratio = {"estimate": r.estimate, "ci": [r.lo, r.hi], "reliable": True, "log_se": r.log_se, "df": r.df}
        over_null = {"estimate": r.estimate / null, "ci": [r.lo / null, r.hi / null]}
    return {
        "target": target, "n": arch.n, "d": arch.d, "L": arch.L, "w": arch.w, "alpha": arch.branch_scale,
        "parallel": parallel, "serial": serial, "kstar_parallel": parallel_form.kstar,
        "kstar_serial": serial_form.kstar, "min_depth": depth["min_depth"], "min_depth_lower": depth["lower"],
        "seed": seed, "p": term(()), "kstar": kstar, "ratio": ratio, "placement_null_ratio": null,
        "ratio_over_null": over_null,
        "log_ratio_over_null": None if ratio["estimate"] is None else math.log(ratio["estimate"] / null),
    }  # fmt: skip
