"""Shared pieces of experiment summaries: ratio records and verdicts, intervals, and text tables.

Everything here is plain Python and NumPy/SciPy on counts; experiments import it
instead of importing each other.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from countnets.network import boolean, symmetry
from countnets.network.architectures import arch_from_config
from countnets.records import encode_float
from countnets.stats import statistics

__all__ = [
    "VERDICTS",
    "SHORT_VERDICTS",
    "ratio_record",
    "ratio_verdict",
    "verdict_counts",
    "ratio_p_value",
    "multiplicity",
    "multiplicity_lines",
    "interval",
    "hist_hex",
    "fmt_p",
    "fmt_ratio",
    "fmt_interval",
    "text_table",
    "prior_text",
    "arch_name",
    "fmt_prob",
    "fmt_prob_interval",
    "number",
    "undefined",
]

VERDICTS = ("above_1", "below_1", "contains_1", "no_hits")
SHORT_VERDICTS = {"above_1": ">1", "below_1": "<1", "contains_1": "~1", "no_hits": "-"}


def ratio_record(hits_a: int, hits_b: int, confidence: float, exact: bool) -> dict[str, Any]:
    """JSON record of ``P(A) / P(B)`` for disjoint events A, B: estimate, interval, counts.

    Sampling uses :func:`countnets.stats.statistics.ratio_interval` (exact conditional
    binomial); an exact enumeration gives the exact ratio as a degenerate interval.

    >>> ratio_record(0, 0, 0.95, True)["estimate"]
    'nan'
    """
    if exact:
        value = hits_a / hits_b if hits_b else (math.inf if hits_a else math.nan)
        lo = hi = value
    else:
        value, (lo, hi) = statistics.ratio_interval(hits_a, hits_b, confidence)
    return {
        "estimate": encode_float(value),
        "ci": [encode_float(lo), encode_float(hi)],
        "confidence": confidence,
        "hits_a": int(hits_a),
        "hits_b": int(hits_b),
        "method": "exact" if exact else "conditional-binomial",
    }


def ratio_verdict(record: Mapping[str, Any]) -> str:
    """Where a ratio's interval lies: ``"above_1"``, ``"below_1"``, ``"contains_1"``, or ``"no_hits"``."""
    if record["hits_a"] + record["hits_b"] == 0:
        return "no_hits"
    lo, hi = (float(v) for v in record["ci"])
    if lo > 1:
        return "above_1"
    if hi < 1:
        return "below_1"
    return "contains_1"


def ratio_p_value(hits_a: int, hits_b: int) -> float:
    """Two-sided p-value of ``P(A) / P(B) = 1`` from the counts: the exact conditional binomial test.

    ``hits_a | hits_a + hits_b ~ Binomial(hits_a + hits_b, 1/2)`` under the null;
    :func:`countnets.stats.statistics.central_binomial_p`, the test dual to the interval of
    :func:`ratio_record`, so "p < 1 - confidence" is "the interval excludes 1". 1.0 without hits.
    """
    return statistics.central_binomial_p(int(hits_a), int(hits_a) + int(hits_b), 0.5)


def _adjusted_verdict(hits_a: int, hits_b: int, p_adj: float, alpha: float) -> str:
    if hits_a + hits_b == 0:
        return "no_hits"
    if p_adj < alpha:
        return "above_1" if hits_a > hits_b else "below_1"
    return "contains_1"


def multiplicity(
    entries: Sequence[Mapping[str, Any]],
    *,
    n: int,
    prior: Mapping[str, Any],
    encoding: str,
    confidence: float,
    all_functions: bool,
    adjustment: str = "holm",
) -> dict[str, Any]:
    """Per-function and per-symmetry-class ratio verdicts of a serial-parallel result, corrected for multiplicity.

    Each (L >= 2, alpha) entry holds one test of ``R_f = 1`` per function f
    (:func:`ratio_p_value` on its parallel and serial counts). The *family* is every
    such test with at least one hit over all entries of the result; the p-values are
    adjusted together by ``adjustment`` (:func:`countnets.stats.statistics.adjust_pvalues`;
    Holm by default, which holds under any dependence, as here: all alpha of one L
    share their draws) and a verdict is "above 1" / "below 1" when the adjusted
    p-value is below ``1 - confidence``.

    Functions related by a symmetry of the prior (:func:`countnets.network.symmetry.prior_symmetry`)
    have equal ``P(f, k* = k)`` for every k, so their verdicts are not independent
    findings. With ``all_functions`` (``--targets all``) each class is also tested once
    per entry on its pooled counts, with its own family adjusted the same way.

    Returns ``{"adjustment", "symmetry", "classes", "function_tests", "class_tests",
    "cells": [{"blocks", "branch_scale_spec", "functions": verdict counts,
    "class_verdicts": {canonical hex: {"size", "parallel", "serial", "ratio", "ci",
    "p_adjusted", "verdict"}}, "class_counts": verdict counts}]}``.
    """
    alpha = 1.0 - confidence
    sym = symmetry.prior_symmetry(prior, encoding)
    cells = [e for e in entries if e["blocks"] >= 2]
    f_tests: list[tuple[int, int, int, int]] = []  # (cell, function index, hits_a, hits_b)
    for c, e in enumerate(cells):
        for i, t in enumerate(e["per_target"]):
            a, b = sum(t["kstar_counts"][:2]), sum(t["kstar_counts"][2:])
            if a + b:
                f_tests.append((c, i, a, b))
    f_adj = statistics.adjust_pvalues([ratio_p_value(a, b) for _, _, a, b in f_tests], adjustment)
    f_verdicts = [Counter() for _ in cells]
    for (c, _, a, b), p in zip(f_tests, f_adj, strict=True):
        f_verdicts[c][_adjusted_verdict(a, b, float(p), alpha)] += 1
    for c, e in enumerate(cells):
        f_verdicts[c]["no_hits"] += sum(int(v) for v in e["target_verdicts"].values()) - sum(f_verdicts[c].values())
    classes = symmetry.classes(n, sym) if all_functions and n <= 4 else {}
    c_tests: list[tuple[int, int, int, int]] = []  # (cell, class representative, hits_a, hits_b)
    pooled: list[dict[int, tuple[int, int]]] = []
    for c, e in enumerate(cells):
        counts = {int(t["function"], 16): t["kstar_counts"] for t in e["per_target"]}
        by_class = {}
        for rep, members in classes.items():
            ks = [counts[f] for f in members if f in counts]
            a = sum(sum(k[:2]) for k in ks)
            b = sum(sum(k[2:]) for k in ks)
            by_class[rep] = (a, b)
            if a + b:
                c_tests.append((c, rep, a, b))
        pooled.append(by_class)
    c_adj = statistics.adjust_pvalues([ratio_p_value(a, b) for _, _, a, b in c_tests], adjustment)
    c_p = {(c, rep): float(p) for (c, rep, _, _), p in zip(c_tests, c_adj, strict=True)}
    out_cells = []
    for c, e in enumerate(cells):
        verdicts: dict[str, Any] = {}
        tally = Counter()
        for rep, (a, b) in pooled[c].items():
            record = ratio_record(a, b, confidence, False)
            p_adj = c_p.get((c, rep), 1.0)
            v = _adjusted_verdict(a, b, p_adj, alpha)
            tally[v] += 1
            verdicts[boolean.to_hex(rep)] = {"size": len(classes[rep]), "parallel": a, "serial": b,
                                             "ratio": record["estimate"], "ci": record["ci"],
                                             "p_adjusted": p_adj, "verdict": v}  # fmt: skip
        out_cells.append(
            {
                "blocks": e["blocks"],
                "branch_scale_spec": e["branch_scale_spec"],
                "functions": verdict_counts(f_verdicts[c]),
                "class_verdicts": verdicts,
                "class_counts": verdict_counts(tally) if classes else None,
            }
        )
    return {
        "adjustment": adjustment,
        "symmetry": sym.describe(),
        "classes": len(classes),
        "function_tests": len(f_tests),
        "class_tests": len(c_tests),
        "cells": out_cells,
    }


def multiplicity_lines(entries: Sequence[Mapping[str, Any]], mult: Mapping[str, Any]) -> list[str]:
    """Text tables of :func:`multiplicity`: verdict counts per (L, alpha), then one row per symmetry class."""
    cells = mult["cells"]
    if not cells:
        return []
    adj = mult["adjustment"].capitalize() if mult["adjustment"] == "holm" else mult["adjustment"].upper()
    lines = [
        "",
        "per target (all functions, L >= 2): how many functions' ratio intervals lie above 1, below 1, contain 1; "
        f"unadjusted, then {adj}-adjusted over all {mult['function_tests']} function tests",
    ]
    rows = [["L", "alpha", "functions seen", "above 1", "below 1", "contain 1", "never seen", f"above 1 ({adj})",
             f"below 1 ({adj})", f"neither ({adj})"]]  # fmt: skip
    for e, m in zip((e for e in entries if e["blocks"] >= 2), cells, strict=True):
        v, h = e["target_verdicts"], m["functions"]
        rows.append([str(e["blocks"]), e["branch_scale_spec"], str(e["distinct_functions"]), str(v["above_1"]),
                     str(v["below_1"]), str(v["contains_1"]), str(v["no_hits"]), str(h["above_1"]),
                     str(h["below_1"]), str(h["contains_1"])])  # fmt: skip
    lines += text_table(rows)
    if not mult["classes"]:
        return lines
    lines += [
        "",
        f"per symmetry class ({mult['classes']} classes under {mult['symmetry']}; every function of a class has the "
        "same P(f, k* = k), so a class is one finding): ratio of the counts pooled over the class; '>1'/'<1' where "
        f"the {adj}-adjusted p-value over all {mult['class_tests']} class tests is below 1 - confidence, '~1' "
        "otherwise, '-' never seen",
    ]
    rows = [["class", "size"] + [f"L={m['blocks']} a={m['branch_scale_spec']}" for m in cells]]
    for rep, first in cells[0]["class_verdicts"].items():
        row = [rep, str(first["size"])]
        for m in cells:
            v = m["class_verdicts"][rep]
            row.append(f"{fmt_ratio(v['ratio'])} {SHORT_VERDICTS[v['verdict']]}" if v["verdict"] != "no_hits" else "-")
        rows.append(row)
    return lines + text_table(rows)


def verdict_counts(verdicts: Counter) -> dict[str, int]:
    """Per-target verdict tallies as a plain dict in the order of ``VERDICTS``."""
    return {v: int(verdicts[v]) for v in VERDICTS}


def interval(hits: int, n: int, confidence: float, method: str) -> list[float]:
    """``[lo, hi]`` for ``hits / n`` by ``method`` (``"exact"``: degenerate); ``[nan, nan]`` when n = 0."""
    if n == 0:
        return [math.nan, math.nan]
    if method == "exact":
        return [hits / n, hits / n]
    lo, hi = statistics.binomial_interval(hits, n, confidence, method)
    return [lo, hi]


def hist_hex(hist: Counter | dict) -> dict[str, int]:
    """Histogram keyed by hex, by decreasing count (ties: smaller table first)."""
    return {boolean.to_hex(k): int(v) for k, v in sorted(hist.items(), key=lambda kv: (-kv[1], kv[0]))}


def fmt_p(x: float) -> str:
    """A probability in three significant digits, ``"0"`` for zero."""
    return f"{x:.3e}" if x != 0 else "0"


def fmt_ratio(x: Any) -> str:
    """A ratio (float or its JSON string form) in three significant digits; ``"inf"``, ``"nan"``."""
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf"
    return f"{x:.3g}"


def fmt_interval(ci: Sequence[Any]) -> str:
    """An interval ``[lo, hi]`` with both ends as :func:`fmt_ratio` writes them."""
    return f"[{fmt_ratio(ci[0])}, {fmt_ratio(ci[1])}]"


def text_table(rows: list[list[str]]) -> list[str]:
    """Left-aligned first column, right-aligned others, a rule under the header."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def prior_text(cfg: dict) -> str:
    """A stored prior config as ``gaussian(sigma_w=1.0, sigma_b=1.0)``."""
    cfg = dict(cfg)
    kind = cfg.pop("prior")
    return f"{kind}(" + ", ".join(f"{k}={v}" for k, v in cfg.items()) + ")"


def arch_name(config: dict) -> str:
    """Short architecture name (e.g. ``mlp-5-16-1``) from a stored config."""
    return arch_from_config(config["arch"]).name


def fmt_prob(x: float | str | None) -> str:
    """Compact probability; ``-`` when undefined (NaN, ``"nan"`` or ``None``), ``inf`` for ``"inf"``."""
    if isinstance(x, str) and x not in ("inf", "-inf", "nan"):
        return x
    if undefined(x):
        return "-"
    x = float(x)
    return "0" if x == 0 else (f"{x:.3g}" if x >= 1e-3 else f"{x:.2e}")


def fmt_prob_interval(ci: Sequence[Any]) -> str:
    """``[lo, hi]`` compactly."""
    return f"[{fmt_prob(ci[0])}, {fmt_prob(ci[1])}]"


def number(value: Any) -> float:
    """A stored number as a float: ``"inf"``, ``"-inf"``, ``"nan"`` and ``None`` (schema 1's NaN) included."""
    return math.nan if value is None else float(value)


def undefined(value: Any) -> bool:
    """Whether a stored number is undefined: NaN, ``"nan"``, or ``None`` (schema 1's NaN)."""
    return math.isnan(number(value))
