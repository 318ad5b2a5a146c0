"""``countnets experiment diverse``: sequential retraining rewarded for finding new functions.

``--chains`` independent sequences of ``--runs`` training runs each (DESIGN section
3b). Run k of a chain minimises ``L_S + mu * max_{g found} a_g`` where the ``g`` are
the functions fitting S that the chain's earlier runs ended on and ``a_g`` is the
soft agreement off S (:func:`countnets.train.training.diversity_penalty`). The same chains
are also run with ``mu = 0`` (independent restarts from the same initialisations)
as the baseline. Reported per setting: distinct functions found against the number
of runs (mean and spread over chains), runs that did not fit S, and for a given B
(``--b``, or the ``--b-rank``-th most probable function under ``P_prior(. | S)``)
the first run at which it appears in each chain.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from countnets._errors import CountnetsError, check_finite_float
from countnets.network import boolean
from countnets.results import CountResult, report
from countnets.results.report import fmt_prob
from countnets.train import training_results as train_records
from countnets.train.training import ConditionalPrior, TrainConfig, TrainingSet, conditional_prior, diverse_runs
from countnets.train.training_results import DEFAULT_EXPERIMENT_CHUNK

__all__ = ["KIND", "diverse", "format_diverse"]

KIND = "diverse"  # the result record's ``kind``


def _choose_b(cp: ConditionalPrior | None, tset: TrainingSet, b: int | None, b_rank: int | None) -> int | None:
    """B: the one given, else the ``b_rank``-th most probable function under the conditional prior (or None)."""
    if b is None and b_rank is not None:
        ranked = cp.ranked()  # type: ignore[union-attr]
        if not 1 <= b_rank <= len(ranked):
            raise CountnetsError(f"--b-rank {b_rank} is out of range: {len(ranked)} functions fitting S were seen")
        b = ranked[b_rank - 1][0]
    if b is not None and not tset.fits(b):
        raise CountnetsError(f"B = {boolean.to_hex(b)} does not agree with the target on S")
    return b


def _setting_row(res: Any, s: int, m: float, curve: np.ndarray) -> dict[str, Any]:
    """Setting ``s`` (reward ``m``): the distinct-function curve, runs that did not fit S and the functions found."""
    fit = res.fit[s]
    found = {}
    for t in res.tables[s][fit].tolist():
        found[int(t)] = found.get(int(t), 0) + 1
    return {
        "reward": m,
        "distinct_mean": curve[s].mean(axis=0).tolist(),
        "distinct_sd": curve[s].std(axis=0).tolist(),
        "distinct_final_min": int(curve[s][:, -1].min()),
        "distinct_final_max": int(curve[s][:, -1].max()),
        "distinct_pooled": len(found),
        "not_converged": int((~fit).sum()),
        "not_converged_per_run": (~fit).sum(axis=0).tolist(),
        "steps_mean": float(res.steps[s].mean()),
        "trained": report.hist_hex(found),
    }


def _b_hits(first: np.ndarray, chains: int, n_runs: int, confidence: float, method: str) -> dict[str, Any]:
    """Where the chains first found B (``first``: 1-based run per chain, 0 if never), and how many did."""
    hit = first > 0
    return {
        "first_hit": first.tolist(),
        "found_b": int(hit.sum()),
        "found_b_ci": report.interval(int(hit.sum()), chains, confidence, method),
        "found_b_by_run": [int(np.sum(hit & (first <= k))) for k in range(1, n_runs + 1)],
        "first_hit_median": float(np.median(first[hit])) if hit.any() else None,
    }


def _settings(
    res: Any, b: int | None, chains: int, n_runs: int, confidence: float, method: str
) -> tuple[list[dict[str, Any]], int]:
    """One row per reward setting (with B's first hits when B is given), and the runs that did not fit S in all."""
    curve = res.distinct_curve()  # (2, chains, runs)
    settings = []
    total_not = 0
    for s, m in enumerate(res.rewards):
        entry = _setting_row(res, s, m, curve)
        total_not += entry["not_converged"]
        if b is not None:
            entry.update(_b_hits(res.first_hit(b)[s], chains, n_runs, confidence, method))
        settings.append(entry)
    return settings, total_not


def _summary(settings: list[dict[str, Any]]) -> dict[str, Any]:
    """Per reward: the mean number of distinct functions after all runs, and the chains that found B."""
    return {
        "distinct_after_all_runs": {f"{st['reward']:g}": st["distinct_mean"][-1] for st in settings},
        "chains_finding_b": {f"{st['reward']:g}": st.get("found_b") for st in settings},
    }


def diverse(
    prior: Any,
    arch: Any,
    tset: TrainingSet,
    train_config: TrainConfig,
    *,
    reward: float,
    n_runs: int,
    chains: int,
    b: int | None = None,
    b_rank: int | None = None,
    n_samples: int | None = None,
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
    """Run diverse retraining (reward ``mu``) and the ``mu = 0`` baseline; returns ``kind="diverse"``.

    With ``b_rank`` (or to report the prior) the conditional prior is computed first
    from ``n_samples`` samples (or exactly). ``extra`` (also at the JSON top level):
    ``train_points``, ``target``, ``b``, ``prior``/``prior_samples``/``prior_fit`` (when
    computed), ``trained`` (per reward, hex -> count over all runs fitting S),
    ``settings`` (per reward: distinct-function curve, first hits of B), ``runs``,
    ``chains``, ``not_converged`` and ``summary``.
    """
    mu = check_finite_float("reward", reward, positive=True)
    start = time.perf_counter()
    cp = None
    if b_rank is not None or n_samples is not None or exact:
        cp = conditional_prior(
            prior, arch, tset, n_samples=n_samples, seed=seed, exact=exact, encoding=encoding, chunk_size=chunk_size,
            chunks_per_step=chunks_per_step, max_configurations=max_configurations, precision=precision,
            progress=progress, devices=devices,
        )  # fmt: skip
    b = _choose_b(cp, tset, b, b_rank)
    res = diverse_runs(
        prior, arch, tset, train_config, n_runs=n_runs, chains=chains, rewards=(0.0, mu), seed=seed,
        encoding=encoding, progress=progress,
    )  # fmt: skip
    settings, total_not = _settings(res, b, chains, n_runs, confidence, method)
    extra: dict[str, Any] = {
        **train_records.set_extra(tset),
        "b": None if b is None else boolean.to_hex(b),
        "runs": n_runs,
        "chains": chains,
        "not_converged": total_not,
        "trained": {f"{st['reward']:g}": st["trained"] for st in settings},
        "settings": settings,
        "train_seconds": res.seconds,
        "summary": _summary(settings),
    }
    estimates = []
    if cp is not None:
        extra.update(train_records.prior_extra(cp, confidence, method))
        if b is not None and cp.fit:
            extra["prior_b"] = cp.p(b)
        estimates.append(train_records.prior_fit_estimate(cp, confidence, method))
    leading = train_records.experiment_config(
        prior, arch, tset, train_config, encoding=encoding, precision=precision, method=method,
        confidence=confidence, n_samples=n_samples, n_runs=n_runs,
    )  # fmt: skip
    config = {
        **leading,
        "chains": chains,
        "reward": mu,
        "b_rank": b_rank,
        "exact": exact,
        "train_chunk_size": chains,
    }
    return train_records.make_result(
        KIND,
        config,
        seed,
        chunk_size,
        cp,
        estimates,
        time.perf_counter() - start,
        extra,
        devices=1 if cp is None else devices,
    )


def format_diverse(result: CountResult) -> str:
    """Terminal summary: distinct functions against runs, and first hits of B."""
    e = result.extra
    lines = [
        f"diverse: target {e['target']} on S = {len(e['train_points'])} points; {report.arch_name(result.config)}; "
        f"{e['chains']} chains x {e['runs']} runs; {e['not_converged']} runs did not fit S in all",
    ]
    if e.get("prior_fit") is not None:  # a field of the payload, None when no conditional prior was computed
        prior_b = f", P_prior(B|S) = {fmt_prob(e['prior_b'])}" if e.get("prior_b") is not None else ""
        lines.append(f"prior: {e['prior_fit']:,} of {e['prior_samples']:,} samples fit S; B = {e['b']}{prior_b}")
    header = ["run"] + [f"distinct (mu={st['reward']:g})" for st in e["settings"]]
    if e["b"] is not None:
        header += [f"chains with B (mu={st['reward']:g})" for st in e["settings"]]
    rows = [header]
    n = e["runs"]
    shown = sorted({1, 2, 3, 5, 10, 20, 50, 100, 200, 500, n} & set(range(1, n + 1)))
    for k in shown:
        row = [str(k)] + [f"{st['distinct_mean'][k - 1]:.2f} +- {st['distinct_sd'][k - 1]:.2f}" for st in e["settings"]]
        if e["b"] is not None:
            row += [str(st["found_b_by_run"][k - 1]) for st in e["settings"]]
        rows.append(row)
    lines += report.text_table(rows)
    for st in e["settings"]:
        lines.append(
            f"mu={st['reward']:g}: {st['distinct_pooled']} distinct functions pooled over chains; "
            f"{st['not_converged']} runs did not fit S"
            + (f"; B found in {st['found_b']} of {e['chains']} chains, median first run {st['first_hit_median']}"
               if e["b"] is not None else "")
        )  # fmt: skip
    return "\n".join(lines)
