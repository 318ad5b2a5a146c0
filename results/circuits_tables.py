"""Print the Markdown tables of docs/circuits.md from the committed circuit results.

Run from the repository root: ``python results/circuits_tables.py``. Every number in
the tables comes from results/serial_parallel.json, results/detour_write_erase.json and
results/detour_goal.json.
"""

from __future__ import annotations

import sys
from pathlib import Path

from countnets import load_json
from countnets.network import boolean, symmetry
from countnets.results.report import SHORT_VERDICTS, multiplicity

# Ratios and their intervals read as in the experiments' terminal tables.
from countnets.results.report import fmt_interval as _ci
from countnets.results.report import fmt_ratio as _r

HERE = Path(__file__).resolve().parent
NAMED = ("and", "or", "parity", "majority", "x0")


def _p(x: float) -> str:
    return f"{x:.3g}"


def serial_parallel(path: Path) -> list[str]:
    res = load_json(path)
    conf = f"{100 * res.config['confidence']:g}%"
    out = [
        f"| L | alpha | P(k* <= 1) | P(k* >= 2) | ratio | {conf} interval | ratio, f not constant | "
        "k* shares 0..L | serial, 1 bit from f at k*-1 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for e in res.extra["results"]:
        alpha = e["branch_scale_spec"] + (f" ({e['branch_scale']:.3g})" if e["branch_scale_spec"] == "invsqrt" else "")
        ser = e["serial"]["hits"]
        nc = e["ratio_nonconstant"]
        out.append(
            f"| {e['blocks']} | {alpha} | {_p(e['parallel']['p'])} | {_p(e['serial']['p'])} | "
            f"{_r(e['ratio']['estimate'])} | {_ci(e['ratio']['ci'])} | "
            + (f"{_r(nc['estimate'])} {_ci(nc['ci'])} | " if e["blocks"] >= 2 else "n/a | ")
            + " ".join(f"{c / e['samples']:.3f}" for c in e["kstar_counts"])
            + (f" | {e['serial_one_bit'] / ser:.2f} |" if ser else " | - |")
        )
    out += ["", "Per named function (ratio P(f, k* <= 1) / P(f, k* >= 2) and interval; L >= 2):", ""]
    n = res.config["arch"]["n"]
    specs = list(dict.fromkeys(e["branch_scale_spec"] for e in res.extra["results"]))
    head = "| function | " + " | ".join(
        f"L={e['blocks']} a={e['branch_scale_spec']}" for e in res.extra["results"] if e["blocks"] >= 2
    )
    out += [head + " |", "|---" * (1 + sum(1 for e in res.extra["results"] if e["blocks"] >= 2)) + "|"]
    for name in NAMED:
        f = boolean.to_hex(boolean.parse_function(name, n))
        cells = []
        for e in res.extra["results"]:
            if e["blocks"] < 2:
                continue
            t = next((t for t in e["per_target"] if t["function"] == f), None)
            cells.append("-" if t is None else f"{_r(t['ratio'])} {_ci(t['ratio_ci'])}")
        out.append(f"| {name} ({f}) | " + " | ".join(cells) + " |")
    out += ["", "Functions whose ratio interval lies above 1 / below 1 / contains 1 / never seen:", ""]
    out += ["| L | " + " | ".join(f"alpha={s}" for s in specs) + " |", "|---" * (1 + len(specs)) + "|"]
    for L in sorted({e["blocks"] for e in res.extra["results"] if e["blocks"] >= 2}):
        cells = []
        for s in specs:
            e = next(e for e in res.extra["results"] if e["blocks"] == L and e["branch_scale_spec"] == s)
            v = e["target_verdicts"]
            cells.append(f"{v['above_1']} / {v['below_1']} / {v['contains_1']} / {v['no_hits']}")
        out.append(f"| {L} | " + " | ".join(cells) + " |")
    out += multiplicity_tables(res)
    return out


def multiplicity_tables(res) -> list[str]:
    """Holm-adjusted verdict counts per (L, alpha), then one row per symmetry class (report.multiplicity)."""
    cfg = res.config
    entries = res.extra["results"]
    m = multiplicity(entries, n=cfg["arch"]["n"], prior=cfg["prior"], encoding=cfg["encoding"],
                     confidence=cfg["confidence"], all_functions=True)  # fmt: skip
    specs = list(dict.fromkeys(c["branch_scale_spec"] for c in m["cells"]))
    out = ["", f"The same after Holm's correction over all {m['function_tests']} (function, L, alpha) tests "
           "(above 1 / below 1 / neither / never seen):", ""]  # fmt: skip
    out += ["| L | " + " | ".join(f"alpha={s}" for s in specs) + " |", "|---" * (1 + len(specs)) + "|"]
    for L in sorted({c["blocks"] for c in m["cells"]}):
        row = []
        for s in specs:
            v = next(c for c in m["cells"] if c["blocks"] == L and c["branch_scale_spec"] == s)["functions"]
            row.append(f"{v['above_1']} / {v['below_1']} / {v['contains_1']} / {v['no_hits']}")
        out.append(f"| {L} | " + " | ".join(row) + " |")
    n = cfg["arch"]["n"]
    sym = symmetry.prior_symmetry(cfg["prior"], cfg["encoding"])
    names: dict[str, list[str]] = {}
    for name in NAMED:
        rep = boolean.to_hex(symmetry.canonical(boolean.parse_function(name, n), n, sym))
        names.setdefault(rep, []).append(name)
    out += ["", f"Per symmetry class ({m['classes']} classes under {m['symmetry']}): the ratio of the counts "
            f"pooled over the class, `>1` / `<1` where its Holm-adjusted p-value over all {m['class_tests']} "
            "class tests is below 0.05, `~1` otherwise, `-` never seen:", ""]  # fmt: skip
    out += ["| class (size) | " + " | ".join(f"L={c['blocks']} a={c['branch_scale_spec']}" for c in m["cells"]) + " |",
            "|---" * (1 + len(m["cells"])) + "|"]  # fmt: skip
    for rep, first in m["cells"][0]["class_verdicts"].items():
        label = f"{rep} ({first['size']}" + (f"; {', '.join(names[rep])}" if rep in names else "") + ")"
        cells = []
        for c in m["cells"]:
            v = c["class_verdicts"][rep]
            cells.append("-" if v["verdict"] == "no_hits" else f"{_r(v['ratio'])} {SHORT_VERDICTS[v['verdict']]}")
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    out += ["", "Classes above 1 / below 1 / neither / never seen (Holm, as above):", ""]
    out += ["| L | " + " | ".join(f"alpha={s}" for s in specs) + " |", "|---" * (1 + len(specs)) + "|"]
    for L in sorted({c["blocks"] for c in m["cells"]}):
        row = []
        for s in specs:
            v = next(c for c in m["cells"] if c["blocks"] == L and c["branch_scale_spec"] == s)["class_counts"]
            row.append(f"{v['above_1']} / {v['below_1']} / {v['contains_1']} / {v['no_hits']}")
        out.append(f"| {L} | " + " | ".join(row) + " |")
    return out


def detour_rows(we_path: Path, goal_path: Path) -> list[str]:
    we, goal = load_json(we_path), load_json(goal_path)
    conf = f"{100 * we.config['confidence']:g}%"
    out = [
        f"| experiment | detour volume ({conf}) | direct volume ({conf}) | detour / direct ({conf}) |",
        "|---|---|---|---|",
    ]
    for label, res, a, b in (
        (f"D1 write-erase, ResMLP L={we.extra['blocks']} alpha={we.extra['branch_scale']:g}", we, "with_pair",
         "without_pair"),
        ("D2 goal, GoalNet", goal, "detour", "direct"),
    ):  # fmt: skip
        ea, eb, r = res.extra[a], res.extra[b], res.extra["ratio"]
        out.append(
            f"| {label} | {_p(ea['p'])} {_ci(ea['ci'])} | {_p(eb['p'])} {_ci(eb['ci'])} | "
            f"{_r(r['estimate'])} {_ci(r['ci'])} |"
        )
    out += ["", "Per named function:", "", "| function | D1 with pair / without (ratio, interval) | "
            "D2 detour / direct (ratio, interval) | D2 distinct goals |", "|---|---|---|---|"]  # fmt: skip
    n = goal.config["arch"]["n"]
    for name in NAMED:
        f = boolean.to_hex(boolean.parse_function(name, n))
        t1 = next((t for t in we.extra["per_target"] if t["function"] == f), None)
        t2 = next((t for t in goal.extra["per_target"] if t["function"] == f), None)
        c1 = (
            "-" if t1 is None else f"{t1['with_pair']} / {t1['without_pair']} ({_r(t1['ratio'])} {_ci(t1['ratio_ci'])})"
        )
        c2 = "-" if t2 is None else f"{t2['detour']} / {t2['direct']} ({_r(t2['ratio'])} {_ci(t2['ratio_ci'])})"
        c3 = "-" if t2 is None else str(t2["distinct_goals"])
        out.append(f"| {name} ({f}) | {c1} | {c2} | {c3} |")
    g = goal.extra
    out += [
        "",
        f"D2: {g['counts']['other']} networks in 'other'; {g['distinct_goals']} distinct goals among detours, "
        f"{g['distinct_function_goal_pairs']} distinct (f, g) pairs; direct because g constant "
        f"{g['direct_breakdown']['goal_constant']}, g = f or not f {g['direct_breakdown']['goal_is_f_or_not_f']}, "
        f"f survives a clamp {g['direct_breakdown']['survives_clamp']}.",
        "D1: networks with each pair cancelling: "
        + ", ".join(f"({k}) {v}" for k, v in we.extra["pair_counts"].items())
        + ".",
    ]
    return out


def main() -> int:
    """Print both tables."""
    print("\n".join(serial_parallel(HERE / "serial_parallel.json")))
    print()
    print("\n".join(detour_rows(HERE / "detour_write_erase.json", HERE / "detour_goal.json")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
