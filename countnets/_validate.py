"""Type checks of the prior and architecture arguments shared by the public front ends.

``estimate_mc(arch, prior, ...)`` (swapped), a dict as prior or ``"mlp"`` as arch used to
fail deep inside with an ``AttributeError``; these checks say what was expected instead.
"""

from __future__ import annotations

from typing import Any

from countnets._errors import CountnetsTypeError
from countnets.architectures import MLP, GoalNet, ResMLP
from countnets.priors import Gaussian, Lattice, Uniform

__all__ = ["check_prior", "check_arch", "check_prior_and_arch"]

_PRIORS = (Gaussian, Uniform, Lattice)
_ARCHS = (MLP, ResMLP, GoalNet)


def _received(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def check_prior(prior: Any, where: str) -> Any:
    """``prior`` if it is a countnets prior; else :class:`countnets.CountnetsError` (also a ``TypeError``).

    >>> check_prior(Gaussian(), "estimate_mc")
    Gaussian(sigma_w=1.0, sigma_b=1.0)
    """
    if isinstance(prior, _PRIORS):
        return prior
    hint = ""
    if isinstance(prior, _ARCHS):
        hint = "; prior and arch look swapped: the order is (prior, arch, ...)"
    elif isinstance(prior, dict):
        hint = "; to rebuild one from a result's config use countnets.priors.prior_from_config"
    raise CountnetsTypeError(
        f"{where}: prior must be a countnets prior (Gaussian, Uniform or Lattice), got {_received(prior)}{hint}"
    )


def check_arch(arch: Any, where: str) -> Any:
    """``arch`` if it is a countnets architecture; else :class:`countnets.CountnetsError` (also a ``TypeError``)."""
    if isinstance(arch, _ARCHS):
        return arch
    hint = ""
    if isinstance(arch, _PRIORS):
        hint = "; prior and arch look swapped: the order is (prior, arch, ...)"
    elif isinstance(arch, str):
        hint = f"; build one, e.g. countnets.MLP(n=3, hidden=(8,)) for {arch!r}"
    elif isinstance(arch, dict):
        hint = "; to rebuild one from a result's config use countnets.architectures.arch_from_config"
    raise CountnetsTypeError(
        f"{where}: arch must be a countnets architecture (MLP, ResMLP or GoalNet), got {_received(arch)}{hint}"
    )


def check_prior_and_arch(prior: Any, arch: Any, where: str) -> None:
    """:func:`check_prior` then :func:`check_arch` (a swap is reported on the first argument)."""
    check_prior(prior, where)
    check_arch(arch, where)
