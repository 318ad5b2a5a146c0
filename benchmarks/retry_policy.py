"""The coverage of the default splitting policy, retry included, from the study's single-attempt rows (issue 25).

At the defaults, :func:`countnets.estimate_rare` reruns a run that is not determined
for too few effective replicas once, with ``retry_factor`` (4) times the particles, the
same seed (``countnets.rare.splitting._run_retrying``). A rerun is exactly the run with those
particles and that seed (``tests/test_splitting.py`` checks this bit for bit), so the
policy's result for seed ``s`` is the study's single-attempt row at 500 particles when that
run is determined or not retried, and its row at 2000 particles otherwise. This script
assembles the policy's rows that way, one case at a time, and refuses when a seed needs a
retried row the study does not have.

A run is retried when it is not determined and some replica reached the event (``p > 0``),
whatever its pilot's status. The script also reports how many of the retried runs had a
stalled pilot, which the single-attempt rows did not record: it reruns each such seed's
pilot (the pilot depends on the seed and options only).

Run: ``PYTHONPATH=. python benchmarks/retry_policy.py --truths benchmarks/results/exact-mlp-4-2-2-1-lattice-pm1.json
--out benchmarks/results/coverage-study-cpu-2026-12-07.json`` (adds a ``<case>/unit-gibbs/retry-4`` case for
every unit-gibbs case).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from coverage_study import CASES, DEEP, LATTICE, SMALL, exact_histogram, pick, summarise

from countnets import measures as M
from countnets.rare import splitting
from countnets.stats import reliability


def retried(run: dict, replicas: int) -> bool:
    """Whether the policy reruns this single-attempt run (``splitting._needs_retry``, from the stored fields)."""
    return not run["reliable"] and run["p"] > 0 and replicas >= reliability.MIN_EFFECTIVE_REPLICAS


def policy_runs(base: list[dict], more: list[dict] | None, factor: int) -> list[dict]:
    """The policy's run per seed: the base row, or the row with ``factor`` times the particles if it is retried."""
    by_seed = {r["seed"]: r for r in more or []}
    out = []
    for run in base:
        if not retried(run, splitting.DEFAULT_REPLICAS):
            out.append({**run, "particles": splitting.DEFAULT_PARTICLES})
            continue
        if run["seed"] not in by_seed:
            raise SystemExit(f"seed {run['seed']} is retried but the study has no run with {factor}x the particles")
        again = by_seed[run["seed"]]
        out.append({**again, "particles": splitting.DEFAULT_PARTICLES * factor, "first_attempt": run,
                    "seconds": again["seconds"] + run["seconds"]})  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--truths", required=True, help="JSON with the MLP 4-2-2-1 exact histogram")
    parser.add_argument("--out", required=True, help="the coverage study JSON; the policy's cases are added to it")
    args = parser.parse_args()
    factor = splitting.DEFAULT_RETRY_FACTOR
    report = json.loads(Path(args.out).read_text())
    data = json.loads(Path(args.truths).read_text())
    sources = {id(SMALL): exact_histogram(SMALL), id(DEEP): (data["histogram"], data["total"])}
    for name, (arch, aim) in CASES.items():
        base = report["cases"][f"{name}/unit-gibbs"]
        more = report["cases"].get(f"{name}/unit-gibbs/particles-{splitting.DEFAULT_PARTICLES * factor}")
        f, truth = pick(*sources[id(arch)], aim)
        assert f == base["function"] and truth == base["truth"], name
        measure, statuses = M.implements(f), {}
        for run in base["runs"]:
            if not run["reliable"]:
                pilot = splitting.run_pilot(LATTICE, arch, measure, seed=run["seed"], encoding="pm1")
                statuses[run["seed"]] = pilot.status
        runs = policy_runs(base["runs"], None if more is None else more["runs"], factor)
        key = f"{name}/unit-gibbs/retry-{factor}"
        report["cases"][key] = {"function": f, "truth": truth, "arch": base["arch"], "move": "unit-gibbs",
                                "retry_factor": factor, "first_particles": splitting.DEFAULT_PARTICLES,
                                "runs": runs, "summary": summarise(runs, truth),
                                "retried": sum("first_attempt" in r for r in runs),
                                "stalled_pilots_retried": sum(statuses.get(r["seed"]) == "stalled" for r in runs
                                                              if "first_attempt" in r)}  # fmt: skip
        print(key, report["cases"][key]["retried"], report["cases"][key]["summary"], flush=True)
    command = f"python benchmarks/retry_policy.py --truths {args.truths} --out {args.out}"
    if command not in report.setdefault("commands", []):
        report["commands"].append(command)
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
