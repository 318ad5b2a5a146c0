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


def test_quoted_results_match_committed_json():
    # The README's summary of the committed results must say what the JSON files say.
    import json

    root = README.parent / "results"
    text = " ".join(README.read_text().split())  # line wrapping does not matter

    def fmt(x):
        return f"{x:.3g}"

    sp = json.loads((root / "serial_parallel.json").read_text())
    entry = next(r for r in sp["results"] if r["blocks"] == 4 and r["branch_scale"] == 1.0)
    ratio = entry["ratio"]
    assert ratio["estimate"] < 1
    assert f"({fmt(ratio['estimate'])}, 95% CI [{fmt(ratio['ci'][0])}, {fmt(ratio['ci'][1])}])" in text
    for name in ("detour_write_erase", "detour_goal"):
        r = json.loads((root / f"{name}.json").read_text())["ratio"]
        assert f"{fmt(r['estimate'])} [{fmt(r['ci'][0])}, {fmt(r['ci'][1])}]" in text, name
    tv = json.loads((root / "train_vs_prior.json").read_text())["summary"]
    assert f"{fmt(tv['tv'])} [{fmt(tv['tv_ci'][0])}, {fmt(tv['tv_ci'][1])}]" in text
