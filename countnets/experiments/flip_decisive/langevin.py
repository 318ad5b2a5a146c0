"""The stationary ``lambda*`` of Langevin sampling (MALA) for the integrated-pressure flip test (issue 29).

Target at pressure lambda, temperature 1 (DESIGN section 3b):
``log pi_lambda(theta) = log p(theta) - L_S(theta) - lambda l_B(theta)`` with ``p`` the exact
Gaussian prior (precision ``fan_in / sigma_w^2`` per weight, ``1 / sigma_b^2`` per bias),
``L_S`` the logistic loss toward the target summed over the points of S and ``l_B`` the
logistic loss toward B summed over the points off S. MALA (``blackjax.mala``) is
Metropolis-adjusted, so it has no step-size bias: ``pi_lambda`` is its stationary law.

:func:`mala_lambda_star`: per lambda of the grid, ``chains_per_start`` chains start from
the prior conditioned on A and as many from the prior conditioned on B; one step size per
lambda is adapted in warm-up (Robbins-Monro toward acceptance 0.574, the shared
:func:`countnets.rare.kernels.adapt_step`) and then fixed. ``P_lambda(A)``, ``P_lambda(B)``
are the fractions of kept states computing A or B on the whole cube; ``lambda*`` is the
crossing of 1/2 by ``q = P(B) / (P(A) + P(B))`` (grid points without a visit to A or B
left out), with a bootstrap over chains; R-hat (``blackjax.diagnostics.potential_scale_reduction``)
of ``1[B] - 1[A]`` over all chains of both starts says whether the two starts agree.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import blackjax
import jax
import jax.numpy as jnp
import numpy as np
from blackjax.diagnostics import potential_scale_reduction

from countnets._errors import CountnetsError
from countnets.experiments.flip_decisive.censored import isotonic_crossing
from countnets.network import boolean
from countnets.network.architectures import apply_flat_batch
from countnets.rare.kernels import adapt_step
from countnets.train.trainer import TrainingSet

__all__ = ["TARGET_ACCEPTANCE", "pair_terms", "langevin_model", "mala_visits", "mala_lambda_star", "chain_crossing"]

TARGET_ACCEPTANCE = 0.574  # MALA's optimal acceptance rate (Roberts and Rosenthal 1998)
STEP_GAIN = 0.05
INITIAL_STEP = 0.05


def pair_terms(arch: Any, tset: TrainingSet, a: int, b: int, *, encoding: str) -> tuple[Any, Callable, Callable]:
    """``(x, losses, flags)`` of one pair, shared by MALA's target and the SMC tilt's.

    ``x``: the cube's inputs; ``losses(y) -> (E_S, E_B)``: the logistic losses toward the
    target on S and toward B off S, summed over points, for outputs ``y`` of shape
    ``(..., 2**n)``; ``flags(y) -> (is_a, is_b)``: whether the outputs compute A, B on the whole cube.
    """
    x = jnp.asarray(boolean.cube(arch.n, encoding))
    on = jnp.asarray(np.array(tset.points, np.int32))
    off = np.array(tset.off_points(), np.int32)
    sign_s = jnp.asarray(np.where(tset.labels(), 1.0, -1.0).astype(np.float32))
    sign_b = jnp.asarray(np.where(boolean.int_to_table(b, arch.n)[off], 1.0, -1.0).astype(np.float32))
    off_j = jnp.asarray(off)
    a_words, b_words = jnp.asarray(boolean.int_to_words(a, arch.n)), jnp.asarray(boolean.int_to_words(b, arch.n))

    def lead(v, ndim):  # v with ndim - 1 leading axes of length 1 (explicit broadcasting)
        return v.reshape((1,) * (ndim - 1) + v.shape)

    def losses(y):
        e_s = jnp.sum(jnp.logaddexp(0.0, -lead(sign_s, y.ndim) * y[..., on]), axis=-1)
        return e_s, jnp.sum(jnp.logaddexp(0.0, -lead(sign_b, y.ndim) * y[..., off_j]), axis=-1)

    def flags(y):
        keys = boolean.pack_table(boolean.truth_table(y))
        return (jnp.all(keys == lead(a_words, keys.ndim), axis=-1),
                jnp.all(keys == lead(b_words, keys.ndim), axis=-1))  # fmt: skip

    return x, losses, flags


def langevin_model(
    prior: Any, arch: Any, tset: TrainingSet, a: int, b: int, *, encoding: str, precision: str
) -> tuple[Callable, Callable]:
    """``(log_density(theta, lam), classify(thetas))`` for one pair.

    ``log_density`` takes one flat parameter vector ``(n_params,)`` and the pressure (a
    float32 scalar) and returns the unnormalised log target (nats); ``classify`` takes
    ``(chains, n_params)`` and returns ``(is_a, is_b)``, bool ``(chains,)``: whether each
    network computes A, B on the whole cube.
    """
    if not hasattr(prior, "scales"):
        raise CountnetsError(f"the Langevin target needs a Gaussian prior, got {type(prior).__name__}")
    scales = jnp.asarray(prior.scales(arch.layout()))
    x, losses, flags = pair_terms(arch, tset, a, b, encoding=encoding)

    def log_density(theta, lam):
        e_s, e_b = losses(arch.apply(arch.unflatten(theta), x, precision=precision))
        return -0.5 * jnp.sum((theta / scales) ** 2) - e_s - lam * e_b

    def classify(thetas):
        return flags(apply_flat_batch(arch, thetas, x, precision=precision))

    return log_density, classify


def _run_one_lambda(log_density: Callable, classify: Callable, starts: jax.Array, warmup: int, kept: int):
    """``run(key, lam) -> (is_a (kept, chains), is_b, acceptance, step)``: warm-up with adaptation, then fixed steps."""
    kernel = blackjax.mala.build_kernel()

    def run(key, lam):
        def density(theta):
            return log_density(theta, lam)

        states = jax.vmap(lambda t: blackjax.mala.init(t, density))(starts)
        chains = starts.shape[0]

        def move(k, st, step):
            return jax.vmap(lambda kk, s: kernel(kk, s, density, step))(jax.random.split(k, chains), st)

        def warm(carry, k):
            st, log_step = carry
            st, info = move(k, st, jnp.exp(log_step))
            log_step = adapt_step(log_step, jnp.mean(info.acceptance_rate), TARGET_ACCEPTANCE, STEP_GAIN, 1e-6, 1.0)
            return (st, log_step), None

        warm_key, keep_key = jax.random.split(key)
        (states, log_step), _ = jax.lax.scan(warm, (states, jnp.float32(math.log(INITIAL_STEP))),
                                             jax.random.split(warm_key, warmup))  # fmt: skip

        def sample(st, k):
            st, info = move(k, st, jnp.exp(log_step))
            is_a, is_b = classify(st.position)
            return st, (is_a, is_b, info.acceptance_rate)

        _, (is_a, is_b, acc) = jax.lax.scan(sample, states, jax.random.split(keep_key, kept))
        return is_a, is_b, jnp.mean(acc), jnp.exp(log_step)

    return run


def chain_crossing(lambdas: list[float], n_a: np.ndarray, n_b: np.ndarray) -> tuple[float, float, float]:
    """:func:`isotonic_crossing` of the pooled chains (``n_a``, ``n_b``: visits, shape ``(lambdas, chains)``)."""
    return isotonic_crossing(lambdas, n_a.sum(axis=1), n_b.sum(axis=1), skip_missing=True)


def _bootstrap(lambdas, n_a, n_b, per_start: int, n_boot: int, seed: int, confidence: float) -> list[float]:
    """Percentile interval of lambda* over chains resampled within each start (lower ends, upper ends)."""
    rng = np.random.default_rng(seed)
    chains = n_a.shape[1]
    boots = []
    for _ in range(n_boot):
        cols = np.concatenate([rng.integers(0, per_start, per_start), rng.integers(per_start, chains, per_start)])
        boots.append(chain_crossing(lambdas, n_a[:, cols], n_b[:, cols]))
    arr = np.array([b for b in boots if not math.isnan(b[0])])
    if not arr.size:
        return [math.nan, math.nan]
    alpha = 1 - confidence
    return [float(np.quantile(arr[:, 1], alpha / 2, method="inverted_cdf")),
            float(np.quantile(arr[:, 2], 1 - alpha / 2, method="inverted_cdf"))]  # fmt: skip


def _bracket(lambdas: list[float], seen: np.ndarray, est: float, lo: float, hi: float) -> list[int]:
    """Grid indices of the observed points that decide the crossing (the boundary point when censored)."""
    idx = [j for j in range(len(lambdas)) if seen[j]]
    if not idx:
        return []
    if lo == 0.0:
        return [idx[0]]
    if math.isinf(est):
        return [idx[-1]]
    below = [j for j in idx if lambdas[j] < est] or idx[:1]
    above = [j for j in idx if lambdas[j] >= est] or idx[-1:]
    return sorted({below[-1], above[0]})


def mala_visits(
    section: dict[str, Any], model: tuple[Callable, Callable], starts_a: np.ndarray, starts_b: np.ndarray, *, seed: int
) -> tuple[np.ndarray, np.ndarray, list[float], np.ndarray, np.ndarray]:
    """The chains of :func:`mala_lambda_star`: visits to A and B per lambda and chain, R-hat, acceptance, step.

    Returns ``(n_a, n_b)``, int ``(lambdas, chains)``: kept states computing A, B (A-start
    chains first); ``rhat`` per lambda (1 when ``1[B] - 1[A]`` never varies: every chain of
    both starts agrees throughout); the mean acceptance and the step size per lambda.
    """
    lambdas = [float(v) for v in section["lambdas"]]
    per_start = int(section["chains_per_start"])
    if starts_a.shape[0] != per_start or starts_b.shape[0] != per_start:
        raise CountnetsError(f"need {per_start} starts from A and from B, got {starts_a.shape[0]}, {starts_b.shape[0]}")
    starts = jnp.asarray(np.concatenate([starts_a, starts_b]).astype(np.float32))
    run = _run_one_lambda(*model, starts, int(section["warmup"]), int(section["kept"]))
    keys = jax.random.split(jax.random.key(seed), len(lambdas))
    is_a, is_b, acc, step = jax.jit(jax.vmap(run))(keys, jnp.asarray(lambdas, jnp.float32))
    is_a, is_b = np.asarray(is_a), np.asarray(is_b)  # (lambdas, kept, chains)
    rhat = []
    for j in range(len(lambdas)):
        d = (is_b[j].astype(np.float32) - is_a[j].astype(np.float32)).T  # (chains, kept)
        if d.std() > 0:
            rhat.append(float(potential_scale_reduction(jnp.asarray(d))))
        else:  # every chain of both starts in the same state throughout: they agree (no visit at all: 1 as well,
            rhat.append(1.0)  # and the point is missing from the crossing anyway)
    return is_a.sum(axis=1), is_b.sum(axis=1), rhat, np.asarray(acc), np.asarray(step)


def mala_lambda_star(
    section: dict[str, Any],
    model: tuple[Callable, Callable],
    starts_a: np.ndarray,
    starts_b: np.ndarray,
    *,
    seed: int,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """MALA's ``lambda*`` for one pair by the plan's ``langevin`` section (grid, chains, warm-up, kept steps).

    ``starts_a``, ``starts_b``: ``(chains_per_start, n_params)`` starting states. Returns
    ``lambda_star`` (estimate), ``censored``, ``bound``, ``ci`` (bootstrap over chains),
    ``rhat`` (the largest R-hat at the grid points that decide the crossing), ``determined``
    (R-hat below the plan's bound there), and per grid value ``p_a``, ``p_b``, ``rhat``,
    ``acceptance`` and ``step``.
    """
    lambdas = [float(v) for v in section["lambdas"]]
    per_start = int(section["chains_per_start"])
    n_a, n_b, rhat, acc, step = mala_visits(section, model, starts_a, starts_b, seed=seed)
    est, lo, hi = chain_crossing(lambdas, n_a, n_b)
    ci = _bootstrap(lambdas, n_a, n_b, per_start, int(section["bootstrap"]), seed, confidence)
    decide = _bracket(lambdas, (n_a + n_b).sum(axis=1) > 0, est, lo, hi)
    worst = max((rhat[j] for j in decide), default=math.nan)
    censored = None if math.isnan(est) else ("right" if math.isinf(est) else ("left" if lo == 0.0 else None))
    total = int(section["kept"]) * n_a.shape[1]
    return {
        "lambda_star": est, "censored": censored, "bound": [lo, hi], "ci": ci, "rhat": worst,
        "determined": bool(decide) and not math.isnan(worst) and worst < float(section["rhat_bound"]),
        "grid": lambdas, "p_a": (n_a.sum(axis=1) / total).tolist(), "p_b": (n_b.sum(axis=1) / total).tolist(),
        "rhat_per_lambda": rhat, "acceptance": np.asarray(acc).tolist(), "step": np.asarray(step).tolist(),
        "chains": int(n_a.shape[1]), "kept": int(section["kept"]), "warmup": int(section["warmup"]),
    }  # fmt: skip
