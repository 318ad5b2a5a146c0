"""AND of n inputs on the Gaussian perceptron by splitting, against an independent reference (issue 25).

For each n and move, one ``cn.estimate_rare`` run at the library's defaults (64 replicas,
500 particles, the pilot's mixing check) on ``MLP(n, ())`` under ``Gaussian(1, 1)``, pm1,
``implements("and")``; the reference is ``countnets.bench.references.perceptron_and_pm1``
(the bias integrated exactly inside a NumPy Monte Carlo average over the weights, relative
standard error below 0.1%). Reports the estimate, its 95% interval, whether the rule calls
it determined, whether the interval holds the reference, the effective replicas and the
CPU seconds.

Run: ``PYTHONPATH=. python benchmarks/and_perceptron.py --n 8 10 12 --moves ess pcn``
(writes ``benchmarks/results/and-perceptron-<platform>-<date>.json``, or ``--out``;
resumable: rows already in the output are kept and skipped).
"""

from __future__ import annotations

import argparse
import datetime
import json
import time
from pathlib import Path

import jax

import countnets as cn
from countnets.bench.references import perceptron_and_pm1

REFERENCE_SAMPLES = 1 << 24


def run_one(n: int, move: str, seed: int) -> dict:
    """One splitting run of AND_n with ``move`` and its comparison with the reference."""
    ref, se = (float(v) for v in perceptron_and_pm1(n, samples=REFERENCE_SAMPLES))
    wall, cpu = time.perf_counter(), time.process_time()
    r = cn.estimate_rare(cn.Gaussian(1.0, 1.0), cn.MLP(n, ()), "and", encoding="pm1", move=move, seed=seed,
                         retry_factor=1)  # one attempt: the moves compared as they are
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    e, x = r.estimates[0], r.extra
    return {"n": n, "move": move, "seed": seed, "p": e.p, "ci": list(e.ci), "confidence": e.confidence,
            "reliable": x.reliable, "effective_replicas": x.effective_replicas, "replicas": r.samples,
            "pilot_status": x.pilot_status, "levels": x.n_levels, "sweeps": [lv.sweeps for lv in x.levels],
            "reference": ref, "reference_se": se, "holds_reference": bool(e.ci[0] <= ref <= e.ci[1]),
            "relative_error": e.p / ref - 1, "wall_s": wall, "cpu_s": cpu}  # fmt: skip


def markdown(report: dict) -> str:
    """The table docs/rare-events.md quotes: one row per (n, move)."""
    lines = ["| n | move | estimate [95% interval] | reference | determined | holds the reference | "
             "effective replicas | CPU s |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in report["rows"]:
        est = f"{r['p']:.4g} [{r['ci'][0]:.4g}, {r['ci'][1]:.4g}]"
        est = est if r["reliable"] else f"{r['p']:.4g} (not determined)"
        lines.append(f"| {r['n']} | {r['move']} | {est} | {r['reference']:.4g} | {'yes' if r['reliable'] else 'no'} | "
                     f"{'yes' if r['holds_reference'] else 'no'} | {r['effective_replicas']:.1f} of {r['replicas']} | "
                     f"{r['cpu_s']:.0f} |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[8, 10, 12])
    parser.add_argument("--moves", nargs="+", default=["ess", "pcn"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    device = jax.devices()[0]
    date = datetime.date.today().isoformat()
    out = Path(args.out or Path(__file__).parent / "results" / f"and-perceptron-{device.platform}-{date}.json")
    report = json.loads(out.read_text()) if out.exists() else {
        "device": f"{device.platform}: {device.device_kind}", "date": date, "jax_version": jax.__version__,
        "command": "PYTHONPATH=. python benchmarks/and_perceptron.py " + " ".join(
            [f"--n {' '.join(map(str, args.n))}", f"--moves {' '.join(args.moves)}", f"--seed {args.seed}"]),
        "reference_samples": REFERENCE_SAMPLES, "rows": []}  # fmt: skip
    done = {(row["n"], row["move"], row["seed"]) for row in report["rows"]}
    for n in args.n:
        for move in args.moves:
            if (n, move, args.seed) in done:
                continue
            row = run_one(n, move, args.seed)
            report["rows"].append(row)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(report, indent=1) + "\n")
            print(f"AND_{n} [{move}]: {row['p']:.4g} [{row['ci'][0]:.4g}, {row['ci'][1]:.4g}] reference "
                  f"{row['reference']:.4g}; determined {row['reliable']}, holds {row['holds_reference']}, "
                  f"{row['effective_replicas']:.1f} effective replicas, {row['cpu_s']:.0f} CPU s",
                  flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
