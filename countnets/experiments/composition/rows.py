"""The composition experiment's rows, from a Monte Carlo histogram or from splitting's final populations.

One row per form of a target that fits (d, L, w) (:func:`_form_rows`), sharing the
target's P(f), P(k* = k | f), Hamming distances and min_depth bounds:
:func:`rows_from_histogram` reads them off the ``(f, code)`` histogram of
:func:`countnets.measures.effective_depth`, :func:`rows_from_population` off the final
populations of a splitting run (:func:`depth_counts`). :func:`group_rows` keeps one row
per (target, n, L, w, alpha). ``countnets.experiments.composition`` re-exports the public names.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from countnets import measures
from countnets._errors import CountnetsError
from countnets.measures import composition
from countnets.network import boolean
from countnets.network.architectures import DEFAULT_PRECISION, ResMLP
from countnets.results import estimate_to_dict, make_estimate
from countnets.results.report import ratio_record
from countnets.stats import statistics
from countnets.stats.statistics import Estimate, clopper_pearson, ratio_of_means, replica_interval

__all__ = ["rows_from_histogram", "rows_from_population", "group_rows", "depth_counts"]


def _conditional(hits: int, total: int, confidence: float, exact: bool) -> dict[str, Any]:
    if total == 0:
        return {"hits": hits, "p": "nan", "ci": [0.0, 1.0]}
    p = hits / total
    lo, hi = (p, p) if exact else clopper_pearson(hits, total, confidence)
    return {"hits": int(hits), "p": p, "ci": [float(lo), float(hi)]}


def _form_rows(
    base: dict[str, Any], target: str, d: int, L: int, w: int, p_form: Any, ratio: Any
) -> list[dict[str, Any]]:
    """One row per form of ``target`` that fits (d, L, w): ``base`` plus the form's k* volume and its pair's ratio.

    ``p_form(k, label)`` gives P(f and k* = k) as an estimate dict; ``ratio(k_par, k_ser)``
    gives P(f, k* = k_par) / P(f, k* = k_ser) as a ratio record.
    """
    rows = []
    for f in composition.forms_of(target):
        if not composition.fits(f, d, L, w) or f.kstar > L:
            continue
        row = dict(base, form=f.name, form_kstar=f.kstar, form_units=f.units,
                   placement_count=composition.placement_count(f, L, w))  # fmt: skip
        row["p_form"] = p_form(f.kstar, f"{target}/{f.name} k*={f.kstar}")
        for tgt, par, ser in composition.PAIRS:
            if tgt != target or f.name not in (par, ser):
                continue
            fp, fs = composition.form(tgt, par), composition.form(tgt, ser)
            if not (composition.fits(fp, d, L, w) and composition.fits(fs, d, L, w)):
                continue
            row["pair"] = f"{par}/{ser}"
            row["ratio"] = ratio(fp.kstar, fs.kstar)
            row["placement_null_ratio"] = composition.placement_null_ratio(tgt, par, ser, L, w)
        rows.append(row)
    return rows


def rows_from_histogram(
    hist: dict[tuple[int, int], int], *, n: int, d: int, L: int, w: int, arch: ResMLP, spec: str, samples: int,
    targets: Sequence[str], confidence: float, method: str, stopped_by: str, seconds: float,
    checks: list[dict[str, Any]],
) -> list[dict[str, Any]]:  # fmt: skip
    """The rows of one (n, d, L, w, alpha) from its ``{(f, code): count}`` histogram (see ``effective_depth``).

    Appends one zero-hits check per target to ``checks`` (also where no form fits).
    """
    exact = method == "exact"
    span = 2**n + 1
    rows = []
    for target in targets:
        f_int = boolean.table_to_int(composition.target_table(target, n))
        kstar = np.zeros(L + 1, np.int64)
        ham = np.zeros((L + 1, span), np.int64)
        for (f, code), count in hist.items():
            if f != f_int:
                continue
            k, _, h = measures.depth_code_parts(code, n, L)
            kstar[k] += count
            ham[k, h] += count
        hits = int(kstar.sum())
        bound = composition.min_depth(target, n, d, L, w)
        p = make_estimate(f"{target} n={n} L={L} w={w} alpha={spec}", hits, samples, confidence=confidence,
                          method=method)  # fmt: skip
        lo, hi = p.ci
        loose = hits == 0 or (not exact and (lo <= 0 or hi / lo > 2))
        base = {
            "target": target, "n": n, "d": d, "blocks": L, "w": w, "branch_scale": arch.branch_scale,
            "branch_scale_spec": spec, "samples": samples, "stopped_by": stopped_by, "seconds": seconds,
            "min_depth": bound["min_depth"], "min_depth_lower": bound["lower"], "min_depth_upper": bound["upper"],
            "min_depth_status": bound["status"], "one_hidden_layer": bound["one_hidden_layer"],
            "p": estimate_to_dict(p), "needs_splitting": bool(loose),
            "kstar_given_f": {str(k): _conditional(int(kstar[k]), hits, confidence, exact) for k in range(L + 1)},
            "hamming": {str(k): ham[k].tolist() for k in range(1, L + 1) if kstar[k]},
            "below_min_depth": int(kstar[: bound["lower"]].sum()),
        }  # fmt: skip
        checks.append({"target": target, "n": n, "blocks": L, "w": w, "branch_scale_spec": spec, "hits": hits,
                       "lower": bound["lower"], "below": base["below_min_depth"]})  # fmt: skip

        def p_form(k: int, label: str) -> dict[str, Any]:
            return estimate_to_dict(make_estimate(label, int(kstar[k]), samples, confidence=confidence, method=method))

        def ratio(kp: int, ks: int) -> dict[str, Any]:
            return ratio_record(int(kstar[kp]), int(kstar[ks]), confidence, exact)

        rows += _form_rows(base, target, d, L, w, p_form, ratio)
    return rows


def depth_counts(
    population: Any, arch: ResMLP, f: int, *, encoding: str = "01", precision: str = DEFAULT_PRECISION
) -> np.ndarray:
    """``c[r, k, h]``: final particles of replica r with k* = k and Hamming distance h at order k-1.

    ``population`` is a :class:`countnets.rare.replicas.RarePopulation` of ``implements(f)`` on
    ``arch`` (a ResMLP). Replicas that did not reach f (weight 0) count nothing.

    Returns:
      float64 ``(replicas, L + 1, 2**n + 1)``.

    Raises:
      CountnetsError: if a final particle of a replica that reached f does not implement f.
    """
    z = np.asarray(population.weights, np.float64)
    L, span = arch.L, 2**arch.n + 1
    c = np.zeros((z.size, L + 1, span), np.float64)
    off_target = 0
    counts = population.key_counts(arch, measures.effective_depth(), encoding=encoding, precision=precision)
    for r, replica in enumerate(counts):
        if z[r] == 0:
            continue
        for (_, table, code), count in replica.items():
            off_target += count if table != f else 0
            k, _, h = measures.depth_code_parts(code, arch.n, L)
            c[r, k, h] += count
    if off_target:
        raise CountnetsError(f"{off_target} final particles of implements({f:#x}) do not implement it (a bug)")
    return c


def rows_from_population(
    population: Any, *, target: str, n: int, d: int, L: int, w: int, arch: ResMLP, spec: str, encoding: str,
    precision: str, confidence: float, checks: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], int]:  # fmt: skip
    """The rows of one (target, n, d, L, w, alpha) from a splitting run's final populations.

    ``population`` is the :class:`countnets.rare.replicas.RarePopulation` of
    ``implements(target)`` on ``arch``. Per replica r (weight ``Z_r``, N particles) and
    effective depth k, ``c_r(k)`` counts its final particles with k* = k; then
    ``P(f, k* = k) = mean_r Z_r c_r(k) / N`` (log-t interval over replicas),
    ``P(k* = k | f)`` and the parallel/serial ratio are ratios of such means
    (:func:`countnets.stats.statistics.ratio_of_means`), and ``hamming[k][h]`` is the weighted
    fraction of particles with k* = k whose order k-1 table is h bits from f.

    Appends one zero-hits check to ``checks``. Returns ``(rows, kstar0)``: kstar0 counts
    final particles (of replicas that reached f) with k* = 0.
    """
    result = population.result
    estimate = result.estimates[0]
    z = np.asarray(population.weights, np.float64)
    particles = population.theta.shape[1]
    c = depth_counts(population, arch, boolean.table_to_int(composition.target_table(target, n)), encoding=encoding,
                     precision=precision)  # fmt: skip
    joint = z[:, None] * c.sum(axis=2) / particles  # (replicas, L + 1): Z_r c_r(k) / N
    bound = composition.min_depth(target, n, d, L, w)
    lo, hi = estimate.ci
    reached = estimate.p > 0

    def conditional(k: int) -> dict[str, Any]:
        hits = int(c[:, k].sum())
        if not reached or hits == 0:
            return {"hits": hits, "p": 0.0 if reached else "nan", "ci": None}
        p, clo, chi = ratio_of_means(joint[:, k], z, confidence)
        return {"hits": hits, "p": p, "ci": [clo, min(1.0, chi)]}

    def p_form(k: int, label: str) -> dict[str, Any]:
        values = joint[:, k]
        iv = replica_interval(values, confidence)
        ci, how = ((iv.lo, iv.hi), "splitting-log-t") if iv.mean > 0 else ((0.0, hi), "splitting-upper-bound")
        est = Estimate(
            function=label, hits=int((values > 0).sum()), n=int(z.size), p=iv.mean, ci=ci, confidence=confidence,
            method=how, bits=statistics.bits(iv.mean), bits_ci=(statistics.bits(ci[1]), statistics.bits(ci[0])),
            log10_p=statistics.log10(iv.mean),
        )  # fmt: skip
        return estimate_to_dict(est)

    def ratio(kp: int, ks: int) -> dict[str, Any]:
        if not reached:
            return {"estimate": "nan", "ci": [0.0, "inf"], "confidence": confidence, "hits_a": 0, "hits_b": 0,
                    "method": "splitting-ratio-of-means"}  # fmt: skip
        hits_a, hits_b = int(c[:, kp].sum()), int(c[:, ks].sum())
        if hits_a == 0 or hits_b == 0:  # a mass no particle carries has no t interval: say so, unbounded
            est: float | str = "nan" if hits_a == hits_b else (0.0 if hits_a == 0 else "inf")
            return {"estimate": est, "ci": [0.0, "inf"], "confidence": confidence, "hits_a": hits_a,
                    "hits_b": hits_b, "method": "splitting-ratio-of-means"}  # fmt: skip
        est, rlo, rhi = ratio_of_means(joint[:, kp], joint[:, ks], confidence)
        return {"estimate": est, "ci": [rlo, rhi], "confidence": confidence, "hits_a": hits_a, "hits_b": hits_b,
                "method": "splitting-ratio-of-means"}  # fmt: skip

    weighted = (z[:, None, None] * c).sum(axis=0)  # (L + 1, span)
    payload = result.extra
    base = {
        "target": target, "n": n, "d": d, "blocks": L, "w": w, "branch_scale": arch.branch_scale,
        "branch_scale_spec": spec, "samples": int(result.samples), "stopped_by": str(result.stopped_by),
        "seconds": float(result.seconds), "min_depth": bound["min_depth"], "min_depth_lower": bound["lower"],
        "min_depth_upper": bound["upper"], "min_depth_status": bound["status"],
        "one_hidden_layer": bound["one_hidden_layer"], "p": estimate_to_dict(estimate),
        "needs_splitting": False, "estimator": "splitting",
        "interval_factor": hi / lo if reached and lo > 0 else "inf",
        "splitting": {"pilot_status": payload.pilot_status, "levels": payload.n_levels, "particles": particles,
                      "replicas": int(z.size), "replicas_reaching": int((z > 0).sum()), "sweeps": payload.sweeps,
                      "relative_error": payload.relative_error, "evaluations": payload.evaluations,
                      "seed": int(result.seed)},
        "kstar_given_f": {str(k): conditional(k) for k in range(L + 1)},
        "hamming": {str(k): (weighted[k] / weighted[k].sum()).tolist() for k in range(1, L + 1) if weighted[k].sum()},
        "below_min_depth": int(c[:, : bound["lower"]].sum()),
    }  # fmt: skip
    checks.append({"target": target, "n": n, "blocks": L, "w": w, "branch_scale_spec": spec,
                   "hits": int(c.sum()), "lower": bound["lower"], "below": base["below_min_depth"]})  # fmt: skip
    return _form_rows(base, target, d, L, w, p_form, ratio), int(c[:, 0].sum())


def group_rows(rows: Sequence[Any]) -> list[Any]:
    """One row per (target, n, L, w, alpha), in order: the first form's (the forms of a group share P(f)).

    Rows already seen for a group (e.g. the same group in a second run) are skipped.
    """
    seen, out = set(), []
    for r in rows:
        key = (r["target"], r["n"], r["blocks"], r["w"], r["branch_scale_spec"])
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out
