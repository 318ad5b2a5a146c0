"""P-value adjustments for a family of tests: Holm's step-down and Benjamini-Hochberg's step-up.

Re-exported by :mod:`countnets.stats.statistics`, where they were first defined.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from countnets._errors import CountnetsError

__all__ = ["P_ADJUSTMENTS", "Floats", "adjust_pvalues", "holm", "benjamini_hochberg"]


P_ADJUSTMENTS = ("holm", "bh", "none")
Floats = Sequence[float] | np.ndarray


def _pvalues(pvalues: Floats) -> np.ndarray:
    p = np.asarray(pvalues, dtype=np.float64)
    if p.ndim != 1:
        raise CountnetsError(f"p-values must be a flat sequence, got shape {p.shape}")
    if p.size and (np.isnan(p).any() or (p < 0).any() or (p > 1).any()):
        raise CountnetsError("p-values must lie in [0, 1]")
    return p


def holm(pvalues: Floats) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error rate, any dependence).

    With the m p-values sorted, ``p_(1) <= ... <= p_(m)``, the adjusted value of
    ``p_(i)`` is ``max_{j <= i} min(1, (m - j + 1) p_(j))``. Rejecting where the
    adjusted value is below alpha keeps the probability of *any* false rejection at
    most alpha whatever the dependence between the tests.

    >>> holm([0.01, 0.04, 0.03]).round(2).tolist()
    [0.03, 0.06, 0.06]
    """
    p = _pvalues(pvalues)
    m = p.size
    if m == 0:
        return p
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.maximum.accumulate(scaled)
    return out


def benjamini_hochberg(pvalues: Floats) -> np.ndarray:
    """Benjamini-Hochberg step-up adjusted p-values (false discovery rate).

    The adjusted value of ``p_(i)`` is ``min_{j >= i} min(1, m p_(j) / j)``. Controls
    the expected share of false rejections at alpha for independent or positively
    dependent (PRDS) tests; the same as ``scipy.stats.false_discovery_control(p, method="bh")``.

    >>> benjamini_hochberg([0.01, 0.04, 0.03]).round(2).tolist()
    [0.03, 0.04, 0.04]
    """
    p = _pvalues(pvalues)
    m = p.size
    if m == 0:
        return p
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, p[order] * m / np.arange(1, m + 1))
    out = np.empty(m)
    out[order] = np.minimum.accumulate(scaled[::-1])[::-1]
    return out


def adjust_pvalues(pvalues: Floats, method: str = "holm") -> np.ndarray:
    """Adjusted p-values: ``"holm"`` (:func:`holm`), ``"bh"`` (:func:`benjamini_hochberg`) or ``"none"``."""
    if method == "holm":
        return holm(pvalues)
    if method == "bh":
        return benjamini_hochberg(pvalues)
    if method == "none":
        return _pvalues(pvalues)
    raise CountnetsError(f"unknown p-value adjustment {method!r}; expected one of {', '.join(P_ADJUSTMENTS)}")
