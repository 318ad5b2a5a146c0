"""Vectorised optax training of batches of networks, and what it trains toward (DESIGN section 3b).

A *training set* S is a set of cube points labelled by a target ``f*``.

* :class:`TrainingSet`, :func:`training_set`: S.
* :func:`pointwise_loss`, :class:`TrainConfig`, :func:`pressure_penalty`,
  :func:`diversity_penalty`: the loss and its optional penalty.
* :func:`build_trainer`: trains a batch of networks (flat parameter vectors with a
  leading network axis) together, in one jitted ``lax.while_loop``, with **one**
  optax optimiser state for the whole batch. The batch loss is the *sum* of the
  per-network losses, so each network's gradient is its own, and the element-wise
  optimisers (SGD, momentum, Adam) then act on each network independently. A
  network that classifies every point of S correctly gets no update (its gradient
  and its update are masked to zero), so it stays exactly where it first fit S.
  The loop ends when every network fits S or after ``max_steps`` updates.

Losses act on the output pre-activation ``y`` with label ``t`` in {0, 1} and sign
``s = 2 t - 1``: logistic ``softplus(-s y)``; hinge ``max(0, margin - s y)``. The
training loss of one network is ``L_S = mean_{j in S} loss(y_j, f*_j)`` plus an
optional penalty (pressure toward B, or a reward for diversity).

Step activations (``MLP(..., activation="step")`` and the goal unit of ``GoalNet``)
have zero gradient almost everywhere. They are trained as they are: parameters that
feed only a step unit never move (the ``moved`` diagnostic of
:func:`countnets.train.training.train_networks` shows it); no surrogate gradient is used.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Bool, Float, Int, UInt32

from countnets._errors import CountnetsError, check_finite_float, check_positive_int
from countnets.defaults import LOSSES, OPTIMIZERS  # noqa: F401 (re-exported)
from countnets.engine.steps import check_precision
from countnets.measures import Measure, all_of, finite, fits
from countnets.network import boolean
from countnets.network.architectures import DEFAULT_PRECISION, apply_flat_batch

__all__ = [
    "LOSSES",
    "OPTIMIZERS",
    "DEFAULT_LEARNING_RATES",
    "DEFAULT_MAX_TRAIN_BATCH",
    "TrainingSet",
    "training_set",
    "TrainConfig",
    "pointwise_loss",
    "off_set_loss",
    "pressure_penalty",
    "diversity_penalty",
    "TrainOutput",
    "build_trainer",
]

DEFAULT_LEARNING_RATES = {"sgd": 0.5, "momentum": 0.1, "adam": 0.02}
DEFAULT_MAX_TRAIN_BATCH = 16384  # networks trained together in one while loop, at most (memory)


# --------------------------------------------------------------------------- training set


@dataclasses.dataclass(frozen=True)
class TrainingSet:
    """Cube points ``S`` labelled by a target function ``f*``.

    Attributes:
      n: number of inputs.
      target: integer truth table of ``f*`` (bit j = label of point j).
      points: the points of S, sorted, distinct, each in ``0 .. 2**n - 1``.
    """

    n: int
    target: int
    points: tuple[int, ...]

    def __post_init__(self) -> None:
        n = check_positive_int("n (number of inputs)", self.n)
        if n > boolean.MAX_INPUTS:
            raise CountnetsError(f"n (number of inputs) must be in 1..{boolean.MAX_INPUTS}, got {n}")
        target = int(self.target)
        if not 0 <= target < 2 ** (2**n):
            raise CountnetsError(f"target {self.target!r} is out of range for n={n}")
        try:
            pts = [check_positive_int("training point", p, allow_zero=True) for p in self.points]
        except TypeError:
            raise CountnetsError(f"training points must be a sequence of ints, got {self.points!r}") from None
        if not pts:
            raise CountnetsError("the training set must have at least one point")
        if len(set(pts)) != len(pts):
            raise CountnetsError(f"training points must be distinct, got {pts}")
        bad = [p for p in pts if p >= 2**n]
        if bad:
            raise CountnetsError(f"training points must be in 0..{2**n - 1} for n={n}, got {bad}")
        object.__setattr__(self, "n", n)
        object.__setattr__(self, "target", target)
        object.__setattr__(self, "points", tuple(sorted(pts)))

    @property
    def m(self) -> int:
        """Number of training points, ``|S|``."""
        return len(self.points)

    def labels(self) -> np.ndarray:
        """Boolean labels ``f*(j)`` for ``j`` in S, in the order of :attr:`points`."""
        return np.array([(self.target >> p) & 1 for p in self.points], dtype=bool)

    def off_points(self) -> tuple[int, ...]:
        """The cube points not in S, sorted."""
        inside = set(self.points)
        return tuple(j for j in range(2**self.n) if j not in inside)

    def mask(self) -> int:
        """Integer with bit j set for each j in S."""
        return sum(1 << p for p in self.points)

    def fits(self, table: int) -> bool:
        """Whether the integer truth table ``table`` agrees with ``f*`` on every point of S."""
        return ((int(table) ^ self.target) & self.mask()) == 0

    def measure(self) -> Measure:
        """The event "fits S": ``all_of(fits(points, target), finite())`` (:mod:`countnets.measures`).

        A network fits S when its outputs on S are on the labelled side of 0 and every
        output on the cube is finite, as rejection sampling of ``P(f | S)`` counts it.
        """
        return all_of(fits(self.points, self.target), finite())

    def fits_packed(self, keys: UInt32[Array, "*batch words"]) -> Bool[Array, "*batch"]:
        """Whether packed truth tables (:func:`countnets.network.boolean.pack_table`) agree with ``f*`` on S."""
        shape = (1,) * (keys.ndim - 1) + (-1,)
        mask = jnp.asarray(boolean.int_to_words(self.mask(), self.n)).reshape(shape)
        target = jnp.asarray(boolean.int_to_words(self.target, self.n)).reshape(shape)
        return jnp.all(((keys ^ target) & mask) == jnp.uint32(0), axis=-1)

    def config(self) -> dict:
        """Plain-dict description, stored in results."""
        return {"n": self.n, "target": boolean.to_hex(self.target), "train_points": list(self.points)}


def training_set(
    n: int, target: int | str, *, points: Sequence[int] | None = None, size: int | None = None, seed: int = 0
) -> TrainingSet:
    """A training set from explicit points or a seeded random subset of the cube.

    Exactly one of ``points`` and ``size`` must be given. With ``size = m`` the points
    are ``numpy.random.default_rng([seed, 2**n, m]).choice(2**n, m, replace=False)``,
    sorted (so the subset depends only on (seed, n, m)).

    Raises:
      CountnetsError: if both or neither of ``points``/``size`` are given, or they are
        out of range.

    >>> training_set(2, "and", points=[0, 3]).labels().tolist()
    [False, True]
    """
    target_int = boolean.parse_function(target, n) if isinstance(target, str) else int(target)
    if (points is None) == (size is None):
        raise CountnetsError("give exactly one of points (explicit training points) and size (a random subset)")
    if size is not None:
        size = check_positive_int("training set size", size)
        if size > 2**n:
            raise CountnetsError(f"training set size must be at most 2**n = {2**n}, got {size}")
        seed = check_positive_int("seed", seed, allow_zero=True)
        rng = np.random.default_rng([seed, 2**n, size])
        points = sorted(int(p) for p in rng.choice(2**n, size=size, replace=False))
    return TrainingSet(n, target_int, tuple(points))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- losses and config


def pointwise_loss(
    name: str, y: Float[Array, "*points"], labels: Bool[Array, "*points"], margin: float = 1.0
) -> Float[Array, "*points"]:
    """Per-point loss on the output pre-activation.

    With ``s = 2 t - 1`` for label ``t`` in {0, 1}:

    * ``"logistic"``: ``softplus(-s y) = log(1 + exp(-s y))``;
    * ``"hinge"``: ``max(0, margin - s y)``; its gradient is exactly zero where
      ``s y >= margin``.

    >>> import jax.numpy as jnp
    >>> pointwise_loss("hinge", jnp.array([2.0, -0.5]), jnp.array([True, True])).tolist()
    [0.0, 1.5]
    """
    s = 2.0 * labels.astype(y.dtype) - 1.0
    if name == "logistic":
        return jax.nn.softplus(-s * y)
    if name == "hinge":
        return jax.nn.relu(jnp.asarray(margin, y.dtype) - s * y)
    raise CountnetsError(f"unknown loss {name!r}; expected one of {', '.join(LOSSES)}")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """How networks are trained.

    Attributes:
      optimizer: ``"sgd"`` (``optax.sgd(lr)``), ``"momentum"`` (``optax.sgd(lr,
        momentum)``) or ``"adam"`` (``optax.adam(lr)``, default b1, b2, eps).
      learning_rate: step size; ``None`` means ``DEFAULT_LEARNING_RATES[optimizer]``.
      loss: ``"logistic"`` or ``"hinge"`` (see :func:`pointwise_loss`).
      margin: the hinge margin.
      max_steps: the step budget: at most this many updates per network.
      momentum: the momentum coefficient of ``"momentum"``.
      stop_on_fit: if True (default), a network that fits S gets no further updates;
        if False, every network gets exactly ``max_steps`` updates.
      precision: matmul precision.
    """

    optimizer: str = "adam"
    learning_rate: float | None = None
    loss: str = "logistic"
    margin: float = 1.0
    max_steps: int = 2000
    momentum: float = 0.9
    stop_on_fit: bool = True
    precision: str = DEFAULT_PRECISION

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise CountnetsError(f"unknown optimizer {self.optimizer!r}; expected one of {', '.join(OPTIMIZERS)}")
        if self.loss not in LOSSES:
            raise CountnetsError(f"unknown loss {self.loss!r}; expected one of {', '.join(LOSSES)}")
        lr = DEFAULT_LEARNING_RATES[self.optimizer] if self.learning_rate is None else self.learning_rate
        object.__setattr__(self, "learning_rate", check_finite_float("learning rate", lr, positive=True))
        object.__setattr__(self, "margin", check_finite_float("hinge margin", self.margin, non_negative=True))
        object.__setattr__(self, "max_steps", check_positive_int("max_steps", self.max_steps, allow_zero=True))
        mom = check_finite_float("momentum", self.momentum)
        if not 0.0 <= mom < 1.0:
            raise CountnetsError(f"momentum must be in [0, 1), got {mom}")
        object.__setattr__(self, "momentum", mom)
        check_precision(self.precision)

    def optax(self) -> optax.GradientTransformation:
        """The optax optimiser."""
        lr = float(self.learning_rate)  # type: ignore[arg-type]
        if self.optimizer == "sgd":
            return optax.sgd(lr)
        if self.optimizer == "momentum":
            return optax.sgd(lr, momentum=self.momentum)
        return optax.adam(lr)

    def measure(self) -> Measure:
        """The event "fits S": ``all_of(fits(points, target), finite())`` (:mod:`countnets.measures`).

        A network fits S when its outputs on S are on the labelled side of 0 and every
        output on the cube is finite, as rejection sampling of ``P(f | S)`` counts it.
        """
        return all_of(fits(self.points, self.target), finite())

    def fits_packed(self, keys: UInt32[Array, "*batch words"]) -> Bool[Array, "*batch"]:
        """Whether packed truth tables (:func:`countnets.network.boolean.pack_table`) agree with ``f*`` on S."""
        shape = (1,) * (keys.ndim - 1) + (-1,)
        mask = jnp.asarray(boolean.int_to_words(self.mask(), self.n)).reshape(shape)
        target = jnp.asarray(boolean.int_to_words(self.target, self.n)).reshape(shape)
        return jnp.all(((keys ^ target) & mask) == jnp.uint32(0), axis=-1)

    def config(self) -> dict:
        """Plain-dict description, stored in results."""
        out = dataclasses.asdict(self)
        if self.optimizer != "momentum":
            out.pop("momentum")
        if self.loss != "hinge":
            out.pop("margin")
        return out


# --------------------------------------------------------------------------- penalties

Penalty = Callable[[Array, Any], Array]


def off_set_loss(
    name: str, y_off: Float[Array, "*batch off"], labels_off: Bool[Array, "*batch off"], margin: float = 1.0
) -> Float[Array, "*batch"]:
    """``l_B = mean_{j not in S} loss(y_j, B_j)``: the loss toward B's labels off S."""
    return jnp.mean(pointwise_loss(name, y_off, labels_off, margin), axis=-1)


def pressure_penalty(tset: TrainingSet, config: TrainConfig) -> Penalty:
    """Penalty ``lambda * l_B(theta)`` with per-network arguments ``(lambda, B's labels off S)``.

    The returned ``penalty(y, (lam, labels_off))`` takes the outputs ``y`` of one network
    on the whole cube, ``lam`` a float32 scalar and ``labels_off`` bool of shape
    ``(2**n - m,)`` (B's labels at :meth:`TrainingSet.off_points`, in order).
    """
    off = jnp.asarray(np.array(tset.off_points(), dtype=np.int32))
    if off.shape[0] == 0:
        raise CountnetsError("pressure toward B needs points off S, but S is the whole cube")

    def penalty(y, args):
        lam, labels_off = args
        return lam * off_set_loss(config.loss, y[off], labels_off, config.margin)

    return penalty


def diversity_penalty(tset: TrainingSet) -> Penalty:
    """Reward for disagreeing off S with functions found before.

    ``penalty(y, (mu, found, found_mask)) = mu * max_{g found} a_g(y)`` with the soft
    agreement ``a_g(y) = mean_{j not in S} sigmoid(s_{g,j} y_j)``, ``s = 2 g_j - 1``;
    ``found`` is bool ``(K, 2**n - m)`` (labels off S of up to K functions) and
    ``found_mask`` bool ``(K,)`` says which rows are real. With no function found the
    penalty is 0.
    """
    off = jnp.asarray(np.array(tset.off_points(), dtype=np.int32))
    if off.shape[0] == 0:
        raise CountnetsError("diversity needs points off S, but S is the whole cube")

    def penalty(y, args):
        mu, found, found_mask = args
        y_off = y[off]
        s = 2.0 * found.astype(y.dtype) - 1.0  # (K, off)
        agree = jnp.mean(jax.nn.sigmoid(s * y_off[None, :]), axis=-1)  # (K,)
        best = jnp.max(jnp.where(found_mask, agree, -jnp.inf))
        return jnp.where(jnp.any(found_mask), mu * best, jnp.zeros((), y.dtype))

    return penalty


# --------------------------------------------------------------------------- the trainer


def _varying_axes(x: Any) -> frozenset:
    aval = jax.typeof(x)
    mat = getattr(aval, "manual_axis_type", None)
    if mat is not None:
        return frozenset(getattr(mat, "varying", frozenset()))
    return frozenset(getattr(aval, "vma", frozenset()))


def _match_varying(tree: Any, like: Array) -> Any:
    # Inside shard_map (run_chunks shards jitted steps over devices), a while_loop carry
    # must have the same varying mesh axes on entry as the body gives it; freshly made
    # zeros (optimiser state, step counters) are not varying until cast.
    axes = _varying_axes(like)
    if not axes:
        return tree

    def cast(x):
        missing = tuple(sorted(axes - _varying_axes(x)))
        return jax.lax.pcast(x, missing, to="varying") if missing else x

    return jax.tree_util.tree_map(cast, tree)


class TrainOutput(NamedTuple):
    """Per-network results of :func:`build_trainer`'s ``train``."""

    theta: Float[Array, "batch n_params"]  # final flat parameters
    tables: UInt32[Array, "batch words"]  # packed truth table on the whole cube
    fit: Bool[Array, " batch"]  # final table agrees with f* on S
    steps: Int[Array, " batch"]  # updates applied (int32)
    nonfinite: Bool[Array, " batch"]  # some final output is NaN or infinite
    loss: Float[Array, " batch"]  # final L_S (without penalty)


def build_trainer(
    arch: Any,
    tset: TrainingSet,
    config: TrainConfig,
    *,
    encoding: str = "01",
    penalty: Penalty | None = None,
) -> Callable[[Array, Array, Any], TrainOutput]:
    """A pure ``train(theta0, valid, penalty_args) -> TrainOutput`` (jit it, or call it inside jit).

    ``theta0`` is float32 ``(batch, n_params)``, ``valid`` bool ``(batch,)`` (invalid rows
    are padding: never updated) and ``penalty_args`` a pytree whose leaves have a
    leading ``batch`` axis (``None`` without a penalty).

    Loop (``lax.while_loop``), with ``L(theta) = sum_i [L_S(theta_i) + penalty_i]``:
    at each iteration the outputs, ``L`` and its gradient are computed at the current
    parameters; network i is *active* if valid and (when ``stop_on_fit``) not yet
    fitting S; gradients and optax updates of inactive networks are set to zero; the
    loop stops when no network is active or after ``max_steps`` iterations. A
    network's trajectory does not depend on the rest of the batch (element-wise
    optimisers; Adam's step count is shared but equals every active network's own,
    since a network is active from the first iteration until it fits S). A network
    *fits S* when every output on S is finite and on the right side of 0
    (``y > 0`` for label 1, ``y <= 0`` for label 0).
    """
    if tset.n != arch.n:
        raise CountnetsError(f"the training set has n={tset.n} but the architecture has n={arch.n}")
    x_full = boolean.cube(arch.n, encoding)
    idx = np.array(tset.points, dtype=np.int32)
    if penalty is None:
        x_eval, pos = x_full[jnp.asarray(idx)], jnp.arange(idx.shape[0], dtype=jnp.int32)
    else:
        x_eval, pos = x_full, jnp.asarray(idx)
    labels = jnp.asarray(tset.labels())
    opt = config.optax()
    precision = config.precision

    def outputs(theta_one, x):
        return arch.apply(arch.unflatten(theta_one), x, precision=precision)

    def one_loss(theta_one, args):
        y = outputs(theta_one, x_eval)
        y_s = y[pos]
        loss_s = jnp.mean(pointwise_loss(config.loss, y_s, labels, config.margin))
        total = loss_s if penalty is None else loss_s + penalty(y, args)
        fit = jnp.all(((y_s > 0) == labels) & jnp.isfinite(y_s))
        return total, fit

    def batch_loss(theta, args):
        totals, fits = jax.vmap(one_loss)(theta, args)
        return jnp.sum(totals), fits

    grad_fn = jax.value_and_grad(batch_loss, has_aux=True)

    def train(theta0, valid, penalty_args):
        def cond(carry):
            t, _, _, done, _ = carry
            return (t < config.max_steps) & jnp.any(~done)

        def body(carry):
            t, theta, opt_state, _, steps = carry
            (_, fit), grads = grad_fn(theta, penalty_args)
            active = valid & ~fit if config.stop_on_fit else valid
            grads = jnp.where(active[:, None], grads, jnp.zeros_like(grads))
            with jax.numpy_dtype_promotion("standard"):  # optax mixes weak floats and int32 step counts
                updates, opt_state = opt.update(grads, opt_state, theta)
            updates = jnp.where(active[:, None], updates, jnp.zeros_like(updates))
            theta = optax.apply_updates(theta, updates)
            return t + 1, theta, opt_state, ~active, steps + active.astype(jnp.int32)

        with jax.numpy_dtype_promotion("standard"):
            state0 = opt.init(theta0)
        carry0 = (
            jnp.zeros((), jnp.int32),
            theta0,
            state0,
            ~valid,
            jnp.zeros(theta0.shape[:1], jnp.int32),
        )
        carry0 = (carry0[0], *_match_varying(carry0[1:], valid))
        _, theta, _, _, steps = jax.lax.while_loop(cond, body, carry0)
        y = apply_flat_batch(arch, theta, x_full, precision=precision)
        tables = boolean.pack_table(boolean.truth_table(y))
        y_s = y[:, jnp.asarray(idx)]
        fit = jnp.all(((y_s > 0) == labels[None, :]) & jnp.isfinite(y_s), axis=1)
        loss = jnp.mean(
            pointwise_loss(config.loss, y_s, jnp.broadcast_to(labels[None, :], y_s.shape), config.margin), axis=1
        )
        nonfinite = ~jnp.all(jnp.isfinite(y), axis=1)
        return TrainOutput(theta, tables, fit, steps, nonfinite, loss)

    return train


