"""The figure of an integrated-pressure run (issue 29): Lambda* and the sampled lambda* against ln O."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from countnets._errors import CountnetsError
from countnets.experiments.flip_decisive.integrated_analysis import observation
from countnets.results import CountResult

__all__ = ["plot_flip_integrated", "plot_flip_decisive"]


def _points(pairs: list[dict[str, Any]], field: str) -> dict[str, list]:
    """x, y and marker kind per pair with a determined response in ``field`` (exact, right- or left-censored)."""
    out: dict[str, list] = {"exact": [], "right": [], "left": []}
    for p in pairs:
        obs = observation(p.get(field))
        if obs is None or not math.isfinite(p["log_odds"]):
            continue
        lo, hi = obs
        kind = "exact" if lo == hi else ("right" if math.isinf(hi) else "left")
        out[kind].append((p["log_odds"], lo if kind != "left" else hi))
    return out


def _panel(ax, pairs: list[dict[str, Any]], fields: list[tuple[str, str, str]], ylabel: str) -> None:
    for field, label, colour in fields:
        pts = _points(pairs, field)
        for kind, marker in (("exact", "o"), ("right", "^"), ("left", "v")):
            if pts[kind]:
                xs, ys = zip(*pts[kind], strict=True)
                ax.scatter(xs, ys, marker=marker, s=14, color=colour, alpha=0.8,
                           label=f"{label}" if kind == "exact" else None)  # fmt: skip
        n_all = sum(field in p for p in pairs)
        n_drawn = sum(len(v) for v in pts.values())
        if n_all > n_drawn:
            ax.plot([], [], " ", label=f"{label}: {n_all - n_drawn} of {n_all} not determined")
    ax.set_yscale("log")
    ax.set_xlabel("ln O = ln P(A) - ln P(B) (nats)")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7)


def plot_flip_integrated(result: CountResult, path: str | os.PathLike) -> Path:
    """Two panels: SGD's (and Adam's) Lambda* against ln O; MALA's and the tilt's lambda* against ln O.

    Circles are exact, ``^`` right-censored at the lower bound, ``v`` left-censored at the
    upper bound; pairs whose response is not determined are counted in the legend.
    """
    from countnets.train.plots import _pyplot, _save

    pairs = list(result.extra["pairs"])
    if not pairs:
        raise CountnetsError("an integrated-pressure result needs at least one pair to plot, got none")
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    summary = result.extra["analysis"]
    _panel(axes[0], pairs, [("Lambda_star", "SGD", "C0"), ("Lambda_star_adam", "Adam", "C1")], "Lambda* = lambda* x T")
    _panel(axes[1], pairs, [("sgld", "MALA", "C2"), ("tilt", "SMC tilt", "C3")], "lambda* (summed losses)")
    primary = summary["primary"]
    titles = []
    for name in ("sgd", "langevin"):
        test = primary[name]
        titles.append(f"{name}: {test['verdict']}" + (f", slope {test['slope']['estimate']:.3g}" if "slope" in test
                                                       else ""))  # fmt: skip
    fig.suptitle(f"flip-decisive v2: {len(pairs)} pairs in {summary['groups']} groups; " + "; ".join(titles),
                 fontsize=9)  # fmt: skip
    fig.tight_layout()
    return _save(fig, path)


def plot_flip_decisive(result: CountResult, path: str | os.PathLike) -> Path:
    """Any flip-decisive figure: version 2 here, version 1 by :func:`countnets.train.plots.plot_flip_decisive`."""
    from countnets.train import plots

    if result.kind == "flip-decisive" and "analysis" in result.extra:
        return plot_flip_integrated(result, path)
    return plots.plot_flip_decisive(result, path)
