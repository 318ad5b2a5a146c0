"""Composition targets (issue 15): planted networks, placement null, minimal depth."""

import itertools
import math

import numpy as np
import pytest

from countnets.measures import composition as C
from countnets.network.architectures import ResMLP


@pytest.mark.parametrize("f", C.FORMS, ids=lambda f: f"{f.target}-{f.name}")
def test_planted_networks_have_the_stated_kstar_in_every_placement(f):
    # Every valid placement in L = 4 blocks, widths 1, 2 and 4 (n = 4, "01"); n = 6, "pm1" at one placement each.
    seen = 0
    for w in (1,) if f.name == "serial-2" else (1, 2, 4):  # serial-2's two units are in sequence: w > 1 adds zeros
        for placement in itertools.product(range(1, 5), repeat=len(f.gates)):
            if not C.valid_placement(f, placement, 4, w):
                continue
            first = seen == 0
            for n, enc in ((4, "01"), (6, "pm1")) if first else ((4, "01"),):
                arch = ResMLP(n, C.stream_width(f), 4, w, 1.0)
                table, kstar, stable, hamming = C.planted_depth(f, arch, placement, enc)
                assert (table == C.target_table(f.target, n)).all()
                assert kstar == f.kstar and stable == f.kstar
                assert hamming >= 1
                seen += 1
    assert seen >= C.placement_count(f, 4, max(g.width for g in f.gates))


@pytest.mark.parametrize("alpha", [1.0, 0.25, 1 / math.sqrt(8)])
def test_planted_kstar_does_not_depend_on_branch_scale(alpha):
    for f in C.FORMS:
        arch = ResMLP(5, 8, 8, 4, alpha)
        table, kstar, _, _ = C.planted_depth(f, arch)
        assert (table == C.target_table(f.target, 5)).all() and kstar == f.kstar


def test_planted_errors():
    f = C.form("parity4", "chain")
    with pytest.raises(Exception, match="d >= 7"):
        C.planted_network(f, ResMLP(4, 6, 3, 2))
    with pytest.raises(Exception, match="does not fit"):
        C.planted_network(f, ResMLP(4, 8, 2, 2))
    with pytest.raises(Exception, match="invalid placement"):
        C.planted_network(f, ResMLP(4, 8, 3, 2), placement=(1, 1, 2))


def test_serial2_needs_its_two_blocks():
    # parity4 with k* = 2 in ResMLP(n, 6, L = 2, w = 1); encoding 01 at n = 4 is in the lattice-neighbourhood test
    f = C.form("parity4", "serial-2")
    for n, enc in ((6, "pm1"),):
        table, kstar, stable, hamming = C.planted_depth(f, ResMLP(n, 6, 2, 1), encoding=enc)
        assert (table == C.target_table("parity4", n)).all() and (kstar, stable) == (2, 2)
        assert hamming == 2 ** (n - 4)  # only x0..x3 = 1111 differs at order 1
        assert C.min_depth("parity4", n, 6, 2, 1)["min_depth"] == 2


def test_targets_are_the_stated_functions():
    j = np.arange(16)
    assert C.target_table("parity4", 4).tolist() == [bin(v).count("1") % 2 == 1 for v in j]
    xa = [((v ^ v >> 1) & 1) and ((v >> 2 ^ v >> 3) & 1) for v in j]
    assert C.target_table("xor-and-xor", 4).tolist() == [bool(v) for v in xa]
    # extra inputs are ignored: the n = 6 table repeats the n = 4 one
    assert (C.target_table("parity4", 6).reshape(4, 16) == C.target_table("parity4", 4)).all()


@pytest.mark.parametrize("f", C.FORMS, ids=lambda f: f"{f.target}-{f.name}")
def test_placement_dp_matches_bruteforce(f):
    for L in range(1, 9):
        for w in range(1, 5):
            assert C.placement_count(f, L, w) == C.placement_count_bruteforce(f, L, w)


def test_placement_closed_forms():
    comb = math.comb
    for L in range(1, 9):
        for w in (2, 3):  # one 2-unit gate per block
            assert C.placement_count(C.form("parity4", "chain"), L, w) == comb(L, 3)
            assert C.placement_count(C.form("parity4", "tree"), L, w) == 2 * comb(L, 3)
            assert C.placement_count(C.form("xor-and-xor", "parallel"), L, w) == L * (L - 1)
            assert C.placement_count(C.form("xor-and-xor", "serial"), L, w) == comb(L, 2)
        # w = 4: the two parallel XORs may share a block
        assert C.placement_count(C.form("parity4", "tree"), L, 4) == 2 * comb(L, 3) + comb(L, 2)
        assert C.placement_count(C.form("xor-and-xor", "parallel"), L, 4) == L * L
        assert C.placement_count(C.form("parity4", "chain-w1"), L, 1) == comb(L, 3)
        assert C.placement_count(C.form("parity4", "tree-w1"), L, 1) == 2 * comb(L, 3)
        assert C.placement_count(C.form("parity4", "shallow"), L, 1) == math.perm(L, 3)
    assert C.placement_null_ratio("xor-and-xor", "parallel", "serial", 5, 4) == pytest.approx(25 / 10)
    assert C.placement_null_ratio("parity4", "tree", "chain", 6, 2) == 2.0
    assert math.isnan(C.placement_null_ratio("parity4", "tree", "chain", 2, 2))


def test_threshold_lp():
    assert not C.is_threshold_function(C.target_table("parity4", 4), 4)
    assert not C.is_threshold_function(C.target_table("xor-and-xor", 5), 5)
    j = np.arange(16)
    assert C.is_threshold_function((j & 1) & (j >> 1 & 1), 4)  # x0 AND x1
    assert C.is_threshold_function(j * 0, 4)


def test_min_depth_rows():
    r = C.min_depth("parity4", 4, 8, 3, 2)
    assert (r["lower"], r["upper"], r["min_depth"], r["one_hidden_layer"]) == (1, 1, 1, True)
    assert r["forms_fitting"]["tree"] == 2 and r["forms_fitting"]["chain"] == 3
    r = C.min_depth("parity4", 4, 8, 2, 1)  # 2 units: no one-layer net computes parity4, serial-2 fits
    assert (r["lower"], r["upper"], r["min_depth"], r["status"]) == (2, 2, 2, "proved")
    assert r["composition_needed"] and not r["one_hidden_layer"] and r["forms_fitting"] == {"serial-2": 2}
    r = C.min_depth("parity4", 5, 5, 2, 1)  # d too small for serial-2: the lower bound stands alone
    assert (r["lower"], r["upper"], r["status"]) == (2, None, "no construction fits")
    assert C.min_depth("parity4", 4, 8, 1, 2)["status"] == "not implementable"  # k* <= L = 1 < 2
    r = C.min_depth("parity4", 6, 8, 3, 1)  # 3 units: shallow
    assert (r["lower"], r["min_depth"], r["composition_needed"]) == (1, 1, False)
    r = C.min_depth("xor-and-xor", 6, 8, 2, 2)
    assert r["min_depth"] == 1 and r["forms_fitting"] == {"parallel": 1, "serial": 2, "parallel-w1": 1}


@pytest.mark.parametrize("f", C.FORMS, ids=lambda f: f"{f.target}-{f.name}")
def test_lower_bound_holds_on_the_lattice_neighbourhood_of_each_planted_network(f):
    # Every network that differs from the planted one in one parameter set to -1, 0 or 1: none of those
    # implementing the target has k* below min_depth's lower bound (1; 2 for serial-2 at L*w = 2), and the
    # planted k* is not below it.
    import jax
    import jax.numpy as jnp

    from countnets.measures import circuits
    from countnets.network import boolean

    arch = ResMLP(4, C.stream_width(f), len(f.gates), max(g.width for g in f.gates))
    theta = C.planted_network(f, arch)
    thetas = [theta]
    for i in range(theta.size):
        for v in (-1.0, 0.0, 1.0):
            if theta[i] != v:
                t = theta.copy()
                t[i] = v
                thetas.append(t)
    x = boolean.cube(4)

    def one(t):
        tables = boolean.truth_table(circuits.truncated_outputs(arch, arch.unflatten(t), x))
        return (tables[-1], *circuits.depth_statistics(tables))

    tables, kstar, _, _ = jax.jit(jax.vmap(one))(jnp.asarray(np.stack(thetas)))
    hits = np.all(np.asarray(tables) == C.target_table(f.target, 4)[None, :], axis=1)
    lower = C.min_depth(f.target, 4, arch.d, arch.L, arch.w)["lower"]
    assert lower == (2 if f.name == "serial-2" else 1) and hits[0] and int(kstar[0]) == f.kstar
    assert (np.asarray(kstar)[hits] >= lower).all()
    # the table of docs/composition.md: neighbours, networks implementing f (planted included), k* counts
    expected = {
        "tree": (270, 74, [0, 0, 74, 0]), "chain": (270, 75, [0, 0, 0, 75]), "tree-w1": (182, 21, [0, 0, 20, 1]),
        "chain-w1": (183, 21, [0, 0, 1, 20]), "shallow": (182, 20, [0, 20, 0, 0]), "parallel": (181, 44, [0, 44, 0]),
        "serial": (180, 43, [0, 0, 43]), "parallel-w1": (129, 21, [0, 19, 2]), "serial-2": (135, 11, [0, 0, 11]),
    }  # fmt: skip
    counts = np.bincount(np.asarray(kstar)[hits], minlength=arch.L + 1).tolist()
    assert (len(thetas) - 1, int(hits.sum()), counts) == expected[f.name]


# ----------------------------------------------------------------------------- one-hidden-layer realizability


def _parity(n):
    return np.array([bin(j).count("1") % 2 == 1 for j in range(2**n)])


def _check_witness(r, table, resmlp=False):
    # the LP solution as a real network (float64) and as ResMLP(n, n + 1, 1, units) through the library's forward pass
    import jax.numpy as jnp

    from countnets.network import boolean

    g = C.one_layer_eval(r.witness, r.n)
    assert ((g > 0) == table).all() and np.abs(g).min() > 0.99
    k = len(r.witness[2])
    if not resmlp:
        return
    a, c0, units = r.witness
    arch = ResMLP(r.n, r.n + 1, 1, k)
    p = {"E": np.eye(r.n, r.n + 1), "e": np.zeros(r.n + 1), "A1": np.zeros((r.n + 1, k)), "a1": np.zeros(k),
         "G1": np.zeros((k, r.n + 1)), "u": np.append(a, 1.0), "c": np.asarray(c0)}  # fmt: skip
    for i, (sgn, u, b) in enumerate(units):
        p["A1"][: r.n, i], p["a1"][i], p["G1"][i, r.n] = u, b, sgn
    y = arch.apply({key: jnp.asarray(v, jnp.float32) for key, v in p.items()}, boolean.cube(r.n))
    assert (np.asarray(y > 0) == table).all()


def test_threshold_dichotomies_are_complete():
    assert [C.threshold_dichotomies(n).size for n in (1, 2, 3, 4)] == [4, 14, 104, 1882]  # OEIS A000609
    assert C.threshold_dichotomies(4, max_weight=4).size == 1882
    # n = 3: a mask is listed iff the LP finds it a threshold function
    listed = set(C.threshold_dichotomies(3).tolist())
    for m in range(256):
        assert (m in listed) == C.is_threshold_function(np.array([(m >> j) & 1 for j in range(8)], bool), 3)


def test_one_layer_known_cases():
    xor2, p3 = _parity(2), _parity(3)
    assert not C.one_layer_realizable(xor2, 2, 0)
    r = C.one_layer_search(xor2, 2, 1)
    assert r.realizable
    _check_witness(r, xor2)
    assert not C.one_layer_realizable(p3, 3, 1)
    r = C.one_layer_search(p3, 3, 2)
    assert r.realizable
    _check_witness(r, p3, resmlp=True)
    j = np.arange(16)
    and01 = ((j & 1) & (j >> 1 & 1)).astype(bool)
    for units in (0, 1):
        r = C.one_layer_search(and01, 4, units)
        assert r.realizable
        _check_witness(r, and01)
    with pytest.raises(Exception, match="n <= 4"):
        C.one_layer_search(_parity(5), 5, 1)


def test_one_layer_table_cheap_cases():
    # ONE_LAYER_INSUFFICIENT / SUFFICIENT, except parity4 at 2 units (scripts/one_layer_lp.py, 25,162 LPs)
    p4, xa = C.target_table("parity4", 4), C.target_table("xor-and-xor", 4)
    assert C.ONE_LAYER_INSUFFICIENT == {"parity4": 2, "xor-and-xor": 0}
    assert C.ONE_LAYER_SUFFICIENT == {"parity4": 3, "xor-and-xor": 1}
    r = C.one_layer_search(p4, 4, 1)
    assert (r.realizable, r.dichotomies, r.classes, r.symmetries, r.orbits, r.lps) == (False, 1882, 941, 384, 24, 24)
    assert not C.one_layer_realizable(xa, 4, 0)
    r = C.one_layer_search(xa, 4, 1)
    assert r.realizable
    _check_witness(r, xa)
    f = C.form("parity4", "shallow")  # 3 units suffice for parity4
    assert f.units == 3 and f.kstar == 1


def test_parity4_two_units_on_a_sample_of_configurations():
    # the full enumeration is scripts/one_layer_lp.py; here 300 random (D1, s1, D2, s2) are infeasible
    from countnets.measures.composition import _cube_bits, _one_layer_lp, _one_layer_system

    masks = C.threshold_dichotomies(4)
    xa = np.hstack([_cube_bits(4).astype(float), np.ones((16, 1))])
    sign = np.where(C.target_table("parity4", 4), 1.0, -1.0)
    rng = np.random.default_rng(15)
    for _ in range(300):
        d1, d2 = ((masks[rng.integers(masks.size)] >> np.arange(16)) & 1 for _ in range(2))
        s1, s2 = (int(v) for v in rng.choice([-1, 1], 2))
        assert _one_layer_lp(*_one_layer_system(sign, xa, [(d1.astype(bool), s1), (d2.astype(bool), s2)])) is None


def test_one_layer_symmetry_reduction_agrees_with_plain_enumeration():
    rng = np.random.default_rng(3)
    for _ in range(4):
        table = rng.random(8) < 0.5
        assert C.one_layer_search(table, 3, 1).realizable == C.one_layer_search(table, 3, 1, symmetry=False).realizable


def test_one_layer_random_networks_are_found():
    # tables of random integer one-layer nets are realizable with their unit count (1 unit on n = 3 and 4)
    rng = np.random.default_rng(4)
    for n in (3, 4):
        x = C._cube_bits(n)
        for _ in range(4):
            a, u = rng.integers(-2, 3, n), rng.integers(-2, 3, n)
            g = x @ a + rng.integers(-2, 3) + 0.5 + rng.choice([-2, 2]) * np.maximum(x @ u + rng.integers(-2, 3), 0)
            r = C.one_layer_search(g > 0, n, 1)
            assert r.realizable
            _check_witness(r, g > 0)
