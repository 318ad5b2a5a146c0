"""Recompute the summary fields of the committed training results, and every results/*.txt table.

Run from the repository root: ``python scripts/refresh_summaries.py`` (seconds; no
network is sampled or trained). The raw counts in results/*.json are never touched.
What it rewrites:

* ``summary`` of results/flip_pairs*.json: :func:`countnets.experiments.flip.flip_summary`
  of the stored pairs (censored pairs kept, Fisher-z interval, the tilted prior only
  where its effective sample size is usable).
* ``summary`` of results/train_vs_prior*.json:
  :func:`countnets.experiments.train_vs_prior.comparison_summary` of the stored
  histograms, with the run's own seed, bootstrap count, confidence and min-count. The
  fields an earlier version already stored (TV, its bootstrap interval, the noise null,
  the correlations) must come out the same, or the script stops.
* results/NAME.txt: the terminal table of results/NAME.json, as ``countnets`` prints it.

``--check`` writes nothing and exits 1 if any file would change (used by the tests).

"Change" follows :mod:`countnets.stats.tolerance`: a recomputed float that differs from the
committed one by less than 1e-9 relative (closed-form arithmetic; the flip summary's
least-squares line is np.polyfit, closed form too) is the same value computed on another
CPU, and a table number within one unit of its last printed digit is the same number
rounded on the other side of a boundary. Such files are neither reported nor rewritten.
``--figures`` also redraws the flip figures (results/flip_pairs*.png) from the JSON, so
that they leave out tilted-prior points that are not evaluable; PNG bytes depend on the
matplotlib version, so figures are not part of ``--check``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from countnets import results
from countnets.experiments.detour import format_detour
from countnets.experiments.diverse import format_diverse
from countnets.experiments.flip import flip_summary, format_flip
from countnets.experiments.serial_parallel import format_serial_parallel
from countnets.experiments.train_vs_prior import comparison_summary, format_train_vs_prior
from countnets.stats import tolerance

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"
FORMATS = {
    "serial-parallel": format_serial_parallel,
    "detour": format_detour,
    "flip": format_flip,
    "train-vs-prior": format_train_vs_prior,
    "diverse": format_diverse,
}
# Fields of a train-vs-prior summary that earlier versions computed and that must not move.
STABLE = ("functions_seen", "functions_compared", "correlation", "spearman", "tv", "tv_ci", "tv_null_mean",
          "tv_null_quantile", "prior_top", "prior_top_p", "trained_top_p", "trained_distinct",
          "prior_distinct")  # fmt: skip


def _dump(data: dict) -> str:
    return json.dumps(data, indent=1, allow_nan=False) + "\n"


def _fields(data: dict) -> dict:
    # Experiment fields live at the top level (listed in extra_fields); a legacy file keeps them under "extra".
    return data if "extra_fields" in data or not data.get("extra") else data["extra"]


def _with_summary(data: dict, summary: dict) -> dict:
    # Written wherever the file holds a summary (a legacy file may hold a copy at both levels).
    out = {**data}
    if "summary" in data or _fields(data) is data:
        out["summary"] = summary
    if isinstance(data.get("extra"), dict) and "summary" in data["extra"]:
        out["extra"] = {**data["extra"], "summary": summary}
    return out


def flip_json(data: dict) -> dict:
    """``data`` (a flip result as read from JSON) with its summary recomputed."""
    return _with_summary(data, flip_summary(_fields(data)["pairs"], confidence=data["config"]["confidence"]))


def train_vs_prior_json(data: dict) -> dict:
    """``data`` (a train-vs-prior result as read from JSON) with its summary recomputed."""
    cfg, fields = data["config"], _fields(data)
    new = comparison_summary(
        {int(k, 16): v for k, v in fields["trained"].items()},
        {int(k, 16): v for k, v in fields["prior"].items()},
        min_count=cfg["min_count"], bootstrap=cfg["bootstrap"], confidence=cfg["confidence"], seed=data["seed"],
        exact=cfg["exact"],
    )  # fmt: skip
    old = fields["summary"]
    moved = [k for k in STABLE if k in old and tolerance.mismatches(old[k], new[k])]
    if moved:
        raise SystemExit(f"train-vs-prior summary fields changed on recomputation: {moved}")
    return _with_summary(data, new)


def refreshed(results_dir: Path = RESULTS) -> dict[Path, str]:
    """Every file this script writes under ``results_dir``, with its new text."""
    out: dict[Path, str] = {}
    for path in sorted(results_dir.glob("*.json")):
        data = json.loads(path.read_text())
        if data.get("kind") == "flip":
            out[path] = _dump(flip_json(data))
        elif data.get("kind") == "train-vs-prior":
            out[path] = _dump(train_vs_prior_json(data))
    for path in sorted(results_dir.glob("*.json")):
        data = json.loads(out.get(path, path.read_text()))
        if data.get("kind") in FORMATS:
            out[path.with_suffix(".txt")] = FORMATS[data["kind"]](results.from_json(data)) + "\n"
    return out


def differences(path: Path, text: str) -> list[str]:
    """How the committed ``path`` differs from its recomputed ``text``, beyond the tolerance rule."""
    if not path.exists():
        return ["missing"]
    old = path.read_text()
    if old == text:
        return []
    if path.suffix == ".json":
        return tolerance.mismatches(json.loads(old), json.loads(text))
    return tolerance.text_mismatches(old, text)


def stale(results_dir: Path = RESULTS) -> dict[Path, list[str]]:
    """The files under ``results_dir`` whose committed text differs from the recomputed one, with how."""
    found = {p: differences(p, text) for p, text in refreshed(results_dir).items()}
    return {p: d for p, d in found.items() if d}


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check``, compare) every refreshed file; print what changed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file would change")
    parser.add_argument("--figures", action="store_true", help="also redraw results/flip_pairs*.png")
    args = parser.parse_args(argv)
    if args.figures and not args.check:
        from countnets.experiments.flip import plot_flip

        for path in sorted(RESULTS.glob("flip_pairs*.json")):
            print(f"wrote {plot_flip(results.load_json(path), path.with_suffix('.png')).relative_to(ROOT)}")
    files = refreshed()
    changed = {p: d for p, text in files.items() if (d := differences(p, text))}
    for p, how in changed.items():
        if args.check:
            print(f"would change: {p.relative_to(ROOT)}: {'; '.join(how[:3])}")
        else:
            p.write_text(files[p])
            print(f"wrote {p.relative_to(ROOT)}")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
