"""SGD learning rate against the flip-decisive lambda grid (issue 16): results/design/flip_decisive_lr_check.json.

Plain SGD at a fixed learning rate ``lr`` minimising ``L_S + lambda l_B`` takes steps of
size about ``lr * lambda`` in the pressure term, so the top of a grid that is too wide
for ``lr`` ends runs that do not fit S (``not_fit``): they only drop out of
``q = n_B / (n_A + n_B)``, and the top of the grid then measures nothing. This script
trains a few realistic pairs (chosen exactly as the plan chooses them, at the sizes of
the committed CPU run) over a wide grid at several learning rates and records, per
lambda, the fraction of runs ending on A, on B, on another function and not fitting S.

Run: PYTHONPATH=. python scripts/flip_decisive_lr_check.py  (about 10 minutes on a shared 2-core CPU)
"""

import json
import sys
import time
from pathlib import Path

import numpy as np

from countnets.experiments import flip_decisive as fd
from countnets.network.architectures import MLP
from countnets.network.priors import Gaussian
from countnets.train.conditional import conditional_prior
from countnets.train.training import TrainConfig

N, HIDDEN, M = 4, (8,), 6
LAMBDAS = [float(v) for v in np.geomspace(1e-4, 100.0, 19)]  # 3 per decade
LRS = (0.5, 0.1)
CANDIDATES = (0, 1, 2)
RUNS, STEPS, SAMPLES, SEED = 32, 300, 200_000, 0


def main() -> None:
    prior, arch = Gaussian(), MLP(N, HIDDEN)
    out = {"arch": arch.config(), "prior": prior.config(), "train_size": M, "lambdas": LAMBDAS, "runs": RUNS,
           "max_steps": STEPS, "samples": SAMPLES, "seed": SEED, "pairs": []}  # fmt: skip
    start = time.perf_counter()
    for cand in CANDIDATES:
        tset = fd.pair_training_set(N, M, SEED, cand)
        cp = conditional_prior(prior, arch, tset, n_samples=SAMPLES, seed=2 * (SEED * 1000 + cand))
        ranked = cp.ranked()
        (a, na), (b, nb) = ranked[0], ranked[1]  # the most competitive B: the hardest case for a stable top
        row = {"candidate": cand, "a": hex(a), "b": hex(b), "prior_counts": [na, nb], "by_lr": {}}
        for lr in LRS:
            cfg = TrainConfig(optimizer="sgd", learning_rate=lr, max_steps=STEPS)
            r = fd.train_lambda_star(prior, arch, tset, cfg, a, b, LAMBDAS, n_runs=RUNS,
                                     seed=2 * (SEED * 1000 + cand) + 1, n_boot=200)  # fmt: skip
            row["by_lr"][str(lr)] = {k: r[k] for k in ("a", "b", "other", "not_fit", "estimate", "censored")}
            print(cand, lr, "not_fit", r["not_fit"], "b", r["b"], f"{time.perf_counter() - start:.0f}s", flush=True)
        out["pairs"].append(row)
    out["seconds"] = time.perf_counter() - start
    path = Path(__file__).resolve().parents[1] / "results" / "design" / "flip_decisive_lr_check.json"
    path.write_text(json.dumps(out, indent=1, default=float) + "\n")
    print("wrote", path, file=sys.stderr)


if __name__ == "__main__":
    main()
