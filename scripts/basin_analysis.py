"""The basin experiment's analysis (issue 30, docs/basin.md), fixed before its results existed.

Run from the repository root after the two runs named in docs/basin.md::

    python scripts/basin_analysis.py                 # writes results/basin_analysis.json
    python scripts/basin_analysis.py --markdown      # prints the docs tables instead

Inputs: ``results/basin.json`` (the main run: 50 anchors x 3 tolerances) and
``results/basin_subset.json`` (its first 10 anchors at tolerance 0.03, rerun with a
64-point star grid and 4096 radial directions; same seed, so the same anchors and the
same splitting seeds). Every number is read from them; nothing is fitted.

The analysis, in the order docs/basin.md states it:

A. Determination: basins and star basins determined, of all rows (the issue asks 80%).
B. Share of P(f) in one basin, per tolerance, over rows with both determined: the median
   and quartiles of ``basin / P(f)``.
C. Radial against splitting, per tolerance, over rows whose star basin is determined:
   how many radial estimates lie below, inside and above the star basin's interval, the
   fraction below and the fraction above with Clopper-Pearson intervals at
   ``1 - 0.05 / 3`` (Bonferroni over the three tolerances), and the median and quartiles
   of ``log10(radial / star)``. Verdict per tolerance: "radial below" when the fraction
   below has its whole interval above 1/2, "radial above" likewise, else "not detected".
   The same against the full basin, as a secondary.
D. The star grid (subset): per row, star basin on 64 points over star basin on 16
   points, and whether their intervals overlap.
E. The radial directions (subset): per row, the radial estimate with 4096 directions
   over that with 256, and where the 4096-direction estimate falls against the star
   basin's interval.
F. Basins of one function: for functions with at least three anchors at a tolerance,
   the largest over the smallest determined basin (descriptive only: the run trains
   networks and does not sample anchors of the same function any other way, so it
   cannot say whether training lands in the largest basins).
"""

from __future__ import annotations

import argparse
import json
import math
from collections import defaultdict
from pathlib import Path

import numpy as np

from countnets.stats.statistics import clopper_pearson

ROOT = Path(__file__).resolve().parents[1]
MAIN = ROOT / "results" / "basin.json"
SUBSET = ROOT / "results" / "basin_subset.json"
OUT = ROOT / "results" / "basin_analysis.json"
FAMILY = 3  # tolerances: the Bonferroni family of analysis C
CONFIDENCE = 1 - 0.05 / FAMILY


def _rows(path: Path) -> list[dict]:
    return json.loads(path.read_text())["rows"]


def _quartiles(values: list[float]) -> dict | None:
    if not values:
        return None
    q1, q2, q3 = (float(v) for v in np.percentile(values, [25, 50, 75]))
    return {"median": q2, "q1": q1, "q3": q3, "n": len(values)}


def _fraction(k: int, n: int) -> dict:
    lo, hi = clopper_pearson(k, n, CONFIDENCE) if n else (0.0, 1.0)
    return {"k": k, "n": n, "fraction": k / n if n else None, "ci": [float(lo), float(hi)], "confidence": CONFIDENCE}


def _against(rows: list[dict], name: str) -> dict:
    """Radial estimate against the interval of ``row[name]`` (determined rows only)."""
    kept = [r for r in rows if r[name]["reliable"] and r[name]["p"] > 0]
    below = sum(r["radial"]["estimate"] < r[name]["ci"][0] for r in kept)
    above = sum(r["radial"]["estimate"] > r[name]["ci"][1] for r in kept)
    logs = [math.log10(r["radial"]["estimate"] / r[name]["p"]) for r in kept if r["radial"]["estimate"] > 0]
    frac_below, frac_above = _fraction(below, len(kept)), _fraction(above, len(kept))
    verdict = ("radial below" if frac_below["ci"][0] > 0.5 else "radial above" if frac_above["ci"][0] > 0.5
               else "not detected")  # fmt: skip
    return {"rows": len(kept), "below": below, "inside": len(kept) - below - above, "above": above,
            "fraction_below": frac_below, "fraction_above": frac_above, "radial_zero": len(kept) - len(logs),
            "log10_ratio": _quartiles(logs), "verdict": verdict}  # fmt: skip


def analyse(main: list[dict], subset: list[dict]) -> dict:
    """Analyses A to F of the module docstring, as one JSON-ready dict."""
    tolerances = sorted({r["tolerance"] for r in main})
    by_tol = {t: [r for r in main if r["tolerance"] == t] for t in tolerances}
    out: dict = {"tolerances": tolerances}
    out["A_determined"] = {"rows": len(main), "basin": sum(r["basin"]["reliable"] for r in main),
                           "star": sum(r["basin_star"]["reliable"] for r in main)}  # fmt: skip
    out["B_share_of_p_f"] = {
        str(t): _quartiles([r["basin"]["p"] / r["p_f"]["p"] for r in rows
                            if r["basin"]["reliable"] and r["p_f"]["reliable"] and r["p_f"]["p"] > 0])
        for t, rows in by_tol.items()
    }  # fmt: skip
    out["C_radial_vs_star"] = {str(t): _against(rows, "basin_star") for t, rows in by_tol.items()}
    out["C_radial_vs_basin"] = {str(t): _against(rows, "basin") for t, rows in by_tol.items()}

    base = {(r["anchor"], r["tolerance"]): r for r in main}
    pairs = []
    for r in subset:
        b = base[(r["anchor"], r["tolerance"])]
        if b["anchor_theta"] != r["anchor_theta"]:
            raise SystemExit(f"anchor {r['anchor']} differs between the runs: not the same anchors")
        pairs.append((b, r))
    grid = []
    for b, s in pairs:
        b_star, s_star = b["basin_star"], s["basin_star"]
        if b_star["reliable"] and s_star["reliable"] and b_star["p"] > 0:
            overlap = s_star["ci"][0] <= b_star["ci"][1] and b_star["ci"][0] <= s_star["ci"][1]
            grid.append((s_star["p"] / b_star["p"], overlap))
    out["D_star_grid_64_over_16"] = {"ratio": _quartiles([g[0] for g in grid]),
                                     "overlapping": sum(g[1] for g in grid), "rows": len(grid)}  # fmt: skip
    dirs = [s["radial"]["estimate"] / b["radial"]["estimate"] for b, s in pairs if b["radial"]["estimate"] > 0]
    out["E_radial_4096_over_256"] = {"ratio": _quartiles(dirs), "rows": len(dirs),
                                     "zero_at_256": sum(b["radial"]["estimate"] == 0 for b, _ in pairs),
                                     "against_star_64": _against([s for _, s in pairs], "basin_star")}  # fmt: skip
    spread = defaultdict(list)
    for r in main:
        if r["basin"]["reliable"]:
            spread[(r["function"], r["tolerance"])].append(r["basin"]["p"])
    out["F_one_function"] = [{"function": f, "tolerance": t, "anchors": len(v), "max_over_min": max(v) / min(v)}
                             for (f, t), v in sorted(spread.items()) if len(v) >= 3]  # fmt: skip
    return out


def _cell(q: dict | None, fmt: str = ".3g") -> str:
    return "-" if q is None else f"{q['median']:{fmt}} [{q['q1']:{fmt}}, {q['q3']:{fmt}}] (n = {q['n']})"


def markdown(a: dict) -> str:
    """The docs tables of analyses A to E."""
    lines = [f"Determined: {a['A_determined']['basin']} of {a['A_determined']['rows']} basins, "
             f"{a['A_determined']['star']} of {a['A_determined']['rows']} star basins.", "",
             "| tolerance | basin / P(f): median [quartiles] | radial vs star: below / inside / above | "
             "fraction below (98.3% CP) | log10(radial / star): median [quartiles] | verdict |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for t in a["tolerances"]:
        c = a["C_radial_vs_star"][str(t)]
        fb = c["fraction_below"]
        fraction = "-" if fb["fraction"] is None else f"{fb['fraction']:.2f} [{fb['ci'][0]:.2f}, {fb['ci'][1]:.2f}]"
        lines.append(f"| {t:g} | {_cell(a['B_share_of_p_f'][str(t)])} | {c['below']} / {c['inside']} / "
                     f"{c['above']} | {fraction} | {_cell(c['log10_ratio'], '.2f')} | {c['verdict']} |")  # fmt: skip
    d, e = a["D_star_grid_64_over_16"], a["E_radial_4096_over_256"]
    lines += ["", f"Subset (tolerance 0.03, first 10 anchors): star basin on 64 points / on 16 points "
              f"{_cell(d['ratio'])}, intervals overlapping in {d['overlapping']} of {d['rows']}; radial with 4096 "
              f"directions / with 256 {_cell(e['ratio'])}."]  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--markdown", action="store_true", help="print the docs tables instead of writing JSON")
    args = parser.parse_args()
    analysis = analyse(_rows(MAIN), _rows(SUBSET))
    if args.markdown:
        print(markdown(analysis))
        return
    OUT.write_text(json.dumps(analysis, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
