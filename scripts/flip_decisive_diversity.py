"""Secondary flip-decisive analysis: diversity-term runs until B first appears, against ln O (issue 16).

For every pair of a committed flip-decisive plan, ``countnets.train.training.diverse_runs``
trains ``CHAINS`` independent chains of ``RUNS`` sequential SGD runs (the plan's network
and training set, ``lr = 0.5``, logistic loss, at most ``STEPS`` updates, stopping when
S is fitted). Run ``k`` of a chain minimises ``L_S + mu * max_g a_g`` over the functions
``g`` its earlier runs found (``mu = REWARD``); ``mu = 0`` is the baseline of independent
restarts from the same initialisations. Seeds are ``5 * 10**8 + train_seed`` (disjoint
from every seed of the plan and of the run).

Specified after the primary results were seen (the primary analysis was pre-registered;
this one was not), and fixed here before it ran:

* per chain, the first run (1-based) that ends on B and fits S; never within ``RUNS``
  runs is right censored (``> RUNS``);
* per pair and setting, the median over chains as an interval: censored chains count as
  ``RUNS + 1`` for the lower end and as infinity for the upper end (so the median is
  exact when more than half the chains found B, and ``[lower, inf)`` otherwise);
* against the plan's ln O: Kendall tau-a for interval-censored data
  (``censored.interval_kendall``: 95% bootstrap interval over pairs, permutation p) and
  the Tobit slope (``censored.interval_regression``), for ``mu = REWARD`` (the diversity
  term) and for ``mu = 0`` (restarts). The conjecture predicts a positive relation.

Writes results/flip_decisive_diversity.json.
Run: PYTHONPATH=. python scripts/flip_decisive_diversity.py  (about 10 minutes on a shared 2-core CPU)
"""

import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from countnets.experiments.flip_decisive import censored
from countnets.network.architectures import MLP
from countnets.network.priors import Gaussian
from countnets.records import encode_float
from countnets.train.training import TrainConfig, TrainingSet, diverse_runs

ROOT = Path(__file__).resolve().parents[1]
CHAINS, RUNS, STEPS, REWARD, LR = 16, 48, 300, 1.0, 0.5
SEED_OFFSET = 5 * 10**8


def median_interval(first: list[float], runs: int) -> tuple[float, float]:
    """The median over chains of the first-appearance run, as ``(lo, hi)`` (``inf`` marks a censored chain)."""
    lo = float(np.median([min(v, runs + 1) for v in first]))
    srt = sorted(first)
    m = len(srt)
    mid = srt[(m - 1) // 2 : m // 2 + 1]
    hi = math.inf if any(math.isinf(v) for v in mid) else float(np.median(srt))
    return lo, hi


def analyse(x: list[float], bounds: list[tuple[float, float]]) -> dict:
    lo = [b[0] for b in bounds]
    hi = [b[1] for b in bounds]
    out = {"kendall": censored.interval_kendall(x, lo, hi), "regression": None}
    try:
        out["regression"] = censored.interval_regression(lo, hi, x)
    except Exception as err:  # noqa: BLE001 - report why the fit is not available
        out["note"] = str(err)
    return out


def clean(value):
    """JSON-ready: non-finite floats as ``"inf"``/``"-inf"``/``"nan"`` (:func:`countnets.records.encode_float`)."""
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if isinstance(value, float):
        return encode_float(value)
    return value


def main() -> None:
    plan = json.loads((ROOT / "results" / "flip_decisive_plan.json").read_text())
    arch = MLP(plan["arch"]["n"], tuple(plan["arch"]["hidden"]))
    prior = Gaussian()
    if arch.config() != plan["arch"] or prior.config() != plan["prior"]:
        raise SystemExit("this script expects the committed plan's MLP and default Gaussian prior")
    cfg = TrainConfig(optimizer="sgd", learning_rate=LR, max_steps=STEPS)
    rows, start = [], time.perf_counter()
    for p in plan["pairs"]:
        tset = TrainingSet(arch.n, int(p["target"], 16), tuple(p["train_points"]))
        b = int(p["b"], 16)
        seed = SEED_OFFSET + int(p["train_seed"])
        r = diverse_runs(prior, arch, tset, cfg, n_runs=RUNS, chains=CHAINS, rewards=(0.0, REWARD), seed=seed)
        hit = (r.tables == b) & r.fit
        row = {"slot": p["slot"], "log_odds": float(p["log_odds"]), "seed": seed}
        for g, name in enumerate(("restarts", "diverse")):
            first = [float(np.argmax(h) + 1) if h.any() else math.inf for h in hit[g]]
            distinct = [len({int(t) for t, f in zip(r.tables[g, c], r.fit[g, c], strict=True) if f})
                        for c in range(CHAINS)]  # fmt: skip
            row[name] = {"first": first, "median": list(median_interval(first, RUNS)),
                         "found": int(sum(math.isfinite(v) for v in first)), "distinct_mean": float(np.mean(distinct)),
                         "not_fit": int((~r.fit[g]).sum())}  # fmt: skip
        rows.append(row)
        print(p["slot"], row["restarts"]["median"], row["diverse"]["median"], f"{time.perf_counter() - start:.0f}s",
              flush=True)  # fmt: skip
    x = [r["log_odds"] for r in rows]
    out = {
        "plan": "results/flip_decisive_plan.json", "chains": CHAINS, "runs": RUNS, "max_steps": STEPS,
        "reward": REWARD, "lr": LR, "optimizer": "sgd", "pairs": rows,
        "analysis": {name: analyse(x, [tuple(r[name]["median"]) for r in rows]) for name in ("diverse", "restarts")},
        "seconds": time.perf_counter() - start,
    }  # fmt: skip
    path = ROOT / "results" / "flip_decisive_diversity.json"
    path.write_text(json.dumps(clean(out), indent=1) + "\n")
    print("wrote", path, file=sys.stderr)


if __name__ == "__main__":
    main()
