"""Typed result records and the one JSON codec they share.

A record is a frozen dataclass of plain values: ``int``, ``float``, ``str``, ``bool``,
``None``, enums, tuples, dicts with ``str`` keys and other records. :func:`encode` turns
one into standard JSON values and :func:`decode` reads it back from the type hints, so
a round trip gives an equal record. An optional field (default ``None``) is left out
when it is ``None``. Non-finite floats are written as the strings
``"inf"``, ``"-inf"`` and ``"nan"`` (standard JSON has no such numbers); a float field
also reads ``null`` as NaN, which is how the training experiments of schema 1 wrote an
undefined value.

Records are also read-only mappings of their fields (``record["blocks"]``,
``record.get("ratio")``, ``"ratio" in record``), so code written against the dict
payloads of schema 1 keeps working.

>>> @record
... class Ratio(Record):
...     estimate: float
...     ci: tuple[float, float]
>>> encode(Ratio(float("inf"), (2.0, float("inf"))))
{'estimate': 'inf', 'ci': [2.0, 'inf']}
>>> decode(Ratio, {"estimate": 3, "ci": [1.5, "inf"]})
Ratio(estimate=3.0, ci=(1.5, inf))
"""

from __future__ import annotations

import dataclasses
import enum
import math
import types
import typing
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from countnets._errors import CountnetsError

__all__ = ["Record", "record", "encode", "decode", "decode_float", "encode_float", "StopReason"]


class StopReason(enum.StrEnum):
    """Why a counting loop stopped. A ``str`` enum: ``StopReason.TIME == "time"``.

    Members:
      SAMPLES: every requested sample was done.
      REL_HALFWIDTH: every interval reached the requested relative half-width.
      TIME: the time budget (``max_seconds``) ran out.
      INTERRUPTED: a signal (SIGINT/SIGTERM) stopped it after a completed step.
      EXHAUSTED: an exact enumeration went through every configuration.
    """

    SAMPLES = "samples"
    REL_HALFWIDTH = "rel_halfwidth"
    TIME = "time"
    INTERRUPTED = "interrupted"
    EXHAUSTED = "exhausted"


def record(cls: type) -> type:
    """Make ``cls`` (a :class:`Record` subclass) a frozen dataclass whose equality is :meth:`Record.__eq__`."""
    if not issubclass(cls, Record):
        raise TypeError(f"@record classes must subclass Record, got {cls.__name__}")
    return dataclasses.dataclass(frozen=True, eq=False)(cls)


class Record(Mapping):
    """Mixin for frozen dataclass records (see :func:`record`): read-only mapping access to the fields.

    Two records are equal when they are of the same type with equal fields (NaN equals
    NaN); a record equals a mapping whose JSON encoding equals its own.
    """

    def __getitem__(self, name: str) -> Any:
        if not isinstance(name, str) or name not in self._field_names():
            raise KeyError(name)
        return getattr(self, name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._field_names())

    def __len__(self) -> int:
        return len(self._field_names())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._field_names()

    def __eq__(self, other: object) -> bool:
        if dataclasses.is_dataclass(other) and not isinstance(other, type):
            return type(self) is type(other) and all(
                _equal(getattr(self, f), getattr(other, f)) for f in self._field_names()
            )
        if isinstance(other, Mapping):
            return dict(encode(self)) == encode(dict(other))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    @classmethod
    def _field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    return a == b


def encode_float(x: float) -> float | str:
    """A float as standard JSON: itself when finite, else ``"inf"``, ``"-inf"`` or ``"nan"``."""
    x = float(x)
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if math.isnan(x):
        return "nan"
    return x


def decode_float(value: Any, where: str = "value") -> float:
    """Inverse of :func:`encode_float`; ``None`` reads as NaN (schema 1's undefined value).

    Raises:
      CountnetsError: for anything else that is not a number.
    """
    if value is None:
        return math.nan
    if isinstance(value, bool):
        raise CountnetsError(f"{where} must be a number, got {value!r}")
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    if isinstance(value, str) and value in ("inf", "-inf", "nan", "Infinity", "-Infinity", "NaN"):
        return float(value.replace("Infinity", "inf").replace("NaN", "nan"))
    raise CountnetsError(f"{where} must be a number or 'inf'/'-inf'/'nan', got {value!r}")


NON_FINITE_TEXT = ("inf", "-inf", "nan")
"""How :func:`encode_float` writes the floats standard JSON has no number for."""


def decode_floats(value: Any, *, none_as_nan: bool = False) -> Any:
    """A plain JSON tree with :func:`encode_float`'s strings as floats again (``None`` as NaN too, if asked).

    Dicts and lists are walked; every other value is kept.

    >>> decode_floats({"a": ["inf", 1, None], "b": "0x3"})
    {'a': [inf, 1, None], 'b': '0x3'}
    """
    if isinstance(value, dict):
        return {k: decode_floats(v, none_as_nan=none_as_nan) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_floats(v, none_as_nan=none_as_nan) for v in value]
    if (value is None and none_as_nan) or (isinstance(value, str) and value in NON_FINITE_TEXT):
        return decode_float(value)
    return value


def encode(value: Any) -> Any:
    """A record (or any plain value) as standard JSON values.

    Raises:
      CountnetsError: for a dict with a non-str key or a value of a type JSON cannot hold.
    """
    if value is None or isinstance(value, (bool, str)):
        return value.value if isinstance(value, enum.Enum) else value
    if isinstance(value, enum.Enum):
        return encode(value.value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return encode_float(float(value))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # An optional field (default None) is written only when it is set.
        return {
            f.name: encode(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if not (f.default is None and getattr(value, f.name) is None)
        }
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise CountnetsError(f"JSON object keys must be str, got {key!r}")
            out[key] = encode(item)
        return out
    if isinstance(value, (list, tuple, np.ndarray)):
        return [encode(v) for v in value]
    raise CountnetsError(f"a value of type {type(value).__name__} cannot be written as JSON")


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def decode(tp: Any, data: Any, where: str = "record") -> Any:
    """Read ``data`` (JSON values) back as type ``tp``: a record class, or a typing form.

    Supported forms: record (dataclass) types, ``int``, ``float`` (see
    :func:`decode_float`), ``str``, ``bool``, enums, ``X | None``, ``tuple[X, ...]``,
    ``tuple[X, Y]``, ``list[X]``, ``dict[str, X]`` and ``Any``. Unknown fields of a record
    are refused; missing fields with defaults take them.

    Raises:
      CountnetsError: naming the path of the first value that does not fit.
    """
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any or tp is object:
        return data
    if origin in (typing.Union, types.UnionType):
        if data is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        errors = []
        for option in options:
            try:
                return decode(option, data, where)
            except CountnetsError as err:
                errors.append(str(err))
        raise CountnetsError(errors[0] if errors else f"{where}: no type fits {data!r}")
    if dataclasses.is_dataclass(tp):
        if not isinstance(data, Mapping):
            raise CountnetsError(f"{where} must be an object ({tp.__name__}), got {type(data).__name__}")
        hints = _hints(tp)
        fields = {f.name: f for f in dataclasses.fields(tp)}
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise CountnetsError(f"{where} ({tp.__name__}) has unknown fields {unknown}")
        kwargs = {}
        for name, f in fields.items():
            if name in data:
                kwargs[name] = decode(hints[name], data[name], f"{where}.{name}")
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise CountnetsError(f"{where} ({tp.__name__}) lacks the field {name!r}")
        return tp(**kwargs)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(data)
        except ValueError:
            raise CountnetsError(f"{where} must be one of {[m.value for m in tp]}, got {data!r}") from None
    if tp is float:
        return decode_float(data, where)
    if tp is bool:
        if not isinstance(data, bool):
            raise CountnetsError(f"{where} must be true or false, got {data!r}")
        return data
    if tp is int:
        if isinstance(data, bool) or not isinstance(data, int):
            raise CountnetsError(f"{where} must be an int, got {data!r}")
        return data
    if tp is str:
        if not isinstance(data, str):
            raise CountnetsError(f"{where} must be a string, got {data!r}")
        return data
    if origin in (tuple, list):
        if not isinstance(data, (list, tuple)):
            raise CountnetsError(f"{where} must be a list, got {type(data).__name__}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(data):
                raise CountnetsError(f"{where} must have {len(args)} entries, got {len(data)}")
            return tuple(decode(a, d, f"{where}[{i}]") for i, (a, d) in enumerate(zip(args, data, strict=True)))
        item = args[0] if args else Any
        values = [decode(item, d, f"{where}[{i}]") for i, d in enumerate(data)]
        return tuple(values) if origin is tuple else values
    if origin is dict:
        if not isinstance(data, Mapping):
            raise CountnetsError(f"{where} must be an object, got {type(data).__name__}")
        item = args[1] if len(args) == 2 else Any
        return {str(k): decode(item, v, f"{where}[{k!r}]") for k, v in data.items()}
    if tp is dict:
        if not isinstance(data, Mapping):
            raise CountnetsError(f"{where} must be an object, got {type(data).__name__}")
        return dict(data)
    raise CountnetsError(f"{where}: cannot read the type {tp!r}")
