"""Small networks with one output, as frozen config dataclasses with pure functions.

Each architecture holds only configuration. It documents a flat parameter order
(``layout()``), turns a flat vector into named arrays (``unflatten``) and evaluates
one network on a batch of inputs (``apply``). Batches of networks come from
``jax.vmap`` (``apply_flat_batch``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from countnets._errors import CountnetsError, check_finite_float, check_positive_int
from countnets.defaults import ACTIVATIONS  # noqa: F401 (re-exported)
from countnets.network.boolean import MAX_INPUTS
from countnets.network.layout import ParamSpec, layout_offsets, layout_size

__all__ = [
    "MLP",
    "ResMLP",
    "GoalNet",
    "Architecture",
    "BUILTIN_ARCHITECTURES",
    "ACTIVATIONS",
    "activation_fn",
    "apply_flat_batch",
    "readout_indices",
    "arch_from_config",
    "DEFAULT_PRECISION",
]

DEFAULT_PRECISION = "highest"


def _step(x: Array) -> Array:
    # Heaviside with step(0) = 0.
    return (x > 0).astype(x.dtype)


def activation_fn(name: str) -> Callable[[Array], Array]:
    """The activation called ``name``: relu, tanh or step (Heaviside, 0 at 0)."""
    table = {"relu": jax.nn.relu, "tanh": jnp.tanh, "step": _step}
    if name not in table:
        raise CountnetsError(f"unknown activation {name!r}; expected one of {', '.join(ACTIVATIONS)}")
    return table[name]


def _check_n(n: object) -> int:
    n = check_positive_int("n (number of inputs)", n)
    if n > MAX_INPUTS:
        raise CountnetsError(f"n (number of inputs) must be in 1..{MAX_INPUTS}, got {n}")
    return n


def _unflatten(layout: tuple[ParamSpec, ...], theta: Float[Array | np.ndarray, "*batch n_params"]) -> dict[str, Array]:
    theta = jnp.asarray(theta)
    n_params = layout_size(layout)
    if theta.shape[-1] != n_params:
        raise CountnetsError(f"parameter vector must have {n_params} entries on its last axis, got shape {theta.shape}")
    batch = theta.shape[:-1]
    return {
        spec.name: theta[..., offset : offset + spec.size].reshape(*batch, *spec.shape)
        for spec, offset in layout_offsets(layout)
    }


class _FlatParameters:
    """``n_params`` and ``unflatten`` from the subclass's ``layout()``."""

    def layout(self) -> tuple[ParamSpec, ...]:  # pragma: no cover - every architecture defines it
        raise NotImplementedError

    @property
    def n_params(self) -> int:
        """Number of scalar parameters."""
        return layout_size(self.layout())

    def unflatten(self, theta: Float[Array | np.ndarray, "*batch n_params"]) -> dict[str, Array]:
        """Named arrays from a flat parameter vector (leading batch axes allowed)."""
        return _unflatten(self.layout(), theta)


@dataclasses.dataclass(frozen=True)
class MLP(_FlatParameters):
    """Plain feed-forward network with one output.

    ``h_0 = x``; ``h_l = act(h_{l-1} W_l + b_l)`` for each hidden layer; the output is
    the pre-activation ``y = h_H W_out + b_out``. With ``hidden = ()`` it is a
    perceptron ``y = x W_1 + b_1``.

    Flat parameter order: per layer (hidden layers, then the output layer),
    ``W_l`` (fan_in x fan_out, row-major) then ``b_l``; names ``W1, b1, W2, b2, ...``.

    Args:
      n: number of inputs (1..12, :data:`countnets.network.boolean.MAX_INPUTS`).
      hidden: widths of the hidden layers, possibly empty.
      activation: ``"relu"``, ``"tanh"`` or ``"step"``.
    """

    n: int
    hidden: tuple[int, ...] = ()
    activation: str = "relu"

    def __post_init__(self) -> None:
        object.__setattr__(self, "n", _check_n(self.n))
        try:
            hidden = tuple(self.hidden)
        except TypeError:
            raise CountnetsError(f"hidden must be a sequence of widths, got {self.hidden!r}") from None
        object.__setattr__(self, "hidden", tuple(check_positive_int("hidden width", h) for h in hidden))
        activation_fn(self.activation)

    @property
    def name(self) -> str:
        """Short name, e.g. ``mlp-3-8-1``."""
        return "mlp-" + "-".join(str(v) for v in (self.n, *self.hidden, 1))

    def layout(self) -> tuple[ParamSpec, ...]:
        """The documented flat parameter order."""
        widths = (self.n, *self.hidden, 1)
        specs: list[ParamSpec] = []
        for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:]), start=1):
            specs.append(ParamSpec(f"W{i}", (fan_in, fan_out), "weight", fan_in))
            specs.append(ParamSpec(f"b{i}", (fan_out,), "bias"))
        return tuple(specs)

    def apply(
        self, params: dict[str, Array], x: Float[Array, "points n"], *, precision: str = DEFAULT_PRECISION
    ) -> Float[Array, " points"]:
        """Output pre-activation of one network at each input row."""
        act = activation_fn(self.activation)
        h = x
        n_layers = len(self.hidden) + 1
        for i in range(1, n_layers + 1):
            h = jnp.matmul(h, params[f"W{i}"], precision=precision) + params[f"b{i}"][None, :]
            if i < n_layers:
                h = act(h)
        return h[:, 0]

    def hidden_preactivations(
        self, params: dict[str, Array], x: Float[Array, "points n"], *, precision: str = DEFAULT_PRECISION
    ) -> tuple[Float[Array, "points width"], ...]:
        """Pre-activations ``h_{l-1} W_l + b_l`` of each hidden layer (0-based layer l - 1), as in :meth:`apply`."""
        act = activation_fn(self.activation)
        out, h = [], x
        for i in range(1, len(self.hidden) + 1):
            pre = jnp.matmul(h, params[f"W{i}"], precision=precision) + params[f"b{i}"][None, :]
            out.append(pre)
            h = act(pre)
        return tuple(out)

    def config(self) -> dict:
        """Plain-dict description, stored in results."""
        return {"arch": "mlp", "n": self.n, "hidden": list(self.hidden), "activation": self.activation}


@dataclasses.dataclass(frozen=True)
class ResMLP(_FlatParameters):
    """Residual MLP (DESIGN section 3).

    ``h_0 = x E + e``; block ``l`` computes ``B_l(s) = alpha relu(s A_l + a_l) G_l`` and
    ``h_l = h_{l-1} + B_l(h_{l-1})``; the output is ``y = h_L u + c``. ``alpha`` is
    ``branch_scale``, a fixed multiplier, not a parameter.

    Flat parameter order: ``E`` (n x d), ``e`` (d), then per block ``A_l`` (d x w),
    ``a_l`` (w), ``G_l`` (w x d), then ``u`` (d), ``c`` (scalar). Fan-ins of the
    weights E, A_l, G_l, u: n, d, w, d.

    Args:
      n: number of inputs (1..12, :data:`countnets.network.boolean.MAX_INPUTS`).
      d: width of the residual stream.
      L: number of blocks (>= 0).
      w: hidden width inside each block.
      branch_scale: alpha, a finite number.
    """

    n: int
    d: int
    L: int
    w: int
    branch_scale: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "n", _check_n(self.n))
        object.__setattr__(self, "d", check_positive_int("d (stream width)", self.d))
        object.__setattr__(self, "L", check_positive_int("L (number of blocks)", self.L, allow_zero=True))
        object.__setattr__(self, "w", check_positive_int("w (block width)", self.w))
        object.__setattr__(self, "branch_scale", check_finite_float("branch_scale", self.branch_scale))

    @property
    def name(self) -> str:
        """Short name, e.g. ``resmlp-3-d8-L2-w8-a1``."""
        return f"resmlp-{self.n}-d{self.d}-L{self.L}-w{self.w}-a{self.branch_scale:g}"

    def layout(self) -> tuple[ParamSpec, ...]:
        """The documented flat parameter order."""
        n, d, w = self.n, self.d, self.w
        specs = [ParamSpec("E", (n, d), "weight", n), ParamSpec("e", (d,), "bias")]
        for l in range(1, self.L + 1):
            specs += [
                ParamSpec(f"A{l}", (d, w), "weight", d),
                ParamSpec(f"a{l}", (w,), "bias"),
                ParamSpec(f"G{l}", (w, d), "weight", w),
            ]
        specs += [ParamSpec("u", (d,), "weight", d), ParamSpec("c", (), "bias")]
        return tuple(specs)

    def embed(
        self, params: dict[str, Array], x: Float[Array, "points n"], *, precision: str = DEFAULT_PRECISION
    ) -> Array:
        """The stream's start ``h_0 = x E + e``, shape ``(points, d)``."""
        return jnp.matmul(x, params["E"], precision=precision) + params["e"][None, :]

    def branch(self, params: dict[str, Array], l: int, s: Array, *, precision: str = DEFAULT_PRECISION) -> Array:
        """Block ``l``'s output ``alpha relu(s A_l + a_l) G_l`` (1-based ``l``), shape ``(points, d)``."""
        hidden = jax.nn.relu(jnp.matmul(s, params[f"A{l}"], precision=precision) + params[f"a{l}"][None, :])
        return jnp.float32(self.branch_scale) * jnp.matmul(hidden, params[f"G{l}"], precision=precision)

    def readout(self, params: dict[str, Array], h: Array, *, precision: str = DEFAULT_PRECISION) -> Array:
        """Output ``h u + c``, shape ``(points,)``."""
        return jnp.matmul(h, params["u"], precision=precision) + params["c"]

    def apply(
        self, params: dict[str, Array], x: Float[Array, "points n"], *, precision: str = DEFAULT_PRECISION
    ) -> Float[Array, " points"]:
        """Output pre-activation of one network at each input row (the full forward pass)."""
        h = self.embed(params, x, precision=precision)
        for l in range(1, self.L + 1):
            h = h + self.branch(params, l, h, precision=precision)
        return self.readout(params, h, precision=precision)

    def hidden_preactivations(
        self, params: dict[str, Array], x: Float[Array, "points n"], *, precision: str = DEFAULT_PRECISION
    ) -> tuple[Float[Array, "points w"], ...]:
        """Pre-activations ``h_{l-1} A_l + a_l`` of each block's hidden units in the forward pass (layer l - 1)."""
        out, h = [], self.embed(params, x, precision=precision)
        for l in range(1, self.L + 1):
            out.append(jnp.matmul(h, params[f"A{l}"], precision=precision) + params[f"a{l}"][None, :])
            h = h + self.branch(params, l, h, precision=precision)
        return tuple(out)

    def config(self) -> dict:
        """Plain-dict description, stored in results."""
        return {"arch": "resmlp", "n": self.n, "d": self.d, "L": self.L, "w": self.w, "branch_scale": self.branch_scale}


@dataclasses.dataclass(frozen=True)
class GoalNet(_FlatParameters):
    """Network with one binary "goal" unit between two hidden layers (DESIGN section 3, detour D2).

    ``h_1 = relu(x W1 + b1)``; the goal ``z = step(h_1 v + b_z)`` in {0, 1} whatever the
    input encoding (``step(t) = 1`` iff ``t > 0``, so ``step(0) = 0``);
    ``h_2 = relu([x, z] W2 + b2)``, the last row of ``W2`` reading z; the output is
    ``y = h_2 u + c``.

    Flat parameter order: ``W1`` (n x w), ``b1`` (w), ``v`` (w), ``b_z`` (scalar),
    ``W2`` ((n+1) x w), ``b2`` (w), ``u`` (w), ``c`` (scalar). Fan-ins of the weights
    W1, v, W2, u: n, w, n+1, w.

    Args:
      n: number of inputs (1..12, :data:`countnets.network.boolean.MAX_INPUTS`).
      w: width of both hidden layers.
    """

    n: int
    w: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "n", _check_n(self.n))
        object.__setattr__(self, "w", check_positive_int("w (hidden width)", self.w))

    @property
    def name(self) -> str:
        """Short name, e.g. ``goalnet-3-w8``."""
        return f"goalnet-{self.n}-w{self.w}"

    def layout(self) -> tuple[ParamSpec, ...]:
        """The documented flat parameter order."""
        n, w = self.n, self.w
        return (
            ParamSpec("W1", (n, w), "weight", n),
            ParamSpec("b1", (w,), "bias"),
            ParamSpec("v", (w,), "weight", w),
            ParamSpec("b_z", (), "bias"),
            ParamSpec("W2", (n + 1, w), "weight", n + 1),
            ParamSpec("b2", (w,), "bias"),
            ParamSpec("u", (w,), "weight", w),
            ParamSpec("c", (), "bias"),
        )

    def goal_preactivation(
        self, params: dict[str, Array], x: Float[Array, "points n"], *, precision: str = DEFAULT_PRECISION
    ) -> Float[Array, " points"]:
        """The goal unit's pre-activation ``relu(x W1 + b1) v + b_z``; its truth table is the goal g."""
        h1 = jax.nn.relu(jnp.matmul(x, params["W1"], precision=precision) + params["b1"][None, :])
        return jnp.matmul(h1, params["v"], precision=precision) + params["b_z"]

    def goal(
        self, params: dict[str, Array], x: Float[Array, "points n"], *, precision: str = DEFAULT_PRECISION
    ) -> Float[Array, " points"]:
        """The goal ``z = step(relu(x W1 + b1) v + b_z)``, float32 0.0 or 1.0 at each input row."""
        return _step(self.goal_preactivation(params, x, precision=precision))

    def output_given_goal(
        self,
        params: dict[str, Array],
        x: Float[Array, "points n"],
        z: Float[Array, " points"],
        *,
        precision: str = DEFAULT_PRECISION,
    ) -> Float[Array, " points"]:
        """Output ``relu([x, z] W2 + b2) u + c`` for a given goal value per row (clamping = passing a constant z)."""
        xz = jnp.concatenate([x, z[:, None]], axis=1)
        h2 = jax.nn.relu(jnp.matmul(xz, params["W2"], precision=precision) + params["b2"][None, :])
        return jnp.matmul(h2, params["u"], precision=precision) + params["c"]

    def apply(
        self, params: dict[str, Array], x: Float[Array, "points n"], *, precision: str = DEFAULT_PRECISION
    ) -> Float[Array, " points"]:
        """Output pre-activation of one network at each input row (the full forward pass)."""
        return self.output_given_goal(params, x, self.goal(params, x, precision=precision), precision=precision)

    def hidden_preactivations(
        self, params: dict[str, Array], x: Float[Array, "points n"], *, precision: str = DEFAULT_PRECISION
    ) -> tuple[Float[Array, "points w"], Float[Array, "points w"]]:
        """Pre-activations of the two hidden layers in the forward pass: ``x W1 + b1`` and ``[x, z] W2 + b2``."""
        pre1 = jnp.matmul(x, params["W1"], precision=precision) + params["b1"][None, :]
        z = self.goal(params, x, precision=precision)
        xz = jnp.concatenate([x, z[:, None]], axis=1)
        return pre1, jnp.matmul(xz, params["W2"], precision=precision) + params["b2"][None, :]

    def config(self) -> dict:
        """Plain-dict description, stored in results."""
        return {"arch": "goalnet", "n": self.n, "w": self.w}


@runtime_checkable
class Architecture(Protocol):
    """What the engine needs of an architecture: a flat parameter layout and a forward pass with one output.

    :class:`MLP`, :class:`ResMLP` and :class:`GoalNet` are architectures; so is any object with
    these members (no base class needed). Make it a frozen dataclass (static under ``jit``).

    * ``n``: the number of Boolean inputs (1 .. :data:`countnets.network.boolean.MAX_INPUTS`).
    * ``name``: a short name for tables and errors.
    * ``layout()``: the flat parameter order, a tuple of
      :class:`~countnets.network.layout.ParamSpec` (name, shape, ``"weight"`` or ``"bias"``,
      fan-in); priors scale by it.
    * ``n_params``: the layout's total size.
    * ``unflatten(theta)``: named arrays from ``Float[Array, "*batch n_params"]``.
    * ``apply(params, x, *, precision)``: the output pre-activation of one network,
      ``Float[Array, "points"]`` for inputs ``x`` of shape ``(points, n)``; traceable
      (the engine vmaps it over a chunk). The network computes ``f(x) = 1`` where it is ``> 0``.
    * ``config()``: a JSON-able dict naming it (key ``"arch"``), stored in results.

    Measures that look inside a network (hidden units, blocks, goals) and the exact readout
    move (``"lin-ess"``) need the built-in architectures; they refuse others with a
    one-line error.
    """

    n: int

    @property
    def name(self) -> str:
        """Short name."""
        ...  # pragma: no cover - a protocol

    @property
    def n_params(self) -> int:
        """Number of scalar parameters."""
        ...  # pragma: no cover - a protocol

    def layout(self) -> tuple[ParamSpec, ...]:
        """The flat parameter order."""
        ...  # pragma: no cover - a protocol

    def unflatten(self, theta: Any) -> dict[str, Any]:
        """Named arrays from a flat parameter vector."""
        ...  # pragma: no cover - a protocol

    def apply(self, params: dict[str, Any], x: Any, *, precision: str = DEFAULT_PRECISION) -> Any:
        """Output pre-activation at each input row."""
        ...  # pragma: no cover - a protocol

    def config(self) -> dict:
        """Plain-dict description, stored in results."""
        ...  # pragma: no cover - a protocol


BUILTIN_ARCHITECTURES = (MLP, ResMLP, GoalNet)
"""The architectures countnets ships (result loading and the structural measures know them)."""


def apply_flat_batch(
    arch: Architecture,
    theta: Float[Array | np.ndarray, "chunk n_params"],
    x: Float[Array | np.ndarray, "points n"],
    *,
    precision: str = DEFAULT_PRECISION,
) -> Float[Array, "chunk points"]:
    """Outputs of a chunk of networks given as flat vectors: ``vmap(apply)``."""
    theta, x = jnp.asarray(theta), jnp.asarray(x)
    return jax.vmap(lambda t: arch.apply(arch.unflatten(t), x, precision=precision))(theta)


def readout_indices(arch: Architecture) -> np.ndarray:
    """Flat indices (int32) of the output layer's weights and bias, the last two entries of the layout.

    Every built-in architecture ends with ``y = h . u + c`` (MLP: ``W_out``, ``b_out``), ``h``
    independent of ``(u, c)``: the output is linear and homogeneous in these parameters
    (what the exact readout move of :mod:`countnets.rare.moves` uses).

    Raises:
      CountnetsError: for an architecture that is not exactly one of :data:`BUILTIN_ARCHITECTURES`.

    >>> readout_indices(MLP(2, (3,))).tolist()
    [9, 10, 11, 12]
    """
    if type(arch) not in BUILTIN_ARCHITECTURES:  # exact types: a subclass may change the forward pass
        raise CountnetsError(
            f"the readout block is known only for the built-in architectures (MLP, ResMLP, GoalNet), "
            f"got {type(arch).__name__}"
        )
    last = sum(spec.size for spec in arch.layout()[-2:])
    return np.arange(arch.n_params - last, arch.n_params, dtype=np.int32)


def arch_from_config(config: dict) -> Architecture:
    """Rebuild an architecture from its :meth:`config` dict (as stored in results)."""
    kind = config.get("arch")
    if kind == "mlp":
        return MLP(config["n"], tuple(config["hidden"]), config["activation"])
    if kind == "resmlp":
        return ResMLP(config["n"], config["d"], config["L"], config["w"], config["branch_scale"])
    if kind == "goalnet":
        return GoalNet(config["n"], config["w"])
    raise CountnetsError(f"unknown architecture {kind!r}; expected mlp, resmlp or goalnet")
