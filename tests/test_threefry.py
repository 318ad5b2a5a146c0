"""The fused chunk stream equals jax.random bit for bit, whole chunks and paired-row blocks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from countnets import MLP, Gaussian, Lattice, ResMLP, Uniform, _threefry
from countnets.network.priors import chunk_key

SHAPES = [(1, 1), (2, 1), (3, 5), (4, 41), (6, 7), (4096, 41), (10, 585)]
# A span of exactly 1 is the case XLA rewrites; the others are not.
BOUNDS = [(-0.3, 0.7), (-0.5, 0.5), (-1.0, 1.0), (-2.5, 2.5)]


def _key(seed=7, index=3):
    return jax.random.fold_in(jax.random.PRNGKey(seed), index)


@pytest.mark.parametrize("shape", SHAPES)
def test_bits_and_transforms_equal_jax_random(shape):
    key = _key()
    # Traced inside jit, as the engine runs them (XLA folds constants there, see _threefry).
    with jax.threefry_partitionable(False):
        ref_bits = jax.random.bits(key, shape)
        ref_normal = jax.jit(lambda k: jax.random.normal(k, shape))(key)
        ref_uniforms = [jax.jit(lambda k: jax.random.uniform(k, shape, minval=lo, maxval=hi))(key) for lo, hi in BOUNDS]
    raw = _threefry.bits(key, *shape)
    assert np.array_equal(np.asarray(raw), np.asarray(ref_bits))
    normal = jax.jit(lambda k: _threefry.normal(_threefry.bits(k, *shape)))(key)
    assert np.array_equal(np.asarray(normal), np.asarray(ref_normal))
    for (lo, hi), ref in zip(BOUNDS, ref_uniforms):
        uniform = jax.jit(lambda k: _threefry.uniform(_threefry.bits(k, *shape), lo, hi))(key)
        assert np.array_equal(np.asarray(uniform), np.asarray(ref))


@pytest.mark.parametrize("shape", [s for s in SHAPES if s[0] % 2 == 0])
def test_paired_rows_are_rows_of_the_whole_draw(shape):
    key = _key(11, 5)
    whole = np.asarray(_threefry.bits(key, *shape))
    half = shape[0] // 2
    for rows in {1, half} | ({half // 2} if half % 2 == 0 else set()):
        draw = jax.jit(lambda k, f: _threefry.paired_row_bits(k, *shape, f, rows))
        for first in sorted({0, rows, half - rows} & set(range(0, half, rows))):
            got = np.asarray(draw(key, first))
            assert np.array_equal(got[0], whole[first : first + rows])
            assert np.array_equal(got[1], whole[half + first : half + first + rows])


def test_paired_rows_need_an_even_chunk():
    with pytest.raises(ValueError, match="even number of rows"):
        _threefry.paired_row_bits(_key(), 3, 5, 0, 1)
    with pytest.raises(ValueError, match="too large"):
        _threefry.bits(_key(), 2**16, 2**16)


PRIORS = [
    Gaussian(1.3, 0.7),
    Uniform(0.5),
    Uniform(1.7),
    Lattice((-2.0, -1.0, 0.0, 0.5, 1.0, 2.0)),
    Lattice(tuple(float(v) for v in range(7))),
    Lattice((-1.0, 0.0, 1.0)),
    Lattice((0.0, 2.5, -1.0, 7.0, 3.0)),
]


@pytest.mark.parametrize("prior", PRIORS, ids=lambda p: type(p).__name__ + str(len(p.config())))
def test_prior_samples_equal_the_documented_jax_random_call(prior):
    layout = MLP(3, (8,)).layout()
    key, index, size = jax.random.PRNGKey(2), 9, 64
    theta = np.asarray(jax.jit(lambda k: prior.sample(k, index, size, layout))(key))
    shape = (size, 41)

    def reference(key):
        k = chunk_key(key, index)
        if isinstance(prior, Gaussian):
            return jax.random.normal(k, shape) * prior.scales(layout)[None, :]
        if isinstance(prior, Uniform):
            return jax.random.uniform(k, shape, minval=-prior.bound, maxval=prior.bound)
        return jnp.asarray(prior.values, jnp.float32)[jax.random.randint(k, shape, 0, len(prior.values))]

    with jax.threefry_partitionable(False):
        ref = jax.jit(reference)(key)
    assert np.array_equal(theta, np.asarray(ref))


@pytest.mark.parametrize("prior", PRIORS, ids=lambda p: type(p).__name__ + str(len(p.config())))
def test_prior_paired_rows_equal_rows_of_sample(prior):
    layout = ResMLP(2, 3, 1, 2).layout()
    key, index, size = jax.random.PRNGKey(4), 2, 16
    whole = np.asarray(jax.jit(lambda k: prior.sample(k, index, size, layout))(key))
    for first, rows in [(0, 8), (0, 2), (6, 2), (3, 1)]:
        got = np.asarray(jax.jit(lambda k, f: prior.sample_paired_rows(k, index, size, layout, f, rows))(key, first))
        expected = np.concatenate([whole[first : first + rows], whole[size // 2 + first : size // 2 + first + rows]])
        assert np.array_equal(got, expected)


def test_keys_are_threefry_whatever_the_default_prng():
    from countnets import CountnetsError
    from countnets.engine import driver

    layout = MLP(2, ()).layout()
    with jax.default_prng_impl("rbg"):
        key = driver.seed_key(3)
        theta = np.asarray(Gaussian().sample(key, 0, 8, layout))
    assert np.array_equal(np.asarray(key), np.asarray([0, 3], np.uint32))
    assert np.array_equal(theta, np.asarray(Gaussian().sample(jax.random.PRNGKey(3), 0, 8, layout)))
    # A typed threefry key draws the same stream; other generators are refused.
    assert np.array_equal(theta, np.asarray(Gaussian().sample(jax.random.key(3, impl="threefry2x32"), 0, 8, layout)))
    with pytest.raises(CountnetsError, match="threefry2x32 keys, got a rbg key"):
        Gaussian().sample(jax.random.key(3, impl="rbg"), 0, 8, layout)
    with pytest.raises(CountnetsError, match="two uint32 words"):
        Gaussian().sample(jnp.zeros(4, jnp.uint32), 0, 8, layout)
