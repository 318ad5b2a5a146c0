"""Detours: write-then-erase block pairs in ResMLPs (D1) and goal-then-backchain GoalNets (D2).

``countnets experiment detour --kind write-erase`` samples ResMLPs and, for every
network with function f (its full table), removes each block and each pair of
blocks (later blocks recomputed). Blocks ``i < j`` cancel when removing either one
alone breaks f and removing both preserves it. Reported: the volume of "implements
f with some cancelling pair" against "with none", per target and over all
functions, and per pair.

``countnets experiment detour --kind goal`` samples GoalNets and, for every network
with function f and goal g (the table of the step unit z), clamps z to 0 and to 1.
Detour via g: g not constant, not f, not not-f, and both clamps break f. Direct: f
survives a clamp, or g is f or not f. Anything else is counted as ``other`` (none
can occur: a constant g makes one clamp a no-op). Reported: per-(f, g) volumes,
their sum over g, the number of distinct goals, and the direct volume.

:func:`detour_vs_n` runs either kind at several n (and goal widths) and tabulates the
pooled ratios against n (``scripts/detour_vs_n.py``). Definitions: ``docs/circuits.md``.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence

from countnets import measures
from countnets._errors import CountnetsError, check_positive_int
from countnets.defaults import DETOUR_KINDS as KINDS  # noqa: F401 (re-exported)
from countnets.engine import checkpoint as checkpoint_lib
from countnets.engine import passes
from countnets.engine.estimators import DEFAULT_CHUNK_SIZE, DEFAULT_MARGIN, DEFAULT_MAX_EXACT
from countnets.engine.passes import ALL
from countnets.experiments.detour.formatting import format_detour, format_detour_vs_n, what_arch
from countnets.measures import circuits
from countnets.network import boolean
from countnets.network.architectures import DEFAULT_PRECISION, GoalNet, ResMLP
from countnets.network.priors import Prior
from countnets.results import CountResult, estimate_to_dict, make_estimate, payloads
from countnets.results.report import interval, ratio_p_value, ratio_record, ratio_verdict, verdict_counts
from countnets.stats import statistics

__all__ = [
    "KIND",
    "KINDS",
    "write_erase",
    "goal_detour",
    "format_detour",
    "detour_vs_n",
    "format_detour_vs_n",
    "MAX_SWEEP_INPUTS",
    "what_arch",
]

KIND = "detour"  # the result record's ``kind``

# The library functions take checkpoint=; the CLI may pass --checkpoint through.


def write_erase(
    prior: Prior,
    *,
    n: int,
    d: int,
    w: int,
    blocks: int,
    branch_scale: str | float = "1",
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
    """Detour D1: volume of ResMLPs implementing f with a cancelling block pair vs with none.

    Args:
      prior: parameter prior.
      n, d, w: inputs, stream width, block hidden width.
      blocks: number of blocks L (>= 2; pairs need two blocks).
      branch_scale: alpha, a number or ``"invsqrt"`` (``1/sqrt(L)``), or several, comma-separated
        (``"1,invsqrt,0.25"``): every alpha is evaluated on the same draws, and each alpha's
        counts equal those of a run with that alpha alone and the same seed.
      targets: ``"all"`` or functions (hex or names) for per-target rows.
      Other arguments are as in :func:`countnets.experiments.serial_parallel.serial_parallel`.

    Returns:
      A :class:`CountResult` of kind ``"detour"`` with ``extra``: ``detour_kind``
      (``"write-erase"``), ``counts`` (``with_pair``/``without_pair`` over every sampled
      network), ``pair_counts`` (per pair ``"i,j"``), ``ratio`` (with/without) and
      ``per_target``, all of the first alpha; with several alphas also ``scales``, one
      entry per alpha with those fields, ``branch_scale`` and ``branch_scale_spec``. With
      ``targets="all"`` the functions never seen count as ``target_verdicts.no_hits``.

    Raises:
      CountnetsError: for fewer than 2 or more than 8 blocks, or invalid options.
    """
    n_samples, confidence, method = passes.check_run(n_samples, confidence, method, exact)
    L = check_positive_int("blocks (L)", blocks)
    if not 2 <= L <= 8:
        raise CountnetsError(f"write-erase needs 2..8 blocks (a pair of blocks to cancel), got {L}")
    specs = measures.parse_branch_scales(branch_scale)
    arch = ResMLP(n, d, L, w, measures.resolve_branch_scale(specs[0], L))
    target_ints, max_seconds, config = passes.experiment_config(
        prior, arch, n=n, targets=targets, encoding=encoding, precision=precision, margin=margin, method=method,
        confidence=confidence, max_seconds=max_seconds,
    )  # fmt: skip
    config["detour_kind"] = "write-erase"
    config["branch_scale_spec"] = ",".join(specs)

    run = passes.circuit_run(
        n_samples=n_samples, seed=seed, chunk_size=chunk_size, chunks_per_step=chunks_per_step,
        max_seconds=max_seconds, progress=progress, devices=devices, checkpoint=checkpoint,
        checkpoint_every=checkpoint_every,
    )  # fmt: skip
    # One key row per alpha on the same draws; a single alpha keeps the one-row key of earlier versions.
    acc, outcome, source = passes.keyed_pass(
        KIND, measures.cancelling_pair(None if len(specs) == 1 else specs), prior, arch, config=config, run=run,
        exact=exact, max_configurations=max_configurations, encoding=encoding, precision=precision, margin=margin,
        bytes_per_network=4 * len(circuits.removal_sets(L)) * L * 2**n * max(d, w) * 2 * len(specs),
        description="write-erase",
    )  # fmt: skip
    done = outcome.samples
    histograms: list[Counter] = [Counter() for _ in specs]
    for key, count in acc.histogram.items():
        index, rest = (0, key) if len(specs) == 1 else (key[0], key[1:])
        histograms[index][rest] += count
    entries = [
        _write_erase_entry(hist, spec=spec, branch_scale=measures.resolve_branch_scale(spec, L), L=L, n=n,
                           done=done, target_ints=target_ints, confidence=confidence, method=method)
        for spec, hist in zip(specs, histograms, strict=True)
    ]  # fmt: skip
    first = entries[0]
    estimates = [
        make_estimate(name, first["counts"][name], done, confidence=confidence, method=method)
        for name in ("with_pair", "without_pair")
    ]
    extra = {"detour_kind": "write-erase", "blocks": L, **{k: v for k, v in first.items() if k != "branch_scale_spec"}}
    if len(specs) > 1:
        extra["scales"] = entries
    return passes.finish(
        KIND, config, exact=exact, seed=seed, source=source, outcome=outcome, estimates=estimates,
        nonfinite=acc.nonfinite, near=acc.near, extra=payloads.make(payloads.WriteErasePayload, extra),
    )  # fmt: skip


def _write_erase_entry(
    histogram: Counter, *, spec: str, branch_scale: float, L: int, n: int, done: int,
    target_ints: Sequence[int] | None, confidence: float, method: str,
) -> dict:  # fmt: skip
    """The write-erase counts of one branch scale from its histogram of ``(f, pair mask)`` keys."""
    pairs = circuits.block_pairs(L)
    pair_counts = Counter()
    per_f: dict[int, Counter] = {}
    for (f, mask), count in histogram.items():
        c = per_f.setdefault(f, Counter())
        c["with_pair" if mask else "without_pair"] += count
        for p, (i, j) in enumerate(pairs):
            if mask >> p & 1:
                pair_counts[f"{i},{j}"] += count
                c[f"{i},{j}"] += count
    with_pair = sum(c["with_pair"] for c in per_f.values())
    without_pair = done - with_pair
    per_target, verdicts = [], Counter()
    for f in sorted(per_f) if target_ints is None else target_ints:
        c = per_f.get(f, Counter())
        a, b = c["with_pair"], c["without_pair"]
        record = ratio_record(a, b, confidence, method == "exact")
        verdicts[ratio_verdict(record)] += 1
        per_target.append(
            {
                "function": boolean.to_hex(f),
                "hits": a + b,
                "p": (a + b) / done,
                "with_pair": a,
                "without_pair": b,
                "with_pair_ci": interval(a, done, confidence, method),
                "without_pair_ci": interval(b, done, confidence, method),
                "pair_counts": {f"{i},{j}": c[f"{i},{j}"] for i, j in pairs},
                "ratio": record["estimate"],
                "ratio_ci": record["ci"],
            }
        )
    if target_ints is None:  # every function never seen: no hits (as serial-parallel counts them)
        verdicts["no_hits"] += 2 ** (2**n) - len(per_f)
    return {
        "branch_scale": branch_scale,
        "branch_scale_spec": spec,
        "counts": {"with_pair": with_pair, "without_pair": without_pair},
        "pair_counts": {f"{i},{j}": pair_counts[f"{i},{j}"] for i, j in pairs},
        "with_pair": estimate_to_dict(make_estimate("with_pair", with_pair, done, confidence=confidence,
                                                     method=method)),
        "without_pair": estimate_to_dict(make_estimate("without_pair", without_pair, done, confidence=confidence,
                                                        method=method)),
        "ratio": ratio_record(with_pair, without_pair, confidence, method == "exact"),
        "distinct_functions": len(per_f),
        "target_verdicts": verdict_counts(verdicts),
        "per_target": per_target,
    }  # fmt: skip


def goal_detour(
    prior: Prior,
    *,
    n: int,
    w: int,
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
    """Detour D2: per-goal volumes of GoalNets implementing f via a goal g, against the direct volume.

    Args:
      prior: parameter prior.
      n, w: inputs and hidden width of ``GoalNet(n, w)``.
      targets: ``"all"`` or functions (hex or names) for per-target rows.
      Other arguments are as in :func:`countnets.experiments.serial_parallel.serial_parallel`.

    Returns:
      A :class:`CountResult` of kind ``"detour"`` with ``extra``: ``detour_kind``
      (``"goal"``), ``counts`` (``direct``/``detour``/``other`` over every sampled
      network), ``goals`` (goal hex -> detour count, pooled over f),
      ``distinct_goals``, ``direct_breakdown``, ``ratio`` (detour/direct) and
      ``per_target`` (per-goal counts and intervals).
    """
    n_samples, confidence, method = passes.check_run(n_samples, confidence, method, exact)
    arch = GoalNet(n, w)
    target_ints, max_seconds, config = passes.experiment_config(
        prior, arch, n=n, targets=targets, encoding=encoding, precision=precision, margin=margin, method=method,
        confidence=confidence, max_seconds=max_seconds,
    )  # fmt: skip
    config["detour_kind"] = "goal"

    run = passes.circuit_run(
        n_samples=n_samples, seed=seed, chunk_size=chunk_size, chunks_per_step=chunks_per_step,
        max_seconds=max_seconds, progress=progress, devices=devices, checkpoint=checkpoint,
        checkpoint_every=checkpoint_every,
    )  # fmt: skip
    acc, outcome, source = passes.keyed_pass(
        KIND, measures.goal(), prior, arch, config=config, run=run, exact=exact,
        max_configurations=max_configurations, encoding=encoding, precision=precision, margin=margin,
        bytes_per_network=4 * 4 * 2**n * w * 2, description="goal",
    )  # fmt: skip
    done = outcome.samples

    counts, goals, breakdown, per_f = _goal_tallies(acc.histogram)
    exact_mode = method == "exact"
    per_target, verdicts = _goal_per_target(per_f, target_ints, done=done, confidence=confidence, method=method)
    if target_ints is None:  # every function never seen: no hits
        verdicts["no_hits"] += 2 ** (2**n) - len(per_f)
    estimates = [
        make_estimate(name, counts[name], done, confidence=confidence, method=method)
        for name in ("direct", "detour", "other")
    ]
    extra = {
        "detour_kind": "goal",
        "counts": {"direct": counts["direct"], "detour": counts["detour"], "other": counts["other"]},
        "direct": estimate_to_dict(estimates[0]),
        "detour": estimate_to_dict(estimates[1]),
        "ratio": ratio_record(counts["detour"], counts["direct"], confidence, exact_mode),
        "distinct_goals": len(goals),
        "distinct_function_goal_pairs": sum(len(e["goals"]) for e in per_f.values()),
        "goals": {boolean.to_hex(g): k for g, k in sorted(goals.items(), key=lambda kv: (-kv[1], kv[0]))},
        "direct_breakdown": {k: breakdown[k] for k in ("goal_constant", "goal_is_f_or_not_f", "survives_clamp")},
        "distinct_functions": len(per_f),
        "target_verdicts": verdict_counts(verdicts),
        "per_target": per_target,
    }
    return passes.finish(
        KIND, config, exact=exact, seed=seed, source=source, outcome=outcome, estimates=estimates,
        nonfinite=acc.nonfinite, near=acc.near, extra=payloads.make(payloads.GoalPayload, extra),
    )  # fmt: skip


def _goal_tallies(histogram: Counter) -> tuple[Counter, Counter, Counter, dict[int, dict[str, Counter]]]:
    """Sums over the ``(f, g, flags)`` histogram of a goal run.

    Returns ``(counts, goals, breakdown, per_f)``: networks per class (direct, detour,
    other), detours per goal g, direct networks per reason, and per f its class counts
    and detour goals.
    """
    names = {circuits.DIRECT: "direct", circuits.DETOUR: "detour", circuits.OTHER: "other"}
    counts, goals, breakdown = Counter(), Counter(), Counter()
    per_f: dict[int, dict[str, Counter]] = {}
    for (f, g, fl), count in histogram.items():
        cls = names[circuits.goal_class(fl)]
        counts[cls] += count
        entry = per_f.setdefault(f, {"counts": Counter(), "goals": Counter()})
        entry["counts"][cls] += count
        if cls == "detour":
            goals[g] += count
            entry["goals"][g] += count
        elif cls == "direct":
            if fl & circuits.GOAL_CONSTANT:
                breakdown["goal_constant"] += count
            elif fl & (circuits.GOAL_IS_F | circuits.GOAL_IS_NOT_F):
                breakdown["goal_is_f_or_not_f"] += count
            else:
                breakdown["survives_clamp"] += count
    return counts, goals, breakdown, per_f


def _goal_per_target(
    per_f: dict[int, dict[str, Counter]], target_ints: Sequence[int] | None, *, done: int, confidence: float,
    method: str,
) -> tuple[list[dict], Counter]:  # fmt: skip
    """One row per target (every f seen when ``target_ints`` is None) and the count of each ratio verdict."""
    exact_mode = method == "exact"
    per_target, verdicts = [], Counter()
    for f in sorted(per_f) if target_ints is None else target_ints:
        entry = per_f.get(f, {"counts": Counter(), "goals": Counter()})
        c = entry["counts"]
        record = ratio_record(c["detour"], c["direct"], confidence, exact_mode)
        verdicts[ratio_verdict(record)] += 1
        ranked = sorted(entry["goals"].items(), key=lambda kv: (-kv[1], kv[0]))
        per_target.append(
            {
                "function": boolean.to_hex(f),
                "hits": sum(c.values()),
                "p": sum(c.values()) / done,
                "direct": c["direct"],
                "detour": c["detour"],
                "other": c["other"],
                "direct_ci": interval(c["direct"], done, confidence, method),
                "detour_ci": interval(c["detour"], done, confidence, method),
                "distinct_goals": len(entry["goals"]),
                "goals": {boolean.to_hex(g): k for g, k in ranked},
                "goal_ci": {boolean.to_hex(g): interval(k, done, confidence, method) for g, k in ranked},
                "ratio": record["estimate"],
                "ratio_ci": record["ci"],
            }
        )
    return per_target, verdicts


# ----------------------------------------------------------------------------- detours as n grows

MAX_SWEEP_INPUTS = 6  # 2**(2**6) functions; n = 7 doubles every table again and is not needed here


def detour_vs_n(
    prior: Prior,
    *,
    kind: str,
    ns: Sequence[int],
    widths: Sequence[int] = (8,),
    branch_scale: str | float = "1",
    d: int = 8,
    w: int = 8,
    blocks: int = 3,
    n_samples: int = 200_000,
    seed: int = 0,
    encoding: str = "01",
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    confidence: float = 0.95,
    precision: str = DEFAULT_PRECISION,
    progress: bool | float = False,
) -> dict:
    """The pooled detour/direct ratio of one detour kind at every n (and goal width or branch scale).

    write-erase: one :func:`write_erase` run per n, every alpha of ``branch_scale`` on
    the same draws (``ResMLP(n, d, blocks, w)``). goal: one :func:`goal_detour` run per
    (n, width) (``GoalNet(n, width)``). Each row holds the pooled counts, the ratio
    (with/without a cancelling pair, or detour/direct) with its interval, the same with
    the two constant functions left out, the distinct functions (and, for goal, goals
    among detours) seen against the ``2**(2**n)`` possible, and a verdict on ratio = 1
    by the exact conditional binomial test, Holm-adjusted over every row.

    Returns:
      A plain dict: ``kind``, ``config`` and ``rows`` (see ``docs/circuits.md``).

    Raises:
      CountnetsError: an unknown kind, n outside 1..6, a repeated n, or invalid options.
    """
    if kind not in KINDS:
        raise CountnetsError(f"unknown detour kind {kind!r}; expected one of {', '.join(KINDS)}")
    ns = [check_positive_int("n", v) for v in ns]
    if not ns or len(set(ns)) != len(ns) or not all(1 <= v <= MAX_SWEEP_INPUTS for v in ns):
        raise CountnetsError(f"n must be distinct values in 1..{MAX_SWEEP_INPUTS}, got {list(ns)}")
    widths = [check_positive_int("goal width", v) for v in widths]
    if kind == "goal" and (not widths or len(set(widths)) != len(widths)):
        raise CountnetsError(f"goal widths must be distinct, got {list(widths)}")
    specs = measures.parse_branch_scales(branch_scale)
    common = dict(n_samples=n_samples, seed=seed, encoding=encoding, chunk_size=chunk_size, confidence=confidence,
                  precision=precision, progress=progress, targets="zero,one")  # fmt: skip
    rows = []
    for n in ns:
        if kind == "write-erase":
            result = write_erase(prior, n=n, d=d, w=w, blocks=blocks, branch_scale=",".join(specs), **common)
            entries = result.extra.get("scales") or [result.extra]
            for spec, e in zip(specs, entries, strict=True):
                rows.append(_sweep_row(result, e, n, "with_pair", "without_pair", alpha=spec))
        else:
            for width in widths:
                result = goal_detour(prior, n=n, w=width, **common)
                row = _sweep_row(result, result.extra, n, "detour", "direct", width=width)
                row["distinct_goals"] = result.extra["distinct_goals"]
                row["distinct_function_goal_pairs"] = result.extra["distinct_function_goal_pairs"]
                rows.append(row)
    adjusted = statistics.adjust_pvalues([r["p_value"] for r in rows], "holm")
    for row, p in zip(rows, adjusted, strict=True):
        row["p_holm"] = float(p)
        a, b = row["detour"], row["direct"]
        row["verdict"] = "no_hits" if a + b == 0 else ("contains_1" if p >= 1 - confidence else
                                                      "above_1" if a > b else "below_1")  # fmt: skip
    config = {"prior": prior.config(), "encoding": encoding, "samples": n_samples, "seed": seed,
              "chunk_size": chunk_size, "confidence": confidence, "precision": precision, "ns": ns,
              "adjustment": "holm"}  # fmt: skip
    if kind == "write-erase":
        config.update(d=d, w=w, blocks=blocks, branch_scales=list(specs))
    else:
        config.update(widths=widths)
    return {"kind": kind, "config": config, "rows": rows}


def _sweep_row(result: CountResult, entry, n: int, a_name: str, b_name: str, **label) -> dict:
    """One row of :func:`detour_vs_n` from a run's payload ``entry`` (one branch scale, or the goal payload)."""
    conf = result.config["confidence"]
    a, b = int(entry["counts"][a_name]), int(entry["counts"][b_name])
    const = entry["per_target"]  # the two constant functions (targets "zero,one")
    ca, cb = sum(int(t[a_name]) for t in const), sum(int(t[b_name]) for t in const)
    ratio = ratio_record(a, b, conf, False)
    nonconstant = ratio_record(a - ca, b - cb, conf, False)
    return {
        "n": n,
        **label,
        "samples": result.samples,
        "seconds": result.seconds,
        "detour": a,
        "direct": b,
        "detour_p": a / result.samples,
        "ratio": float(ratio["estimate"]),
        "ratio_ci": [float(v) for v in ratio["ci"]],
        "ratio_nonconstant": float(nonconstant["estimate"]),
        "ratio_nonconstant_ci": [float(v) for v in nonconstant["ci"]],
        "p_value": ratio_p_value(a, b),
        "distinct_functions": int(entry["distinct_functions"]),
        "possible_functions": 2 ** (2**n),
    }
