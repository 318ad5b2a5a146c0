"""Serial vs parallel on targets built from gates: P(f), P(k* = k | f), Hamming, and the placement null.

``countnets experiment composition`` (issue 15, DESIGN section 3c). For every
(n, L, w) of the grid it samples ResMLP(n, d, L, w) from the prior (or enumerates a
lattice prior) once, evaluating every branch scale on the same draws, and keeps the
histogram of (alpha, f, k*, stable depth, Hamming distance at order k*-1) from
:func:`countnets.measures.effective_depth`. Then, per target of
:mod:`countnets.composition` and per form that fits in (d, L, w):

* ``p``: P(f) with its interval; ``p_form``: P(f and k* = the form's stated k*);
* ``kstar_given_f``: P(k* = k | f) for every k, with the exact binomial interval given
  the number of networks implementing f;
* ``hamming``: per k, the Hamming distance between the order k-1 table and f;
* ``min_depth`` (and its bounds, :func:`countnets.composition.min_depth`) and
  ``below_min_depth``, the count of networks implementing f with k* below the proved
  lower bound: any such hit means the bound is wrong (the row and the payload flag it);
* for the forms of a parallel/serial pair (:data:`countnets.composition.PAIRS`): the
  ratio P(f, k* = k_parallel) / P(f, k* = k_serial) with the exact conditional
  interval, beside ``placement_null_ratio``, the ratio of placement counts.

The measured volume of a form is the volume of its k*; forms with the same k* (tree
and tree-w1) share it. Rows whose P(f) Monte Carlo cannot pin down (no hits, or an
interval wider than a factor of 2) are marked ``needs_splitting``: their P(f) is an
upper bound or a loose interval. ``estimator="splitting"`` is reserved for
the rare-event estimator (``countnets.splitting``), not wired into this experiment yet.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from countnets import boolean, composition, measures, passes, payloads
from countnets import checkpoint as checkpoint_lib
from countnets._errors import CountnetsError, check_positive_int
from countnets.architectures import DEFAULT_PRECISION, ResMLP
from countnets.estimators import DEFAULT_CHUNK_SIZE, DEFAULT_MARGIN, DEFAULT_MAX_EXACT
from countnets.measures import parse_branch_scales, resolve_branch_scale
from countnets.priors import Prior
from countnets.report import fmt_interval, fmt_p, fmt_ratio, prior_text, ratio_record, text_table
from countnets.results import CountResult, _estimate_to_dict, make_estimate
from countnets.statistics import clopper_pearson

__all__ = ["KIND", "ESTIMATORS", "composition_experiment", "rows_from_histogram", "format_composition"]

KIND = "composition"
ESTIMATORS = ("mc", "splitting")


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
            ks, h = divmod(code, span)
            k, _ = divmod(ks, L + 1)
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
        for f in composition.forms_of(target):
            if not composition.fits(f, d, L, w) or f.kstar > L:
                continue
            row = dict(base, form=f.name, form_kstar=f.kstar, form_units=f.units,
                       placement_count=composition.placement_count(f, L, w))  # fmt: skip
            row["p_form"] = _estimate_to_dict(
                make_estimate(
                    f"{target}/{f.name} k*={f.kstar}",
                    int(kstar[f.kstar]),
                    samples,
                    confidence=confidence,
                    method=method,
                )  # fmt: skip
            )
            for tgt, par, ser in composition.PAIRS:
                if tgt != target or f.name not in (par, ser):
                    continue
                fp, fs = composition.form(tgt, par), composition.form(tgt, ser)
                if not (composition.fits(fp, d, L, w) and composition.fits(fs, d, L, w)):
                    continue
                row["pair"] = f"{par}/{ser}"
                row["ratio"] = ratio_record(int(kstar[fp.kstar]), int(kstar[fs.kstar]), confidence, exact)
                row["placement_null_ratio"] = composition.placement_null_ratio(tgt, par, ser, L, w)
            rows.append(row)
    return rows


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
    progress: bool = False,
    devices: int | None = None,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: float = checkpoint_lib.DEFAULT_EVERY_SECONDS,
) -> CountResult:
    """P(f), P(k* = k | f) and parallel/serial ratios for the composition targets, per (n, L, w, alpha).

    Args:
      prior: parameter prior.
      n_values: input counts (each >= 4; the targets read x0..x3).
      d: stream width (the planted forms need d >= 4 + their gate count, 7 at most).
      blocks, widths: block counts L and block widths w; every (n, L, w) is one pass.
      branch_scales: alphas (numbers or ``"invsqrt"``), evaluated on the same draws.
      targets: names from :data:`countnets.composition.TARGETS`.
      estimator: ``"mc"`` (sampling, or enumeration with ``exact``); ``"splitting"`` is not
        wired in yet and raises here.
      max_seconds: per (n, L, w), stop after the first step past this wall time.
      Other arguments are as in :func:`countnets.estimate_mc`.

    Returns:
      A :class:`CountResult` of kind ``"composition"`` whose ``extra`` is a
      :class:`countnets.payloads.CompositionPayload`.

    Raises:
      CountnetsError: for invalid sizes, targets or options, and for ``estimator="splitting"``.
    """
    if estimator == "splitting":
        raise CountnetsError(
            "estimator 'splitting' is not wired into the composition experiment yet: use estimator='mc' here, "
            "and cn.estimate_rare for one target's P(f) (with conditional=measures.effective_depth() for k* | f)"
        )
    if estimator not in ESTIMATORS:
        raise CountnetsError(f"estimator must be one of {', '.join(ESTIMATORS)}, got {estimator!r}")
    n_samples, confidence, method = passes.check_run(n_samples, confidence, method, exact)
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
                kstar0 = {f for (_, f, code), _c in acc.histogram.items() if code // (2**n + 1) // (L + 1) == 0}
                bad = {f for f in kstar0 if not composition.is_threshold_function(boolean.int_to_table(f, n), n)}
                kstar0_bad += sum(c for (_, f, _code), c in acc.histogram.items() if f in bad and
                                  _code // (2**n + 1) // (L + 1) == 0)  # fmt: skip
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
             "P(k*=k|f), k=0..L", "splitting?"]]  # fmt: skip
    for r in extra["rows"]:
        kg = r["kstar_given_f"]
        rows.append([
            r["target"], r["form"], str(r["form_kstar"]), str(r["n"]), str(r["blocks"]), str(r["w"]),
            r["branch_scale_spec"], f"{r['samples']:,}", fmt_p(r["p"]["p"]), fmt_interval(r["p"]["ci"]),
            "open" if r["min_depth"] is None else str(r["min_depth"]) + (" (1-layer)" if r["one_hidden_layer"] else ""),
            " ".join("-" if kg[str(k)]["hits"] == 0 else f"{kg[str(k)]['p']:.2f}" for k in range(r["blocks"] + 1)),
            "yes" if r["needs_splitting"] else "no",
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
