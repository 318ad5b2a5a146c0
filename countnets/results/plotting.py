"""Figures of every result kind countnets writes, with matplotlib (imported lazily, Agg backend).

* serial-parallel: the parallel/serial volume ratio against L with its interval,
  one line per branch scale (all functions, and non-constant functions only), and
  the distribution of the effective depth k*.
* detour: detour and direct volumes with intervals, pooled and per target.
* histogram, estimate: each reported function's probability with its interval; an
  estimate by splitting: each replica's estimate, the mean and its interval.
* composition: P(f) and P(f, k* = the form's k*) of every row, with intervals.
* bench: each row's estimate against its reference, coloured by verdict.
* train-vs-prior, flip, diverse, flip-decisive, basin: the figures of :mod:`countnets.train.plots`.
* any registered experiment: its record's ``plot`` (:mod:`countnets.experiments`).

Every axis on a log scale reaches below its smallest positive value, and a zero
estimate is drawn as the upper end of its interval (an upper-bound marker), never
clipped away. The format is the path's suffix: ``.png``, ``.pdf`` or ``.svg``
(:data:`FORMATS`); a path without one gets ``.png``.

``countnets plot RESULT.json`` and the experiments' ``--plot PATH`` call
:func:`plot_result`. Figures are written atomically (:func:`countnets._io.write_figure`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from countnets._errors import CountnetsError
from countnets._io import FORMATS, figure_format, figure_paths, write_figure
from countnets.defaults import ENGINE_KINDS
from countnets.results import CountResult

__all__ = [
    "kinds",
    "FORMATS",
    "plot_result",
    "plot_serial_parallel",
    "plot_detour",
    "plot_estimates",
    "plot_splitting",
    "plot_composition",
    "plot_bench",
    "figure_format",
    "figure_paths",
    "output_paths",
    "require",
    "nonempty",
]

# The engine's own result kinds and their figure names, as figure_paths takes them: the first figure is
# written at PATH, the others at PATH_NAME. An experiment's kind and figures are in its registry record.
_ESTIMATE_KINDS = tuple(kind for kind in ENGINE_KINDS if kind != "bench")  # each draws its estimates
_ENGINE_FIGURES: dict[str, tuple[str, ...]] = {**dict.fromkeys(_ESTIMATE_KINDS, ("estimates",)), "bench": ("rows",)}


def kinds() -> tuple[str, ...]:
    """Result kinds :func:`plot_result` draws: the engine's and every registered experiment's that has a plot."""
    from countnets import _registry as experiments

    return (*_ENGINE_FIGURES, *(e.name for e in experiments.registered() if e.plot is not None))


def _figures(kind: str) -> tuple[str, ...] | None:
    from countnets import _registry as experiments

    experiment = experiments.get(kind)
    if experiment is not None:
        return experiment.figures if experiment.plot is not None else None
    return _ENGINE_FIGURES.get(kind)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def output_paths(kind: str, path: str | os.PathLike) -> list[Path]:
    """The files :func:`plot_result` writes for a result of ``kind`` at ``path`` (one file for an unknown kind).

    Raises:
      CountnetsError: as :func:`figure_paths`.
    """
    return figure_paths(path, _figures(kind) or ("figure",))


def _num(x: Any) -> float:
    return float(x)


def _errorbar(ax, xs, record_list, label, marker="o", linestyle="-"):
    finite = [
        (x, r)
        for x, r in zip(xs, record_list, strict=True)
        if math.isfinite(_num(r["estimate"])) and _num(r["estimate"]) > 0
    ]
    if not finite:
        return
    x = [p[0] for p in finite]
    y = [_num(p[1]["estimate"]) for p in finite]
    lo = [max(0.0, yy - _num(p[1]["ci"][0])) for yy, p in zip(y, finite, strict=True)]
    hi = [
        (_num(p[1]["ci"][1]) - yy) if math.isfinite(_num(p[1]["ci"][1])) else yy
        for yy, p in zip(y, finite, strict=True)
    ]
    ax.errorbar(x, y, yerr=[lo, hi], marker=marker, linestyle=linestyle, capsize=3, label=label)


def plot_serial_parallel(result: CountResult, path: str | os.PathLike) -> list[Path]:
    """Ratio against L (one line per branch scale) and the k* distributions; returns the files written."""
    require(nonempty(result.extra.get("results")), "serial-parallel", "a non-empty 'results' list")
    require(isinstance(result.config.get("arch"), Mapping), "serial-parallel", "config.arch (n, d, w)")
    plt = _pyplot()
    entries = result.extra["results"]
    specs = list(dict.fromkeys(e["branch_scale_spec"] for e in entries))
    blocks = sorted({e["blocks"] for e in entries})
    out = figure_paths(path, ("ratio", "kstar"))
    conf = f"{100 * result.config.get('confidence', 0.95):g}%"

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, key, title in zip(
        axes, ("ratio", "ratio_nonconstant"), ("all functions", "non-constant functions"), strict=True
    ):
        for spec in specs:
            rows = sorted((e for e in entries if e["branch_scale_spec"] == spec and e["blocks"] >= 2),
                          key=lambda e: e["blocks"])  # fmt: skip
            _errorbar(ax, [e["blocks"] for e in rows], [e[key] for e in rows], f"alpha = {spec}")
        ax.axhline(1.0, color="grey", linestyle="--", linewidth=1)
        ax.set_yscale("log")
        ax.set_xlabel("blocks L")
        ax.set_xticks([b for b in blocks if b >= 2])
        ax.set_title(title)
    axes[0].set_ylabel(f"P(k* <= 1) / P(k* >= 2), {conf} interval")
    axes[0].legend()
    a = result.config["arch"]
    fig.suptitle(f"parallel/serial volume ratio, ResMLP n={a['n']} d={a['d']} w={a['w']} (above 1: parallel wins)")
    fig.tight_layout()
    write_figure(fig, out[0], dpi=120)

    fig, axes = plt.subplots(1, len(specs), figsize=(4 * len(specs), 3.5), sharey=True, squeeze=False)
    for ax, spec in zip(axes[0], specs, strict=True):
        rows = sorted((e for e in entries if e["branch_scale_spec"] == spec), key=lambda e: e["blocks"])
        width = 0.8 / max(1, len(rows))
        for i, e in enumerate(rows):
            shares = [c / e["samples"] for c in e["kstar_counts"]]
            ax.bar([k + i * width for k in range(len(shares))], shares, width=width, label=f"L = {e['blocks']}")
        ax.set_title(f"alpha = {spec}")
        ax.set_xlabel("effective depth k*")
    axes[0][0].set_ylabel("share of sampled networks")
    axes[0][0].legend()
    fig.tight_layout()
    write_figure(fig, out[1], dpi=120)
    return out


def plot_detour(result: CountResult, path: str | os.PathLike, *, max_targets: int = 12) -> list[Path]:
    """Detour and direct volumes (log scale, intervals), pooled and for the most frequent targets."""
    require(result.samples > 0, "detour", "samples > 0")
    require(isinstance(result.extra.get("per_target"), (list, tuple)), "detour", "a 'per_target' list")
    plt = _pyplot()
    ex = result.extra
    kind = ex["detour_kind"]
    a_name, b_name = ("with_pair", "without_pair") if kind == "write-erase" else ("detour", "direct")
    a_label, b_label = (
        ("with a cancelling pair", "with none") if kind == "write-erase" else ("detour (sum over g)", "direct")
    )
    n = result.samples
    groups = [("all", ex[a_name]["hits"], ex[b_name]["hits"], ex[a_name]["ci"], ex[b_name]["ci"])]
    targets = sorted(ex["per_target"], key=lambda t: -t["hits"])[:max_targets]
    for t in targets:
        groups.append((t["function"], t[a_name], t[b_name], t[f"{a_name}_ci"], t[f"{b_name}_ci"]))
    out = figure_paths(path, ("volumes",))
    fig, ax = plt.subplots(figsize=(max(6, 0.7 * len(groups) + 2), 4))
    xs = range(len(groups))
    for offset, index, label in ((-0.2, 1, a_label), (0.2, 2, b_label)):
        ps = [g[index] / n for g in groups]
        cis = [g[index + 2] for g in groups]
        lo = [p - float(c[0]) for p, c in zip(ps, cis, strict=True)]
        hi = [float(c[1]) - p for p, c in zip(ps, cis, strict=True)]
        ax.bar([x + offset for x in xs], ps, width=0.4, yerr=[lo, hi], capsize=2, label=label)
    ax.set_xticks(list(xs))
    ax.set_xticklabels([g[0] for g in groups], rotation=45, ha="right")
    ax.set_yscale("log")
    ax.set_ylabel("prior volume P(f and ...)")
    ax.set_title(f"detour ({kind}) vs direct: pooled ('all') and the most frequent functions")
    ax.legend()
    fig.tight_layout()
    write_figure(fig, out[0], dpi=120)
    return out


def _float(x: Any) -> float:
    """A JSON number as a float: NaN for ``None``; the strings ``"inf"``, ``"-inf"``, ``"nan"`` as floats."""
    return math.nan if x is None else float(x)


def _log_range(values: list[float], pad: float = 3.0) -> tuple[float, float] | None:
    """Log-axis limits covering every positive finite value, ``pad`` times beyond the extremes; ``None`` if none."""
    positive = [v for v in values if math.isfinite(v) and v > 0]
    return (min(positive) / pad, max(positive) * pad) if positive else None


def _confidence(estimates) -> str:
    levels = {f"{100 * float(e.confidence):g}%" for e in estimates}
    return "/".join(sorted(levels))


def _zero_marker(ax, xs: list[float], ys: list[float], *, vertical: bool, label: str, color: str = "C3") -> None:
    """Upper-bound markers: a zero estimate drawn at the upper end of its interval, pointing down (or left)."""
    if xs:
        ax.plot(xs, ys, "v" if vertical else "<", ls="none", color=color, mfc="none", ms=7, label=label)


def plot_estimates(result: CountResult, path: str | os.PathLike) -> list[Path]:
    """Each estimate's probability with its interval, for a histogram or estimate result.

    The log axis reaches below the smallest positive estimate or interval end, so every
    bar is drawn from the axis floor; an estimate of 0 (no hits) is an upper-bound
    marker at its interval's upper end. An estimate by splitting is drawn by
    :func:`plot_splitting`.
    """
    if isinstance(result.extra, Mapping) and result.extra.get("method") == "splitting":
        return plot_splitting(result, path)
    ests = list(result.estimates)
    if not ests:
        raise CountnetsError(f"a {result.kind} result without estimates has nothing to draw")
    plt = _pyplot()
    out = figure_paths(path, ("estimates",))
    fig, ax = plt.subplots(figsize=(max(5.0, 0.6 * len(ests) + 2), 4))
    xs = list(range(len(ests)))
    ps = [_float(e.p) for e in ests]
    los = [_float(e.ci[0]) for e in ests]
    his = [_float(e.ci[1]) for e in ests]
    limits = _log_range(ps + los + his)
    floor = limits[0] if limits else 0.0
    drawn = [i for i in xs if math.isfinite(ps[i]) and ps[i] > 0]
    if limits:
        ax.set_yscale("log")
        ax.set_ylim(*limits)
    if drawn:
        heights = [ps[i] - floor for i in drawn]
        ax.bar(drawn, heights, bottom=floor, color="C0", label="estimate")
        yerr = [[ps[i] - max(los[i], floor) for i in drawn], [max(0.0, his[i] - ps[i]) for i in drawn]]
        ax.errorbar(drawn, [ps[i] for i in drawn], yerr=yerr, capsize=3, fmt="none", ecolor="k")
    bounded = [i for i in xs if ps[i] == 0 and math.isfinite(his[i]) and his[i] > 0]
    _zero_marker(ax, bounded, [his[i] for i in bounded], vertical=True, label="0 hits: upper end of the interval")
    for i in xs:
        if ps[i] == 0 and not his[i] > 0:  # exactly zero (e.g. an enumeration): nothing to draw on a log axis
            ax.annotate("0", (i, 0), xycoords=("data", "axes fraction"), xytext=(0, 3), textcoords="offset points",
                        ha="center", fontsize=7)  # fmt: skip
    ax.set_xticks(xs)
    ax.set_xticklabels([e.function for e in ests], rotation=45, ha="right")
    level = f"{_confidence(ests)} interval" if ests[0].method != "exact" else "exact"
    ax.set_ylabel(f"prior mass P(f) ({level})")
    mode = "exact enumeration" if result.exact else f"{result.samples:,} samples, seed {result.seed}"
    ax.set_title(f"{result.kind}: {mode}", fontsize=9)
    if bounded:
        ax.legend(fontsize=7)
    fig.tight_layout()
    write_figure(fig, out[0], dpi=120)
    return out


def plot_splitting(result: CountResult, path: str | os.PathLike) -> list[Path]:
    """An estimate by splitting: each replica's estimate (a bar), their mean P(f) and its interval (log scale).

    A replica none of whose particles reached the event estimates 0: it is marked at
    the axis floor. With no replica reaching it, the interval is an upper bound, drawn
    as a dashed line.
    """
    x = result.extra
    ests = list(result.estimates)
    if len(ests) != 1:
        raise CountnetsError(f"an estimate by splitting has one estimate, got {len(ests)}")
    (e,) = ests
    plt = _pyplot()
    out = figure_paths(path, ("estimates",))
    reps = [_float(v) for v in x["replica_estimates"]]
    p, lo, hi = _float(e.p), _float(e.ci[0]), _float(e.ci[1])
    bound = x["interval"] == "upper-bound" or p == 0
    floor, top = _log_range([*reps, p, lo, hi]) or (1e-12, 1.0)
    fig, ax = plt.subplots(figsize=(max(5.0, 0.22 * len(reps) + 2.5), 4))
    ax.set_yscale("log")
    ax.set_ylim(floor, top)
    index = list(range(1, len(reps) + 1))
    reached = [i for i, v in zip(index, reps, strict=True) if math.isfinite(v) and v > 0]
    if reached:
        ax.bar(reached, [reps[i - 1] - floor for i in reached], bottom=floor, color="C0", alpha=0.7,
               label="one replica's estimate")  # fmt: skip
    missed = [i for i, v in zip(index, reps, strict=True) if v == 0]
    if missed:
        ax.plot(missed, [floor * 1.3] * len(missed), "x", ls="none", color="C3",
                label="replica that did not reach f (estimate 0)")  # fmt: skip
    conf = f"{100 * float(e.confidence):g}%"
    if bound:
        ax.axhline(hi, color="C3", ls="--", label=f"{conf} upper bound {hi:.3g} (no replica reached f)")
    else:
        ax.axhline(p, color="k", label=f"P(f) = {p:.3g}, the mean over replicas")
        ax.axhspan(max(lo, floor), hi, color="C1", alpha=0.25, label=f"{conf} interval ({x['interval']})")
    ax.set_xlabel("replica")
    ax.set_ylabel("estimate of P(f)")
    if len(index) <= 40:
        ax.set_xticks(index)
        ax.tick_params(axis="x", labelsize=6)
    ax.set_title(f"{e.function} by splitting: {e.hits:,} of {e.n:,} replicas reached it\n"
                 f"{e.n:,} replicas x {int(x['particles']):,} particles, seed {result.seed}", fontsize=9)  # fmt: skip
    ax.legend(fontsize=7)
    fig.tight_layout()
    write_figure(fig, out[0], dpi=120)
    return out


def plot_composition(result: CountResult, path: str | os.PathLike) -> list[Path]:
    """P(f) and P(f, k* = the form's k*) of every row with their intervals, on a log axis (one line per row).

    A zero estimate is an upper-bound marker at the upper end of its interval.
    """
    require(nonempty(result.extra.get("rows")), "composition", "a non-empty 'rows' list")
    rows = list(result.extra["rows"])
    plt = _pyplot()
    out = figure_paths(path, ("rows",))
    series = (("p", "P(f)", "0.45", "o", -0.17), ("p_form", "P(f, k* = the form's k*)", "C0", "s", 0.17))
    values = [_float(v) for r in rows for key, *_ in series for v in (r[key].p, *r[key].ci)]
    left, right = _log_range(values) or (1e-12, 1.0)
    fig, ax = plt.subplots(figsize=(9, max(3.0, 0.24 * len(rows) + 1.6)))
    ax.set_xscale("log")
    ax.set_xlim(left, right)
    for key, label, color, marker, offset in series:
        ests = [r[key] for r in rows]
        ps = [_float(est.p) for est in ests]
        shown = [i for i, v in enumerate(ps) if math.isfinite(v) and v > 0]
        if shown:
            lo = [ps[i] - max(_float(ests[i].ci[0]), left) for i in shown]
            hi = [max(0.0, _float(ests[i].ci[1]) - ps[i]) for i in shown]
            ax.errorbar([ps[i] for i in shown], [i + offset for i in shown], xerr=[lo, hi], fmt=marker, color=color,
                        ms=4, capsize=2, elinewidth=0.8, label=label)  # fmt: skip
        zero = [i for i, v in enumerate(ps) if v == 0 and _float(ests[i].ci[1]) > 0]
        _zero_marker(ax, [_float(ests[i].ci[1]) for i in zero], [i + offset for i in zero], vertical=False,
                     color=color, label=f"{label} = 0: upper end of the interval")  # fmt: skip
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([f"{r['target']} {r['form']} (k*={r['form_kstar']})  n={r['n']} L={r['blocks']} w={r['w']} "
                        f"alpha={r['branch_scale_spec']}" for r in rows], fontsize=6)  # fmt: skip
    ax.set_ylim(len(rows) - 0.5, -0.5)  # first row at the top
    ax.grid(axis="x", which="major", color="0.9")
    conf = _confidence([r["p"] for r in rows])
    ax.set_xlabel(f"prior mass ({conf} intervals)")
    splitting = sum(r.get("estimator") == "splitting" for r in rows)
    sizes = sorted({int(r["samples"]) for r in rows})
    per_row = f"{sizes[0]:,}" if len(sizes) == 1 else f"{sizes[0]:,} to {sizes[-1]:,}"
    how = f"{splitting} of {len(rows)} rows by splitting" if splitting else f"{per_row} samples per row"
    ax.set_title(f"composition: {len(rows)} rows, {how}", fontsize=9)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    write_figure(fig, out[0], dpi=100)
    return out


_VERDICT_COLORS = {"pass": "C2", "fail": "C3", "measured": "C0", "error": "0.5"}


def plot_bench(result: CountResult, path: str | os.PathLike) -> list[Path]:
    """Each bench row's estimate over its reference with the interval (one line per row), coloured by verdict.

    A row without a reference (measured only, or judged against a claim) gets its
    estimate and interval as text on its line.
    """
    x = result.extra
    rows = list(x["rows"])
    plt = _pyplot()
    out = figure_paths(path, ("rows",))
    fig, ax = plt.subplots(figsize=(10, max(3.0, 0.32 * len(rows) + 1.6)))
    seen: set[str] = set()
    for i, r in enumerate(rows):
        verdict = str(r["verdict"])
        color = _VERDICT_COLORS.get(verdict, "k")
        est, ref = _float(r["estimate"]), _float(r.get("reference"))
        lo, hi = (_float(v) for v in r["interval"])
        if math.isfinite(ref) and ref != 0 and math.isfinite(est):
            q, qlo, qhi = est / ref, lo / ref, hi / ref
            err = [[max(0.0, q - qlo)], [max(0.0, qhi - q)]] if math.isfinite(qlo) and math.isfinite(qhi) else None
            ax.errorbar([q], [i], xerr=err, fmt="o", color=color, capsize=3, ms=5,
                        label=None if verdict in seen else verdict)  # fmt: skip
            seen.add(verdict)
        else:
            if verdict == "error":
                text = f"error: {r['note']}"[:90]
            else:
                interval = f" [{lo:.4g}, {hi:.4g}]" if math.isfinite(lo) and math.isfinite(hi) else ""
                text = f"{est:.4g}{interval} ({verdict}, no reference value)"
            ax.text(0.01, i, text, transform=ax.get_yaxis_transform(), va="center", fontsize=7, color=color)
    ax.axvline(1.0, color="0.6", lw=0.8)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([f"{r['name']} ({r['verdict']})" for r in rows], fontsize=7)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    if not seen:
        ax.set_xlim(0.5, 1.5)
    tallies = ", ".join(f"{n} {v}" for v, n in x["verdicts"].items())
    ax.set_xlabel("estimate / reference, with the interval / reference (1: the reference)")
    ax.set_title(f"bench {x['suite']}: {len(rows)} rows ({tallies}), alpha {x['alpha']:g}, seed {result.seed}",
                 fontsize=9)  # fmt: skip
    if seen:
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    write_figure(fig, out[0], dpi=100)
    return out


def require(condition: bool, kind: str, what: str) -> None:
    """Refuse, in one line, a result of ``kind`` that lacks ``what`` a figure needs (``condition`` false)."""
    if not condition:
        raise CountnetsError(f"a {kind} result needs {what}")


def nonempty(value: Any) -> bool:
    """Whether ``value`` is a list or tuple with at least one item."""
    return isinstance(value, (list, tuple)) and len(value) > 0


def _check_drawable(result: CountResult) -> None:
    """Refuse, with what is missing, a result whose payload cannot be drawn."""
    if result.kind == "bench":  # an experiment's figure checks its own result
        require(nonempty(result.extra.get("rows")), "bench", "a non-empty 'rows' list")


def _draw(result: CountResult, path: str | os.PathLike) -> list[Path]:
    engine = {**dict.fromkeys(_ESTIMATE_KINDS, plot_estimates), "bench": plot_bench}.get(result.kind)
    if engine is not None:
        return engine(result, path)
    from countnets import _registry as experiments

    written = experiments.get(result.kind).plot(result, path)
    return [Path(p) for p in (written if isinstance(written, (list, tuple)) else [written])]


def plot_result(result: CountResult, path: str | os.PathLike) -> list[Path]:
    """Write the figures of a result of any kind in :func:`kinds`; returns the files written.

    The files are :func:`output_paths` ``(result.kind, path)``, in the format of the
    path's suffix (:data:`FORMATS`).

    Raises:
      CountnetsError: for another kind, a path with another suffix, or a payload that
        lacks what the figure needs (one line saying what is missing).
    """
    if _figures(result.kind) is None:
        raise CountnetsError(f"no figures for results of kind {result.kind!r}; expected one of {', '.join(kinds())}")
    output_paths(result.kind, path)  # refuse an unknown suffix before drawing
    _check_drawable(result)
    try:
        return _draw(result, path)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, ZeroDivisionError) as err:
        if isinstance(err, CountnetsError):
            raise
        raise CountnetsError(f"cannot draw this {result.kind} result: {type(err).__name__}: {err}") from None
