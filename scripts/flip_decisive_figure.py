"""Figure of a flip-decisive run: lambda* against ln O, SGD and the tilted prior (issue 16).

Each pair is a point at its plan's ln O (horizontal bar: its 95% interval; filled for a
Monte Carlo ln O, open for a rare B whose P(B) came from splitting) and its lambda*
(vertical bar: the 95% bootstrap or replica interval). A right-censored pair (never
flipped in the grid) is drawn at its lower bound with an upward arrow; a left-censored
pair (flipped at the smallest lambda) at its upper bound with a downward arrow. A tilted
lambda* that is not evaluable (ESS below the floor) is drawn as a grey cross at the top.

Run: PYTHONPATH=. python scripts/flip_decisive_figure.py results/flip_decisive.json results/flip_decisive.png
An optional third argument names the panels (default ``sgd,tilt``), e.g. ``sgd,adam`` for
the Adam run ``results/flip_decisive_adam_check.json``, whose tilted prior is a stub.
"""

import math
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from countnets import results  # noqa: E402
from countnets.experiments import flip_decisive as fd  # noqa: E402


def _f(v) -> float:
    return float(v)


def panel(ax, pairs, name: str, grid: list[float], summary: dict, estimators: dict) -> None:
    lo_grid, hi_grid = min(grid), max(grid)
    for p in pairs:
        star = p["lambda_star"][name]
        x = _f(p["log_odds"])
        xl, xh = (_f(v) for v in p["log_odds_ci"])
        rare = p.get("log_odds_estimator", estimators.get(p["slot"])) == fd.RARE_ESTIMATOR
        style = dict(mfc="none" if rare else "C0", mec="C0", color="C0", ms=5)
        if not star.get("evaluable", True):
            ax.plot([x], [hi_grid * 3], "x", color="0.5")
            continue
        ilo, ihi = (_f(v) for v in star["interval"])
        xerr = [[x - xl], [min(xh, 12.0) - x]]
        if star.get("censored") == "right":
            y = _f(star["bound"][0])
            ax.errorbar([x], [y], xerr=xerr, fmt="^", **style, elinewidth=0.6)
            ax.annotate("", (x, y * 3), (x, y), arrowprops=dict(arrowstyle="->", color="C3"))
        elif star.get("censored") == "left":
            y = _f(star["bound"][1])
            ax.errorbar([x], [y], xerr=xerr, fmt="v", **style, elinewidth=0.6)
            ax.annotate("", (x, y / 3), (x, y), arrowprops=dict(arrowstyle="->", color="C2"))
        else:
            y = _f(star["estimate"])
            yl = max(ilo, lo_grid / 3)
            yh = ihi if math.isfinite(ihi) else hi_grid * 3
            ax.errorbar([x], [y], xerr=xerr, yerr=[[y - yl], [yh - y]], fmt="o", **style, elinewidth=0.6)
    ax.set_yscale("log")
    ax.set_ylim(lo_grid / 8, hi_grid * 8)
    ax.axhline(hi_grid, color="0.7", lw=0.5, ls="--")
    ax.axhline(lo_grid, color="0.7", lw=0.5, ls="--")
    ax.set_xlabel("ln O = ln P(A|S)/P(B|S)  (plan, nats)")
    ax.set_ylabel("lambda*")
    res = summary["sets"].get(name, {})
    reg, ken = res.get("regression"), res.get("kendall")
    title = {"sgd": "plain SGD", "tilt": "tilted prior (SMC)", "adam": "Adam"}.get(name, name)
    if reg and ken:
        ci = reg["slope_ci"]
        title += (f"\nslope {reg['slope']:.3g} [{_f(ci[0]):.3g}, {_f(ci[1]):.3g}], p={reg['p']:.2g}; "
                  f"tau {ken['tau']:.2f} [{ken['ci'][0]:.2f}, {ken['ci'][1]:.2f}]")  # fmt: skip
    ax.set_title(title, fontsize=9)


def main(src: str, out: str, names: str = "sgd,tilt") -> None:
    r = results.load_json(src)
    e = r.extra
    # runs before the estimator was copied into each row: read it from the embedded plan
    estimators = {p["slot"]: p.get("log_odds_estimator", fd.MC_ESTIMATOR) for p in e["plan"]["pairs"]}
    sets = [s for s in names.split(",") if all(s in p["lambda_star"] for p in e["pairs"])]
    fig, axes = plt.subplots(1, len(sets), figsize=(5.2 * len(sets), 4.2), squeeze=False)
    for ax, name in zip(axes[0], sets, strict=True):
        panel(ax, e["pairs"], name, e["tilt_lambdas"] if name == "tilt" else e["lambdas"], e["summary"], estimators)
    fig.suptitle(f"flip-decisive: {len(e['pairs'])} pairs; filled: MC ln O, open: rare B (splitting); "
                 "^ right-, v left-censored", fontsize=9)  # fmt: skip
    fig.tight_layout()
    fig.savefig(out, dpi=130)


if __name__ == "__main__":
    main(*sys.argv[1:4])
