"""Architectures against plain-numpy forward passes written from DESIGN section 3."""

import jax
import numpy as np
import pytest

from countnets import MLP, CountnetsError, ResMLP, apply_flat_batch, cube
from countnets.network.architectures import arch_from_config


def _numpy_mlp(theta, n, hidden, activation, x):
    widths = [n, *hidden, 1]
    acts = {"relu": lambda h: np.maximum(h, 0), "tanh": np.tanh, "step": lambda h: (h > 0).astype(h.dtype)}
    h, off = x.astype(np.float64), 0
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        W = theta[off : off + a * b].reshape(a, b)  # row-major fan_in x fan_out
        off += a * b
        bias = theta[off : off + b]
        off += b
        h = h @ W + bias
        if i < len(widths) - 2:
            h = acts[activation](h)
    assert off == theta.size
    return h[:, 0]


def _numpy_resmlp(theta, n, d, L, w, alpha, x):
    off = 0

    def take(*shape):
        nonlocal off
        size = int(np.prod(shape))
        out = theta[off : off + size].reshape(shape)
        off += size
        return out

    E, e = take(n, d), take(d)
    h = x.astype(np.float64) @ E + e
    for _ in range(L):
        A, a, G = take(d, w), take(w), take(w, d)
        h = h + alpha * np.maximum(h @ A + a, 0) @ G
    u, c = take(d), take(1)
    assert off == theta.size
    return h @ u + c[0]


@pytest.mark.parametrize("hidden", [(), (3,), (4, 5)])
@pytest.mark.parametrize("activation", ["relu", "tanh", "step"])
def test_mlp_matches_numpy(hidden, activation):
    arch = MLP(3, hidden, activation)
    x = np.asarray(cube(3, "pm1"))
    thetas = np.asarray(jax.random.normal(jax.random.PRNGKey(0), (6, arch.n_params)))
    ys = np.asarray(apply_flat_batch(arch, thetas, x))
    for t, y in zip(thetas, ys):
        ref = _numpy_mlp(t.astype(np.float64), 3, hidden, activation, x)
        np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("alpha", [1.0, 0.25])
def test_resmlp_matches_numpy(alpha):
    arch = ResMLP(3, 4, 3, 5, alpha)
    x = np.asarray(cube(3, "01"))
    thetas = np.asarray(jax.random.normal(jax.random.PRNGKey(1), (6, arch.n_params)))
    ys = np.asarray(apply_flat_batch(arch, thetas, x))
    for t, y in zip(thetas, ys):
        np.testing.assert_allclose(y, _numpy_resmlp(t.astype(np.float64), 3, 4, 3, 5, alpha, x), rtol=1e-5, atol=1e-5)


def test_parameter_counts_and_order():
    assert MLP(7, (40, 40)).n_params == 2001
    assert MLP(5, (16, 16)).n_params == 385
    assert MLP(3, (8,)).n_params == 41
    assert [s.name for s in MLP(2, (3,)).layout()] == ["W1", "b1", "W2", "b2"]
    arch = ResMLP(2, 3, 2, 4)
    assert [s.name for s in arch.layout()] == ["E", "e", "A1", "a1", "G1", "A2", "a2", "G2", "u", "c"]
    assert [s.fan_in for s in arch.layout() if s.kind == "weight"] == [2, 3, 4, 3, 4, 3]
    assert arch.n_params == 2 * 3 + 3 + 2 * (3 * 4 + 4 + 4 * 3) + 3 + 1


def test_unflatten_with_batch_axes():
    arch = MLP(2, (3,))
    theta = np.arange(2 * 5 * arch.n_params, dtype=np.float32).reshape(2, 5, arch.n_params)
    params = arch.unflatten(theta)
    assert params["W1"].shape == (2, 5, 2, 3)
    assert np.asarray(params["W1"])[0, 0].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert np.asarray(params["b1"])[0, 0].tolist() == [6, 7, 8]


def test_config_round_trip():
    for arch in [MLP(3, (4, 2), "tanh"), MLP(2, ()), ResMLP(3, 4, 2, 5, 0.5)]:
        assert arch_from_config(arch.config()) == arch


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: MLP(0, (3,)), "n \\(number of inputs\\) must be a positive int"),
        (lambda: MLP(13, (3,)), "must be in 1..12"),
        (lambda: MLP(3, (0,)), "hidden width must be a positive int"),
        (lambda: MLP(3, (4,), "gelu"), "unknown activation 'gelu'"),
        (lambda: ResMLP(3, 0, 2, 4), "d \\(stream width\\)"),
        (lambda: ResMLP(3, 4, -1, 4), "L \\(number of blocks\\)"),
        (lambda: ResMLP(3, 4, 2, 4, float("inf")), "branch_scale must be finite"),
    ],
)
def test_architecture_errors(make, match):
    with pytest.raises(CountnetsError, match=match):
        make()


def test_wrong_parameter_length():
    with pytest.raises(CountnetsError, match="must have 41 entries"):
        MLP(3, (8,)).unflatten(np.zeros(40, np.float32))
