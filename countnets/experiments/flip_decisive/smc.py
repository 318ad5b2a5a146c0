"""The prior conditioned on S and tilted by ``exp(-lambda l_B)``, by SMC tempering (DESIGN sections 3b and 4).

Target at pressure lambda: ``pi_lambda(theta) ∝ p(theta) 1[theta fits S] exp(-lambda l_B(theta))``
with ``p`` a Gaussian prior ``N(0, diag(s^2))``. Self-normalised importance sampling
from ``p(. | S)`` collapses (ESS near 1) once lambda is large; SMC tempering keeps it
usable:

1. ``N`` particles from ``p(. | S)`` by rejection sampling (``lambda_0 = 0``).
2. From ``lambda_t``, the next ``lambda_{t+1}`` is the next grid value if the
   incremental weights ``w_i = exp(-(lambda_{t+1} - lambda_t) l_B(theta_i))`` keep
   ``ESS = (sum w)^2 / sum w^2 >= ess_fraction N``, otherwise the value (by bisection)
   where the ESS equals ``ess_fraction N``. So every grid value is a step, and no step
   has an ESS below ``ess_fraction N``.
3. At every step: the weighted estimates ``P(A)``, ``P(B)`` (before resampling), the
   ESS, the running ``log Z(lambda) = log E_{p(.|S)}[exp(-lambda l_B)]`` (sum of the logs
   of the mean incremental weights); then systematic resampling and ``n_moves``
   preconditioned Crank-Nicolson moves ``theta' = sqrt(1 - beta^2) theta + beta s xi``
   (``xi ~ N(0, I)``), accepted with probability
   ``1[theta' fits S] min(1, exp(-lambda (l_B(theta') - l_B(theta))))``: pCN is reversible
   for ``p``, so the move leaves ``pi_lambda`` invariant. ``beta`` is adapted between
   steps toward an acceptance rate of 0.2 .. 0.5 (from the last step's rate only).

``R`` independent replicas (:func:`tilt_lambda_star`) give the interval from their
spread (DESIGN section 4).

**Closed form (0-1 tilt).** With the function-level loss ``l_B(theta) = 1[f_theta != B]``
(for networks fitting S, "differs from B" is "differs off S"),
``pi_lambda(f) = P(f | S) exp(-lambda 1[f != B]) / Z(lambda)``, so
``P_lambda(B) / P_lambda(A) = exp(lambda) P(B | S) / P(A | S) = exp(lambda) / O`` and
``lambda*_Bayes = ln O`` exactly, with ``P_lambda(B) = P(B|S) e^lambda / (P(B|S) e^lambda +
1 - P(B|S))`` and ``Z(lambda) = P(B|S) + (1 - P(B|S)) e^-lambda``. With the Hamming loss
``l_B = d_H(f, B) / |off S|`` the same argument gives ``lambda* = ln O |off S| / d_H(A, B)``.
Both are tested.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

from countnets._errors import CountnetsError, check_positive_int
from countnets.experiments.flip_decisive.censored import isotonic_crossing
from countnets.network import boolean
from countnets.network.architectures import DEFAULT_PRECISION, apply_flat_batch
from countnets.train.trainer import TrainingSet, off_set_loss

__all__ = ["TILT_LOSSES", "SMCRun", "smc_tempering", "network_model", "tilt_lambda_star"]

TILT_LOSSES = ("logistic", "hinge", "zero-one", "hamming")


@dataclasses.dataclass(frozen=True)
class SMCRun:
    """One SMC tempering run, read at the requested grid.

    Attributes:
      grid: the requested lambdas (increasing, > 0).
      p_a, p_b: ``P_lambda(A)``, ``P_lambda(B)`` at each grid value.
      ess: the ESS of the incremental weights of the step that reached each grid value.
      min_ess: the least ESS over all steps up to each grid value.
      log_z: ``log Z(lambda)`` at each grid value.
      schedule: every lambda the run stepped to; ``step_ess`` and ``acceptance`` per step.
      n_particles: N; ``prior_draws``: prior samples drawn to get N fitting S.
    """

    grid: tuple[float, ...]
    p_a: np.ndarray
    p_b: np.ndarray
    ess: np.ndarray
    min_ess: np.ndarray
    log_z: np.ndarray
    schedule: tuple[float, ...]
    step_ess: tuple[float, ...]
    acceptance: tuple[float, ...]
    n_particles: int
    prior_draws: int


def _ess(logw: np.ndarray) -> float:
    w = np.exp(logw - logw.max())
    return float(w.sum() ** 2 / (w * w).sum())


@functools.lru_cache(maxsize=32)
def _compiled(evaluate: Callable, scales: tuple[float, ...], n_moves: int) -> tuple[Callable, Callable]:
    """The jitted ``evaluate`` and the jitted pCN move loop, built once per (evaluate, scales, n_moves)."""
    ev = jax.jit(evaluate)
    s = jnp.asarray(np.array(scales, np.float32))

    @jax.jit
    def moves(key, theta, loss, lam, beta):
        def body(i, carry):
            theta, loss, acc = carry
            k1, k2 = jax.random.split(jax.random.fold_in(key, i))
            prop = jnp.sqrt(1 - beta**2) * theta + beta * s[None] * jax.random.normal(k1, theta.shape)
            l2, fits, _, _ = evaluate(prop)
            log_u = jnp.log(jax.random.uniform(k2, loss.shape))
            ok = fits & (log_u < -lam * (l2 - loss))
            return jnp.where(ok[:, None], prop, theta), jnp.where(ok, l2, loss), acc + ok.astype(jnp.float32)

        return jax.lax.fori_loop(0, n_moves, body, (theta, loss, jnp.zeros(loss.shape, jnp.float32)))

    return ev, moves


def _check_smc_args(grid: Sequence[float], n_particles: int, ess_fraction: float) -> tuple[list[float], int]:
    """The grid as floats (positive, strictly increasing) and the particle count N, checked."""
    lams = [float(v) for v in grid]
    if not lams or lams[0] <= 0 or any(b <= a for a, b in zip(lams, lams[1:], strict=False)):
        raise CountnetsError(f"the SMC grid must be positive and strictly increasing, got {lams}")
    N = check_positive_int("n_particles", n_particles)
    if not 0 < ess_fraction < 1:
        raise CountnetsError(f"ess_fraction must be in (0, 1), got {ess_fraction}")
    return lams, N


def _sample_fitting(key: Any, draw_prior: Callable, ev: Callable, N: int) -> tuple[Any, int]:
    """``N`` particles from ``p(. | S)`` by rejection sampling, and the number of prior samples drawn."""
    kept, draws, i = [], 0, 0
    while sum(len(k) for k in kept) < N:
        batch = max(N, 1024)
        theta = jnp.asarray(draw_prior(jax.random.fold_in(key, 10_000 + i), batch))
        _, fits, _, _ = ev(theta)
        kept.append(np.asarray(theta)[np.asarray(fits)])
        draws += batch
        i += 1
        if i > 10_000:
            raise CountnetsError("fewer than n_particles prior samples fit S after 10,000 batches")
    return jnp.asarray(np.concatenate(kept)[:N]), draws


def _ess_at(new: float, lam: float, lf: np.ndarray) -> float:
    """The ESS of the incremental weights of a step from ``lam`` to ``new`` (0 when no loss is finite)."""
    return _ess(-(new - lam) * lf) if np.isfinite(lf).any() else 0.0


def _next_lambda(lam: float, target: float, lf: np.ndarray, ess_min: float) -> float:
    """The next lambda from ``lam``: ``target`` if its ESS stays >= ``ess_min``, else where the ESS equals it."""
    new = target
    if _ess_at(target, lam, lf) < ess_min:
        lo_l, hi_l = lam, target
        for _ in range(60):
            mid = 0.5 * (lo_l + hi_l)
            lo_l, hi_l = (mid, hi_l) if _ess_at(mid, lam, lf) >= ess_min else (lo_l, mid)
        new = max(lo_l, lam + 1e-12 * max(1.0, target))
    return new


def _systematic_resample(rng: np.random.Generator, w: np.ndarray, N: int) -> np.ndarray:
    """Indices of ``N`` particles drawn by systematic resampling with normalised weights ``w`` (one uniform)."""
    u = (rng.random() + np.arange(N)) / N
    return np.minimum(np.searchsorted(np.cumsum(w), u), N - 1)


def _adapt_beta(beta: float, rate: float) -> float:
    """The pCN step size for the next step: larger above an acceptance rate of 0.5, smaller below 0.2."""
    return float(min(1.0, beta * 1.5) if rate > 0.5 else (beta / 1.5 if rate < 0.2 else beta))


def smc_tempering(
    key: Any,
    draw_prior: Callable[[Any, int], np.ndarray],
    scales: np.ndarray,
    evaluate: Callable[[Any], tuple[Any, Any, Any, Any]],
    grid: Sequence[float],
    *,
    n_particles: int = 1000,
    ess_fraction: float = 0.5,
    n_moves: int = 10,
    beta: float = 0.3,
) -> SMCRun:
    """Tempered SMC from ``p(. | S)`` to ``pi_lambda`` for every lambda of ``grid`` (see the module docstring).

    Args:
      key: a JAX key.
      draw_prior: ``draw_prior(key, m) -> (m, d)`` prior samples (host or device array).
      scales: the prior's per-coordinate standard deviations, ``(d,)``.
      evaluate: jittable ``theta (M, d) -> (loss, fits, is_a, is_b)``, each ``(M,)``.
      grid: increasing positive lambdas.
    """
    lams, N = _check_smc_args(grid, n_particles, ess_fraction)
    ev, moves = _compiled(evaluate, tuple(float(v) for v in np.asarray(scales).ravel()), int(n_moves))

    # 1. rejection sampling of p(. | S)
    theta, draws = _sample_fitting(key, draw_prior, ev, N)
    loss, _, is_a, is_b = (np.asarray(v) for v in ev(theta))
    lam, log_z, step = 0.0, 0.0, 0
    rng = np.random.default_rng(np.asarray(jax.random.randint(jax.random.fold_in(key, 99), (2,), 0, 2**30)).tolist())
    out = {k: [] for k in ("p_a", "p_b", "ess", "min_ess", "log_z")}
    schedule, step_ess, acceptance = [], [], []
    min_ess = float(N)
    for target in lams:
        while lam < target:
            lf = np.where(np.isfinite(loss), loss.astype(np.float64), np.inf)
            new = _next_lambda(lam, target, lf, ess_fraction * N)
            logw = -(new - lam) * lf
            w = np.exp(logw - logw.max())
            log_z += float(np.log(w.mean()) + logw.max())
            w /= w.sum()
            ess = _ess(logw)  # the bisection's own function, so ess >= ess_fraction N holds exactly
            min_ess = min(min_ess, ess)
            lam = new
            schedule.append(lam)
            step_ess.append(ess)
            if lam == target:
                out["p_a"].append(float(w[is_a].sum()))
                out["p_b"].append(float(w[is_b].sum()))
                out["ess"].append(ess)
                out["min_ess"].append(min_ess)
                out["log_z"].append(log_z)
            # systematic resampling, then invariant pCN moves at the new lambda
            idx = _systematic_resample(rng, w, N)
            theta = theta[jnp.asarray(idx)]
            th, lj, acc = moves(jax.random.fold_in(key, step), theta, jnp.asarray(loss[idx]), jnp.float32(lam),
                                jnp.float32(beta))  # fmt: skip
            theta = th
            rate = float(np.asarray(acc).mean()) / n_moves
            acceptance.append(rate)
            beta = _adapt_beta(beta, rate)
            loss, _, is_a, is_b = (np.asarray(v) for v in ev(theta))
            step += 1
            if step > 100_000:
                raise CountnetsError("SMC tempering took more than 100,000 steps")
    return SMCRun(
        grid=tuple(lams), p_a=np.array(out["p_a"]), p_b=np.array(out["p_b"]), ess=np.array(out["ess"]),
        min_ess=np.array(out["min_ess"]), log_z=np.array(out["log_z"]), schedule=tuple(schedule),
        step_ess=tuple(step_ess), acceptance=tuple(acceptance), n_particles=N, prior_draws=draws,
    )  # fmt: skip


def network_model(
    prior: Any,
    arch: Any,
    tset: TrainingSet,
    a: int,
    b: int,
    *,
    loss: str = "logistic",
    margin: float = 1.0,
    encoding: str = "01",
    precision: str = DEFAULT_PRECISION,
) -> tuple[Callable, np.ndarray, Callable]:
    """``(draw_prior, scales, evaluate)`` of :func:`smc_tempering` for networks of ``arch`` under a Gaussian ``prior``.

    ``loss``: ``"logistic"``/``"hinge"``, the training pressure's ``l_B`` (mean loss toward B's
    labels off S); ``"zero-one"``: ``1[f != B]``; ``"hamming"``: ``d_H(f, B) / |off S|``.
    A network *fits S* as in :meth:`TrainingSet.measure` (finite outputs on the cube).
    """
    if loss not in TILT_LOSSES:
        raise CountnetsError(f"unknown tilt loss {loss!r}; expected one of {', '.join(TILT_LOSSES)}")
    if not hasattr(prior, "scales"):
        raise CountnetsError(f"SMC tempering needs a Gaussian prior, got {type(prior).__name__}")
    layout = arch.layout()
    scales = np.asarray(prior.scales(layout))
    x = boolean.cube(arch.n, encoding)
    off = jnp.asarray(np.array(tset.off_points(), np.int32))
    b_off = jnp.asarray(boolean.int_to_table(b, tset.n)[np.array(tset.off_points())])
    a_words = jnp.asarray(boolean.int_to_words(a, tset.n))
    b_words = jnp.asarray(boolean.int_to_words(b, tset.n))

    def draw_prior(key, m):
        return prior.sample(key, 0, m, layout)

    def evaluate(theta):
        y = apply_flat_batch(arch, theta, x, precision=precision)
        keys = boolean.pack_table(boolean.truth_table(y))
        fits = tset.fits_packed(keys) & jnp.all(jnp.isfinite(y), axis=1)
        is_a = jnp.all(keys == a_words[None], axis=-1)
        is_b = jnp.all(keys == b_words[None], axis=-1)
        y_off = y[:, off]
        if loss == "zero-one":
            lb = 1.0 - is_b.astype(jnp.float32)
        elif loss == "hamming":
            lb = jnp.mean(((y_off > 0) != b_off[None]).astype(jnp.float32), axis=1)
        else:
            lb = off_set_loss(loss, y_off, jnp.broadcast_to(b_off[None], y_off.shape), margin)
        return jnp.where(jnp.isfinite(lb), lb, jnp.inf), fits, is_a, is_b

    return draw_prior, scales, evaluate


def tilt_lambda_star(
    draw_prior: Callable,
    scales: np.ndarray,
    evaluate: Callable,
    grid: Sequence[float],
    *,
    replicas: int = 8,
    n_particles: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    min_ess: float = 100.0,
    **kwargs: Any,
) -> dict[str, Any]:
    """``lambda*`` of the tilted prior from ``replicas`` independent SMC runs.

    Per replica, ``lambda*_r`` is :func:`countnets.experiments.flip_decisive.censored.isotonic_crossing` of
    ``P(B) / (P(A) + P(B))`` on the grid (log-linear interpolation of the crossing of
    1/2). The estimate is the crossing of the replicas' mean curves; the interval is the
    Student-t interval of the mean of ``ln lambda*_r`` (``exp`` of its ends) when every
    replica crosses inside the grid. When any never crosses it is right censored, with
    ``bound = interval = [least replica crossing (at most lambda_max), inf)``; when any
    crosses at once, left censored, ``[0, largest replica upper bound]``. ``evaluable`` is False when the least
    ESS up to the upper end of the interval, over replicas, is below ``min_ess`` (then
    neither estimate nor interval should be shown). Per grid value: mean ``p_a``,
    ``p_b``, ``log_z`` with their t-intervals, and the least ``ess`` over replicas.
    """
    R = check_positive_int("replicas", replicas)
    if R < 2:
        raise CountnetsError(f"an interval from the spread of replicas needs replicas >= 2, got {R}")
    runs = [smc_tempering(jax.random.fold_in(jax.random.PRNGKey(seed), r), draw_prior, scales, evaluate, grid,
                          n_particles=n_particles, **kwargs) for r in range(R)]  # fmt: skip
    lams = list(runs[0].grid)
    pa = np.stack([r.p_a for r in runs])
    pb = np.stack([r.p_b for r in runs])
    lz = np.stack([r.log_z for r in runs])
    t = float(stats.t.ppf(1 - (1 - confidence) / 2, R - 1))

    def mean_ci(v):
        m, se = v.mean(axis=0), v.std(axis=0, ddof=1) / math.sqrt(R)
        return m.tolist(), np.stack([m - t * se, m + t * se], axis=1).tolist()

    est, lo, hi = isotonic_crossing(lams, pa.mean(axis=0), pb.mean(axis=0))
    per = [isotonic_crossing(lams, r.p_a, r.p_b) for r in runs]
    ests = np.array([p[0] for p in per])
    censored = None
    if np.isinf(ests).any() or math.isinf(est):
        # some replica never crossed: lambda* is known only to lie above the least crossing seen
        finite = ests[np.isfinite(ests)]
        interval, censored = [float(min(finite.min(), lams[-1])) if finite.size else lams[-1], math.inf], "right"
    elif any(p[1] == 0.0 for p in per) or lo == 0.0:
        # some replica crossed at once: lambda* is known only to lie below the largest upper bound
        interval, censored = [0.0, float(max(p[2] for p in per))], "left"
    else:
        logs = np.log(ests)
        half = t * logs.std(ddof=1) / math.sqrt(R)
        interval = [math.exp(logs.mean() - half), math.exp(logs.mean() + half)]
    upto = [j for j, lam in enumerate(lams) if lam <= interval[1]] or list(range(len(lams)))
    least = float(min(r.min_ess[max(upto)] for r in runs))
    p_a, p_a_ci = mean_ci(pa)
    p_b, p_b_ci = mean_ci(pb)
    log_z, log_z_ci = mean_ci(lz)
    return {
        "estimate": est,
        "censored": censored,
        "bound": interval if censored else [est, est],
        "interval": interval,
        "replica_estimates": ests.tolist(),
        "evaluable": least >= min_ess,
        "min_ess": least,
        "min_evaluable_ess": min_ess,
        "grid": lams,
        "p_a": p_a, "p_a_ci": p_a_ci, "p_b": p_b, "p_b_ci": p_b_ci, "log_z": log_z, "log_z_ci": log_z_ci,
        "ess": np.stack([r.ess for r in runs]).min(axis=0).tolist(),
        "steps": [len(r.schedule) for r in runs],
        "acceptance_mean": float(np.mean([np.mean(r.acceptance) for r in runs])),
        "replicas": R,
        "n_particles": runs[0].n_particles,
        "prior_draws": int(sum(r.prior_draws for r in runs)),
    }  # fmt: skip
