"""Rare events: multilevel splitting against plain Monte Carlo at the same CPU budget.

Targets with a closed form (``tests/test_splitting.py``): every hidden unit of an MLP
1-w-1 dead on the pm1 cube under ``Gaussian(1, 1)`` has probability ``(1/4)**w``:

* w = 7 (22 parameters): 6.1e-5 (about 1e-4);
* w = 10 (31 parameters): 9.5e-7 (about 1e-6);
* w = 15 (46 parameters): 9.3e-10 (about 1e-9).

For each, one splitting run (``replicas`` x ``particles``, after a warm-up run of
another seed that compiles the steps) is timed in wall and process CPU seconds; it
reports the relative standard error it reached and its actual error against the truth.
Plain Monte Carlo's rate (networks/s, same measure, warm) gives its relative error at
the same CPU budget, ``sqrt((1 - p) / (p n))`` with ``n = rate x seconds``: measured by
running it at about 1e-4, **extrapolated** as ``1 / (p e**2)`` samples below. Both
report their work-normalised variance, CPU seconds times the relative variance ``e**2``
(plain Monte Carlo's is ``(1 - p) / (p rate)``), whose ratio is splitting's speedup at
equal error, and plain Monte Carlo's CPU seconds for 20% relative error. The first (cold)
run of each target, compilation included, is timed too: the goal is 20% at 1e-9 within
a minute.

Run: ``python -m pytest benchmarks/test_bench_splitting.py -q -s -p no:cacheprovider``.
Writes ``benchmarks/results/splitting-<platform>-<date>.json`` (directory:
``COUNTNETS_BENCH_OUT``) and prints the table and the cost growth against ``log(1/p)``.
"""

import datetime
import json
import math
import os
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest

import countnets as cn
from countnets import measures as M

PRIOR = cn.Gaussian(1.0, 1.0)
TARGETS = {"1e-4": 7, "1e-6": 10, "1e-9": 15}  # name: hidden width w, p = (1/4)**w
REPLICAS, PARTICLES = 32, 500
_ROWS: list[dict] = []


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


@pytest.mark.parametrize("name", list(TARGETS))
def test_splitting_against_plain_monte_carlo(benchmark, name):
    w = TARGETS[name]
    arch, truth = cn.MLP(1, (w,)), 0.25**w
    measure = M.all_of(*[M.unit_dead(0, i) for i in range(w)])
    kw = dict(replicas=REPLICAS, particles=PARTICLES, encoding="pm1", devices=1, retry_factor=1)
    cold, cold_wall, cold_cpu = _timed(lambda: cn.estimate_rare(PRIOR, arch, measure, seed=0, **kw))
    timings = {}

    def run():
        res, timings["wall"], timings["cpu"] = _timed(lambda: cn.estimate_rare(PRIOR, arch, measure, seed=1, **kw))
        return res

    res = benchmark.pedantic(run, rounds=1, iterations=1, warmup_rounds=0)
    e, x = res.estimates[0], res.extra
    rel = x["relative_error"]

    # Plain Monte Carlo's rate on the same measure, warm.
    n_rate = 2**20
    mc_kw = dict(encoding="pm1", devices=1)
    cn.estimate_mc(PRIOR, arch, measure, n_samples=n_rate, seed=0, **mc_kw)  # compiles this sample count's step
    _, mc_wall, mc_cpu = _timed(lambda: cn.estimate_mc(PRIOR, arch, measure, n_samples=n_rate, seed=1, **mc_kw))
    rate = n_rate / mc_cpu
    n_same = rate * timings["cpu"]
    mc_rel = math.sqrt((1 - truth) / (truth * n_same))
    row = {
        "target": name, "p_true": truth, "hidden_width": w, "n_params": arch.n_params, "log_1_over_p": -math.log(truth),
        "replicas": res.samples, "particles": PARTICLES, "levels": x["n_levels"], "evaluations": x["evaluations"],
        "p_hat": e.p, "ci": list(e.ci), "covers_truth": e.ci[0] <= truth <= e.ci[1],
        "relative_error": rel, "actual_error": e.p / truth - 1, "wall_s": timings["wall"], "cpu_s": timings["cpu"],
        "cold_wall_s": cold_wall, "cold_cpu_s": cold_cpu, "cold_relative_error": cold.extra["relative_error"],
        "acceptance": [round(level.acceptance, 3) for level in x["levels"]],
        "splitting_work_normalised_variance": timings["cpu"] * rel**2,
        "mc_work_normalised_variance": (1 - truth) / (truth * rate),
        "speedup": (1 - truth) / (truth * rate) / (timings["cpu"] * rel**2),
        "mc_nets_per_cpu_s": rate, "mc_samples_same_budget": n_same, "mc_relative_error_same_budget": mc_rel,
        "mc_cpu_s_for_20pct": (1 - truth) / (truth * 0.04 * rate),
        "mc_equivalent_evaluations": x["mc_equivalent_evaluations"],
    }  # fmt: skip
    if truth > 1e-5:
        # Measured, not extrapolated: plain Monte Carlo for the same CPU seconds.
        n_mc = int(n_same)
        cn.estimate_mc(PRIOR, arch, measure, n_samples=n_mc, seed=3, **mc_kw)  # compile outside the timing
        mc, _, mc_cpu_used = _timed(lambda: cn.estimate_mc(PRIOR, arch, measure, n_samples=n_mc, seed=2, **mc_kw))
        row["mc_measured"] = {"samples": n_mc, "hits": mc.estimates[0].hits, "p_hat": mc.estimates[0].p,
                              "cpu_s": mc_cpu_used, "actual_error": mc.estimates[0].p / truth - 1}  # fmt: skip
        row["mc_extrapolated"] = False
    else:
        row["mc_extrapolated"] = True
    _ROWS.append(row)
    benchmark.extra_info.update({k: v for k, v in row.items() if isinstance(v, (int, float, str, bool))})
    print(f"\n{name}: p={truth:.3g} splitting {e.p:.3g} [{e.ci[0]:.3g}, {e.ci[1]:.3g}] rel.err {rel:.3f} in "
          f"{timings['cpu']:.1f} CPU s ({timings['wall']:.1f} wall; cold {cold_wall:.1f} s); plain MC at the same "
          f"budget: rel.err {mc_rel:.3g}{' (extrapolated)' if row['mc_extrapolated'] else ''}")  # fmt: skip
    assert e.ci[0] > 0


def teardown_module(module):
    if not _ROWS:
        return
    device = jax.devices()[0]
    logs = np.array([r["log_1_over_p"] for r in _ROWS])
    work = np.array([r["splitting_work_normalised_variance"] for r in _ROWS])
    evals = np.array([r["evaluations"] * r["relative_error"] ** 2 for r in _ROWS])
    growth = {
        "work_normalised_variance_vs_log_1_over_p_loglog_slope": float(np.polyfit(np.log(logs), np.log(work), 1)[0]),
        "evaluations_x_relvar_vs_log_1_over_p_loglog_slope": float(np.polyfit(np.log(logs), np.log(evals), 1)[0]),
        "note": "splitting's cost at a fixed relative error ~ log(1/p)**slope (theory: 2, levels x particles per "
        "level); plain Monte Carlo's grows as 1/p, and below 1e-5 it is extrapolated as (1 - p)/(p e**2) samples "
        "at its measured rate",
    }
    report = {
        "device": f"{device.platform}: {device.device_kind}",
        "cpu_count": os.cpu_count(),
        "date": datetime.date.today().isoformat(),
        "jax_version": jax.__version__,
        "command": " ".join(["python -m pytest", *sys.argv[1:]]),
        "prior": PRIOR.config(),
        "measure": "all hidden units dead, MLP 1-w-1, pm1 cube; p = (1/4)**w",
        "rows": _ROWS,
        "growth": growth,
    }
    out_dir = Path(os.environ.get("COUNTNETS_BENCH_OUT", Path(__file__).parent / "results"))
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"splitting-{device.platform}-{report['date']}.json").write_text(json.dumps(report, indent=1) + "\n")
    header = "target  p         levels  CPU s  rel.err  plain MC rel.err, same CPU s  speedup  plain MC CPU s for 20%"
    lines = ["", header]
    for r in _ROWS:
        tag = " (extrapolated)" if r["mc_extrapolated"] else ""
        lines.append(
            f"{r['target']:6s}  {r['p_true']:.2e}  {r['levels']:6d}  {r['cpu_s']:5.1f}  {r['relative_error']:.3f}  "
            f"{r['mc_relative_error_same_budget']:28.3g}  {r['speedup']:7.3g}  {r['mc_cpu_s_for_20pct']:.3g}{tag}"
        )
    slope = growth["work_normalised_variance_vs_log_1_over_p_loglog_slope"]
    lines.append(f"cost growth: CPU s x relative variance ~ log(1/p)^{slope:.2f}")
    print("\n".join(lines))
