"""Measure the two device rates behind docs/performance.md's floors, and print the floors.

    python benchmarks/floors.py [--json PATH]

* arithmetic: a 2048³ float32 matmul at precision "highest" (FLOP/s);
* random numbers: normals per second of countnets' sampler (``Gaussian.sample``
  under ``jit``, chunks of 4096) and of ``jax.random.normal`` at the same shapes.

Floors in networks per second: the FLOP rate over the FLOP per network, and the
sampler's normal rate over the parameter count. Medians of 7 timings.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import CONFIGS, PRIOR  # noqa: E402

CHUNK = 4096
CHUNKS = 8


def _median_seconds(fn, *args) -> float:
    jax.block_until_ready(fn(*args))
    times = []
    for _ in range(7):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def flop_per_network(arch) -> int:
    """Multiply-add FLOP of one forward pass over the whole cube (weights only; biases excluded)."""
    points = 2**arch.n
    if hasattr(arch, "hidden"):
        widths = (arch.n, *arch.hidden, 1)
        return 2 * points * sum(a * b for a, b in zip(widths[:-1], widths[1:]))
    return 2 * points * (arch.n * arch.d + arch.L * 2 * arch.d * arch.w + arch.d)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()
    a = jnp.ones((2048, 2048), jnp.float32)
    flops = 2 * 2048**3 / _median_seconds(jax.jit(lambda m: jnp.matmul(m, m, precision="highest")), a)
    device = jax.devices()[0]
    report = {"device": f"{device.platform}: {device.device_kind}", "jax_version": jax.__version__, "flop_per_s": flops}
    print(f"{report['device']}: matmul {flops:.3g} FLOP/s")
    key = jax.random.PRNGKey(0)
    indices = jnp.arange(CHUNKS, dtype=jnp.int32)
    rows = []
    for name, (arch, _) in CONFIGS.items():
        if name.endswith("-trunc"):
            continue
        layout, n_params = arch.layout(), arch.n_params
        ours = jax.jit(lambda: jax.lax.map(lambda i: PRIOR.sample(key, i, CHUNK, layout).sum(), indices))
        with jax.threefry_partitionable(False):
            theirs = jax.jit(
                lambda: jax.lax.map(
                    lambda i: jax.random.normal(jax.random.fold_in(key, i), (CHUNK, n_params)).sum(), indices
                )
            )
            rate_jax = CHUNKS * CHUNK * n_params / _median_seconds(theirs)
        rate = CHUNKS * CHUNK * n_params / _median_seconds(ours)
        row = {
            "config": name,
            "n_params": n_params,
            "flop_per_network": flop_per_network(arch),
            "normals_per_s": rate,
            "jax_random_normals_per_s": rate_jax,
            "arithmetic_floor": flops / flop_per_network(arch),
            "rng_floor": rate / n_params,
        }
        rows.append(row)
        print(
            f"  {name:20s} normals/s {rate:.3g} (jax.random {rate_jax:.3g})  floors: "
            f"arithmetic {row['arithmetic_floor']:.3g}/s, RNG {row['rng_floor']:.3g}/s"
        )
    report["rows"] = rows
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
