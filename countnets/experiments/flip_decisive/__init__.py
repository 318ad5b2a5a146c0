"""``countnets experiment flip-decisive``: a pre-registered test of prior odds against the pressure to flip them.

DESIGN section 3b ("Making the flip test decisive"), issue 16. Two steps:

1. **Plan** (:func:`plan_pairs`, in :mod:`.plan`; before any training): ``K >= 30`` independent pairs.
   Pair i has its own target ``f*_i`` (a uniformly random truth table from
   ``numpy.random.default_rng([seed, i])``), its own training set ``S_i`` (``m`` random
   points, :func:`countnets.train.training.training_set` with seed ``seed * 1000 + i``), its
   own conditional-prior seed and its own training seed (``2 * (seed * 1000 + i) + 1``,
   so no initialisation is shared with another pair or with the prior samples that
   chose the pair). ``A_i`` is the most probable function under ``P_prior(. | S_i)``;
   ``B_i`` the function fitting ``S_i``, seen at least ``min_count`` times, whose
   ``ln O = ln(n_A / n_B)`` is nearest the pair's target value
   ``lo + (hi - lo) (i + 1/2) / K`` (spreading ln O evenly over ``[lo, hi]``, by default
   0..10 nats). The Hamming distance of A and B (off S: both agree on S) is recorded.
   :func:`write_plan` writes the pair list and :data:`PRIMARY_ANALYSIS` as JSON.
   **Rare B** (``rare_b=True``): when plain Monte Carlo cannot fill a slot (ln O near 10
   needs about ``3 e^10 / P(A | S)`` samples fitting S), B is proposed as A with ``k``
   off-S bits flipped, and ``ln O = ln P(A) - ln P(B)`` (both fit S, so
   ``P(A | S) / P(B | S) = P(A) / P(B)``) with ``P(A)`` from the same Monte Carlo pass and
   ``P(B)`` over the whole cube from multilevel splitting
   (:func:`countnets.rare.splitting.estimate_rare`); see :func:`rare_log_odds`.
2. **Run** (:func:`flip_decisive`): per pair, training under the pressure
   ``L_S + lambda l_B`` for every lambda of a log-spaced grid, with ``stop_on_fit=False``
   so the pressure acts for the whole run (every network gets ``max_steps`` updates);
   the same ``runs`` initialisations at every lambda of a pair. ``lambda*`` is the
   crossing of 1/2 by the isotonic fit of ``q = n_B / (n_A + n_B)`` in ``log lambda``,
   with a percentile bootstrap interval over initialisations
   (:func:`countnets.experiments.flip_decisive.censored.bootstrap_lambda_star`); right censored (never flipped,
   ``lambda* > max``) or left censored (``lambda* <= min``), never dropped. Plain SGD
   is primary; Adam, if asked for, is reported apart. The tilted prior's ``lambda*``
   comes from SMC tempering (:func:`countnets.experiments.flip_decisive.smc.tilt_lambda_star`), with its ESS.

The primary analysis (:data:`PRIMARY_ANALYSIS`, :func:`decisive_summary`) is fixed here
before any data.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from typing import Any

import jax.numpy as jnp
import numpy as np

from countnets._errors import CountnetsError
from countnets.experiments.flip_decisive import censored, smc
from countnets.experiments.flip_decisive.plan import (
    KIND,
    MC_ESTIMATOR,
    PAIR_FIELDS,
    PLAN_FIELDS,
    PLAN_VERSION,
    PRIMARY_ANALYSIS,
    check_plan,
    pair_training_set,
    plan_pairs,
    read_plan,
    read_plan_file,
    write_plan,
)
from countnets.experiments.flip_decisive.rare_pairs import RARE_ESTIMATOR, RareOptions, rare_candidates, rare_log_odds
from countnets.network import boolean
from countnets.results import CountResult, report
from countnets.stats import statistics
from countnets.train import training_results as train_records
from countnets.train.training import TrainConfig, TrainingSet, pressure_penalty, train_networks
from countnets.train.training_results import DEFAULT_EXPERIMENT_CHUNK, MIN_EVALUABLE_ESS

__all__ = [
    "KIND",
    "PLAN_VERSION",
    "PRIMARY_ANALYSIS",
    "DEFAULT_LAMBDAS",
    "MC_ESTIMATOR",
    "RARE_ESTIMATOR",
    "RareOptions",
    "plan_pairs",
    "rare_candidates",
    "rare_log_odds",
    "write_plan",
    "read_plan",
    "read_plan_file",
    "check_plan",
    "pair_training_set",
    "train_lambda_star",
    "decisive_summary",
    "flip_decisive",
    "format_flip_decisive",
    "PLAN_FIELDS",
    "PAIR_FIELDS",
]

DEFAULT_LAMBDAS = tuple(float(v) for v in 10.0 ** (-4.0 + np.arange(27) / 6))
"""The pressure grid: 27 values log-spaced over 1e-4..2.154 (6 per decade).

It stops at ``lr * lambda ~ 1`` for SGD's default ``lr = 0.5``: plain SGD stops fitting S
from about ``lr * lambda = 5`` (``results/design/flip_decisive_lr_check.json``), and with
the pressure on for the whole run pairs cross far below 1.
"""


# --------------------------------------------------------------------------- training


def train_lambda_star(
    prior: Any,
    arch: Any,
    tset: TrainingSet,
    config: TrainConfig,
    a: int,
    b: int,
    lambdas: Sequence[float],
    *,
    n_runs: int,
    seed: int,
    n_boot: int = 1000,
    confidence: float = 0.95,
    check_steps: int | None = None,
    encoding: str = "01",
    chunk_size: int = DEFAULT_EXPERIMENT_CHUNK,
    devices: int | None = None,
) -> dict[str, Any]:
    """Training's ``lambda*`` for one pair: runs at lambda = 0 and at every lambda of the grid.

    Every setting trains the same ``n_runs`` initialisations (prior samples of ``seed``)
    for exactly ``config.max_steps`` updates (``stop_on_fit`` is forced off, so the
    pressure acts for the whole run). Outcome of a run: not fitting S at the end, A, B
    or another function. Returns :func:`countnets.experiments.flip_decisive.censored.bootstrap_lambda_star` over the
    positive grid, plus ``lambda0`` (counts at lambda = 0 and training's own
    ``log_odds`` ``ln(n_A / n_B)``, ``inf``/``nan`` when a count is 0) and ``seconds``.

    Convergence check: with ``check_steps`` (< ``max_steps``) the same runs are trained
    again for ``check_steps`` updates only, and ``unsettled`` gives, per setting (lambda
    = 0 first), the fraction of runs whose function at ``check_steps`` differs from the
    one at ``max_steps``: a run still changing function late under pressure has not
    converged, so a budget with large ``unsettled`` at the grid values near lambda* is
    too short.
    """
    cfg = dataclasses.replace(config, stop_on_fit=False)
    lams = [0.0] + [float(v) for v in lambdas]
    off = np.array(tset.off_points())
    labels = np.repeat(boolean.int_to_table(b, tset.n)[off][None], len(lams), axis=0)
    args = (jnp.asarray(np.array(lams, np.float32)), jnp.asarray(labels))
    runs = train_networks(
        prior, arch, tset, cfg, n_runs=n_runs, seed=seed, encoding=encoding, chunk_size=chunk_size,
        penalty=pressure_penalty(tset, cfg), setting_args=args, devices=devices,
    )  # fmt: skip
    out = censored.outcomes(runs.tables, runs.fit, a, b)
    res = censored.bootstrap_lambda_star(lams[1:], out[1:].astype(int), n_boot=n_boot, confidence=confidence, seed=seed)
    counts0 = censored.outcome_counts(out[0])
    na0, nb0 = counts0["a"], counts0["b"]
    log_odds0 = math.log(na0 / nb0) if na0 and nb0 else (math.inf if na0 else math.nan)
    res["lambda0"] = {**counts0, "log_odds": log_odds0}
    res["optimizer"] = cfg.optimizer
    res["seconds"] = runs.seconds
    if check_steps is not None:
        if not 0 < int(check_steps) < cfg.max_steps:
            raise CountnetsError(f"check_steps must be in 1..max_steps-1 = {cfg.max_steps - 1}, got {check_steps}")
        early = train_networks(
            prior, arch, tset, dataclasses.replace(cfg, max_steps=int(check_steps)), n_runs=n_runs, seed=seed,
            encoding=encoding, chunk_size=chunk_size, penalty=pressure_penalty(tset, cfg), setting_args=args,
            devices=devices,
        )  # fmt: skip
        res["check_steps"] = int(check_steps)
        res["unsettled"] = (early.tables != runs.tables).mean(axis=1).astype(float).tolist()
    return res


# --------------------------------------------------------------------------- analysis


def _bounds(star: dict[str, Any]) -> tuple[float, float] | None:
    est = float(star["estimate"])
    if math.isnan(est):
        return None
    if star.get("censored") in ("right", "left"):
        return float(star["bound"][0]), float(star["bound"][1])
    return est, est


def _analyse(x: list[float], stars: list[dict[str, Any]], covariate: list[float] | None, confidence: float) -> dict:
    rows = [(xi, _bounds(s), None if covariate is None else covariate[k])
            for k, (xi, s) in enumerate(zip(x, stars, strict=True)) if math.isfinite(xi)]  # fmt: skip
    rows = [r for r in rows if r[1] is not None]
    out: dict[str, Any] = {"pairs_used": len(rows), "regression": None, "kendall": None}
    if len(rows) < 5:
        out["note"] = "fewer than 5 pairs with a defined ln O and lambda*: not evaluable"
        return out
    xs = [r[0] for r in rows]
    lo = [r[1][0] for r in rows]
    hi = [r[1][1] for r in rows]
    cov = [[r[2] for r in rows]] if covariate is not None else ()
    try:
        out["regression"] = censored.interval_regression(lo, hi, xs, cov, confidence=confidence)
    except CountnetsError as err:
        out["note"] = str(err)
    out["kendall"] = censored.interval_kendall(xs, lo, hi, confidence=confidence)
    return out


def decisive_summary(pairs: Sequence[dict[str, Any]], *, confidence: float = 0.95) -> dict[str, Any]:
    """The pre-registered analysis (:data:`PRIMARY_ANALYSIS`) of the pair rows of a run.

    Each row needs ``log_odds``, ``hamming``, ``off_points`` and ``lambda_star`` (a dict
    by set name, ``"sgd"``, ``"adam"``, ``"tilt"``, each as
    :func:`countnets.experiments.flip_decisive.censored.bootstrap_lambda_star` returns or, for ``"tilt"``, with an
    ``evaluable`` flag). Returns per set the interval regression and Kendall tau, the
    Holm-adjusted primary p-values, and the secondary analyses.
    """
    rows = list(pairs)
    x = [float(p["log_odds"]) for p in rows]
    out: dict[str, Any] = {"pairs": len(rows), "confidence": confidence, "sets": {}}
    for name in ("sgd", "tilt", "adam"):
        have = [p for p in rows if name in p["lambda_star"]]
        if not have:
            continue
        ok = [p for p in have if p["lambda_star"][name].get("evaluable", True)]
        res = _analyse([float(p["log_odds"]) for p in ok], [p["lambda_star"][name] for p in ok], None, confidence)
        res["pairs_not_evaluable"] = len(have) - len(ok)
        res["hamming_covariate"] = _analyse(
            [float(p["log_odds"]) for p in ok], [p["lambda_star"][name] for p in ok],
            [p["hamming"] / p["off_points"] for p in ok], confidence,
        )["regression"]  # fmt: skip
        out["sets"][name] = res
    primary = [n for n in PRIMARY_ANALYSIS["primary_sets"] if out["sets"].get(n, {}).get("regression")]
    if primary:
        adj = statistics.holm([out["sets"][n]["regression"]["p"] for n in primary])
        out["holm"] = {n: float(v) for n, v in zip(primary, adj, strict=True)}
    if any("sgd" in p["lambda_star"] for p in rows):
        x0 = [float(p["lambda_star"]["sgd"]["lambda0"]["log_odds"]) for p in rows if "sgd" in p["lambda_star"]]
        out["train_odds_lambda0"] = _analyse(x0, [p["lambda_star"]["sgd"] for p in rows if "sgd" in p["lambda_star"]],
                                             None, confidence)  # fmt: skip
    del x
    return out


# --------------------------------------------------------------------------- run


def flip_decisive(
    plan: dict[str, Any],
    prior: Any,
    arch: Any,
    train_config: TrainConfig,
    *,
    optimizers: Sequence[str] = ("sgd",),
    lambdas: Sequence[float] = DEFAULT_LAMBDAS,
    tilt_lambdas: Sequence[float] | None = None,
    tilt_loss: str | None = None,
    n_runs: int,
    n_boot: int = 1000,
    replicas: int = 8,
    n_particles: int = 1000,
    n_moves: int = 10,
    confidence: float = 0.95,
    encoding: str = "01",
    chunk_size: int = DEFAULT_EXPERIMENT_CHUNK,
    devices: int | None = None,
    pair_limit: int | None = None,
    check_steps: int | None = None,
) -> CountResult:
    """Run a written plan: per pair, training's ``lambda*`` per optimiser and the SMC tilted prior's.

    ``train_config`` gives the loss, step budget and learning rate (``None``: the
    optimiser's default) of every optimiser in ``optimizers`` (``"sgd"`` first: it is
    primary). ``tilt_lambdas`` is the SMC grid (default ``lambdas``), ``tilt_loss`` its
    ``l_B`` (default the training loss; ``"zero-one"`` gives the closed form
    ``lambda* = ln O``), with ``replicas`` runs of ``n_particles``. ``pair_limit`` runs the
    first pairs only (a smoke test; the summary says how many); ``check_steps`` adds
    :func:`train_lambda_star`'s convergence check. Returns
    ``kind="flip-decisive"`` whose ``extra`` holds the plan, the pair rows and
    :func:`decisive_summary`.

    Raises:
      CountnetsError: when ``prior``/``arch`` are not the plan's, or SGD is not among
        ``optimizers``.
    """
    if plan.get("arch") != arch.config() or plan.get("prior") != prior.config():
        raise CountnetsError("the architecture and prior must be the plan's (its 'arch' and 'prior' fields)")
    if "sgd" not in optimizers:
        raise CountnetsError(f"plain SGD is the primary optimiser and must be run, got {list(optimizers)}")
    lams = sorted(float(v) for v in lambdas)
    tlams = lams if tilt_lambdas is None else sorted(float(v) for v in tilt_lambdas)
    tloss = tilt_loss or train_config.loss
    start = time.perf_counter()
    chosen = plan["pairs"][: pair_limit or None]
    rows = []
    for p in chosen:
        tset = TrainingSet(arch.n, int(p["target"], 16), tuple(p["train_points"]))
        a, b = int(p["a"], 16), int(p["b"], 16)
        stars: dict[str, Any] = {}
        for opt in optimizers:
            cfg = dataclasses.replace(train_config, optimizer=opt, learning_rate=train_config.learning_rate
                                      if train_config.optimizer == opt else None)  # fmt: skip
            stars[opt] = train_lambda_star(
                prior, arch, tset, cfg, a, b, lams, n_runs=n_runs, seed=int(p["train_seed"]), n_boot=n_boot,
                confidence=confidence, check_steps=check_steps, encoding=encoding, chunk_size=chunk_size,
                devices=devices,
            )  # fmt: skip
        model = smc.network_model(prior, arch, tset, a, b, loss=tloss, margin=train_config.margin,
                                  encoding=encoding, precision=train_config.precision)  # fmt: skip
        stars["tilt"] = smc.tilt_lambda_star(
            *model, tlams, replicas=replicas, n_particles=n_particles, n_moves=n_moves,
            seed=int(p["train_seed"]), confidence=confidence, min_ess=MIN_EVALUABLE_ESS,
        )  # fmt: skip
        keys = ("slot", "target", "train_points", "a", "b", "prior_counts", "log_odds", "log_odds_ci", "hamming",
                "off_points")  # fmt: skip
        estimator = p.get("log_odds_estimator", MC_ESTIMATOR)
        rows.append({**{k: p[k] for k in keys}, "log_odds_estimator": estimator, "lambda_star": stars})
    summary = decisive_summary(rows, confidence=confidence)
    summary["pairs_planned"] = len(plan["pairs"])
    extra = {"plan": plan, "pairs": rows, "summary": summary, "lambdas": lams, "tilt_lambdas": tlams,
             "tilt_loss": tloss, "optimizers": list(optimizers)}  # fmt: skip
    config = {
        "arch": arch.config(), "prior": prior.config(), "encoding": encoding, "precision": train_config.precision,
        "confidence": confidence, "training": train_config.config(), "optimizers": list(optimizers), "runs": n_runs,
        "lambdas": lams, "tilt_lambdas": tlams, "tilt_loss": tloss, "bootstrap": n_boot, "replicas": replicas,
        "particles": n_particles, "moves": n_moves, "pair_limit": pair_limit, "check_steps": check_steps,
    }  # fmt: skip
    return train_records.make_result(
        KIND, config, int(plan["seed"]), chunk_size, None, [], time.perf_counter() - start, extra, devices=devices
    )


def _fmt(v: Any) -> str:
    v = float(v) if not isinstance(v, str) else float(v)
    return "inf" if math.isinf(v) else ("-" if math.isnan(v) else f"{v:.3g}")


def _star_text(star: dict[str, Any]) -> str:
    if not star.get("evaluable", True):
        return "not evaluable"
    lo, hi = star["interval"]
    if star.get("censored") == "right":
        return f"> {_fmt(star['bound'][0])} (censored) [{_fmt(lo)}, {_fmt(hi)}]"
    if star.get("censored") == "left":
        return f"<= {_fmt(star['bound'][1])} (censored) [{_fmt(lo)}, {_fmt(hi)}]"
    return f"{_fmt(star['estimate'])} [{_fmt(lo)}, {_fmt(hi)}]"


def format_flip_decisive(result: CountResult) -> str:
    """Terminal summary: per pair ln O and each lambda* with its interval; then the pre-registered analysis.

    A version-2 (integrated-pressure) result is :func:`.integrated.format_integrated`'s.
    """
    if "analysis" in result.extra:
        from countnets.experiments.flip_decisive.integrated import format_integrated

        return format_integrated(result)
    e = result.extra
    sets = ["sgd", *[o for o in e["optimizers"] if o != "sgd"], "tilt"]
    rows = [["slot", "A", "B", "ln O", "d_H", *[f"lambda* {s}" for s in sets], "tilt min ESS"]]
    for p in e["pairs"]:
        st = p["lambda_star"]
        rows.append([str(p["slot"]), p["a"], p["b"], _fmt(p["log_odds"]), str(p["hamming"]),
                     *[_star_text(st[s]) for s in sets], _fmt(st["tilt"]["min_ess"])])  # fmt: skip
    lines = [f"flip-decisive: {len(e['pairs'])} of {e['summary']['pairs_planned']} planned pairs run"]
    lines += report.text_table(rows)
    for name, res in e["summary"]["sets"].items():
        reg, ken = res.get("regression"), res.get("kendall")
        if not reg:
            lines.append(f"{name}: {res.get('note', 'not evaluable')}")
            continue
        ci = reg["slope_ci"]
        stars = [p["lambda_star"][name] for p in e["pairs"] if p["lambda_star"][name].get("evaluable", True)]
        left, right = (sum(s.get("censored") == c for s in stars) for c in ("left", "right"))
        lines.append(
            f"{name}: slope of lambda* on ln O {reg['slope']:.3g} [{_fmt(ci[0])}, {_fmt(ci[1])}] (p = {reg['p']:.3g}; "
            f"{reg['exact']} exact, {left} left-, {right} right-censored); Kendall tau "
            f"{ken['tau']:.3f} [{ken['ci'][0]:.3f}, {ken['ci'][1]:.3f}] (p = {ken['p']:.3g}); "
            f"{res['pairs_not_evaluable']} not evaluable"
        )
    for name, p in (e["summary"].get("holm") or {}).items():
        lines.append(f"Holm-adjusted p ({name}): {p:.3g}")
    return "\n".join(lines)
