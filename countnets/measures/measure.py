"""The :class:`Measure` record and the small pieces every measure factory shares.

:class:`Measure` is the record of pure functions of ``(arch, params, x, precision)`` that
:mod:`countnets.measures` documents (calling convention, shapes); here also the defaults a
factory fills in when a measure has no check, no key or a zero level, the plain forward
pass as its outputs, and packed truth tables as key columns. ``countnets.measures``
re-exports the public names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from jaxtyping import Array, Bool, Float, UInt32

from countnets.network import boolean
from countnets.network.architectures import Architecture

__all__ = ["Measure", "MeasureFn"]

MeasureFn = Callable[[Architecture, dict[str, Array], Float[Array, "points n"], str], Array]


def _no_check(arch: Architecture) -> None:
    return None


def _no_fields(arch: Architecture) -> tuple[int, ...]:
    return ()


def _zero_level(arch: Architecture) -> float:
    return 0.0


def _forward_outputs(arch: Architecture, params: dict[str, Array], x: Array, precision: str) -> Array:
    return arch.apply(params, x, precision=precision)[None, :]


class Measure(NamedTuple):
    """A measurement of one network: pure functions of ``(arch, params, x, precision)``.

    See :mod:`countnets.measures` for the calling convention and the shapes. Any of
    ``event``, ``key`` and ``score`` may be ``None`` when the measure does not define it;
    the engine then refuses the uses that need it with a one-line error.

    Attributes:
      name: a readable description, e.g. ``"implements(0x80)"``; used as the event's
        name in results.
      spec: a JSON-ready description that identifies the measure (stored in results and
        checkpoint fingerprints).
      event: ``-> Bool[Array, ""]``, or ``None``.
      key: ``-> UInt32[Array, "variants columns"]``, or ``None``.
      key_fields: ``key_fields(arch)``: columns spanned by each key field (empty when
        there is no key); a packed table spans ``words_per_table(arch.n)`` columns.
      score: ``-> Float[Array, ""]`` with ``event == (score >= level(arch))``, or ``None``.
      level: ``level(arch)``: the score at and above which the event holds.
      outputs: ``-> Float[Array, "variants values"]``, the values the decision reads.
      check: ``check(arch)`` raises :class:`countnets.CountnetsError` if the measure
        does not apply to ``arch``.
      agreement: for a score that counts agreeing points (``implements``, ``fits``):
        ``agreement(arch) -> (points int32 (m,), labels bool (m,))``, else ``None``.
    """

    name: str
    spec: dict[str, Any]
    event: MeasureFn | None
    key: MeasureFn | None
    key_fields: Callable[[Architecture], tuple[int, ...]]
    score: MeasureFn | None
    level: Callable[[Architecture], float]
    outputs: MeasureFn
    check: Callable[[Architecture], None]
    agreement: Callable[[Architecture], tuple[np.ndarray, np.ndarray]] | None = None


def _table_words(bits: Bool[Array, "*batch points"]) -> UInt32[Array, "*batch words"]:
    """Packed tables as key columns: uint32 words, most significant first."""
    return boolean.pack_table(bits)[..., ::-1]
