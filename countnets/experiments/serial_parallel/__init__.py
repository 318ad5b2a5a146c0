"""Serial vs parallel: the volume of ResMLPs whose effective depth is <= 1 against >= 2.

``countnets experiment serial-parallel`` samples ResMLPs from the prior and, for
every network, computes its function ``f`` (the table of ``y^(L)``), its effective
depth ``k*`` (the least path order whose truncated output has table f), the stable
depth and the Hamming distance between the order ``k* - 1`` table and f
(:mod:`countnets.measures.circuits`). The device returns only a histogram keyed on
(branch scale, f, k*, stable depth, Hamming distance); everything reported is a
sum over that histogram.

Reported, for each block count L and branch scale alpha:

* ``kstar_counts[k]`` = #{networks with k* = k}, over every sampled network;
* ``parallel`` = P(k* <= 1), ``serial`` = P(k* >= 2) and their ratio, with the exact
  conditional-binomial interval (:func:`countnets.ratio_interval`);
* per target f: P(f and k* = k) counts, its parallel/serial ratio and interval.

What this does and does not test (``docs/circuits.md``): the claim that parallel
solutions hold more volume is about problems that need composition, with placement
counting as its null; with blocks wide enough to compute the target alone, ``k* >= 2``
mostly marks networks a longer path perturbed. The per-target verdicts are corrected
for multiplicity and reported per symmetry class (:func:`countnets.results.report.multiplicity`).
All branch scales of one L are evaluated on the same parameter draws (alpha is not
a parameter), which is the same as separate runs with the same seed.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from countnets import measures
from countnets._errors import CountnetsError, check_positive_int
from countnets.engine import checkpoint as checkpoint_lib
from countnets.engine import passes
from countnets.engine.estimators import DEFAULT_CHUNK_SIZE, DEFAULT_MARGIN, DEFAULT_MAX_EXACT
from countnets.engine.passes import ALL, resolve_targets
from countnets.measures import parse_branch_scales, resolve_branch_scale
from countnets.network import boolean
from countnets.network.architectures import DEFAULT_PRECISION, ResMLP
from countnets.network.priors import Prior
from countnets.results import CountResult, estimate_to_dict, make_estimate, payloads
from countnets.results.report import (
    SHORT_VERDICTS,
    fmt_interval,
    fmt_p,
    fmt_ratio,
    multiplicity,
    multiplicity_lines,
    prior_text,
    ratio_record,
    ratio_verdict,
    text_table,
    verdict_counts,
)

__all__ = [
    "KIND",
    "serial_parallel",
    "format_serial_parallel",
    "parse_branch_scales",
    "resolve_branch_scale",
    "resolve_targets",
    "ratio_record",
    "ratio_verdict",
    "verdict_counts",
]

KIND = "serial-parallel"  # the result record's ``kind``

# The library functions take checkpoint=; the CLI may pass --checkpoint through.


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
        k, s, h = measures.depth_code_parts(code, n, L)
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
        "parallel": estimate_to_dict(make_estimate("parallel", par, samples, confidence=confidence, method=method)),
        "serial": estimate_to_dict(make_estimate("serial", ser, samples, confidence=confidence, method=method)),
        "ratio": ratio_record(par, ser, confidence, exact),
        "ratio_nonconstant": ratio_record(par_nc, ser_nc, confidence, exact),
        "target_verdicts": verdict_counts(verdicts),
        "per_target": per_target,
    }


def _block_counts(blocks: Sequence[int]) -> list[int]:
    """The block counts L, checked: a non-empty sequence of distinct positive ints."""
    try:
        blocks = [check_positive_int("blocks (L)", L) for L in blocks]
    except TypeError:
        raise CountnetsError(f"blocks must be a sequence of block counts, got {blocks!r}") from None
    if not blocks or len(set(blocks)) != len(blocks):
        raise CountnetsError(f"blocks must be a non-empty list of distinct block counts, got {blocks}")
    return blocks


def _entry(summary: dict[str, Any], arch: ResMLP, spec: str, *, stopped_by: str, seconds: float) -> dict[str, Any]:
    """The result entry of one (L, alpha): the configuration, then its :func:`_depth_summary`."""
    return {
        "blocks": arch.L,
        "branch_scale": arch.branch_scale,
        "branch_scale_spec": spec,
        "arch": arch.config(),
        "stopped_by": stopped_by,
        "seconds": seconds,
        **summary,
    }


def _estimates(summary: dict[str, Any], label: str, done: int, confidence: float, method: str) -> list[Any]:
    """The ``parallel`` and ``serial`` estimates of one (L, alpha), named ``"{label} parallel"`` and so on."""
    return [
        make_estimate(f"{label} {event}", summary[event]["hits"], done, confidence=confidence, method=method)
        for event in ("parallel", "serial")
    ]


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
    progress: bool | float = False,
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
    n_samples, confidence, method = passes.check_run(n_samples, confidence, method, exact)
    blocks = _block_counts(blocks)
    specs = parse_branch_scales(branch_scales)
    archs_by_L = {L: [ResMLP(n, d, L, w, resolve_branch_scale(s, L)) for s in specs] for L in blocks}
    target_ints, max_seconds, config = passes.experiment_config(
        prior, archs_by_L[blocks[0]][0], n=n, targets=targets, encoding=encoding, precision=precision, margin=margin,
        method=method, confidence=confidence, max_seconds=max_seconds,
    )  # fmt: skip
    config["arch"] = {"arch": "resmlp", "n": n, "d": d, "w": w, "blocks": blocks, "branch_scales": list(specs)}
    config["samples_per_configuration"] = None if exact else n_samples

    run = passes.circuit_run(
        n_samples=n_samples, seed=seed, chunk_size=chunk_size, chunks_per_step=chunks_per_step,
        max_seconds=max_seconds, progress=progress, devices=devices, checkpoint=checkpoint,
        checkpoint_every=checkpoint_every,
    )  # fmt: skip
    measure = measures.effective_depth(specs)
    entries, estimates = [], []
    total_samples, nonfinite_total, near_total, stopped = 0, 0, 0, "samples"
    resumed_total, seconds_before_total = 0, 0.0
    start = time.perf_counter()
    source = outcome = None
    for L in blocks:
        archs = archs_by_L[L]
        acc, outcome, source = passes.keyed_pass(
            KIND, measure, prior, archs[0], config=config, run=run, exact=exact,
            max_configurations=max_configurations, encoding=encoding, precision=precision, margin=margin,
            bytes_per_network=4 * len(archs) * (L + 1) * (L + 2) * 2**n * max(d, w),
            description=f"serial-parallel L={L}", checkpoint_suffix=f".L{L}", fingerprint_extra={"blocks": L},
        )  # fmt: skip
        done, stopped_by, seconds = outcome.samples, outcome.stopped_by, outcome.seconds
        stopped = stopped_by if stopped_by != "samples" else stopped
        total_samples += done
        resumed_total += outcome.resumed_from
        seconds_before_total += outcome.seconds_before
        nonfinite_total += acc.nonfinite
        near_total += acc.near
        for index, (spec, arch) in enumerate(zip(specs, archs, strict=True)):
            sub = {(f, code): c for (a, f, code), c in acc.histogram.items() if a == index}
            summary = _depth_summary(sub, L, n, done, target_ints, confidence, method)
            entries.append(_entry(summary, arch, spec, stopped_by=passes.stop_reason(exact, stopped_by),
                                  seconds=seconds))  # fmt: skip
            estimates += _estimates(summary, f"L={L} alpha={spec}", done, confidence, method)
    outcome = dataclasses.replace(
        outcome, samples=total_samples, stopped_by=stopped, seconds=time.perf_counter() - start,
        resumed_from=resumed_total, seconds_before=seconds_before_total,
    )  # type: ignore[arg-type]  # fmt: skip
    return passes.finish(
        KIND, config, exact=exact, seed=seed, source=source, outcome=outcome, estimates=estimates,
        nonfinite=nonfinite_total, near=near_total,
        extra=payloads.make(payloads.SerialParallelPayload, {"results": entries}),
    )  # fmt: skip


def _trend(points: list[tuple[int, Mapping[str, Any]]]) -> str:
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
        f"serial-parallel: ResMLP n={a['n']} d={a['d']} w={a['w']}, prior {prior_text(cfg['prior'])}, "
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
                fmt_p(e["parallel"]["p"]),
                fmt_p(e["serial"]["p"]),
                fmt_ratio(e["ratio"]["estimate"]),
                fmt_interval(e["ratio"]["ci"]),
                SHORT_VERDICTS[ratio_verdict(e["ratio"])] if e["blocks"] >= 2 else "n/a",
                f"{fmt_ratio(nc['estimate'])} {fmt_interval(nc['ci'])}" if e["blocks"] >= 2 else "n/a",
                " ".join(f"{c / samples:.3f}" for c in e["kstar_counts"]),
                f"{e['serial_one_bit'] / ser:.2f}" if ser else "-",
                f"{e['stable_exceeds_kstar'] / samples:.3f}",
            ]
        )
    lines += text_table(rows)
    if any(e["blocks"] == 1 for e in entries):
        lines.append("L = 1 has no serial networks (k* <= L).")
    lines.append("'serial 1-bit': share of serial networks whose order-(k*-1) table differs from f in one bit. "
                 "'stable>k*': share whose truncated tables leave f again after k*.")  # fmt: skip
    lines += ["", "how the ratio moves with L (L >= 2):"]
    for spec in dict.fromkeys(e["branch_scale_spec"] for e in entries):
        points = [(e["blocks"], e["ratio"]) for e in entries if e["branch_scale_spec"] == spec and e["blocks"] >= 2]
        if points:
            values = ", ".join(
                f"L={L}: {fmt_ratio(r['estimate'])} ({SHORT_VERDICTS[ratio_verdict(r)]})" for L, r in points
            )
            lines.append(f"  alpha = {spec}: {values}; {_trend(points)}")
    by_l: dict[int, list[Mapping[str, Any]]] = {}
    for e in entries:
        by_l.setdefault(e["blocks"], []).append(e)
    for L, group in by_l.items():
        if L >= 2 and len(group) > 1:
            values = ", ".join(f"alpha={e['branch_scale_spec']}: {fmt_ratio(e['ratio']['estimate'])}" for e in group)
            lines.append(f"  L = {L}, by branch scale: {values}")
    if cfg["targets"] == ALL:
        lines += multiplicity_lines(
            entries, multiplicity(entries, n=a["n"], prior=cfg["prior"], encoding=cfg["encoding"],
                                  confidence=cfg.get("confidence", 0.95), all_functions=True)
        )  # fmt: skip
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
                rows.append([t["function"], str(e["blocks"]), e["branch_scale_spec"], fmt_p(t["p"]),
                             " ".join(str(c) for c in t["kstar_counts"]), fmt_ratio(t["ratio"]),
                             fmt_interval(t["ratio_ci"]),
                             SHORT_VERDICTS[ratio_verdict(record)] if e["blocks"] >= 2 else "n/a"])  # fmt: skip
        lines += text_table(rows)
    if result.nonfinite:
        lines.append(f"{result.nonfinite} (network, alpha) pairs had non-finite outputs (their bits read as 0)")
    return "\n".join(lines)
