"""Shared pieces of experiment summaries: ratio records and verdicts, intervals, and text tables.

Everything here is plain Python and NumPy/SciPy on counts; experiments import it
instead of importing each other.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from countnets import boolean, statistics
from countnets.architectures import arch_from_config
from countnets.records import encode_float

__all__ = [
    "VERDICTS",
    "SHORT_VERDICTS",
    "ratio_record",
    "ratio_verdict",
    "verdict_counts",
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

    Sampling uses :func:`countnets.statistics.ratio_interval` (exact conditional
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


def fmt_prob(x: float | None) -> str:
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
