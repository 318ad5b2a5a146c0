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
from collections import Counter
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
from countnets.experiments.composition.formatting import format_composition
from countnets.experiments.composition.rows import (
    depth_counts,
    group_rows,
    rows_from_histogram,
    rows_from_population,
)
from countnets.measures import composition, parse_branch_scales, resolve_branch_scale
from countnets.network import boolean
from countnets.network.architectures import DEFAULT_PRECISION, ResMLP
from countnets.network.priors import Prior
from countnets.rare import splitting
from countnets.records import encode
from countnets.results import CountResult, estimate_from_dict, make_estimate, payloads

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


def splitting_seed(seed: int, index: int) -> int:
    """The splitting seed of row-group ``index`` (grid order: n, L, w, alpha, target) of a run seeded ``seed``.

    A 32-bit hash of ``(seed, index)`` (NumPy's ``SeedSequence``), so that groups draw independent streams.

    >>> splitting_seed(0, 0) == splitting_seed(0, 0) != splitting_seed(0, 1)
    True
    """
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


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
              "bound_violations": sum(c["below"] for c in state["checks"]),
              "kstar0_nonthreshold": state["kstar0"]}  # fmt: skip
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
    n_values, d, blocks, widths, targets = _grid(n_values, d, blocks, widths, targets)
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
        grid = [(n, L, w, spec, t) for n in n_values for L in blocks for w in widths for spec in specs for t in targets]
        return _splitting_result(
            prior, first, config=config, grid=grid, d=d, seed=seed, options=options, encoding=encoding,
            precision=precision, confidence=confidence, max_seconds=max_seconds, checkpoint=checkpoint,
            checkpoint_every=checkpoint_every, devices=devices,
        )  # fmt: skip
    run = passes.circuit_run(
        n_samples=n_samples, seed=seed, chunk_size=chunk_size, chunks_per_step=chunks_per_step,
        max_seconds=max_seconds, progress=progress, devices=devices, checkpoint=checkpoint,
        checkpoint_every=checkpoint_every,
    )  # fmt: skip
    return _mc_result(
        prior, run, config=config, n_values=n_values, d=d, blocks=blocks, widths=widths, specs=specs, targets=targets,
        seed=seed, encoding=encoding, confidence=confidence, method=method, precision=precision, margin=margin,
        exact=exact, max_configurations=max_configurations,
    )  # fmt: skip


def _grid(
    n_values: Sequence[int], d: int, blocks: Sequence[int], widths: Sequence[int], targets: Sequence[str]
) -> tuple[list[int], int, list[int], list[int], list[str]]:
    """The checked grid: input counts, stream width, block counts and widths, and targets (known, and >= 4 inputs)."""
    n_values = _ints("n_values", n_values)
    blocks, widths = _ints("blocks (L)", blocks), _ints("widths (w)", widths)
    d = check_positive_int("d", d)
    targets = [str(t) for t in targets]
    for t in targets:
        composition.forms_of(t)
    for n in n_values:
        composition.target_table(targets[0], n)
    return n_values, d, blocks, widths, targets


def _splitting_result(
    prior: Prior, first: ResMLP, *, config: dict[str, Any], grid: list[tuple[int, int, int, str, str]], d: int,
    seed: int, options: dict[str, Any], encoding: str, precision: str, confidence: float, max_seconds: float | None,
    checkpoint: str | os.PathLike | None, checkpoint_every: float, devices: int | None,
) -> CountResult:  # fmt: skip
    """The result of ``estimator="splitting"``: :func:`_splitting_pass` over ``grid``, one estimate per group."""
    config["samples_per_configuration"] = None
    config["splitting"] = options
    start = time.perf_counter()
    fields, info = _splitting_pass(
        prior, config=config, grid=grid, d=d, seed=seed, options=options, encoding=encoding, precision=precision,
        confidence=confidence, max_seconds=max_seconds, checkpoint=checkpoint, checkpoint_every=checkpoint_every,
        devices=devices,
    )  # fmt: skip
    fields["splitting_run"] = info
    estimates = [estimate_from_dict(r["p"]) for r in group_rows(fields["rows"])]
    outcome = RunOutcome(samples=sum(r["samples"] for r in group_rows(fields["rows"])),
                         stopped_by=info["stopped_by"], seconds=time.perf_counter() - start)  # fmt: skip
    source = sampling_source(prior, first, options["replicas_per_chunk"])
    return passes.finish(
        KIND, config, exact=False, seed=seed, source=source, outcome=outcome, estimates=estimates, nonfinite=0,
        near=0, extra=payloads.make(payloads.CompositionPayload, fields),
    )  # fmt: skip


def _mc_result(
    prior: Prior, run: Any, *, config: dict[str, Any], n_values: list[int], d: int, blocks: list[int],
    widths: list[int], specs: Sequence[str], targets: list[str], seed: int, encoding: str, confidence: float,
    method: str, precision: str, margin: float, exact: bool, max_configurations: int,
) -> CountResult:  # fmt: skip
    """The result of ``estimator="mc"``: one keyed pass per (n, L, w), every alpha on the same draws."""
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
                kstar0_bad += _kstar0_nonthreshold(acc.histogram, n, L)
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


def _kstar0_nonthreshold(histogram: Counter, n: int, L: int) -> int:
    """Networks (of any alpha) with k* = 0 whose function is not a threshold function: each one breaks the bound."""
    at_kstar0 = [(f, c) for (_, f, code), c in histogram.items()
                 if measures.depth_code_parts(code, n, L)[0] == 0]  # fmt: skip
    bad = {f for f, _ in at_kstar0
           if not composition.is_threshold_function(boolean.int_to_table(f, n), n)}  # fmt: skip
    return sum(c for f, c in at_kstar0 if f in bad)
