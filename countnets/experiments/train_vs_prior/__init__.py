"""``countnets experiment train-vs-prior``: where training lands against the prior conditioned on S.

For a training set S labelled by ``f*`` (DESIGN section 3b):

* ``P_prior(f | S)``: prior samples that agree with ``f*`` on S, counted by function
  (rejection sampling; exact enumeration for lattice priors with ``--exact``);
  interval: Clopper-Pearson on ``n_f`` out of ``n_fit`` (exact conditional on n_fit).
* ``P_opt(f | S)``: ``--runs`` networks initialised from the prior (network r from
  prior sample r, same seed and chunks) and trained with optax until they fit S or
  the step budget runs out; ``n_f`` out of the runs that fit S, with its interval.
  Runs that did not fit S are counted in ``not_converged`` and their functions kept
  apart (``trained_not_converged``), never dropped.
* Summaries: Pearson and Spearman correlation of ``log10 P_opt`` and ``log10
  P_prior`` over functions with at least ``--min-count`` counts in both; total
  variation distance with a bootstrap interval and its value expected from
  sampling noise alone (``tv_null``).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from countnets.network import boolean
from countnets.results import CountResult, make_estimate, report
from countnets.results.report import fmt_prob, fmt_prob_interval
from countnets.train import training_results as train_records
from countnets.train.training import (
    TrainConfig,
    TrainingSet,
    compare_distributions,
    conditional_prior,
    train_networks,
)
from countnets.train.training_results import DEFAULT_EXPERIMENT_CHUNK

__all__ = ["KIND", "comparison_summary", "train_vs_prior", "format_train_vs_prior"]

KIND = "train-vs-prior"  # the result record's ``kind``


def comparison_summary(
    trained: dict[int, int],
    prior_hist: dict[int, int],
    *,
    min_count: int = 5,
    bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    exact: bool = False,
) -> dict[str, Any]:
    """The ``summary`` of a train-vs-prior result from its two histograms (truth table -> count).

    :func:`countnets.stats.statistics.compare_distributions` of the trained runs that fit S
    against the prior samples that fit S (their function keys as hex), plus the most
    probable function under the conditional prior (``prior_top``, ties: smaller table)
    and its probability under both, and the number of distinct functions in each.
    Pure: ``scripts/refresh_summaries.py`` recomputes it from committed results.
    """
    n_conv, n_fit = sum(trained.values()), sum(prior_hist.values())
    summary: dict[str, Any]
    if n_fit and n_conv:
        summary = compare_distributions(
            trained, prior_hist, min_count=min_count, bootstrap=bootstrap, confidence=confidence, seed=seed,
            q_exact=exact,
        )  # fmt: skip
        for key in ("largest_excess", "largest_deficit"):
            summary[key]["function"] = boolean.to_hex(summary[key]["function"])
    else:
        summary = {"note": "no comparison: no prior sample fits S" if not n_fit else "no trained network fit S"}
    if n_fit:
        top = min(prior_hist.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        summary["prior_top"] = boolean.to_hex(top)
        summary["prior_top_p"] = prior_hist[top] / n_fit
        summary["trained_top_p"] = trained.get(top, 0) / n_conv if n_conv else None
    summary["trained_distinct"] = len(trained)
    summary["prior_distinct"] = len(prior_hist)
    return summary


def _function_rows(
    cp: Any, trained: dict[int, int], n_conv: int, confidence: float, method: str, prior_method: str
) -> list[dict[str, Any]]:
    """One row per function seen (by prior, then trained count): counts, probabilities and intervals."""
    rows = []
    for f in sorted(set(cp.histogram) | set(trained), key=lambda f: (-cp.histogram.get(f, 0), -trained.get(f, 0), f)):
        cq, co = cp.histogram.get(f, 0), trained.get(f, 0)
        rows.append(
            {
                "function": boolean.to_hex(f),
                "prior_count": cq,
                "prior_p": cq / cp.fit if cp.fit else None,
                "prior_ci": report.interval(cq, cp.fit, confidence, prior_method),
                "trained_count": co,
                "trained_p": co / n_conv if n_conv else None,
                "trained_ci": report.interval(co, n_conv, confidence, method),
            }
        )
    return rows


def _steps_summary(steps: np.ndarray, budget: int) -> dict[str, Any]:
    """The step budget and the mean, median and largest number of updates of the runs."""
    return {
        "budget": budget,
        "mean": float(steps.mean()),
        "median": float(np.median(steps)),
        "max": int(steps.max()),
    }


def _estimates(
    cp: Any, rows: list[dict[str, Any]], n_conv: int, confidence: float, method: str, prior_method: str
) -> list:
    """The result's estimates: P(fit S), then prior and trained probabilities of the ten most probable functions."""
    estimates = [train_records.prior_fit_estimate(cp, confidence, method)]
    for row in rows[:10]:
        if cp.fit:
            estimates.append(
                make_estimate(
                    f"prior|S {row['function']}", row["prior_count"], cp.fit, confidence=confidence, method=prior_method
                )
            )
        if n_conv:
            estimates.append(
                make_estimate(
                    f"trained|S {row['function']}", row["trained_count"], n_conv, confidence=confidence, method=method
                )
            )
    return estimates


def train_vs_prior(
    prior: Any,
    arch: Any,
    tset: TrainingSet,
    train_config: TrainConfig,
    *,
    n_runs: int,
    n_samples: int | None,
    seed: int = 0,
    exact: bool = False,
    encoding: str = "01",
    chunk_size: int = DEFAULT_EXPERIMENT_CHUNK,
    chunks_per_step: int | None = None,
    confidence: float = 0.95,
    method: str = "clopper-pearson",
    min_count: int = 5,
    bootstrap: int = 1000,
    max_configurations: int = 2**34,
    precision: str = "highest",
    progress: bool | float = False,
    devices: int | None = None,
) -> CountResult:
    """Run the comparison and return its record (``kind="train-vs-prior"``).

    ``extra`` (also written at the JSON top level) holds ``train_points``, ``target``,
    ``prior`` (hex -> count among prior samples fitting S), ``prior_samples``,
    ``prior_fit``, ``trained`` (hex -> count among runs fitting S),
    ``trained_not_converged``, ``runs``, ``not_converged``, ``functions`` (one row per
    function seen: counts, probabilities, intervals), ``steps``, ``moved`` and
    ``summary``.
    """
    start = time.perf_counter()
    cp = conditional_prior(
        prior, arch, tset, n_samples=n_samples, seed=seed, exact=exact, encoding=encoding, chunk_size=chunk_size,
        chunks_per_step=chunks_per_step, max_configurations=max_configurations, precision=precision, progress=progress,
        devices=devices,
    )  # fmt: skip
    runs = train_networks(
        prior, arch, tset, train_config, n_runs=n_runs, seed=seed, encoding=encoding, chunk_size=chunk_size,
        progress=progress, devices=devices,
    )  # fmt: skip
    trained = runs.histogram(0)
    not_conv = runs.histogram(0, converged=False)
    n_conv = int(runs.fit[0].sum())
    prior_method = "exact" if exact else method
    rows = _function_rows(cp, trained, n_conv, confidence, method, prior_method)
    summary = comparison_summary(
        trained, cp.histogram, min_count=min_count, bootstrap=bootstrap, confidence=confidence, seed=seed, exact=exact
    )
    steps = runs.steps[0]
    init_fit = int(np.sum([tset.fits(t) for t in runs.init_tables.tolist()]))
    extra = {
        **train_records.set_extra(tset),
        **train_records.prior_extra(cp, confidence, method),
        "trained": report.hist_hex(trained),
        "trained_not_converged": report.hist_hex(not_conv),
        "runs": runs.runs,
        "not_converged": runs.runs - n_conv,
        "trained_nonfinite": int(runs.nonfinite[0].sum()),
        "init_fit": init_fit,
        "steps": _steps_summary(steps, train_config.max_steps),
        "moved": runs.moved,
        "train_seconds": runs.seconds,
        "prior_seconds": cp.seconds,
        "functions": rows,
        "summary": summary,
    }
    estimates = _estimates(cp, rows, n_conv, confidence, method, prior_method)
    leading = train_records.experiment_config(
        prior, arch, tset, train_config, encoding=encoding, precision=precision, method=method,
        confidence=confidence, n_samples=n_samples, n_runs=n_runs,
    )  # fmt: skip
    config = {
        **leading,
        "exact": exact,
        "min_count": min_count,
        "bootstrap": bootstrap,
        "train_chunk_size": runs.chunk_size,
    }
    return train_records.make_result(
        KIND, config, seed, cp.chunk_size, cp, estimates, time.perf_counter() - start, extra, devices=devices
    )


def format_train_vs_prior(result: CountResult, top: int = 15) -> str:
    """Terminal summary and the table of the most frequent functions."""
    e = result.extra
    s = e["summary"]
    conf = result.config["confidence"]
    fit_p = e["prior_fit"] / e["prior_samples"]
    tr = result.config["training"]
    mode = "exact enumeration" if result.exact else f"{e['prior_samples']:,} prior samples"
    lines = [
        f"train-vs-prior: target {e['target']} on S = {len(e['train_points'])} points; "
        f"{report.arch_name(result.config)}",
        f"prior: {mode}, {e['prior_fit']:,} fit S "
        f"(P(fits S) = {fmt_prob(fit_p)} {fmt_prob_interval(e['prior_fit_ci'])}), "
        f"{len(e['prior'])} functions",
        f"training: {e['runs']:,} runs ({tr['optimizer']}, lr {tr['learning_rate']}, {tr['loss']}), "
        f"{e['not_converged']:,} did not fit S within {e['steps']['budget']} steps; "
        f"steps mean {e['steps']['mean']:.1f}, max {e['steps']['max']}; {len(e['trained'])} functions",
    ]
    if not report.undefined(s.get("tv")):
        corr = "n/a" if report.undefined(s["correlation"]) else f"{s['correlation']:.3f} (Spearman {s['spearman']:.3f})"
        lines.append(
            f"log10 P correlation over {s['functions_compared']} functions with >= {s['min_count']} "
            f"counts in both: {corr}"
        )
        lines.append(
            f"total variation {s['tv']:.3f}, {conf:g} bootstrap interval {fmt_prob_interval(s['tv_ci'])}; "
            f"noise alone would give {s['tv_null_mean']:.3f} (upper {conf:g} quantile {s['tv_null_quantile']:.3f})"
        )
        if "tv_excess" in s:
            ex, de = s["largest_excess"], s["largest_deficit"]
            perms = s["tv_permutations"]
            at_floor = s["tv_permutation_p"] == 1 / (1 + perms)
            p_text = f"1/{perms + 1} (the smallest possible)" if at_floor else f"{s['tv_permutation_p']:.3g}"
            lines.append(
                f"TV less the noise mean {s['tv_excess']:.3f}; permutation test p = {p_text} over {perms} "
                f"permutations; largest single-function differences P_opt - P_prior: {ex['function']} "
                f"{ex['value']:+.4f}, {de['function']} {-de['value']:+.4f}"
            )
            q = s["equal_size"]
            lines.append(
                f"at equal sample size ({q['size']:,}; the larger sample subsampled {q['draws']} times): "
                f"distinct functions {q['p_distinct']:.1f} trained, {q['q_distinct']:.1f} prior; "
                f"plug-in entropy {q['p_entropy']:.2f} trained, {q['q_entropy']:.2f} prior (nats)"
            )
    frozen = [name for name, count in e["moved"].items() if count == 0]
    if frozen and len(frozen) < len(e["moved"]):
        lines.append(f"parameter arrays no trained network moved (zero gradient): {', '.join(frozen)}")
    rows = [
        ["function", "prior n", "P_prior(f|S)", f"{conf:g} interval", "trained n", "P_opt(f|S)", f"{conf:g} interval"]
    ]
    for r in e["functions"][:top]:
        rows.append(
            [r["function"], f"{r['prior_count']:,}", fmt_prob(r["prior_p"]), fmt_prob_interval(r["prior_ci"]),
             f"{r['trained_count']:,}", fmt_prob(r["trained_p"]), fmt_prob_interval(r["trained_ci"])]
        )  # fmt: skip
    lines += report.text_table(rows)
    return "\n".join(lines)
