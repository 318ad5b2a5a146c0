"""Coverage of the splitting interval on cases with known truth (the study behind docs/rare-events.md).

Replicas are i.i.d. given their pilot, so disjoint groups of R replicas of one long run
are independent runs of R replicas; several seeds give several pilots. For each group
size R and confidence, the fraction of groups whose interval holds the truth is printed
for the interval countnets reports (``log-delta``: :func:`countnets.stats.statistics.replica_interval`)
and, for comparison, a plain t interval on the mean and Cox's lognormal interval.

Run: ``PYTHONPATH=. python benchmarks/splitting_coverage.py gauss-dead10 --seeds 4 --replicas 960``
(cases: ``gauss-dead10``, ``lattice-0x7e``, ``uniform-dead10``). Writes
``benchmarks/results/splitting-coverage-<case>-<date>.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import time
from pathlib import Path

import numpy as np
from scipy import stats

import countnets as cn
from countnets import measures as M
from countnets.stats.statistics import replica_interval


def _intervals(g: np.ndarray, confidence: float) -> dict[str, tuple[float, float]]:
    r = replica_interval(g, confidence)
    R = len(g)
    t = float(stats.t.ppf(1 - (1 - confidence) / 2, R - 1))
    m, se = g.mean(), g.std(ddof=1) / math.sqrt(R)
    out = {"log-delta": (r.lo, r.hi), "plain-t": (m - t * se, m + t * se), "cox": (0.0, 0.0)}
    if np.all(g > 0):
        log = np.log(g)
        centre, s2 = log.mean() + log.var(ddof=1) / 2, log.var(ddof=1)
        half = t * math.sqrt(s2 / R + s2**2 / (2 * (R - 1)))
        out["cox"] = (math.exp(centre - half), math.exp(centre + half))
    return out


def _case(name: str):
    dead = M.all_of(*[M.unit_dead(0, i) for i in range(10)])
    q = 0.25 + math.asin((0.5**2 - 1) / (0.5**2 + 1)) / (2 * math.pi)  # Gaussian(1, 0.5), pm1 cube
    return {
        "gauss-dead10": (cn.Gaussian(1.0, 0.5), cn.MLP(1, (10,)), dead, q**10),
        "lattice-0x7e": (cn.Lattice((-1.0, 0.0, 1.0)), cn.MLP(3, (2,)), M.implements("0x7e"), 2 / 3**11),
        "uniform-dead10": (cn.Uniform(1.5), cn.MLP(1, (10,)), dead, 0.25**10),
    }[name]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case", choices=["gauss-dead10", "lattice-0x7e", "uniform-dead10"])
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--replicas", type=int, default=960)
    parser.add_argument("--particles", type=int, default=500)
    args = parser.parse_args()
    prior, arch, measure, truth = _case(args.case)
    start = time.perf_counter()
    runs = [
        np.array(cn.estimate_rare(prior, arch, measure, seed=100 + s, replicas=args.replicas, particles=args.particles,
                                  encoding="pm1", devices=1, retry_factor=1).extra["replica_estimates"])
        for s in range(args.seeds)
    ]  # fmt: skip
    rows = []
    for R in (8, 16, 32):
        for confidence in (0.8, 0.9, 0.95):
            hits: dict[str, list[bool]] = {}
            for z in runs:
                for g in z[: len(z) // R * R].reshape(-1, R):
                    for kind, (lo, hi) in _intervals(g, confidence).items():
                        hits.setdefault(kind, []).append(lo <= truth <= hi)
            row = {"replicas": R, "confidence": confidence, "groups": len(hits["log-delta"])}
            row.update({kind: float(np.mean(v)) for kind, v in hits.items()})
            rows.append(row)
            print(row)
    z = np.concatenate(runs)
    summary = {
        "case": args.case, "truth": truth, "seeds": args.seeds, "replicas_per_seed": args.replicas,
        "particles": args.particles, "seconds": time.perf_counter() - start,
        "pooled_mean_over_truth": float(z.mean() / truth),
        "pooled_se_over_truth": float(z.std() / math.sqrt(z.size) / truth),
        "replica_cv": float(z.std() / z.mean()), "replica_skewness": float(stats.skew(z)), "coverage": rows,
    }  # fmt: skip
    print({k: v for k, v in summary.items() if k != "coverage"})
    out = Path(os.environ.get("COUNTNETS_BENCH_OUT", Path(__file__).parent / "results"))
    out.mkdir(parents=True, exist_ok=True)
    (out / f"splitting-coverage-{args.case}-{datetime.date.today().isoformat()}.json").write_text(
        json.dumps(summary, indent=1) + "\n"
    )


if __name__ == "__main__":
    main()
