"""SMC tempering of the tilted prior (countnets.experiments.flip_decisive.smc) against closed forms (issue 16)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from countnets.experiments.flip_decisive import smc
from countnets.network.architectures import MLP
from countnets.network.priors import Gaussian
from countnets.stats import statistics
from countnets.train.conditional import conditional_prior
from countnets.train.training import training_set

# A Gaussian toy with exact probabilities: theta ~ N(0, I_3); "fits S" is theta_0 > 0;
# A is (theta_1 > 0, theta_2 <= 1), B is (theta_1 <= 0, theta_2 > 1).
P_B = 0.5 * (1 - stats.norm.cdf(1.0))
P_A = 0.5 * stats.norm.cdf(1.0)
GRID = [1.0, 1.5, 2.0, 3.0]


def _draw(key, m):
    return jax.random.normal(key, (m, 3))


def _toy(theta):
    is_a = (theta[:, 1] > 0) & (theta[:, 2] <= 1)
    is_b = (theta[:, 1] <= 0) & (theta[:, 2] > 1)
    return 1.0 - is_b.astype(jnp.float32), theta[:, 0] > 0, is_a, is_b


def test_zero_one_tilt_matches_the_closed_form():
    # pi_lambda(B) = P_B e^lambda / (P_B e^lambda + 1 - P_B), log Z = log(P_B + (1 - P_B) e^-lambda),
    # lambda*_Bayes = ln(P_A / P_B); every grid value checked at family-wise 95% (Bonferroni)
    conf = 1 - 0.05 / len(GRID)
    r = smc.tilt_lambda_star(_draw, np.ones(3), _toy, GRID, replicas=6, n_particles=1000, seed=0, confidence=conf)
    for j, lam in enumerate(GRID):
        exact_b = P_B * math.exp(lam) / (P_B * math.exp(lam) + 1 - P_B)
        lo, hi = r["p_b_ci"][j]
        assert lo <= exact_b <= hi, (lam, exact_b, r["p_b_ci"][j])
        lo, hi = r["log_z_ci"][j]
        assert lo <= math.log(P_B + (1 - P_B) * math.exp(-lam)) <= hi, (lam, r["log_z_ci"][j])
    assert r["interval"][0] <= math.log(P_A / P_B) <= r["interval"][1], r["interval"]
    # the ESS never falls below half the particles (ess_fraction 0.5) and is reported
    assert min(r["ess"]) >= 500 and r["evaluable"]


@pytest.mark.parametrize("loss", ["zero-one", "hamming"])
def test_function_level_tilt_of_networks_flips_where_the_closed_form_says(loss):
    # networks: lambda*_Bayes = ln O exactly for the 0-1 tilt, and ln O |off S| / d_H(A, B) for the
    # Hamming tilt; O from a large rejection-MC sample, its 99% interval carried through the formula
    prior, arch = Gaussian(), MLP(2, (3,))
    tset = training_set(2, 0b0110, points=[0])
    cp = conditional_prior(prior, arch, tset, n_samples=2**18, seed=1, chunk_size=2**14)
    (a, na), (b, nb) = cp.ranked()[:2]
    _, (olo, ohi) = statistics.ratio_interval(na, nb, 0.99)
    scale = 1.0 if loss == "zero-one" else len(tset.off_points()) / bin(a ^ b).count("1")
    lo_star, hi_star = scale * math.log(olo), scale * math.log(ohi)
    draw, scales, ev = smc.network_model(prior, arch, tset, a, b, loss=loss)
    grid = [float(v) for v in np.linspace(0.8 * lo_star, 1.25 * hi_star, 12)]
    r = smc.tilt_lambda_star(draw, scales, ev, grid, replicas=4, n_particles=500, seed=2, confidence=0.99)
    assert r["censored"] is None and r["evaluable"]
    # the SMC interval and the closed form's interval overlap
    assert r["interval"][0] <= hi_star and lo_star <= r["interval"][1], (r["interval"], lo_star, hi_star)
