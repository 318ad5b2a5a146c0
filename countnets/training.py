"""Training versus the prior: vectorised optax training, the conditional prior, tilting.

DESIGN section 3b. A *training set* S is a set of cube points labelled by a target
``f*``. This module provides:

* :func:`build_trainer`: trains a batch of networks (flat parameter vectors with a
  leading network axis) together, in one jitted ``lax.while_loop``, with **one**
  optax optimiser state for the whole batch. The batch loss is the *sum* of the
  per-network losses, so each network's gradient is its own, and the element-wise
  optimisers (SGD, momentum, Adam) then act on each network independently. A
  network that classifies every point of S correctly gets no update (its gradient
  and its update are masked to zero), so it stays exactly where it first fit S.
  The loop ends when every network fits S or after ``max_steps`` updates.
* :func:`train_networks`: drives that trainer over chunks with
  :func:`countnets.estimators.run_chunks`. Trained network ``i`` starts from prior
  sample ``i`` (chunk ``i // C``, the same ``prior.sample(key, chunk, C, layout)`` as
  sampling), so a run is reproducible per chunk and independent of batching.
* :func:`conditional_prior`: ``P_prior(f | S)`` by rejection sampling with the core
  engine (exact enumeration for lattice priors).
* :func:`tilted_prior`: the prior restricted to S and tilted by
  ``exp(-lambda l_B(theta))`` (self-normalised importance weights).
* :func:`lambda_star`, :func:`compare_distributions`: the summaries the
  experiments report.

Losses act on the output pre-activation ``y`` with label ``t`` in {0, 1} and sign
``s = 2 t - 1``: logistic ``softplus(-s y)``; hinge ``max(0, margin - s y)``. The
training loss of one network is ``L_S = mean_{j in S} loss(y_j, f*_j)`` plus an
optional penalty (pressure toward B, or a reward for diversity).

Step activations (``MLP(..., activation="step")`` and the goal unit of ``GoalNet``)
have zero gradient almost everywhere. They are trained as they are: parameters that
feed only a step unit never move (the ``moved`` diagnostic of
:func:`train_networks` shows it); no surrogate gradient is used.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Bool, Float, Int, UInt32

from countnets import boolean, statistics
from countnets._errors import CountnetsError, check_finite_float, check_positive_int
from countnets.architectures import DEFAULT_PRECISION, apply_flat_batch
from countnets.estimators import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_MAX_EXACT,
    ChunkSource,
    _check_precision,
    _chunks_per_step,
    _key,
    _keys_to_ints,
    _valid_mask,
    chunk_tables,
    lattice_source,
    merge_histogram_step,
    run_chunks,
    sampling_source,
    table_histogram,
)
from countnets.layout import layout_offsets
from countnets.priors import Lattice

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
    "TrainedRuns",
    "train_networks",
    "DiverseRuns",
    "diverse_runs",
    "ConditionalPrior",
    "conditional_prior",
    "TiltResult",
    "tilted_prior",
    "LambdaStar",
    "lambda_star",
    "compare_distributions",
]

LOSSES = ("logistic", "hinge")
OPTIMIZERS = ("sgd", "momentum", "adam")
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


def _table_words(value: int, n: int) -> np.ndarray:
    return boolean.int_to_words(value, n)


def _fits_packed(keys: UInt32[Array, "*batch words"], tset: TrainingSet) -> Bool[Array, "*batch"]:
    shape = (1,) * (keys.ndim - 1) + (-1,)
    mask = jnp.asarray(_table_words(tset.mask(), tset.n)).reshape(shape)
    target = jnp.asarray(_table_words(tset.target, tset.n)).reshape(shape)
    diff = (keys ^ target) & mask
    return jnp.all(diff == jnp.uint32(0), axis=-1)


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
        _check_precision(self.precision)

    def optax(self) -> optax.GradientTransformation:
        """The optax optimiser."""
        lr = float(self.learning_rate)  # type: ignore[arg-type]
        if self.optimizer == "sgd":
            return optax.sgd(lr)
        if self.optimizer == "momentum":
            return optax.sgd(lr, momentum=self.momentum)
        return optax.adam(lr)

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


@dataclasses.dataclass(frozen=True)
class TrainedRuns:
    """Per-network results of :func:`train_networks` (host numpy arrays).

    Arrays have shape ``(G, runs)``: ``G`` settings (1 without ``setting_args``) by
    trained networks; network ``r`` of every setting starts from prior sample ``r``.

    Attributes:
      tables: final integer truth tables (Python ints in an object array).
      fit: whether the final network fits S.
      steps: updates applied.
      nonfinite: some final output is NaN or infinite.
      init_tables: the truth table of prior sample ``r`` before training, ``(runs,)``.
      moved: per parameter array name, how many trained networks (over all settings)
        changed that array at all.
      chunk_size: C, samples per chunk; ``seed``; ``config``: the :class:`TrainConfig`.
      seconds: wall time of the training loop.
    """

    tables: np.ndarray
    fit: np.ndarray
    steps: np.ndarray
    nonfinite: np.ndarray
    init_tables: np.ndarray
    moved: dict[str, int]
    chunk_size: int
    seed: int
    config: TrainConfig
    seconds: float

    @property
    def runs(self) -> int:
        """Networks trained per setting."""
        return int(self.fit.shape[1])

    def histogram(self, setting: int = 0, *, converged: bool = True) -> Counter:
        """Functions of the networks of one setting that did (or did not) fit S."""
        sel = self.fit[setting] if converged else ~self.fit[setting]
        return Counter(int(t) for t in self.tables[setting][sel].tolist())


def _train_batch_cps(chunk_size: int, n_runs: int, n_settings: int, max_batch: int) -> int:
    chunks = -(-n_runs // chunk_size)
    per_step = max(1, max_batch // max(1, chunk_size * n_settings))
    return int(max(1, min(chunks, per_step)))


def train_networks(
    prior: Any,
    arch: Any,
    tset: TrainingSet,
    config: TrainConfig,
    *,
    n_runs: int,
    seed: int = 0,
    encoding: str = "01",
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    chunks_per_step: int | None = None,
    penalty: Penalty | None = None,
    setting_args: Any = None,
    max_batch: int = DEFAULT_MAX_TRAIN_BATCH,
    progress: bool = False,
) -> TrainedRuns:
    """Train ``n_runs`` networks from the prior, in chunks, and record where they land.

    Network ``r`` starts from prior sample ``r``: sample ``r % C`` of
    ``prior.sample(key(seed), r // C, C, arch.layout())``, the same parameters as
    sampling chunk ``r // C``. With ``setting_args`` (a pytree whose leaves have a
    leading axis ``G``), every network is trained once per setting ``g`` with penalty
    arguments ``setting_args[g]`` (e.g. one value of lambda each), all in the same batch.

    Results are identical for any ``chunks_per_step`` (tested).

    Raises:
      CountnetsError: for bad arguments, or ``setting_args`` without ``penalty``.
    """
    n_runs = check_positive_int("runs (trained networks)", n_runs)
    if (penalty is None) != (setting_args is None):
        raise CountnetsError("penalty and setting_args must be given together")
    source = sampling_source(prior, arch, chunk_size)
    C = source.chunk_size
    leaves = jax.tree_util.tree_leaves(setting_args)
    G = int(leaves[0].shape[0]) if leaves else 1
    if any(int(leaf.shape[0]) != G for leaf in leaves):
        raise CountnetsError("every leaf of setting_args must have the same leading (setting) axis")
    cps = chunks_per_step or _train_batch_cps(C, n_runs, G, max_batch)
    cps = check_positive_int("chunks_per_step", cps)
    trainer = build_trainer(arch, tset, config, encoding=encoding, penalty=penalty)
    x_full = boolean.cube(arch.n, encoding)
    P = arch.n_params
    specs = layout_offsets(arch.layout())

    @jax.jit
    def step(key, chunk_indices, n_valid):
        theta0 = jax.vmap(source.params, in_axes=(None, 0))(key, chunk_indices).reshape(-1, P)
        valid = _valid_mask(C, n_valid).reshape(-1)
        init_keys, _, _ = chunk_tables(arch, theta0, x_full, precision=config.precision)
        B = theta0.shape[0]
        if setting_args is None:
            args = None
            theta_all, valid_all = theta0, valid
        else:
            args = jax.tree_util.tree_map(
                lambda leaf: jnp.repeat(jnp.asarray(leaf), B, axis=0, total_repeat_length=G * B), setting_args
            )
            theta_all = jnp.tile(theta0, (G, 1))
            valid_all = jnp.tile(valid, (G,))
        out = trainer(theta_all, valid_all, args)
        changed = out.theta != theta_all
        moved = jnp.stack(
            [jnp.sum(jnp.any(changed[:, o : o + s.size], axis=1) & valid_all, dtype=jnp.int32) for s, o in specs]
        )
        return {
            "tables": out.tables.reshape(G, B, -1),
            "fit": out.fit.reshape(G, B),
            "steps": out.steps.reshape(G, B),
            "nonfinite": out.nonfinite.reshape(G, B),
            "init": init_keys,
            "valid": valid,
            "moved": moved,
        }

    parts: dict[str, list] = {"tables": [], "fit": [], "steps": [], "nonfinite": [], "init": []}
    moved_total = np.zeros(len(specs), dtype=np.int64)

    def merge(out):
        valid = np.asarray(out["valid"])
        tables = np.asarray(out["tables"])
        parts["tables"].append(
            np.array(_keys_to_ints(tables.reshape(-1, tables.shape[-1])), dtype=object).reshape(G, -1)[:, valid]
        )
        for name in ("fit", "steps", "nonfinite"):
            parts[name].append(np.asarray(out[name])[:, valid])
        parts["init"].append(np.array(_keys_to_ints(np.asarray(out["init"])), dtype=object)[valid])
        moved_total[:] += np.asarray(out["moved"], dtype=np.int64)

    start = time.perf_counter()
    run_chunks(
        step,
        merge,
        key=_key(seed),
        chunk_size=C,
        n_samples=n_runs,
        chunks_per_step=cps,
        progress=progress,
        description="training",
    )
    seconds = time.perf_counter() - start
    return TrainedRuns(
        tables=np.concatenate(parts["tables"], axis=1),
        fit=np.concatenate(parts["fit"], axis=1),
        steps=np.concatenate(parts["steps"], axis=1),
        nonfinite=np.concatenate(parts["nonfinite"], axis=1),
        init_tables=np.concatenate(parts["init"]),
        moved={s.name: int(v) for (s, _), v in zip(specs, moved_total.tolist(), strict=True)},
        chunk_size=C,
        seed=seed,
        config=config,
        seconds=seconds,
    )


@dataclasses.dataclass(frozen=True)
class DiverseRuns:
    """Results of :func:`diverse_runs` (host numpy arrays of shape ``(settings, chains, runs)``).

    Attributes:
      rewards: the reward strength ``mu`` of each setting.
      tables: integer truth table each run ends on (object array of Python ints).
      fit: whether that run fits S (only such runs count as *found*).
      steps: updates applied in that run.
      chunk_size: the number of chains (run ``k`` of chain ``c`` starts from sample
        ``c`` of prior chunk ``k``); ``seed``; ``config``; ``seconds``.
    """

    rewards: tuple[float, ...]
    tables: np.ndarray
    fit: np.ndarray
    steps: np.ndarray
    chunk_size: int
    seed: int
    config: TrainConfig
    seconds: float

    def distinct_curve(self) -> np.ndarray:
        """Distinct functions fitting S found within the first k runs, shape ``(settings, chains, runs)``."""
        S, R, K = self.fit.shape
        out = np.zeros((S, R, K), dtype=np.int64)
        for s in range(S):
            for c in range(R):
                seen: set[int] = set()
                for k in range(K):
                    if self.fit[s, c, k]:
                        seen.add(int(self.tables[s, c, k]))
                    out[s, c, k] = len(seen)
        return out

    def first_hit(self, function: int) -> np.ndarray:
        """1-based index of the first run fitting S that ends on ``function``, per (setting, chain); 0 if never."""
        hit = (self.tables == int(function)) & self.fit
        first = np.argmax(hit, axis=2) + 1
        return np.where(hit.any(axis=2), first, 0)


def diverse_runs(
    prior: Any,
    arch: Any,
    tset: TrainingSet,
    config: TrainConfig,
    *,
    n_runs: int,
    chains: int,
    rewards: Sequence[float],
    seed: int = 0,
    encoding: str = "01",
    progress: bool = False,
) -> DiverseRuns:
    """Sequential training runs, each penalised for agreeing off S with the functions found before.

    ``chains`` independent sequences run side by side (one batch) for each reward
    ``mu`` in ``rewards`` (e.g. ``(0.0, 1.0)``: a baseline of independent restarts and
    the diverse runs, from the same initialisations). Run ``k`` (0-based) of chain
    ``c`` starts from sample ``c`` of ``prior.sample(key(seed), k, chains, layout)``
    (chunk ``k`` with chunk size ``chains``) and minimises
    ``L_S + mu * max_{g found} a_g`` (see :func:`diversity_penalty`), where *found*
    are the functions of the chain's earlier runs that fit S. Chunks are driven by
    :func:`countnets.estimators.run_chunks`, one chunk (run) per step.
    """
    n_runs = check_positive_int("runs (sequential runs per chain)", n_runs)
    chains = check_positive_int("chains", chains)
    mus = [check_finite_float("reward", m, non_negative=True) for m in rewards]
    if not mus:
        raise CountnetsError("at least one reward value is needed")
    source = sampling_source(prior, arch, chains)
    off = np.array(tset.off_points(), dtype=np.int32)
    trainer = build_trainer(arch, tset, config, encoding=encoding, penalty=diversity_penalty(tset))
    G = len(mus)
    mu = jnp.asarray(np.repeat(np.array(mus, dtype=np.float32), chains))
    found = np.zeros((G * chains, n_runs, off.shape[0]), dtype=bool)
    found_mask = np.zeros((G * chains, n_runs), dtype=bool)
    P = arch.n_params

    @jax.jit
    def train_chunk(key, chunk_indices, n_valid, found, found_mask):
        theta0 = source.params(key, chunk_indices[0]).reshape(-1, P)
        valid = _valid_mask(chains, n_valid[:1]).reshape(-1)
        out = trainer(jnp.tile(theta0, (G, 1)), jnp.tile(valid, (G,)), (mu, found, found_mask))
        return {"tables": out.tables, "fit": out.fit, "steps": out.steps}

    def step(key, chunk_indices, n_valid):
        return train_chunk(key, chunk_indices, n_valid, jnp.asarray(found), jnp.asarray(found_mask))

    tables = np.zeros((G * chains, n_runs), dtype=object)
    fit = np.zeros((G * chains, n_runs), dtype=bool)
    steps = np.zeros((G * chains, n_runs), dtype=np.int64)
    k_done = [0]

    def merge(out):
        k = k_done[0]
        ints = _keys_to_ints(np.asarray(out["tables"]))
        f = np.asarray(out["fit"])
        tables[:, k] = np.array(ints, dtype=object)
        fit[:, k] = f
        steps[:, k] = np.asarray(out["steps"])
        for i, t in enumerate(ints):
            if f[i]:
                found[i, k] = boolean.int_to_table(t, tset.n)[off]
                found_mask[i, k] = True
        k_done[0] += 1

    start = time.perf_counter()
    run_chunks(
        step,
        merge,
        key=_key(seed),
        chunk_size=chains,
        n_samples=n_runs * chains,
        chunks_per_step=1,
        progress=progress,
        description="diverse runs",
    )
    return DiverseRuns(
        rewards=tuple(mus),
        tables=tables.reshape(G, chains, n_runs),
        fit=fit.reshape(G, chains, n_runs),
        steps=steps.reshape(G, chains, n_runs),
        chunk_size=chains,
        seed=seed,
        config=config,
        seconds=time.perf_counter() - start,
    )


# --------------------------------------------------------------------------- conditional prior


@dataclasses.dataclass(frozen=True)
class ConditionalPrior:
    """``P_prior(f | S)``: prior samples (or lattice configurations) that fit S.

    Attributes:
      histogram: function (int) -> number of samples fitting S that implement it.
      samples: prior samples (or configurations) looked at.
      fit: how many of them fit S (``sum(histogram.values())``).
      nonfinite: samples with a NaN or infinite output (never counted as fitting S).
      exact: True for a lattice enumeration (then counts are exact prior masses).
      chunk_size, seed: as in the core estimators (``seed`` is None when exact).
      seconds: wall time.
    """

    histogram: Counter
    samples: int
    fit: int
    nonfinite: int
    exact: bool
    chunk_size: int
    seed: int | None
    seconds: float

    def p(self, f: int) -> float:
        """Point estimate ``n_f / n_fit`` of ``P_prior(f | S)`` (exact for an enumeration)."""
        if self.fit == 0:
            raise CountnetsError("no prior sample fits S; P_prior(f | S) is undefined (raise --samples)")
        return self.histogram.get(int(f), 0) / self.fit

    def interval(self, f: int, confidence: float = 0.95) -> tuple[float, float]:
        """Clopper-Pearson interval for ``P_prior(f | S)`` (degenerate when exact).

        Conditional on ``n_fit``, ``n_f`` is binomial with success probability
        ``P_prior(f | S)``, so the interval is exact.
        """
        p = self.p(f)
        if self.exact:
            return p, p
        return statistics.clopper_pearson(self.histogram.get(int(f), 0), self.fit, confidence)

    def ranked(self) -> list[tuple[int, int]]:
        """``(function, count)`` by decreasing count (ties: smaller table first)."""
        return sorted(self.histogram.items(), key=lambda kv: (-kv[1], kv[0]))


def _conditional_source(prior, arch, chunk_size, exact, max_configurations) -> ChunkSource:
    if exact:
        if not isinstance(prior, Lattice):
            raise CountnetsError(f"exact conditional prior needs a Lattice prior, got {type(prior).__name__}")
        return lattice_source(prior, arch, chunk_size, max_configurations)
    return sampling_source(prior, arch, chunk_size)


def _prior_pass(
    prior, arch, *, n_samples, exact, encoding, chunk_size, max_configurations, precision
) -> tuple[ChunkSource, int, str, Array]:
    """Checked setup of one pass over the prior: ``(source, total, precision, x)``.

    ``total`` is the number of configurations (``exact``) or ``n_samples``, which is then
    required; ``x`` is the input cube in ``encoding``.
    """
    source = _conditional_source(prior, arch, chunk_size, exact, max_configurations)
    if exact:
        total = prior.n_configurations(arch.layout())
    else:
        if n_samples is None:
            raise CountnetsError("n_samples is required when sampling (exact=False)")
        total = check_positive_int("n_samples (sample count)", n_samples)
    return source, total, _check_precision(precision), boolean.cube(arch.n, encoding)


def _run_prior_pass(
    step, merge, arch, source, total, *, exact, seed, chunks_per_step, progress, description
) -> tuple[int, float]:
    """Drive ``step``/``merge`` over the pass set up by :func:`_prior_pass`: ``(samples done, seconds)``.

    The key is ``PRNGKey(0)`` for an enumeration and the key of ``seed`` otherwise, so
    passes with the same arguments see the same samples.
    """
    cps = check_positive_int("chunks_per_step", chunks_per_step or _chunks_per_step(arch, source.chunk_size))
    start = time.perf_counter()
    done, _ = run_chunks(
        step,
        merge,
        key=jax.random.PRNGKey(0) if exact else _key(seed),
        chunk_size=source.chunk_size,
        n_samples=total,
        chunks_per_step=cps,
        progress=progress,
        description=description,
    )
    return done, time.perf_counter() - start


def _sentinel_words(tset: TrainingSet) -> np.ndarray:
    # f* with its first training point flipped: a table that never fits S.
    return _table_words(tset.target ^ (1 << tset.points[0]), tset.n)


def _chunk_fitting(source, arch, tset, x, precision, key, chunk_indices, n_valid):
    theta = jax.vmap(source.params, in_axes=(None, 0))(key, chunk_indices).reshape(-1, arch.n_params)
    y = apply_flat_batch(arch, theta, x, precision=precision)
    keys = boolean.pack_table(boolean.truth_table(y))
    nonfinite = ~jnp.all(jnp.isfinite(y), axis=1)
    valid = _valid_mask(source.chunk_size, n_valid).reshape(-1)
    fit = _fits_packed(keys, tset) & valid & ~nonfinite
    return y, keys, fit, nonfinite & valid


def conditional_prior(
    prior: Any,
    arch: Any,
    tset: TrainingSet,
    *,
    n_samples: int | None = None,
    seed: int = 0,
    exact: bool = False,
    encoding: str = "01",
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    chunks_per_step: int | None = None,
    max_configurations: int = DEFAULT_MAX_EXACT,
    precision: str = DEFAULT_PRECISION,
    progress: bool = False,
) -> ConditionalPrior:
    """``P_prior(f | S) = P(f) / P(agrees with f* on S)`` by rejection sampling.

    Prior samples are drawn exactly as :func:`countnets.histogram_mc` draws them (same
    chunks, same seed); each one whose truth table agrees with ``f*`` on every point of
    S is kept and counted by function, on device. With ``exact=True`` (lattice priors)
    every configuration is enumerated once and the counts are exact.

    Raises:
      CountnetsError: for a non-lattice prior with ``exact``, or ``n_samples`` missing
        when sampling.
    """
    if tset.n != arch.n:
        raise CountnetsError(f"the training set has n={tset.n} but the architecture has n={arch.n}")
    source, total, precision, x = _prior_pass(
        prior, arch, n_samples=n_samples, exact=exact, encoding=encoding, chunk_size=chunk_size,
        max_configurations=max_configurations, precision=precision,
    )  # fmt: skip
    sentinel = jnp.asarray(_sentinel_words(tset))

    @jax.jit
    def step(key, chunk_indices, n_valid):
        _, keys, fit, nonfinite = _chunk_fitting(source, arch, tset, x, precision, key, chunk_indices, n_valid)
        keys = jnp.where(fit[:, None], keys, sentinel[None, :])
        out = table_histogram(keys, fit.astype(jnp.int32))
        out["nonfinite"] = jnp.sum(nonfinite, dtype=jnp.int32)
        return out

    hist: Counter = Counter()
    counts = {"nonfinite": 0}

    def merge(out):
        merge_histogram_step(hist, out)
        counts["nonfinite"] += int(out["nonfinite"])

    done, seconds = _run_prior_pass(
        step, merge, arch, source, total, exact=exact, seed=seed, chunks_per_step=chunks_per_step, progress=progress,
        description="prior | S",
    )  # fmt: skip
    return ConditionalPrior(
        histogram=hist,
        samples=done,
        fit=sum(hist.values()),
        nonfinite=counts["nonfinite"],
        exact=exact,
        chunk_size=source.chunk_size,
        seed=None if exact else seed,
        seconds=seconds,
    )


# --------------------------------------------------------------------------- tilted prior


@dataclasses.dataclass(frozen=True)
class TiltResult:
    """The prior restricted to S and tilted by ``exp(-lambda l_B)``, per (pair, lambda).

    For prior samples ``theta_i`` fitting S (non-finite ones excluded) with weights
    ``w_i = exp(-lambda l_B(theta_i))``:
    ``P_tilt(A) = sum_{f_i = A} w_i / sum_i w_i`` (likewise B), and
    ``ESS = (sum w)^2 / sum w^2``. Sums are kept in float64 on the host relative to a
    running maximum log-weight, adding per-block float32 sums in chunk order (see
    :func:`tilted_prior`), so every field but ``seconds`` is the same for any
    ``chunks_per_step`` and device count, and at ``lambda = 0`` every weight is exactly
    1: ``sum_w = sum_w2 = fit`` and ``P_tilt(A)`` equals the untilted ``n_A / n_fit``
    exactly.

    Arrays have shape ``(pairs, lambdas)``. ``sum_w`` etc. are relative to
    ``exp(shift)`` (``sum_w2`` to ``exp(2 shift)``).
    """

    pairs: tuple[tuple[int, int], ...]
    lambdas: tuple[float, ...]
    shift: np.ndarray
    sum_w: np.ndarray
    sum_w_a: np.ndarray
    sum_w_b: np.ndarray
    sum_w2: np.ndarray
    sum_w2_a: np.ndarray
    sum_w2_b: np.ndarray
    fit: int
    samples: int
    exact: bool
    seconds: float

    def p_a(self) -> np.ndarray:
        """``P_tilt(A)``, shape ``(pairs, lambdas)``."""
        return self.sum_w_a / self.sum_w

    def p_b(self) -> np.ndarray:
        """``P_tilt(B)``, shape ``(pairs, lambdas)``."""
        return self.sum_w_b / self.sum_w

    def ess(self) -> np.ndarray:
        """Effective sample size ``(sum w)^2 / sum w^2``."""
        return self.sum_w**2 / self.sum_w2

    def _se(self, which: str) -> np.ndarray:
        # Delta-method standard error of a self-normalised estimate of E_tilt[h]:
        # sqrt(sum_i w_i^2 (h_i - h_hat)^2) / sum_i w_i.
        if which == "a":
            p = self.p_a()
            num = self.sum_w2_a * (1 - p) ** 2 + (self.sum_w2 - self.sum_w2_a) * p**2
        elif which == "b":
            p = self.p_b()
            num = self.sum_w2_b * (1 - p) ** 2 + (self.sum_w2 - self.sum_w2_b) * p**2
        else:
            d = self.p_b() - self.p_a()
            rest = self.sum_w2 - self.sum_w2_a - self.sum_w2_b
            num = self.sum_w2_b * (1 - d) ** 2 + self.sum_w2_a * (1 + d) ** 2 + rest * d**2
        return np.sqrt(np.maximum(num, 0.0)) / self.sum_w

    def interval(self, which: str, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        """Normal (delta-method) interval for ``"a"``, ``"b"`` or ``"diff"`` (= P(B) - P(A)).

        ``estimate -+ z se`` with ``z`` the ``1 - alpha/2`` normal quantile, clipped to
        [0, 1] (to [-1, 1] for the difference); degenerate for an exact enumeration.
        Approximate: it relies on the effective sample size being large.
        """
        from scipy import stats

        est = {"a": self.p_a, "b": self.p_b, "diff": lambda: self.p_b() - self.p_a()}[which]()
        if self.exact:
            return est, est
        z = float(stats.norm.ppf(1 - (1 - confidence) / 2))
        se = self._se(which)
        low = -1.0 if which == "diff" else 0.0
        return np.clip(est - z * se, low, 1.0), np.clip(est + z * se, low, 1.0)


# Per-block float32 sums returned by the tilted prior's device step, in this order.
_TILT_SUMS = ("s", "sa", "sb", "s2", "s2a", "s2b")
# Sums of at most 2**24 float32 ones are exact (every integer up to 2**24 is a float32).
_TILT_MAX_BLOCK = 2**24


def _fixed_order_sum(v: Array, axis: int) -> Array:
    """Sum over ``axis`` in a fixed order: zero-pad it to a power of two, then add halves.

    ``jnp.sum`` leaves the order of additions to the compiler, and XLA picks it from the
    whole array's shape, so in float32 the sum of one row can change with the number
    of rows. Here element ``i`` of each halving step is ``v[i] + v[i + h]``, the same
    float32 operations for every shape of the other axes.
    """
    axis = axis % v.ndim
    size = v.shape[axis]
    width = 1 << max(size - 1, 0).bit_length()
    if width > size:
        pad = [(0, 0)] * v.ndim
        pad[axis] = (0, width - size)
        v = jnp.pad(v, pad)
    while width > 1:
        width //= 2
        v = jax.lax.slice_in_dim(v, 0, width, axis=axis) + jax.lax.slice_in_dim(v, width, 2 * width, axis=axis)
    return jnp.squeeze(v, axis)


def _tilt_blocks(chunk_size: int) -> tuple[int, int]:
    """``(blocks per chunk, block size)``: a chunk cut into equal blocks of at most ``2**24`` samples.

    The last block of a chunk is padded when the blocks do not divide it. The cut
    depends on the chunk size only, never on how chunks are grouped into steps.

    >>> _tilt_blocks(4096), _tilt_blocks(2**25 + 1)
    ((1, 4096), (3, 11184811))
    """
    n_blocks = -(-chunk_size // _TILT_MAX_BLOCK)
    return n_blocks, -(-chunk_size // n_blocks)


def _tilt_block_sums(
    logw: Float[Array, "samples pairs lambdas"],
    fit: Bool[Array, " samples"],
    is_a: Bool[Array, "samples pairs"],
    is_b: Bool[Array, "samples pairs"],
    chunks: int,
    n_blocks: int,
    block: int,
) -> dict[str, Array]:
    """Per-block log-weight maxima and weight sums of the tilted prior (float32, on device).

    The samples are ``chunks`` consecutive chunks, each cut into ``n_blocks`` blocks of
    ``block`` samples (see :func:`_tilt_blocks`). For block ``c`` and each (pair,
    lambda): ``top_c = max_{i in c, fits S} logw_i`` (``-inf`` if none) and, with
    ``w_i = exp(logw_i - top_c)`` for samples fitting S (0 otherwise), the float32 sums
    ``s = sum w``, ``sa = sum_{f_i = A} w``, ``sb``, ``s2 = sum w^2``, ``s2a``, ``s2b``;
    ``fit`` is the int32 count of samples fitting S. Every output has a leading axis of
    ``chunks * n_blocks`` blocks in chunk order, and each block's values are computed
    from that block alone, so they are the same whatever the number of chunks per step.
    """
    chunk = logw.shape[0] // chunks
    pad = n_blocks * block - chunk

    def blocked(v, fill):
        v = v.reshape(chunks, chunk, *v.shape[1:])
        if pad:
            v = jnp.pad(v, [(0, 0), (0, pad)] + [(0, 0)] * (v.ndim - 2), constant_values=fill)
        return v.reshape(chunks * n_blocks, block, *v.shape[2:])

    masked = blocked(jnp.where(fit[:, None, None], logw, -jnp.inf), -jnp.inf)  # (blocks, block, K, L)
    is_a = blocked(is_a, False)[..., None]  # (blocks, block, K, 1)
    is_b = blocked(is_b, False)[..., None]
    top = jnp.max(masked, axis=1)  # (blocks, K, L)
    top_safe = jnp.where(jnp.isfinite(top), top, jnp.zeros_like(top))
    w = jnp.exp(masked - top_safe[:, None])  # 0 where masked is -inf
    w2 = w * w
    zero = jnp.zeros_like(w)
    return {
        "top": top,
        "s": _fixed_order_sum(w, 1),
        "sa": _fixed_order_sum(jnp.where(is_a, w, zero), 1),
        "sb": _fixed_order_sum(jnp.where(is_b, w, zero), 1),
        "s2": _fixed_order_sum(w2, 1),
        "s2a": _fixed_order_sum(jnp.where(is_a, w2, zero), 1),
        "s2b": _fixed_order_sum(jnp.where(is_b, w2, zero), 1),
        "fit": jnp.sum(blocked(fit, False), axis=1, dtype=jnp.int32),
    }


def tilted_prior(
    prior: Any,
    arch: Any,
    tset: TrainingSet,
    pairs: Sequence[tuple[int, int]],
    lambdas: Sequence[float],
    *,
    loss: str = "logistic",
    margin: float = 1.0,
    n_samples: int | None = None,
    seed: int = 0,
    exact: bool = False,
    encoding: str = "01",
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    chunks_per_step: int | None = None,
    max_configurations: int = DEFAULT_MAX_EXACT,
    precision: str = DEFAULT_PRECISION,
    progress: bool = False,
) -> TiltResult:
    """Importance-weighted prior ``P_tilt(f | S) ∝ P(f | S) E[exp(-lambda l_B) | f, S]``.

    One pass over the same prior samples as :func:`conditional_prior` (same seed and
    chunks). ``l_B(theta) = mean_{j not in S} loss(y_j(theta), B_j)`` is the same loss
    toward B's labels off S as the training pressure (:func:`pressure_penalty`).

    **Sums.** Each chunk is cut into blocks of at most ``2**24`` samples (one block per
    chunk unless ``chunk_size > 2**24``). The device returns, per block, float32 weight
    sums relative to the block's largest log-weight; the host adds the blocks in float64,
    one at a time in chunk order, relative to a running maximum. The result (every
    field of :class:`TiltResult` but ``seconds``) is therefore identical for every
    ``chunks_per_step`` and device count (tested), and at ``lambda = 0`` every weight is
    exactly 1, so ``sum_w`` equals ``fit`` exactly.

    Args:
      pairs: ``(A, B)`` integer truth tables, each fitting S, with ``A != B``.
      lambdas: the tilt strengths, each >= 0.

    Raises:
      CountnetsError: for no pairs, a pair with ``A == B`` or a policy that does not
        agree with the target on S, no lambdas or a negative one, S covering the whole
        cube, or no prior sample fitting S.
    """
    if not pairs:
        raise CountnetsError("tilted_prior needs at least one (A, B) pair")
    for k, (a, b) in enumerate(pairs):
        if int(a) == int(b):
            raise CountnetsError(f"pair {k}: A and B must be different functions, got A = B = {boolean.to_hex(int(a))}")
        for name, f in (("A", a), ("B", b)):
            if not tset.fits(f):
                raise CountnetsError(f"policy {name}={boolean.to_hex(f)} does not agree with the target on S")
    lams = [check_finite_float("lambda", v, non_negative=True) for v in lambdas]
    if not lams:
        raise CountnetsError("at least one lambda is needed")
    source, total, precision, x = _prior_pass(
        prior, arch, n_samples=n_samples, exact=exact, encoding=encoding, chunk_size=chunk_size,
        max_configurations=max_configurations, precision=precision,
    )  # fmt: skip
    off = np.array(tset.off_points(), dtype=np.int32)
    if off.shape[0] == 0:
        raise CountnetsError("tilting toward B needs points off S, but S is the whole cube")
    b_off = jnp.asarray(np.stack([boolean.int_to_table(b, tset.n)[off] for _, b in pairs]))  # (K, off)
    a_words = jnp.asarray(np.stack([_table_words(a, tset.n) for a, _ in pairs]))  # (K, words)
    b_words = jnp.asarray(np.stack([_table_words(b, tset.n) for _, b in pairs]))
    lam = jnp.asarray(np.array(lams, dtype=np.float32))  # (L,)
    off_j = jnp.asarray(off)
    n_blocks, block = _tilt_blocks(source.chunk_size)

    @jax.jit
    def step(key, chunk_indices, n_valid):
        y, keys, fit, _ = _chunk_fitting(source, arch, tset, x, precision, key, chunk_indices, n_valid)
        y_off = y[:, off_j]  # (M, off)
        shape = (y.shape[0], *b_off.shape)  # (M, K, off)
        per_point = pointwise_loss(
            loss, jnp.broadcast_to(y_off[:, None, :], shape), jnp.broadcast_to(b_off[None], shape), margin
        )
        # off_set_loss's mean, with its sum in a fixed order (see _fixed_order_sum).
        l_b = _fixed_order_sum(per_point, -1) / jnp.float32(off.shape[0])  # (M, K)
        # exp(-0 * l_B) is exactly 1, even where l_B overflowed to inf.
        logw = jnp.where(lam[None, None, :] == 0, 0.0, -lam[None, None, :] * l_b[:, :, None])  # (M, K, L)
        is_a = jnp.all(keys[:, None, :] == a_words[None], axis=-1)  # (M, K)
        is_b = jnp.all(keys[:, None, :] == b_words[None], axis=-1)
        return _tilt_block_sums(logw, fit, is_a, is_b, chunk_indices.shape[0], n_blocks, block)

    K, L = len(pairs), len(lams)
    acc = np.zeros((len(_TILT_SUMS), K, L))
    shift = np.full((K, L), -np.inf)
    n_fit = [0]
    power = np.array([2.0 if name.startswith("s2") else 1.0 for name in _TILT_SUMS])[:, None, None]

    def finite(v):
        return np.where(np.isfinite(v), v, 0.0)

    def merge(out):
        # One block at a time, in chunk order, so the float64 totals do not depend on how
        # many chunks a step (or a device) held.
        tops = np.asarray(out["top"], dtype=np.float64)  # (blocks, K, L)
        sums = np.stack([np.asarray(out[name], dtype=np.float64) for name in _TILT_SUMS], axis=1)  # (blocks, 6, K, L)
        for top, block_sums in zip(tops, sums, strict=True):
            if not np.isfinite(top).any():
                continue  # no sample of this block fits S (e.g. a padding chunk)
            if not np.all(top <= shift):  # a new running maximum: rescale the totals to it
                new = np.maximum(shift, top)
                acc[:] *= np.where(np.isfinite(shift), np.exp(shift - finite(new)), 0.0) ** power
                shift[:] = new
            scale = np.where(np.isfinite(top), np.exp(top - finite(shift)), 0.0)
            acc[:] += block_sums * scale**power
        n_fit[0] += sum(int(v) for v in np.asarray(out["fit"]).tolist())

    done, seconds = _run_prior_pass(
        step, merge, arch, source, total, exact=exact, seed=seed, chunks_per_step=chunks_per_step, progress=progress,
        description="tilted prior",
    )  # fmt: skip
    if n_fit[0] == 0:
        raise CountnetsError("no prior sample fits S, so the tilted prior is undefined; raise the sample count")
    return TiltResult(
        pairs=tuple((int(a), int(b)) for a, b in pairs),
        lambdas=tuple(lams),
        shift=shift.copy(),
        sum_w=acc[0].copy(),
        sum_w_a=acc[1].copy(),
        sum_w_b=acc[2].copy(),
        sum_w2=acc[3].copy(),
        sum_w2_a=acc[4].copy(),
        sum_w2_b=acc[5].copy(),
        fit=n_fit[0],
        samples=done,
        exact=exact,
        seconds=seconds,
    )


# --------------------------------------------------------------------------- summaries


@dataclasses.dataclass(frozen=True)
class LambdaStar:
    """The least pressure at which B is at least as likely as A, read off a sweep.

    Attributes:
      estimate: the least sweep value with ``P(B) >= P(A)`` (point estimates);
        ``inf`` if there is none.
      interval: ``(lo, hi)``: ``lo`` is the largest sweep value *below* the first one
        whose interval for ``P(B) - P(A)`` reaches 0 (0.0 if that is the first sweep
        value); ``hi`` is the first sweep value whose interval lies at or above 0
        (``inf`` if none). If ``P(B) - P(A)`` increases with lambda and the pointwise
        intervals hold, the crossing point lies in ``(lo, hi]``.
      censored: True when the sweep never reaches ``P(B) >= P(A)``.
    """

    estimate: float
    interval: tuple[float, float]
    censored: bool


def lambda_star(
    lambdas: Sequence[float], diff: Sequence[float], diff_lo: Sequence[float], diff_hi: Sequence[float]
) -> LambdaStar:
    """:class:`LambdaStar` from a sweep: ``diff = P(B) - P(A)`` with its interval per lambda.

    >>> lambda_star([0, 1, 2, 4], [-0.5, -0.1, 0.2, 0.6], [-0.6, -0.3, 0.0, 0.5], [-0.4, 0.1, 0.4, 0.7])
    LambdaStar(estimate=2.0, interval=(0.0, 2.0), censored=False)
    """
    lams = [float(v) for v in lambdas]
    if sorted(lams) != lams or len(set(lams)) != len(lams):
        raise CountnetsError(f"lambdas must be strictly increasing, got {lams}")
    if not (len(diff) == len(diff_lo) == len(diff_hi) == len(lams)):
        raise CountnetsError("lambdas, diff, diff_lo and diff_hi must have the same length")
    est = next((lam for lam, d in zip(lams, diff, strict=True) if d >= 0), math.inf)
    first_plausible = next((i for i, h in enumerate(diff_hi) if h >= 0), None)
    if first_plausible is None:
        lo = lams[-1]
    else:
        lo = 0.0 if first_plausible == 0 else lams[first_plausible - 1]
    hi = next((lam for lam, l in zip(lams, diff_lo, strict=True) if l >= 0), math.inf)
    return LambdaStar(estimate=est, interval=(lo, hi), censored=math.isinf(est))


def compare_distributions(
    p_hist: dict[int, int] | Counter,
    q_hist: dict[int, int] | Counter,
    *,
    min_count: int = 5,
    bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    q_exact: bool = False,
) -> dict[str, Any]:
    """Summaries of two distributions over functions seen as counts (P = trained, Q = prior).

    * ``correlation``: Pearson correlation of ``log10 P(f)`` and ``log10 Q(f)`` over the
      functions with at least ``min_count`` counts in both (also ``spearman``).
    * ``tv``: total-variation distance ``(1/2) sum_f |P(f) - Q(f)|`` of the empirical
      distributions, with a percentile bootstrap interval: both histograms are
      resampled multinomially (Q is kept fixed when ``q_exact``) ``bootstrap`` times.
    * ``tv_null``: the mean and upper ``confidence`` quantile of the TV between two
      independent samples of the same sizes drawn from the *pooled* distribution: what
      sampling noise alone gives when P = Q (empirical TV is biased upward).
    """
    from scipy import stats

    n_p, n_q = sum(p_hist.values()), sum(q_hist.values())
    if n_p == 0 or n_q == 0:
        raise CountnetsError(f"both distributions need counts, got {n_p} and {n_q}")
    funcs = sorted(set(p_hist) | set(q_hist))
    cp = np.array([p_hist.get(f, 0) for f in funcs], dtype=np.int64)
    cq = np.array([q_hist.get(f, 0) for f in funcs], dtype=np.int64)
    P, Q = cp / n_p, cq / n_q
    tv = 0.5 * float(np.abs(P - Q).sum())
    both = (cp >= min_count) & (cq >= min_count)
    out: dict[str, Any] = {"functions_seen": len(funcs), "functions_compared": int(both.sum()), "min_count": min_count}
    if both.sum() >= 3:
        lp, lq = np.log10(P[both]), np.log10(Q[both])
        out["correlation"] = float(np.corrcoef(lp, lq)[0, 1])
        out["spearman"] = float(stats.spearmanr(lp, lq).statistic)
    else:
        out["correlation"] = None
        out["spearman"] = None
    rng = np.random.default_rng(seed)
    alpha = 1 - confidence
    tv_boot = np.empty(bootstrap)
    for b in range(bootstrap):
        bp = rng.multinomial(n_p, P) / n_p
        bq = Q if q_exact else rng.multinomial(n_q, Q) / n_q
        tv_boot[b] = 0.5 * np.abs(bp - bq).sum()
    pooled = (cp + cq) / (n_p + n_q)
    tv_null = np.empty(bootstrap)
    for b in range(bootstrap):
        bp = rng.multinomial(n_p, pooled) / n_p
        bq = pooled if q_exact else rng.multinomial(n_q, pooled) / n_q
        tv_null[b] = 0.5 * np.abs(bp - bq).sum()
    out["tv"] = tv
    out["tv_ci"] = [float(np.quantile(tv_boot, alpha / 2)), float(np.quantile(tv_boot, 1 - alpha / 2))]
    out["tv_null_mean"] = float(tv_null.mean())
    out["tv_null_quantile"] = float(np.quantile(tv_null, confidence))
    out["bootstrap"] = bootstrap
    out["confidence"] = confidence
    return out
