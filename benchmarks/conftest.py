"""Collects every throughput row and, at the end of the session, prints ratios and writes a JSON report."""

import datetime
import json
import os
import sys
from pathlib import Path

import jax
import pytest

sys.path.insert(0, str(Path(__file__).parent))

_ROWS: list[dict] = []


@pytest.fixture
def throughput_rows():
    return _ROWS


def pytest_sessionfinish(session, exitstatus):
    if not _ROWS:
        return
    device = jax.devices()[0]
    report = {
        "device": f"{device.platform}: {device.device_kind}",
        "date": datetime.date.today().isoformat(),
        "jax_version": jax.__version__,
        "command": " ".join(["python -m pytest", *sys.argv[1:]]) if sys.argv else "python -m pytest benchmarks",
        "rows": _ROWS,
    }
    out_dir = Path(os.environ.get("COUNTNETS_BENCH_OUT", Path(__file__).parent / "results"))
    out_dir.mkdir(parents=True, exist_ok=True)
    name = f"throughput-{device.platform}-{report['date']}.json"
    (out_dir / name).write_text(json.dumps(report, indent=1) + "\n")
    lines = [f"\nthroughput on {report['device']} (nets/s; ratio to the naive baseline of the same mode)"]
    by_key = {(r["config"], r["mode"], r["impl"]): r["nets_per_s"] for r in _ROWS}
    for (config, mode, impl), rate in sorted(by_key.items()):
        base = by_key.get((config, mode, "naive-vmap" if mode == "count" else "host-unique"))
        ratio = f"{rate / base:6.2f}x" if base else "   -   "
        lines.append(f"  {config:20s} {mode:9s} {impl:12s} {rate:12.4g}  {ratio}")
    lines.append(f"report: {out_dir / name}")
    print("\n".join(lines))
