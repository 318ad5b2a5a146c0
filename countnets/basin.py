"""The basin of a trained network as a measure: its function, and outputs within a tolerance of it (issue 30).

``basin(anchor, tolerance=...)`` is a :class:`countnets.measures.Measure` whose event
holds for parameters ``theta`` that

1. compute the anchor's truth table (so the basin lies inside ``implements(f)`` and its
   volume is at most ``P(f)``), and
2. have divergence ``D(theta) <= tolerance`` from the anchor, with ``"kl"``:
   ``D = mean_x KL( Bern(sigmoid(y_anchor(x))) || Bern(sigmoid(y_theta(x))) )`` over the
   cube points (the anchor's predictions are the reference distribution).

With ``star=True`` the event is restricted to the star domain around the anchor: every
point ``anchor + t (theta - anchor)`` at ``t = 1/K, 2/K, ..., 1`` (``K = star_points``,
a documented grid, not the continuum) satisfies 1 and 2. That is the set the
star-domain radial estimator of Scherlis & Belrose (2025) integrates, on the grid.

**Score** (so that splitting climbs it; the event is ``score >= m + 1``, m cube points):
while some point disagrees, the agreement score of ``implements`` (agreeing points plus
a tie-break, below ``m``); once every point agrees, ``m + 1 + (tol - D) / (tol + D)``, in
``(m, m + 2]``, decreasing in ``D``, at least ``m + 1`` exactly when ``D <= tol``. With
``star=True`` it is the least of these over the grid of the segment.

Every prior works (the measure is a function of the parameters): lattice priors for
exact checks by enumeration, Gaussian priors with ``estimate_mc`` and ``estimate_rare``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import numpy.typing as npt
from jaxtyping import Array

from countnets import boolean
from countnets._errors import CountnetsError, check_finite_float, check_positive_int
from countnets.architectures import Architecture
from countnets.measures import Measure, _agreement_score

__all__ = ["basin", "DIVERGENCES", "DEFAULT_STAR_POINTS", "kl_divergence"]

DIVERGENCES = ("kl",)
DEFAULT_STAR_POINTS = 16


def kl_divergence(y_anchor: Array, y: Array) -> Array:
    """``mean_x KL(Bern(sigmoid(y_anchor)) || Bern(sigmoid(y)))`` over the last axis, stable for large logits.

    With ``p = sigmoid(a)``: ``KL = p (log p - log q) + (1 - p) (log(1 - p) - log(1 - q))``,
    each log a ``log_sigmoid`` of a logit, so no ``log(0)`` arises.
    """
    p = jax.nn.sigmoid(y_anchor)
    log_p, log_1p = jax.nn.log_sigmoid(y_anchor), jax.nn.log_sigmoid(-y_anchor)
    log_q, log_1q = jax.nn.log_sigmoid(y), jax.nn.log_sigmoid(-y)
    return jnp.mean(p * (log_p - log_q) + (1 - p) * (log_1p - log_1q), axis=-1)


def basin(
    anchor: npt.ArrayLike,
    *,
    tolerance: float,
    divergence: str = "kl",
    star: bool = False,
    star_points: int = DEFAULT_STAR_POINTS,
) -> Measure:
    """The basin around ``anchor``: its truth table, and divergence at most ``tolerance`` (module docstring).

    Args:
      anchor: flat parameters ``(n_params,)`` of the trained network, in the architecture's layout.
      tolerance: the largest divergence, > 0 (nats, a mean over cube points).
      divergence: ``"kl"``.
      star: restrict to the star domain around the anchor, checked at ``star_points`` points.
      star_points: grid points on the segment (``t = 1/K .. 1``).

    Raises:
      CountnetsError: for a tolerance that is not positive, an unknown divergence, or
        (at ``check(arch)``) an anchor whose shape does not match the architecture.
    """
    tol = check_finite_float("tolerance", tolerance)
    if tol <= 0:
        raise CountnetsError(f"tolerance must be positive, got {tolerance}")
    if divergence not in DIVERGENCES:
        raise CountnetsError(f"divergence must be one of {', '.join(DIVERGENCES)}, got {divergence!r}")
    points = check_positive_int("star_points", star_points)
    flat = np.asarray(anchor, np.float32)
    if not np.all(np.isfinite(flat)):
        raise CountnetsError("the anchor's parameters must be finite")

    def check(arch: Architecture) -> None:
        if flat.shape != (arch.n_params,):
            raise CountnetsError(f"the anchor must be flat parameters of shape ({arch.n_params},) for {arch!r}, "
                                 f"got {flat.shape}")  # fmt: skip

    def pieces(arch, params, x, precision):
        """(score per grid point, anchor labels); the last grid point is theta itself."""
        check(arch)
        ref = arch.unflatten(jnp.asarray(flat))
        y_anchor = arch.apply(ref, x, precision=precision)
        labels = y_anchor > 0
        ts = jnp.arange(1, points + 1, dtype=jnp.float32) / points if star else jnp.ones(1, jnp.float32)

        def at(t):
            mixed = jax.tree.map(lambda a, b: a + t * (b - a), ref, params)
            y = arch.apply(mixed, x, precision=precision)
            d = kl_divergence(y_anchor, y)
            agree = _agreement_score(y, labels)
            m = jnp.asarray(y.shape[0], y.dtype)
            inside = m + 1 + (tol - d) / (tol + d)
            return jnp.where(jnp.all((y > 0) == labels), jnp.where(jnp.isfinite(d), inside, m), agree)

        return jax.vmap(at)(ts)

    def score(arch, params, x, precision):
        return jnp.min(pieces(arch, params, x, precision))

    def event(arch, params, x, precision):
        return score(arch, params, x, precision) >= 2**arch.n + 1

    def outputs(arch, params, x, precision):
        return arch.apply(params, x, precision=precision)[None, :]

    name = f"basin(tolerance={tol:g}, divergence={divergence}" + (f", star={points})" if star else ")")
    spec = {"basin": {"anchor": [float(v) for v in flat], "tolerance": tol, "divergence": divergence,
                      "star": bool(star), "star_points": points}}  # fmt: skip
    return Measure(
        name=name, spec=spec, event=event, key=None, key_fields=lambda arch: (), score=score,
        level=lambda arch: float(2**arch.n + 1), outputs=outputs, check=check,
    )  # fmt: skip


def anchor_table(arch: Architecture, anchor: npt.ArrayLike, encoding: str) -> int:
    """The anchor's truth table (int), for reports and checks."""
    x = jnp.asarray(boolean.cube(arch.n, encoding))
    return boolean.table_to_int(np.asarray(arch.apply(arch.unflatten(jnp.asarray(anchor, jnp.float32)), x) > 0))
