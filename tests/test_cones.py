"""The Gaussian mass of a polyhedral cone (countnets.engine.cones) against answers derived apart from it.

* 1 and 2 dimensions: the exact formula against the closed form of a sector,
  ``(pi - angle) / (2 pi)``, and against plain NumPy Monte Carlo (99.9% Clopper-Pearson);
* 3 dimensions: the correlated orthant ``1/8 + (asin r12 + asin r13 + asin r23) / (4 pi)``;
* the AND_n perceptron on the pm1 cube (n = 3, 5), whose volume is a cone mass
  (``countnets.bench.references.perceptron_and_pm1``, a separate Rao-Blackwellised integral);
* a thin 2-D sector of mass 1e-6, deep enough to need many levels, against its exact mass;
* empty cones: an exact 0 from the linear program and from the estimator; on real
  features (parity of 4 through a ResMLP's stream) the primal program's verdict against the
  dual's, Gordan's ``min over the simplex of |A^T y|_1``, the same optimum found apart;
* bad input, one line each.

Every estimator check asks the truth to lie in the 99.9% log-t interval of the replicas.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import optimize

import countnets as cn
from countnets.bench.references import perceptron_and_pm1
from countnets.engine import cones, integrate
from countnets.network import boolean
from countnets.network.architectures import readout_indices
from countnets.stats import statistics

CONFIDENCE = 0.999


def _rot(angle):
    return np.array([math.cos(angle), math.sin(angle)], np.float32)


def _covers(z, truth):
    r = statistics.replica_interval(np.asarray(z, np.float64), CONFIDENCE)
    return r.lo <= truth <= r.hi, r


def test_two_dimensional_mass_is_the_sector_angle():
    # Two rows at angle t apart: the cone is the sector of angle pi - t.
    for t in (0.1, 1.0, 2.5, 3.1):
        rows = np.stack([_rot(0.3), _rot(0.3 + t)])
        assert float(cones.cone_mass_exact(rows)) == pytest.approx((math.pi - t) / (2 * math.pi), abs=1e-6)
    # Rows whose directions span more than pi leave nothing; one row alone is a half-plane.
    assert float(cones.cone_mass_exact(np.stack([_rot(0.0), _rot(2.0), _rot(4.0)]))) == 0.0
    assert float(cones.cone_mass_exact(_rot(1.0)[None, :])) == pytest.approx(0.5)
    assert float(cones.cone_mass_exact(np.array([[1.0], [2.0]]))) == 0.5
    assert float(cones.cone_mass_exact(np.array([[1.0], [-2.0]]))) == 0.0
    assert float(cones.cone_mass_exact(np.array([[1.0, 0.0], [0.0, 0.0]]))) == 0.0  # 0 > 0 fails
    assert float(cones.cone_mass_exact(np.zeros((0, 2)))) == 1.0  # no constraint: the whole space


def test_exact_mass_against_plain_monte_carlo():
    rng = np.random.default_rng(0)
    rows = rng.standard_normal((20, 3, 2)).astype(np.float32)
    exact = np.asarray(cones.cone_mass_exact(rows))
    u = rng.standard_normal((200_000, 2))
    for a, p in zip(rows, exact):
        hits = int(np.all(u @ a.T > 0, axis=1).sum())
        lo, hi = statistics.clopper_pearson(hits, len(u), CONFIDENCE)
        assert lo <= p <= hi, (a, p, hits)


def test_hdr_covers_the_correlated_orthant_in_three_dimensions():
    corr = np.array([[1.0, 0.3, -0.2], [0.3, 1.0, 0.5], [-0.2, 0.5, 1.0]])
    rows = np.linalg.cholesky(corr).astype(np.float32)  # row i . u ~ N(0, 1) with these correlations
    truth = 1 / 8 + (math.asin(0.3) + math.asin(-0.2) + math.asin(0.5)) / (4 * math.pi)
    z = cones.cone_mass_hdr(jax.random.PRNGKey(0), rows, replicas=32)
    ok, r = _covers(z, truth)
    assert ok, (truth, r)


def test_hdr_covers_a_thin_sector_that_needs_many_levels():
    width = 2 * math.pi * 1e-6  # rows at angle pi - width apart: the cone is a sector of mass 1e-6
    rows = np.stack([_rot(0.0), _rot(math.pi - width)]).astype(np.float32)
    truth = float(cones.cone_mass_exact(rows))
    assert truth == pytest.approx(1e-6, rel=1e-3)
    z = cones.cone_mass_hdr(jax.random.PRNGKey(1), rows, replicas=32)
    ok, r = _covers(z, truth)
    assert ok, (truth, r)


@pytest.mark.parametrize("n", [3, 5])
def test_hdr_covers_the_and_perceptron(n):
    prior, arch = cn.Gaussian(1.0, 1.0), cn.MLP(n, ())
    j = np.arange(2**n)
    x = np.stack([2.0 * ((j >> i) & 1) - 1 for i in range(n)], axis=1)
    features = np.hstack([x, np.ones((2**n, 1))])  # the perceptron's readout is the whole network
    labels = j == 2**n - 1  # AND: 1 only at (1, ..., 1)
    rows = cones.cone_matrix(features, labels, prior.scales(arch.layout()))
    p, se = perceptron_and_pm1(n, 1.0, 1.0, samples=1 << 20)
    z = cones.cone_mass_hdr(jax.random.PRNGKey(n), rows, replicas=32)
    r = statistics.replica_interval(np.asarray(z, np.float64), CONFIDENCE)
    # The reference has its own error: the two must overlap with 3.3 of its standard errors.
    assert r.lo <= p + 3.3 * se and p - 3.3 * se <= r.hi, (p, se, r)


def test_empty_cones_are_an_exact_zero():
    rows = np.array([[1.0, 0.0, 0.0], [-1.0, 0.1, 0.0], [0.0, -1.0, 0.0]], np.float32)  # u0 > 0, u1 > 10 u0, u1 < 0
    assert cones.cone_is_empty(rows)
    assert not cones.cone_is_empty(np.eye(3))
    assert cones.cone_is_empty(np.array([[1.0, 0.0], [0.0, 0.0]]))
    both = np.stack([rows, np.eye(3, dtype=np.float32)])
    z = cones.cone_mass(jax.random.PRNGKey(2), both, replicas=4)
    assert z.shape == (2, 4) and np.all(z[0] == 0) and np.all(z[1] > 0)
    # Without the linear program the estimator finds no particle in the cone: 0 too.
    z = np.asarray(cones.cone_mass_hdr(jax.random.PRNGKey(2), both, replicas=4, max_levels=8))
    assert np.all(z[0] == 0) and np.all(z[1] > 0)


def test_cone_mass_is_exact_in_two_dimensions_and_sampled_above():
    flat = np.stack([_rot(0.0), _rot(2.0)])
    z = cones.cone_mass(jax.random.PRNGKey(0), flat, replicas=3)
    assert z.shape == (3,) and np.allclose(z, (math.pi - 2.0) / (2 * math.pi), rtol=1e-6)
    z = cones.cone_mass(jax.random.PRNGKey(0), np.eye(3, dtype=np.float32), replicas=64)
    ok, r = _covers(z, 1 / 8)
    assert ok, r


def test_batched_and_reproducible():
    rng = np.random.default_rng(3)
    rows = rng.standard_normal((2, 3, 4, 3)).astype(np.float32)
    key = jax.random.PRNGKey(5)
    z = np.asarray(cones.cone_mass_hdr(key, rows, replicas=3, particles=32))
    assert z.shape == (2, 3, 3)
    assert np.array_equal(z, np.asarray(cones.cone_mass_hdr(key, rows, replicas=3, particles=32)))


@pytest.mark.parametrize(
    "call, phrase",
    [
        (lambda: cones.cone_matrix(np.full((2, 2), np.nan), [True, False], [1.0, 1.0]), "finite"),
        (lambda: cones.cone_matrix(np.ones((3, 2)), [True, False], [1.0, 1.0]), "features must be"),
        (lambda: cones.cone_mass_hdr(jax.random.PRNGKey(0), np.array([[np.inf, 1.0]])), "finite"),
        (lambda: cones.cone_mass_hdr(jax.random.PRNGKey(0), np.eye(2), particles=1), "particles"),
        (lambda: cones.cone_mass_hdr(jax.random.PRNGKey(0), np.eye(2), level_fraction=1.0), "level_fraction"),
        (lambda: cones.cone_mass_exact(np.eye(3)), "1 or 2 readout parameters"),
    ],
)
def test_bad_input_is_refused_with_one_line(call, phrase):
    with pytest.raises(cn.CountnetsError, match=phrase) as err:
        call()
    assert "\n" not in str(err.value)


def _gordan_margin(rows):
    """``min over y >= 0, sum y = 1 of |A^T y|_1`` (unit rows), by its own linear program.

    By the minimax theorem it equals ``max over the box of min_x a_x . u``, the margin
    :func:`cones.cone_is_empty` maximises, so it is 0 exactly when the open cone is empty.
    """
    a = np.asarray(rows, np.float64)
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    m, k = a.shape
    # variables y (m) and s (k) with -s <= A^T y <= s; minimise sum s
    cost = np.concatenate([np.zeros(m), np.ones(k)])
    a_ub = np.block([[a.T, -np.eye(k)], [-a.T, -np.eye(k)]])
    res = optimize.linprog(cost, A_ub=a_ub, b_ub=np.zeros(2 * k), A_eq=np.concatenate([np.ones(m), np.zeros(k)])[None],
                           b_eq=[1.0], bounds=[(0, None)] * (m + k), method="highs")  # fmt: skip
    assert res.status == 0, res.message
    return res.fun


def test_empty_cones_of_real_features_agree_with_the_dual_program():
    # Parity of 4 through ResMLP(4, 8, L=3, w=2)'s stream: most cones are empty, and the primal program's
    # optimum t comes back a little above 0 for many of them (its feasibility tolerance). The verdict must
    # follow the dual program's margin, found apart: empty where it is below the floor, non-empty where above.
    arch, prior = cn.ResMLP(4, 8, 3, 2), cn.Gaussian(1.0, 1.0)
    points, labels = cn.measures.implements("parity").agreement(arch)
    x = jnp.asarray(boolean.cube(4, "pm1"))[jnp.asarray(points)]
    theta = prior.sample(jax.random.PRNGKey(0), 0, 256, arch.layout())
    scales = prior.scales(arch.layout())[readout_indices(arch)]
    rows = np.asarray(cones.cone_matrix(integrate.readout_features(arch, theta, x), labels, scales))
    dual = np.array([_gordan_margin(r) for r in rows])
    empty = np.array([cones.cone_is_empty(r) for r in rows])
    clear = (dual < cones.CONE_MARGIN_FLOOR / 10) | (dual > cones.CONE_MARGIN_FLOOR * 10)
    assert clear.all(), np.sort(dual)
    assert np.array_equal(empty, dual < cones.CONE_MARGIN_FLOOR)
    assert 0 < (~empty).sum() < 16  # the case is exercised both ways (about 0.7% of draws are separable)
    # The regression: empty cones whose primal optimum alone (a 1e-9 tolerance) read as non-empty.
    assert sum(cones.lp_margin(r)[0] > 1e-9 for r in rows[empty]) > 10
