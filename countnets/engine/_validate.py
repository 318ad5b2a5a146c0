"""Type checks of the prior, architecture and measure arguments shared by the public front ends.

``estimate_mc(arch, prior, ...)`` (swapped), a dict as prior or ``"mlp"`` as arch used to
fail deep inside with an ``AttributeError``; these checks say what was expected instead.
Every check raises :class:`countnets._errors.CountnetsTypeError` through the one helper
:func:`countnets._errors.check_type`, so every front end words a wrong type the same way.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from countnets import measures as measures_lib
from countnets._errors import check_type
from countnets.measures import Measure
from countnets.network.architectures import BUILTIN_ARCHITECTURES, Architecture
from countnets.network.priors import BUILTIN_PRIORS, Gaussian, Prior  # noqa: F401 (Gaussian: the doctest)

__all__ = ["check_prior", "check_arch", "check_prior_and_arch", "check_function", "check_measure", "FUNCTION_TYPES"]

FUNCTION_TYPES = (int, np.integer, str)
"""What names a Boolean function: an int truth table, a hex string or a name (never a bool)."""
_FUNCTION = "a function (int truth table, hex or name)"


def check_prior(prior: Any, where: str) -> Any:
    """``prior`` if it is a prior (:class:`countnets.Prior`: a built-in one, or any object with ``sample`` and
    ``config``); else :class:`countnets.CountnetsError` (also a ``TypeError``).

    >>> check_prior(Gaussian(), "estimate_mc")
    Gaussian(sigma_w=1.0, sigma_b=1.0)
    """
    hint = ""
    if isinstance(prior, BUILTIN_ARCHITECTURES):
        hint = "; prior and arch look swapped: the order is (prior, arch, ...)"
    elif isinstance(prior, dict):
        hint = "; to rebuild one from a result's config use countnets.network.priors.prior_from_config"
    return check_type(
        prior,
        Prior,
        "prior",
        "a countnets prior (Gaussian, Uniform, Lattice or a countnets.Prior)",
        where=where,
        hint=hint,
        exclude=BUILTIN_ARCHITECTURES,
    )


def check_arch(arch: Any, where: str) -> Any:
    """``arch`` if it is an architecture (:class:`countnets.Architecture`: a built-in one, or any object with its
    members); else :class:`countnets.CountnetsError` (also a ``TypeError``)."""
    hint = ""
    if isinstance(arch, BUILTIN_PRIORS):
        hint = "; prior and arch look swapped: the order is (prior, arch, ...)"
    elif isinstance(arch, str):
        hint = f"; build one, e.g. countnets.MLP(n=3, hidden=(8,)) for {arch!r}"
    elif isinstance(arch, dict):
        hint = "; to rebuild one from a result's config use countnets.network.architectures.arch_from_config"
    expected = "a countnets architecture (MLP, ResMLP, GoalNet or a countnets.Architecture)"
    return check_type(arch, Architecture, "arch", expected, where=where, hint=hint, exclude=BUILTIN_PRIORS)


def check_prior_and_arch(prior: Any, arch: Any, where: str) -> None:
    """:func:`check_prior` then :func:`check_arch` (a swap is reported on the first argument)."""
    check_prior(prior, where)
    check_arch(arch, where)


def check_function(value: Any, where: str, name: str = "target") -> int | np.integer | str:
    """``value`` if it names a Boolean function (int truth table, hex or name); else a ``CountnetsTypeError``.

    Only the type is checked here; :func:`countnets.parse_function` reads the value.
    """
    return check_type(value, FUNCTION_TYPES, name, _FUNCTION, where=where, exclude=bool)


@functools.lru_cache(maxsize=1024)
def _implements(kind: type, function: Any) -> Measure:
    # One Measure object per function given by value, so that splitting's compiled steps (cached per measure
    # object) serve every call with that function: many seeds in one process compile once.
    return measures_lib.implements(function)


def check_measure(measure: Any, where: str, name: str = "measure") -> Measure:
    """``measure`` as a :class:`Measure`: as given, or :func:`countnets.measures.implements` of a function.

    A function is an int truth table, a hex string or a name (``"and"``), as everywhere a
    measure is accepted; anything else (``None``, a float, a bool, a list where one measure
    belongs) is a :class:`countnets.CountnetsError` that is also a ``TypeError``.

    >>> check_measure("and", "histogram_mc", "where").name
    'implements(and)'
    """
    if isinstance(measure, FUNCTION_TYPES) and not isinstance(measure, bool):
        return _implements(type(measure), measure)
    hint = ""
    if isinstance(measure, (list, tuple)):
        hint = f"; {where} takes one {name} here"
    elif callable(measure) and not isinstance(measure, Measure):
        hint = "; call the factory, e.g. countnets.measures.implements('and')"
    return check_type(measure, Measure, name, f"a countnets Measure or {_FUNCTION}", where=where, hint=hint)
