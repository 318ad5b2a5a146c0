"""Rare events with structure: multilevel splitting with the older moves ("before") against the newer ("after").

Each case is a rare event whose volume ``countnets.estimate_rare`` estimates; it runs once
per move of ``MOVES_BY_CASE`` (the first move is "before", the others "after"), all in
one session on the same machine, so the ratios are meaningful anywhere:

* ``deep-lattice-1e-7``: MLP 4-2-2-1 on the {-1, 0, 1} lattice, pm1, ``implements(0x356)``;
  exact P = count / 3**19 with the count from the committed exact histogram
  ``benchmarks/results/exact-mlp-4-2-2-1-lattice-pm1.json`` (``coverage_study.py --enumerate``).
  Moves: coordinate-resample (before), unit-gibbs (after).
* ``small-lattice-1e-5``: MLP 3-2-1 on the same lattice, ``implements(0x7e)``; exact P
  enumerated here over the 3**11 configurations (2 / 3**11 = 1.13e-5). Same moves.
* ``xor-and-xor``, ``parity4``: ResMLP n = 4, d = 8, L = 3, w = 2 under ``Gaussian(1, 1)``,
  pm1, ``implements`` of the composition targets' tables
  (``countnets.measures.composition.target_table``: 0x660 and 0x6996). No reference: the rows
  report the estimate, the effective replicas and whether the rule calls the run
  reliable. Moves: pcn (before), ess and lin-ess (after).
* ``and-8``, ``and-10``, ``and-12``: the Gaussian perceptron MLP n-1 under ``Gaussian(1, 1)``,
  pm1, ``implements(AND of n)``; reference ``countnets.bench.references.perceptron_and_pm1``
  (a Rao-Blackwellised Monte Carlo value with its standard error). Moves: pcn, ess, lin-ess.
* ``all-dead-w10``: the factorised event of ``test_bench_splitting.py`` as a sanity row,
  every hidden unit of MLP 1-10-1 dead under ``Gaussian(1, 1)``, pm1; P = (1/4)**10. Moves: pcn, ess.

Every (case, move) runs warm: seed 0 compiles, seed 1 is timed in wall
(``time.perf_counter``) and process CPU seconds (``time.process_time``), on one device,
with the library's default replicas (64), particles (500) and sweeps (8).
``COUNTNETS_BENCH_STRUCTURED_SCALE=s`` (default 1) multiplies replicas (at least 8, a
multiple of 4) and particles (at least 100) for smoke runs.

Columns of the printed table and of each JSON row:

* ``replicas``, ``particles``, ``sweeps``; ``wall_s``, ``cpu_s`` of the timed run;
* ``p_hat`` and ``ci`` (the run's own interval at ``confidence``: 0.999 for rows with a
  reference, 0.95 otherwise; ``[alpha p_hat, 1]`` when the rule does not call the run
  reliable); ``truth`` (``null`` without a reference) and ``truth_se`` (0 when exact);
* ``actual_relative_error``: ``p_hat / truth - 1`` (``null`` without a reference);
* ``relative_error``: the run's own relative standard error ``e``;
* ``effective_replicas``: the Kish count ``(sum Z)^2 / sum Z^2`` of the replica
  estimates, and ``effective_replicas_per_cpu_s`` (higher is better);
* ``work_normalised_relative_variance``: ``cpu_s * e**2`` (lower is better);
* ``reliable`` (the reliability rule's verdict) and ``pilot_status``.

Per case the report gives, for every "after" move, the ratios after / before of the
effective replicas per CPU second (above 1: the new move is better) and of the
work-normalised relative variance (below 1: the new move is better).

The benchmark fails when a row with a reference contradicts it: a reliable run's
interval must hold the truth, any other run its one-sided lower bound (``ci[0] <= truth``),
each within 4 standard errors of the reference (0 for exact truths). Timing is never asserted.

Run: ``python -m pytest benchmarks/test_bench_structured.py -q -s -p no:cacheprovider``
(``-k "small or and-8"`` selects cases). Writes
``benchmarks/results/splitting-structured-<platform>-<date>.json`` (directory:
``COUNTNETS_BENCH_OUT``) and prints the table and the ratios.
"""

import datetime
import functools
import json
import math
import os
import shlex
import sys
import time
from pathlib import Path

import jax
import pytest

import countnets as cn
from countnets import measures as M
from countnets.bench import references
from countnets.measures import composition
from countnets.network import boolean
from countnets.rare import splitting

GAUSS = cn.Gaussian(1.0, 1.0)
LATTICE = cn.Lattice((-1.0, 0.0, 1.0))
EXACT_DEEP = Path(__file__).parent / "results" / "exact-mlp-4-2-2-1-lattice-pm1.json"

# case: its moves, the first the baseline ("before"), the others compared with it ("after").
MOVES_BY_CASE = {
    "deep-lattice-1e-7": ("coordinate-resample", "unit-gibbs"),
    "small-lattice-1e-5": ("coordinate-resample", "unit-gibbs"),
    "xor-and-xor": ("pcn", "ess", "lin-ess"),
    "parity4": ("pcn", "ess", "lin-ess"),
    "and-8": ("pcn", "ess", "lin-ess"),
    "and-10": ("pcn", "ess", "lin-ess"),
    "and-12": ("pcn", "ess", "lin-ess"),
    "all-dead-w10": ("pcn", "ess"),
}

SCALE = float(os.environ.get("COUNTNETS_BENCH_STRUCTURED_SCALE", "1"))
if not (math.isfinite(SCALE) and SCALE > 0):
    raise ValueError(f"COUNTNETS_BENCH_STRUCTURED_SCALE must be a positive number, got {SCALE}")
REPLICAS = max(8, 4 * round(splitting.DEFAULT_REPLICAS * SCALE / 4))
PARTICLES = max(100, round(splitting.DEFAULT_PARTICLES * SCALE))
SWEEPS = splitting.DEFAULT_SWEEPS
REFERENCE_SIGMAS = 4.0  # a reference with a standard error (the AND cases) may be off by this many of them
_ROWS: list[dict] = []


@functools.cache
def setup(case: str) -> dict:
    """The case's prior, architecture, measure (one object, so both runs of a move share compiled steps) and truth."""
    if case == "deep-lattice-1e-7":
        arch, f = cn.MLP(4, (2, 2)), "0x356"
        data = json.loads(EXACT_DEEP.read_text())
        assert data["total"] == 3**arch.n_params
        truth = data["histogram"][f] / data["total"]
        return dict(prior=LATTICE, arch=arch, measure=M.implements(f), function=f, truth=truth, truth_se=0.0,
                    reference="exact histogram (JSON)")  # fmt: skip
    if case == "small-lattice-1e-5":
        arch, f = cn.MLP(3, (2,)), "0x7e"
        exact = cn.enumerate_exact(LATTICE, arch, encoding="pm1", top=0)
        assert exact.samples == 3**arch.n_params
        return dict(prior=LATTICE, arch=arch, measure=M.implements(f), function=f,
                    truth=dict(exact.histogram)[f] / exact.samples, truth_se=0.0, reference="enumerated")  # fmt: skip
    if case in composition.TARGETS:
        arch = cn.ResMLP(4, d=8, L=3, w=2)
        f = boolean.to_hex(boolean.table_to_int(composition.target_table(case, arch.n)))
        return dict(prior=GAUSS, arch=arch, measure=M.implements(f), function=f, truth=None, truth_se=None,
                    reference=None)  # fmt: skip
    if case.startswith("and-"):
        n = int(case.split("-")[1])
        f = boolean.to_hex(boolean.named_function("and", n))
        p, se = references.perceptron_and_pm1(n)
        return dict(prior=GAUSS, arch=cn.MLP(n, ()), measure=M.implements(f), function=f, truth=p, truth_se=se,
                    reference="references.perceptron_and_pm1")  # fmt: skip
    if case == "all-dead-w10":
        w = 10
        measure = M.all_of(*[M.unit_dead(0, i) for i in range(w)])
        return dict(prior=GAUSS, arch=cn.MLP(1, (w,)), measure=measure, function=f"all {w} hidden units dead",
                    truth=0.25**w, truth_se=0.0, reference="closed form")  # fmt: skip
    raise KeyError(case)


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def _finite(x):
    return float(x) if x is not None and math.isfinite(x) else None


PARAMS = [pytest.param(case, move, id=f"{case}-{move}") for case, moves in MOVES_BY_CASE.items() for move in moves]


@pytest.mark.parametrize("case, move", PARAMS)
def test_structured_splitting(benchmark, case, move):
    s = setup(case)
    truth = s["truth"]
    confidence = 0.999 if truth is not None else 0.95
    # One attempt (retry_factor=1): the rows compare the moves' mixing, not the rerun with more particles.
    kw = dict(replicas=REPLICAS, particles=PARTICLES, sweeps=SWEEPS, move=move, encoding="pm1", devices=1,
              confidence=confidence, retry_factor=1)  # fmt: skip
    # The warm-up compiles the same steps (their shapes do not depend on the replica count) with the fewest replicas.
    warm = {**kw, "replicas": 8}
    _, warm_wall, warm_cpu = _timed(lambda: cn.estimate_rare(s["prior"], s["arch"], s["measure"], seed=0, **warm))
    timings = {}

    def run():
        res, timings["wall"], timings["cpu"] = _timed(
            lambda: cn.estimate_rare(s["prior"], s["arch"], s["measure"], seed=1, **kw)
        )
        return res

    res = benchmark.pedantic(run, rounds=1, iterations=1, warmup_rounds=0)
    e, x = res.estimates[0], res.extra
    cpu, rel, eff = timings["cpu"], _finite(x.relative_error), _finite(x.effective_replicas)
    row = {
        "case": case, "move": move, "role": "before" if move == MOVES_BY_CASE[case][0] else "after",
        "arch": s["arch"].name, "n_params": s["arch"].n_params, "prior": s["prior"].config(), "function": s["function"],
        "replicas": res.samples, "particles": x.particles, "sweeps": x.sweeps, "levels": x.n_levels,
        "evaluations": x.evaluations, "wall_s": timings["wall"], "cpu_s": cpu, "warmup_wall_s": warm_wall,
        "warmup_cpu_s": warm_cpu, "p_hat": e.p, "ci": [e.ci[0], _finite(e.ci[1])], "confidence": confidence,
        "method": e.method, "truth": truth, "truth_se": s["truth_se"], "reference": s["reference"],
        "actual_relative_error": e.p / truth - 1 if truth else None, "relative_error": rel,
        "effective_replicas": eff, "effective_replicas_per_cpu_s": eff / cpu if eff is not None and cpu > 0 else None,
        "work_normalised_relative_variance": cpu * rel**2 if rel is not None else None,
        "reliable": x.reliable, "pilot_status": x.pilot_status, "run_move": x.move,
    }  # fmt: skip
    _ROWS.append(row)
    benchmark.extra_info.update({k: v for k, v in row.items() if isinstance(v, (int, float, str, bool))})
    print(f"\n{case} [{move}]: p_hat {e.p:.3g} [{e.ci[0]:.3g}, {e.ci[1]:.3g}] ({confidence:.1%}), truth "
          f"{_fmt(truth, '.3g')}, {_fmt(eff, '.1f')} effective replicas of {res.samples} in {cpu:.2f} CPU s "
          f"({timings['wall']:.2f} wall), reliable {x.reliable}, pilot {x.pilot_status}")  # fmt: skip

    assert x.move == move, f"asked for the move {move!r}, the run used {x.move!r}"
    assert math.isfinite(e.p) and e.p >= 0
    if truth is not None:
        tol = REFERENCE_SIGMAS * s["truth_se"]
        assert e.ci[0] <= truth + tol, f"{case} [{move}]: the lower bound {e.ci[0]:.4g} exceeds the truth {truth:.4g}"
        if x.reliable:
            assert truth - tol <= e.ci[1], (
                f"{case} [{move}]: a reliable run's {confidence:.1%} interval [{e.ci[0]:.4g}, {e.ci[1]:.4g}] misses "
                f"the truth {truth:.4g}"
            )


def _ratios(rows: list[dict]) -> list[dict]:
    """Per case, each "after" row against the case's "before" row."""
    out = []
    for case in MOVES_BY_CASE:
        before = next((r for r in rows if r["case"] == case and r["role"] == "before"), None)
        for after in (r for r in rows if r["case"] == case and r["role"] == "after"):
            if before is None:
                continue

            def ratio(key, a=after, b=before):
                return a[key] / b[key] if a[key] is not None and b[key] else None

            out.append({"case": case, "before": before["move"], "after": after["move"],
                        "effective_replicas_per_cpu_s": ratio("effective_replicas_per_cpu_s"),
                        "work_normalised_relative_variance": ratio("work_normalised_relative_variance")})  # fmt: skip
    return out


def _command() -> str:
    """The command line as typed, with the scale variable when it is set."""
    env = os.environ.get("COUNTNETS_BENCH_STRUCTURED_SCALE")
    prefix = f"COUNTNETS_BENCH_STRUCTURED_SCALE={shlex.quote(env)} " if env is not None else ""
    return prefix + shlex.join(["python", "-m", "pytest", *sys.argv[1:]])


def _fmt(value, spec):
    return format(value, spec) if value is not None else "-"


def markdown(report: dict) -> str:
    """The table docs/rare-events.md quotes: one row per (case, move), then the after / before ratios."""
    lines = ["| case | move | CPU s | estimate [interval] | truth | determined | effective replicas of R | "
             "per CPU s | CPU s x e^2 |", "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in report["rows"]:
        ci = f"[{r['ci'][0]:.3g}, {_fmt(r['ci'][1], '.3g')}] at {r['confidence']:.1%}"
        if not r["reliable"]:  # a one-sided statement, never quoted as an interval
            ci = f"(not determined: p > {r['ci'][0]:.3g} at {r['confidence']:.1%})"
        eff = r["effective_replicas"]
        lines.append(f"| {r['case']} | {r['move']} ({r['role']}) | {r['cpu_s']:.1f} | {r['p_hat']:.3g} {ci} | "
                     f"{_fmt(r['truth'], '.3g')} | {'yes' if r['reliable'] else 'no'} | "
                     f"{_fmt(eff, '.1f')} of {r['replicas']} | {_fmt(r['effective_replicas_per_cpu_s'], '.3g')} | "
                     f"{_fmt(r['work_normalised_relative_variance'], '.3g')} |")  # fmt: skip
    lines += ["", "| case | after / before | effective replicas per CPU s | CPU s x e^2 |", "|---|---|---|---|"]
    for q in report["ratios"]:
        lines.append(f"| {q['case']} | {q['after']} / {q['before']} | {_fmt(q['effective_replicas_per_cpu_s'], '.3g')} "
                     f"| {_fmt(q['work_normalised_relative_variance'], '.3g')} |")  # fmt: skip
    return "\n".join(lines)


def teardown_module(module):
    if not _ROWS:
        return
    device = jax.devices()[0]
    ratios = _ratios(_ROWS)
    report = {
        "device": f"{device.platform}: {device.device_kind}",
        "cpu_count": os.cpu_count(),
        "date": datetime.date.today().isoformat(),
        "jax_version": jax.__version__,
        "command": _command(),
        "scale": SCALE,
        "moves_by_case": MOVES_BY_CASE,
        "rows": _ROWS,
        "ratios": ratios,
        "note": "ratios are after / before: effective replicas per CPU second (higher is better) and work-normalised "
        "relative variance cpu_s * relative_error**2 (lower is better)",
    }
    out_dir = Path(os.environ.get("COUNTNETS_BENCH_OUT", Path(__file__).parent / "results"))
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"splitting-structured-{device.platform}-{report['date']}.json"
    path.write_text(json.dumps(report, indent=1) + "\n")
    header = (
        f"{'case':18s} {'move':19s} {'role':6s} {'R':>4s} {'N':>4s} {'CPU s':>7s} {'p_hat':>9s} {'truth':>9s} "
        f"{'act.err':>7s} {'rel.err':>7s} {'eff.R':>5s} {'eff.R/CPUs':>10s} {'CPUs*e^2':>9s} rel.  pilot"
    )
    lines = ["", f"splitting on structured events, {report['device']} (scale {SCALE:g})", header]
    for r in _ROWS:
        lines.append(
            f"{r['case']:18s} {r['move']:19s} {r['role']:6s} {r['replicas']:4d} {r['particles']:4d} {r['cpu_s']:7.2f} "
            f"{r['p_hat']:9.3g} {_fmt(r['truth'], '9.3g'):>9s} {_fmt(r['actual_relative_error'], '+7.3f'):>7s} "
            f"{_fmt(r['relative_error'], '7.3f'):>7s} {_fmt(r['effective_replicas'], '5.1f'):>5s} "
            f"{_fmt(r['effective_replicas_per_cpu_s'], '10.3g'):>10s} "
            f"{_fmt(r['work_normalised_relative_variance'], '9.3g'):>9s} {'yes' if r['reliable'] else 'no ':5s} "
            f"{r['pilot_status']}"
        )
    lines.append("after / before: effective replicas per CPU s (higher is better), CPU s x e^2 (lower is better)")
    for q in ratios:
        lines.append(
            f"  {q['case']:18s} {q['after']:>10s} / {q['before']:19s} "
            f"{_fmt(q['effective_replicas_per_cpu_s'], '8.3g'):>8s}  "
            f"{_fmt(q['work_normalised_relative_variance'], '8.3g'):>8s}"
        )
    lines.append(f"report: {path}")
    print("\n".join(lines))
