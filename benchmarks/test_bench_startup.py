"""Start-up time of the command line: ``countnets --help`` against ``python -c pass`` in the same run.

Each is a fresh process (``subprocess.run``), timed by pytest-benchmark; the ratio of
the medians is what transfers between machines (``python -c pass`` is the floor any
Python command line pays). A third row times ``python -c "import jax"``, the cost the
help avoids by building its parsers from :mod:`countnets.defaults` only.

Run: ``.venv/bin/python -m pytest benchmarks/test_bench_startup.py -q -s -p no:cacheprovider``.
It prints the medians and ratios and writes
``benchmarks/results/startup-<platform>-<date>.json`` (directory: ``COUNTNETS_BENCH_OUT``).
It asserts nothing about time (a benchmark, not a test); the target in issue 27 is a
help under 0.5 s on a 2-core machine.
"""

import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

CONSOLE_SCRIPT = str(Path(sys.executable).with_name("countnets"))
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "countnets --help": [CONSOLE_SCRIPT, "--help"],
    "countnets experiment basin --help": [CONSOLE_SCRIPT, "experiment", "basin", "--help"],
    "python -c 'import jax'": [sys.executable, "-c", "import jax"],
}
_MEDIANS: dict[str, float] = {}


@pytest.mark.parametrize("name", list(COMMANDS))
def test_startup_seconds(benchmark, name):
    if not Path(CONSOLE_SCRIPT).exists():
        pytest.skip(f"no console script beside {sys.executable}")
    command = COMMANDS[name]
    benchmark.pedantic(lambda: subprocess.run(command, check=True, capture_output=True), rounds=7, iterations=1,
                       warmup_rounds=1)  # fmt: skip
    _MEDIANS[name] = benchmark.stats.stats.median


def teardown_module(module):
    if "python -c pass" not in _MEDIANS:
        return
    floor = _MEDIANS["python -c pass"]
    rows = [{"command": name, "median_s": s, "ratio_to_python": s / floor} for name, s in _MEDIANS.items()]
    for row in rows:
        print(f"\n{row['command']:38s} {row['median_s']:.3f} s  ({row['ratio_to_python']:.1f}x python -c pass)")
    report = {
        "device": f"cpu: {platform.processor() or platform.machine()}",
        "cpu_count": os.cpu_count(),
        "date": datetime.date.today().isoformat(),
        "python": platform.python_version(),
        "command": "python -m pytest benchmarks/test_bench_startup.py -q -s -p no:cacheprovider",
        "rows": rows,
    }
    out_dir = Path(os.environ.get("COUNTNETS_BENCH_OUT", Path(__file__).parent / "results"))
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"startup-cpu-{report['date']}.json").write_text(json.dumps(report, indent=1) + "\n")
