"""Run cases in a plain Python process, where beartype's runtime checks do not pre-empt countnets' own.

Under pytest every annotated call is type-checked at runtime (``--jaxtyping-packages``),
so a wrong-type argument never reaches countnets' boundary checks; a plain interpreter
shows what a user sees. ``CASES_PRELUDE`` code defines a dict ``cases`` of name ->
zero-argument callable; :func:`run_cases` runs it and returns, per case, ``None`` if it
returned, else ``[type name, is TypeError, is CountnetsError, message]``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

_RUNNER = r"""
out = {}
for name, case in cases.items():
    try:
        case()
        out[name] = None
    except Exception as err:
        out[name] = [type(err).__name__, isinstance(err, TypeError), isinstance(err, cn.CountnetsError), str(err)]
print(json.dumps(out))
"""


def run_cases(prelude: str, cwd: str | Path | None = None) -> dict:
    """Run ``prelude`` (which builds ``cases`` and imports ``json`` and ``countnets as cn``) and every case in it."""
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run([sys.executable, "-c", prelude + _RUNNER], capture_output=True, text=True, env=env,
                          timeout=300, cwd=cwd)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)
