"""Figures of every result kind the command line writes, with matplotlib (imported lazily, Agg backend).

* serial-parallel: the parallel/serial volume ratio against L with its interval,
  one line per branch scale (all functions, and non-constant functions only), and
  the distribution of the effective depth k*.
* detour: detour and direct volumes with intervals, pooled and per target.
* histogram, estimate: each reported function's probability with its interval.
* train-vs-prior, flip, diverse: the figures of :mod:`countnets.training_plots`.

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
from countnets._io import write_figure
from countnets.results import CountResult

__all__ = [
    "KINDS",
    "plot_result",
    "plot_serial_parallel",
    "plot_detour",
    "plot_estimates",
    "figure_paths",
    "output_paths",
]

# Figure names per kind, as figure_paths takes them; None: the one figure is written at PATH as given.
_FIGURES: dict[str, tuple[str, ...] | None] = {
    "serial-parallel": ("ratio", "kstar"),
    "detour": ("volumes",),
    "histogram": ("estimates",),
    "estimate": ("estimates",),
    "train-vs-prior": None,
    "flip": None,
    "diverse": None,
}
KINDS = tuple(_FIGURES)
"""Result kinds :func:`plot_result` draws: every kind the command line writes."""


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def figure_paths(path: str | os.PathLike, names: tuple[str, ...]) -> list[Path]:
    """Figure files for ``path``: the first figure at ``STEM.png``, the others at ``STEM_NAME.png``."""
    path = Path(path)
    stem = path.with_suffix("") if path.suffix.lower() == ".png" else path
    return [stem.with_name(stem.name + ("" if i == 0 else f"_{name}") + ".png") for i, name in enumerate(names)]


def output_paths(kind: str, path: str | os.PathLike) -> list[Path]:
    """The files :func:`plot_result` writes for a result of ``kind`` at ``path`` (``[path]`` for an unknown kind)."""
    names = _FIGURES.get(kind)
    return [Path(path)] if names is None else figure_paths(path, names)


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


def plot_estimates(result: CountResult, path: str | os.PathLike) -> list[Path]:
    """Each estimate's probability with its interval (log scale), for a histogram or estimate result."""
    ests = list(result.estimates)
    if not ests:
        raise CountnetsError(f"a {result.kind} result without estimates has nothing to draw")
    plt = _pyplot()
    out = figure_paths(path, ("estimates",))
    fig, ax = plt.subplots(figsize=(max(5.0, 0.6 * len(ests) + 2), 4))
    xs = list(range(len(ests)))
    ps = [float(e.p) for e in ests]
    lo = [max(0.0, p - float(e.ci[0])) for p, e in zip(ps, ests, strict=True)]
    hi = [max(0.0, float(e.ci[1]) - p) for p, e in zip(ps, ests, strict=True)]
    ax.bar(xs, ps, yerr=[lo, hi], capsize=3, color="C0")
    if any(p > 0 for p in ps):
        ax.set_yscale("log")
    for x, e in zip(xs, ests, strict=True):
        if e.hits == 0:
            ax.annotate("0 hits", (x, 0), xytext=(0, 3), textcoords="offset points", ha="center", fontsize=7)
    ax.set_xticks(xs)
    ax.set_xticklabels([e.function for e in ests], rotation=45, ha="right")
    level = f"{100 * ests[0].confidence:g}% interval" if ests[0].method != "exact" else "exact"
    ax.set_ylabel(f"prior mass P(f) ({level})")
    mode = "exact enumeration" if result.exact else f"{result.samples:,} samples, seed {result.seed}"
    ax.set_title(f"{result.kind}: {mode}", fontsize=9)
    fig.tight_layout()
    write_figure(fig, out[0], dpi=120)
    return out


def _need(condition: bool, kind: str, what: str) -> None:
    if not condition:
        raise CountnetsError(f"a {kind} result needs {what}")


def _check_drawable(result: CountResult) -> None:
    """Refuse, with what is missing, a result whose payload cannot be drawn."""
    kind, ex = result.kind, result.extra
    if kind == "serial-parallel":
        entries = ex.get("results")
        _need(isinstance(entries, (list, tuple)) and len(entries) > 0, kind, "a non-empty 'results' list")
        _need(isinstance(result.config.get("arch"), Mapping), kind, "config.arch (n, d, w)")
    elif kind == "detour":
        _need(result.samples > 0, kind, "samples > 0")
        _need(isinstance(ex.get("per_target"), (list, tuple)), kind, "a 'per_target' list")
    elif kind == "train-vs-prior":
        _need(isinstance(ex.get("functions"), (list, tuple)), kind, "a 'functions' list")
    elif kind == "flip":
        _need(isinstance(ex.get("pairs"), (list, tuple)) and len(ex["pairs"]) > 0, kind, "a non-empty 'pairs' list")
    elif kind == "diverse":
        _need(isinstance(ex.get("settings"), (list, tuple)) and len(ex["settings"]) > 0, kind,
              "a non-empty 'settings' list")  # fmt: skip
        _need(isinstance(ex.get("runs"), int) and ex["runs"] > 0, kind, "'runs' > 0")


def _draw(result: CountResult, path: str | os.PathLike) -> list[Path]:
    kind = result.kind
    if kind == "serial-parallel":
        return plot_serial_parallel(result, path)
    if kind == "detour":
        return plot_detour(result, path)
    if kind in ("histogram", "estimate"):
        return plot_estimates(result, path)
    from countnets import training_plots

    if kind == "flip":
        from countnets.experiments.flip import plot_flip

        return [Path(plot_flip(result, path))]
    draw = training_plots.plot_train_vs_prior if kind == "train-vs-prior" else training_plots.plot_diverse
    return [Path(draw(result, path))]


def plot_result(result: CountResult, path: str | os.PathLike) -> list[Path]:
    """Write the figures of a result of any kind in :data:`KINDS`; returns the files written.

    Raises:
      CountnetsError: for another kind, or a payload that lacks what the figure needs
        (one line saying what is missing).
    """
    if result.kind not in _FIGURES:
        raise CountnetsError(f"no figures for results of kind {result.kind!r}; expected one of {', '.join(KINDS)}")
    _check_drawable(result)
    try:
        return _draw(result, path)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, ZeroDivisionError) as err:
        if isinstance(err, CountnetsError):
            raise
        raise CountnetsError(f"cannot draw this {result.kind} result: {type(err).__name__}: {err}") from None
