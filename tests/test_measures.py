"""Every measure against a plain-numpy reference written from its definition, network by network.

The references below re-derive each quantity in float64 numpy from the documented flat
parameter order (DESIGN section 2), not from the library. Outputs that sit within 1e-4
of a threshold are left out of the comparison, since float32 and float64 may put them
on different sides.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_circuits import _np_depths, _np_goal, _np_goal_class, _np_params, _np_removed, _np_truncated

import countnets as cn
from countnets import measures as M
from countnets.measures import circuits
from countnets.network import boolean

N_NETS = 2048
TOL = 1e-4


def _draw(prior, arch, seed=0, n=N_NETS):
    return np.asarray(jax.jit(lambda: prior.sample(jax.random.PRNGKey(seed), 0, n, arch.layout()))())


def _evaluate(measure, arch, theta, encoding="01"):
    """(event, score, keys) of each network through the measure's own functions, jitted and vmapped."""
    x = cn.cube(arch.n, encoding)

    def one(t):
        params = arch.unflatten(t)
        out = {}
        if measure.event is not None:
            out["event"] = measure.event(arch, params, x, "highest")
        if measure.score is not None:
            out["score"] = measure.score(arch, params, x, "highest")
        if measure.key is not None:
            out["key"] = measure.key(arch, params, x, "highest")
        out["outputs"] = measure.outputs(arch, params, x, "highest")
        return out

    return {k: np.asarray(v) for k, v in jax.jit(jax.vmap(one))(jnp.asarray(theta)).items()}


def _np_mlp(arch, theta, x):
    """Hidden pre-activations (list of (N, points, width)) and outputs (N, points) in float64."""
    p = _np_params(arch, theta)
    h, pres = x.astype(np.float64)[None], []
    layers = len(arch.hidden) + 1
    for i in range(1, layers + 1):
        pre = np.einsum("npi,nio->npo", h, p[f"W{i}"]) + p[f"b{i}"][:, None, :]
        if i < layers:
            pres.append(pre)
            h = np.maximum(pre, 0.0)
    return pres, pre[:, :, 0]


def _clear(values):
    """Networks none of whose values lie within TOL of 0."""
    return np.all(np.abs(values.reshape(values.shape[0], -1)) > TOL, axis=1)


ARCH = cn.MLP(3, (4, 3), "relu")
PRIOR = cn.Gaussian(1.0, 1.0)


@pytest.fixture(scope="module")
def theta():
    return _draw(PRIOR, ARCH)


@pytest.fixture(scope="module")
def reference(theta):
    x = np.asarray(boolean.cube_bits(3), dtype=np.float64)
    pres, y = _np_mlp(ARCH, theta, x)
    return {"pres": pres, "y": y}


def _np_agreement(y, labels):
    bits = y > 0
    agree = bits == labels
    violation = np.where(agree, 0.0, np.where(labels, -y, y))
    return agree.sum(axis=1) + 0.5 / (1.0 + violation.sum(axis=1))


@pytest.mark.parametrize("f", ["0x80", "and", "parity", 0x17, "not:or"])
def test_implements_event_and_score(theta, reference, f):
    m = M.implements(f)
    out = _evaluate(m, ARCH, theta)
    y = reference["y"]
    table = boolean.parse_function(f, 3) if isinstance(f, str) else f
    labels = boolean.int_to_table(table, 3)[None, :]
    clear = _clear(y)
    assert clear.mean() > 0.99
    expected = np.all((y > 0) == labels, axis=1)
    np.testing.assert_array_equal(out["event"][clear], expected[clear])
    np.testing.assert_allclose(out["score"][clear], _np_agreement(y, labels)[clear], rtol=1e-4)
    # The event is exactly "score >= level", for every network.
    np.testing.assert_array_equal(out["event"], out["score"] >= m.level(ARCH))
    assert m.level(ARCH) == 8.0


def test_implements_hits_the_table_histogram(theta):
    # Every network implements exactly one function: the implements events of all 256
    # functions partition the sample, and each count equals the table histogram's.
    keys = _evaluate(M.table(), ARCH, theta)["key"]
    tables = [t for (t,) in M.decode_keys(keys[:, 0, :], M.table().key_fields(ARCH))]
    events = np.stack([_evaluate(M.implements(f), ARCH, theta)["event"] for f in sorted(set(tables))])
    assert (events.sum(axis=0) == 1).all()
    for row, f in zip(events, sorted(set(tables)), strict=True):
        assert row.sum() == tables.count(f)


def test_fits_event_and_score(theta, reference):
    points, target = [0, 3, 5, 6], "parity"
    m = M.fits(points, target)
    out = _evaluate(m, ARCH, theta)
    y = reference["y"][:, points]
    labels = boolean.int_to_table(boolean.parse_function(target, 3), 3)[points][None, :]
    clear = _clear(y)
    np.testing.assert_array_equal(out["event"][clear], np.all((y > 0) == labels, axis=1)[clear])
    np.testing.assert_allclose(out["score"][clear], _np_agreement(y, labels)[clear], rtol=1e-4)
    np.testing.assert_array_equal(out["event"], out["score"] >= m.level(ARCH))
    same = _evaluate(M.fits(points, [bool(v) for v in labels[0]]), ARCH, theta)
    np.testing.assert_array_equal(same["event"], out["event"])


@pytest.mark.parametrize("layer, unit", [(0, 0), (0, 3), (1, 2)])
def test_unit_dead_event_and_score(theta, reference, layer, unit):
    m = M.unit_dead(layer=layer, unit=unit)
    out = _evaluate(m, ARCH, theta)
    pre = reference["pres"][layer][:, :, unit]
    clear = _clear(pre)
    np.testing.assert_array_equal(out["event"][clear], np.all(pre <= 0, axis=1)[clear])
    np.testing.assert_allclose(out["score"][clear], -np.maximum(pre, 0).sum(axis=1)[clear], rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(out["event"], out["score"] >= 0)
    assert 0 < out["event"].mean() < 1


def test_combinators(theta):
    a, b = M.implements("0x80"), M.unit_dead(0, 3)
    ea, eb = _evaluate(a, ARCH, theta)["event"], _evaluate(b, ARCH, theta)["event"]
    both = _evaluate(M.all_of(a, b), ARCH, theta)
    either = _evaluate(M.any_of(a, b), ARCH, theta)
    neither = _evaluate(M.not_(M.any_of(a, b)), ARCH, theta)
    np.testing.assert_array_equal(both["event"], ea & eb)
    np.testing.assert_array_equal(either["event"], ea | eb)
    np.testing.assert_array_equal(neither["event"], ~(ea | eb))
    np.testing.assert_array_equal(both["event"], both["score"] >= 0)
    np.testing.assert_array_equal(either["event"], either["score"] >= 0)
    assert M.not_(a).score is None
    assert both["outputs"].shape == (N_NETS, 1, 8 + 8)


def test_strings_and_ints_mean_implements():
    assert M.as_measure("and").name == "implements(and)"
    assert M.as_measure(0x80).spec == {"implements": "0x80"}
    with pytest.raises(cn.CountnetsError, match="expected a Measure"):
        M.as_measure(1.5)


@pytest.mark.parametrize(
    "measure, arch, match",
    [
        (M.implements(2**9), cn.MLP(3, (2,)), "out of range"),
        (M.implements("x5"), cn.MLP(3, (2,)), "below n=3"),
        (M.unit_dead(2, 0), cn.MLP(3, (2,)), "hidden layer"),
        (M.unit_dead(0, 2), cn.MLP(3, (2,)), "has 2 units"),
        (M.fits([9], "and"), cn.MLP(3, (2,)), "0..7"),
        (M.effective_depth(), cn.MLP(3, (2,)), "needs a ResMLP"),
        (M.cancelling_pair(), cn.ResMLP(3, 2, 1, 2), "2..8 blocks"),
        (M.goal(), cn.ResMLP(3, 2, 2, 2), "needs a GoalNet"),
    ],
)
def test_measures_refuse_architectures_they_do_not_apply_to(measure, arch, match):
    with pytest.raises(cn.CountnetsError, match=match):
        measure.check(arch)


def test_effective_depth_key_matches_the_recursion():
    arch = cn.ResMLP(3, 3, 3, 2, 1.0)
    theta = _draw(cn.Gaussian(1.0, 1.0), arch, n=1024)
    m = M.effective_depth(branch_scales=("1", "invsqrt"))
    out = _evaluate(m, arch, theta, "pm1")
    x = np.asarray(cn.cube(3, "pm1"), dtype=np.float64)
    L, span = arch.L, 2**arch.n + 1
    for index, alpha in enumerate((1.0, 1 / np.sqrt(3))):
        a = cn.ResMLP(3, 3, 3, 2, alpha)
        ys = _np_truncated(a, _np_params(a, theta), x)
        clear = _clear(ys)
        keys = M.decode_keys(out["key"][:, index, :], m.key_fields(arch))
        for i in np.flatnonzero(clear):
            tables = ys[i] > 0
            kstar, stable, hamming = _np_depths(tables)
            assert keys[i] == (index, boolean.table_to_int(tables[-1]), (kstar * (L + 1) + stable) * span + hamming)


def test_cancelling_pair_key_and_event_match_removal():
    arch = cn.ResMLP(2, 2, 3, 2, 1.0)
    theta = _draw(cn.Gaussian(1.0, 1.0), arch, n=1024)
    m = M.cancelling_pair()
    out = _evaluate(m, arch, theta)
    x = np.asarray(cn.cube(2, "01"), dtype=np.float64)
    p = _np_params(arch, theta)
    sets = circuits.removal_sets(arch.L)
    ys = np.stack([_np_removed(arch, p, x, s) for s in sets], axis=1)
    clear = _clear(ys)
    keys = M.decode_keys(out["key"][:, 0, :], m.key_fields(arch))
    for i in np.flatnonzero(clear):
        t = ys[i] > 0
        f = t[0]
        mask = 0

        def broke(removed, t=t, f=f):
            return not (t[sets.index(removed)] == f).all()

        for bit, (a, b) in enumerate(circuits.block_pairs(arch.L)):
            if broke((a,)) and broke((b,)) and not broke((a, b)):
                mask |= 1 << bit
        assert keys[i] == (boolean.table_to_int(f), mask)
        assert out["event"][i] == (mask != 0)


def test_goal_key_and_event_match_the_definitions():
    arch = cn.GoalNet(2, 3)
    theta = _draw(cn.Gaussian(1.0, 1.0), arch, n=1024)
    m = M.goal()
    out = _evaluate(m, arch, theta)
    keys = M.decode_keys(out["key"][:, 0, :], m.key_fields(arch))
    pre, y, y0, y1 = _np_goal(_np_params(arch, theta), np.asarray(cn.cube(2, "01"), dtype=np.float64))
    clear = _clear(np.concatenate([pre, y, y0, y1], axis=1))
    assert clear.mean() > 0.99
    seen = set()
    for i in np.flatnonzero(clear):
        f, g, flags = keys[i]
        assert f == boolean.table_to_int(y[i] > 0) and g == boolean.table_to_int(pre[i] > 0)
        cls = _np_goal_class(y[i] > 0, pre[i] > 0, y0[i] > 0, y1[i] > 0)
        assert {"direct": circuits.DIRECT, "detour": circuits.DETOUR, "other": circuits.OTHER}[
            cls
        ] == circuits.goal_class(flags)
        assert bool(out["event"][i]) == (cls == "detour")
        seen.add(cls)
    assert seen >= {"direct", "detour"}
