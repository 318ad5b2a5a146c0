"""The basin measure (countnets.measures.basin) against exact enumeration and plain Monte Carlo.

* Lattice {-1, 0, 1}, MLP 3-2-1, pm1: every one of the 3^11 configurations is checked in
  plain NumPy (its own forward pass and KL), for the basin and for its star domain on
  the same grid; splitting's 99.9% interval must hold the exact mass, and so must plain
  Monte Carlo's.
* Gaussian(1, 1): splitting and plain Monte Carlo agree within 99.9% intervals.
* Bad input, one line each.
"""

import itertools

import numpy as np
import pytest

import countnets as cn
from countnets.measures import basin as B

LATTICE, ARCH = cn.Lattice((-1.0, 0.0, 1.0)), cn.MLP(3, (2,))
POINTS = np.arange(8)
X = np.stack([2.0 * ((POINTS >> i) & 1) - 1 for i in range(3)], axis=1)  # pm1 cube, bit order of DESIGN 2
ANCHOR = np.array([-1, -1, -1, -1, -1, 0, 1, 0, 1, -1, -1], np.float32)  # implements 0x7, outputs +-1
TOLERANCE = 0.06  # between the attained divergences 0.0583 and 0.0619: no configuration sits at the edge
STAR_POINTS = 4
SPLIT_KW = dict(seed=0, encoding="pm1", replicas=48, particles=200, confidence=0.999, devices=1)


def _forward(theta):
    w1, b1, w2, b2 = theta[:, :6].reshape(-1, 3, 2), theta[:, 6:8], theta[:, 8:10], theta[:, 10]
    h = np.maximum(np.einsum("pi,nih->nph", X, w1) + b1[:, None, :], 0.0)
    return np.einsum("nph,nh->np", h, w2) + b2[:, None]


def _kl(ya, y):
    log_sig = lambda z: -np.logaddexp(0.0, -z)  # noqa: E731
    p = 1 / (1 + np.exp(-ya))
    return np.mean(p * (log_sig(ya) - log_sig(y)) + (1 - p) * (log_sig(-ya) - log_sig(-y)), axis=-1)


@pytest.fixture(scope="module")
def exact():
    """The exact basin and star-basin masses, from all 3^11 configurations in NumPy."""
    theta = np.array([-1.0, 0.0, 1.0])[np.array(list(itertools.product(range(3), repeat=ARCH.n_params)))]
    ya = _forward(ANCHOR[None].astype(np.float64))[0]

    def inside(t):
        y = _forward(t)
        return np.all((y > 0) == (ya > 0)[None], axis=1) & (_kl(ya[None], y) <= TOLERANCE)

    basin = inside(theta)
    star = basin.copy()
    for k in range(1, STAR_POINTS + 1):
        star &= inside(ANCHOR[None] + (k / STAR_POINTS) * (theta - ANCHOR[None]))
    total = len(theta)
    return {"basin": basin.sum() / total, "star": star.sum() / total, "f": (np.all(
        (_forward(theta) > 0) == (ya > 0)[None], axis=1)).sum() / total}  # fmt: skip


def test_the_basin_lies_inside_its_function_and_the_star_inside_the_basin(exact):
    assert 0 < exact["star"] < exact["basin"] < exact["f"]
    assert B.anchor_table(ARCH, ANCHOR, "pm1") == 0x7


@pytest.mark.parametrize("star", [False, True], ids=["basin", "star"])
def test_splitting_and_monte_carlo_hold_the_exact_basin_mass(exact, star):
    m = B.basin(ANCHOR, tolerance=TOLERANCE, star=star, star_points=STAR_POINTS)
    truth = exact["star" if star else "basin"]
    r = cn.estimate_rare(LATTICE, ARCH, m, **SPLIT_KW)
    e = r.estimates[0]
    assert r.extra.reliable and e.ci[0] <= truth <= e.ci[1], (truth, e)
    mc = cn.estimate_mc(LATTICE, ARCH, m, n_samples=1 << 21, seed=1, encoding="pm1", confidence=0.999).estimates[0]
    assert mc.ci[0] <= truth <= mc.ci[1], (truth, mc)


def test_gaussian_basin_splitting_agrees_with_monte_carlo():
    prior = cn.Gaussian(1.0, 1.0)
    anchor = np.array([1.2, 0.9, -0.8, 1.1, 0.7, -1.0, 0.3, 0.2, 1.5, 1.3, -0.6], np.float32)
    m = B.basin(anchor, tolerance=0.2)
    split = cn.estimate_rare(prior, ARCH, m, **SPLIT_KW)
    mc = cn.estimate_mc(prior, ARCH, m, n_samples=1 << 22, seed=1, encoding="pm1", confidence=0.999)
    s, p = split.estimates[0], mc.estimates[0]
    assert split.extra.reliable and p.hits >= 50, (s, p)
    assert s.ci[0] <= p.ci[1] and p.ci[0] <= s.ci[1], (s, p)


@pytest.mark.parametrize(
    "call, phrase",
    [
        (lambda: cn.estimate_mc(LATTICE, ARCH, B.basin(np.zeros(5), tolerance=0.1), n_samples=10), "shape \\(11,\\)"),
        (lambda: B.basin(ANCHOR, tolerance=0.0), "tolerance must be positive"),
        (lambda: B.basin(ANCHOR, tolerance=-1.0), "tolerance must be positive"),
        (lambda: B.basin(ANCHOR, tolerance=0.1, divergence="js"), "divergence must be one of kl"),
        (lambda: B.basin(np.full(11, np.nan), tolerance=0.1), "finite"),
    ],
)
def test_bad_input_is_refused_with_one_line(call, phrase):
    with pytest.raises(cn.CountnetsError, match=phrase) as err:
        call()
    assert "\n" not in str(err.value)


# ----------------------------------------------------------------------------- the radial baseline


def test_radial_estimate_of_the_whole_space_is_one():
    # An event that always holds: every ray runs to r_max, and the integral is the prior's total mass. From the
    # centre of an isotropic prior (every scale 1 here) every direction gives exactly 1 (the quadrature and the
    # sphere's area); off centre the directions differ and only their mean is 1, within the reported spread.
    prior, arch, always = cn.Gaussian(1.0, 1.0), cn.MLP(1, (1,)), cn.measures.finite()
    r = B.radial_estimate(prior, arch, always, np.zeros(4, np.float32), directions=16)
    assert r["hit_r_max"] == 16 and r["estimate"] == pytest.approx(1.0, rel=1e-3) and r["relative_spread"] < 1e-3
    r = B.radial_estimate(prior, arch, always, np.array([0.5, -1.0, 0.3, 0.1], np.float32), directions=1024)
    assert abs(r["estimate"] - 1) <= 3.3 * r["relative_spread"], r


def test_radial_estimate_of_a_convex_cone_matches_its_closed_form():
    # One dead hidden unit of an MLP 1-1-1 on the pm1 cube: b - w <= 0 and b + w <= 0, a convex cone, so star-
    # shaped around any point inside; its mass is Sheppard's 1/4 + asin(rho) / (2 pi) (tests/test_splitting.py).
    rho = (0.25 - 1.0) / (0.25 + 1.0)
    truth = 0.25 + np.arcsin(rho) / (2 * np.pi)
    anchor = np.array([0.0, -1.0, 0.3, 0.1], np.float32)
    r = B.radial_estimate(cn.Gaussian(1.0, 0.5), cn.MLP(1, (1,)), cn.measures.unit_dead(0, 0), anchor,
                          directions=512)  # fmt: skip
    assert abs(r["estimate"] / truth - 1) <= 3.3 * r["relative_spread"], (truth, r)


@pytest.mark.parametrize(
    "call, phrase",
    [
        (lambda: B.radial_estimate(LATTICE, ARCH, B.basin(ANCHOR, tolerance=0.1), ANCHOR), "Gaussian prior"),
        (lambda: B.radial_estimate(cn.Gaussian(), ARCH, B.basin(ANCHOR, tolerance=0.1), -ANCHOR), "inside the event"),
        (lambda: B.radial_estimate(cn.Gaussian(), ARCH, cn.measures.table(), ANCHOR), "with an event"),
    ],
)
def test_radial_bad_input_is_refused_with_one_line(call, phrase):
    with pytest.raises(cn.CountnetsError, match=phrase) as err:
        call()
    assert "\n" not in str(err.value)
