"""Measures: what is measured about one network, as pure functions of (architecture, parameters, cube).

A :class:`Measure` is a small record of pure, vmappable functions of one network,
in the shape of optax's ``GradientTransformation``: factories build them
(:func:`implements`, :func:`table`, :func:`unit_dead`, :func:`fits`, the circuit
measures) and combinators compose them (:func:`all_of`, :func:`any_of`, :func:`not_`).
Counting, histograms, rare-event splitting and training all take measures; the
engine vmaps them over a block of networks and never needs to know what they test.

Every function of a measure is called as ``fn(arch, params, x, precision)``:

* ``arch``: the architecture (a frozen config dataclass, static under ``jit``);
* ``params``: one network's named parameter arrays (``arch.unflatten(theta)``);
* ``x``: the cube, float32 ``(2**n, n)`` in the run's encoding;
* ``precision``: the matmul precision.

and returns:

* ``event`` -> ``Bool[Array, ""]``: whether the network is in the event;
* ``key`` -> ``UInt32[Array, "variants columns"]``: histogram key rows, most
  significant column first; ``key_fields`` gives how many columns each field spans
  (a packed truth table spans its words, a small integer one column), so that the host
  reads a key back as a tuple of Python ints (:func:`decode_keys`);
* ``score`` -> ``Float[Array, ""]``: higher is closer to the event, and the event holds
  exactly when ``score >= level`` (the rare-event estimators climb it);
* ``outputs`` -> ``Float[Array, "variants values"]``: the real numbers the measure's
  decision reads (output pre-activations, truncated outputs, goal pre-activations); the
  engine flags networks whose values are non-finite or within a margin of 0, where a
  float rounding change could flip a bit.

``check(arch)`` raises :class:`countnets.CountnetsError` before any tracing when the
measure does not apply (wrong architecture, a table wider than the cube, a unit that
does not exist). Functions given by name or hex (``"and"``, ``"0x80"``) are resolved
against ``arch.n`` at trace time.

Example:
  >>> from countnets import measures as M
  >>> m = M.all_of(M.implements("0x80"), M.unit_dead(layer=0, unit=3))
  >>> m.name
  'all_of(implements(0x80), unit_dead(layer=0, unit=3))'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float

from countnets._errors import CountnetsError, check_positive_int
from countnets.defaults import parse_branch_scales, resolve_branch_scale  # noqa: F401 (re-exported)
from countnets.measures import circuits
from countnets.measures.circuit_measures import cancelling_pair, depth_code_parts, effective_depth, goal
from countnets.measures.measure import (
    Measure,
    MeasureFn,
    _forward_outputs,
    _no_check,
    _no_fields,
    _table_words,
    _zero_level,
)
from countnets.network import boolean
from countnets.network.architectures import MLP, Architecture, GoalNet, ResMLP

__all__ = [
    "Measure",
    "MeasureFn",
    "implements",
    "truncation",
    "kstar_terms",
    "target_of",
    "table",
    "fits",
    "finite",
    "unit_dead",
    "all_of",
    "any_of",
    "not_",
    "effective_depth",
    "depth_code_parts",
    "cancelling_pair",
    "goal",
    "as_measure",
    "decode_keys",
    "parse_branch_scales",
    "resolve_branch_scale",
]


# ----------------------------------------------------------------------------- functions and tables


def _function_spec(f: int | str) -> int | str:
    """A function as given: an int truth table, or a hex string or name (resolved against n later)."""
    if isinstance(f, bool) or not isinstance(f, (int, np.integer, str)):
        raise CountnetsError(f"a function must be an int truth table, a hex string or a name, got {f!r}")
    if isinstance(f, str):
        if not f.strip():
            raise CountnetsError("a function name must not be empty")
        return f.strip()
    if int(f) < 0:
        raise CountnetsError(f"a truth table must be a non-negative int, got {f}")
    return int(f)


def _resolve(f: int | str, n: int) -> int:
    if isinstance(f, str):
        return boolean.parse_function(f, n)
    if f >= 2 ** (2**n):
        raise CountnetsError(f"truth table {boolean.to_hex(f)} is out of range for n={n} (below 2**{2**n})")
    return f


def _label(f: int | str) -> str:
    return boolean.to_hex(f) if isinstance(f, int) else f


def _agreement_score(y: Float[Array, " m"], labels: Bool[Array, " m"]) -> Float[Array, ""]:
    """``#{j : (y_j > 0) == labels_j} + 1 / (2 (1 + V))``, V the summed violations of the disagreeing points.

    A disagreeing point with label 1 violates by ``-y_j`` (>= 0, so ``y_j = 0`` counts as
    a disagreement at distance 0), one with label 0 by ``y_j`` (> 0); a NaN violation is
    infinite. The tie-break lies in ``(0, 1/2]``, so the score is below ``m`` unless
    every point agrees (then it is ``m + 1/2``): the event "all agree" is ``score >= m``.
    """
    bits = y > 0
    agree = bits == labels
    violation = jnp.where(labels, -y, y)
    violation = jnp.where(agree, jnp.zeros_like(y), jnp.where(jnp.isnan(violation), jnp.inf, violation))
    total = jnp.sum(violation)
    count = jnp.sum(agree, dtype=jnp.int32).astype(y.dtype)
    return count + jnp.asarray(0.5, y.dtype) / (jnp.asarray(1.0, y.dtype) + total)


def implements(f: int | str) -> Measure:
    """The network's function (truth table, DESIGN section 2) is ``f``.

    Event: ``pack(y > 0) == pack(f)`` (strict threshold, NaN outputs read as 0).
    Score: the number of cube points where ``y`` agrees with ``f`` plus a tie-break in
    ``(0, 1/2]`` that grows as the disagreeing points' outputs approach the threshold
    (see :func:`_agreement_score`); level ``2**n``.

    Args:
      f: an int truth table, a hex string (``"0x80"``) or a name (``"and"``,
        ``"parity"``, ``"x0"``, ``"not:or"``; see :func:`countnets.named_function`).
    """
    spec_f = _function_spec(f)

    def target_words(arch):
        return jnp.asarray(boolean.int_to_words(_resolve(spec_f, arch.n), arch.n))

    def event(arch, params, x, precision):
        keys = boolean.pack_table(boolean.truth_table(arch.apply(params, x, precision=precision)))
        return jnp.all(keys == target_words(arch))

    def labels(arch):
        return boolean.int_to_table(_resolve(spec_f, arch.n), arch.n)

    def score(arch, params, x, precision):
        return _agreement_score(arch.apply(params, x, precision=precision), jnp.asarray(labels(arch)))

    def check(arch):
        _resolve(spec_f, arch.n)

    return Measure(
        name=f"implements({_label(spec_f)})",
        spec={"implements": _label(spec_f)},
        event=event,
        key=None,
        key_fields=_no_fields,
        score=score,
        level=lambda arch: float(2**arch.n),
        outputs=_forward_outputs,
        check=check,
        agreement=lambda arch: (np.arange(2**arch.n, dtype=np.int32), labels(arch)),
    )


def truncation(f: int | str, order: int) -> Measure:
    """A ResMLP's path-order truncation ``y^(order)`` computes ``f`` (DESIGN section 3).

    ``y^(k)`` keeps the paths through at most k blocks
    (:func:`countnets.measures.circuits.truncated_outputs`; ``y^(L)`` is the network itself), so
    ``k* = min{k : y^(k) computes the network's function}``. Event, score and level are those of
    :func:`implements`, on ``y^(order)`` instead of ``y``. ``all_of(implements(f), truncation(f, k))``
    is the joint event "f, and order k computes it", whose masses :func:`kstar_terms` combines
    into ``P(f, k* = k)``.

    Args:
      f: an int truth table, a hex string or a name, as for :func:`implements`.
      order: the truncation order k, ``0 <= k <= L`` (checked against the architecture).
    """
    spec_f = _function_spec(f)
    order = check_positive_int("order (the truncation order)", order, allow_zero=True)

    def truncated(arch, params, x, precision):
        return circuits.truncated_outputs(arch, params, x, precision=precision)[order]

    def labels(arch):
        return boolean.int_to_table(_resolve(spec_f, arch.n), arch.n)

    def event(arch, params, x, precision):
        keys = boolean.pack_table(boolean.truth_table(truncated(arch, params, x, precision)))
        return jnp.all(keys == jnp.asarray(boolean.int_to_words(_resolve(spec_f, arch.n), arch.n)))

    def score(arch, params, x, precision):
        return _agreement_score(truncated(arch, params, x, precision), jnp.asarray(labels(arch)))

    def check(arch):
        if not isinstance(arch, ResMLP):
            raise CountnetsError(f"a truncation order needs a ResMLP, got {type(arch).__name__}")
        if order > arch.L:
            raise CountnetsError(f"truncation order {order} is past the network's L = {arch.L} blocks")
        _resolve(spec_f, arch.n)

    return Measure(
        name=f"truncation({_label(spec_f)}, order={order})",
        spec={"truncation": _label(spec_f), "order": order},
        event=event,
        key=None,
        key_fields=_no_fields,
        score=score,
        level=lambda arch: float(2**arch.n),
        outputs=lambda arch, params, x, precision: truncated(arch, params, x, precision)[None, :],
        check=check,
        agreement=lambda arch: (np.arange(2**arch.n, dtype=np.int32), labels(arch)),
    )


def kstar_terms(f: int | str, k: int) -> list[tuple[int, Measure]]:
    """``P(f, k* = k)`` as a signed sum of joint masses, each an event splitting can climb.

    ``k* = k`` is "order k computes f, and no order j < k does"; expanding the product of
    ``1 - [order j computes f]`` gives, over the subsets S of ``{0 .. k-1}``,
    ``P(f, k* = k) = sum_S (-1)^|S| P(f, order k and every order in S computes f)``
    (2^k terms; at ``k = L`` the order-L part repeats "f", which changes no event).
    Estimate each mass by its own run and combine them with the signs; a term with an order
    below the target's minimal depth is 0 by the proof.

    Returns:
      ``[(sign, measure)]``, the measure ``all_of(implements(f), truncation(f, j) for j in
      sorted(S | {k}))``.

    >>> [(sign, [part["order"] for part in m.spec["all_of"][1:]]) for sign, m in kstar_terms("xor", 2)]
    [(1, [2]), (-1, [0, 2]), (-1, [1, 2]), (1, [0, 1, 2])]
    """
    k = check_positive_int("k", k, allow_zero=True)
    out = []
    for mask in range(2**k):
        orders = [j for j in range(k) if mask >> j & 1] + [k]
        sign = -1 if bin(mask).count("1") % 2 else 1
        out.append((sign, all_of(implements(f), *(truncation(f, j) for j in orders))))
    return out


def target_of(measure: Measure, n: int) -> int | None:
    """The truth table ``f`` if ``measure`` is ``implements(f)`` (resolved for ``n`` inputs), else ``None``."""
    if set(measure.spec) != {"implements"}:
        return None
    return _resolve(_function_spec(measure.spec["implements"]), n)


def table() -> Measure:
    """The network's truth table as a histogram key (one field spanning the packed words).

    No event and no score: use it with ``reduce="histogram"``.
    """

    def key(arch, params, x, precision):
        return _table_words(boolean.truth_table(arch.apply(params, x, precision=precision)))[None, :]

    return Measure(
        name="table()",
        spec={"table": True},
        event=None,
        key=key,
        key_fields=lambda arch: (boolean.words_per_table(arch.n),),
        score=None,
        level=_zero_level,
        outputs=_forward_outputs,
        check=_no_check,
    )


def fits(points: Sequence[int], labels: Sequence[bool] | int | str) -> Measure:
    """The network agrees with ``labels`` at the cube points ``points`` (a training set S).

    Event: every output on S is finite and on the labelled side of 0 (``y > 0`` for
    label 1, ``y <= 0`` for label 0), as training defines "fits S". Score: agreeing
    points of S plus the tie-break of :func:`implements`; level ``|S|``.

    Args:
      points: distinct cube points, each in ``0 .. 2**n - 1``.
      labels: one bool per point, or a target function (int, hex or name) whose bits at
        ``points`` are the labels.
    """
    try:
        pts = tuple(check_positive_int("training point", p, allow_zero=True) for p in points)
    except TypeError:
        raise CountnetsError(f"points must be a sequence of ints, got {points!r}") from None
    if not pts:
        raise CountnetsError("fits needs at least one point")
    if len(set(pts)) != len(pts):
        raise CountnetsError(f"points must be distinct, got {list(pts)}")
    if isinstance(labels, (str, int, np.integer)) and not isinstance(labels, bool):
        target: int | str | None = _function_spec(labels)
        given: tuple[bool, ...] | None = None
    else:
        target = None
        given = tuple(bool(v) for v in labels)
        if len(given) != len(pts):
            raise CountnetsError(f"fits needs one label per point, got {len(given)} labels for {len(pts)} points")

    def label_array(arch):
        if target is None:
            return np.array(given, dtype=bool)
        f = _resolve(target, arch.n)
        return np.array([(f >> p) & 1 for p in pts], dtype=bool)

    def check(arch):
        bad = [p for p in pts if p >= 2**arch.n]
        if bad:
            raise CountnetsError(f"training points must be in 0..{2**arch.n - 1} for n={arch.n}, got {bad}")
        label_array(arch)

    index = np.array(pts, dtype=np.int32)

    def outputs(arch, params, x, precision):
        return arch.apply(params, x, precision=precision)[jnp.asarray(index)][None, :]

    def event(arch, params, x, precision):
        y = outputs(arch, params, x, precision)[0]
        return jnp.all(((y > 0) == jnp.asarray(label_array(arch))) & jnp.isfinite(y))

    def score(arch, params, x, precision):
        y = outputs(arch, params, x, precision)[0]
        s = _agreement_score(y, jnp.asarray(label_array(arch)))
        # A non-finite output on S never fits: keep such networks below the level.
        return jnp.where(jnp.all(jnp.isfinite(y)), s, jnp.minimum(s, jnp.asarray(len(pts) - 0.5, y.dtype)))

    label_text = _label(target) if target is not None else "".join("1" if v else "0" for v in given or ())
    return Measure(
        name=f"fits(points={list(pts)}, labels={label_text})",
        spec={"fits": {"points": list(pts), "labels": label_text}},
        event=event,
        key=None,
        key_fields=_no_fields,
        score=score,
        level=lambda arch: float(len(pts)),
        outputs=outputs,
        check=check,
        agreement=lambda arch: (index, label_array(arch)),
    )


def finite() -> Measure:
    """Every output on the cube is finite (no NaN, no infinity).

    Score: minus the number of non-finite outputs; level 0. No key.
    """

    def event(arch, params, x, precision):
        return jnp.all(jnp.isfinite(arch.apply(params, x, precision=precision)))

    def score(arch, params, x, precision):
        y = arch.apply(params, x, precision=precision)
        return -jnp.sum(~jnp.isfinite(y)).astype(y.dtype)

    return Measure(
        name="finite()",
        spec={"finite": True},
        event=event,
        key=None,
        key_fields=_no_fields,
        score=score,
        level=_zero_level,
        outputs=_forward_outputs,
        check=_no_check,
    )


def unit_dead(layer: int, unit: int) -> Measure:
    """Hidden unit ``unit`` of hidden layer ``layer`` (both 0-based) never fires on the cube.

    Event: its pre-activation is ``<= 0`` at every cube point (so its ReLU output is 0
    everywhere). Hidden layers are those of ``arch.hidden_preactivations``: an MLP's
    hidden layers, a ResMLP's blocks (layer ``l`` is block ``l + 1``), a GoalNet's two
    hidden layers. Score: ``-sum_j max(pre_j, 0)``, level 0.
    """
    layer = check_positive_int("layer", layer, allow_zero=True)
    unit = check_positive_int("unit", unit, allow_zero=True)

    def check(arch):
        widths = _hidden_widths(arch)
        if layer >= len(widths):
            raise CountnetsError(f"{arch.name} has {len(widths)} hidden layer(s) (0-based), got layer={layer}")
        if unit >= widths[layer]:
            raise CountnetsError(f"hidden layer {layer} of {arch.name} has {widths[layer]} units, got unit={unit}")

    def pre(arch, params, x, precision):
        return arch.hidden_preactivations(params, x, precision=precision)[layer][:, unit]

    def event(arch, params, x, precision):
        return jnp.all(pre(arch, params, x, precision) <= 0)

    def score(arch, params, x, precision):
        p = pre(arch, params, x, precision)
        return -jnp.sum(jax.nn.relu(jnp.where(jnp.isnan(p), jnp.inf, p)))

    return Measure(
        name=f"unit_dead(layer={layer}, unit={unit})",
        spec={"unit_dead": {"layer": layer, "unit": unit}},
        event=event,
        key=None,
        key_fields=_no_fields,
        score=score,
        level=_zero_level,
        outputs=lambda arch, params, x, precision: pre(arch, params, x, precision)[None, :],
        check=check,
    )


def _hidden_widths(arch: Architecture) -> tuple[int, ...]:
    if isinstance(arch, MLP):
        return tuple(arch.hidden)
    if isinstance(arch, ResMLP):
        return (arch.w,) * arch.L
    if isinstance(arch, GoalNet):
        return (arch.w, arch.w)
    raise CountnetsError(f"unknown architecture {type(arch).__name__}")


# ----------------------------------------------------------------------------- combinators


def as_measure(m: object) -> Measure:
    """A measure as given, or :func:`implements` of a function given as an int, hex or name."""
    if isinstance(m, Measure):
        return m
    if isinstance(m, (int, np.integer, str)) and not isinstance(m, bool):
        return implements(m)
    raise CountnetsError(f"expected a Measure or a function (int, hex or name), got {type(m).__name__}: {m!r}")


def _check_all(parts: Sequence[Measure]) -> Callable[[Architecture], None]:
    def check(arch):
        for p in parts:
            p.check(arch)

    return check


def _concat_outputs(parts: Sequence[Measure]) -> MeasureFn:
    def outputs(arch, params, x, precision):
        return jnp.concatenate([p.outputs(arch, params, x, precision) for p in parts], axis=1)

    return outputs


def _combine(kind: str, parts: tuple[Measure, ...]) -> tuple[str, dict[str, Any]]:
    if not parts:
        raise CountnetsError(f"{kind} needs at least one measure")
    missing = [p.name for p in parts if p.event is None]
    if missing:
        raise CountnetsError(f"{kind} combines events, but {', '.join(missing)} has no event")
    return f"{kind}({', '.join(p.name for p in parts)})", {kind: [p.spec for p in parts]}


def _gap(p: Measure, arch, params, x, precision) -> Array:
    """``score - level`` of one part: >= 0 exactly on its event."""
    return p.score(arch, params, x, precision) - jnp.float32(p.level(arch))  # type: ignore[misc]


def all_of(*measures: Measure | int | str) -> Measure:
    """Every measure's event holds (like ``optax.chain``, parts are evaluated in order).

    Score (when every part has one): ``sum_i min(score_i - level_i, 0)``, level 0, which
    is 0 exactly when every event holds.
    """
    parts = tuple(as_measure(m) for m in measures)
    name, spec = _combine("all_of", parts)

    def event(arch, params, x, precision):
        out = jnp.asarray(True)
        for p in parts:
            out = out & p.event(arch, params, x, precision)  # type: ignore[misc]
        return out

    score = None
    if all(p.score is not None for p in parts):

        def score(arch, params, x, precision):
            return sum((jnp.minimum(_gap(p, arch, params, x, precision), 0.0) for p in parts), start=jnp.float32(0.0))

    return Measure(name, spec, event, None, _no_fields, score, _zero_level, _concat_outputs(parts), _check_all(parts))


def any_of(*measures: Measure | int | str) -> Measure:
    """At least one measure's event holds. Score: ``max_i (score_i - level_i)``, level 0."""
    parts = tuple(as_measure(m) for m in measures)
    name, spec = _combine("any_of", parts)

    def event(arch, params, x, precision):
        out = jnp.asarray(False)
        for p in parts:
            out = out | p.event(arch, params, x, precision)  # type: ignore[misc]
        return out

    score = None
    if all(p.score is not None for p in parts):

        def score(arch, params, x, precision):
            return jnp.max(jnp.stack([_gap(p, arch, params, x, precision) for p in parts]))

    return Measure(name, spec, event, None, _no_fields, score, _zero_level, _concat_outputs(parts), _check_all(parts))


def not_(measure: Measure | int | str) -> Measure:
    """The measure's event does not hold. No score: the complement of a score level is open."""
    part = as_measure(measure)
    name, spec = _combine("not_", (part,))

    def event(arch, params, x, precision):
        return ~part.event(arch, params, x, precision)  # type: ignore[misc]

    return Measure(name, spec, event, None, _no_fields, None, _zero_level, part.outputs, part.check)


# ----------------------------------------------------------------------------- host side


def decode_keys(keys: np.ndarray, fields: Sequence[int]) -> list[tuple[int, ...]]:
    """Host-side key rows (uint32 columns, most significant first) as tuples of Python ints per field.

    >>> decode_keys(np.array([[1, 0, 5]], np.uint32), (2, 1))
    [(4294967296, 5)]
    """
    keys = np.asarray(keys)
    if keys.ndim != 2 or keys.shape[1] != sum(fields):
        raise CountnetsError(f"key rows of shape {keys.shape} do not match the fields {tuple(fields)}")
    columns = [keys[:, i].tolist() for i in range(keys.shape[1])]
    out = []
    for row in range(keys.shape[0]):
        parts, col = [], 0
        for width in fields:
            value = 0
            for _ in range(width):
                value = (value << 32) | int(columns[col][row])
                col += 1
            parts.append(value)
        out.append(tuple(parts))
    return out


def describe(measures: Sequence[Measure]) -> list[dict[str, Any]]:
    """JSON-ready specs of measures (for configs and checkpoint fingerprints)."""
    return [m.spec for m in measures]
