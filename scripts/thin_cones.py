"""How the HDR cone-mass estimator fares on the readout cones of parity of 4 (issue 26, a diagnostic).

Draws the hidden layers of ResMLP(4, 8, L=3, w=2) under Gaussian(1, 1) (pm1 inputs) from the prior, builds
each draw's readout cone for parity of 4, keeps the cones the linear program shows non-empty, and runs
``cones.cone_mass_hdr`` on them at the settings given. Prints one line per cone: its LP margin (unit rows,
unit box), the replicas that returned 0, the log of their mean, expectation propagation's log mass
(:func:`ep_fit`, a deterministic approximation, the candidate surrogate for tempering the hidden layers), and
an unbiased importance-sampling estimate from a Student-t around EP's Gaussian (:func:`importance_log_mass`).
Nothing here is a result: it shows whether the estimator reaches these thin cones at all.

Usage: ``python scripts/thin_cones.py [draws] [particles] [sweeps] [level_fraction] [max_levels] [replicas]
[importance_samples]`` (defaults 512 64 4 0.1 64 8 200000, the HDR settings the estimator's own; about a minute
on 2 CPU cores; HDR at 128 particles, 8 sweeps, fraction 0.3 takes about 10 s per replica and cone).
"""

from __future__ import annotations

import math
import sys

import jax
import jax.numpy as jnp
import numpy as np
from scipy import linalg, special, stats

import countnets as cn
from countnets.engine import cones, integrate
from countnets.network import boolean
from countnets.network.architectures import readout_indices


def ep_fit(rows: np.ndarray, iters: int = 200, damping: float = 0.5) -> tuple[float, np.ndarray, np.ndarray]:
    """Expectation propagation's ``log P(A u > 0)``, ``u ~ N(0, I_k)``, for one ``(m, k)`` matrix, and its Gaussian.

    Parallel EP with damping (Cunningham, Hennig & Lacoste-Julien 2011): one Gaussian site per
    row on its projection ``a_x . u``, matched to the moments of the cavity truncated to
    ``a_x . u > 0``; the log normaliser is the Gaussian integral of the sites plus each site's
    log constant. Exact for one row; an approximation otherwise. Float64 (NumPy): in float32
    the thinnest cones diverge to NaN after a few sweeps.

    Returns ``(log mass, mean (k,), covariance (k, k))``, the last two EP's Gaussian
    approximation of ``u`` given ``A u > 0``.
    """
    a = np.asarray(rows, np.float64)
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    eye = np.eye(a.shape[1])

    def posterior(tau, nu):
        chol = np.linalg.cholesky(eye + (a.T * tau) @ a)
        sigma = linalg.cho_solve((chol, True), eye)
        mu = sigma @ (a.T @ nu)
        return chol, sigma, mu, a @ mu, np.einsum("xk,kl,xl->x", a, sigma, a)

    def cavity(tau, nu, mean, var):
        tau_c = np.maximum(1.0 / var - tau, 1e-12)
        return tau_c, (mean / var - nu) / tau_c

    tau, nu = np.zeros(a.shape[0]), np.zeros(a.shape[0])
    for _ in range(iters):
        _, _, _, mean, var = posterior(tau, nu)
        tau_c, m_c = cavity(tau, nu, mean, var)
        sd = 1.0 / np.sqrt(tau_c)
        z = m_c / sd
        ratio = np.exp(-0.5 * z * z - 0.5 * np.log(2 * np.pi) - special.log_ndtr(z))  # phi(z) / Phi(z)
        mean_t = m_c + sd * ratio
        var_t = np.maximum(1.0 - ratio * (ratio + z), 1e-12) / tau_c
        tau = (1 - damping) * tau + damping * np.maximum(1.0 / var_t - tau_c, 0.0)
        nu = (1 - damping) * nu + damping * (mean_t / var_t - m_c * tau_c)
    chol, sigma, mu, mean, var = posterior(tau, nu)
    tau_c, m_c = cavity(tau, nu, mean, var)
    sites = special.log_ndtr(m_c * np.sqrt(tau_c)) - 0.5 * np.log(tau_c * var) - 0.5 * mean**2 / var
    sites = sites + 0.5 * m_c**2 * tau_c
    return float(-np.sum(np.log(np.diag(chol))) + 0.5 * mu @ (a.T @ nu) + np.sum(sites)), mu, sigma


def importance_log_mass(rows: np.ndarray, mean: np.ndarray, cov: np.ndarray, samples: int,
                        rng: np.random.Generator) -> tuple[float, float]:  # fmt: skip
    """An unbiased importance-sampling estimate of ``P(A u > 0)`` from a Student-t (5 df) around EP's Gaussian.

    The proposal is ``t_5(mean, 1.5 cov)``, whose tails are heavier than the standard normal's,
    so the weights ``N(u; 0, I) 1[A u > 0] / q(u)`` have finite variance whatever EP's error.
    Returns ``(log of the estimate, its relative standard error)``.
    """
    k = len(mean)
    proposal = stats.multivariate_t(loc=mean, shape=1.5 * cov, df=5, seed=rng)
    u = proposal.rvs(samples)
    inside = np.all(u @ np.asarray(rows, np.float64).T > 0, axis=1)
    if not inside.any():
        return -math.inf, math.inf
    log_w = stats.multivariate_normal(np.zeros(k), np.eye(k)).logpdf(u) - proposal.logpdf(u)
    top = log_w[inside].max()
    w = np.where(inside, np.exp(log_w - top), 0.0)
    return float(np.log(w.mean()) + top), float(w.std() / math.sqrt(samples) / w.mean())


def parity_cones(draws: int) -> np.ndarray:
    """The readout cone matrices ``(draws, 16, 9)`` of the first ``draws`` prior draws (key 0)."""
    arch, prior = cn.ResMLP(4, 8, 3, 2), cn.Gaussian(1.0, 1.0)
    points, labels = cn.measures.implements("parity").agreement(arch)
    x = jnp.asarray(boolean.cube(4, "pm1"))[jnp.asarray(points)]
    theta = prior.sample(jax.random.PRNGKey(0), 0, draws, arch.layout())
    scales = prior.scales(arch.layout())[readout_indices(arch)]
    return np.asarray(cones.cone_matrix(integrate.readout_features(arch, theta, x), labels, scales))


def main(draws: int, particles: int, sweeps: int, fraction: float, max_levels: int, replicas: int,
         is_samples: int) -> None:  # fmt: skip
    """Print the non-empty cones among ``draws`` and what HDR, EP and importance sampling make of each."""
    rows = parity_cones(draws)
    keep = [i for i, r in enumerate(rows) if not cones.cone_is_empty(r)]
    print(f"{len(keep)} of {draws} cones non-empty")
    if not keep:
        return
    z = cones.cone_mass_hdr(jax.random.PRNGKey(1), rows[keep], replicas=replicas, particles=particles, sweeps=sweeps,
                            level_fraction=fraction, max_levels=max_levels)  # fmt: skip
    z = np.asarray(z, np.float64)
    rng = np.random.default_rng(0)
    for i, zi in zip(keep, z, strict=True):
        mean = zi.mean()
        log_mean = f"{np.log(mean):.1f}" if mean > 0 else "-inf"
        ep, mu, cov = ep_fit(rows[i])
        unit = rows[i] / np.linalg.norm(rows[i], axis=1, keepdims=True)
        log_is, rel = importance_log_mass(unit, mu, cov, is_samples, rng)
        margin, _ = cones.lp_margin(rows[i])
        print(f"draw {i}: LP margin {margin:.2e}, HDR zero replicas {int((zi == 0).sum())} of {replicas}, "
              f"HDR log mean {log_mean}, EP log mass {ep:.2f}, importance log mass {log_is:.2f} "
              f"(relative s.e. {rel:.3f})")  # fmt: skip


if __name__ == "__main__":
    defaults = [512, 64, 4, 0.1, 64, 8, 200_000]
    args = [type(d)(a) for d, a in zip(defaults, sys.argv[1:], strict=False)] + defaults[len(sys.argv) - 1 :]
    main(*args)
