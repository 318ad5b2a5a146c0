"""Training versus the prior: vectorised optax training, conditional prior, tilting, experiments.

Checks against independent numpy brute force on tiny lattice networks; statistical
tolerances are Clopper-Pearson intervals computed by the library.
"""

import itertools
import json
import math
from collections import Counter

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import countnets as cn
from countnets import cli
from countnets.engine import estimators
from countnets.network import boolean
from countnets.stats import statistics
from countnets.train import conditional
from countnets.train import training as T

# ----------------------------------------------------------------------------- helpers


def _perceptron_theta(w: list[float], b: float) -> np.ndarray:
    # MLP(n, ()) flat order: W1 (n x 1), b1 (1).
    return np.array([*w, b], dtype=np.float32)


def _numpy_mlp_tables(n: int, hidden: int, values: tuple[float, ...], encoding: str = "01") -> Counter:
    """Brute force over every lattice configuration of MLP(n, (hidden,)) with relu, in float64.

    Returns a Counter of (integer truth table) for all configurations, and the outputs.
    """
    x = cube_np(n, encoding)
    n_params = n * hidden + hidden + hidden + 1
    vals = np.array(values, dtype=np.float64)
    idx = np.array(list(itertools.product(range(len(values)), repeat=n_params)), dtype=np.int64)
    theta = vals[idx]  # (N, P)
    o = 0
    W1 = theta[:, o : o + n * hidden].reshape(-1, n, hidden)
    o += n * hidden
    b1 = theta[:, o : o + hidden]
    o += hidden
    W2 = theta[:, o : o + hidden]
    o += hidden
    b2 = theta[:, o]
    h = np.maximum(np.einsum("pi,nih->nph", x, W1) + b1[:, None, :], 0.0)
    y = np.einsum("nph,nh->np", h, W2) + b2[:, None]
    return y


def cube_np(n: int, encoding: str) -> np.ndarray:
    j = np.arange(2**n)[:, None]
    bits = ((j >> np.arange(n)[None, :]) & 1).astype(np.float64)
    return bits if encoding == "01" else 2 * bits - 1


def _table_ints(y: np.ndarray) -> np.ndarray:
    bits = (y > 0).astype(np.int64)
    return (bits << np.arange(y.shape[1])[None, :]).sum(axis=1)


# ----------------------------------------------------------------------------- training set and config


def test_training_set_validation_and_random_subset():
    ts = T.training_set(3, "majority", size=4, seed=7)
    assert ts.m == 4 and list(ts.points) == sorted(ts.points)
    assert ts == T.training_set(3, "majority", size=4, seed=7)
    assert ts.fits(boolean.named_function("majority", 3))
    assert set(ts.off_points()) | set(ts.points) == set(range(8))
    with pytest.raises(cn.CountnetsError, match="exactly one"):
        T.training_set(3, "and")
    with pytest.raises(cn.CountnetsError, match="0..7"):
        T.training_set(3, "and", points=[1, 8])
    with pytest.raises(cn.CountnetsError, match="distinct"):
        T.TrainingSet(3, 1, (1, 1))
    with pytest.raises(cn.CountnetsError, match="optimizer"):
        T.TrainConfig("rmsprop")
    with pytest.raises(cn.CountnetsError, match="loss"):
        T.TrainConfig(loss="mse")


def test_pointwise_losses():
    y = jnp.array([2.0, 0.5, -1.0], jnp.float32)
    t = jnp.array([True, True, False])
    np.testing.assert_allclose(T.pointwise_loss("hinge", y, t), [0.0, 0.5, 0.0])
    np.testing.assert_allclose(
        T.pointwise_loss("logistic", y, t), np.log1p(np.exp(-np.array([2.0, 0.5, 1.0]))), rtol=1e-6
    )
    g = jax.grad(lambda v: jnp.sum(T.pointwise_loss("hinge", v, t)))(y)
    assert g.tolist() == [0.0, -1.0, 0.0]


# ----------------------------------------------------------------------------- the trainer


@pytest.mark.parametrize("optimizer", T.OPTIMIZERS)
def test_separable_target_is_fit_by_every_network(optimizer):
    # Majority on 3 inputs is linearly separable, so a perceptron can fit all 8 points.
    arch = cn.MLP(3, ())
    ts = T.training_set(3, "majority", points=range(8))
    cfg = T.TrainConfig(optimizer, max_steps=3000)
    runs = T.train_networks(cn.Gaussian(1.0, 1.0), arch, ts, cfg, n_runs=200, seed=3, chunk_size=100)
    assert runs.fit.all(), f"{(~runs.fit).sum()} networks did not fit S"
    assert set(runs.tables[0].tolist()) == {boolean.named_function("majority", 3)}
    assert runs.steps.max() < cfg.max_steps
    assert (runs.steps > 0).any()


def test_hinge_training_of_separable_target():
    arch = cn.MLP(3, (8,))
    ts = T.training_set(3, "or", points=range(8))
    cfg = T.TrainConfig("sgd", learning_rate=0.1, loss="hinge", max_steps=3000)
    runs = T.train_networks(cn.Gaussian(1.0, 1.0), arch, ts, cfg, n_runs=128, seed=0, chunk_size=128)
    assert runs.fit.all()


@pytest.mark.parametrize("optimizer", T.OPTIMIZERS)
def test_network_fitting_S_is_not_moved_by_zero_gradient_hinge(optimizer):
    arch = cn.MLP(2, ())
    ts = T.training_set(2, "x0", points=range(4))
    # y = 4 x0 - 2: margin s*y = 2 >= 1 at every point, so the hinge gradient is exactly zero.
    theta0 = jnp.asarray(np.stack([_perceptron_theta([4.0, 0.0], -2.0), _perceptron_theta([6.0, 0.5], -3.0)]))
    valid = jnp.ones(2, bool)
    hinge = T.TrainConfig(optimizer, loss="hinge", max_steps=50, stop_on_fit=False)
    out = jax.jit(T.build_trainer(arch, ts, hinge))(theta0, valid, None)
    assert out.steps.tolist() == [50, 50]  # updates were applied, and they were all zero
    np.testing.assert_array_equal(np.asarray(out.theta), np.asarray(theta0))


def test_fit_mask_stops_networks_whose_gradient_is_not_zero():
    arch = cn.MLP(2, ())
    ts = T.training_set(2, "x0", points=range(4))
    theta0 = jnp.asarray(np.stack([_perceptron_theta([4.0, 0.0], -2.0), _perceptron_theta([-1.0, 0.5], 0.2)]))
    valid = jnp.ones(2, bool)
    # The logistic loss has a non-zero gradient at a fitting network: without the mask it moves ...
    free = T.TrainConfig("adam", loss="logistic", max_steps=50, stop_on_fit=False)
    moved = jax.jit(T.build_trainer(arch, ts, free))(theta0, valid, None)
    assert np.any(np.asarray(moved.theta)[0] != np.asarray(theta0)[0])
    # ... and with the fit mask (the default) it stays exactly where it first fit S; the other one trains.
    masked = jax.jit(T.build_trainer(arch, ts, T.TrainConfig("adam", max_steps=2000)))(theta0, valid, None)
    assert masked.steps[0] == 0 and masked.steps[1] > 0
    assert masked.fit.tolist() == [True, True]
    np.testing.assert_array_equal(np.asarray(masked.theta)[0], np.asarray(theta0)[0])


def test_invalid_rows_are_never_updated():
    arch = cn.MLP(2, (3,))
    ts = T.training_set(2, "xor", points=range(4))
    theta0 = cn.Gaussian(1.0, 1.0).sample(jax.random.PRNGKey(0), 0, 6, arch.layout())
    valid = jnp.array([True, False, True, False, True, False])
    out = jax.jit(T.build_trainer(arch, ts, T.TrainConfig(max_steps=20)))(theta0, valid, None)
    np.testing.assert_array_equal(np.asarray(out.theta)[1::2], np.asarray(theta0)[1::2])
    assert out.steps[1::2].tolist() == [0, 0, 0]


def test_training_deterministic_across_batch_sizes_and_starts_from_prior_samples():
    arch = cn.MLP(3, (6,))
    prior = cn.Gaussian(1.0, 1.0)
    ts = T.training_set(3, "majority", size=3, seed=1)
    cfg = T.TrainConfig("momentum", max_steps=300)
    kw = dict(n_runs=3 * 64 - 5, seed=11, chunk_size=64)
    one = T.train_networks(prior, arch, ts, cfg, chunks_per_step=1, devices=1, **kw)
    three = T.train_networks(prior, arch, ts, cfg, chunks_per_step=3, devices=1, **kw)
    sharded = T.train_networks(prior, arch, ts, cfg, chunks_per_step=8, **kw)  # 8 fake devices
    for other in (three, sharded):
        assert one.tables.tolist() == other.tables.tolist()
        np.testing.assert_array_equal(one.steps, other.steps)
        np.testing.assert_array_equal(one.fit, other.fit)
        assert one.init_tables.tolist() == other.init_tables.tolist()
    # Network r starts from prior sample r: the chunk the core engine draws.
    x = cn.cube(3)
    theta = jnp.concatenate([prior.sample(jax.random.PRNGKey(11), c, 64, arch.layout()) for c in range(3)])
    keys, _, _ = estimators.chunk_tables(arch, theta, x)
    expected = [boolean.words_to_int(k) for k in np.asarray(keys)][: kw["n_runs"]]
    assert one.init_tables.tolist() == expected
    # Networks that already fit S were not trained and kept their function.
    untouched = np.array([ts.fits(t) for t in expected])
    assert untouched.any()
    assert (one.steps[0][untouched] == 0).all()
    assert one.tables[0][untouched].tolist() == one.init_tables[untouched].tolist()


def test_pressure_toward_B_raises_P_B():
    arch = cn.MLP(3, (8,))
    prior = cn.Gaussian(1.0, 1.0)
    ts = T.training_set(3, "or", points=[0, 1, 2, 4])
    off = np.array(ts.off_points())
    b = ts.target ^ (1 << int(off[0]))  # OR with one off-S point flipped
    cfg = T.TrainConfig("adam", max_steps=1000)
    labels = np.stack([boolean.int_to_table(b, 3)[off]] * 2)
    runs = T.train_networks(
        prior, arch, ts, cfg, n_runs=400, seed=2, chunk_size=200, penalty=T.pressure_penalty(ts, cfg),
        setting_args=(jnp.array([0.0, 10.0], jnp.float32), jnp.asarray(labels)),
    )  # fmt: skip
    counts = [int(np.sum((runs.tables[g] == b) & runs.fit[g])) for g in range(2)]
    n = [int(runs.fit[g].sum()) for g in range(2)]
    lo0, hi0 = statistics.clopper_pearson(counts[0], n[0], 0.999)
    lo1, hi1 = statistics.clopper_pearson(counts[1], n[1], 0.999)
    assert lo1 > hi0, (counts, n)


def test_diversity_penalty_formula():
    ts = T.training_set(2, "zero", points=[0])
    pen = T.diversity_penalty(ts)
    y = jnp.array([0.0, 1.0, -2.0, 0.5], jnp.float32)
    found = jnp.array([[True, True, True], [False, False, True], [True, False, False]])
    mask = jnp.array([True, True, False])
    got = float(pen(y, (jnp.float32(2.0), found, mask)))
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    y_off = np.array([1.0, -2.0, 0.5])
    a0 = np.mean(sig(y_off))
    a1 = np.mean(sig(np.array([-1.0, -1.0, 1.0]) * y_off))
    assert got == pytest.approx(2.0 * max(a0, a1), rel=1e-6)
    assert float(pen(y, (jnp.float32(2.0), found, jnp.zeros(3, bool)))) == 0.0


def test_resmlp_fits_a_separable_target():
    arch = cn.ResMLP(3, 4, 2, 4)
    ts = T.training_set(3, "majority", points=range(8))
    runs = T.train_networks(
        cn.Gaussian(1.0, 1.0), arch, ts, T.TrainConfig(max_steps=3000), n_runs=64, seed=0, chunk_size=64
    )
    assert runs.fit.all()
    assert all(runs.moved[spec.name] > 0 for spec in arch.layout())


def test_goalnet_trains_through_generic_apply_and_its_goal_never_moves():
    arch = cn.GoalNet(3, 4)
    ts = T.training_set(3, "majority", points=range(8))
    runs = T.train_networks(
        cn.Gaussian(1.0, 1.0), arch, ts, T.TrainConfig(max_steps=200), n_runs=64, seed=0, chunk_size=64
    )
    # The step unit has zero gradient, so everything that feeds only the goal unit stays put.
    trained = int((runs.steps[0] > 0).sum())
    assert trained > 0
    for name in ("W1", "b1", "v", "b_z"):
        assert runs.moved[name] == 0, runs.moved
    assert runs.moved["u"] == trained and runs.moved["c"] == trained


# ----------------------------------------------------------------------------- conditional prior and tilting

LATTICE = cn.Lattice((-1.0, 0.0, 1.0))
TINY = cn.MLP(2, (2,))  # 9 parameters, 3**9 = 19683 configurations
TINY_S = T.training_set(2, "and", points=[0, 3])


@pytest.fixture(scope="module")
def tiny_brute_force():
    y = _numpy_mlp_tables(2, 2, LATTICE.values)
    tables = _table_ints(y)
    fits = np.array([TINY_S.fits(t) for t in tables.tolist()])
    return y, tables, fits


def test_conditional_prior_exact_matches_numpy_enumeration(tiny_brute_force):
    _, tables, fits = tiny_brute_force
    expected = Counter(tables[fits].tolist())
    cp = T.conditional_prior(LATTICE, TINY, TINY_S, exact=True, chunk_size=243)
    assert cp.samples == 3**9 and cp.exact
    assert cp.histogram == expected
    assert cp.fit == int(fits.sum())


def test_conditional_prior_sampling_inside_clopper_pearson(tiny_brute_force):
    _, tables, fits = tiny_brute_force
    truth = Counter(tables[fits].tolist())
    cp = T.conditional_prior(LATTICE, TINY, TINY_S, n_samples=200_000, seed=5, chunk_size=4096)
    total = int(fits.sum())
    # Every function plus P(fits S): Bonferroni over all of them at overall level 0.999.
    conf = 1 - 0.001 / (len(truth) + 1)
    lo, hi = statistics.clopper_pearson(cp.fit, cp.samples, conf)
    assert lo <= total / 3**9 <= hi
    assert set(cp.histogram) <= set(truth)
    for f, c in truth.items():
        lo, hi = cp.interval(f, conf)
        assert lo <= c / total <= hi, (hex(f), cp.histogram.get(f, 0), c / total)
    # Same counts whatever the number of chunks per step.
    again = T.conditional_prior(LATTICE, TINY, TINY_S, n_samples=200_000, seed=5, chunk_size=4096, chunks_per_step=3)
    assert again.histogram == cp.histogram


def test_tilting_at_lambda_zero_reproduces_the_untilted_estimate_exactly():
    arch = cn.MLP(3, (4,))
    prior = cn.Gaussian(1.0, 1.0)
    ts = T.training_set(3, "or", points=[0, 3, 5])
    kw = dict(n_samples=30_000, seed=4, chunk_size=1000)
    cp = T.conditional_prior(prior, arch, ts, **kw)
    ranked = cp.ranked()
    pairs = [(ranked[0][0], ranked[1][0]), (ranked[0][0], ranked[2][0])]
    tilt = T.tilted_prior(prior, arch, ts, pairs, [0.0, 0.7, 3.0], **kw)
    assert tilt.fit == cp.fit
    for k, (a, b) in enumerate(pairs):
        assert tilt.p_a()[k, 0] == cp.histogram[a] / cp.fit
        assert tilt.p_b()[k, 0] == cp.histogram[b] / cp.fit
        assert tilt.ess()[k, 0] == cp.fit
    assert np.all(tilt.ess()[:, 1:] < cp.fit)


def test_tilted_prior_exact_matches_numpy(tiny_brute_force):
    y, tables, fits = tiny_brute_force
    ranked = Counter(tables[fits].tolist()).most_common()
    a, b = ranked[0][0], ranked[1][0]
    lams = [0.0, 0.5, 2.0]
    tilt = T.tilted_prior(LATTICE, TINY, TINY_S, [(a, b)], lams, exact=True, chunk_size=243)
    off = list(TINY_S.off_points())
    s = 2.0 * boolean.int_to_table(b, 2)[off].astype(np.float64) - 1.0
    l_b = np.mean(np.logaddexp(0.0, -s[None, :] * y[fits][:, off]), axis=1)
    for j, lam in enumerate(lams):
        w = np.exp(-lam * l_b)
        ta, tb = tables[fits] == a, tables[fits] == b
        # float32 on device against float64 here: relative error well below 1e-5.
        assert tilt.p_a()[0, j] == pytest.approx(w[ta].sum() / w.sum(), rel=1e-5)
        assert tilt.p_b()[0, j] == pytest.approx(w[tb].sum() / w.sum(), rel=1e-5)
        assert tilt.ess()[0, j] == pytest.approx(w.sum() ** 2 / (w**2).sum(), rel=1e-5)


def _tilt_floats(tilt: T.TiltResult) -> dict[str, np.ndarray]:
    out = {f: np.asarray(getattr(tilt, f)) for f in ("shift", "sum_w", "sum_w_a", "sum_w_b", "sum_w2")}
    out.update(sum_w2_a=tilt.sum_w2_a, sum_w2_b=tilt.sum_w2_b, p_a=tilt.p_a(), p_b=tilt.p_b(), ess=tilt.ess())
    for which in ("a", "b", "diff"):
        out[f"lo_{which}"], out[f"hi_{which}"] = tilt.interval(which)
    return out


def test_tilted_prior_is_bit_identical_for_any_chunks_per_step_and_device_count():
    # An odd chunk size and a truncated last chunk: XLA's float32 reductions (jnp.sum)
    # can give a chunk a different sum when the number of chunks per device changes.
    arch, prior = cn.MLP(3, (5,)), cn.Gaussian(0.5, 2.0)
    ts = T.training_set(3, "xor", points=[1, 2])
    pairs = [(0xFF, 0xCF), (0xCF, 0x0F)]  # the three most frequent functions fitting S (seed 1)
    kw = dict(n_samples=5000 - 17, seed=1, chunk_size=333)
    runs = {}
    for devices, cps in [(1, 1), (1, 5), (2, 6)]:  # 1, 5 and 3 chunks per device step
        runs[devices, cps] = T.tilted_prior(
            prior, arch, ts, pairs, [0.0, 0.3, 5.0], chunks_per_step=cps, devices=devices, **kw
        )
    base = runs[1, 1]
    assert base.sum_w_a.min() > 0 and base.sum_w_b.min() > 0, "pick pairs whose functions are sampled"
    assert np.all(base.ess()[:, 1:] < base.fit)
    expected = _tilt_floats(base)
    for key, tilt in runs.items():
        assert (tilt.fit, tilt.samples) == (base.fit, base.samples), key
        for name, value in _tilt_floats(tilt).items():
            np.testing.assert_array_equal(value, expected[name], err_msg=f"{name} with (devices, cps) = {key}")


def test_tilted_prior_weight_sums_at_lambda_zero_are_exact_past_2_to_the_24():
    # Every sample of this lattice implements the zero function, so all 2**24 + 1 fit S
    # and are A. One device step holds them all: a float32 sum cannot be 2**24 + 1.
    arch = cn.MLP(1, ())
    ts = T.training_set(1, 0, points=[0])
    n = 2**24 + 1
    tilt = T.tilted_prior(
        cn.Lattice((-1.0, -0.5)), arch, ts, [(0, 2)], [0.0], n_samples=n, chunk_size=2**20, chunks_per_step=17,
        devices=1,
    )
    assert tilt.fit == tilt.samples == n
    for total in (tilt.sum_w, tilt.sum_w_a, tilt.sum_w2, tilt.sum_w2_a):
        assert total[0, 0] == n
    assert tilt.sum_w_b[0, 0] == 0 and tilt.sum_w2_b[0, 0] == 0
    assert tilt.p_a()[0, 0] == 1.0 and tilt.ess()[0, 0] == n


def test_tilt_block_sums_match_numpy_when_chunks_are_cut_into_padded_blocks():
    # Chunks of more than 2**24 samples are cut into blocks; here 2 chunks of 7 samples,
    # each cut into 3 blocks of 3 (the last padded), against a float64 reference.
    rng = np.random.default_rng(0)
    chunks, chunk, n_blocks, block = 2, 7, 3, 3
    logw = -rng.exponential(size=(chunks * chunk, 2, 3)).astype(np.float32)
    logw[:, :, 0] = 0.0
    fit = rng.random(chunks * chunk) < 0.7
    fit[7:10] = False  # the first block of chunk 1 has no sample fitting S
    is_a = rng.random((chunks * chunk, 2)) < 0.4
    is_b = ~is_a & (rng.random((chunks * chunk, 2)) < 0.5)
    out = jax.jit(conditional.tilt_block_sums, static_argnums=(4, 5, 6))(
        jnp.asarray(logw), jnp.asarray(fit), jnp.asarray(is_a), jnp.asarray(is_b), chunks, n_blocks, block
    )
    for c in range(chunks):
        for k in range(n_blocks):
            rows = np.arange(c * chunk + k * block, min(c * chunk + (k + 1) * block, (c + 1) * chunk))
            i = c * n_blocks + k
            lw = np.where(fit[rows, None, None], logw[rows].astype(np.float64), -np.inf)
            top = lw.max(axis=0)
            assert int(out["fit"][i]) == int(fit[rows].sum())
            np.testing.assert_array_equal(np.asarray(out["top"][i]), top)
            w = np.exp(lw - np.where(np.isfinite(top), top, 0.0))
            a, b = is_a[rows][:, :, None], is_b[rows][:, :, None]
            for name, ref in [("s", w), ("sa", w * a), ("sb", w * b), ("s2", w * w), ("s2a", w * w * a)]:
                np.testing.assert_allclose(np.asarray(out[name][i]), ref.sum(axis=0), rtol=1e-6, err_msg=name)
            assert np.asarray(out["s"][i])[:, 0].tolist() == [float(fit[rows].sum())] * 2


def test_tilted_prior_rejects_a_pair_with_A_equal_to_B():
    a = TINY_S.target
    with pytest.raises(cn.CountnetsError, match=r"pair 1: A and B must be different functions, got A = B = 0x"):
        T.tilted_prior(LATTICE, TINY, TINY_S, [(a, a | 2), (a, a)], [0.0], exact=True, chunk_size=243)


# ----------------------------------------------------------------------------- summaries


def test_lambda_star_bracket():
    lams = [0.0, 1.0, 2.0, 4.0]
    star = T.lambda_star(lams, [-0.5, -0.1, 0.2, 0.6], [-0.6, -0.3, 0.0, 0.5], [-0.4, 0.1, 0.4, 0.7])
    assert star.estimate == 2.0 and star.interval == (0.0, 2.0) and not star.censored
    star = T.lambda_star(lams, [-0.5, -0.4, -0.3, -0.2], [-0.6] * 4, [-0.4, -0.3, -0.2, 0.1])
    assert math.isinf(star.estimate) and star.censored and star.interval == (2.0, math.inf)
    star = T.lambda_star(lams, [-0.5] * 4, [-0.6] * 4, [-0.1] * 4)
    assert star.interval == (4.0, math.inf)
    with pytest.raises(cn.CountnetsError):
        T.lambda_star([1.0, 0.0], [0, 0], [0, 0], [0, 0])


def test_compare_distributions():
    p = Counter({1: 50, 2: 50})
    q = Counter({1: 100})
    s = T.compare_distributions(p, q, bootstrap=50, min_count=1)
    assert s["tv"] == pytest.approx(0.5)
    same = T.compare_distributions(Counter({1: 30, 2: 20, 3: 10}), Counter({1: 300, 2: 200, 3: 100}), bootstrap=50)
    assert same["tv"] == pytest.approx(0.0, abs=1e-12)
    assert same["correlation"] == pytest.approx(1.0)


# ----------------------------------------------------------------------------- command line

COMMON = ["--n", "3", "--hidden", "4", "--target", "or", "--train-points", "0,3,5", "--chunk-size", "128", "--quiet"]
RECORD_FIELDS = ("train_points", "prior", "prior_samples", "prior_fit", "trained", "runs", "not_converged", "summary")


def _experiment_json(path, command: str, *options: str) -> dict:
    """Run ``countnets experiment command`` on COMMON and ``options`` with ``--json path``; the record,
    checked to exit 0 and to hold every field of RECORD_FIELDS."""
    assert cli.main(["experiment", command, *COMMON, *options, "--json", str(path)]) == 0
    d = json.loads(path.read_text())
    for field in RECORD_FIELDS:
        assert field in d, field
    return d


def test_cli_train_vs_prior_json(tmp_path):
    path = tmp_path / "tvp.json"
    d = _experiment_json(path, "train-vs-prior", "--runs", "200", "--samples", "5000", "--bootstrap", "50")
    assert d["kind"] == "train-vs-prior" and d["runs"] == 200 and d["prior_samples"] == 5000
    assert sum(d["trained"].values()) + d["not_converged"] == 200
    assert sum(d["prior"].values()) == d["prior_fit"]
    ts = T.TrainingSet(3, boolean.named_function("or", 3), tuple(d["train_points"]))
    assert all(ts.fits(int(f, 16)) for f in list(d["prior"]) + list(d["trained"]))
    assert cn.load_json(path).kind == "train-vs-prior"


def test_cli_flip_and_diverse_json(tmp_path, capsys):
    d = _experiment_json(
        tmp_path / "flip.json", "flip", "--runs", "64", "--samples", "5000", "--pairs", "2", "--lambdas", "0,1,10"
    )
    assert len(d["pairs"]) == 2 and [r["lambda"] for r in d["pairs"][0]["sweep"]] == [0.0, 1.0, 10.0]
    p = d["pairs"][0]
    assert p["prior_counts"][0] == d["prior"][p["a"]]
    assert p["tilt_sweep"][0]["lambda"] == 0.0
    assert p["tilt_sweep"][0]["p_a"] == p["prior_counts"][0] / d["prior_fit"]
    assert p["tilt_sweep"][0]["ess"] == d["prior_fit"]
    for row in p["sweep"]:
        t = row["train"]
        assert t["converged"] + t["not_converged"] == 64 and t["a"] + t["b"] <= t["converged"]
    # The stored summary is flip_summary of the stored pairs (what scripts/refresh_summaries.py recomputes).
    from countnets.experiments.flip import flip_summary

    assert d["summary"] == json.loads(json.dumps(flip_summary(d["pairs"], confidence=0.95)))
    d = _experiment_json(
        tmp_path / "div.json", "diverse", "--runs", "4", "--chains", "8", "--samples", "5000", "--b-rank", "2"
    )
    assert d["chains"] == 8 and len(d["settings"]) == 2 and d["settings"][0]["reward"] == 0.0
    assert sum(d["trained"]["0"].values()) + d["settings"][0]["not_converged"] == 8 * 4
    assert all(len(s["distinct_mean"]) == 4 for s in d["settings"])


def test_a_diverse_run_without_a_conditional_prior_formats_after_loading(tmp_path):
    # Called without n_samples, exact or b_rank, diverse computes no conditional prior: its fields are None in the
    # payload, and the summary of the loaded result says nothing of the prior (it raised a TypeError on None before).
    from countnets.experiments.diverse import diverse, format_diverse
    from countnets.train.training import TrainConfig, training_set

    result = diverse(cn.Gaussian(), cn.MLP(3, (4,)), training_set(3, "or", points=[0, 3, 5]), TrainConfig(),
                     reward=1.0, n_runs=2, chains=2, chunk_size=128)  # fmt: skip
    cn.save_json(result, tmp_path / "div.json")
    loaded = cn.load_json(tmp_path / "div.json")
    assert loaded.extra["prior_fit"] is None
    text = format_diverse(loaded)
    assert text.startswith("diverse: target") and "prior:" not in text


def test_cli_errors_are_one_line(capsys):
    assert cli.main(["experiment", "flip", *COMMON, "--b", "0x0", "--samples", "1000"]) == 2
    assert "does not agree with the target" in capsys.readouterr().err
    assert cli.main(["experiment", "train-vs-prior", "--n", "3", "--target", "or", "--train-points", "0,9"]) == 2
    assert "0..7" in capsys.readouterr().err


@pytest.mark.parametrize(
    "command, options, message",
    [
        # The option is named, with one message per option (issue 12, item 11).
        ("train-vs-prior", ["--runs", "8", "--confidence", "1.5"], "argument --confidence: must be in (0, 1), got 1.5"),
        ("train-vs-prior", ["--runs", "0"], "argument --runs: must be a positive int, got 0"),
        ("flip", ["--runs", "8", "--confidence", "0"], "argument --confidence: must be in (0, 1), got 0"),
        ("flip", ["--runs", "0"], "argument --runs: must be a positive int, got 0"),
        ("flip", ["--runs", "8", "--b-rank", "0"], "argument --b-rank: expected comma-separated positive ints"),
        ("diverse", ["--runs", "0"], "argument --runs: must be a positive int, got 0"),
        ("diverse", ["--runs", "2", "--chains", "0"], "argument --chains: must be a positive int, got 0"),
        ("diverse", ["--runs", "2", "--confidence", "1"], "argument --confidence: must be in (0, 1), got 1"),
        ("diverse", ["--runs", "2", "--b-rank", "0"], "argument --b-rank: must be a positive int, got 0"),
    ],
)
def test_cli_bad_run_options_exit_before_any_computation(monkeypatch, capsys, command, options, message):
    from countnets.experiments import diverse, flip, train_vs_prior

    def no_prior(*args, **kwargs):
        raise AssertionError("the conditional prior was computed before the options were checked")

    for module in (diverse, flip, train_vs_prior):
        monkeypatch.setattr(module, "conditional_prior", no_prior)
    assert cli.main(["experiment", command, *COMMON, "--samples", "1000", *options]) == 2
    assert message in capsys.readouterr().err


# ----------------------------------------------------------------------------- committed results and docs


def _line_within_tolerance(line: str, page: str) -> bool:
    from countnets.stats import tolerance

    return any(not tolerance.text_mismatches(line, other) for other in page.splitlines())


def test_docs_quote_the_committed_results():
    from pathlib import Path

    from countnets.experiments.diverse import format_diverse
    from countnets.experiments.flip import format_flip
    from countnets.experiments.train_vs_prior import format_train_vs_prior

    root = Path(__file__).resolve().parents[1]
    docs = (root / "docs" / "training.md").read_text()
    quoted = {
        "train_vs_prior": (format_train_vs_prior, 14),
        "train_vs_prior_x0_sgd": (format_train_vs_prior, 14),
        "flip_pairs_spread": (format_flip, 17),
        "diverse": (format_diverse, 13),
    }
    results = {}
    for name, (fmt, n_lines) in quoted.items():
        results[name] = cn.load_json(root / "results" / f"{name}.json")
        for line in fmt(results[name]).splitlines()[:n_lines]:
            # The summary behind a line is recomputed: the page may hold it rounded the other way at a boundary.
            assert line in docs or _line_within_tolerance(line, docs), (name, line)
    for name in ("train_vs_prior", "train_vs_prior_x0_sgd"):
        s = results[name].extra["summary"]
        row = f"| {s['functions_compared']} | {s['correlation']:.2f} ({s['spearman']:.2f}) | {s['tv']:.3f} "
        assert row in docs, row
    for name in ("flip_pairs_spread", "flip_pairs", "flip_pairs_hinge"):
        d = results.get(name) or cn.load_json(root / "results" / f"{name}.json")
        t = d.extra["summary"]["train"]
        logs = [p["log_odds"] for p in d.extra["pairs"]]
        spearman = f"{t['spearman']:.2f} ({t['spearman_p']:.2g})"
        ci = f"[{t['spearman_ci'][0]:.2f}, {t['spearman_ci'][1]:.2f}]"
        evaluable = f"{d.extra['summary']['tilt']['pairs_evaluable']} of {len(logs)}"
        row = f"| {min(logs):.2f} .. {max(logs):.2f} | {spearman} | {ci} | {t['pairs_censored']} | {evaluable} |"
        assert row in docs, row
