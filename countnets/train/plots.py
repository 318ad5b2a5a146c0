"""Figures of the training experiments (matplotlib imported lazily, Agg backend).

* train-vs-prior: log-log scatter of ``P_opt(f | S)`` against ``P_prior(f | S)`` with
  interval bars and the diagonal.
* flip: ``P(A)`` and ``P(B)`` against lambda for training and for the tilted prior
  (up to 12 pairs), and ``ln O`` against ``lambda*``.
* diverse: distinct functions against the number of runs, and chains that found B.
* flip-decisive: ``lambda*`` against the plan's ``ln O`` with both intervals, one panel
  per optimizer and one for the tilted prior; censored pairs at their bound.

Each figure is written at :func:`countnets._io.figure_paths` ``(path, ...)[0]``: in
the format of the path's suffix (``.png``, ``.pdf``, ``.svg``), with ``.png`` added to a
path without one.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from countnets._errors import CountnetsError
from countnets._io import figure_paths, write_figure
from countnets.results import CountResult, report
from countnets.results.plotting import nonempty, require

__all__ = ["plot_train_vs_prior", "plot_flip", "plot_diverse", "plot_flip_decisive", "plot_basin"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _check(result: CountResult, kind: str, *needs: tuple[bool, str]) -> None:
    """Refuse a result of another kind, or one lacking what the figure needs (``needs``: (holds, what) pairs)."""
    if result.kind != kind:
        raise CountnetsError(f"expected a {kind} result, got kind {result.kind!r}")
    for holds, what in needs:
        require(holds, kind, what)


def _save(fig, path: str | os.PathLike) -> Path:
    """Write ``fig`` at ``path`` in its suffix's format (``.png`` added to a path without one); the file written."""
    try:
        (target,) = figure_paths(path, ("figure",))
    except CountnetsError:
        import matplotlib.pyplot as plt

        plt.close(fig)
        raise
    write_figure(fig, target, dpi=130, bbox_inches="tight")
    return target


def plot_train_vs_prior(result: CountResult, path: str | os.PathLike) -> Path:
    """Scatter of ``P_opt(f|S)`` (y) against ``P_prior(f|S)`` (x), log-log, functions seen in both."""
    _check(result, "train-vs-prior", (isinstance(result.extra.get("functions"), (list, tuple)), "a 'functions' list"))
    plt = _pyplot()
    rows = [r for r in result.extra["functions"] if r["prior_count"] > 0 and r["trained_count"] > 0]
    only = len(result.extra["functions"]) - len(rows)
    fig, ax = plt.subplots(figsize=(5.2, 5))
    if rows:
        x = [r["prior_p"] for r in rows]
        y = [r["trained_p"] for r in rows]
        xerr = [[r["prior_p"] - r["prior_ci"][0] for r in rows], [r["prior_ci"][1] - r["prior_p"] for r in rows]]
        yerr = [
            [r["trained_p"] - r["trained_ci"][0] for r in rows],
            [r["trained_ci"][1] - r["trained_p"] for r in rows],
        ]
        ax.errorbar(x, y, xerr=xerr, yerr=yerr, fmt="o", ms=3, lw=0.6, alpha=0.7, color="C0")
        lo = min(min(x), min(y)) / 2
        ax.plot([lo, 1], [lo, 1], "k--", lw=0.8, label="P_opt = P_prior")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.legend(loc="lower right")
    s = result.extra["summary"]
    corr = s.get("correlation")
    title = f"target {result.extra['target']}, |S| = {len(result.extra['train_points'])}"
    if not report.undefined(corr):
        title += f"\nlog corr {corr:.2f}, TV {s['tv']:.2f}"
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("P_prior(f | S)")
    ax.set_ylabel("P_opt(f | S)")
    ax.text(0.02, 0.98, f"{len(rows)} functions seen in both; {only} in one only", transform=ax.transAxes,
            va="top", fontsize=7)  # fmt: skip
    return _save(fig, path)


def _sym(lams: list[float]) -> list[float]:
    positive = [v for v in lams if v > 0]
    return [v if v > 0 else (min(positive) / 3 if positive else 1.0) for v in lams]


def plot_flip(result: CountResult, path: str | os.PathLike) -> Path:
    """P(A), P(B) against lambda per pair (training solid, tilted prior dashed), and ln O against lambda*.

    Tilted-prior points whose effective sample size is below
    :data:`countnets.train.training_results.MIN_EVALUABLE_ESS`, and tilted ``lambda*`` values
    that rest on such points, are not drawn (not evaluable).
    """
    from countnets.train.training_results import MIN_EVALUABLE_ESS, tilt_evaluable

    _check(result, "flip", (nonempty(result.extra.get("pairs")), "a non-empty 'pairs' list"))
    plt = _pyplot()
    pairs = result.extra["pairs"][:12]
    n = len(pairs) + 1
    cols = min(4, n)
    rows_n = math.ceil(n / cols)
    fig, axes = plt.subplots(rows_n, cols, figsize=(3.3 * cols, 2.8 * rows_n), squeeze=False)
    for ax, p in zip(axes.flat, pairs, strict=False):
        lams = _sym([r["lambda"] for r in p["sweep"]])
        tlams = _sym([r["lambda"] for r in p["tilt_sweep"]])
        for key, color in (("a", "C0"), ("b", "C3")):
            tr = [r["train"][f"p_{key}"] for r in p["sweep"]]
            ax.plot(
                lams,
                [report.number(v) for v in tr],
                "-o",
                ms=3,
                color=color,
                label=f"train P({key.upper()})",
            )
            lo = [r["train"][f"p_{key}_ci"][0] for r in p["sweep"]]
            hi = [r["train"][f"p_{key}_ci"][1] for r in p["sweep"]]
            ax.fill_between(lams, lo, hi, color=color, alpha=0.15)
            ti = [r[f"p_{key}"] if r["ess"] >= MIN_EVALUABLE_ESS else math.nan for r in p["tilt_sweep"]]
            ax.plot(tlams, ti, "--s", ms=3, color=color, alpha=0.8, label=f"tilt P({key.upper()})")
        ax.set_xscale("log")
        ax.set_ylim(0, 1)
        ax.set_title(f"A={p['a']} B={p['b']}\nO={p['prior_odds']:.3g}", fontsize=7)
        ax.set_xlabel("lambda (0 drawn at left)", fontsize=7)
        ax.tick_params(labelsize=6)
    axes.flat[0].legend(fontsize=6)
    ax = axes.flat[len(pairs)]
    for name, marker, color in (("train", "o", "C2"), ("tilt", "s", "C1")):
        xs, ys = [], []
        for p in result.extra["pairs"]:
            est = p[f"lambda_star_{name}"]["estimate"]
            if name == "tilt" and not tilt_evaluable(p)[0]:
                continue
            if isinstance(est, (int, float)) and math.isfinite(est) and math.isfinite(p["log_odds"] or math.nan):
                xs.append(p["log_odds"])
                ys.append(est)
        label = f"lambda* {name}" if xs or name == "train" else f"lambda* {name}: not evaluable"
        ax.plot(xs, ys, marker, ls="none", color=color, label=label)
    ax.set_xlabel("ln prior odds ln O", fontsize=7)
    ax.set_ylabel("lambda*", fontsize=7)
    ax.set_yscale("symlog", linthresh=0.1)
    ax.legend(fontsize=6)
    ax.tick_params(labelsize=6)
    for extra_ax in list(axes.flat)[n:]:
        extra_ax.axis("off")
    fig.tight_layout()
    return _save(fig, path)


def plot_diverse(result: CountResult, path: str | os.PathLike) -> Path:
    """Distinct functions found against runs (mean +- sd over chains) and chains that found B."""
    runs = result.extra.get("runs")
    _check(result, "diverse", (nonempty(result.extra.get("settings")), "a non-empty 'settings' list"),
           (isinstance(runs, int) and runs > 0, "'runs' > 0"))  # fmt: skip
    plt = _pyplot()
    e = result.extra
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    k = list(range(1, e["runs"] + 1))
    for i, st in enumerate(e["settings"]):
        mean, sd = st["distinct_mean"], st["distinct_sd"]
        axes[0].plot(k, mean, "-", color=f"C{i}", label=f"mu = {st['reward']:g}")
        axes[0].fill_between(
            k,
            [m - s for m, s in zip(mean, sd, strict=True)],
            [m + s for m, s in zip(mean, sd, strict=True)],
            color=f"C{i}",
            alpha=0.2,
        )
        if e["b"] is not None:
            axes[1].step(
                k,
                [c / e["chains"] for c in st["found_b_by_run"]],
                where="post",
                color=f"C{i}",
                label=f"mu = {st['reward']:g}",
            )
    axes[0].plot(k, k, "k:", lw=0.8, label="one new per run")
    axes[0].set_xlabel("runs")
    axes[0].set_ylabel("distinct functions fitting S")
    axes[0].legend(fontsize=7)
    axes[1].set_xlabel("runs")
    axes[1].set_ylabel(f"fraction of chains that found B = {e['b']}")
    axes[1].set_ylim(0, 1)
    if e["b"] is not None:
        axes[1].legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, path)


def _f(value) -> float:
    """A JSON number as a float: NaN for ``None``; the strings ``"inf"``, ``"-inf"``, ``"nan"`` as floats."""
    return math.nan if value is None else float(value)


def _lambda_star_panel(ax, pairs: list, name: str, grid: list[float], summary: dict) -> None:
    """``lambda*`` of one optimizer (or ``"tilt"``) against ``ln O``: intervals, censored pairs at their bound."""
    points = []  # (x, xerr, y, ylo, yhi, marker)
    skipped = 0
    for p in pairs:
        star = p["lambda_star"].get(name)
        x = _f(p.get("log_odds"))
        if star is None or not star.get("evaluable", True) or not math.isfinite(x):
            skipped += 1
            continue
        xl, xh = (_f(v) for v in p.get("log_odds_ci") or (x, x))
        xerr = (x - xl if math.isfinite(xl) else 0.0, xh - x if math.isfinite(xh) else 0.0)
        ilo, ihi = (_f(v) for v in star["interval"])
        censored = star.get("censored")
        if censored == "right":  # never flipped on the grid: lambda* is above its bound
            y, marker, ylo, yhi = _f(star["bound"][0]), "^", math.nan, math.nan
        elif censored == "left":  # flipped at the smallest lambda: lambda* is below its bound
            y, marker, ylo, yhi = _f(star["bound"][1]), "v", math.nan, math.nan
        else:
            y, marker, ylo, yhi = _f(star["estimate"]), "o", ilo, ihi
        if not (math.isfinite(y) and y > 0):
            skipped += 1
            continue
        points.append((x, xerr, y, ylo, yhi, marker))
    values = [v for v in grid if v > 0] + [pt[2] for pt in points] + [pt[3] for pt in points if pt[3] > 0]
    values += [pt[4] for pt in points if math.isfinite(pt[4])]
    positive = [v for v in values if math.isfinite(v) and v > 0]
    bottom, top = (min(positive) / 3, max(positive) * 3) if positive else (1e-4, 10.0)
    ax.set_yscale("log")
    ax.set_ylim(bottom, top)
    labels = {"o": "lambda* with its interval", "^": "right-censored: above", "v": "left-censored: below"}
    for marker, label in labels.items():
        chosen = [pt for pt in points if pt[5] == marker]
        if not chosen:
            continue
        xs, ys = [pt[0] for pt in chosen], [pt[2] for pt in chosen]
        xerr = [[pt[1][0] for pt in chosen], [pt[1][1] for pt in chosen]]
        yerr = None
        if marker == "o":
            lo = [pt[2] - (pt[3] if pt[3] > 0 else bottom) for pt in chosen]
            hi = [(pt[4] if math.isfinite(pt[4]) else top) - pt[2] for pt in chosen]
            yerr = [[max(0.0, v) for v in lo], [max(0.0, v) for v in hi]]
        color = {"o": "C0", "^": "C3", "v": "C2"}[marker]
        ax.errorbar(xs, ys, xerr=xerr, yerr=yerr, fmt=marker, color=color, ms=5, elinewidth=0.6, capsize=2,
                    label=label)  # fmt: skip
    for edge in (min(grid), max(grid)) if grid else ():
        ax.axhline(edge, color="0.7", lw=0.6, ls="--")
    ax.set_xlabel("ln O = ln P(A|S) / P(B|S) (plan)")
    ax.set_ylabel("lambda*")
    title = {"sgd": "plain SGD", "tilt": "tilted prior (SMC)", "adam": "Adam", "momentum": "momentum"}.get(name, name)
    reg = (summary.get("sets") or {}).get(name, {}).get("regression")
    if reg:
        lo, hi = (_f(v) for v in reg["slope_ci"])
        title += f"\nslope {_f(reg['slope']):.3g} [{lo:.3g}, {hi:.3g}], p = {_f(reg['p']):.2g}"
    if skipped:
        title += f"; {skipped} pair{'s' if skipped != 1 else ''} not drawn (not evaluable)"
    ax.set_title(title, fontsize=8)
    if points:
        ax.legend(fontsize=6)


def plot_flip_decisive(result: CountResult, path: str | os.PathLike) -> Path:
    """``lambda*`` against the plan's ``ln O``, one panel per optimizer and one for the tilted prior.

    Each pair is drawn at its ``ln O`` (horizontal bar: its interval) and its
    ``lambda*`` (vertical bar: its interval; a lower end of 0 reaches the axis floor).
    A right-censored pair (never flipped on the grid) is a ``^`` at its lower bound, a
    left-censored one (flipped at the smallest lambda) a ``v`` at its upper bound; a
    tilted ``lambda*`` that is not evaluable is left out and counted in the title. The
    dashed lines are the ends of the lambda grid.
    """
    _check(result, "flip-decisive", (nonempty(result.extra.get("pairs")), "a non-empty 'pairs' list"))
    plt = _pyplot()
    e = result.extra
    pairs = list(e["pairs"])
    names = list(dict.fromkeys([*e["optimizers"], "tilt"]))
    names = [n for n in names if any(n in p["lambda_star"] for p in pairs)]
    drawn = [n for n in names if any(p["lambda_star"].get(n, {}).get("evaluable", True) for p in pairs)]
    if not drawn:
        raise CountnetsError(f"a flip-decisive result needs an evaluable lambda* in its pairs, got none of {names}")
    fig, axes = plt.subplots(1, len(drawn), figsize=(4.6 * len(drawn), 4), squeeze=False)
    for ax, name in zip(axes[0], drawn, strict=True):
        grid = [_f(v) for v in (e["tilt_lambdas"] if name == "tilt" else e["lambdas"])]
        _lambda_star_panel(ax, pairs, name, grid, e["summary"])
    title = f"flip-decisive: {len(pairs)} pairs, lambda* against ln O"
    if len(drawn) < len(names):
        title += f" ({', '.join(n for n in names if n not in drawn)}: no pair evaluable, not drawn)"
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def plot_basin(result: CountResult, path: str | os.PathLike) -> Path:
    """Two panels: basin volume against P(f) (one colour per tolerance), and the radial estimate against the
    star basin's splitting estimate; undetermined rows hollow."""
    _check(result, "basin", (nonempty(result.extra.get("rows")), "a non-empty 'rows' list"))
    plt = _pyplot()
    rows = result.extra["rows"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.6))
    for k, tol in enumerate(sorted({r["tolerance"] for r in rows})):
        sel = [r for r in rows if r["tolerance"] == tol]
        for ax, xs, ys, ok in (
            (left, [r["p_f"]["p"] for r in sel], [r["basin"]["p"] for r in sel], [r["basin"]["reliable"] for r in sel]),
            (right, [r["basin_star"]["p"] for r in sel], [r["radial"]["estimate"] for r in sel],
             [r["basin_star"]["reliable"] for r in sel]),
        ):  # fmt: skip
            full = [(x, y) for x, y, o in zip(xs, ys, ok) if o and x > 0 and y > 0]
            hollow = [(x, y) for x, y, o in zip(xs, ys, ok) if not o and x > 0 and y > 0]
            if full:
                ax.scatter(*zip(*full), s=14, color=f"C{k}", label=f"tolerance {tol:g}")
            if hollow:
                ax.scatter(*zip(*hollow), s=14, facecolors="none", edgecolors=f"C{k}")
    for ax, xl, yl in ((left, "P(f), splitting", "basin volume, splitting"),
                       (right, "star basin, splitting", "radial estimate")):  # fmt: skip
        ax.set_xscale("log")
        ax.set_yscale("log")
        lo, hi = ax.get_xlim()
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        ax.set_xlabel(xl)
        ax.set_ylabel(yl)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.suptitle("basins around trained networks (hollow: not determined)")
    return _save(fig, path)
