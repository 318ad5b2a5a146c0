"""Serial vs parallel on targets built from gates: P(f), P(k* = k | f), Hamming, and the placement null.

``countnets experiment composition`` (issue 15, DESIGN section 3c). For every
(n, L, w) of the grid it samples ResMLP(n, d, L, w) from the prior (or enumerates a
lattice prior) once, evaluating every branch scale on the same draws, and keeps the
histogram of (alpha, f, k*, stable depth, Hamming distance at order k*-1) from
:func:`countnets.measures.effective_depth`. Then, per target of
:mod:`countnets.measures.composition` and per form that fits in (d, L, w):

* ``p``: P(f) with its interval; ``p_form``: P(f and k* = the form's stated k*);
* ``kstar_given_f``: P(k* = k | f) for every k, with the exact binomial interval given
  the number of networks implementing f;
* ``hamming``: per k, the Hamming distance between the order k-1 table and f;
* ``min_depth`` (and its bounds, :func:`countnets.measures.composition.min_depth`) and
  ``below_min_depth``, the count of networks implementing f with k* below the proved
  lower bound: any such hit means the bound is wrong (the row and the payload flag it);
* for the forms of a parallel/serial pair (:data:`countnets.measures.composition.PAIRS`): the
  ratio P(f, k* = k_parallel) / P(f, k* = k_serial) with the exact conditional
  interval, beside ``placement_null_ratio``, the ratio of placement counts.

The measured volume of a form is the volume of its k*; forms with the same k* (tree
and tree-w1) share it. Rows whose P(f) Monte Carlo cannot pin down (no hits, or an
interval wider than a factor of 2) are marked ``needs_splitting``: their P(f) is an
upper bound or a loose interval.

``estimator="splitting"`` measures each (n, L, w, alpha, target) by multilevel
splitting instead (:func:`countnets.rare.splitting.sample_rare`, one run per target and
alpha, seeds as below): P(f) with its log-t interval over replicas, and P(k* = k | f),
the Hamming distribution and the parallel/serial ratio from the replicas' final
populations (the prior conditioned on f), each with the delta-method t interval over
replicas (:func:`countnets.stats.statistics.ratio_of_means`). There ``hamming`` holds, per k,
the fractions P(Hamming = h | k* = k, f) rather than counts, and ``kstar_given_f[k]["hits"]``
counts final particles. A row's splitting run draws from seed ``seed`` folded with the
row's index in the grid (:func:`splitting_seed`), so rows are independent and a resumed
run is identical to an uninterrupted one. With a checkpoint, each completed
(n, L, w, alpha, target) is saved, and a rerun resumes after the last one.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from countnets import measures
from countnets._errors import CountnetsError, check_positive_int
from countnets.defaults import COMPOSITION_ESTIMATORS as ESTIMATORS  # noqa: F401 (re-exported)
from countnets.engine import checkpoint as checkpoint_lib
from countnets.engine import passes
from countnets.engine.driver import RunOutcome
from countnets.engine.estimators import DEFAULT_CHUNK_SIZE, DEFAULT_MARGIN, DEFAULT_MAX_EXACT
from countnets.engine.sources import sampling_source
from countnets.measures import composition, parse_branch_scales, resolve_branch_scale
from countnets.network import boolean
from countnets.network.architectures import DEFAULT_PRECISION, ResMLP
from countnets.network.priors import Prior
from countnets.rare import splitting
from countnets.records import encode
from countnets.results import CountResult, _estimate_from_dict, _estimate_to_dict, make_estimate, payloads
from countnets.results.report import fmt_interval, fmt_p, fmt_ratio, prior_text, ratio_record, text_table
from countnets.stats import statistics
from countnets.stats.statistics import Estimate, clopper_pearson, ratio_of_means, replica_interval

__all__ = [
    "KIND",
    "ESTIMATORS",
    "composition_experiment",
    "rows_from_histogram",
    "rows_from_population",
    "group_rows",
    "depth_counts",
    "splitting_seed",
    "format_composition",
]

KIND = "composition"


def _ints(name: str, values: Sequence[int]) -> list[int]:
    try:
        out = [check_positive_int(name, v) for v in values]
    except TypeError:
        raise CountnetsError(f"{name} must be a sequence of positive ints, got {values!r}") from None
    if not out or len(set(out)) != len(out):
        raise CountnetsError(f"{name} must be a non-empty list of distinct values, got {out}")
    return out


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
            "p": _estimate_to_dict(p), "needs_splitting": bool(loose),
            "kstar_given_f": {str(k): _conditional(int(kstar[k]), hits, confidence, exact) for k in range(L + 1)},
            "hamming": {str(k): ham[k].tolist() for k in range(1, L + 1) if kstar[k]},
            "below_min_depth": int(kstar[: bound["lower"]].sum()),
        }  # fmt: skip
        checks.append({"target": target, "n": n, "blocks": L, "w": w, "branch_scale_spec": spec, "hits": hits,
                       "lower": bound["lower"], "below": base["below_min_depth"]})  # fmt: skip

        def p_form(k: int, label: str) -> dict[str, Any]:
            return _estimate_to_dict(make_estimate(label, int(kstar[k]), samples, confidence=confidence, method=method))

        def ratio(kp: int, ks: int) -> dict[str, Any]:
            return ratio_record(int(kstar[kp]), int(kstar[ks]), confidence, exact)

        rows += _form_rows(base, target, d, L, w, p_form, ratio)
    return rows


def splitting_seed(seed: int, index: int) -> int:
    """The splitting seed of row-group ``index`` (grid order: n, L, w, alpha, target) of a run seeded ``seed``.

    A 32-bit hash of ``(seed, index)`` (NumPy's ``SeedSequence``), so that groups draw independent streams.

    >>> splitting_seed(0, 0) == splitting_seed(0, 0) != splitting_seed(0, 1)
    True
    """
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


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
        return _estimate_to_dict(est)

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
        "one_hidden_layer": bound["one_hidden_layer"], "p": _estimate_to_dict(estimate),
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


def _splitting_pass(
    prior: Prior, *, config: dict[str, Any], grid: list[tuple[int, int, int, str, str]], d: int, seed: int,
    options: dict[str, Any], encoding: str, precision: str, confidence: float, max_seconds: float | None,
    checkpoint: str | os.PathLike | None, checkpoint_every: float, devices: int | None,
) -> tuple[dict[str, Any], dict[str, Any]]:  # fmt: skip
    """Run splitting for every (n, L, w, alpha, target) of ``grid``; returns ``(fields, run_info)``.

    With ``checkpoint``, the rows of each completed group are saved (``checkpoint_every``
    is ignored: a group is the unit of progress) and a rerun with the same options resumes
    after the last saved group. ``max_seconds`` stops before a group once the wall time
    has passed it; a signal caught by :func:`countnets.engine.checkpoint.catch_signals` stops after
    the group in progress (whose run it cut short is dropped, not saved).
    """
    ckpt = None
    state: dict[str, Any] = {"done": 0, "rows": [], "checks": [], "kstar0": 0, "seconds": 0.0}
    if checkpoint is not None:
        fingerprint = {"kind": KIND, "estimator": "splitting", "seed": seed, "config": config}
        ckpt = checkpoint_lib.Checkpoint(checkpoint, fingerprint, checkpoint_every)
        saved = checkpoint_lib.load(ckpt)
        if saved is not None:
            state = dict(saved.state)
    start = time.perf_counter()
    stopped = "samples"
    for index, (n, L, w, spec, target) in enumerate(grid):
        if index < state["done"]:
            continue
        if max_seconds is not None and time.perf_counter() - start >= max_seconds:
            stopped = "time"
            break
        arch = ResMLP(n, d, L, w, resolve_branch_scale(spec, L))
        f_int = boolean.table_to_int(composition.target_table(target, n))
        population = splitting.sample_rare(
            prior, arch, measures.implements(f_int), seed=splitting_seed(seed, index), encoding=encoding,
            precision=precision, confidence=confidence, devices=devices, **options,
        )  # fmt: skip
        if population.result.stopped_by == "interrupted":
            stopped = "interrupted"
            break
        checks: list[dict[str, Any]] = []
        rows, kstar0 = rows_from_population(
            population, target=target, n=n, d=d, L=L, w=w, arch=arch, spec=spec, encoding=encoding,
            precision=precision, confidence=confidence, checks=checks,
        )  # fmt: skip
        state = {"done": index + 1, "rows": state["rows"] + _json_ready(rows), "checks": state["checks"] + checks,
                 "kstar0": state["kstar0"] + kstar0,
                 "seconds": state["seconds"] + population.result.seconds}  # fmt: skip
        if ckpt is not None:
            checkpoint_lib.save(ckpt, next_chunk=index + 1, samples=index + 1, seconds=state["seconds"],
                                stopped_by="running", state=state)  # fmt: skip
        if checkpoint_lib.interrupt_signal() is not None:
            stopped = "interrupted" if index + 1 < len(grid) else stopped
            break
    fields = {"rows": state["rows"], "checks": state["checks"],
              "bound_violations": sum(c["below"] for c in state["checks"]), "kstar0_nonthreshold": state["kstar0"]}
    return fields, {"stopped_by": stopped, "groups_done": state["done"], "groups": len(grid),
                    "checkpoint": None if checkpoint is None else str(checkpoint)}  # fmt: skip


def _splitting_options(estimator: str, options: dict[str, Any] | None, exact: bool) -> dict[str, Any]:
    """Checked splitting keyword arguments, with defaults filled in (``{}`` for mc)."""
    if estimator != "splitting":
        if options:
            raise CountnetsError("splitting_options apply to estimator='splitting' only")
        return {}
    if exact:
        raise CountnetsError("exact enumeration is a Monte Carlo option; estimator='splitting' samples")
    options = dict(options or {})
    unknown = sorted(set(options) - set(splitting.SAMPLE_OPTIONS))
    if unknown:
        raise CountnetsError(f"unknown splitting options {unknown}; known: {', '.join(splitting.SAMPLE_OPTIONS)}")
    replicas = check_positive_int("replicas", options.pop("replicas", splitting.DEFAULT_REPLICAS))
    per_chunk = check_positive_int(
        "replicas_per_chunk", options.pop("replicas_per_chunk", splitting.DEFAULT_REPLICAS_PER_CHUNK)
    )
    if replicas < 2 or per_chunk < 2:
        raise CountnetsError(f"splitting needs replicas >= 2 and replicas_per_chunk >= 2, got {replicas}, {per_chunk}")
    retry = check_positive_int("retry_factor", options.pop("retry_factor", splitting.DEFAULT_RETRY_FACTOR))
    checked = splitting.SplittingOptions(**options)  # validates the rest
    fields = {k: v for k, v in dataclasses.asdict(checked).items() if k in splitting.SAMPLE_OPTIONS}
    return {"replicas": replicas, "replicas_per_chunk": per_chunk, "retry_factor": retry, **fields}


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


def _json_ready(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows as plain JSON (records to dicts, infinities to strings) for a checkpoint."""
    return json.loads(json.dumps(encode(rows), allow_nan=False))


def composition_experiment(
    prior: Prior,
    *,
    n_values: Sequence[int] = (4,),
    d: int = 8,
    blocks: Sequence[int] = (3, 4),
    widths: Sequence[int] = (2,),
    branch_scales: Sequence[str | float] | str = ("1", "invsqrt", "0.25"),
    targets: Sequence[str] = composition.TARGETS,
    estimator: str = "mc",
    n_samples: int | None = None,
    seed: int = 0,
    encoding: str = "01",
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    chunks_per_step: int | None = None,
    confidence: float = 0.95,
    method: str = "clopper-pearson",
    precision: str = DEFAULT_PRECISION,
    margin: float = DEFAULT_MARGIN,
    max_seconds: float | None = None,
    exact: bool = False,
    max_configurations: int = DEFAULT_MAX_EXACT,
    progress: bool | float = False,
    devices: int | None = None,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: float = checkpoint_lib.DEFAULT_EVERY_SECONDS,
    splitting_options: dict[str, Any] | None = None,
) -> CountResult:
    """P(f), P(k* = k | f) and parallel/serial ratios for the composition targets, per (n, L, w, alpha).

    Args:
      prior: parameter prior.
      n_values: input counts (each >= 4; the targets read x0..x3).
      d: stream width (the planted forms need d >= 4 + their gate count, 7 at most).
      blocks, widths: block counts L and block widths w; every (n, L, w) is one pass.
      branch_scales: alphas (numbers or ``"invsqrt"``), evaluated on the same draws.
      targets: names from :data:`countnets.measures.composition.TARGETS`.
      estimator: ``"mc"`` (sampling, or enumeration with ``exact``) or ``"splitting"`` (one
        :func:`countnets.rare.splitting.sample_rare` run per (n, L, w, alpha, target); see the
        module docstring). ``n_samples``, ``chunk_size``, ``method``, ``exact`` and
        ``max_configurations`` are Monte Carlo options.
      max_seconds: mc: per (n, L, w), stop after the first step past this wall time;
        splitting: start no new (n, L, w, alpha, target) past it.
      splitting_options: keyword arguments of :func:`countnets.rare.splitting.sample_rare`
        (``replicas``, ``particles``, ``sweeps``, ``level_fraction``, ``target_acceptance``,
        ``pilot_particles``, ``max_levels``, ``replicas_per_chunk``); splitting only.
      Other arguments are as in :func:`countnets.estimate_mc`.

    Returns:
      A :class:`CountResult` of kind ``"composition"`` whose ``extra`` is a
      :class:`countnets.results.payloads.CompositionPayload`.

    Raises:
      CountnetsError: for invalid sizes, targets or options (e.g. ``exact`` with splitting,
        or ``splitting_options`` with mc).
    """
    if estimator not in ESTIMATORS:
        raise CountnetsError(f"estimator must be one of {', '.join(ESTIMATORS)}, got {estimator!r}")
    options = _splitting_options(estimator, splitting_options, exact)
    if estimator == "splitting" and n_samples is not None:
        raise CountnetsError("n_samples is a Monte Carlo option; splitting sets its effort with splitting_options")
    mc_samples = 1 if estimator == "splitting" else n_samples  # check_run's sampling check, not used by splitting
    n_samples, confidence, method = passes.check_run(mc_samples, confidence, method, exact)
    n_values = _ints("n_values", n_values)
    blocks, widths = _ints("blocks (L)", blocks), _ints("widths (w)", widths)
    d = check_positive_int("d", d)
    targets = [str(t) for t in targets]
    for t in targets:
        composition.forms_of(t)
    for n in n_values:
        composition.target_table(targets[0], n)
    specs = parse_branch_scales(branch_scales)
    first = ResMLP(n_values[0], d, blocks[0], widths[0], resolve_branch_scale(specs[0], blocks[0]))
    _, max_seconds, config = passes.experiment_config(
        prior, first, n=n_values[0], targets=passes.ALL, encoding=encoding, precision=precision, margin=margin,
        method=method, confidence=confidence, max_seconds=max_seconds,
    )  # fmt: skip
    config["targets"] = targets
    config["arch"] = {"arch": "resmlp", "n": n_values, "d": d, "blocks": blocks, "widths": widths,
                      "branch_scales": list(specs)}  # fmt: skip
    config["estimator"] = estimator
    config["samples_per_configuration"] = None if exact else n_samples
    if estimator == "splitting":
        config["samples_per_configuration"] = None
        config["splitting"] = options
        grid = [(n, L, w, spec, t) for n in n_values for L in blocks for w in widths for spec in specs for t in targets]
        start = time.perf_counter()
        fields, info = _splitting_pass(
            prior, config=config, grid=grid, d=d, seed=seed, options=options, encoding=encoding, precision=precision,
            confidence=confidence, max_seconds=max_seconds, checkpoint=checkpoint, checkpoint_every=checkpoint_every,
            devices=devices,
        )  # fmt: skip
        fields["splitting_run"] = info
        estimates = [_estimate_from_dict(r["p"]) for r in group_rows(fields["rows"])]
        outcome = RunOutcome(samples=sum(r["samples"] for r in group_rows(fields["rows"])),
                             stopped_by=info["stopped_by"], seconds=time.perf_counter() - start)  # fmt: skip
        source = sampling_source(prior, first, options["replicas_per_chunk"])
        return passes.finish(
            KIND, config, exact=False, seed=seed, source=source, outcome=outcome, estimates=estimates, nonfinite=0,
            near=0, extra=payloads.make(payloads.CompositionPayload, fields),
        )  # fmt: skip
    run = passes.circuit_run(
        n_samples=n_samples, seed=seed, chunk_size=chunk_size, chunks_per_step=chunks_per_step,
        max_seconds=max_seconds, progress=progress, devices=devices, checkpoint=checkpoint,
        checkpoint_every=checkpoint_every,
    )  # fmt: skip
    measure = measures.effective_depth(specs)
    rows, estimates, checks = [], [], []
    total, nonfinite, near, stopped, kstar0_bad = 0, 0, 0, "samples", 0
    start = time.perf_counter()
    source = outcome = None
    for n in n_values:
        for L in blocks:
            for w in widths:
                arch0 = ResMLP(n, d, L, w, 1.0)
                acc, outcome, source = passes.keyed_pass(
                    KIND, measure, prior, arch0, config=config, run=run, exact=exact,
                    max_configurations=max_configurations, encoding=encoding, precision=precision, margin=margin,
                    bytes_per_network=4 * len(specs) * (L + 1) * (L + 2) * 2**n * max(d, w),
                    description=f"composition n={n} L={L} w={w}", checkpoint_suffix=f".n{n}.L{L}.w{w}",
                    fingerprint_extra={"n": n, "blocks": L, "w": w},
                )  # fmt: skip
                stopped = outcome.stopped_by if outcome.stopped_by != "samples" else stopped
                total += outcome.samples
                nonfinite += acc.nonfinite
                near += acc.near
                at_kstar0 = [(f, c) for (_, f, code), c in acc.histogram.items()
                             if measures.depth_code_parts(code, n, L)[0] == 0]  # fmt: skip
                bad = {f for f, _ in at_kstar0
                       if not composition.is_threshold_function(boolean.int_to_table(f, n), n)}  # fmt: skip
                kstar0_bad += sum(c for f, c in at_kstar0 if f in bad)
                for index, spec in enumerate(specs):
                    arch = ResMLP(n, d, L, w, resolve_branch_scale(spec, L))
                    sub = {(f, code): c for (a, f, code), c in acc.histogram.items() if a == index}
                    new = rows_from_histogram(
                        sub, n=n, d=d, L=L, w=w, arch=arch, spec=spec, samples=outcome.samples, targets=targets,
                        confidence=confidence, method=method, stopped_by=passes.stop_reason(exact, outcome.stopped_by),
                        seconds=outcome.seconds, checks=checks,
                    )  # fmt: skip
                    rows += new
                    for c in checks[-len(targets) :]:
                        label = f"{c['target']} n={n} L={L} w={w} alpha={spec}"
                        estimates.append(
                            make_estimate(label, c["hits"], outcome.samples, confidence=confidence, method=method)
                        )
    outcome = dataclasses.replace(outcome, samples=total, stopped_by=stopped, seconds=time.perf_counter() - start)  # type: ignore[arg-type]
    violations = sum(c["below"] for c in checks)
    fields = {"rows": rows, "checks": checks, "bound_violations": violations, "kstar0_nonthreshold": kstar0_bad}
    return passes.finish(
        KIND, config, exact=exact, seed=seed, source=source, outcome=outcome, estimates=estimates,
        nonfinite=nonfinite, near=near,
        extra=payloads.make(payloads.CompositionPayload, fields),
    )  # fmt: skip


def _effort(row: Any) -> str:
    """Samples (mc), or replicas x particles and the pilot's status (splitting)."""
    sp = row.get("splitting")
    if sp is None:
        return f"{row['samples']:,}"
    return f"{sp['replicas']}x{sp['particles']} ({sp['replicas_reaching']} reached)"


def _precision(row: Any) -> str:
    """P(f)'s ``hi / lo`` (``>2`` flags a row that needs more effort; ``upper bound`` when nothing reached f)."""
    lo, hi = (float(v) for v in row["p"]["ci"])
    if row["p"]["p"] in (0, 0.0) or lo <= 0:
        return "upper bound"
    factor = hi / lo
    return f"{factor:.3g}" + (" (>2)" if factor > 2 else "")


def format_composition(result: CountResult) -> str:
    """Terminal table: one line per row, then the pairs' measured ratio beside the placement null."""
    cfg = result.config
    extra = result.extra
    conf = f"{100 * cfg.get('confidence', 0.95):g}%"
    mode = "exact enumeration" if result.exact else f"seed {result.seed}, chunk size {result.chunk_size}"
    lines = [
        f"composition: ResMLP d={cfg['arch']['d']}, prior {prior_text(cfg['prior'])}, encoding {cfg['encoding']}, "
        f"{mode}; {result.seconds:.1f} s on {result.device}",
    ]
    if extra["bound_violations"] or extra["kstar0_nonthreshold"]:
        lines.append(f"BOUND VIOLATED: {extra['bound_violations']} networks implement a target with k* below its "
                     f"proved lower bound; {extra['kstar0_nonthreshold']} have k* = 0 and a non-threshold function. "
                     "The bound is wrong: fix the bound, not the data.")  # fmt: skip
    else:
        lines.append("zero-hits check passed: no network implementing a target has k* below min_depth's lower bound")
    rows = [["target", "form", "k*", "n", "L", "w", "alpha", "samples", "P(f)", f"{conf} interval", "min_depth",
             "P(k*=k|f), k=0..L", "hi/lo"]]  # fmt: skip
    for r in extra["rows"]:
        kg = r["kstar_given_f"]
        rows.append([
            r["target"], r["form"], str(r["form_kstar"]), str(r["n"]), str(r["blocks"]), str(r["w"]),
            r["branch_scale_spec"], _effort(r), fmt_p(r["p"]["p"]), fmt_interval(r["p"]["ci"]),
            "open" if r["min_depth"] is None else str(r["min_depth"]) + (" (1-layer)" if r["one_hidden_layer"] else ""),
            " ".join("-" if kg[str(k)]["hits"] == 0 else f"{kg[str(k)]['p']:.2f}" for k in range(r["blocks"] + 1)),
            _precision(r),
        ])  # fmt: skip
    lines += text_table(rows)
    lines.append("hits per (target, n, L, w, alpha): " + ", ".join(
        f"{c['target']} n={c['n']} L={c['blocks']} w={c['w']} {c['branch_scale_spec']}: {c['hits']}"
        for c in extra["checks"]))  # fmt: skip
    pair_rows = [["target", "pair", "n", "L", "w", "alpha", "measured ratio", f"{conf} interval", "placement null"]]
    for r in extra["rows"]:
        if r.get("pair") and r["form"] == r["pair"].split("/")[0]:
            pair_rows.append([r["target"], r["pair"], str(r["n"]), str(r["blocks"]), str(r["w"]),
                              r["branch_scale_spec"], fmt_ratio(r["ratio"]["estimate"]), fmt_interval(r["ratio"]["ci"]),
                              fmt_ratio(r["placement_null_ratio"])])  # fmt: skip
    if len(pair_rows) > 1:
        lines += ["", "parallel/serial: measured P(f, k*=k_par)/P(f, k*=k_ser) beside the placement-count ratio"]
        lines += text_table(pair_rows)
    if result.nonfinite:
        lines.append(f"{result.nonfinite} (network, alpha) pairs had non-finite outputs (their bits read as 0)")
    return "\n".join(lines)
