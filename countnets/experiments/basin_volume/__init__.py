"""``countnets experiment basin``: the prior volume of the basins that training lands in (issue 30).

Networks are initialised from the prior and trained with optax on a training set S
(:func:`countnets.train.trainer.build_trainer`, the trainer of the other training
experiments); the first ``anchors`` runs that fit S are the anchors. For each anchor and
each tolerance of ``tolerances`` (fixed in docs/basin.md before any run):

* ``basin``: the prior mass of :func:`countnets.measures.basin.basin` (its truth table, mean KL to
  its outputs at most the tolerance), by splitting (:func:`countnets.estimate_rare`),
  ``{p, ci, reliable}``; a row that fails the reliability rule keeps its one-sided
  interval and ``reliable: false``;
* ``basin_star``: the same restricted to the star domain around the anchor (a grid of
  ``star_points`` on each segment);
* ``radial``: the star-domain radial estimate of Scherlis & Belrose
  (:func:`countnets.measures.basin.radial_estimate`), ``{estimate, spread}``;
* ``p_f``: the global volume ``P(f)`` of the anchor's function, by splitting (once per
  distinct function), and ``p_f_given_s = P(f) / P(fits S)`` with ``P(fits S)`` by plain
  Monte Carlo (``fit_samples``), its interval the ratio of the two intervals' ends, clipped
  at 1, whose coverage is at least ``1 - 2 (1 - confidence)`` (Bonferroni over the two;
  stored as its ``confidence``).

The summary says how many basins are determined, the median share of ``P(f)`` one basin
holds, and the median ratio radial / star basin over determined rows.
"""

from __future__ import annotations

import os
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from countnets import measures
from countnets._errors import CountnetsError, check_finite_float, check_positive_int
from countnets.defaults import BASIN_SPLITTING as DEFAULT_SPLITTING
from countnets.defaults import BASIN_TOLERANCES as TOLERANCES  # noqa: F401 (re-exported)
from countnets.engine import checkpoint as checkpoint_lib
from countnets.engine import sharding
from countnets.engine.driver import seed_key
from countnets.engine.estimators import estimate_mc
from countnets.measures import basin as basin_lib
from countnets.network import boolean
from countnets.network.priors import Gaussian
from countnets.rare import splitting
from countnets.results import CountResult, count_result, payloads
from countnets.train.trainer import TrainConfig, TrainingSet, build_trainer

__all__ = ["KIND", "TOLERANCES", "basin_experiment", "format_basin"]

KIND = "basin"


def _anchors(prior: Any, arch: Any, tset: TrainingSet, config: TrainConfig, *, runs: int, anchors: int, seed: int,
             encoding: str) -> tuple[np.ndarray, int]:  # fmt: skip
    """The final parameters of the first ``anchors`` of ``runs`` trained networks that fit S, and how many fit."""
    theta0 = jax.jit(lambda: prior.sample(seed_key(seed), 0, runs, arch.layout()))()
    train = jax.jit(build_trainer(arch, tset, config, encoding=encoding))
    out = train(theta0, jnp.ones(runs, bool), None)
    fit = np.asarray(out.fit) & ~np.asarray(out.nonfinite)
    chosen = np.flatnonzero(fit)[:anchors]
    if len(chosen) < anchors:
        raise CountnetsError(f"only {int(fit.sum())} of {runs} trained networks fit S; raise --runs to get {anchors} "
                             "anchors")  # fmt: skip
    return np.asarray(out.theta, np.float32)[chosen], int(fit.sum())


def _interval(result: CountResult) -> dict[str, Any]:
    e = result.estimates[0]
    return {"p": e.p, "ci": list(e.ci), "reliable": bool(result.extra.reliable), "method": e.method,
            "effective_replicas": result.extra.effective_replicas}  # fmt: skip


def basin_experiment(
    prior: Any,
    arch: Any,
    tset: TrainingSet,
    train_config: TrainConfig,
    *,
    anchors: int = 50,
    runs: int = 256,
    tolerances: tuple[float, ...] = TOLERANCES,
    star_points: int = basin_lib.DEFAULT_STAR_POINTS,
    directions: int = 256,
    fit_samples: int = 1 << 20,
    splitting_options: dict[str, Any] | None = None,
    seed: int = 0,
    encoding: str = "pm1",
    confidence: float = 0.95,
    progress: bool = False,
    checkpoint: str | os.PathLike | None = None,
    max_seconds: float | None = None,
) -> CountResult:
    """Basin volumes around trained anchors (module docstring); returns ``kind="basin"``.

    Args:
      prior: a Gaussian prior (the radial estimate integrates a Gaussian).
      arch: an MLP or ResMLP.
      tset, train_config: the training set and how to train (as ``train-vs-prior``).
      anchors: anchors, the first that fit S of ``runs`` trained networks.
      tolerances: the basins' tolerances (nats of mean KL), each > 0.
      star_points, directions: the star grid and the radial estimate's directions.
      fit_samples: plain Monte Carlo samples for ``P(fits S)``.
      splitting_options: keyword arguments of :func:`countnets.estimate_rare`
        (default: 48 replicas of 200 particles).
      seed: fixes the training initialisations and every estimate (row i uses seed + i).
      checkpoint: save the rows after each one; rerunning with the same arguments resumes
        after the last saved row (a row is the unit of progress; results are identical).
      max_seconds: stop before a row once the wall time has passed this.

    Raises:
      CountnetsError: for bad arguments, a prior that is not Gaussian, or too few runs fitting S.
    """
    anchors = check_positive_int("anchors", anchors)
    runs = check_positive_int("runs (trained networks)", runs)
    tols = _tolerances(tolerances)
    if type(prior) is not Gaussian:
        raise CountnetsError(f"the basin experiment needs a Gaussian prior (its radial baseline), got "
                             f"{type(prior).__name__}")  # fmt: skip
    split = {**DEFAULT_SPLITTING, **(splitting_options or {})}
    config = _config(prior, arch, tset, train_config, encoding=encoding, confidence=confidence, runs=runs,
                     anchors=anchors, tols=tols, star_points=star_points, directions=directions,
                     fit_samples=fit_samples, split=split)  # fmt: skip
    ckpt, state = _resume(checkpoint, seed, config)
    start = time.perf_counter()
    thetas, fitted = _anchors(prior, arch, tset, train_config, runs=runs, anchors=anchors, seed=seed,
                              encoding=encoding)  # fmt: skip
    fit_measure = measures.fits(tset.points, tset.target)
    p_s = estimate_mc(prior, arch, fit_measure, n_samples=fit_samples, seed=seed, encoding=encoding,
                      confidence=confidence).estimates[0]  # fmt: skip
    p_f_cache: dict[str, dict[str, Any]] = dict(state["p_f"])
    rows: list[dict[str, Any]] = list(state["rows"])
    stopped = "samples"
    for i, theta in enumerate(thetas):
        if all(_has_row(rows, i, t) for t in tols):
            continue
        f = basin_lib.anchor_table(arch, theta, encoding)
        p_f = _p_f(p_f_cache, prior, arch, f, seed=seed + i, encoding=encoding, confidence=confidence, split=split)
        given_s = _p_f_given_s(p_f, p_s, confidence)
        for tol in tols:
            if _has_row(rows, i, tol):
                continue
            if max_seconds is not None and time.perf_counter() - start >= max_seconds:
                stopped = "time"
                break
            row: dict[str, Any] = {"anchor": i, "function": boolean.to_hex(f), "tolerance": tol, "p_f": p_f,
                                   "p_f_given_s": given_s, "anchor_theta": [float(v) for v in theta]}  # fmt: skip
            row.update(_basin_estimates(prior, arch, theta, tol, star_points=star_points, directions=directions,
                                        split=split, seed=seed + i, encoding=encoding,
                                        confidence=confidence))  # fmt: skip
            rows.append(row)
            if ckpt is not None:
                _save_rows(ckpt, rows, p_f_cache, seconds=state["seconds"] + time.perf_counter() - start)
            if progress:
                print(f"anchor {i} tol {tol}: basin {row['basin']['p']:.3g} star {row['basin_star']['p']:.3g} "
                      f"radial {row['radial']['estimate']:.3g}", flush=True)  # fmt: skip
            if checkpoint_lib.interrupt_signal() is not None:
                stopped = "interrupted"
                break
        if stopped != "samples":
            break
    seconds = state["seconds"] + time.perf_counter() - start
    extra = {"rows": rows, "fitted_runs": fitted, "p_fits_s": {"p": p_s.p, "ci": list(p_s.ci)},
             "summary": _summary(rows)}  # fmt: skip
    return count_result(
        KIND, config, seed=seed, chunk_size=runs, samples=len(rows), stopped_by=stopped, seconds=seconds,
        device_count=sharding.resolve_devices(None)[0], extra=payloads.make(payloads.BasinPayload, extra),
    )  # fmt: skip


def _tolerances(tolerances: tuple[float, ...]) -> tuple[float, ...]:
    """The basins' tolerances, checked: at least one, each finite and > 0."""
    tols = tuple(check_finite_float("tolerance", t, positive=True) for t in tolerances)
    if not tols:
        raise CountnetsError("give at least one tolerance")
    return tols


def _config(prior: Any, arch: Any, tset: TrainingSet, train_config: TrainConfig, *, encoding: str, confidence: float,
            runs: int, anchors: int, tols: tuple[float, ...], star_points: int, directions: int, fit_samples: int,
            split: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    """The run's config: stored in the result and, with the seed, the checkpoint's fingerprint."""
    return {"arch": arch.config(), "prior": prior.config(), "encoding": encoding, "confidence": confidence,
            "training_set": tset.config(), "training": train_config.config(), "runs": runs, "anchors": anchors,
            "tolerances": list(tols), "star_points": star_points, "directions": directions,
            "fit_samples": fit_samples, "splitting": split}  # fmt: skip


def _resume(
    checkpoint: str | os.PathLike | None, seed: int, config: dict[str, Any]
) -> tuple[checkpoint_lib.Checkpoint | None, dict[str, Any]]:
    """The checkpoint (``None`` without one) and the state saved in it, or an empty state (no rows yet)."""
    ckpt, state = None, {"rows": [], "p_f": {}, "seconds": 0.0}
    if checkpoint is not None:
        ckpt = checkpoint_lib.Checkpoint(checkpoint, {"kind": KIND, "seed": seed, "config": config}, 0.0)
        saved = checkpoint_lib.load(ckpt)
        if saved is not None:
            state = dict(saved.state)
    return ckpt, state


def _has_row(rows: list[dict[str, Any]], anchor: int, tolerance: float) -> bool:
    """Whether ``rows`` already hold the row of (anchor, tolerance)."""
    return any(r["anchor"] == anchor and r["tolerance"] == tolerance for r in rows)


def _p_f(cache: dict[str, dict[str, Any]], prior: Any, arch: Any, f: int, *, seed: int, encoding: str,
         confidence: float, split: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    """P(f) by splitting, computed once per function: ``cache`` (keyed by f's hex) keeps it for later anchors."""
    key = boolean.to_hex(f)
    if key not in cache:
        r = splitting.estimate_rare(prior, arch, measures.implements(f), seed=seed, encoding=encoding,
                                    confidence=confidence, **split)  # fmt: skip
        cache[key] = _interval(r)
    return cache[key]


def _p_f_given_s(p_f: dict[str, Any], p_s: Any, confidence: float) -> dict[str, Any]:
    """``P(f) / P(fits S)`` clipped at 1, its interval the ratio of the two intervals' ends (Bonferroni confidence)."""
    return {"p": min(1.0, p_f["p"] / p_s.p) if p_s.p > 0 else None,
            "ci": [min(1.0, p_f["ci"][0] / p_s.ci[1]), min(1.0, p_f["ci"][1] / p_s.ci[0]) if p_s.ci[0] > 0
                   else 1.0], "confidence": 1 - 2 * (1 - confidence)}  # fmt: skip


def _basin_estimates(prior: Any, arch: Any, theta: np.ndarray, tol: float, *, star_points: int, directions: int,
                     split: dict[str, Any], seed: int, encoding: str, confidence: float) -> dict[str, Any]:  # fmt: skip
    """One row's ``basin`` and ``basin_star`` (splitting) and ``radial`` estimates around the anchor ``theta``."""
    out: dict[str, Any] = {}
    for name, star in (("basin", False), ("basin_star", True)):
        m = basin_lib.basin(theta, tolerance=tol, star=star, star_points=star_points)
        r = splitting.estimate_rare(prior, arch, m, seed=seed, encoding=encoding, confidence=confidence,
                                    **split)  # fmt: skip
        out[name] = _interval(r)
    radial = basin_lib.radial_estimate(prior, arch, basin_lib.basin(theta, tolerance=tol), theta,
                                       directions=directions, seed=seed, encoding=encoding)  # fmt: skip
    out["radial"] = {"estimate": radial["estimate"], "spread": radial["relative_spread"],
                     "hit_r_max": radial["hit_r_max"]}  # fmt: skip
    return out


def _save_rows(ckpt: checkpoint_lib.Checkpoint, rows: list[dict[str, Any]], p_f_cache: dict[str, dict[str, Any]], *,
               seconds: float) -> None:  # fmt: skip
    """Save the rows so far with ``seconds``, the run's seconds over every session so far.

    A resumed run starts from the saved ``seconds``, so a result's ``seconds`` covers every
    session (it held only the last session's before, the saved value never growing).
    """
    state = {"rows": rows, "p_f": p_f_cache, "seconds": seconds}
    checkpoint_lib.save(ckpt, next_chunk=len(rows), samples=len(rows), seconds=seconds, stopped_by="running",
                        state=state)  # fmt: skip


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Determined basins, the median share of P(f) in one basin, and the median radial / star-basin ratio."""
    determined = [r for r in rows if r["basin"]["reliable"]]
    both = [r for r in rows if r["basin_star"]["reliable"] and r["radial"]["estimate"] > 0]
    shares = [r["basin"]["p"] / r["p_f"]["p"] for r in determined if r["p_f"]["reliable"] and r["p_f"]["p"] > 0]
    ratios = [r["radial"]["estimate"] / r["basin_star"]["p"] for r in both]
    return {"rows": len(rows), "determined": len(determined),
            "determined_star": sum(r["basin_star"]["reliable"] for r in rows),
            "median_share_of_p_f": float(np.median(shares)) if shares else None,
            "median_radial_over_star": float(np.median(ratios)) if ratios else None}  # fmt: skip


def format_basin(result: CountResult) -> str:
    """A plain-text table: one line per (anchor, tolerance)."""
    lines = ["anchor  function  tolerance        basin  det        star  det      radial         P(f)"]
    for r in result.extra["rows"]:
        lines.append(f"{r['anchor']:>6}  {r['function']:>8}  {r['tolerance']:>9g}  {r['basin']['p']:>11.3e}  "
                     f"{'yes' if r['basin']['reliable'] else 'no':>3}  {r['basin_star']['p']:>10.3e}  "
                     f"{'yes' if r['basin_star']['reliable'] else 'no':>3}  {r['radial']['estimate']:>10.3e}  "
                     f"{r['p_f']['p']:>11.3e}")  # fmt: skip
    s = result.extra["summary"]
    lines.append(f"determined: {s['determined']} of {s['rows']} basins, {s['determined_star']} star basins; "
                 f"median share of P(f) in one basin {s['median_share_of_p_f']}; median radial / star "
                 f"{s['median_radial_over_star']}")  # fmt: skip
    return "\n".join(lines)
