"""The README's Python snippet runs as written, and its commands are well formed."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _block_after(marker: str, lang: str) -> str:
    text = README.read_text()
    match = re.search(rf"<!-- {marker} -->\s*```{lang}\n(.*?)```", text, re.S)
    assert match, f"README has no {lang} block after <!-- {marker} -->"
    return match.group(1)


def test_python_snippet_runs(capsys):
    code = _block_after("python-snippet", "python")
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "P(AND) =" in out and "bits" in out and "0x80" in out


def test_quick_start_has_two_single_line_commands():
    for marker in ("main-command", "test-command"):
        lines = [ln for ln in _block_after(marker, "bash").splitlines() if ln.strip()]
        assert len(lines) == 1, lines
        assert lines[0].startswith("python3 -m venv .venv && .venv/bin/pip install")
