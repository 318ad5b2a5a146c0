"""A prior and an architecture written outside the package run through the front ends (issue 27).

``countnets.Prior`` and ``countnets.Architecture`` are protocols: any object with their members
works. Here a user writes a discrete prior (every parameter uniform on {-2, ..., 2}, with its own
invariant move) and a perceptron of their own, and runs ``estimate_mc`` and ``estimate_rare`` on
them. The exact answer comes from enumerating the 5**4 parameter vectors in plain numpy, and
each estimate's own 99.9% interval must hold it.
"""

import dataclasses
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import countnets as cn
from countnets.network.layout import ParamSpec
from countnets.rare.moves import Move

VALUES = (-2.0, -1.0, 0.0, 1.0, 2.0)
AND3 = 0x80  # 01 encoding: only x = (1, 1, 1), table bit 7, is 1


@dataclasses.dataclass(frozen=True)
class FivePoint:
    """Every parameter independent and uniform on VALUES; not a countnets class."""

    def sample(self, key, chunk_index, chunk_size, layout):
        n_params = sum(int(np.prod(spec.shape)) for spec in layout)
        index = jax.random.randint(jax.random.fold_in(key, chunk_index), (chunk_size, n_params), 0, len(VALUES))
        return jnp.asarray(VALUES, jnp.float32)[index]

    def config(self):
        return {"prior": "five-point", "values": list(VALUES)}

    def invariant_move(self, layout, name):
        if name != "auto":
            raise cn.CountnetsError(f"FivePoint has one move, 'auto'; got {name!r}")

        def propose(key, theta, step):
            # Redraw each coordinate from the prior with probability `step`: reversible for a product prior.
            pick, fresh = jax.random.split(key)
            redraw = jax.random.uniform(pick, theta.shape) < step
            values = jnp.asarray(VALUES, jnp.float32)[jax.random.randint(fresh, theta.shape, 0, len(VALUES))]
            return jnp.where(redraw, values, theta)

        return Move("five-point-redraw", "fraction resampled", propose, initial_step=0.5, min_step=0.1, max_step=1.0)


@dataclasses.dataclass(frozen=True)
class Perceptron:
    """y = x . w + b, written by the user; not a countnets class."""

    n: int

    @property
    def name(self):
        return f"user-perceptron-{self.n}"

    def layout(self):
        return (ParamSpec("w", (self.n,), "weight", self.n), ParamSpec("b", (1,), "bias"))

    @property
    def n_params(self):
        return self.n + 1

    def unflatten(self, theta):
        theta = jnp.asarray(theta)
        return {"w": theta[..., : self.n], "b": theta[..., self.n :]}

    def apply(self, params, x, *, precision="highest"):
        return jnp.matmul(x, params["w"], precision=precision) + params["b"][0]

    def config(self):
        return {"arch": "user-perceptron", "n": self.n}


def _exact_and3() -> float:
    """P(the perceptron computes AND of 3) under FivePoint, by enumerating all 625 vectors in numpy."""
    cube = np.array(list(itertools.product((0, 1), repeat=3)))[:, ::-1]  # row i = bits of i, x_0 the low bit
    want = np.arange(8) == 7
    hits = sum(np.array_equal(cube @ np.array(v[:3]) + v[3] > 0, want) for v in itertools.product(VALUES, repeat=4))
    return hits / len(VALUES) ** 4


def test_the_user_types_satisfy_the_protocols():
    assert isinstance(FivePoint(), cn.Prior) and isinstance(Perceptron(3), cn.Architecture)
    assert not isinstance(Perceptron(3), cn.Prior) and not isinstance(FivePoint(), cn.Architecture)
    assert isinstance(cn.Gaussian(), cn.Prior) and isinstance(cn.ResMLP(4, 8, 2, 1), cn.Architecture)


def test_estimate_mc_on_a_user_prior_and_architecture_holds_the_exact_value():
    exact = _exact_and3()
    assert exact == 1 / 625, exact  # only w = (1, 1, 1), b = -2: the checks below are not vacuous
    result = cn.estimate_mc(FivePoint(), Perceptron(3), [AND3], n_samples=20_000, seed=3, confidence=0.999)
    (est,) = result.estimates
    assert est.ci[0] <= exact <= est.ci[1], (exact, est.p, est.ci)
    assert result.config["prior"] == FivePoint().config() and result.config["arch"] == Perceptron(3).config()


def test_estimate_rare_on_a_user_prior_and_architecture_holds_the_exact_value():
    exact = _exact_and3()
    result = cn.estimate_rare(FivePoint(), Perceptron(3), AND3, seed=5, replicas=32, particles=256, confidence=0.999)
    (est,) = result.estimates
    assert result.extra.reliable, result.extra
    assert est.ci[0] <= exact <= est.ci[1], (exact, est.p, est.ci)
    assert result.extra.move == "five-point-redraw"


def test_a_user_prior_without_a_move_or_with_a_bad_one_is_refused_in_one_line():
    @dataclasses.dataclass(frozen=True)
    class NoMove:
        sample = FivePoint.sample
        config = FivePoint.config

    with pytest.raises(cn.CountnetsError, match="splitting needs a prior with an invariant move .* got NoMove"):
        cn.estimate_rare(NoMove(), Perceptron(3), AND3, replicas=4, particles=16)

    @dataclasses.dataclass(frozen=True)
    class BadMove(FivePoint):
        def invariant_move(self, layout, name):
            return "not a move"

    with pytest.raises(cn.CountnetsError, match="BadMove.invariant_move must return a countnets.rare.moves.Move"):
        cn.estimate_rare(BadMove(), Perceptron(3), AND3, replicas=4, particles=16)


def test_structural_readout_needs_a_builtin_architecture():
    with pytest.raises(cn.CountnetsError, match="readout block is known only for the built-in architectures"):
        cn.estimate_rare(cn.Gaussian(), Perceptron(3), AND3, move="lin-ess", replicas=4, particles=16)
