"""Estimators against exact answers derived independently: closed forms and numpy enumeration."""

import itertools
import math
from collections import Counter

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import countnets as cn
from countnets import CountnetsError
from countnets.engine import estimators
from countnets.stats import statistics

CONF = 0.999


def _inside(result, function_hex, p_true):
    est = result.estimate(function_hex)
    lo, hi = statistics.clopper_pearson(est.hits, est.n, CONF)
    assert lo <= p_true <= hi, (function_hex, est.hits, est.n, p_true, (lo, hi))


def test_perceptron_pm1_closed_form():
    # n = 1, pm1: y(-1) = b - w, y(+1) = b + w with w ~ N(0, sw^2) (fan_in 1), b ~ N(0, sb^2).
    # Table 0x2 (only x = +1 positive) <=> w > |b|: a wedge of half-angle atan(sw/sb) in
    # standardised coordinates, so P = atan(sw/sb)/pi; 0x1 likewise; constants share the rest.
    sw, sb = 2.0, 0.5
    p_dict = math.atan(sw / sb) / math.pi
    r = cn.estimate_mc(cn.Gaussian(sw, sb), cn.MLP(1, ()), ["0x2", "0x1", "0x0", "0x3"], n_samples=200_000, seed=3,
                       encoding="pm1")  # fmt: skip
    _inside(r, "0x2", p_dict)
    _inside(r, "0x1", p_dict)
    _inside(r, "0x0", (1 - 2 * p_dict) / 2)
    _inside(r, "0x3", (1 - 2 * p_dict) / 2)


def test_perceptron_01_orthant_closed_form():
    # n = 1, "01": y(0) = b, y(1) = w + b. P(both <= 0) is a bivariate normal orthant
    # probability 1/4 + asin(rho)/(2 pi) with rho = corr(b, w + b) = sb / sqrt(sw^2 + sb^2).
    sw, sb = 1.0, 1.5
    rho = sb / math.sqrt(sw**2 + sb**2)
    p00 = 0.25 + math.asin(rho) / (2 * math.pi)
    r = cn.histogram_mc(cn.Gaussian(sw, sb), cn.MLP(1, ()), n_samples=150_000, seed=11, top=None)
    _inside(r, "0x0", p00)
    _inside(r, "0x3", p00)
    _inside(r, "0x1", 0.5 - p00)


def test_perceptron_without_bias_closed_form():
    # sigma_b = 0, n = 2, pm1: y = w1 x1 + w2 x2 is odd, so tables come in complement pairs;
    # the dictator x0 (0xa) needs w1 > |w2|: probability 1/4 for isotropic weights. AND is
    # impossible (it would need y(-1,-1) <= 0 < y(1,1) and y(1,-1) <= 0, y(-1,1) <= 0).
    r = cn.estimate_mc(cn.Gaussian(1.0, 0.0), cn.MLP(2, ()), ["x0", "and"], n_samples=100_000, seed=5,
                       encoding="pm1")  # fmt: skip
    _inside(r, "0xa", 0.25)
    assert r.estimate("0x8").hits == 0


def test_uniform_prior_closed_form():
    # Uniform(a), n = 1, "01": P(b > 0, w + b > 0) = 1/2 * E[(a + b) / 2a | b > 0] = 3/8.
    r = cn.estimate_mc(cn.Uniform(0.7), cn.MLP(1, ()), ["0x3"], n_samples=100_000, seed=2)
    _inside(r, "0x3", 3 / 8)


LATTICE = (-1.0, 0.0, 1.0)


def _numpy_lattice_histogram(encoding, activation="relu"):
    """Brute force over all 3^9 parameter vectors of MLP(2, (2,)), written from DESIGN."""
    configs = np.array(list(itertools.product(LATTICE, repeat=9)), dtype=np.float64)
    bits = np.array([[(j >> i) & 1 for i in range(2)] for j in range(4)], dtype=np.float64)
    x = bits if encoding == "01" else 2 * bits - 1
    W1 = configs[:, 0:4].reshape(-1, 2, 2)
    b1 = configs[:, 4:6]
    W2 = configs[:, 6:8]
    b2 = configs[:, 8]
    pre = np.einsum("pi,cij->cpj", x, W1) + b1[:, None, :]
    h = np.maximum(pre, 0) if activation == "relu" else (pre > 0).astype(np.float64)
    y = np.einsum("cpj,cj->cp", h, W2) + b2[:, None]
    tables = ((y > 0) * (1 << np.arange(4))[None, :]).sum(axis=1)
    return Counter(tables.tolist()), len(configs)


@pytest.mark.parametrize("encoding, activation", [("01", "relu"), ("pm1", "relu"), ("pm1", "step")])
def test_exact_enumeration_matches_numpy(encoding, activation):
    expected, total = _numpy_lattice_histogram(encoding, activation)
    r = cn.enumerate_exact(cn.Lattice(LATTICE), cn.MLP(2, (2,), activation), encoding=encoding, top=None,
                           chunk_size=500)  # fmt: skip
    assert r.exact and r.samples == total
    assert {int(k, 16): v for k, v in r.histogram.items()} == dict(expected)
    for est in r.estimates:
        assert est.p == expected[int(est.function, 16)] / total and est.ci == (est.p, est.p)


def test_lattice_sampling_agrees_with_numpy_enumeration():
    expected, total = _numpy_lattice_histogram("pm1")
    r = cn.histogram_mc(cn.Lattice(LATTICE), cn.MLP(2, (2,)), n_samples=120_000, seed=9, encoding="pm1", top=None)
    assert sum(r.histogram.values()) == 120_000
    seen = {int(k, 16) for k in r.histogram}
    assert seen <= set(expected)
    # 16 simultaneous intervals: Bonferroni, so the family-wise miss rate is 1 - CONF.
    family_conf = 1 - (1 - CONF) / 16
    for table in range(16):
        est = r.estimate(cn.to_hex(table)) if cn.to_hex(table) in r.histogram else None
        hits = est.hits if est else 0
        lo, hi = statistics.clopper_pearson(hits, r.samples, family_conf)
        assert lo <= expected[table] / total <= hi, (table, hits, expected[table])


def test_histogram_total_equals_samples_with_partial_chunk():
    r = cn.histogram_mc(cn.Gaussian(), cn.MLP(3, (4,)), n_samples=10_007, seed=1, chunk_size=1000)
    assert r.samples == 10_007
    assert sum(r.histogram.values()) == 10_007


@pytest.mark.parametrize("chunks_per_step, devices", [(1, 1), (3, 1), (8, 1), (8, 8), (4, 4)])
def test_counts_do_not_depend_on_chunks_per_step(chunks_per_step, devices):
    # The reference runs 2 chunks per step on one device; the others vary both the
    # batching and the number of (fake CPU) devices the chunks are sharded over.
    arch, prior = cn.MLP(3, (6,), "tanh"), cn.Gaussian(1.0, 0.5)
    kwargs = dict(n_samples=9_500, seed=42, chunk_size=1024, chunks_per_step=chunks_per_step, devices=devices)
    ref = cn.histogram_mc(prior, arch, **{**kwargs, "chunks_per_step": 2, "devices": 1}, top=None)
    hist = cn.histogram_mc(prior, arch, **kwargs, top=None)
    assert hist.histogram == ref.histogram
    targets = ["0x0", "0xff", "and", "majority"]
    est = cn.estimate_mc(prior, arch, targets, **kwargs)
    for e in est.estimates:
        assert e.hits == ref.histogram.get(e.function, 0)


def test_sample_prefix_property():
    # Sample i lives in chunk i // C: a run of 5000 is the run of 3000 plus chunks 3 and 4.
    arch, prior = cn.MLP(2, (3,)), cn.Gaussian()
    short = cn.histogram_mc(prior, arch, n_samples=3000, seed=4, chunk_size=1000, top=None)
    long_ = cn.histogram_mc(prior, arch, n_samples=5000, seed=4, chunk_size=1000, top=None)
    source = estimators.sampling_source(prior, arch, 1000)
    rest = estimators.HistogramAccumulator()
    done = estimators.run_chunks(estimators.build_chunk_histogram(source, arch), rest.merge,
                                 key=jax.random.PRNGKey(4), chunk_size=1000, n_samples=5000,
                                 chunks_per_step=2, start_chunk=3).samples  # fmt: skip
    assert done == 5000
    combined = Counter({int(k, 16): v for k, v in short.histogram.items()}) + rest.histogram
    assert {cn.to_hex(k): v for k, v in sorted(combined.items())} == long_.histogram


def test_chunk_step_is_traced_once():
    arch = cn.MLP(3, (4,))
    source = estimators.sampling_source(cn.Gaussian(), arch, 256)
    count = estimators.build_chunk_counter(source, arch, [0, 255])
    key = jax.random.PRNGKey(0)
    for first in range(0, 12, 3):
        count(key, jnp.arange(first, first + 3, dtype=jnp.int32), jnp.full((3,), 256, jnp.int32))
    assert count._cache_size() == 1


def test_counter_matches_reference_vmap_apply():
    # The step's counts equal those computed from the reference per-network apply.
    arch, prior = cn.MLP(3, (5,)), cn.Gaussian()
    source = estimators.sampling_source(prior, arch, 512)
    key = jax.random.PRNGKey(8)
    step = estimators.build_chunk_histogram(source, arch, encoding="pm1")
    out = step(key, jnp.asarray([0, 1], jnp.int32), jnp.asarray([512, 100], jnp.int32))
    acc = Counter()
    estimators.merge_histogram_step(acc, out)
    x = cn.cube(3, "pm1")
    ref = Counter()
    for index, keep in [(0, 512), (1, 100)]:
        theta = jax.jit(lambda k, i: prior.sample(k, i, 512, arch.layout()))(key, index)
        y = np.asarray(jax.vmap(lambda t: arch.apply(arch.unflatten(t), x))(theta))[:keep]
        ref.update(((y > 0) * (1 << np.arange(8))).sum(axis=1).tolist())
    assert acc == ref


def test_rel_halfwidth_stopping():
    r = cn.estimate_mc(cn.Gaussian(), cn.MLP(2, ()), ["0x0"], n_samples=10**7, seed=0, chunk_size=1000,
                       chunks_per_step=1, rel_halfwidth=0.05)  # fmt: skip
    assert r.stopped_by == "rel_halfwidth" and r.samples < 10**7
    e = r.estimates[0]
    assert (e.ci[1] - e.ci[0]) / 2 <= 0.05 * e.p


def test_time_budget_stopping():
    r = cn.histogram_mc(cn.Gaussian(), cn.MLP(2, ()), n_samples=10**9, seed=0, chunk_size=1000,
                        chunks_per_step=1, max_seconds=0.5)  # fmt: skip
    assert r.stopped_by == "time" and r.samples < 10**9
    assert sum(r.histogram.values()) == r.samples


def test_zero_hits_give_upper_bound():
    r = cn.estimate_mc(cn.Gaussian(1.0, 0.0), cn.MLP(2, ()), ["and"], n_samples=20_000, seed=0, encoding="pm1")
    e = r.estimates[0]
    assert e.hits == 0 and e.ci[0] == 0.0
    assert e.ci[1] == pytest.approx(1 - 0.025 ** (1 / 20_000))
    assert e.bits == math.inf and e.bits_ci[0] == pytest.approx(-math.log2(e.ci[1]))


def test_exact_enumeration_too_large_names_the_count():
    with pytest.raises(CountnetsError, match=r"3\*\*113 = 8\.217e\+53 configurations"):
        cn.enumerate_exact(cn.Lattice(LATTICE), cn.MLP(3, (8, 8)))
    with pytest.raises(CountnetsError, match="needs a Lattice prior"):
        cn.enumerate_exact(cn.Gaussian(), cn.MLP(2, ()))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_samples=0), "n_samples \\(sample count\\) must be a positive int"),
        (dict(n_samples=-5), "must be a positive int"),
        (dict(n_samples=10, seed=-1), "seed must be a non-negative int"),
        (dict(n_samples=10, seed=2**32), "seed must be below 2\\*\\*32"),
        (dict(n_samples=10, chunk_size=0), "chunk_size must be a positive int"),
        (dict(n_samples=10, encoding="bits"), "encoding must be one of"),
        (dict(n_samples=10, confidence=1.5), "confidence must be in"),
        (dict(n_samples=10, precision="fast"), "precision must be one of"),
    ],
)
def test_estimator_input_errors(kwargs, match):
    with pytest.raises(CountnetsError, match=match):
        cn.estimate_mc(cn.Gaussian(), cn.MLP(2, ()), ["and"], **kwargs)


def test_target_errors():
    with pytest.raises(CountnetsError, match="distinct"):
        cn.estimate_mc(cn.Gaussian(), cn.MLP(2, ()), ["and", "0x8"], n_samples=10)
    with pytest.raises(CountnetsError, match="out of range"):
        cn.estimate_mc(cn.Gaussian(), cn.MLP(2, ()), [16], n_samples=10)
