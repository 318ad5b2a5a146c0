"""Compare splitting moves on one structured event: estimate, Kish effective replicas, extinct replicas, time.

Run from the repository root:
``python scripts/mixing_compare.py xor ess 32 0`` (case, move, replicas, seed; cases
``xor`` and ``parity`` on ResMLP n = 4, d = 8, L = 3, w = 2, Gaussian(1, 1), pm1, and
``lattice`` on MLP 4-2-2-1 over {-1, 0, 1}, 01 encoding, with the target as a fifth
argument, default ``parity``; ``-`` keeps the default) and the pilot's mixing cap
``max_sweeps`` as a sixth (default: none, no adaptation). One line per call; single runs,
not a coverage study. One attempt (``retry_factor=1``): the figures are the moves' mixing.
"""

from __future__ import annotations

import sys
import time

import numpy as np

import countnets as cn
from countnets.measures import composition
from countnets.stats import reliability


def main(argv: list[str]) -> None:
    """Run one case with one move and print one line."""
    which, move = argv[0], argv[1]
    replicas = int(argv[2]) if len(argv) > 2 else 32
    seed = int(argv[3]) if len(argv) > 3 else 0
    if which in ("xor", "parity"):
        arch, prior, encoding = cn.ResMLP(n=4, d=8, L=3, w=2, branch_scale=1.0), cn.Gaussian(1.0, 1.0), "pm1"
        table = composition.target_table("xor-and-xor", 4)
        target = int(sum(int(b) << j for j, b in enumerate(table))) if which == "xor" else "parity"
    else:
        arch, prior, encoding = cn.MLP(4, (2, 2)), cn.Lattice((-1.0, 0.0, 1.0)), "01"
        target = argv[4] if len(argv) > 4 and argv[4] != "-" else "parity"
    max_sweeps = int(argv[5]) if len(argv) > 5 else None
    start = time.perf_counter()
    r = cn.estimate_rare(prior, arch, target, seed=seed, replicas=replicas, move=move, encoding=encoding,
                         max_sweeps=max_sweeps, retry_factor=1)  # fmt: skip
    z = np.asarray(r.extra.replica_estimates)
    e = r.estimates[0]
    print(f"{which} {move}: p = {e.p:.3e} ({e.method}), effective replicas "
          f"{reliability.effective_replicas(z):.1f} of {len(z)}, extinct {(z == 0).sum()}, levels {r.extra.n_levels}, "
          f"pilot {r.extra.pilot_status}, {time.perf_counter() - start:.1f} s")  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])
