"""How settled flip-decisive training is near each pair's lambda* (issue 16's "to convergence").

Run from the repository root on a result written with ``--check-steps K``::

    python scripts/flip_decisive_convergence.py results/flip_decisive_adam_check.json

Per pair and optimizer, ``unsettled`` (in the result) is, per lambda, the fraction of the
pair's runs whose function at step K differs from the one at the last step. Near lambda*
this script takes the larger value at the two grid values around lambda*, the lowest
grid value for a left-censored pair and the highest for a right-censored one, and prints
the median and the largest over pairs, how many pairs exceed 0.1 and 0.25, and the mean
over pairs at each lambda. Nothing is fitted; the definition is the one docs/training.md
states.
"""

from __future__ import annotations

import argparse
import bisect
import json
import statistics
from pathlib import Path


def unsettled_near_star(star: dict, lambdas: list[float]) -> float:
    """The unsettled fraction near lambda* of one pair's optimizer row (see the module docstring)."""
    grid = star["unsettled"][1:]  # the first value is lambda = 0
    if star["censored"] == "left":
        return float(grid[0])
    if star["censored"] == "right":
        return float(grid[-1])
    i = max(0, min(len(lambdas) - 2, bisect.bisect_right(lambdas, float(star["estimate"])) - 1))
    return float(max(grid[i], grid[i + 1]))


def summary(data: dict) -> dict[str, dict]:
    """Per optimizer: check steps, last step, the near-lambda* statistics and the per-lambda means."""
    lambdas = [float(v) for v in data["lambdas"]]
    out = {}
    for opt in data["config"]["optimizers"]:
        stars = [p["lambda_star"][opt] for p in data["pairs"]]
        near = [unsettled_near_star(s, lambdas) for s in stars]
        per_lambda = [statistics.fmean(s["unsettled"][j] for s in stars) for j in range(len(lambdas) + 1)]
        out[opt] = {
            "check_steps": stars[0]["check_steps"],
            "max_steps": data["config"]["training"]["max_steps"],
            "median": statistics.median(near),
            "max": max(near),
            "above_0.1": sum(v > 0.1 for v in near),
            "above_0.25": sum(v > 0.25 for v in near),
            "pairs": len(near),
            "mean_at_lambda0": per_lambda[0],
            "mean_peak": max(per_lambda[1:]),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("result", type=Path)
    data = json.loads(parser.parse_args().result.read_text())
    for opt, s in summary(data).items():
        print(f"{opt}: steps {s['check_steps']} vs {s['max_steps']}: unsettled near lambda* median {s['median']:.3g}, "
              f"max {s['max']:.3g}; above 0.1 in {s['above_0.1']} and above 0.25 in {s['above_0.25']} of "
              f"{s['pairs']} pairs; mean over pairs {s['mean_at_lambda0']:.3g} at lambda = 0, "
              f"peak {s['mean_peak']:.3g}")


if __name__ == "__main__":
    main()
