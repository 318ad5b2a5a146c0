"""Fast chunk kernels against the reference vmap(apply): identical truth tables, close outputs."""

import jax
import numpy as np
import pytest

import countnets as cn
from countnets import kernels

CASES = [
    (cn.MLP(3, (8,)), "01"),
    (cn.MLP(3, (8,), "step"), "pm1"),
    (cn.MLP(5, (16, 16)), "pm1"),
    (cn.MLP(5, (16, 16), "tanh"), "01"),
    (cn.MLP(7, (40, 40)), "01"),
    (cn.MLP(4, ()), "pm1"),
    (cn.ResMLP(3, 8, 4, 8), "pm1"),
    (cn.ResMLP(4, 6, 2, 5, 0.5), "01"),
]


@pytest.mark.parametrize("arch, encoding", CASES, ids=[f"{a.name}-{e}" for a, e in CASES])
def test_fast_kernel_matches_reference(arch, encoding):
    chunk = 4096 if arch.n_params < 500 else 512
    x = cn.cube(arch.n, encoding)
    layout = arch.layout()
    sample = jax.jit(lambda k, i: cn.Gaussian(1.0, 1.0).sample(k, i, chunk, layout))
    fast = jax.jit(lambda t: kernels.chunk_outputs(arch, t, x))
    ref = jax.jit(lambda t: cn.apply_flat_batch(arch, t, x))
    for index in range(3):
        theta = sample(jax.random.PRNGKey(21), index)
        y_fast, y_ref = np.asarray(fast(theta)), np.asarray(ref(theta))
        np.testing.assert_allclose(y_fast, y_ref, rtol=1e-5, atol=1e-5)
        assert np.array_equal(y_fast > 0, y_ref > 0)


def test_lattice_outputs_are_exact():
    # Integer parameters and inputs: every partial sum is an exact float32 integer, so the
    # kernels agree with the reference bit for bit whatever the order of additions.
    arch = cn.MLP(3, (4, 4))
    theta = cn.Lattice((-1.0, 0.0, 1.0)).sample(jax.random.PRNGKey(0), 0, 2048, arch.layout())
    x = cn.cube(3, "pm1")
    assert np.array_equal(np.asarray(kernels.chunk_outputs(arch, theta, x)), np.asarray(cn.apply_flat_batch(arch, theta, x)))


def test_stream_is_pinned():
    # Golden values: the chunk stream (non-partitionable threefry, fold_in per chunk) must
    # not change between JAX versions or configurations, or saved results stop reproducing.
    theta = jax.jit(lambda k: cn.Uniform(1.0).sample(k, 3, 4, cn.MLP(1, ()).layout()))(jax.random.PRNGKey(0))
    with jax.threefry_partitionable(True):
        again = jax.jit(lambda k: cn.Uniform(1.0).sample(k, 3, 4, cn.MLP(1, ()).layout()))(jax.random.PRNGKey(0))
    assert np.array_equal(np.asarray(theta), np.asarray(again))
    golden = [
        [-0.7262287139892578, -0.03318381309509277],
        [0.03642416000366211, -0.06299042701721191],
        [-0.7400457859039307, -0.9121623039245605],
        [0.5989954471588135, 0.4628632068634033],
    ]
    assert np.asarray(theta).tolist() == golden
