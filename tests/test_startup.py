"""Start-up cost of the command line: every ``--help`` and every bad-option error runs without JAX.

The parser is built from :mod:`countnets.defaults` and the command line's own modules
(their top-level imports are checked in tests/test_layers.py); the library loads only
when a command runs. The time itself is a benchmark (benchmarks/test_bench_startup.py),
not a test.
"""

import subprocess
import sys

HEAVY = ("jax", "jaxlib", "numpy", "scipy", "optax", "pandas", "matplotlib", "countnets.bench")

_SCRIPT = """
import contextlib, io, sys
from countnets import experiments
from countnets.cli import main
commands = [[], ["histogram"], ["estimate"], ["bench"], ["plot"], ["experiment"]]
commands += [["experiment", e.name] for e in experiments.registered()]
codes = []
for command in commands:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        codes.append(main([*command, "--help"]))
        codes.append(main([*command, "--no-such-option"]))
print(len(commands), sorted(set(codes)))
print(sorted(m for m in sys.modules if m.split(".")[0] in {heavy} or m.startswith("countnets.bench")))
"""


def test_every_help_and_option_error_runs_without_jax():
    heavy = {h for h in HEAVY if "." not in h}
    out = subprocess.run([sys.executable, "-c", _SCRIPT.replace("{heavy}", repr(heavy))], capture_output=True,
                         text=True, check=True).stdout.splitlines()  # fmt: skip
    n_commands, codes = out[0].split(" ", 1)
    assert int(n_commands) == 6 + 8  # the top level, five commands, and eight experiments
    assert codes == "[0, 2]"  # --help exits 0, an unknown option 2
    assert out[1] == "[]", f"a --help loaded {out[1]}"


def test_the_console_script_help_runs_without_jax():
    code = ("import sys\nfrom countnets._entry import main\nimport contextlib, io\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n    rc = main(['--help'])\n"
            f"print(rc, sorted(m for m in sys.modules if m.split('.')[0] in {set(HEAVY)!r}))")  # fmt: skip
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "0 []\n"
