"""``countnets experiment flip``: prior odds of two policies and the pressure needed to flip them.

For a training set S and two functions A and B that both agree with ``f*`` on S
(DESIGN section 3b):

* Prior odds ``O = P_prior(A | S) / P_prior(B | S)`` from the conditional prior
  (rejection sampling, or exact lattice enumeration), with the exact conditional
  binomial interval of :func:`countnets.ratio_interval`.
* Training under pressure: the loss ``L_S + lambda l_B`` with
  ``l_B = mean_{j not in S} loss(y_j, B_j)``, for each ``lambda`` of ``--lambdas``;
  the same ``--runs`` prior initialisations at every lambda. ``P_opt(A)`` and
  ``P_opt(B)`` are fractions of the runs that fit S (runs that did not are counted).
* The tilted prior: prior samples fitting S weighted by ``exp(-lambda l_B(theta))``
  (self-normalised importance sampling, effective sample size reported).
* ``lambda*``: the least lambda of the sweep with ``P(B) >= P(A)``, for training and
  for the tilted prior, with the bracket of :class:`countnets.train.training.LambdaStar`.
  For training the sign of ``P(B) - P(A)`` is judged by the exact Clopper-Pearson
  interval of ``q = n_B / (n_A + n_B)`` against 1/2; for the tilted prior by the
  delta-method normal interval of ``P_tilt(B) - P_tilt(A)``.
* With several pairs (``--pairs K``: A against the 2nd .. (K+1)-th most probable
  functions, or ``--b-rank``/``--b`` lists): how well ``ln O`` predicts ``lambda*``
  (:func:`flip_summary`): the Spearman correlation with pairs that never flipped kept
  as censored (ranked above every finite ``lambda*``), its p-value and an approximate
  Fisher-z interval; for the tilted prior only over pairs whose effective sample
  size stays usable (:data:`MIN_EVALUABLE_ESS`); below it the tables print "not
  evaluable" instead of an estimate and interval.

Infinite and undefined numbers are stored explicitly, so the result JSON is standard:
the strings ``"inf"`` and ``"-inf"`` for an infinite value and ``null`` for an undefined
one (NaN). Prior odds (and their interval's upper end, and ``log_odds``) are ``"inf"``
when B was never seen among the prior samples fitting S, and ``null`` (``log_odds``
too) when neither A nor B was; ``log_odds`` is ``"-inf"`` when only A was never seen
(odds 0); ``lambda*`` and its bracket's upper end are ``"inf"`` when the sweep never gets
``P(B) >= P(A)`` (``censored``); a training probability and its interval are ``null``
when no run at that lambda fit S; a summary statistic is ``null`` when too few pairs
give it. The table shows ``inf`` and ``-``.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from countnets import records
from countnets._errors import CountnetsError
from countnets.defaults import FLIP_LAMBDAS as DEFAULT_LAMBDAS  # noqa: F401 (re-exported)
from countnets.experiments.flip.pairs import _choose_pairs, _pair_rows, _pressure_settings
from countnets.network import boolean
from countnets.results import CountResult, make_estimate, report
from countnets.results.report import fmt_prob
from countnets.results.report import fmt_prob_interval as fmt_ci
from countnets.stats import statistics
from countnets.train import training_results as train_records
from countnets.train.training import (
    TrainConfig,
    TrainingSet,
    conditional_prior,
    pressure_penalty,
    tilted_prior,
    train_networks,
)
from countnets.train.training_results import DEFAULT_EXPERIMENT_CHUNK, MIN_EVALUABLE_ESS, tilt_evaluable

__all__ = [
    "KIND",
    "DEFAULT_LAMBDAS",
    "MIN_EVALUABLE_ESS",
    "flip",
    "flip_summary",
    "tilt_evaluable",
    "format_flip",
    "plot_flip",
]

KIND = "flip"  # the result record's ``kind``


def _uncensored_fit(log_odds: list[float], stars: list[float]) -> dict[str, Any]:
    # Descriptive only: censored pairs cannot enter a Pearson correlation or a least-squares line.
    pts = [(lo, s) for lo, s in zip(log_odds, stars, strict=True) if math.isfinite(lo) and math.isfinite(s)]
    out: dict[str, Any] = {"pairs": len(pts), "pearson_log": None, "fit_slope": None, "fit_intercept": None}
    x = np.array([p[0] for p in pts])
    y = np.array([p[1] for p in pts])
    if len(pts) >= 3 and np.ptp(x) > 0:
        pos = y > 0
        if pos.sum() >= 3 and np.ptp(np.log(y[pos])) > 0 and np.ptp(x[pos]) > 0:
            out["pearson_log"] = float(np.corrcoef(x[pos], np.log(y[pos]))[0, 1])
        slope, intercept = np.polyfit(x, y, 1)
        out["fit_slope"], out["fit_intercept"] = float(slope), float(intercept)
    return out


def _correlation(log_odds: list[float], stars: list[float], confidence: float) -> dict[str, Any]:
    c = statistics.censored_spearman(log_odds, stars, confidence)
    return {
        "pairs_used": c["n"],
        "pairs_censored": c["censored"],
        "spearman": c["spearman"],
        "spearman_p": c["p"],
        "spearman_ci": c["ci"],
        "ci_method": c["ci_method"],
        "censored_ranked": "above every finite lambda*",
        "uncensored_only": _uncensored_fit(log_odds, stars),
    }


def flip_summary(
    pairs: Sequence[dict[str, Any]], *, confidence: float = 0.95, min_ess: float = MIN_EVALUABLE_ESS
) -> dict[str, Any]:
    """How well ``ln O`` predicts ``lambda*`` over the pairs of one flip run (the ``summary`` field).

    * ``train``: Spearman correlation of ``ln O`` and training's ``lambda*`` over every
      pair with a finite ``ln O`` (:func:`countnets.stats.statistics.censored_spearman`): a pair
      that never flipped within the sweep is censored, ``lambda* > max``, and is ranked
      above every finite ``lambda*`` (tied with the other censored pairs), not dropped;
      its two-sided p-value and an approximate Fisher-z interval. ``uncensored_only``
      keeps the Pearson correlation of ``ln O`` and ``ln lambda*`` and the least-squares
      line, which can only use the uncensored pairs (descriptive).
    * ``tilt``: the same for the tilted prior, over the pairs whose ``lambda*`` is
      evaluable (:func:`tilt_evaluable`); ``pairs_not_evaluable`` counts the others,
      and with fewer than 4 evaluable pairs nothing is computed (``spearman`` is None).
    * ``min_ess``: the smallest ESS anywhere in the tilted sweep.

    Accepts pair rows as :func:`flip` builds them or as read back from JSON.
    """
    rows = records.decode_floats(list(pairs), none_as_nan=True)
    log_odds = [float(p["log_odds"]) for p in rows]
    train = _correlation(log_odds, [float(p["lambda_star_train"]["estimate"]) for p in rows], confidence)
    ok = [tilt_evaluable(p, min_ess)[0] for p in rows]
    tilt: dict[str, Any] = {
        "min_evaluable_ess": min_ess,
        "pairs_evaluable": sum(ok),
        "pairs_not_evaluable": len(ok) - sum(ok),
    }
    if sum(ok) >= 4:
        chosen = [p for p, good in zip(rows, ok, strict=True) if good]
        tilt.update(
            _correlation(
                [float(p["log_odds"]) for p in chosen],
                [float(p["lambda_star_tilt"]["estimate"]) for p in chosen],
                confidence,
            )
        )
    else:
        tilt.update({"spearman": None, "spearman_p": None, "spearman_ci": None})
    ess = [w["ess"] for p in rows for w in p["tilt_sweep"]]
    return {
        "pairs": len(rows),
        "confidence": confidence,
        "train": train,
        "tilt": tilt,
        "min_ess": float(min(ess)) if ess else None,
    }


def _sorted_lambdas(lambdas: Sequence[float], tilt_lambdas: Sequence[float] | None) -> tuple[list[float], list[float]]:
    """The training and tilted sweeps, sorted; each must hold distinct values."""
    lams = sorted(float(v) for v in lambdas)
    if len(set(lams)) != len(lams):
        raise CountnetsError(f"--lambdas must be distinct, got {list(lambdas)}")
    tlams = lams if tilt_lambdas is None else sorted(float(v) for v in tilt_lambdas)
    if len(set(tlams)) != len(tlams):
        raise CountnetsError(f"--tilt-lambdas must be distinct, got {list(tilt_lambdas or ())}")
    return lams, tlams


def _prior_estimates(cp: Any, pairs: list[tuple[int, int]], confidence: float, method: str, exact: bool) -> list:
    """The result's estimates: P(fit S), then ``P_prior(f | S)`` of every function of the pairs."""
    prior_method = "exact" if exact else method
    estimates = [train_records.prior_fit_estimate(cp, confidence, method)]
    for f in sorted({f for p in pairs for f in p}):
        estimates.append(
            make_estimate(
                f"prior|S {boolean.to_hex(f)}",
                cp.histogram.get(f, 0),
                cp.fit,
                confidence=confidence,
                method=prior_method,
            )
        )
    return estimates


def flip(
    prior: Any,
    arch: Any,
    tset: TrainingSet,
    train_config: TrainConfig,
    *,
    a: int | None = None,
    bs: Sequence[int] = (),
    b_ranks: Sequence[int] = (),
    lambdas: Sequence[float] = DEFAULT_LAMBDAS,
    tilt_lambdas: Sequence[float] | None = None,
    n_runs: int,
    n_samples: int | None,
    seed: int = 0,
    exact: bool = False,
    encoding: str = "01",
    chunk_size: int = DEFAULT_EXPERIMENT_CHUNK,
    chunks_per_step: int | None = None,
    confidence: float = 0.95,
    method: str = "clopper-pearson",
    max_configurations: int = 2**34,
    precision: str = "highest",
    progress: bool | float = False,
    devices: int | None = None,
) -> CountResult:
    """Run the flip experiment for one or more (A, B) pairs; returns ``kind="flip"``.

    ``lambdas`` is the training sweep; ``tilt_lambdas`` the tilted prior's (default: the
    same values). ``extra`` (also at the JSON top level): ``train_points``, ``target``,
    ``prior``, ``prior_samples``, ``prior_fit``, ``lambdas``, ``tilt_lambdas``, ``pairs``
    (per pair: odds with interval, ``sweep`` rows for training and ``tilt_sweep`` rows
    for the tilted prior, both ``lambda*``), ``trained``
    (per pair and lambda, hex -> count among runs fitting S), ``runs``,
    ``not_converged`` (summed over all settings) and ``summary``. Infinite values are
    the string ``"inf"`` and undefined ones ``None`` (JSON ``null``): see the module
    docstring.
    """
    lams, tlams = _sorted_lambdas(lambdas, tilt_lambdas)
    start = time.perf_counter()
    common = dict(
        exact=exact, encoding=encoding, chunk_size=chunk_size, chunks_per_step=chunks_per_step,
        max_configurations=max_configurations, precision=precision, progress=progress, devices=devices,
    )  # fmt: skip
    cp = conditional_prior(prior, arch, tset, n_samples=n_samples, seed=seed, **common)
    pairs = _choose_pairs(cp, tset, a, bs, b_ranks)
    tilt = tilted_prior(
        prior, arch, tset, pairs, tlams, loss=train_config.loss, margin=train_config.margin, n_samples=n_samples,
        seed=seed, **common,
    )  # fmt: skip
    if tilt.fit != cp.fit:
        raise CountnetsError(f"internal inconsistency: the tilted pass saw {tilt.fit} samples fitting S, not {cp.fit}")
    runs = train_networks(
        prior, arch, tset, train_config, n_runs=n_runs, seed=seed, encoding=encoding, chunk_size=chunk_size,
        penalty=pressure_penalty(tset, train_config), setting_args=_pressure_settings(tset, pairs, lams),
        progress=progress, devices=devices,
    )  # fmt: skip
    pair_rows, trained_rows, not_converged = _pair_rows(
        cp, runs, tilt, pairs, lams, tlams, exact=exact, confidence=confidence, method=method
    )
    summary = flip_summary(pair_rows, confidence=confidence)
    extra = {
        **train_records.set_extra(tset),
        **train_records.prior_extra(cp, confidence, method),
        "lambdas": lams,
        "tilt_lambdas": tlams,
        "pairs": pair_rows,
        "trained": trained_rows,
        "runs": runs.runs,
        "not_converged": not_converged,
        "train_seconds": runs.seconds,
        "prior_seconds": cp.seconds,
        "tilt_seconds": tilt.seconds,
        "summary": summary,
    }
    estimates = _prior_estimates(cp, pairs, confidence, method, exact)
    leading = train_records.experiment_config(
        prior, arch, tset, train_config, encoding=encoding, precision=precision, method=method,
        confidence=confidence, n_samples=n_samples, n_runs=n_runs,
    )  # fmt: skip
    config = {
        **leading,
        "exact": exact,
        "lambdas": lams,
        "tilt_lambdas": tlams,
        "a": None if a is None else boolean.to_hex(a),
        "b": [boolean.to_hex(b) for b in bs],
        "b_ranks": list(b_ranks),
        "train_chunk_size": runs.chunk_size,
    }
    return train_records.make_result(
        KIND, config, seed, cp.chunk_size, cp, estimates, time.perf_counter() - start, extra, devices=devices
    )


def _fmt_lam(x: Any) -> str:
    if isinstance(x, str):
        return x
    return "inf" if math.isinf(x) else f"{x:g}"


def plot_flip(result: CountResult, path: Any) -> Any:
    """The flip figure, from a copy of ``result`` whose pairs hold infinite and undefined numbers as floats."""
    from countnets.train import plots as training_plots

    pairs = records.decode_floats(result.extra["pairs"], none_as_nan=True)
    return training_plots.plot_flip(dataclasses.replace(result, extra={**result.extra, "pairs": pairs}), path)


def _pairs_table(pairs: list[dict], conf: float, min_ess: float) -> list[str]:
    """The per-pair table (counts, odds, both lambda*) and the notes on what it could not show."""
    rows = [
        [
            "A",
            "B",
            "n_A",
            "n_B",
            "odds A:B",
            f"{conf:g} interval",
            "lambda* train",
            "bracket",
            "lambda* tilt",
            "bracket",
        ]
    ]
    not_evaluable = 0
    for p in pairs:
        st, sl = p["lambda_star_train"], p["lambda_star_tilt"]
        tilt_ok, _ = tilt_evaluable(p, min_ess)
        not_evaluable += not tilt_ok
        rows.append(
            [p["a"], p["b"], str(p["prior_counts"][0]), str(p["prior_counts"][1]), fmt_prob(p["prior_odds"]),
             fmt_ci(p["prior_odds_ci"]), _fmt_lam(st["estimate"]),
             f"({_fmt_lam(st['interval'][0])}, {_fmt_lam(st['interval'][1])}]",
             _fmt_lam(sl["estimate"]) if tilt_ok else "not evaluable",
             f"({_fmt_lam(sl['interval'][0])}, {_fmt_lam(sl['interval'][1])}]" if tilt_ok else "-"]
        )  # fmt: skip
    lines = report.text_table(rows)
    if not_evaluable:
        lines.append(
            f"lambda* tilt not evaluable: the effective sample size falls below {min_ess:g} at a sweep value "
            "the estimate or its bracket rests on"
        )
    if any(p["prior_odds"] == "inf" for p in pairs):
        lines.append("odds inf: B was never seen among the prior samples fitting S")
    if any(report.undefined(p["prior_odds"]) for p in pairs):
        lines.append("odds -: neither A nor B was seen among the prior samples fitting S (odds undefined)")
    return lines


def _correlation_lines(s: dict[str, Any], conf: float, min_ess: float) -> list[str]:
    """The ``ln O`` vs ``lambda*`` lines of a :func:`flip_summary`, for training and the tilted prior."""
    lines = []
    for name in ("train", "tilt"):
        t = s[name]
        if name == "tilt" and t["pairs_evaluable"] < 4:
            lines.append(
                f"ln O vs lambda* (tilt): not evaluable ({t['pairs_evaluable']} of {s['pairs']} pairs keep "
                f"ESS >= {min_ess:g} up to their lambda*)"
            )
        elif not report.undefined(t.get("spearman")):
            ci = t["spearman_ci"]
            ci_text = f", {conf:g} interval [{ci[0]:.2f}, {ci[1]:.2f}] (Fisher z)" if ci is not None else ""
            lines.append(
                f"ln O vs lambda* ({name}): Spearman {t['spearman']:.3f} (p = {t['spearman_p']:.3g}){ci_text} over "
                f"{t['pairs_used']} pairs, {t['pairs_censored']} censored beyond the sweep (ranked highest)"
            )
        else:
            lines.append(f"ln O vs lambda* ({name}): too few pairs with a defined ln O and lambda* ({t['pairs_used']})")
    return lines


def _sweep_tables(p: dict[str, Any], min_ess: float) -> list[str]:
    """One pair's sweep tables: training, then the tilted prior."""
    lines = [f"\nA = {p['a']}, B = {p['b']}: training"]
    rows = [["lambda", "P_opt(A)", "P_opt(B)", "not fit", "mean steps"]]
    for r in p["sweep"]:
        t = r["train"]
        rows.append(
            [f"{r['lambda']:g}", f"{fmt_prob(t['p_a'])} {fmt_ci(t['p_a_ci'])}",
             f"{fmt_prob(t['p_b'])} {fmt_ci(t['p_b_ci'])}", str(t["not_converged"]), f"{t['steps_mean']:.1f}"]
        )  # fmt: skip
    lines += report.text_table(rows)
    lines.append(f"A = {p['a']}, B = {p['b']}: tilted prior (not evaluable where ESS < {min_ess:g})")
    rows = [["lambda", "P_tilt(A)", "P_tilt(B)", "ESS"]]
    for w in p["tilt_sweep"]:
        ok = w["ess"] >= min_ess
        rows.append(
            [f"{w['lambda']:g}", f"{fmt_prob(w['p_a'])} {fmt_ci(w['p_a_ci'])}" if ok else "not evaluable",
             f"{fmt_prob(w['p_b'])} {fmt_ci(w['p_b_ci'])}" if ok else "not evaluable", f"{w['ess']:.1f}"]
        )  # fmt: skip
    lines += report.text_table(rows)
    return lines


def format_flip(result: CountResult, *, sweep_tables: int = 3, min_ess: float = MIN_EVALUABLE_ESS) -> str:
    """Terminal summary: per-pair odds and lambda*, then the sweep of the first pairs.

    The correlation lines are :func:`flip_summary` of the stored pairs. Tilted-prior
    numbers whose effective sample size is below ``min_ess`` print as "not evaluable".
    """
    e = result.extra
    conf = result.config["confidence"]
    lines = [
        f"flip: target {e['target']} on S = {len(e['train_points'])} points; {report.arch_name(result.config)}; "
        f"{e['prior_fit']:,} of {e['prior_samples']:,} prior samples fit S; {e['runs']:,} runs per (pair, lambda), "
        f"{e['not_converged']:,} runs did not fit S in all",
    ]
    lines += _pairs_table(e["pairs"], conf, min_ess)
    s = flip_summary(e["pairs"], confidence=conf, min_ess=min_ess)
    lines += _correlation_lines(s, conf, min_ess)
    lines.append(f"smallest effective sample size of the tilted prior: {s['min_ess']:.1f}")
    for p in e["pairs"][:sweep_tables]:
        lines += _sweep_tables(p, min_ess)
    return "\n".join(lines)
