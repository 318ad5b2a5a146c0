"""Terminal tables of the detour experiment: a run of either kind and a sweep over n.

:func:`format_detour` prints a :func:`countnets.experiments.detour.write_erase` or
:func:`countnets.experiments.detour.goal_detour` result, :func:`format_detour_vs_n` the rows of
:func:`countnets.experiments.detour.detour_vs_n`. ``countnets.experiments.detour`` re-exports them.
"""

from __future__ import annotations

from collections.abc import Sequence

from countnets.engine.passes import ALL
from countnets.results import CountResult
from countnets.results.report import fmt_interval, fmt_p, fmt_ratio, prior_text, ratio_verdict, text_table

__all__ = ["format_detour", "format_detour_vs_n", "what_arch"]

# How a ratio verdict reads in a table.
_WORDS = {
    "above_1": "yes (interval above 1)",
    "below_1": "no (interval below 1)",
    "contains_1": "undecided (interval contains 1)",
    "no_hits": "no hits",
}


def _header(result: CountResult, what: str) -> str:
    cfg = result.config
    mode = (
        "exact enumeration"
        if result.exact
        else f"{result.samples:,} samples, seed {result.seed}, chunk size {result.chunk_size}"
    )
    return (
        f"detour ({what}): {what_arch(cfg['arch'])}, prior {prior_text(cfg['prior'])}, "
        f"encoding {cfg['encoding']}; {mode}; {result.seconds:.1f} s on {result.device}"
    )


def what_arch(a: dict) -> str:
    """Short description of an architecture config."""
    if a["arch"] == "goalnet":
        return f"GoalNet n={a['n']} w={a['w']}"
    return f"ResMLP n={a['n']} d={a['d']} L={a['L']} w={a['w']} alpha={a['branch_scale']:g}"


def _event_rows(result: CountResult, names: Sequence[str], conf: str) -> list[str]:
    rows = [["event", "hits", "P", f"{conf} interval", "bits"]]
    for name in names:
        e = result.estimate(name)
        rows.append([name, f"{e.hits:,}", fmt_p(e.p), f"[{fmt_p(e.ci[0])}, {fmt_p(e.ci[1])}]", f"{e.bits:.2f}"])
    return text_table(rows)


def format_detour(result: CountResult, *, max_target_rows: int = 16) -> str:
    """Terminal table of a detour result (either kind)."""
    ex = result.extra
    conf = f"{100 * result.config.get('confidence', 0.95):g}%"
    kind = ex["detour_kind"]
    lines = [_header(result, kind), ""]
    if kind == "write-erase":
        lines += _event_rows(result, ("with_pair", "without_pair"), conf)
        r = ex["ratio"]
        lines += [
            "",
            f"ratio with/without cancelling pair: {fmt_ratio(r['estimate'])} "
            f"{fmt_interval(r['ci'])} ({conf}); "
            f"detour more voluminous? {_WORDS[ratio_verdict(r)]}",
            "networks with each pair cancelling: " + ", ".join(f"({k}) {v:,}" for k, v in ex["pair_counts"].items()),
        ]
        if ex.get("scales"):
            rows = [["alpha", "value", "with pair", "without", "ratio", f"{conf} interval", "verdict", "functions"]]
            rows += [[e["branch_scale_spec"], f"{e['branch_scale']:.4g}", f"{e['counts']['with_pair']:,}",
                      f"{e['counts']['without_pair']:,}", fmt_ratio(e["ratio"]["estimate"]),
                      fmt_interval(e["ratio"]["ci"]), _WORDS[ratio_verdict(e["ratio"])], str(e["distinct_functions"])]
                     for e in ex["scales"]]  # fmt: skip
            first = ex["scales"][0]["branch_scale_spec"]
            lines += ["", f"every branch scale, on the same draws (the other tables are alpha = {first}):"]
            lines += text_table(rows)
        head = ["target", "P(f)", "with pair", "without", "ratio", f"{conf} interval"]
        body = [[t["function"], fmt_p(t["p"]), f"{t['with_pair']:,}", f"{t['without_pair']:,}",
                 fmt_ratio(t["ratio"]), fmt_interval(t["ratio_ci"])]
                for t in ex["per_target"]]  # fmt: skip
    else:
        lines += _event_rows(result, ("direct", "detour", "other"), conf)
        r = ex["ratio"]
        b = ex["direct_breakdown"]
        top = list(ex["goals"].items())[:8]
        lines += [
            "",
            f"ratio detour (sum over goals) / direct: {fmt_ratio(r['estimate'])} "
            f"{fmt_interval(r['ci'])} ({conf}); "
            f"sum over g > direct? {_WORDS[ratio_verdict(r)]}",
            f"distinct goals among detours: {ex['distinct_goals']} pooled over f; "
            f"{ex['distinct_function_goal_pairs']} distinct (f, g) pairs",
            f"direct because: g constant {b['goal_constant']:,}; g = f or not f {b['goal_is_f_or_not_f']:,}; "
            f"f survives a clamp {b['survives_clamp']:,}",
            "most frequent goals (detour networks): " + ", ".join(f"{g} {k:,}" for g, k in top),
        ]
        head = ["target", "P(f)", "direct", "detour", "goals", "ratio", f"{conf} interval", "top goal"]
        body = [[t["function"], fmt_p(t["p"]), f"{t['direct']:,}", f"{t['detour']:,}", str(t["distinct_goals"]),
                 fmt_ratio(t["ratio"]), fmt_interval(t["ratio_ci"]),
                 next(iter(t["goals"]), "-")] for t in ex["per_target"]]  # fmt: skip
    if result.config["targets"] == ALL:
        v = ex["target_verdicts"]
        lines += ["", f"per target (all functions; {ex['distinct_functions']} seen): ratio interval above 1 for "
                  f"{v['above_1']}, below 1 for {v['below_1']}, contains 1 for {v['contains_1']}, no hits for "
                  f"{v['no_hits']}; the {max_target_rows} most frequent:"]  # fmt: skip
        # Rank on the unrounded P(f) (ties in target order), not on the printed string.
        order = sorted(range(len(body)), key=lambda i: (-ex["per_target"][i]["p"], i))
        body = [body[i] for i in order[:max_target_rows]]
    else:
        lines += ["", "per target"]
    lines += text_table([head, *body])
    if result.nonfinite:
        lines.append(f"{result.nonfinite} networks had non-finite outputs (their bits read as 0)")
    return "\n".join(lines)


def format_detour_vs_n(sweep: dict) -> str:
    """Terminal table of :func:`detour_vs_n`."""
    cfg, kind = sweep["config"], sweep["kind"]
    conf = f"{100 * cfg['confidence']:g}%"
    label = "alpha" if kind == "write-erase" else "width"
    what = (f"ResMLP d={cfg['d']} L={cfg['blocks']} w={cfg['w']}, ratio with/without a cancelling pair"
            if kind == "write-erase" else "GoalNet, ratio detour (sum over goals) / direct")  # fmt: skip
    head = ["n", label, "detour", "direct", "ratio", f"{conf} interval", "f not constant", f"{conf} interval",
            "Holm p", "verdict", "functions seen / possible"]  # fmt: skip
    if kind == "goal":
        head.append("goals seen / possible")
    body = []
    for r in sweep["rows"]:
        possible = r["possible_functions"]
        row = [str(r["n"]), str(r.get("alpha", r.get("width"))), f"{r['detour']:,}", f"{r['direct']:,}",
               fmt_ratio(r["ratio"]), fmt_interval(r["ratio_ci"]), fmt_ratio(r["ratio_nonconstant"]),
               fmt_interval(r["ratio_nonconstant_ci"]), f"{r['p_holm']:.2g}", _WORDS[r["verdict"]],
               f"{r['distinct_functions']:,} / {_count(possible)}"]  # fmt: skip
        if kind == "goal":
            row.append(f"{r['distinct_goals']:,} / {_count(possible)}")
        body.append(row)
    seconds = sum({(r["n"], r.get("width")): r["seconds"] for r in sweep["rows"]}.values())
    lines = [f"detour ({kind}) vs n: {what}; prior {prior_text(cfg['prior'])}, encoding {cfg['encoding']}; "
             f"{cfg['samples']:,} samples per run, seed {cfg['seed']}; {seconds:.0f} s of runs", ""]  # fmt: skip
    return "\n".join(lines + text_table([head, *body]))


def _count(value: int) -> str:
    return f"{value:,}" if value < 10**6 else f"2^{value.bit_length() - 1}"
