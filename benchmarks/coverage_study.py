"""Coverage of splitting's determined intervals on structured events with exact truth (issue 25, item 5).

Each case is a lattice network whose every function's mass is known exactly by
enumeration; a case is rerun with seeds 0, 1, ... (each run its own pilot and 64
replicas, the defaults), and the study reports, per case: the fraction of runs the
reliability rule calls determined; among those, how many 95% intervals hold the truth,
with its Clopper-Pearson interval; and the median relative error of all estimates.
Compiled steps are shared by every seed of a case (one measure object), so a rerun costs
only its own sampling. Each run is one attempt (``retry_factor=1``): the default policy's
rerun with more particles is assembled from these rows by ``benchmarks/retry_policy.py``.

Run: ``PYTHONPATH=. python benchmarks/coverage_study.py --runs 100 --cases all`` (cases:
see ``CASES``). Resumable: finished runs are kept in the output JSON
(``benchmarks/results/coverage-study-<date>.json`` or ``--out``) and skipped on rerun.
The truths of the MLP 4-2-2-1 cases come from ``--truths PATH``, a JSON holding the
exact histogram of all 3^19 configurations (``--enumerate PATH`` writes it, several minutes).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import time
from pathlib import Path

import numpy as np

import countnets as cn
from countnets import measures as M
from countnets.stats import statistics

LATTICE = cn.Lattice((-1.0, 0.0, 1.0))
SMALL, DEEP = cn.MLP(3, (2,)), cn.MLP(4, (2, 2))
# name -> (architecture, target chooser): the target is the function whose exact mass is nearest the aim.
CASES = {"small-1e-4": (SMALL, 1e-4), "small-1e-5": (SMALL, 1.1e-5), "deep-1e-7": (DEEP, 1e-7),
         "deep-3e-9": (DEEP, 3.4e-9)}  # fmt: skip


def exact_histogram(arch) -> tuple[dict[str, int], int]:
    """Every function's configuration count for ``arch`` on the {-1, 0, 1} lattice, pm1 encoding."""
    r = cn.enumerate_exact(LATTICE, arch, encoding="pm1", top=0, chunk_size=1 << 16)
    return dict(r.histogram), r.samples


def pick(histogram: dict[str, int], total: int, aim: float) -> tuple[str, float]:
    """The function whose mass is nearest ``aim`` on a log scale (ties: the smallest hex)."""
    f = min(histogram, key=lambda k: (abs(math.log(histogram[k] / total) - math.log(aim)), int(k, 16)))
    return f, histogram[f] / total


def summarise(runs: list[dict], truth: float) -> dict:
    """Determined fraction, coverage among determined runs with its 95% Clopper-Pearson interval, median error."""
    determined = [r for r in runs if r["reliable"]]
    held = sum(r["ci"][0] <= truth <= r["ci"][1] for r in determined)
    undetermined = [r for r in runs if not r["reliable"]]
    out = {"runs": len(runs), "determined": len(determined), "determined_fraction": len(determined) / len(runs),
           "covered": held, "median_relative_error": float(np.median([abs(r["p"] / truth - 1) for r in runs])),
           "median_effective_replicas": float(np.median([r["effective_replicas"] for r in runs])),
           # A run that is not determined states only p > alpha p_hat (Markov): how often that holds.
           "one_sided_held": sum(r["ci"][0] <= truth for r in undetermined),
           "not_determined": len(undetermined)}  # fmt: skip
    if determined:
        out["coverage"] = held / len(determined)
        out["coverage_ci"] = list(statistics.clopper_pearson(held, len(determined), 0.95))
    return out


def markdown(report: dict) -> str:
    """The table docs/rare-events.md quotes: one row per case and move."""
    lines = ["| case | function | exact P | move | runs | determined | 95% intervals holding P (determined) | "
             "median relative error | median effective replicas | one-sided bound held (not determined) |",
             "|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for name, case in report["cases"].items():
        s = case["summary"]
        cover = "-"
        if s["determined"]:
            lo, hi = s["coverage_ci"]
            cover = f"{s['covered']} of {s['determined']} [{lo:.3f}, {hi:.3f}]"
        one_sided = f"{s['one_sided_held']} of {s['not_determined']}" if s["not_determined"] else "-"
        move = case.get("move", "auto")
        move += f", {case['particles']} particles" if case.get("particles") else ""
        move += f", at most {case['max_sweeps']} sweeps" if case.get("max_sweeps") else ""
        if case.get("retry_factor"):
            first = case["first_particles"]
            move += (f", the defaults: {first} particles, rerun with {first * case['retry_factor']} if not "
                     f"determined ({case['retried']} reruns)")  # fmt: skip
        lines.append(f"| {name.split('/')[0]} | {case['function']} | {case['truth']:.3g} | {move} | "
                     f"{s['runs']} | {s['determined']} | {cover} | {s['median_relative_error']:.3f} | "
                     f"{s['median_effective_replicas']:.1f} | {one_sided} |")  # fmt: skip
    return "\n".join(lines)


def merge(paths: list[str], out: str) -> None:
    """Join the cases of several study files into ``out``, each case's summary recomputed."""
    report: dict = {"cases": {}, "commands": []}
    for path in paths:
        data = json.loads(Path(path).read_text())
        report["commands"] += data["commands"] if "commands" in data else [data["command"]]
        report["versions"] = data["versions"]
        for name, case in data["cases"].items():
            case["summary"] = summarise(case["runs"], case["truth"])
            report["cases"][name] = case
    Path(out).write_text(json.dumps(report, indent=1) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="all", help="comma-separated names of CASES, or all")
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--truths", default=None, help="JSON with the MLP 4-2-2-1 exact histogram")
    parser.add_argument("--enumerate", default=None, help="write the MLP 4-2-2-1 exact histogram here and exit")
    parser.add_argument("--move", default="auto", help="the splitting move (countnets.rare.moves.MOVES)")
    parser.add_argument("--particles", type=int, default=None, help="particles per replica (default: the library's)")
    parser.add_argument("--max-sweeps", type=int, default=None, help="the pilot's mixing cap (default: no adaptation)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    if args.enumerate:
        hist, total = exact_histogram(DEEP)
        Path(args.enumerate).write_text(json.dumps({"total": total, "histogram": hist}))
        return
    names = list(CASES) if args.cases == "all" else args.cases.split(",")
    out_path = Path(args.out or f"benchmarks/results/coverage-study-{datetime.date.today()}.json")
    report = json.loads(out_path.read_text()) if out_path.exists() else {"cases": {}}
    report.update(command=" ".join(["python benchmarks/coverage_study.py", f"--runs {args.runs}",
                                    f"--cases {args.cases}", f"--move {args.move}"]
                                   + ([f"--particles {args.particles}"] if args.particles else [])
                                   + ([f"--max-sweeps {args.max_sweeps}"] if args.max_sweeps else [])),
                  versions=cn.results.runtime_info())  # fmt: skip
    small = exact_histogram(SMALL)
    deep = None
    if args.truths:
        data = json.loads(Path(args.truths).read_text())
        deep = (data["histogram"], data["total"])
    for name in names:
        arch, aim = CASES[name]
        source = small if arch is SMALL else deep
        if source is None:
            print(f"{name}: skipped (needs --truths)")
            continue
        f, truth = pick(*source, aim)
        measure = M.implements(f)  # one object: every seed reuses the compiled steps
        key = name if args.move == "auto" else f"{name}/{args.move}"
        key += f"/particles-{args.particles}" if args.particles else ""
        key += f"/max-sweeps-{args.max_sweeps}" if args.max_sweeps else ""
        case = report["cases"].setdefault(key, {"function": f, "truth": truth, "arch": arch.config(), "move": args.move,
                                                "runs": []})  # fmt: skip
        effort = {"particles": args.particles} if args.particles else {}
        effort.update({"max_sweeps": args.max_sweeps} if args.max_sweeps else {})
        case.update(effort)
        for seed in range(len(case["runs"]), args.runs):
            start = time.perf_counter()
            r = cn.estimate_rare(LATTICE, arch, measure, seed=seed, encoding="pm1", move=args.move, retry_factor=1,
                                 **effort)  # fmt: skip
            e = r.estimates[0]
            case["runs"].append({"seed": seed, "p": e.p, "ci": list(e.ci), "method": e.method,
                                 "reliable": bool(r.extra.reliable), "effective_replicas": r.extra.effective_replicas,
                                 "pilot_status": r.extra.pilot_status,
                                 "seconds": time.perf_counter() - start})  # fmt: skip
            case["summary"] = summarise(case["runs"], truth)
            out_path.write_text(json.dumps(report, indent=1) + "\n")
            print(key, seed, f"{e.p:.3e}", e.method, f"{r.extra.effective_replicas:.1f}", flush=True)
        print(key, case["summary"])


if __name__ == "__main__":
    main()
