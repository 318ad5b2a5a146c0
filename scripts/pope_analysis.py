"""The analysis of Pope's claims (issue 28, docs/verdicts.md), fixed before the rows it reads exist.

Run from the repository root once the runs named in docs/verdicts.md are committed::

    python scripts/pope_analysis.py                 # writes results/pope_analysis.json
    python scripts/pope_analysis.py --markdown      # prints the verdict tables instead

Inputs: ``results/pope_serial_parallel.json`` (one row per target, n, L, w, alpha, with a
``replicate`` from a second seed) and ``results/detour_vs_n/detour_vs_n.json`` (``rows``:
one per n, kind and width). Every number is read from them; the only fit is the
detours' trend in D.

The analysis, in the order docs/verdicts.md states it:

A. Rows used. A parallel/serial row is *used* when its ratio is determined (both joint
   events pass the reliability rule), its replicate's ratio is determined, and the two
   ratio intervals overlap. Any other row is listed with the reason it is not used.
B. Pope's prediction against the placement null, on the used rows whose two forms are both
   compositions (``kstar_parallel >= 2``: parity of 4 as a tree, k* = 2, against a chain,
   k* = 3; so for parity of 6): per row the t-test of ``log(ratio / null) = 0``
   (``ratio.log_se``, ``ratio.df``), Holm-adjusted over those rows (family-wise 0.05).
   Row verdict: "above the null", "below the null" or "not detected". Claim verdict:
   "not determined" with fewer than 3 used rows; "holds" when no row is below the null
   ("beyond the null" when some row is above it); "fails" when every used row is below;
   else "mixed", naming the rows each way.
C. The same test of ``log(ratio) = 0`` (parallel against serial, no null), as the plain
   reading of "far more volume", and both tests on the control rows (``kstar_parallel == 1``,
   XOR-and-XOR: its parallel form needs no composition) as their own Holm family. The control is reported,
   never pooled into B.
D. Detours as n grows, per (kind, width, alpha) series with at least 3 determined rows:
   weighted least squares of ``log(ratio)`` on n (weights ``1 / se^2``, ``se`` from each
   row's interval on the log scale, ``ln(hi / lo) / (2 z)``), its covariance scaled by the
   residual chi-square per degree of freedom where that exceeds 1, and a t interval at
   ``1 - 0.05 / S`` (Bonferroni over the S series). Trend: "rising", "falling" or "not
   detected" by the slope's interval. Where rising, the n at which the fitted ratio is 1,
   with Fieller's interval; "extrapolated" when its lower end is past the largest n
   measured; "not bounded" when Fieller's set is not an interval. Separately, every
   determined row whose interval lies wholly above 1 ("measured above 1").
"""

from __future__ import annotations

import argparse
import json
import math
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy import stats

from countnets.stats.multiplicity import holm

ROOT = Path(__file__).resolve().parents[1]
SERIAL_PARALLEL = ROOT / "results" / "pope_serial_parallel.json"
DETOURS = ROOT / "results" / "detour_vs_n" / "detour_vs_n.json"
OUT = ROOT / "results" / "pope_analysis.json"
ALPHA = 0.05
MIN_ROWS = 3  # fewer used rows than this: a claim is not determined


def _overlap(a: Sequence[float], b: Sequence[float]) -> bool:
    return max(a[0], b[0]) <= min(a[1], b[1])


def _usable(row: dict) -> str | None:
    """Why a parallel/serial row is not used (``None``: it is), by rule A."""
    ratio, rep = row["ratio"], (row.get("replicate") or {}).get("ratio")
    if not ratio.get("reliable"):
        return "ratio not determined"
    if rep is None:
        return "no replicate"
    if not rep.get("reliable"):
        return "replicate not determined"
    if not _overlap(ratio["ci"], rep["ci"]):
        return "replicate's interval does not overlap"
    return None


def _label(row: dict) -> str:
    return f"{row['target']} n={row['n']} L={row['L']} w={row['w']} alpha={row['alpha']}"


def _tests(rows: list[dict], against_null: bool) -> list[dict]:
    """Per row: the two-sided t-test of ``log(ratio [/ null]) = 0``, Holm-adjusted over ``rows``."""
    out = []
    for row in rows:
        r = row["ratio"]
        shift = math.log(row["placement_null_ratio"]) if against_null else 0.0
        t = (math.log(r["estimate"]) - shift) / r["log_se"]
        out.append({"row": _label(row), "log_effect": math.log(r["estimate"]) - shift, "t": t,
                    "p": float(2 * stats.t.sf(abs(t), r["df"])), "ratio": r["estimate"], "ci": r["ci"],
                    "null": row["placement_null_ratio"]})  # fmt: skip
    adjusted = holm([o["p"] for o in out]) if out else []
    for o, p in zip(out, adjusted, strict=True):
        o["p_holm"] = float(p)
        o["verdict"] = ("not detected" if p >= ALPHA else
                        ("above" if o["log_effect"] > 0 else "below"))  # fmt: skip
    return out


def claim_verdict(tests: list[dict]) -> dict:
    """Rule B's claim verdict from the per-row tests against the null."""
    above = [t["row"] for t in tests if t["verdict"] == "above"]
    below = [t["row"] for t in tests if t["verdict"] == "below"]
    if len(tests) < MIN_ROWS:
        verdict = "not determined"
    elif not below:
        verdict = "holds, beyond the null" if above else "holds"
    elif len(below) == len(tests):
        verdict = "fails"
    else:
        verdict = "mixed"
    return {"verdict": verdict, "rows": len(tests), "above": above, "below": below}


def serial_parallel(rows: list[dict]) -> dict:
    """Analyses A to C."""
    unused = [{"row": _label(r), "why": why} for r in rows if (why := _usable(r)) is not None]
    used = [r for r in rows if _usable(r) is None]
    composed = [r for r in used if r["kstar_parallel"] >= 2]
    control = [r for r in used if r["kstar_parallel"] == 1]
    against_null = _tests(composed, against_null=True)
    return {
        "unused": unused,
        "pope_against_null": {"tests": against_null, **claim_verdict(against_null)},
        "parallel_against_serial": _tests(composed, against_null=False),
        "control_against_null": _tests(control, against_null=True),
        "control_against_serial": _tests(control, against_null=False),
    }


def _log_se(ratio: dict) -> float:
    z = stats.norm.ppf(0.5 + ratio.get("confidence", 0.95) / 2)
    lo, hi = ratio["ci"]
    return math.log(hi / lo) / (2 * z)


def trend(ns: Sequence[float], ratios: Sequence[dict], confidence: float) -> dict:
    """Rule D for one series: the weighted fit of ``log(ratio)`` on n, its slope's verdict and the crossing of 1."""
    n = np.asarray(ns, float)
    y = np.log([r["estimate"] for r in ratios])
    w = 1.0 / np.asarray([_log_se(r) for r in ratios]) ** 2
    X = np.column_stack([np.ones_like(n), n])
    cov = np.linalg.inv(X.T @ (w[:, None] * X))
    a, b = cov @ X.T @ (w * y)
    dof = len(n) - 2
    chi2 = float(np.sum(w * (y - a - b * n) ** 2))
    dispersion = max(1.0, chi2 / dof) if dof > 0 else 1.0
    cov = cov * dispersion
    t = float(stats.t.ppf(0.5 + confidence / 2, dof)) if dof > 0 else math.inf
    half = t * math.sqrt(cov[1, 1])
    slope = {"estimate": float(b), "ci": [float(b - half), float(b + half)]}
    out = {"points": len(n), "intercept": float(a), "slope": slope, "dispersion": dispersion, "confidence": confidence}
    out["trend"] = "rising" if b - half > 0 else "falling" if b + half < 0 else "not detected"
    out["crossing"] = _crossing(a, b, cov, t, float(n.max())) if out["trend"] == "rising" else None
    return out


def _crossing(a: float, b: float, cov: np.ndarray, t: float, n_max: float) -> dict:
    """Where ``a + b n = 0``, with Fieller's interval: ``(a + b n)^2 <= t^2 var(a + b n)``."""
    qa = b * b - t * t * cov[1, 1]
    qb = 2 * (a * b - t * t * cov[0, 1])
    qc = a * a - t * t * cov[0, 0]
    disc = qb * qb - 4 * qa * qc
    estimate = -a / b
    if qa <= 0 or disc < 0:
        return {"estimate": estimate, "ci": None, "status": "not bounded"}
    lo, hi = sorted(((-qb - math.sqrt(disc)) / (2 * qa), (-qb + math.sqrt(disc)) / (2 * qa)))
    return {"estimate": estimate, "ci": [lo, hi], "status": "extrapolated" if lo > n_max else "within the measured n"}


def detours(rows: list[dict]) -> dict:
    """Analysis D."""
    series = defaultdict(list)
    for r in rows:
        if r["ratio"].get("reliable"):
            series[(r["kind"], r.get("width"), r.get("alpha"))].append(r)
    fitted = {k: v for k, v in series.items() if len(v) >= MIN_ROWS}
    confidence = 1 - ALPHA / max(1, len(fitted))
    out = []
    for (kind, width, alpha), rs in sorted(fitted.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0, str(kv[0][2]))):
        rs = sorted(rs, key=lambda r: r["n"])
        fit = trend([r["n"] for r in rs], [r["ratio"] for r in rs], confidence)
        out.append({"kind": kind, "width": width, "alpha": alpha, **fit})
    above = [{"kind": r["kind"], "width": r.get("width"), "n": r["n"], "ratio": r["ratio"]}
             for r in rows if r["ratio"].get("reliable") and r["ratio"]["ci"][0] > 1]  # fmt: skip
    short = sorted({f"{k} width={w} alpha={a}" for (k, w, a), v in series.items() if len(v) < MIN_ROWS})
    return {"series": out, "measured_above_1": above, "too_few_rows": short}


def analyse(serial_parallel_rows: list[dict] | None, detour_rows: list[dict] | None) -> dict:
    """Every analysis whose rows exist; a missing input is named, never guessed."""
    return {
        "serial_parallel": None if serial_parallel_rows is None else serial_parallel(serial_parallel_rows),
        "detours": None if detour_rows is None else detours(detour_rows),
        "missing": [
            str(p.relative_to(ROOT))
            for p, rows in ((SERIAL_PARALLEL, serial_parallel_rows), (DETOURS, detour_rows))
            if rows is None
        ],  # fmt: skip
    }


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3g}"


def markdown(result: dict) -> str:
    """The verdict tables docs/verdicts.md quotes."""
    lines = []
    sp = result["serial_parallel"]
    if sp is None:
        lines.append("Parallel vs serial: not determined (no rows yet).")
    else:
        claim = sp["pope_against_null"]
        lines += [f"Pope against the placement null: **{claim['verdict']}** ({claim['rows']} rows used)", "",
                  "| family | row | parallel/serial [95%] | null | against the null (p Holm) | against 1 (p Holm) |",
                  "|---|---|---|---|---|---|"]  # fmt: skip
        families = (("Pope", claim["tests"], sp["parallel_against_serial"]),
                    ("control", sp["control_against_null"], sp["control_against_serial"]))  # fmt: skip
        for family, against_null, against_one in families:
            for t, u in zip(against_null, against_one, strict=True):
                lines.append(f"| {family} | {t['row']} | {_fmt(t['ratio'])} [{_fmt(t['ci'][0])}, {_fmt(t['ci'][1])}] "
                             f"| {_fmt(t['null'])} | {t['verdict']} ({_fmt(t['p_holm'])}) | {u['verdict']} "
                             f"({_fmt(u['p_holm'])}) |")  # fmt: skip
        lines += [f"| - | {u['row']} | not used: {u['why']} | - | - | - |" for u in sp["unused"]]
    d = result["detours"]
    if d is None:
        lines.append("Detours as n grows: not determined (no rows yet).")
    else:
        lines += [
            "",
            "| kind | width | alpha | points | slope per n (log ratio) | trend | ratio = 1 at n |",
            "|---|---|---|---|---|---|---|",
        ]
        for s in d["series"]:
            c = s["crossing"]
            cross = "-" if c is None else (f"{_fmt(c['estimate'])} ({c['status']})" if c["ci"] is None else
                                           f"{_fmt(c['estimate'])} [{_fmt(c['ci'][0])}, {_fmt(c['ci'][1])}] "
                                           f"({c['status']})")  # fmt: skip
            sl = s["slope"]
            slope = f"{_fmt(sl['estimate'])} [{_fmt(sl['ci'][0])}, {_fmt(sl['ci'][1])}]"
            lines.append(f"| {s['kind']} | {s['width'] or '-'} | {s['alpha'] or '-'} | {s['points']} | {slope} | "
                         f"{s['trend']} | {cross} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def _rows(path: Path) -> list[dict] | None:
    """The file's top-level ``rows``, or ``None`` when the file or its rows do not exist yet."""
    return json.loads(path.read_text()).get("rows") if path.exists() else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", action="store_true", help="print the verdict tables instead of writing JSON")
    args = parser.parse_args(argv)
    result = analyse(_rows(SERIAL_PARALLEL), _rows(DETOURS))
    if args.markdown:
        print(markdown(result), end="")
    else:
        OUT.write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {OUT.relative_to(ROOT)}; missing: {', '.join(result['missing']) or 'nothing'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
