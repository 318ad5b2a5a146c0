"""How the HDR cone-mass estimator fares on the readout cones of parity of 4 (issue 26, a diagnostic).

Draws the hidden layers of ResMLP(4, 8, L=3, w=2) under Gaussian(1, 1) (pm1 inputs) from the prior, builds
each draw's readout cone for parity of 4, keeps the cones the linear program shows non-empty, and runs
``cones.cone_mass_hdr`` on them at the settings given. Prints one line per cone: its LP margin (unit rows,
unit box), the replicas that returned 0, the log of their mean, and expectation propagation's log mass
(:func:`ep_log_mass`, a deterministic approximation, the candidate surrogate for tempering the hidden layers).
Nothing here is a result: it shows whether the estimator reaches these thin cones at all.

Usage: ``python scripts/thin_cones.py [draws] [particles] [sweeps] [level_fraction] [max_levels] [replicas]``
(defaults 512 64 4 0.1 64 8, the estimator's own; on 2 CPU cores, 512 draws take about 10 s before HDR, and
HDR at 128 particles, 8 sweeps, fraction 0.3 takes about 10 s per replica and cone).
"""

from __future__ import annotations

import sys

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import log_ndtr
from scipy import optimize

import countnets as cn
from countnets.engine import cones, integrate
from countnets.network import boolean
from countnets.network.architectures import readout_indices


def lp_margin(rows: np.ndarray) -> float:
    """``max over the unit box of min_x a_x . u`` on unit rows: positive iff the open cone is non-empty."""
    a = np.asarray(rows, np.float64)
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    m, k = a.shape
    res = optimize.linprog(np.r_[np.zeros(k), -1.0], A_ub=np.hstack([-a, np.ones((m, 1))]), b_ub=np.zeros(m),
                           bounds=[(-1.0, 1.0)] * k + [(None, 1.0)], method="highs")  # fmt: skip
    return float(-res.fun)


def ep_log_mass(rows: jax.Array, iters: int = 40, damping: float = 0.5) -> jax.Array:
    """Expectation propagation's ``log P(A u > 0)``, ``u ~ N(0, I_k)``, for one ``(m, k)`` matrix (float32).

    Parallel EP with damping (Cunningham, Hennig & Lacoste-Julien 2011): one Gaussian site per
    row on its projection ``a_x . u``, matched to the moments of the cavity truncated to
    ``a_x . u > 0``; the log normaliser is the Gaussian integral of the sites plus each site's
    log constant. Exact for one row; an approximation otherwise (NaN where it breaks down).
    """
    a = rows / jnp.linalg.norm(rows, axis=-1, keepdims=True)
    eye = jnp.eye(a.shape[1], dtype=a.dtype)

    def posterior(tau, nu):
        chol = jnp.linalg.cholesky(eye + (a.T * tau) @ a)
        sigma = jax.scipy.linalg.cho_solve((chol, True), eye)
        mu = sigma @ (a.T @ nu)
        return chol, mu, a @ mu, jnp.einsum("xk,kl,xl->x", a, sigma, a)

    def cavity(tau, nu, mean, var):
        tau_c = jnp.maximum(1.0 / var - tau, 1e-8)
        return tau_c, (mean / var - nu) / tau_c

    def sweep(_, carry):
        tau, nu = carry
        _, _, mean, var = posterior(tau, nu)
        tau_c, m_c = cavity(tau, nu, mean, var)
        sd = 1.0 / jnp.sqrt(tau_c)
        z = m_c / sd
        ratio = jnp.exp(-0.5 * z * z - 0.5 * jnp.log(2 * jnp.pi) - log_ndtr(z))  # phi(z) / Phi(z)
        mean_t = m_c + sd * ratio
        var_t = jnp.maximum(1.0 - ratio * (ratio + z), 1e-8) / tau_c
        tau_new = jnp.maximum(1.0 / var_t - tau_c, 0.0)
        nu_new = mean_t / var_t - m_c * tau_c
        return (1 - damping) * tau + damping * tau_new, (1 - damping) * nu + damping * nu_new

    zeros = jnp.zeros(a.shape[0], a.dtype)
    tau, nu = jax.lax.fori_loop(0, iters, sweep, (zeros, zeros))
    chol, mu, mean, var = posterior(tau, nu)
    tau_c, m_c = cavity(tau, nu, mean, var)
    sites = log_ndtr(m_c * jnp.sqrt(tau_c)) - 0.5 * jnp.log(tau_c * var) - 0.5 * mean**2 / var + 0.5 * m_c**2 * tau_c
    return -jnp.sum(jnp.log(jnp.diag(chol))) + 0.5 * mu @ (a.T @ nu) + jnp.sum(sites)


def parity_cones(draws: int) -> np.ndarray:
    """The readout cone matrices ``(draws, 16, 9)`` of the first ``draws`` prior draws (key 0)."""
    arch, prior = cn.ResMLP(4, 8, 3, 2), cn.Gaussian(1.0, 1.0)
    points, labels = cn.measures.implements("parity").agreement(arch)
    x = jnp.asarray(boolean.cube(4, "pm1"))[jnp.asarray(points)]
    theta = prior.sample(jax.random.PRNGKey(0), 0, draws, arch.layout())
    scales = prior.scales(arch.layout())[readout_indices(arch)]
    return np.asarray(cones.cone_matrix(integrate.readout_features(arch, theta, x), labels, scales))


def main(draws: int, particles: int, sweeps: int, fraction: float, max_levels: int, replicas: int) -> None:
    """Print the non-empty cones among ``draws`` and what HDR makes of each."""
    rows = parity_cones(draws)
    keep = [i for i, r in enumerate(rows) if not cones.cone_is_empty(r)]
    print(f"{len(keep)} of {draws} cones non-empty")
    if not keep:
        return
    z = cones.cone_mass_hdr(jax.random.PRNGKey(1), rows[keep], replicas=replicas, particles=particles, sweeps=sweeps,
                            level_fraction=fraction, max_levels=max_levels)  # fmt: skip
    z = np.asarray(z, np.float64)
    ep = np.asarray(jax.jit(jax.vmap(ep_log_mass))(jnp.asarray(rows[keep])))
    for i, zi, epi in zip(keep, z, ep, strict=True):
        mean = zi.mean()
        log_mean = f"{np.log(mean):.1f}" if mean > 0 else "-inf"
        print(f"draw {i}: LP margin {lp_margin(rows[i]):.2e}, zero replicas {int((zi == 0).sum())} of {replicas}, "
              f"log mean {log_mean}, EP log mass {epi:.1f}")  # fmt: skip


if __name__ == "__main__":
    defaults = [512, 64, 4, 0.1, 64, 8]
    args = [type(d)(a) for d, a in zip(defaults, sys.argv[1:], strict=False)] + defaults[len(sys.argv) - 1 :]
    main(*args)
