"""One command for a GPU session: check GPU counts against the CPU, then run the throughput suite.

    PYTHONPATH=. python3 benchmarks/gpu_report.py --out "$OUT" [--scale 64]

1. Correctness: for every benchmark configuration, the histogram of a small run
   (same seed, chunk size and sample count) on the default device and on the CPU;
   any difference is reported with the run's ``near_threshold`` count (networks
   with an output within 1e-5 of 0, the only ones a device change can flip).
2. Floors: ``benchmarks/floors.py`` (matmul FLOP/s and the sampler's normals/s),
   written to ``floors-<platform>-<date>.json``.
3. Throughput: ``pytest benchmarks`` with ``COUNTNETS_BENCH_SCALE`` networks per
   round multiplied by ``--scale``, writing its JSON report to ``--out`` and to
   ``benchmarks/results/``.

Works on a CPU-only machine too (then both sides of the check are the CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def correctness(n_samples: int) -> list[dict]:
    """Histograms on the default device and on the CPU for every benchmark configuration."""
    import jax

    sys.path.insert(0, str(HERE))
    from throughput import CONFIGS, PRIOR

    import countnets as cn

    cpu = jax.devices("cpu")[0]
    rows = []
    for name, (arch, _) in CONFIGS.items():
        kwargs = dict(n_samples=n_samples, seed=123, chunk_size=2**12, top=None)
        on_default = cn.histogram_mc(PRIOR, arch, **kwargs)
        with jax.default_device(cpu):
            on_cpu = cn.histogram_mc(PRIOR, arch, **kwargs)
        keys = set(on_default.histogram) | set(on_cpu.histogram)
        differing = sum(abs(on_default.histogram.get(k, 0) - on_cpu.histogram.get(k, 0)) for k in keys) // 2
        rows.append(
            {
                "config": name,
                "samples": n_samples,
                "device": on_default.device,
                "identical": on_default.histogram == on_cpu.histogram,
                "networks_moved": differing,
                "near_threshold_device": on_default.near_threshold,
                "near_threshold_cpu": on_cpu.near_threshold,
            }
        )
        print(f"check {name:20s} identical={rows[-1]['identical']} moved={differing} "
              f"near={on_default.near_threshold}", flush=True)  # fmt: skip
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(HERE / "results"), help="folder for the JSON reports")
    parser.add_argument("--scale", type=int, default=64, help="multiplier on networks per benchmark round")
    parser.add_argument("--check-samples", type=int, default=2**16, help="samples per configuration in the check")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    checks = correctness(args.check_samples)
    (out / "gpu-check.json").write_text(json.dumps(checks, indent=1) + "\n")
    import datetime

    import jax

    floors = out / f"floors-{jax.devices()[0].platform}-{datetime.date.today().isoformat()}.json"
    subprocess.call([sys.executable, str(HERE / "floors.py"), "--json", str(floors)], cwd=HERE.parent)
    env = {**os.environ, "COUNTNETS_BENCH_SCALE": str(args.scale), "COUNTNETS_BENCH_OUT": str(out)}
    command = [sys.executable, "-m", "pytest", str(HERE), "-q", "-p", "no:cacheprovider", "--benchmark-columns=median"]
    return subprocess.call(command, env=env, cwd=HERE.parent)


if __name__ == "__main__":
    sys.exit(main())
