"""Rows of results/pope_serial_parallel.json (issue 28): joint masses by their own splitting runs, with replicates.

Each row is :func:`countnets.experiments.composition.joint.joint_row` for one
(target, L, w, alpha) on ResMLP(n, d, L, w), Gaussian(1, 1), pm1, at ``--seed``; its
``replicate`` is the same row at ``--seed + 1``. The file is rewritten atomically after
every row, and a rerun skips the rows already in it, so an interrupted run loses at most
the row in progress. Example (the XOR-and-XOR control at L = 2)::

    python scripts/pope_rows.py --target xor-and-xor --blocks 2 --block-width 2 --replicas 128

``scripts/pope_analysis.py`` reads the file this writes (docs/verdicts.md).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import countnets as cn
from countnets._io import atomic_write_text
from countnets.experiments.composition import joint
from countnets.measures import composition

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "pope_serial_parallel.json"


def _key(row: dict[str, Any]) -> tuple:
    return row["target"], row["n"], row["L"], row["w"], str(row["alpha"])


def run_rows(specs: list[dict[str, Any]], make_estimator: Callable[[Any], Callable], out: Path,
             command: str) -> list[dict[str, Any]]:  # fmt: skip
    """Every row of ``specs`` (target, n, d, L, w, alpha, seed) not yet in ``out``, each saved as it ends.

    ``command`` (the invocation) is kept on each row it makes; the file's own ``command`` is
    the invocation that created it.
    """
    data = json.loads(out.read_text()) if out.exists() else {"command": command, "rows": []}
    done = {_key(r) for r in data["rows"]}
    for spec in specs:
        arch = cn.ResMLP(spec["n"], spec["d"], spec["L"], spec["w"], spec["alpha"])
        row_key = (spec["target"], spec["n"], spec["L"], spec["w"], str(float(spec["alpha"])))
        if row_key in done:
            continue
        parallel, serial = next((p, s) for t, p, s in composition.PAIRS if t == spec["target"])
        estimate = make_estimator(arch)
        start = time.perf_counter()
        row = joint.joint_row(arch, spec["target"], parallel, serial, estimate, seed=spec["seed"])
        row["replicate"] = joint.joint_row(arch, spec["target"], parallel, serial, estimate, seed=spec["seed"] + 1)
        row["seconds"] = time.perf_counter() - start
        row["command"] = command
        data["rows"].append(row)
        atomic_write_text(out, json.dumps(data, indent=1, allow_nan=False) + "\n", "result")
        print(f"{spec['target']} L={spec['L']} w={spec['w']} alpha={spec['alpha']}: ratio {row['ratio']['estimate']} "
              f"replicate {row['replicate']['ratio']['estimate']} ({row['seconds']:.0f} s)", flush=True)  # fmt: skip
    return data["rows"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True, choices=sorted({t for t, _, _ in composition.PAIRS}))
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--width", type=int, default=8, help="stream width d")
    parser.add_argument("--blocks", default="3", help="L values, comma-separated")
    parser.add_argument("--block-width", default="2", help="w values, comma-separated")
    parser.add_argument("--branch-scale", default="1", help="alphas: numbers or invsqrt, comma-separated")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--replicas", type=int, default=128)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    specs = [{"target": args.target, "n": args.n, "d": args.width, "L": L, "w": w,
              "alpha": cn.measures.resolve_branch_scale(a, L), "seed": args.seed}
             for L in map(int, args.blocks.split(",")) for w in map(int, args.block_width.split(","))
             for a in args.branch_scale.split(",")]  # fmt: skip
    prior = cn.Gaussian(1.0, 1.0)

    def make_estimator(arch):
        return lambda measure, seed: cn.estimate_rare(prior, arch, measure, seed=seed, replicas=args.replicas,
                                                      encoding="pm1")  # fmt: skip

    run_rows(specs, make_estimator, args.out, "python scripts/pope_rows.py " + " ".join(argv or []))
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
