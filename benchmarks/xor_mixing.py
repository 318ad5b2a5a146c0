"""Effective replicas on XOR-and-XOR at the defaults over many seeds (issue 25's mixing target), one process.

ResMLP n = 4, d = 8, L = 3, w = 2, branch scale 1, Gaussian(1, 1), pm1, target
XOR-and-XOR (0x660), 64 replicas of 500 particles, 8 sweeps, the default move (``ess``),
one attempt per seed (``retry_factor=1``: the figure is the moves' mixing, not the
rerun's). The target of issue 25: the median effective replicas at least half the
replicas (32 of 64). Compiled steps are shared by every seed (one measure object).

Run: ``PYTHONPATH=. python benchmarks/xor_mixing.py --seeds 1-11 --out benchmarks/results/xor-mixing-cpu-<date>.json``
(resumable: seeds already in ``--out`` are skipped).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import countnets as cn
from countnets.measures import composition
from countnets.stats import statistics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1-11", help="first-last, inclusive")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    first, last = (int(v) for v in args.seeds.split("-"))
    arch, prior = cn.ResMLP(n=4, d=8, L=3, w=2, branch_scale=1.0), cn.Gaussian(1.0, 1.0)
    table = composition.target_table("xor-and-xor", 4)
    measure = cn.measures.implements(int(sum(int(b) << j for j, b in enumerate(table))))
    path = Path(args.out)
    report = json.loads(path.read_text()) if path.exists() else {"runs": []}
    report.update(command=f"python benchmarks/xor_mixing.py --seeds {args.seeds} --out {args.out}",
                  versions=cn.results.runtime_info())  # fmt: skip
    done = {r["seed"] for r in report["runs"]}
    for seed in range(first, last + 1):
        if seed in done:
            continue
        start = time.perf_counter()
        r = cn.estimate_rare(prior, arch, measure, seed=seed, encoding="pm1", retry_factor=1)
        e = r.estimates[0]
        report["runs"].append({"seed": seed, "p": e.p, "ci": list(e.ci), "method": e.method,
                               "reliable": bool(r.extra.reliable), "effective_replicas": r.extra.effective_replicas,
                               "replicas": r.samples, "move": r.extra.move,
                               "seconds": time.perf_counter() - start})  # fmt: skip
        kish = np.array([run["effective_replicas"] for run in report["runs"]])
        report["summary"] = {"runs": len(kish), "median_effective_replicas": float(np.median(kish)),
                             "at_least_half": int((kish >= 32).sum()),
                             "at_least_half_ci": list(statistics.clopper_pearson(int((kish >= 32).sum()), len(kish))),
                             "determined": sum(run["reliable"] for run in report["runs"])}  # fmt: skip
        path.write_text(json.dumps(report, indent=1) + "\n")
        print(seed, f"{e.p:.3e}", e.method, f"{r.extra.effective_replicas:.1f}", flush=True)
    print(report.get("summary"))


if __name__ == "__main__":
    main()
