"""Detours as n grows: the write-erase and goal detour/direct ratios at n = 3..6 (issue 15).

Run from the repository root, for example::

    python scripts/detour_vs_n.py --kind write-erase --n 3,4,5,6 --branch-scale 1,invsqrt,0.25 \
        --samples 200000 --out results/detour_vs_n/detour_vs_n
    python scripts/detour_vs_n.py --kind goal --n 3,4,5,6 --widths 2,4,8 --samples 200000 \
        --out results/detour_vs_n/detour_vs_n

Each run calls :func:`countnets.experiments.detour.detour_vs_n` and stores its rows
under the kind's key of ``OUT.json`` (the other kind's rows, if any, are kept), with
the command and its wall time; then it rewrites ``OUT.txt`` (both tables) and
``OUT.png`` (the pooled ratio against n, one panel per kind). ``--replot`` only redraws
the text and the figure from ``OUT.json``. Definitions: docs/circuits.md, "Detours as n grows".
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import countnets as cn
from countnets.experiments.detour import KINDS, detour_vs_n, format_detour_vs_n


def _ints(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def _plot(data: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = [k for k in KINDS if k in data]
    fig, axes = plt.subplots(1, len(kinds), figsize=(5.5 * len(kinds), 4.2), squeeze=False)
    for ax, kind in zip(axes[0], kinds, strict=True):
        rows = data[kind]["sweep"]["rows"]
        label = "alpha" if kind == "write-erase" else "width"
        for i, value in enumerate(dict.fromkeys(r[label] for r in rows)):
            sel = [r for r in rows if r[label] == value]
            ns = [r["n"] + 0.06 * (i - 1) for r in sel]
            for key, style, suffix in (("ratio", "o-", ""), ("ratio_nonconstant", "s--", ", f not constant")):
                est = [r[key] for r in sel]
                lo = [r[key] - r[f"{key}_ci"][0] for r in sel]
                hi = [r[f"{key}_ci"][1] - r[key] for r in sel]
                ax.errorbar(ns, est, yerr=[lo, hi], fmt=style, color=f"C{i}", capsize=3, ms=4,
                            alpha=1.0 if key == "ratio" else 0.6, label=f"{label} = {value}{suffix}")  # fmt: skip
        ax.axhline(1.0, color="gray", lw=0.8, ls=":")
        ax.set_yscale("log")
        ax.set_xticks(sorted({r["n"] for r in rows}))
        ax.set_xlabel("n (inputs)")
        ax.set_ylabel("with pair / without" if kind == "write-erase" else "detour (sum over g) / direct")
        ax.set_title(f"{kind}: pooled ratio vs n (95% intervals)", fontsize=10)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _g(x: float) -> str:
    return f"{x:.3g}"


def markdown(data: dict) -> str:
    """The docs table (docs/circuits.md, "Detours as n grows") of ``OUT.json``."""
    lines = ["| detour | n | alpha or width | detour / direct (95%) | f not constant (95%) | functions seen "
             "/ possible | goals seen |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for kind in (k for k in KINDS if k in data):
        for r in data[kind]["sweep"]["rows"]:
            label = r["alpha"] if kind == "write-erase" else f"w = {r['width']}"
            possible = r["possible_functions"]
            possible = f"{possible:,}" if possible < 10**6 else f"2^{possible.bit_length() - 1}"
            lines.append(
                f"| {kind} | {r['n']} | {label} | {_g(r['ratio'])} [{_g(r['ratio_ci'][0])}, {_g(r['ratio_ci'][1])}] "
                f"| {_g(r['ratio_nonconstant'])} [{_g(r['ratio_nonconstant_ci'][0])}, "
                f"{_g(r['ratio_nonconstant_ci'][1])}] | {r['distinct_functions']:,} / {possible} "
                f"| {'-' if kind == 'write-erase' else format(r['distinct_goals'], ',')} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kind", choices=KINDS, help="which detour to run (omit with --replot)")
    parser.add_argument("--n", type=_ints, default=[3, 4, 5, 6], help="input counts (default: 3,4,5,6)")
    parser.add_argument("--widths", type=_ints, default=[2, 4, 8], help="goal: GoalNet widths (default: 2,4,8)")
    parser.add_argument("--branch-scale", default="1,invsqrt,0.25", help="write-erase alphas (default: 1,invsqrt,0.25)")
    parser.add_argument("--samples", type=int, default=200_000, help="networks per run (default: 200000)")
    parser.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    parser.add_argument("--out", default="results/detour_vs_n/detour_vs_n", help="output stem: .json, .txt, .png")
    parser.add_argument("--replot", action="store_true", help="only redraw OUT.txt and OUT.png from OUT.json")
    parser.add_argument("--markdown", action="store_true", help="with --replot: also print the docs table")
    args = parser.parse_args(argv)
    out = Path(args.out)
    data = json.loads(out.with_suffix(".json").read_text()) if out.with_suffix(".json").exists() else {}
    if not args.replot:
        if args.kind is None:
            parser.error("--kind is required unless --replot")
        start = time.time()
        try:
            sweep = detour_vs_n(cn.Gaussian(1, 1), kind=args.kind, ns=args.n, widths=args.widths,
                                branch_scale=args.branch_scale, n_samples=args.samples, seed=args.seed,
                                encoding="pm1")  # fmt: skip
        except cn.CountnetsError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        command = "python scripts/detour_vs_n.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
        data[args.kind] = {"command": command, "wall_seconds": round(time.time() - start, 1), "sweep": sweep}
        out.with_suffix(".json").write_text(json.dumps(data, indent=1, allow_nan=False) + "\n")
    tables = []
    for kind in (k for k in KINDS if k in data):
        entry = data[kind]
        tables.append(f"$ {entry['command']}   # {entry['wall_seconds']:.0f} s wall\n"
                      + format_detour_vs_n(entry["sweep"]))  # fmt: skip
    out.with_suffix(".txt").write_text("\n\n".join(tables) + "\n")
    print("\n\n".join(tables))
    if data:
        _plot(data, out.with_suffix(".png"))
    if args.markdown:
        print("\n" + markdown(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
