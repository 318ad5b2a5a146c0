"""The single exception type countnets raises for bad input."""

from __future__ import annotations

from typing import Any


class CountnetsError(ValueError):
    """Raised for invalid input at a public boundary (constructors, functions, CLI).

    It subclasses ``ValueError`` so that ``except ValueError`` keeps working; the
    CLI turns it into a one-line message on stderr and exit code 2.
    """


class CountnetsTypeError(CountnetsError, TypeError):
    """Raised for an argument of the wrong type (a prior where an architecture belongs, a str for a number).

    Both a :class:`CountnetsError` (the CLI's one-line message, exit code 2) and a
    ``TypeError``, so ``except TypeError`` catches it as Python's own would.
    """


def received(value: object) -> str:
    """How an error message shows a received value: its type, then its repr (cut to 60 characters).

    >>> received("mlp"), received(None)
    ("str 'mlp'", 'NoneType None')
    """
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def check_type(value: Any, types: type | tuple[type, ...], name: str, expected: str, *, where: str = "",
               hint: str = "", exclude: type | tuple[type, ...] = ()) -> Any:  # fmt: skip
    """``value`` if it is an instance of ``types`` and not of ``exclude`` (e.g. ``bool`` where an int belongs).

    Otherwise :class:`CountnetsTypeError` saying what was received:
    ``"{where}: {name} must be {expected}, got {type} {repr}{hint}"``.

    >>> check_type(3, int, "top", "an int", where="histogram_mc", exclude=bool)
    3
    """
    if isinstance(value, types) and not isinstance(value, exclude):
        return value
    prefix = f"{where}: " if where else ""
    raise CountnetsTypeError(f"{prefix}{name} must be {expected}, got {received(value)}{hint}")


def check_positive_int(name: str, value: object, *, allow_zero: bool = False) -> int:
    """Return ``value`` as an int, or raise ``CountnetsError`` naming ``name``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int,))
        and not (hasattr(value, "__index__") and not isinstance(value, float))
    ):
        raise CountnetsTypeError(f"{name} must be an int, got {value!r} ({type(value).__name__})")
    value = int(value)  # type: ignore[call-overload]
    if value < 0 or (value == 0 and not allow_zero):
        kind = "a non-negative" if allow_zero else "a positive"
        raise CountnetsError(f"{name} must be {kind} int, got {value}")
    return value


def check_finite_float(name: str, value: object, *, positive: bool = False, non_negative: bool = False) -> float:
    """Return ``value`` as a finite float, or raise ``CountnetsError`` naming ``name``.

    A ``str`` (``"1"``) or ``bytes`` is refused with :class:`CountnetsTypeError`: numbers only.
    """
    if isinstance(value, (bool, str, bytes)):
        raise CountnetsTypeError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise CountnetsTypeError(f"{name} must be a number, got {value!r} ({type(value).__name__})") from None
    if out != out or out in (float("inf"), float("-inf")):
        raise CountnetsError(f"{name} must be finite, got {value!r}")
    if positive and out <= 0:
        raise CountnetsError(f"{name} must be > 0, got {out}")
    if non_negative and out < 0:
        raise CountnetsError(f"{name} must be >= 0, got {out}")
    return out
