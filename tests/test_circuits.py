"""Circuit measurements: planted networks, plain-numpy references, reproducibility, MC vs exact.

The numpy references below are written from DESIGN section 3, not from the
library: truncation by the recursion s^(k)_l = h_0 + sum_{j<l} B_j(s^(k-1)_j),
removal by re-running the forward pass with branches switched off, and the goal
classification by the literal definitions of "direct" and "detour".
"""

import dataclasses
from collections import Counter

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import countnets as cn
from countnets.engine import driver, estimators
from countnets.experiments import detour, serial_parallel
from countnets.measures import circuits
from countnets.network import boolean
from countnets.network.architectures import GoalNet, ResMLP, apply_flat_batch, arch_from_config
from countnets.stats.statistics import clopper_pearson

CONFIDENCE = 0.999  # intervals for the statistical checks


# ----------------------------------------------------------------------------- numpy references


def _relu(a):
    return np.maximum(a, 0.0)


def _np_params(arch, theta):
    """Named float64 arrays, batched over networks, from the documented flat order."""
    out, off = {}, 0
    for spec in arch.layout():
        out[spec.name] = theta[:, off : off + spec.size].reshape(theta.shape[0], *spec.shape).astype(np.float64)
        off += spec.size
    assert off == theta.shape[1]
    return out


def _np_branch(arch, p, l, s):
    hidden = _relu(np.einsum("npd,ndw->npw", s, p[f"A{l}"]) + p[f"a{l}"][:, None, :])
    return arch.branch_scale * np.einsum("npw,nwd->npd", hidden, p[f"G{l}"])


def _np_h0(p, x):
    return np.einsum("pi,nid->npd", x, p["E"]) + p["e"][:, None, :]


def _np_readout(p, h):
    return np.einsum("npd,nd->np", h, p["u"]) + p["c"][:, None]


def _np_truncated(arch, p, x):
    """y^(0..L) straight from the recursion over (k, l); returns (N, L+1, points)."""
    L = arch.L
    h0 = _np_h0(p, x)
    s = {(0, l): h0 for l in range(1, L + 2)}
    for k in range(1, L + 1):
        for l in range(1, L + 2):
            s[(k, l)] = h0 + sum((_np_branch(arch, p, j, s[(k - 1, j)]) for j in range(1, l)), np.zeros_like(h0))
    ys = [_np_readout(p, h0)]
    for k in range(1, L + 1):
        ys.append(_np_readout(p, h0 + sum(_np_branch(arch, p, l, s[(k - 1, l)]) for l in range(1, L + 1))))
    return np.stack(ys, axis=1)


def _np_depths(tables):
    """k*, stable depth and Hamming distance of one network's (L+1, points) tables, by the definitions."""
    L = tables.shape[0] - 1
    f = tables[L]
    kstar = min(k for k in range(L + 1) if (tables[k] == f).all())
    stable = min(k for k in range(L + 1) if all((tables[kk] == f).all() for kk in range(k, L + 1)))
    hamming = int((tables[kstar - 1] != f).sum()) if kstar > 0 else 0
    return kstar, stable, hamming


def _np_removed(arch, p, x, removed):
    h = _np_h0(p, x)
    for l in range(1, arch.L + 1):
        if l not in removed:
            h = h + _np_branch(arch, p, l, h)
    return _np_readout(p, h)


def _np_cancelling(arch, p, x):
    """(N, pairs) booleans: removing i breaks f, removing j breaks f, removing both keeps f."""
    f = _np_removed(arch, p, x, ()) > 0
    out = []
    for i, j in circuits.block_pairs(arch.L):
        breaks_i = (f != (_np_removed(arch, p, x, (i,)) > 0)).any(axis=1)
        breaks_j = (f != (_np_removed(arch, p, x, (j,)) > 0)).any(axis=1)
        keeps_both = (f == (_np_removed(arch, p, x, (i, j)) > 0)).all(axis=1)
        out.append(breaks_i & breaks_j & keeps_both)
    return np.stack(out, axis=1)


def _np_goal(p, x):
    """Goal pre-activation and outputs with z free / 0 / 1, batched over networks."""
    h1 = _relu(np.einsum("pi,niw->npw", x, p["W1"]) + p["b1"][:, None, :])
    pre = np.einsum("npw,nw->np", h1, p["v"]) + p["b_z"][:, None]
    z = (pre > 0).astype(np.float64)

    def out(zz):
        xz = np.concatenate([np.broadcast_to(x, (zz.shape[0], *x.shape)), zz[:, :, None]], axis=2)
        h2 = _relu(np.einsum("npi,niw->npw", xz, p["W2"]) + p["b2"][:, None, :])
        return np.einsum("npw,nw->np", h2, p["u"]) + p["c"][:, None]

    return pre, out(z), out(np.zeros_like(z)), out(np.ones_like(z))


def _np_goal_class(f, g, f0, f1):
    """'direct', 'detour' or 'other' for one network, by the literal DESIGN definitions."""
    constant = g.all() or (~g).all()
    is_f, is_not_f = (g == f).all(), (g != f).all()
    direct = (f0 == f).all() or (f1 == f).all() or is_f or is_not_f
    detour = not constant and not is_f and not is_not_f and (f0 != f).any() and (f1 != f).any()
    return "direct" if direct else ("detour" if detour else "other")


def _sample(arch, prior, seed, chunk_size, n_chunks):
    source = estimators.sampling_source(prior, arch, chunk_size)
    key = driver.seed_key(seed)
    return jnp.concatenate([source.params(key, i) for i in range(n_chunks)], axis=0)


def _clear(values, margin=1e-4):
    """Networks whose float64 outputs are all farther than ``margin`` from the threshold."""
    return np.all(np.abs(values.reshape(values.shape[0], -1)) > margin, axis=1)


# ----------------------------------------------------------------------------- GoalNet


def test_goalnet_layout_order_and_fan_ins():
    arch = GoalNet(3, 5)
    assert [(s.name, s.shape, s.kind, s.fan_in) for s in arch.layout()] == [
        ("W1", (3, 5), "weight", 3),
        ("b1", (5,), "bias", 0),
        ("v", (5,), "weight", 5),
        ("b_z", (), "bias", 0),
        ("W2", (4, 5), "weight", 4),
        ("b2", (5,), "bias", 0),
        ("u", (5,), "weight", 5),
        ("c", (), "bias", 0),
    ]
    assert arch.n_params == 15 + 5 + 5 + 1 + 20 + 5 + 5 + 1
    scales = cn.Gaussian(2.0, 0.5).scales(arch.layout())
    expected = np.concatenate([np.full(15, 2 / np.sqrt(3)), np.full(5, 0.5), np.full(5, 2 / np.sqrt(5)), [0.5],
                               np.full(20, 1.0), np.full(5, 0.5), np.full(5, 2 / np.sqrt(5)), [0.5]])  # fmt: skip
    np.testing.assert_allclose(scales, expected, rtol=1e-6)
    assert arch_from_config(arch.config()) == arch
    with pytest.raises(cn.CountnetsError, match="w"):
        GoalNet(3, 0)


@pytest.mark.parametrize("encoding", ["01", "pm1"])
def test_goalnet_apply_matches_numpy(encoding):
    arch = GoalNet(3, 4)
    x = np.asarray(boolean.cube(3, encoding))
    theta = _sample(arch, cn.Gaussian(1, 1), 3, 64, 1)
    y = np.asarray(apply_flat_batch(arch, theta, jnp.asarray(x)))
    _, ref, _, _ = _np_goal(_np_params(arch, np.asarray(theta)), x.astype(np.float64))
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------------- planted ResMLPs


def _planted(arch, **arrays):
    params = arch.unflatten(jnp.zeros(arch.n_params, jnp.float32))
    for name, value in arrays.items():
        params[name] = jnp.asarray(value, jnp.float32).reshape(params[name].shape)
    return params


def _depths_of(arch, params, encoding="01"):
    x = boolean.cube(arch.n, encoding)
    y = circuits.truncated_outputs(arch, params, x)
    tables = boolean.truth_table(y)
    return boolean.table_to_int(np.asarray(tables[-1])), tuple(int(v) for v in circuits.depth_statistics(tables))


def test_planted_parallel_solution_has_depth_one():
    # Both blocks read the inputs only; block 1 writes AND, block 2 writes NOR into dim 2; y = dim 2 - 0.25.
    arch = ResMLP(2, 3, 2, 1, 1.0)
    params = _planted(arch, E=[[1, 0, 0], [0, 1, 0]], A1=[1, 1, 0], a1=[-1.5], G1=[0, 0, 1],
                      A2=[-1, -1, 0], a2=[0.5], G2=[0, 0, 1], u=[0, 0, 1], c=-0.25)  # fmt: skip
    f, (kstar, stable, hamming) = _depths_of(arch, params)
    assert f == 0b1001  # XNOR: points 0 and 3
    assert (kstar, stable, hamming) == (1, 1, 2)  # y^(0) is constant 0, two bits away


def test_planted_serial_solution_has_depth_two():
    # Block 1 writes AND into dim 2; block 2 reads dim 2 and writes it to dim 3; y reads dim 3 only.
    arch = ResMLP(2, 4, 2, 1, 1.0)
    params = _planted(arch, E=[[1, 0, 0, 0], [0, 1, 0, 0]], A1=[1, 1, 0, 0], a1=[-1.5], G1=[0, 0, 1, 0],
                      A2=[0, 0, 2, 0], a2=[-0.5], G2=[0, 0, 0, 1], u=[0, 0, 0, 1], c=-0.25)  # fmt: skip
    f, (kstar, stable, hamming) = _depths_of(arch, params)
    assert f == cn.parse_function("and", 2)
    assert (kstar, stable, hamming) == (2, 2, 1)


def test_truncation_ends_are_forward_pass_and_linear_readout():
    prior = cn.Gaussian(1, 1)
    for L, alpha, encoding in [(1, 1.0, "01"), (4, 0.5, "pm1")]:
        arch = ResMLP(3, 5, L, 4, alpha)
        x = boolean.cube(3, encoding)
        theta = _sample(arch, prior, L, 1024, 2)
        y = jax.jit(jax.vmap(lambda t: circuits.truncated_outputs(arch, arch.unflatten(t), x)))(theta)
        forward = jax.jit(lambda th: apply_flat_batch(arch, th, x))(theta)
        np.testing.assert_array_equal(np.asarray(y[:, -1]), np.asarray(forward))  # bit for bit
        linear = jax.vmap(lambda t: (lambda p: arch.readout(p, arch.embed(p, x)))(arch.unflatten(t)))(theta)
        np.testing.assert_array_equal(np.asarray(y[:, 0]), np.asarray(linear))
        assert y.shape == (theta.shape[0], L + 1, 8)


def test_planted_cancelling_pair_is_found():
    # Block 1 writes +1 to dim 2, block 2 writes -1 there, block 3 computes AND into dim 3; y = dim2 + dim3 - 0.25.
    arch = ResMLP(2, 4, 3, 1, 1.0)
    params = _planted(arch, E=[[1, 0, 0, 0], [0, 1, 0, 0]], a1=[1], G1=[0, 0, 1, 0], a2=[1], G2=[0, 0, -1, 0],
                      A3=[1, 1, 0, 0], a3=[-1.5], G3=[0, 0, 0, 1], u=[0, 0, 1, 1], c=-0.25)  # fmt: skip
    x = boolean.cube(2, "01")
    y = circuits.removal_outputs(arch, params, x, circuits.removal_sets(3))
    tables = boolean.truth_table(y)
    assert boolean.table_to_int(np.asarray(tables[0])) == cn.parse_function("and", 2)
    assert np.asarray(circuits.cancelling_pairs(tables, 3)).tolist() == [True, False, False]  # (1,2) only
    # Without the write/erase pair there is none.
    plain = dict(params, a1=jnp.zeros(1), a2=jnp.zeros(1))
    tables = boolean.truth_table(circuits.removal_outputs(arch, plain, x, circuits.removal_sets(3)))
    assert not np.asarray(circuits.cancelling_pairs(tables, 3)).any()


def test_removal_and_clamping_are_re_evaluations_that_leave_parameters_alone():
    arch = ResMLP(3, 4, 3, 4, 1.0)
    x = boolean.cube(3, "pm1")
    theta = _sample(arch, cn.Gaussian(1, 1), 0, 16, 1)
    params = arch.unflatten(theta[0])
    before = {k: np.array(v) for k, v in params.items()}
    y = circuits.removal_outputs(arch, params, x, [(), (2,), (1, 3)])
    np.testing.assert_array_equal(np.asarray(y[0]), np.asarray(arch.apply(params, x)))
    for row, removed in ((1, (2,)), (2, (1, 3))):
        copy = dict(params, **{f"G{l}": jnp.zeros_like(params[f"G{l}"]) for l in removed})  # reference: zeroed copy
        np.testing.assert_allclose(np.asarray(y[row]), np.asarray(arch.apply(copy, x)), rtol=1e-6, atol=1e-6)
    goal_arch = GoalNet(3, 4)
    goal_params = goal_arch.unflatten(_sample(goal_arch, cn.Gaussian(1, 1), 0, 16, 1)[0])
    goal_before = {k: np.array(v) for k, v in goal_params.items()}
    _, ys = circuits.goal_outputs(goal_arch, goal_params, x)
    np.testing.assert_array_equal(np.asarray(ys[0]), np.asarray(goal_arch.apply(goal_params, x)))
    for k, v in before.items():
        np.testing.assert_array_equal(np.asarray(params[k]), v)
    for k, v in goal_before.items():
        np.testing.assert_array_equal(np.asarray(goal_params[k]), v)
    with pytest.raises(cn.CountnetsError, match="1..3"):
        circuits.removal_outputs(arch, params, x, [(4,)])


# ----------------------------------------------------------------------------- planted GoalNets


def _goal_planted(**arrays):
    arch = GoalNet(2, 3)
    base = dict(W1=[[1, 0, 0], [1, 0, 0]], b1=[-1, 0, 0], v=[1, 0, 0], b_z=-0.5)  # z = AND(x0, x1)
    return arch, _planted(arch, **{**base, **arrays})


def _goal_of(arch, params):
    x = boolean.cube(2, "01")
    pre, y = circuits.goal_outputs(arch, params, x)
    tables = boolean.truth_table(y)
    flags = int(circuits.goal_flags(pre > 0, tables))
    return (boolean.table_to_int(np.asarray(tables[0])), boolean.table_to_int(np.asarray(pre > 0)),
            circuits.goal_class(flags), flags)  # fmt: skip


def test_planted_goal_detour_is_classified_with_its_goal():
    # y = relu(x0 - x1) + relu(x1 - x0) + relu(z) - 0.5 = OR; z = 0 gives XOR, z = 1 gives constant 1.
    arch, params = _goal_planted(W2=[[1, -1, 0], [-1, 1, 0], [0, 0, 1]], u=[1, 1, 1], c=-0.5)
    f, g, cls, flags = _goal_of(arch, params)
    assert (f, g) == (cn.parse_function("or", 2), cn.parse_function("and", 2))
    assert cls == circuits.DETOUR and flags == 0


def test_planted_direct_solutions_are_direct():
    # z is computed but ignored: XOR directly; f survives both clamps.
    arch, params = _goal_planted(W2=[[1, -1, 0], [-1, 1, 0], [0, 0, 0]], u=[1, 1, 0], c=-0.5)
    f, g, cls, flags = _goal_of(arch, params)
    assert (f, g) == (cn.parse_function("xor", 2), cn.parse_function("and", 2))
    assert cls == circuits.DIRECT and flags == circuits.GOAL_CLAMP0_KEEPS | circuits.GOAL_CLAMP1_KEEPS
    # The output copies the goal: g = f, both clamps break f, still direct.
    arch, params = _goal_planted(W2=[[0, 0, 0], [0, 0, 0], [0, 0, 1]], u=[0, 0, 1], c=-0.5)
    f, g, cls, flags = _goal_of(arch, params)
    assert f == g == cn.parse_function("and", 2)
    assert cls == circuits.DIRECT and flags == circuits.GOAL_IS_F


def test_goal_class_covers_every_flag_word():
    for flags in range(32):
        cls = circuits.goal_class(flags)
        assert cls in (circuits.DIRECT, circuits.DETOUR, circuits.OTHER)
        assert circuits.goal_class(np.int64(flags)) == cls
        assert int(circuits.goal_class(jnp.int32(flags))) == cls
    # A constant goal whose clamps both break f is the only "other" pattern.
    assert circuits.goal_class(circuits.GOAL_CONSTANT) == circuits.OTHER


# ----------------------------------------------------------------------------- independent numpy checks


@pytest.mark.parametrize("L,alpha,encoding", [(3, 1.0, "pm1"), (4, 0.5, "01")])
def test_effective_depth_agrees_with_numpy_network_by_network(L, alpha, encoding):
    arch = ResMLP(3, 6, L, 5, alpha)
    x = boolean.cube(3, encoding)
    theta = _sample(arch, cn.Gaussian(1, 1), 11, 1000, 3)
    y = jax.jit(jax.vmap(lambda t: circuits.truncated_outputs(arch, arch.unflatten(t), x)))(theta)
    stats = np.stack([np.asarray(s) for s in jax.vmap(lambda t: circuits.depth_statistics(t > 0))(y)], axis=1)
    ref_y = _np_truncated(arch, _np_params(arch, np.asarray(theta)), np.asarray(x, np.float64))
    np.testing.assert_allclose(np.asarray(y), ref_y, rtol=1e-4, atol=1e-4)
    clear = _clear(ref_y)
    assert clear.mean() > 0.95
    ref = np.array([_np_depths(t > 0) for t in ref_y])
    np.testing.assert_array_equal(stats[clear], ref[clear])
    assert (ref[:, 0] >= 2).any() and (ref[:, 1] > ref[:, 0]).any()  # serial and non-stable networks occur


def test_cancelling_pairs_agree_with_numpy_network_by_network():
    arch = ResMLP(3, 6, 3, 5, 1.0)
    x = boolean.cube(3, "pm1")
    sets = circuits.removal_sets(3)
    theta = _sample(arch, cn.Gaussian(1, 1), 5, 1000, 3)
    y = jax.jit(jax.vmap(lambda t: circuits.removal_outputs(arch, arch.unflatten(t), x, sets)))(theta)
    cancel = np.asarray(jax.vmap(lambda yy: circuits.cancelling_pairs(yy > 0, 3))(y))
    p = _np_params(arch, np.asarray(theta))
    x64 = np.asarray(x, np.float64)
    ref_y = np.stack([_np_removed(arch, p, x64, s) for s in sets], axis=1)
    clear = _clear(ref_y)
    assert clear.mean() > 0.95
    ref = _np_cancelling(arch, p, x64)
    np.testing.assert_array_equal(cancel[clear], ref[clear])
    assert ref.any(axis=1).sum() > 10  # the check sees networks with pairs


def test_goal_classes_agree_with_numpy_network_by_network():
    arch = GoalNet(3, 6)
    x = boolean.cube(3, "pm1")
    theta = _sample(arch, cn.Gaussian(1, 1), 9, 1000, 3)
    pre, y = jax.jit(jax.vmap(lambda t: circuits.goal_outputs(arch, arch.unflatten(t), x)))(theta)
    flags = jax.vmap(circuits.goal_flags)(pre > 0, y > 0)
    classes = np.asarray(circuits.goal_class(flags))
    goals = np.asarray(boolean.pack_table(pre > 0))[:, 0]
    ref_pre, ref_y, ref_y0, ref_y1 = _np_goal(_np_params(arch, np.asarray(theta)), np.asarray(x, np.float64))
    clear = _clear(np.concatenate([ref_pre, ref_y, ref_y0, ref_y1], axis=1))
    assert clear.mean() > 0.95
    names = {circuits.DIRECT: "direct", circuits.DETOUR: "detour", circuits.OTHER: "other"}
    ref = [_np_goal_class(*(a > 0 for a in (ref_y[i], ref_pre[i], ref_y0[i], ref_y1[i]))) for i in range(len(theta))]
    ref_goals = [boolean.table_to_int(ref_pre[i] > 0) for i in range(len(theta))]
    got = [names[int(c)] for c in classes]
    for i in np.flatnonzero(clear):
        assert (got[i], int(goals[i])) == (ref[i], ref_goals[i]), i
    counts = Counter(ref)
    assert counts["detour"] > 10 and counts["direct"] > 10 and counts["other"] == 0


# ----------------------------------------------------------------------------- experiments: plumbing and statistics


def _stable_part(extra):
    if "results" in extra:
        return [{k: v for k, v in e.items() if k != "seconds"} for e in extra["results"]]
    return extra


def test_experiment_histogram_matches_the_per_network_library():
    prior = cn.Gaussian(1, 1)
    result = serial_parallel.serial_parallel(
        prior, n=3, d=4, w=4, blocks=[3], branch_scales="1,0.5", n_samples=1300, seed=4, chunk_size=256, encoding="pm1"
    )
    # Same networks (chunks 0..5 of seed 4) through the per-network functions: identical (f, k*) counts.
    for entry, alpha in zip(result.extra["results"], (1.0, 0.5), strict=True):
        arch = ResMLP(3, 4, 3, 4, alpha)
        theta = _sample(arch, prior, 4, 256, 6)[:1300]
        x = boolean.cube(3, "pm1")

        @jax.jit
        @jax.vmap
        def per_network(t, arch=arch):
            tables = circuits.truncated_outputs(arch, arch.unflatten(t), x) > 0
            return boolean.pack_table(tables[-1])[0], circuits.depth_statistics(tables)[0]

        fs, kstar = (np.asarray(a) for a in per_network(theta))
        expected = Counter(zip(fs.tolist(), kstar.tolist(), strict=True))
        got = Counter()
        for t in entry["per_target"]:
            for k, c in enumerate(t["kstar_counts"]):
                if c:
                    got[(int(t["function"], 16), k)] = c
        assert got == expected
        assert sum(entry["kstar_counts"]) == 1300 == sum(t["hits"] for t in entry["per_target"])
        assert entry["parallel"]["hits"] + entry["serial"]["hits"] == 1300
        assert entry["branch_scale"] == alpha and entry["arch"]["branch_scale"] == alpha


def test_kstar_terms_recombine_to_the_effective_depth_counts_exactly():
    # P(f, k* = k) as a signed sum of joint masses (measures.kstar_terms, issue 28): on the same networks, the signed
    # sum of the terms' Monte Carlo hits equals the count of (f, k* = k) by depth_statistics, for every k and f.
    arch, prior = ResMLP(3, 4, 3, 2, 1.0), cn.Gaussian(1, 1)
    x = boolean.cube(3, "pm1")
    theta = _sample(arch, prior, 5, 512, 4)

    @jax.jit
    @jax.vmap
    def per_network(t):
        tables = circuits.truncated_outputs(arch, arch.unflatten(t), x) > 0
        return boolean.pack_table(tables[-1])[0], circuits.depth_statistics(tables)[0]

    fs, kstar = (np.asarray(a).tolist() for a in per_network(theta))
    counts = Counter(zip(fs, kstar, strict=True))
    spread = Counter(f for f, _ in counts)  # functions reached at several depths
    chosen = [f for f, _ in Counter(fs).most_common() if spread[f] >= 2][:2]
    assert len(chosen) == 2 and all(counts[(f, k)] > 0 for f in chosen for k in (0, 1))
    terms = {(f, k): cn.measures.kstar_terms(f, k) for f in chosen for k in range(arch.L + 1)}
    measures = list({m.name: m for ts in terms.values() for _, m in ts}.values())
    result = cn.estimate_mc(prior, arch, measures, n_samples=2048, seed=5, chunk_size=512, encoding="pm1")
    hits = {m.name: e.hits for m, e in zip(measures, result.estimates, strict=True)}
    for (f, k), ts in terms.items():
        assert sum(sign * hits[m.name] for sign, m in ts) == counts[(f, k)], (hex(f), k)


def test_a_truncation_order_checks_its_network():
    with pytest.raises(cn.CountnetsError, match="truncation order 4 is past the network's L = 3 blocks"):
        cn.estimate_mc(cn.Gaussian(), ResMLP(3, 4, 3, 2), [cn.measures.truncation("xor", 4)], n_samples=8)
    with pytest.raises(cn.CountnetsError, match="a truncation order needs a ResMLP, got MLP"):
        cn.estimate_mc(cn.Gaussian(), cn.MLP(3, (4,)), [cn.measures.truncation("xor", 1)], n_samples=8)


def _exact_and_mc(fn, prior, splits, **kw):
    """Exact enumeration, and the same Monte Carlo run split into steps and devices in different ways."""
    exact = fn(prior, exact=True, **kw)
    runs = [fn(prior, n_samples=20_000, seed=7, chunk_size=1024, chunks_per_step=c, devices=d, **kw) for c, d in splits]
    for other in runs[1:]:  # 20,000 is not a multiple of 1024: the last chunk is partial
        assert _stable_part(other.extra) == _stable_part(runs[0].extra)
    assert runs[0].samples == 20_000
    return exact, runs[0]


ONE_DEVICE_1_VS_3 = [(1, 1), (3, 1)]  # chunks per step 1 and 3 on one device
ONE_VS_ALL_DEVICES = [(1, 1), (None, None)]  # one device against every (fake) device, default steps


def _assert_inside(hits_mc, n_mc, hits_exact, n_exact):
    lo, hi = clopper_pearson(hits_mc, n_mc, CONFIDENCE)
    assert lo <= hits_exact / n_exact <= hi, (hits_mc, n_mc, hits_exact, n_exact)


def test_serial_parallel_monte_carlo_matches_exact_enumeration_for_any_chunks_per_step():
    splits = [(1, 1), (3, 1), (None, None)]
    ex, mc = _exact_and_mc(serial_parallel.serial_parallel, cn.Lattice((-1.0, 1.0)), splits, n=2, d=1, w=1, blocks=[2])
    e_ex, e_mc = ex.extra["results"][0], mc.extra["results"][0]
    assert ex.samples == 2**11 and sum(e_ex["kstar_counts"]) == 2**11
    assert e_ex["kstar_counts"][2] > 0 and e_ex["ratio"]["ci"][0] == e_ex["ratio"]["ci"][1]
    for k in range(3):
        _assert_inside(e_mc["kstar_counts"][k], mc.samples, e_ex["kstar_counts"][k], ex.samples)


def test_write_erase_monte_carlo_matches_exact_enumeration_for_any_chunks_per_step():
    ex, mc = _exact_and_mc(detour.write_erase, cn.Lattice((-1.0, 1.0)), ONE_VS_ALL_DEVICES, n=1, d=2, w=1, blocks=2)
    assert ex.samples == 2**17 and ex.extra["counts"]["with_pair"] > 0
    assert sum(mc.extra["counts"].values()) == mc.samples
    _assert_inside(mc.extra["counts"]["with_pair"], mc.samples, ex.extra["counts"]["with_pair"], ex.samples)


def test_goal_monte_carlo_matches_exact_enumeration_for_any_chunks_per_step():
    ex, mc = _exact_and_mc(detour.goal_detour, cn.Lattice((-1.0, 1.0)), ONE_DEVICE_1_VS_3, n=2, w=1)
    assert ex.extra["counts"]["detour"] > 0 and ex.extra["counts"]["other"] == 0
    assert sum(mc.extra["counts"].values()) == mc.samples
    for name in ("direct", "detour"):
        _assert_inside(mc.extra["counts"][name], mc.samples, ex.extra["counts"][name], ex.samples)


def test_a_finished_checkpoint_is_resumed_with_the_same_counts(tmp_path):
    kw = dict(n=3, w=4, n_samples=1500, chunk_size=512, seed=2, checkpoint=tmp_path / "goal.ckpt", checkpoint_every=0)
    first = detour.goal_detour(cn.Gaussian(1, 1), **kw)
    again = detour.goal_detour(cn.Gaussian(1, 1), **kw)
    assert again.extra["checkpoint"]["resumed_from"] == 1500
    assert again.extra["counts"] == first.extra["counts"] and again.extra["goals"] == first.extra["goals"]
    with pytest.raises(cn.CountnetsError, match="seed"):
        detour.goal_detour(cn.Gaussian(1, 1), **{**kw, "seed": 3})


def test_experiment_arguments_are_checked():
    prior = cn.Gaussian(1, 1)
    with pytest.raises(cn.CountnetsError, match="branch scale"):
        serial_parallel.serial_parallel(prior, n=3, d=4, w=4, blocks=[2], branch_scales="fast", n_samples=10)
    with pytest.raises(cn.CountnetsError, match="blocks"):
        serial_parallel.serial_parallel(prior, n=3, d=4, w=4, blocks=[0], n_samples=10)
    with pytest.raises(cn.CountnetsError, match="out of range"):
        serial_parallel.serial_parallel(prior, n=3, d=4, w=4, blocks=[2], targets="0x1ff", n_samples=10)
    with pytest.raises(cn.CountnetsError, match="2..8 blocks"):
        detour.write_erase(prior, n=3, d=4, w=4, blocks=1, n_samples=10)
    with pytest.raises(cn.CountnetsError, match="Lattice"):
        detour.goal_detour(prior, n=3, w=4, exact=True)
    assert serial_parallel.parse_branch_scales("1, invsqrt ,0.250") == ("1", "invsqrt", "0.25")
    assert serial_parallel.resolve_branch_scale("invsqrt", 9) == pytest.approx(1 / 3)
    assert serial_parallel.resolve_targets("all", 3) is None
    assert serial_parallel.resolve_targets("and,0x96", 3) == [0x80, 0x96]


def test_detour_table_ranks_targets_on_unrounded_probability():
    result = detour.goal_detour(cn.Gaussian(1, 1), n=2, w=3, n_samples=512, chunk_size=256)
    per_target = list(result.extra["per_target"])
    assert len(per_target) >= 2
    # Two probabilities that print alike ("1.000e-03"): the larger must come first
    # even though it is listed second. (Payloads are frozen records: edit copies.)
    probabilities = [1.00001e-3, 1.00004e-3] + [1e-6] * (len(per_target) - 2)
    per_target = [dataclasses.replace(t, p=p) for t, p in zip(per_target, probabilities, strict=True)]
    result = dataclasses.replace(result, extra=dataclasses.replace(result.extra, per_target=per_target))
    rows = [line for line in detour.format_detour(result).splitlines() if "1.000e-03" in line]
    assert [row.split()[0] for row in rows] == [per_target[1]["function"], per_target[0]["function"]]
