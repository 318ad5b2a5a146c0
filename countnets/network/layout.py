"""Flat parameter layouts: the documented order that makes a parameter vector portable."""

from __future__ import annotations

import dataclasses
import math

__all__ = ["ParamSpec", "layout_size", "layout_offsets"]


@dataclasses.dataclass(frozen=True)
class ParamSpec:
    """One named parameter array inside a flat parameter vector.

    Attributes:
      name: the array's name, e.g. ``"W1"`` or ``"b1"``.
      shape: its shape; it occupies ``prod(shape)`` consecutive entries, row-major.
      kind: ``"weight"`` (scaled by ``1/sqrt(fan_in)`` under the Gaussian prior) or
        ``"bias"``.
      fan_in: number of inputs feeding each unit (weights only; 0 for biases).
    """

    name: str
    shape: tuple[int, ...]
    kind: str
    fan_in: int = 0

    @property
    def size(self) -> int:
        """Number of scalar entries, ``prod(shape)``."""
        return math.prod(self.shape)


def layout_size(layout: tuple[ParamSpec, ...]) -> int:
    """Total number of scalars in a layout."""
    return sum(spec.size for spec in layout)


def layout_offsets(layout: tuple[ParamSpec, ...]) -> list[tuple[ParamSpec, int]]:
    """Each spec with the flat index of its first entry."""
    out, offset = [], 0
    for spec in layout:
        out.append((spec, offset))
        offset += spec.size
    return out
