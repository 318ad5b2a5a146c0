"""Text and Markdown tables of a ``countnets bench`` result."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from countnets.results import CountResult
from countnets.results.report import text_table

__all__ = ["format_bench", "markdown_bench", "fmt_number", "fmt_interval"]


def fmt_number(x: Any) -> str:
    """A number in four significant digits; ``-`` for NaN or missing; ``inf``."""
    if x is None:
        return "-"
    x = float(x)
    if math.isnan(x):
        return "-"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"
    if x == int(x) and abs(x) < 1e7:
        return f"{int(x)}"
    return f"{x:.4g}" if 1e-3 <= abs(x) < 1e5 else f"{x:.3e}"


def fmt_interval(ci: Sequence[Any]) -> str:
    """``[lo, hi]``, or ``-`` when the row has no interval."""
    if ci is None or all(v is None or math.isnan(float(v)) for v in ci):
        return "-"
    return f"[{fmt_number(ci[0])}, {fmt_number(ci[1])}]"


def _agreement(row) -> str:
    if row.p_value is not None and not math.isnan(row.p_value):
        return f"p = {row.p_value:.3g}"
    if row.overlap is not None:
        return "holds" if row.overlap else "does not hold"
    return "-"


def _level(row) -> str:
    return "-" if row.confidence is None or math.isnan(row.confidence) else f"{row.confidence:g}"


def _rows(result: CountResult) -> list:
    if result.kind != "bench":
        raise ValueError(f"expected a bench result, got kind {result.kind!r}")
    return list(result.extra["rows"])


def format_bench(result: CountResult) -> str:
    """The terminal table: one line per task, then the verdict tallies and the notes of failed rows."""
    rows = _rows(result)
    table = [["task", "estimate", "interval", "level", "reference", "source", "agreement", "verdict", "samples", "s"]]
    for r in rows:
        table.append(
            [
                r.name, fmt_number(r.estimate), fmt_interval(r.interval), _level(r), fmt_number(r.reference),
                r.source, _agreement(r), r.verdict.upper() if r.verdict in ("fail", "error") else r.verdict,
                f"{r.samples:,}", f"{r.seconds:.1f}",
            ]
        )  # fmt: skip
    payload = result.extra
    tally = ", ".join(f"{v} {k}" for k, v in payload["verdicts"].items() if v)
    head = (
        f"countnets bench --suite {payload['suite']}: {len(rows)} task(s), seed {result.seed}, "
        f"alpha {payload['alpha']:g} per row; {result.seconds:.1f} s on {result.device_count} x {result.device}"
    )
    lines = [head, *text_table(table), tally]
    for r in rows:
        if r.verdict in ("fail", "error") and r.note:
            lines.append(f"{r.name}: {r.note}")
    return "\n".join(lines)


def _md_escape(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown_bench(result: CountResult) -> str:
    """A Markdown page: machine, date, versions, the exact command, the table, and each row's details."""
    rows = _rows(result)
    payload = result.extra
    versions = result.versions
    machine = payload["machine"]
    out = [
        f"# countnets counting suite: {payload['suite']}",
        "",
        f"- Command: `{payload['command'] or 'cn.bench.run(suite=' + repr(payload['suite']) + ')'}`",
        f"- Date: {payload.get('date', '') or '-'}; wall time {result.seconds:.0f} s",
        f"- Machine: {machine.get('cpu', '-')}, {machine.get('cores_available', '-')} core(s) available of "
        f"{machine.get('cpu_count', '-')}; device {result.device_count} x {result.device}; "
        f"{machine.get('platform', '')}",
        f"- Versions: countnets {versions.get('countnets')}, JAX {versions.get('jax')}, "
        f"jaxlib {versions.get('jaxlib')}, NumPy {versions.get('numpy')}, SciPy {versions.get('scipy')}, "
        f"Python {versions.get('python')}; "
        f"git commit {versions.get('git_commit') or '-'}",
        f"- Seed {result.seed}; per-row level alpha = {payload['alpha']:g}; verdicts: "
        + ", ".join(f"{v} {k}" for k, v in payload["verdicts"].items() if v),
        "",
        "Definitions, references and tolerances: [docs/bench.md](../docs/bench.md). To cite a row, give its task "
        "name, the countnets version and the seed ([docs/citing.md](../docs/citing.md)).",
        "",
        "| task | what | estimate | interval (level) | reference | source | agreement test | result | verdict "
        "| samples | seconds |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ref = fmt_number(r.reference) if r.reference is not None else (r.claim if r.source != "measured-only" else "-")
        out.append(
            "| "
            + " | ".join(
                _md_escape(c)
                for c in (
                    f"`{r.name}`",
                    f"{r.what} ({r.unit})" if r.unit else r.what,
                    fmt_number(r.estimate),
                    f"{fmt_interval(r.interval)} ({_level(r)})",
                    ref,
                    r.source,
                    r.test or "-",
                    _agreement(r),
                    f"**{r.verdict}**",
                    f"{r.samples:,}",
                    f"{r.seconds:.1f}",
                )
            )  # fmt: skip
            + " |"
        )
    out += ["", "## Rows", ""]
    for r in rows:
        out += [f"### `{r.name}`", "", f"- Measured: {r.what}; {r.unit}."]
        out.append(f"- Call: `{r.command}`" if r.command else "- Call: -")
        if r.source != "measured-only":
            out.append(f"- Reference ({r.source}): {r.claim}. Source: {r.citation}.")
            out.append(f"- Tolerance: {r.tolerance}.")
        if r.note:
            out.append(f"- Note: {r.note}")
        details = ", ".join(f"{k} = {_fmt_detail(v)}" for k, v in r.details.items())
        if details:
            out.append(f"- Details: {_md_escape(details)}")
        out.append("")
    return "\n".join(out)


def _fmt_detail(value: Any) -> str:
    if isinstance(value, float) or (isinstance(value, str) and value in ("nan", "inf", "-inf")):
        return fmt_number(value)
    if isinstance(value, list):
        if len(value) > 40:
            return "[" + ", ".join(_fmt_detail(v) for v in value[:40]) + f", ... ({len(value)} in all)]"
        return "[" + ", ".join(_fmt_detail(v) for v in value) + "]"
    return str(value)
