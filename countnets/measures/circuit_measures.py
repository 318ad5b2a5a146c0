"""Circuit measures: effective depth, cancelling block pairs and goal units (DESIGN section 3).

Factories of :class:`countnets.measures.Measure` built on the decisions of
:mod:`countnets.measures.circuits`: :func:`effective_depth` (ResMLP effective depth,
stable depth and Hamming distance as a histogram key, with :func:`depth_code_parts`
to read the key's code back), :func:`cancelling_pair` (detour D1) and :func:`goal`
(detour D2). Import them from ``countnets.measures``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import jax.numpy as jnp

from countnets._errors import CountnetsError
from countnets.defaults import resolve_branch_scale
from countnets.measures import circuits
from countnets.measures.measure import Measure, _table_words, _zero_level
from countnets.network import boolean
from countnets.network.architectures import Architecture, GoalNet, ResMLP

__all__ = ["effective_depth", "depth_code_parts", "cancelling_pair", "goal"]


def _at_branch_scales(branch_scales: Sequence[float | str] | None):
    """``archs(arch)``: the network at each branch scale (resolved at its L), or as it is for ``None``."""
    specs = None if branch_scales is None else tuple(branch_scales)

    def archs(arch):
        if specs is None:
            return (arch,)
        return tuple(dataclasses.replace(arch, branch_scale=resolve_branch_scale(s, arch.L)) for s in specs)

    return archs


def _require(arch: Architecture, kind: type, what: str) -> None:
    if not isinstance(arch, kind):
        raise CountnetsError(f"{what} needs a {kind.__name__}, got {type(arch).__name__}")


def effective_depth(branch_scales: Sequence[str | float] | None = None) -> Measure:
    """Histogram key of a ResMLP's function, effective depth, stable depth and Hamming distance.

    Key rows (one per branch scale, so that every scale is evaluated on the same
    parameters: common random numbers): the index of the branch scale, the packed
    table of ``y^(L)`` (its words, most significant first) and
    ``code = (k* (L + 1) + stable) (2**n + 1) + hamming`` (see
    :func:`countnets.measures.circuits.depth_statistics`). Outputs: every truncated output
    ``y^(0) .. y^(L)`` per branch scale. No event and no score.

    Args:
      branch_scales: alphas (numbers or ``"invsqrt"``, resolved at the network's L);
        ``None`` means the architecture's own ``branch_scale``.
    """
    specs = None if branch_scales is None else tuple(branch_scales)
    archs = _at_branch_scales(specs)

    def check(arch):
        _require(arch, ResMLP, "effective depth")

    def outputs(arch, params, x, precision):
        return jnp.stack(
            [circuits.truncated_outputs(a, params, x, precision=precision).reshape(-1) for a in archs(arch)]
        )

    def key(arch, params, x, precision):
        L, span = arch.L, 2**arch.n + 1
        rows = []
        for index, a in enumerate(archs(arch)):
            tables = boolean.truth_table(circuits.truncated_outputs(a, params, x, precision=precision))
            kstar, stable, hamming = circuits.depth_statistics(tables)
            code = ((kstar * (L + 1) + stable) * span + hamming).astype(jnp.uint32)
            rows.append(jnp.concatenate([jnp.full((1,), index, jnp.uint32), _table_words(tables[-1]), code[None]]))
        return jnp.stack(rows)

    return Measure(
        name="effective_depth()" if specs is None else f"effective_depth(branch_scales={list(specs)})",
        spec={"effective_depth": None if specs is None else [str(s) for s in specs]},
        event=None,
        key=key,
        key_fields=lambda arch: (1, boolean.words_per_table(arch.n), 1),
        score=None,
        level=_zero_level,
        outputs=outputs,
        check=check,
    )


def depth_code_parts(code: int, n: int, L: int) -> tuple[int, int, int]:
    """``(k*, stable depth, Hamming distance)`` from an :func:`effective_depth` key's code (its inverse).

    >>> depth_code_parts(((2 * 4 + 3) * 9 + 5), n=3, L=3)
    (2, 3, 5)
    """
    rest, hamming = divmod(int(code), 2**n + 1)
    kstar, stable = divmod(rest, L + 1)
    return kstar, stable, hamming


def cancelling_pair(branch_scales: Sequence[str | float] | None = None) -> Measure:
    """A ResMLP with a cancelling pair of blocks (detour D1, DESIGN section 3).

    Key: the packed table of the full network, then a bitmask whose bit p is set when
    pair ``circuits.block_pairs(L)[p]`` cancels. Event: some pair cancels. Outputs: the
    outputs with nothing, each block and each pair removed. Needs 2 <= L <= 8.

    Args:
      branch_scales: ``None`` (the architecture's own ``branch_scale``: one key row as
        above), or alphas (numbers or ``"invsqrt"``, resolved at the network's L): then
        one key row per alpha, led by the alpha's index, every alpha evaluated on the
        same parameters (common random numbers, as in :func:`effective_depth`); the
        event is then "some pair cancels at the first alpha".
    """
    specs = None if branch_scales is None else tuple(branch_scales)
    archs = _at_branch_scales(specs)

    def check(arch):
        _require(arch, ResMLP, "a cancelling-pair search")
        if not 2 <= arch.L <= 8:
            raise CountnetsError(f"a cancelling-pair search needs 2..8 blocks, got L={arch.L}")

    def one_outputs(arch, params, x, precision):
        return circuits.removal_outputs(arch, params, x, circuits.removal_sets(arch.L), precision=precision)

    def parts(arch, params, x, precision):
        tables = boolean.truth_table(one_outputs(arch, params, x, precision))
        cancel = circuits.cancelling_pairs(tables, arch.L)
        weights = jnp.asarray([1 << p for p in range(len(circuits.block_pairs(arch.L)))], dtype=jnp.uint32)
        return tables, jnp.sum(jnp.where(cancel, weights, jnp.uint32(0)), dtype=jnp.uint32)

    def key(arch, params, x, precision):
        rows = []
        for index, a in enumerate(archs(arch)):
            tables, mask = parts(a, params, x, precision)
            lead = [] if specs is None else [jnp.full((1,), index, jnp.uint32)]
            rows.append(jnp.concatenate([*lead, _table_words(tables[0]), mask[None]]))
        return jnp.stack(rows)

    def event(arch, params, x, precision):
        return parts(archs(arch)[0], params, x, precision)[1] != 0

    def outputs(arch, params, x, precision):
        return jnp.stack([one_outputs(a, params, x, precision).reshape(-1) for a in archs(arch)])

    def key_fields(arch):
        fields = (boolean.words_per_table(arch.n), 1)
        return fields if specs is None else (1, *fields)

    return Measure(
        name="cancelling_pair()" if specs is None else f"cancelling_pair(branch_scales={list(specs)})",
        spec={"cancelling_pair": True} if specs is None else {"cancelling_pair": [str(s) for s in specs]},
        event=event,
        key=key,
        key_fields=key_fields,
        score=None,
        level=_zero_level,
        outputs=outputs,
        check=check,
    )


def goal() -> Measure:
    """A GoalNet's function f, goal g and goal flag word (detour D2, DESIGN section 3).

    Key: f's packed table, g's packed table, then the flag word of
    :func:`countnets.measures.circuits.goal_flags`. Event: the network is a detour via its goal
    (:data:`countnets.measures.circuits.DETOUR`). Outputs: y with z free, z clamped to 0 and to
    1, and the goal pre-activation.
    """

    def check(arch):
        _require(arch, GoalNet, "goal classification")

    def parts(arch, params, x, precision):
        pre, y = circuits.goal_outputs(arch, params, x, precision=precision)
        tables = boolean.truth_table(y)
        g = pre > 0
        return tables, g, circuits.goal_flags(g, tables).astype(jnp.uint32), jnp.concatenate([y, pre[None, :]], 0)

    def key(arch, params, x, precision):
        tables, g, flags, _ = parts(arch, params, x, precision)
        return jnp.concatenate([_table_words(tables[0]), _table_words(g), flags[None]])[None, :]

    def event(arch, params, x, precision):
        return circuits.goal_class(parts(arch, params, x, precision)[2]) == circuits.DETOUR

    return Measure(
        name="goal()",
        spec={"goal": True},
        event=event,
        key=key,
        key_fields=lambda arch: (boolean.words_per_table(arch.n),) * 2 + (1,),
        score=None,
        level=_zero_level,
        outputs=lambda arch, params, x, precision: parts(arch, params, x, precision)[3].reshape(1, -1),
        check=check,
    )
