"""Serial vs parallel: the volume of ResMLPs whose effective depth is <= 1 against >= 2.

``countnets experiment serial-parallel`` samples ResMLPs from the prior and, for
every network, computes its function ``f`` (the table of ``y^(L)``), its effective
depth ``k*`` (the least path order whose truncated output has table f), the stable
depth and the Hamming distance between the order ``k* - 1`` table and f
(:mod:`countnets.circuits`). The device returns only a histogram keyed on
(branch scale, f, k*, stable depth, Hamming distance); everything reported is a
sum over that histogram.

Reported, for each block count L and branch scale alpha:

* ``kstar_counts[k]`` = #{networks with k* = k}, over every sampled network;
* ``parallel`` = P(k* <= 1), ``serial`` = P(k* >= 2) and their ratio, with the exact
  conditional-binomial interval (:func:`countnets.ratio_interval`);
* per target f: P(f and k* = k) counts, its parallel/serial ratio and interval.

The prediction under test (DESIGN section 3): the ratio exceeds 1 and grows with L.
All branch scales of one L are evaluated on the same parameter draws (alpha is not
a parameter), which is the same as separate runs with the same seed.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from countnets import boolean, estimators, measures
from countnets import checkpoint as checkpoint_lib
from countnets._errors import CountnetsError, check_finite_float, check_positive_int
from countnets.accumulators import KeyedAccumulator
from countnets.architectures import DEFAULT_PRECISION, ResMLP
from countnets.driver import RunConfig, RunOutcome
from countnets.estimators import DEFAULT_CHUNK_SIZE, DEFAULT_MARGIN, DEFAULT_MAX_EXACT
from countnets.priors import Prior
from countnets.results import CountResult, _estimate_to_dict, _float_to_json, make_estimate
from countnets.statistics import ratio_interval
from countnets.steps import build_step

__all__ = [
    "COMMAND",
    "SUPPORTS_CHECKPOINT",
    "serial_parallel",
    "format_serial_parallel",
    "parse_branch_scales",
    "resolve_branch_scale",
    "resolve_targets",
    "ratio_record",
    "ratio_verdict",
    "verdict_counts",
    "add_circuit_options",
    "common_kwargs",
    "finish_cli",
    "add_parser",
    "run",
]

# The library functions take checkpoint=; the CLI may pass --checkpoint through.
SUPPORTS_CHECKPOINT = True
COMMAND = "serial-parallel"
ALL = "all"


# ----------------------------------------------------------------------------- shared helpers


def parse_branch_scales(spec: str | float | Sequence[str | float]) -> tuple[str, ...]:
    """Branch scales as canonical strings: numbers (``"1"``, ``"0.25"``) or ``"invsqrt"`` (1/sqrt(L)).

    >>> parse_branch_scales("1,invsqrt,0.25")
    ('1', 'invsqrt', '0.25')
    """
    items = spec.split(",") if isinstance(spec, str) else [spec] if isinstance(spec, (int, float)) else list(spec)
    out = []
    for item in items:
        text = str(item).strip().lower()
        if text == "invsqrt":
            out.append("invsqrt")
            continue
        try:
            value = check_finite_float("branch scale", float(text))
        except ValueError:
            raise CountnetsError(f"a branch scale must be a number or 'invsqrt', got {item!r}") from None
        out.append(f"{value:g}")
    if not out:
        raise CountnetsError("at least one branch scale is needed")
    if len(set(out)) != len(out):
        raise CountnetsError(f"branch scales must be distinct, got {out}")
    return tuple(out)


def resolve_branch_scale(spec: str, L: int) -> float:
    """The number alpha for a branch-scale spec at L blocks (``invsqrt`` is ``1/sqrt(L)``).

    >>> resolve_branch_scale("invsqrt", 4), resolve_branch_scale("0.5", 4)
    (0.5, 0.5)
    """
    if spec == "invsqrt":
        return 1.0 / math.sqrt(L) if L > 0 else 1.0
    return float(spec)


def resolve_targets(targets: str | Sequence[int | str], n: int) -> list[int] | None:
    """Target truth tables as ints, or ``None`` for ``"all"`` (every one of the 2**(2**n) functions).

    ``targets`` is ``"all"``, a comma-separated string of hex tables or names, or a
    sequence of ints/strings (see :func:`countnets.parse_function`).
    """
    if isinstance(targets, str):
        if targets.strip().lower() == ALL:
            return None
        parts = [t.strip() for t in targets.split(",")]
        if not all(parts):
            raise CountnetsError(f"targets must be 'all' or comma-separated functions, got {targets!r}")
        targets = parts
    return estimators.normalise_targets(list(targets), n)


def ratio_record(hits_a: int, hits_b: int, confidence: float, exact: bool) -> dict[str, Any]:
    """JSON record of ``P(A) / P(B)`` for disjoint events A, B: estimate, interval, counts.

    Sampling uses :func:`countnets.ratio_interval` (exact conditional binomial); an
    exact enumeration gives the exact ratio as a degenerate interval.
    """
    if exact:
        value = hits_a / hits_b if hits_b else (math.inf if hits_a else math.nan)
        lo = hi = value
    else:
        value, (lo, hi) = ratio_interval(hits_a, hits_b, confidence)
    return {
        "estimate": _float_to_json(value),
        "ci": [_float_to_json(lo), _float_to_json(hi)],
        "confidence": confidence,
        "hits_a": int(hits_a),
        "hits_b": int(hits_b),
        "method": "exact" if exact else "conditional-binomial",
    }


VERDICTS = ("above_1", "below_1", "contains_1", "no_hits")


def ratio_verdict(record: dict[str, Any]) -> str:
    """Where a ratio's interval lies: ``"above_1"``, ``"below_1"``, ``"contains_1"``, or ``"no_hits"``."""
    if record["hits_a"] + record["hits_b"] == 0:
        return "no_hits"
    lo, hi = (float(v) for v in record["ci"])
    if lo > 1:
        return "above_1"
    if hi < 1:
        return "below_1"
    return "contains_1"


def verdict_counts(verdicts: Counter) -> dict[str, int]:
    """Per-target verdict tallies as a plain dict in the order of ``VERDICTS``."""
    return {v: int(verdicts[v]) for v in VERDICTS}


_SHORT = {"above_1": ">1", "below_1": "<1", "contains_1": "~1", "no_hits": "-"}


def _source(prior: Prior, arch, chunk_size: int, exact: bool, max_configurations: int):
    if exact:
        source = estimators.lattice_source(prior, arch, chunk_size, max_configurations)
        return source, source.chunk_size * source.n_chunks
    return estimators.sampling_source(prior, arch, chunk_size), None


def _check_run(n_samples: int | None, confidence: float, method: str, exact: bool) -> tuple[int, float, str]:
    if exact:
        n_samples = 1
        method = "exact"
        confidence = check_finite_float("confidence", confidence)
        if not 0 < confidence < 1:
            raise CountnetsError(f"confidence must be in (0, 1), got {confidence}")
        return n_samples, confidence, method
    if n_samples is None:
        raise CountnetsError("n_samples is required when sampling (exact=False)")
    n_samples = check_positive_int("n_samples (sample count)", n_samples)
    return n_samples, estimators.check_interval(confidence, method), method


def _run_config(
    prior: Prior, arch: Any, *, n: int, targets: str | Sequence[int | str], encoding: str, precision: str,
    margin: float, method: str, confidence: float, max_seconds: float | None,
) -> tuple[list[int] | None, float | None, dict[str, Any]]:  # fmt: skip
    """Checked targets and ``max_seconds``, and the run config of a circuit experiment.

    Checks the targets, then ``max_seconds``, then the estimators' base config of
    ``arch``; the config gets ``targets`` (``"all"`` or hex tables) and ``confidence``.

    Returns:
      ``(target_ints, max_seconds, config)``; ``target_ints`` is ``None`` for ``"all"``.
    """
    target_ints = resolve_targets(targets, n)
    if max_seconds is not None:
        max_seconds = check_finite_float("max_seconds", max_seconds, positive=True)
    config = estimators.base_config(prior, arch, encoding, precision, margin, method)
    config["targets"] = ALL if target_ints is None else [boolean.to_hex(t) for t in target_ints]
    config["confidence"] = confidence
    return target_ints, max_seconds, config


def _stop_reason(exact: bool, stopped_by: str) -> str:
    """How a run ended: an enumeration that ran through every configuration is ``"exhausted"``."""
    return "exhausted" if exact and stopped_by == "samples" else stopped_by


def _drive_run(
    kind: str, step: Any, acc: Any, *, config: dict[str, Any], source: estimators.ChunkSource,
    total: int | None, exact: bool, run: RunConfig, bytes_per_network: int, description: str,
    checkpoint_suffix: str = "", fingerprint_extra: dict[str, Any] | None = None,
) -> RunOutcome:  # fmt: skip
    """:func:`countnets.estimators.run_step` over ``run.n_samples`` samples (all ``total`` configurations if exact).

    The checkpoint fingerprint is that of run ``kind`` with ``config`` (plus
    ``fingerprint_extra``); an enumeration has no seed.
    """
    return estimators.run_step(
        step, acc, run=run, source=source, kind=kind, config=config, bytes_per_network=bytes_per_network,
        description=description, n_samples=total if exact else None, seed=None if exact else run.seed,
        checkpoint_suffix=checkpoint_suffix, fingerprint_extra=fingerprint_extra,
    )  # fmt: skip


def _finish_run(
    kind: str, config: dict[str, Any], *, exact: bool, seed: int, source: estimators.ChunkSource,
    outcome: RunOutcome, estimates: list, nonfinite: int, near: int, extra: dict[str, Any],
) -> CountResult:  # fmt: skip
    """The :class:`CountResult` of a circuit run (no seed and ``"exhausted"`` for a full enumeration)."""
    return estimators.count_result(
        kind, config, seed=None if exact else seed, source=source, outcome=outcome, estimates=estimates,
        nonfinite=nonfinite, near=near, stopped_by=_stop_reason(exact, outcome.stopped_by), extra=extra,
    )  # fmt: skip


def _circuit_run(
    *, n_samples: int, seed: int, chunk_size: int, chunks_per_step: int | None, max_seconds: float | None,
    progress: bool, devices: int | None, checkpoint: str | os.PathLike | None, checkpoint_every: float,
) -> RunConfig:  # fmt: skip
    """The :class:`RunConfig` of a circuit experiment (``n_samples`` is 1 for an enumeration, unused)."""
    return RunConfig(
        n_samples=n_samples, seed=seed, chunk_size=chunk_size, chunks_per_step=chunks_per_step, devices=devices,
        checkpoint=checkpoint, checkpoint_every=checkpoint_every, max_seconds=max_seconds, progress=progress,
    )  # fmt: skip


def _fmt_p(x: float) -> str:
    return f"{x:.3e}" if x != 0 else "0"


def _fmt_ratio(x: Any) -> str:
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf"
    return f"{x:.3g}"


def _fmt_interval(ci: Sequence[Any]) -> str:
    """An interval ``[lo, hi]`` with both ends as :func:`_fmt_ratio` writes them."""
    return f"[{_fmt_ratio(ci[0])}, {_fmt_ratio(ci[1])}]"


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.rjust(widths[i]) if i else c.ljust(widths[i]) for i, c in enumerate(r)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


# ----------------------------------------------------------------------------- library


def _depth_summary(
    hist: dict[tuple[int, int], int], L: int, n: int, samples: int, targets: list[int] | None,
    confidence: float, method: str,
) -> dict[str, Any]:  # fmt: skip
    """Sums over the (function, code) histogram of one (L, alpha) configuration."""
    exact = method == "exact"
    span = 2**n + 1
    kstar = np.zeros(L + 1, np.int64)
    stable = np.zeros(L + 1, np.int64)
    hamming = np.zeros((L + 1, span), np.int64)
    stable_gt_kstar = 0
    per_f: dict[int, dict[str, np.ndarray]] = {}
    for (f, code), count in hist.items():
        ks, h = divmod(code, span)
        k, s = divmod(ks, L + 1)
        kstar[k] += count
        stable[s] += count
        hamming[k, h] += count
        stable_gt_kstar += count if s > k else 0
        entry = per_f.setdefault(
            f,
            {"kstar": np.zeros(L + 1, np.int64), "stable": np.zeros(L + 1, np.int64), "ham": np.zeros(span, np.int64)},
        )
        entry["kstar"][k] += count
        entry["stable"][s] += count
        if k >= 2:
            entry["ham"][h] += count
    par, ser = int(kstar[:2].sum()), int(kstar[2:].sum())
    constants = (0, 2 ** (2**n) - 1)
    const_k = sum((per_f[f]["kstar"] for f in constants if f in per_f), np.zeros(L + 1, np.int64))
    par_nc, ser_nc = par - int(const_k[:2].sum()), ser - int(const_k[2:].sum())
    serial_one_bit = int(hamming[2:, 1].sum())
    chosen = sorted(per_f) if targets is None else targets
    per_target, verdicts = [], Counter()
    for f in chosen:
        e = per_f.get(f)
        ks = e["kstar"] if e else np.zeros(L + 1, np.int64)
        hits = int(ks.sum())
        record = ratio_record(int(ks[:2].sum()), int(ks[2:].sum()), confidence, exact)
        verdicts[ratio_verdict(record)] += 1
        per_target.append(
            {
                "function": boolean.to_hex(f),
                "hits": hits,
                "p": hits / samples,
                "kstar_counts": ks.tolist(),
                "stable_counts": (e["stable"] if e else np.zeros(L + 1, np.int64)).tolist(),
                "serial_hamming_counts": (e["ham"] if e else np.zeros(span, np.int64)).tolist(),
                "ratio": record["estimate"],
                "ratio_ci": record["ci"],
            }
        )
    if targets is None:
        verdicts["no_hits"] += 2 ** (2**n) - len(per_f)
    return {
        "samples": samples,
        "kstar_counts": kstar.tolist(),
        "stable_counts": stable.tolist(),
        "hamming_counts": hamming.tolist(),
        "stable_exceeds_kstar": stable_gt_kstar,
        "serial_one_bit": serial_one_bit,
        "distinct_functions": len(per_f),
        "parallel": _estimate_to_dict(make_estimate("parallel", par, samples, confidence=confidence, method=method)),
        "serial": _estimate_to_dict(make_estimate("serial", ser, samples, confidence=confidence, method=method)),
        "ratio": ratio_record(par, ser, confidence, exact),
        "ratio_nonconstant": ratio_record(par_nc, ser_nc, confidence, exact),
        "target_verdicts": verdict_counts(verdicts),
        "per_target": per_target,
    }


def serial_parallel(
    prior: Prior,
    *,
    n: int,
    d: int,
    w: int,
    blocks: Sequence[int],
    branch_scales: Sequence[str | float] | str = ("1",),
    targets: str | Sequence[int | str] = ALL,
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
    """Effective-depth distribution and parallel/serial volume ratio of ResMLPs.

    For each L in ``blocks`` and each branch scale, ``n_samples`` networks
    ``ResMLP(n, d, L, w, alpha)`` are drawn from ``prior`` (chunk i of seed ``seed``; the
    same draws for every alpha of one L). Each network's function f is the table of
    ``y^(L)`` and ``k*`` the least order k with ``table(y^(k)) = f``.

    Args:
      prior: parameter prior.
      n, d, w: inputs, stream width and block hidden width.
      blocks: block counts L (each >= 1).
      branch_scales: numbers or ``"invsqrt"`` (``1/sqrt(L)``), as a list or comma-separated.
      targets: ``"all"`` (every function; per-target rows for the functions seen) or
        a list of functions (hex or names) that always get a per-target row.
      n_samples: networks per (L, alpha); ignored with ``exact``.
      exact: enumerate every configuration of a :class:`Lattice` prior instead of sampling.
      max_seconds: per L, stop after the first step past this wall time.
      devices: local devices to shard chunks over (default: all; counts do not depend on it).
      checkpoint: save progress and resume; block count L uses the file ``PATH.L{L}``.
      checkpoint_every: seconds between checkpoint saves (0: after every step).
      Other arguments are as in :func:`countnets.estimate_mc`.

    Returns:
      A :class:`CountResult` of kind ``"serial-parallel"``; ``extra["results"]`` has one
      entry per (L, alpha) with ``kstar_counts``, ``parallel``, ``serial``, ``ratio``,
      ``per_target`` and the diagnostics (see ``docs/circuits.md``).

    Raises:
      CountnetsError: for invalid sizes, targets, branch scales or run options.
    """
    n_samples, confidence, method = _check_run(n_samples, confidence, method, exact)
    try:
        blocks = [check_positive_int("blocks (L)", L) for L in blocks]
    except TypeError:
        raise CountnetsError(f"blocks must be a sequence of block counts, got {blocks!r}") from None
    if not blocks or len(set(blocks)) != len(blocks):
        raise CountnetsError(f"blocks must be a non-empty list of distinct block counts, got {blocks}")
    specs = parse_branch_scales(branch_scales)
    archs_by_L = {L: [ResMLP(n, d, L, w, resolve_branch_scale(s, L)) for s in specs] for L in blocks}
    target_ints, max_seconds, config = _run_config(
        prior, archs_by_L[blocks[0]][0], n=n, targets=targets, encoding=encoding, precision=precision, margin=margin,
        method=method, confidence=confidence, max_seconds=max_seconds,
    )  # fmt: skip
    config["arch"] = {"arch": "resmlp", "n": n, "d": d, "w": w, "blocks": blocks, "branch_scales": list(specs)}
    config["samples_per_configuration"] = None if exact else n_samples

    run = _circuit_run(
        n_samples=n_samples, seed=seed, chunk_size=chunk_size, chunks_per_step=chunks_per_step,
        max_seconds=max_seconds, progress=progress, devices=devices, checkpoint=checkpoint,
        checkpoint_every=checkpoint_every,
    )  # fmt: skip
    measure = measures.effective_depth(specs)
    entries, estimates = [], []
    total_samples, nonfinite_total, near_total, stopped = 0, 0, 0, "samples"
    start = time.perf_counter()
    source = outcome = None
    for L in blocks:
        archs = archs_by_L[L]
        source, total = _source(prior, archs[0], chunk_size, exact, max_configurations)
        step = build_step(
            source, archs[0], measure, reduce="histogram", encoding=encoding, precision=precision, margin=margin
        )
        acc = KeyedAccumulator(measure.key_fields(archs[0]))
        outcome = _drive_run(
            COMMAND, step, acc, config=config, source=source, total=total, exact=exact, run=run,
            fingerprint_extra={"blocks": L}, bytes_per_network=4 * len(archs) * (L + 1) * (L + 2) * 2**n * max(d, w),
            description=f"serial-parallel L={L}", checkpoint_suffix=f".L{L}",
        )  # fmt: skip
        done, stopped_by, seconds = outcome.samples, outcome.stopped_by, outcome.seconds
        stopped = stopped_by if stopped_by != "samples" else stopped
        total_samples += done
        nonfinite_total += acc.nonfinite
        near_total += acc.near
        for index, (spec, arch) in enumerate(zip(specs, archs, strict=True)):
            sub = {(f, code): c for (a, f, code), c in acc.histogram.items() if a == index}
            summary = _depth_summary(sub, L, n, done, target_ints, confidence, method)
            entry = {
                "blocks": L,
                "branch_scale": arch.branch_scale,
                "branch_scale_spec": spec,
                "arch": arch.config(),
                "stopped_by": _stop_reason(exact, stopped_by),
                "seconds": seconds,
                **summary,
            }
            entries.append(entry)
            label = f"L={L} alpha={spec}"
            for event in ("parallel", "serial"):
                estimates.append(
                    make_estimate(
                        f"{label} {event}", summary[event]["hits"], done, confidence=confidence, method=method
                    )
                )
    outcome = dataclasses.replace(
        outcome, samples=total_samples, stopped_by=stopped, seconds=time.perf_counter() - start
    )  # type: ignore[arg-type]
    return _finish_run(
        COMMAND, config, exact=exact, seed=seed, source=source, outcome=outcome, estimates=estimates,
        nonfinite=nonfinite_total, near=near_total, extra={"results": entries},
    )  # fmt: skip


def _trend(points: list[tuple[int, dict[str, Any]]]) -> str:
    """How a ratio moves with L, judged by disjoint intervals of successive block counts."""
    if len(points) < 2:
        return "one block count only"
    steps = []
    for (_, a), (_, b) in zip(points, points[1:], strict=False):
        a_lo, a_hi = (float(v) for v in a["ci"])
        b_lo, b_hi = (float(v) for v in b["ci"])
        steps.append("up" if b_lo > a_hi else "down" if b_hi < a_lo else "flat")
    if all(s == "up" for s in steps):
        return "rises with L"
    if all(s == "down" for s in steps):
        return "falls with L"
    return "no consistent trend (" + ", ".join(steps) + ")"


def format_serial_parallel(result: CountResult, *, max_target_rows: int = 12) -> str:
    """Terminal table of a serial-parallel result: one row per (L, alpha), trends, then targets."""
    cfg = result.config
    a = cfg["arch"]
    conf = f"{100 * cfg.get('confidence', 0.95):g}%"
    mode = "exact enumeration" if result.exact else f"seed {result.seed}, chunk size {result.chunk_size}"
    entries = result.extra["results"]
    lines = [
        f"serial-parallel: ResMLP n={a['n']} d={a['d']} w={a['w']}, prior {_prior_text_cfg(cfg['prior'])}, "
        f"encoding {cfg['encoding']}, {mode}; {result.seconds:.1f} s on {result.device}",
        "parallel = P(k* <= 1), serial = P(k* >= 2), over every sampled network; "
        f"ratio = parallel/serial with its exact {conf} interval; '>1?' says where the interval lies",
        "",
    ]
    rows = [["L", "alpha", "samples", "P(parallel)", "P(serial)", "ratio", f"{conf} interval", ">1?",
             "ratio, f not constant", "k* = 0..L (share)", "serial 1-bit", "stable>k*"]]  # fmt: skip
    for e in entries:
        samples = e["samples"]
        ser = e["serial"]["hits"]
        alpha = e["branch_scale_spec"]
        alpha = f"{alpha} ({e['branch_scale']:.3g})" if alpha == "invsqrt" else alpha
        nc = e["ratio_nonconstant"]
        rows.append(
            [
                str(e["blocks"]),
                alpha,
                f"{samples:,}",
                _fmt_p(e["parallel"]["p"]),
                _fmt_p(e["serial"]["p"]),
                _fmt_ratio(e["ratio"]["estimate"]),
                _fmt_interval(e["ratio"]["ci"]),
                _SHORT[ratio_verdict(e["ratio"])] if e["blocks"] >= 2 else "n/a",
                f"{_fmt_ratio(nc['estimate'])} {_fmt_interval(nc['ci'])}" if e["blocks"] >= 2 else "n/a",
                " ".join(f"{c / samples:.3f}" for c in e["kstar_counts"]),
                f"{e['serial_one_bit'] / ser:.2f}" if ser else "-",
                f"{e['stable_exceeds_kstar'] / samples:.3f}",
            ]
        )
    lines += _table(rows)
    if any(e["blocks"] == 1 for e in entries):
        lines.append("L = 1 has no serial networks (k* <= L).")
    lines.append("'serial 1-bit': share of serial networks whose order-(k*-1) table differs from f in one bit. "
                 "'stable>k*': share whose truncated tables leave f again after k*.")  # fmt: skip
    lines += ["", "how the ratio moves with L (L >= 2):"]
    for spec in dict.fromkeys(e["branch_scale_spec"] for e in entries):
        points = [(e["blocks"], e["ratio"]) for e in entries if e["branch_scale_spec"] == spec and e["blocks"] >= 2]
        if points:
            values = ", ".join(f"L={L}: {_fmt_ratio(r['estimate'])} ({_SHORT[ratio_verdict(r)]})" for L, r in points)
            lines.append(f"  alpha = {spec}: {values}; {_trend(points)}")
    by_l: dict[int, list[dict[str, Any]]] = {}
    for e in entries:
        by_l.setdefault(e["blocks"], []).append(e)
    for L, group in by_l.items():
        if L >= 2 and len(group) > 1:
            values = ", ".join(f"alpha={e['branch_scale_spec']}: {_fmt_ratio(e['ratio']['estimate'])}" for e in group)
            lines.append(f"  L = {L}, by branch scale: {values}")
    if cfg["targets"] == ALL:
        lines += ["", "per target (all functions, L >= 2): how many functions' ratio intervals lie above 1, below 1, "
                  "contain 1"]  # fmt: skip
        rows = [["L", "alpha", "functions seen", "above 1", "below 1", "contain 1", "never seen"]]
        for e in (e for e in entries if e["blocks"] >= 2):
            v = e["target_verdicts"]
            rows.append([str(e["blocks"]), e["branch_scale_spec"], str(e["distinct_functions"]), str(v["above_1"]),
                         str(v["below_1"]), str(v["contains_1"]), str(v["no_hits"])])  # fmt: skip
        lines += _table(rows)
    else:
        lines += ["", "per target"]
        rows = [["target", "L", "alpha", "P(f)", "k* counts (0..L)", "ratio", f"{conf} interval", ">1?"]]
        for e in entries:
            for t in e["per_target"][:max_target_rows]:
                record = {
                    "hits_a": sum(t["kstar_counts"][:2]),
                    "hits_b": sum(t["kstar_counts"][2:]),
                    "ci": t["ratio_ci"],
                }
                rows.append([t["function"], str(e["blocks"]), e["branch_scale_spec"], _fmt_p(t["p"]),
                             " ".join(str(c) for c in t["kstar_counts"]), _fmt_ratio(t["ratio"]),
                             _fmt_interval(t["ratio_ci"]),
                             _SHORT[ratio_verdict(record)] if e["blocks"] >= 2 else "n/a"])  # fmt: skip
        lines += _table(rows)
    if result.nonfinite:
        lines.append(f"{result.nonfinite} (network, alpha) pairs had non-finite outputs (their bits read as 0)")
    return "\n".join(lines)


def _prior_text_cfg(cfg: dict) -> str:
    cfg = dict(cfg)
    kind = cfg.pop("prior")
    return f"{kind}(" + ", ".join(f"{k}={v}" for k, v in cfg.items()) + ")"


# ----------------------------------------------------------------------------- CLI


def _blocks_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated block counts, got {text!r}") from None
    return values


def add_circuit_options(parser: argparse.ArgumentParser, *, resmlp: bool, default_samples: int) -> None:
    """Network, prior, target and run options shared by the circuit experiments."""
    from countnets import cli

    g = parser.add_argument_group("network")
    g.add_argument("--n", type=cli._nonneg_int, required=True, help="number of Boolean inputs, 1..8")
    if resmlp:
        g.add_argument("--width", type=cli._nonneg_int, default=8, help="ResMLP stream width d")
        g.add_argument("--block-width", type=cli._nonneg_int, default=8, help="ResMLP block hidden width w")
        g.add_argument("--blocks", type=_blocks_list, default=(1, 2, 4), help="block counts L, comma-separated")
        g.add_argument("--branch-scale", default="1", help="branch scales alpha, comma-separated: numbers or invsqrt")
    g.add_argument("--encoding", choices=boolean.ENCODINGS, default="01", help="input encoding (default %(default)s)")
    g.add_argument("--targets", default=ALL, help="'all' (every function) or functions: hex or names, comma-separated")
    cli.add_prior_options(parser)
    cli.add_run_options(parser, default_samples=default_samples)
    r = parser.add_argument_group("circuit run")
    r.add_argument("--exact", action="store_true", help="enumerate every lattice configuration instead of sampling")
    r.add_argument(
        "--max-exact", type=cli._nonneg_int, default=DEFAULT_MAX_EXACT, help="limit on enumerated configurations"
    )
    r.add_argument("--plot", default=None, help="write PNG figures to this path (suffixes added per figure)")


def common_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """Library keyword arguments from the shared options."""
    return dict(
        n_samples=args.samples,
        seed=args.seed,
        encoding=args.encoding,
        chunk_size=args.chunk_size,
        chunks_per_step=args.chunks_per_step or None,
        confidence=args.confidence,
        method=args.interval,
        precision=args.precision,
        max_seconds=args.max_seconds,
        exact=args.exact,
        max_configurations=args.max_exact,
        progress=not args.quiet,
        devices=getattr(args, "devices", None),
        checkpoint=getattr(args, "checkpoint", None),
        checkpoint_every=getattr(args, "checkpoint_every", checkpoint_lib.DEFAULT_EVERY_SECONDS),
    )


def finish_cli(args: argparse.Namespace, result: CountResult, table: str) -> int:
    """Write JSON and figures as asked, print the table unless ``--quiet``."""
    from countnets import results

    if args.json:
        results.save_json(result, args.json)
    if args.plot:
        from countnets import plotting

        for path in plotting.plot_result(result, args.plot):
            if not args.quiet:
                print(f"wrote {path}")
    if not args.quiet:
        print(table)
    return 0


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``serial-parallel`` subcommand."""
    p = subparsers.add_parser(
        COMMAND,
        help="effective depth k* of ResMLPs: parallel (k* <= 1) vs serial (k* >= 2) volume",
        description="Volume of ResMLP parameter space implementing functions in parallel (k* <= 1) "
        "versus serially (k* >= 2), per block count and branch scale.",
    )
    add_circuit_options(p, resmlp=True, default_samples=200_000)
    return p


def run(args: argparse.Namespace) -> int:
    """Run ``countnets experiment serial-parallel`` from parsed arguments."""
    from countnets import cli

    prior = cli.prior_from_args(args)
    result = serial_parallel(
        prior, n=args.n, d=args.width, w=args.block_width, blocks=args.blocks, branch_scales=args.branch_scale,
        targets=args.targets, **common_kwargs(args),
    )  # fmt: skip
    return finish_cli(args, result, format_serial_parallel(result))
