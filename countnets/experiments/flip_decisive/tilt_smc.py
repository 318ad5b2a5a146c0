"""The SMC tilt with the Langevin target: the exact reference for MALA's ``lambda*`` (issue 29).

Target at pressure lambda: ``pi(theta) ∝ p(theta) exp(-beta L_S(theta) - lambda l_B(theta))``
(:mod:`.langevin`'s losses, summed over points), reached from the prior along a path: first
``beta`` from 0 to 1 at ``lambda = 0``, then ``lambda`` through the grid at ``beta = 1``.

Every step, on the shared pieces of the rare-event work:

1. the next point of the path is the whole way to the next target when the incremental
   weights ``w_i = exp(-d_beta E_S - d_lambda E_B)`` keep ``ESS >= ess_fraction N``, else the
   point where the ESS equals it (bisection on the device);
2. at a target, the weighted ``P(A)``, ``P(B)`` and the ESS are read;
3. systematic resampling (``blackjax.smc.resampling.systematic``);
4. ``sweeps`` Metropolis moves with the prior's pCN proposal
   (:func:`countnets.rare.moves.invariant_move`, reversible for the prior, so the acceptance
   is the likelihood ratio), the step adapted by :func:`countnets.rare.kernels.adapt_step`.

Replicas are independent (``vmap``; replica ``r`` draws chunk ``r`` of the prior); the
interval is the t-interval over replicas of ``ln lambda*_r``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from blackjax.smc.resampling import systematic

from countnets._errors import CountnetsError
from countnets.engine.driver import seed_key
from countnets.experiments.flip_decisive.censored import isotonic_crossing
from countnets.experiments.flip_decisive.langevin import pair_terms
from countnets.network.architectures import apply_flat_batch
from countnets.rare.kernels import adapt_step
from countnets.rare.moves import invariant_move, subkey
from countnets.stats import statistics
from countnets.train.trainer import TrainingSet

__all__ = ["tilt_energies", "smc_tilt", "tilt_lambda_star"]

TARGET_ACCEPTANCE = 0.3
BISECTIONS = 40
MAX_SUBSTEPS = 500  # path steps per target at most; a run that needs more has not reached it (not evaluable)


def tilt_energies(prior: Any, arch: Any, tset: TrainingSet, a: int, b: int, *, encoding: str, precision: str):
    """``energies(thetas) -> (E_S, E_B, is_a, is_b)`` for ``(particles, n_params)``: summed logistic losses, flags."""
    x, losses, flags = pair_terms(arch, tset, a, b, encoding=encoding)

    def energies(thetas):
        y = apply_flat_batch(arch, thetas, x, precision=precision)
        e_s, e_b = losses(y)
        is_a, is_b = flags(y)
        finite = jnp.isfinite(e_s) & jnp.isfinite(e_b)
        return jnp.where(finite, e_s, jnp.inf), jnp.where(finite, e_b, jnp.inf), is_a, is_b

    return energies


def _ess(logw):
    w = jnp.exp(logw - jnp.max(logw))
    return jnp.sum(w) ** 2 / jnp.sum(w**2)


def _segment(energies: Callable, move: Any, n: int, ess_fraction: float, sweeps: int):
    """``advance(key, state, start, end) -> (state, reading)``: adaptive steps from path point ``start`` to ``end``."""

    def increments(e_s, e_b, d):
        return jnp.where(jnp.isfinite(e_s), -d[0] * e_s - d[1] * e_b, -jnp.inf)

    def sweep(carry, k, point):
        theta, e_s, e_b, log_step, moved = carry
        prop = move.propose(k, theta, jnp.exp(log_step))
        p_s, p_b, _, _ = energies(prop)
        log_ratio = -point[0] * (p_s - e_s) - point[1] * (p_b - e_b)
        u = jax.random.uniform(jax.random.wrap_key_data(subkey(k, 7), impl="threefry2x32"), (n,))
        ok = jnp.isfinite(p_s) & (jnp.log(u) < log_ratio)
        theta = jnp.where(ok[:, None], prop, theta)
        e_s, e_b = jnp.where(ok, p_s, e_s), jnp.where(ok, p_b, e_b)
        rate = jnp.mean(ok.astype(jnp.float32))
        log_step = adapt_step(log_step, rate, TARGET_ACCEPTANCE, 0.5, move.min_step, move.max_step)
        return (theta, e_s, e_b, log_step, moved + rate), None

    def advance(key, state, start, end):
        def cond(c):
            return (c[1] < 1.0) & (c[3] < MAX_SUBSTEPS)

        def body(c):
            (theta, e_s, e_b, log_step, log_z, min_ess, steps, acc), t, _, count = c
            k = subkey(key, steps)
            full = increments(e_s, e_b, (end - start) * (1.0 - t))
            enough = _ess(full) >= ess_fraction * n

            def bisect(_, lohi):
                lo, hi = lohi
                mid = 0.5 * (lo + hi)
                good = _ess(increments(e_s, e_b, (end - start) * mid)) >= ess_fraction * n
                return jnp.where(good, mid, lo), jnp.where(good, hi, mid)

            frac, _ = jax.lax.fori_loop(0, BISECTIONS, bisect, (jnp.float32(0.0), 1.0 - t))
            dt = jnp.where(enough, 1.0 - t, jnp.maximum(frac, 1e-6))
            logw = increments(e_s, e_b, (end - start) * dt)
            ess = _ess(logw)
            top = jnp.max(logw)
            w = jnp.exp(logw - top)
            log_z = log_z + top + jnp.log(jnp.mean(w))
            weights = w / jnp.sum(w)
            _, _, is_a, is_b = energies(theta)
            reading = jnp.stack(
                [jnp.sum(weights * is_a.astype(jnp.float32)), jnp.sum(weights * is_b.astype(jnp.float32)), ess]
            )
            idx = systematic(jax.random.wrap_key_data(subkey(k, 1), impl="threefry2x32"), weights, n)
            point = start + (end - start) * (t + dt)
            carry = (theta[idx], e_s[idx], e_b[idx], log_step, jnp.float32(0.0))
            carry, _ = jax.lax.scan(lambda cc, j: sweep(cc, subkey(k, 10 + j), point), carry, jnp.arange(sweeps))
            theta, e_s, e_b, log_step, moved = carry
            new = (theta, e_s, e_b, log_step, log_z, jnp.minimum(min_ess, ess), steps + 1, acc + moved / sweeps)
            return new, t + dt, reading, count + 1

        init = (state, jnp.float32(0.0), jnp.zeros(3, jnp.float32), jnp.int32(0))
        state, t, reading, _ = jax.lax.while_loop(cond, body, init)
        return state, jnp.concatenate([reading, (t >= 1.0).astype(jnp.float32)[None]])

    return advance


def smc_tilt(
    prior: Any, arch: Any, energies: Callable, lambdas: list[float], *, particles: int, replicas: int,
    ess_fraction: float, sweeps: int, seed: int,
) -> dict[str, np.ndarray]:  # fmt: skip
    """Run ``replicas`` SMC runs; per replica and grid lambda: ``p_a``, ``p_b``, ``ess``, ``log_z``, ``steps``.

    Returns numpy arrays of shape ``(replicas, len(lambdas))`` (``steps``: path steps taken
    up to each target, ``acceptance``: their mean move acceptance, ``reached``: 1 where the
    run reached the target within :data:`MAX_SUBSTEPS` steps, else 0).
    """
    if not 0 < ess_fraction < 1:
        raise CountnetsError(f"ess_fraction must be in (0, 1), got {ess_fraction}")
    layout = arch.layout()
    move = invariant_move(prior, layout, "pcn")
    advance = _segment(energies, move, particles, ess_fraction, sweeps)
    targets = [(1.0, 0.0)] + [(1.0, float(v)) for v in lambdas]
    key = seed_key(seed)

    def one(r):
        theta = prior.sample(key, r, particles, layout)
        e_s, e_b, _, _ = energies(theta)
        state = (theta, e_s, e_b, jnp.float32(math.log(move.initial_step)), jnp.float32(0.0), jnp.float32(particles),
                 jnp.int32(0), jnp.float32(0.0))  # fmt: skip
        rows, start = [], jnp.zeros(2, jnp.float32)
        for j, target in enumerate(targets):
            end = jnp.asarray(target, jnp.float32)
            state, reading = advance(subkey(subkey(key, r), j), state, start, end)
            start = end
            if j:
                steps = state[6].astype(jnp.float32)
                tail = jnp.stack([state[4], state[5], steps, state[7] / jnp.maximum(steps, 1.0)])
                rows.append(jnp.concatenate([reading, tail]))
        return jnp.stack(rows)

    out = np.asarray(jax.jit(jax.vmap(one))(jnp.arange(replicas, dtype=jnp.int32)))
    names = ("p_a", "p_b", "ess", "reached", "log_z", "min_ess", "steps", "acceptance")
    return {name: out[..., i] for i, name in enumerate(names)}


def tilt_lambda_star(section: dict[str, Any], lambdas: list[float], runs: dict[str, np.ndarray],
                     confidence: float = 0.95) -> dict[str, Any]:  # fmt: skip
    """``lambda*`` of the SMC tilt from :func:`smc_tilt`'s replicas, as plan version 1 read its tilt.

    The estimate, its censoring label (``None``, ``"right"``, ``"left"``) and ``bound`` are
    those of the crossing of the replicas' mean ``P(B)`` and ``P(A)`` curves, so the three
    always agree. The interval ``ci`` is the t-interval of the mean of ``ln lambda*_r`` when
    every replica crosses inside the grid; when some replica is censored it widens to
    ``[least replica lower bound, inf)`` (right) or ``[0, largest replica upper bound]``
    (left). ``censored = "none"`` when some replica saw neither A nor B. ``evaluable``:
    every replica reached every target, the label is not ``"none"``, and the least ESS up to
    the interval's upper end is at least the plan's ``min_ess``.
    """
    pa, pb = runs["p_a"], runs["p_b"]
    R = pa.shape[0]
    est, lo, hi = isotonic_crossing(lambdas, pa.mean(axis=0), pb.mean(axis=0), skip_missing=True)
    per = [isotonic_crossing(lambdas, pa[r], pb[r], skip_missing=True) for r in range(R)]
    ests = np.array([p[0] for p in per])
    # The label and the bound are the mean curves'; the interval widens to what the replicas allow.
    if math.isnan(est) or np.isnan(ests).any():
        censored, interval = "none", [math.nan, math.nan]
    elif math.isinf(est):
        censored, interval = "right", [float(min(p[1] for p in per)), math.inf]
    elif lo == 0.0:
        censored, interval = "left", [0.0, float(max(p[2] for p in per))]
    else:
        censored = None
        if np.isinf(ests).any():
            interval = [float(min(p[1] for p in per)), math.inf]
        elif any(p[1] == 0.0 for p in per):
            interval = [0.0, float(max(p[2] for p in per))]
        else:
            logs = np.log(ests)
            half = statistics.t_quantile(confidence, R - 1) * logs.std(ddof=1) / math.sqrt(R)
            interval = [math.exp(logs.mean() - half), math.exp(logs.mean() + half)]
    upto = [j for j, v in enumerate(lambdas) if not interval[1] < v] or list(range(len(lambdas)))
    least = float(runs["min_ess"][:, max(upto)].min())
    reached = bool(runs["reached"].min() == 1.0)
    return {
        "lambda_star": est, "censored": censored, "bound": [lo, hi], "ci": interval,
        "replica_estimates": ests.tolist(), "min_ess": least, "reached": reached,
        "evaluable": reached and censored != "none" and least >= float(section["min_ess"]),
        "grid": list(lambdas), "p_a": pa.mean(axis=0).tolist(), "p_b": pb.mean(axis=0).tolist(),
        "log_z": runs["log_z"].mean(axis=0).tolist(), "steps": runs["steps"][:, -1].tolist(),
        "acceptance": float(runs["acceptance"].mean()), "replicas": R,
    }  # fmt: skip
