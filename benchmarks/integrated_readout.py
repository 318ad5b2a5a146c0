"""The readout integrated (``estimate_mc(readout="integrate")``) against plain Monte Carlo, same process (issue 26).

For each case: the conditional Monte Carlo estimate over hidden draws, with its interval,
effective draws and CPU seconds, and plain Monte Carlo on the same target; the ratio of
work-normalised variances ``(e_mc^2 t_mc) / (e_int^2 t_int)`` (``e`` the relative
standard error, ``t`` the wall seconds of a warm second call), above 1 when integrating
pays. Ratios only: absolute CPU times depend on the machine.

Run: ``PYTHONPATH=. python benchmarks/integrated_readout.py --out
benchmarks/results/integrated-readout-cpu-<date>.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import time
from pathlib import Path

import countnets as cn

GAUSS = cn.Gaussian(1.0, 1.0)
# name -> (architecture, target, hidden draws, plain Monte Carlo samples)
CASES = {
    "mlp-3-2-1/and": (cn.MLP(3, (2,)), "and", 2000, 1 << 22),
    "mlp-2-1-1/0x8": (cn.MLP(2, (1,)), "0x8", 2000, 1 << 22),
    "resmlp-3-4-2-1/and": (cn.ResMLP(3, 4, 2, 1, 1.0), "and", 1000, 1 << 22),
    "resmlp-3-4-2-1/0x7": (cn.ResMLP(3, 4, 2, 1, 1.0), "0x7", 1000, 1 << 22),
    "mlp-3-3-1/parity": (cn.MLP(3, (3,)), "0x96", 2000, 1 << 22),
    "perceptron-8/and": (cn.MLP(8, ()), "and", 64, 1 << 22),
}


def _timed(call):
    call()  # compile
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start


def _relative_se(e) -> float:
    """The relative standard error behind a 95% interval (half its log width over 1.96); inf without one."""
    lo, hi = e.ci
    return math.log(hi / lo) / (2 * 1.959964) if e.p > 0 and lo > 0 else math.inf


def run_case(name: str) -> dict:
    arch, f, draws, samples = CASES[name]
    kw = dict(seed=0, encoding="pm1")
    integrated, t_int = _timed(lambda: cn.estimate_mc(GAUSS, arch, f, n_samples=draws, readout="integrate", **kw))
    plain, t_mc = _timed(lambda: cn.estimate_mc(GAUSS, arch, f, n_samples=samples, **{**kw, "seed": 1}))
    e, m = integrated.estimates[0], plain.estimates[0]
    r_int, r_mc = _relative_se(e), _relative_se(m)
    ratio = (r_mc**2 * t_mc) / (r_int**2 * t_int) if math.isfinite(r_int) and math.isfinite(r_mc) else None
    return {"arch": arch.config(), "target": f, "draws": draws,
            "integrated": {"p": e.p, "ci": list(e.ci), "method": e.method, "reliable": integrated.extra.reliable,
                           "effective_draws": integrated.extra.effective_draws,
                           "nonempty_cones": integrated.extra.nonempty_cones, "seconds": t_int},
            "plain": {"p": m.p, "ci": list(m.ci), "hits": m.hits, "samples": samples, "seconds": t_mc},
            "overlap": e.ci[0] <= m.ci[1] and m.ci[0] <= e.ci[1], "work_variance_ratio": ratio}  # fmt: skip


def markdown(report: dict) -> str:
    """The table docs/rare-events.md quotes."""
    lines = ["| case | integrated [95%] | effective draws | determined | plain MC [95%] (hits) | intervals overlap | "
             "work-normalised variance, MC / integrated |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for name, c in report["cases"].items():
        i, m = c["integrated"], c["plain"]
        ratio = "-" if c["work_variance_ratio"] is None else f"{c['work_variance_ratio']:.2g}"
        lines.append(f"| {name} | {i['p']:.3g} [{i['ci'][0]:.3g}, {i['ci'][1]:.3g}] | "
                     f"{i['effective_draws']:.1f} of {c['draws']} | {'yes' if i['reliable'] else 'no'} | "
                     f"{m['p']:.3g} [{m['ci'][0]:.3g}, {m['ci'][1]:.3g}] ({m['hits']}) | "
                     f"{'yes' if c['overlap'] else 'no'} | {ratio} |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="all")
    parser.add_argument("--out", default=f"benchmarks/results/integrated-readout-cpu-{datetime.date.today()}.json")
    args = parser.parse_args()
    names = list(CASES) if args.cases == "all" else args.cases.split(",")
    report = {"command": f"python benchmarks/integrated_readout.py --out {args.out}",
              "versions": cn.results.runtime_info(), "cases": {}}  # fmt: skip
    for name in names:
        report["cases"][name] = run_case(name)
        print(name, json.dumps(report["cases"][name]), flush=True)
        Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    print(markdown(report))


if __name__ == "__main__":
    main()
