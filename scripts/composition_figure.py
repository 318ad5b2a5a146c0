"""Figure and docs table of the composition splitting runs (issue 15, docs/composition.md).

Run from the repository root after the runs named in docs/composition.md::

    python scripts/composition_figure.py            # writes results/composition_splitting.png
    python scripts/composition_figure.py --markdown # prints the docs table instead

Left panel: P(k* = k | f) for f = XOR(x0,x1) AND XOR(x2,x3), per L (w = 2 and w = 1,
alpha = 1), from the splitting populations. Right panel: the measured parallel/serial
ratio P(f, k* = 1) / P(f, k* = 2) with its 95% interval against L, beside the
placement null. Nothing is fitted; every number is read from the committed JSON.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from scipy import stats

import countnets as cn
from countnets import _io
from countnets.experiments import composition
from countnets.stats.statistics import holm

ROOT = Path(__file__).resolve().parents[1]
RUNS = ("composition_splitting.json", "composition_splitting_alpha.json", "composition_splitting_n.json",
        "composition_splitting_parity4.json")


def group_rows() -> list[dict]:
    """One row per (target, n, L, w, alpha) of the splitting runs, in run order (the group's first form's row)."""
    return composition.group_rows([row for name in RUNS for row in cn.load_json(ROOT / "results" / name).extra["rows"]])


def _num(value) -> float:
    return float(value) if value not in (None, "nan") else math.nan


def _fmt(value, digits: int = 3) -> str:
    v = _num(value)
    if math.isnan(v):
        return "-"
    return "inf" if math.isinf(v) else f"{v:.{digits}g}"


def ratio_pvalues(rows: list[dict]) -> dict[int, float]:
    """Two-sided p-value of ratio = 1 per row index, from the stored delta-method t interval.

    ``ratio_of_means`` gives ``R -+ t se`` with ``t`` at ``replicas - 1`` degrees of freedom;
    the upper end is never clipped, so ``se = (hi - R) / t`` and the test of 1 is
    ``2 sf(|R - 1| / se)``. Rows whose ratio has no interval (a mass no particle carries)
    get no p-value.
    """
    out = {}
    for i, r in enumerate(rows):
        ratio = r.get("ratio")
        if ratio is None:
            continue
        est, hi = _num(ratio["estimate"]), _num(ratio["ci"][1])
        if not (math.isfinite(est) and math.isfinite(hi)) or hi <= est:
            continue
        df = r["splitting"]["replicas"] - 1
        se = (hi - est) / float(stats.t.ppf(1 - (1 - float(ratio["confidence"])) / 2, df))
        out[i] = float(2 * stats.t.sf(abs(est - 1) / se, df))
    return out


def one_bit_fraction(row: dict) -> float:
    """P(the order k*-1 table is one bit from f | f): the "perturbed" share of f's volume."""
    kg, ham = row["kstar_given_f"], row["hamming"]
    total = 0.0
    for k, dist in ham.items():
        p = _num(kg[k]["p"])
        if math.isfinite(p) and len(dist) > 1:
            total += p * float(dist[1])
    return total


def markdown(rows: list[dict]) -> str:
    """The docs table: P(f), hi/lo, replicas reaching f, P(k* = k | f), the one-bit share, the ratio and its test."""
    pvals = ratio_pvalues(rows)
    adjusted = dict(zip(pvals, holm(list(pvals.values())).tolist(), strict=True)) if pvals else {}
    lines = [
        "| n | L | w | alpha | P(f) | 95% interval | hi/lo | replicas reaching f | P(k* = k \\| f), k = 1, 2, ... "
        "| one bit from f at k*-1 | parallel/serial ratio (95%) | Holm p (ratio = 1) | placement null |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(rows):
        lo, hi = (_num(v) for v in r["p"]["ci"])
        factor = "upper bound" if r["p"]["p"] == 0 else _fmt(hi / lo)
        kg = r["kstar_given_f"]
        dist = ", ".join(_fmt(kg[str(k)]["p"], 2) for k in range(1, r["blocks"] + 1))
        ratio = r.get("ratio")
        ratio_text = "-"
        if ratio is not None:
            ratio_text = f"{_fmt(ratio['estimate'])} [{_fmt(ratio['ci'][0])}, {_fmt(ratio['ci'][1])}]"
        null = "-" if r.get("placement_null_ratio") is None else _fmt(r["placement_null_ratio"])
        sp = r["splitting"]
        one_bit = "-" if r["p"]["p"] == 0 else _fmt(one_bit_fraction(r), 2)
        lines.append(
            f"| {r['n']} | {r['blocks']} | {r['w']} | {r['branch_scale_spec']} | {_fmt(r['p']['p'])} | "
            f"[{_fmt(lo)}, {_fmt(hi)}] | {factor} | {sp['replicas_reaching']} of {sp['replicas']} | {dist} | "
            f"{one_bit} | {ratio_text} | {_fmt(adjusted[i], 2) if i in adjusted else '-'} | {null} |"
        )
    return "\n".join(lines)


def plot(rows: list[dict], path: Path) -> None:
    """Write the two-panel figure to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    main = [r for r in rows if r["n"] == 4 and r["branch_scale_spec"] == "1" and r["target"] == "xor-and-xor"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for w, marker in ((2, "o"), (1, "s")):
        for r in (r for r in main if r["w"] == w):
            ks = range(1, r["blocks"] + 1)
            left.plot([k / r["blocks"] for k in ks], [_num(r["kstar_given_f"][str(k)]["p"]) for k in ks],
                      marker=marker, label=f"L={r['blocks']} w={w}")  # fmt: skip
    left.set_xlabel("k* / L")
    left.set_ylabel("P(k* = k | f)")
    left.set_title("k* of networks implementing f (splitting populations)", fontsize=9)
    left.legend(fontsize=7, ncol=2)
    pairs = [r for r in main if r.get("ratio") is not None]
    for r in pairs:
        est, lo, hi = (_num(v) for v in (r["ratio"]["estimate"], *r["ratio"]["ci"]))
        if math.isnan(est):
            continue
        shown_lo = max(lo, 1e-6)
        right.errorbar([r["blocks"]], [max(est, 1e-6)], yerr=[[max(est, 1e-6) - shown_lo], [hi - max(est, 1e-6)]],
                       fmt="o", color="C0", capsize=3)  # fmt: skip
    right.plot([r["blocks"] for r in pairs], [r["placement_null_ratio"] for r in pairs], "k--", label="placement null")
    bench = {r["name"]: r for r in json.loads((ROOT / "results" / "benchmark-suite.json").read_text())["rows"]}
    rep = bench.get("exp-composition")
    if rep is not None:  # the same cell with another seed: the standard suite's row (99.9% interval)
        est, (lo, hi) = float(rep["estimate"]), (float(v) for v in rep["interval"])
        x = rep["config"]["blocks"] + 0.15
        right.errorbar([x], [est], yerr=[[est - max(lo, 1e-6)], [hi - est]], fmt="x", color="C3", capsize=3,
                       label="same cell, another seed (bench, 99.9%)")  # fmt: skip
    right.axhline(1.0, color="grey", lw=0.8)
    right.set_yscale("log")
    right.set_xlabel("L (w = 2, alpha = 1)")
    right.set_ylabel("P(f, k*=1) / P(f, k*=2)")
    right.set_title("parallel/serial volume, 95% intervals (lower ends at 0 drawn at 1e-6)", fontsize=9)
    right.legend(fontsize=8)
    fig.tight_layout()
    _io.write_figure(fig, path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", action="store_true", help="print the docs table instead of drawing")
    parser.add_argument("--out", default=str(ROOT / "results" / "composition_splitting.png"))
    args = parser.parse_args()
    rows = group_rows()
    if args.markdown:
        print(markdown(rows))
    else:
        plot(rows, Path(args.out))


if __name__ == "__main__":
    main()
