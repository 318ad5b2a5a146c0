"""The terminal table of a composition result: one line per row, then the parallel/serial pairs.

``countnets.experiments.composition`` re-exports :func:`format_composition`.
"""

from __future__ import annotations

from typing import Any

from countnets.results import CountResult
from countnets.results.report import fmt_interval, fmt_p, fmt_ratio, prior_text, text_table

__all__ = ["format_composition"]


def _effort(row: Any) -> str:
    """Samples (mc), or replicas x particles and the pilot's status (splitting)."""
    sp = row.get("splitting")
    if sp is None:
        return f"{row['samples']:,}"
    return f"{sp['replicas']}x{sp['particles']} ({sp['replicas_reaching']} reached)"


def _precision(row: Any) -> str:
    """P(f)'s ``hi / lo`` (``>2`` flags a row that needs more effort; ``upper bound`` when nothing reached f)."""
    lo, hi = (float(v) for v in row["p"]["ci"])
    if row["p"]["p"] in (0, 0.0) or lo <= 0:
        return "upper bound"
    factor = hi / lo
    return f"{factor:.3g}" + (" (>2)" if factor > 2 else "")


def format_composition(result: CountResult) -> str:
    """Terminal table: one line per row, then the pairs' measured ratio beside the placement null."""
    cfg = result.config
    extra = result.extra
    conf = f"{100 * cfg.get('confidence', 0.95):g}%"
    mode = "exact enumeration" if result.exact else f"seed {result.seed}, chunk size {result.chunk_size}"
    lines = [
        f"composition: ResMLP d={cfg['arch']['d']}, prior {prior_text(cfg['prior'])}, encoding {cfg['encoding']}, "
        f"{mode}; {result.seconds:.1f} s on {result.device}",
    ]
    if extra["bound_violations"] or extra["kstar0_nonthreshold"]:
        lines.append(f"BOUND VIOLATED: {extra['bound_violations']} networks implement a target with k* below its "
                     f"proved lower bound; {extra['kstar0_nonthreshold']} have k* = 0 and a non-threshold function. "
                     "The bound is wrong: fix the bound, not the data.")  # fmt: skip
    else:
        lines.append("zero-hits check passed: no network implementing a target has k* below min_depth's lower bound")
    rows = [["target", "form", "k*", "n", "L", "w", "alpha", "samples", "P(f)", f"{conf} interval", "min_depth",
             "P(k*=k|f), k=0..L", "hi/lo"]]  # fmt: skip
    for r in extra["rows"]:
        kg = r["kstar_given_f"]
        rows.append([
            r["target"], r["form"], str(r["form_kstar"]), str(r["n"]), str(r["blocks"]), str(r["w"]),
            r["branch_scale_spec"], _effort(r), fmt_p(r["p"]["p"]), fmt_interval(r["p"]["ci"]),
            "open" if r["min_depth"] is None else str(r["min_depth"]) + (" (1-layer)" if r["one_hidden_layer"] else ""),
            " ".join("-" if kg[str(k)]["hits"] == 0 else f"{kg[str(k)]['p']:.2f}" for k in range(r["blocks"] + 1)),
            _precision(r),
        ])  # fmt: skip
    lines += text_table(rows)
    lines.append("hits per (target, n, L, w, alpha): " + ", ".join(
        f"{c['target']} n={c['n']} L={c['blocks']} w={c['w']} {c['branch_scale_spec']}: {c['hits']}"
        for c in extra["checks"]))  # fmt: skip
    pair_rows = [["target", "pair", "n", "L", "w", "alpha", "measured ratio", f"{conf} interval", "placement null"]]
    for r in extra["rows"]:
        if r.get("pair") and r["form"] == r["pair"].split("/")[0]:
            pair_rows.append([r["target"], r["pair"], str(r["n"]), str(r["blocks"]), str(r["w"]),
                              r["branch_scale_spec"], fmt_ratio(r["ratio"]["estimate"]), fmt_interval(r["ratio"]["ci"]),
                              fmt_ratio(r["placement_null_ratio"])])  # fmt: skip
    if len(pair_rows) > 1:
        lines += ["", "parallel/serial: measured P(f, k*=k_par)/P(f, k*=k_ser) beside the placement-count ratio"]
        lines += text_table(pair_rows)
    if result.nonfinite:
        lines.append(f"{result.nonfinite} (network, alpha) pairs had non-finite outputs (their bits read as 0)")
    return "\n".join(lines)
