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

**Score** (so that splitting climbs it; the event is ``score >= 0``): while some point
disagrees, the agreement score of ``implements`` less ``m + 1`` (m cube points; at most
-3/2); once every point agrees, ``(tol - D) / (tol + D)``, in ``(-1, 1]``, decreasing in
``D`` and at least 0 exactly when ``D <= tol`` (the sign of ``tol - D`` is exact in floating
point). With ``star=True`` it is the least of these over the grid of the segment, whose
last point is ``theta`` itself, bit for bit.

Every prior works (the measure is a function of the parameters): lattice priors for
exact checks by enumeration, Gaussian priors with ``estimate_mc`` and ``estimate_rare``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import numpy.typing as npt
from jaxtyping import Array
from scipy import special

from countnets._errors import CountnetsError, check_finite_float, check_positive_int
from countnets.measures import Measure, _agreement_score
from countnets.network import boolean
from countnets.network.architectures import Architecture
from countnets.network.priors import Gaussian, Prior

__all__ = ["basin", "radial_estimate", "anchor_table", "DIVERGENCES", "DEFAULT_STAR_POINTS", "kl_divergence"]

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
            mixed = jax.tree.map(lambda a, b: jnp.where(t == 1, b, a + t * (b - a)), ref, params)
            y = arch.apply(mixed, x, precision=precision)
            d = kl_divergence(y_anchor, y)
            below = _agreement_score(y, labels) - (y.shape[0] + 1)
            inside = (tol - d) / (tol + d)
            return jnp.where(jnp.all((y > 0) == labels), jnp.where(jnp.isfinite(d), inside, -1.0), below)

        return jax.vmap(at)(ts)

    def score(arch, params, x, precision):
        return jnp.min(pieces(arch, params, x, precision))

    def event(arch, params, x, precision):
        return score(arch, params, x, precision) >= 0

    def outputs(arch, params, x, precision):
        return arch.apply(params, x, precision=precision)[None, :]

    name = f"basin(tolerance={tol:g}, divergence={divergence}" + (f", star={points})" if star else ")")
    spec = {"basin": {"anchor": [float(v) for v in flat], "tolerance": tol, "divergence": divergence,
                      "star": bool(star), "star_points": points}}  # fmt: skip
    return Measure(
        name=name, spec=spec, event=event, key=None, key_fields=lambda arch: (), score=score,
        level=lambda arch: 0.0, outputs=outputs, check=check,
    )  # fmt: skip


def anchor_table(arch: Architecture, anchor: npt.ArrayLike, encoding: str) -> int:
    """The anchor's truth table (int), for reports and checks."""
    x = jnp.asarray(boolean.cube(arch.n, encoding))
    return boolean.table_to_int(np.asarray(arch.apply(arch.unflatten(jnp.asarray(anchor, jnp.float32)), x) > 0))


def radial_estimate(
    prior: Prior,
    arch: Architecture,
    measure: Measure,
    anchor: npt.ArrayLike,
    *,
    directions: int = 256,
    seed: int = 0,
    encoding: str = "pm1",
    precision: str = "highest",
    r_max: float | None = None,
    grid: int = 256,
    bisections: int = 30,
    quadrature: int = 2048,
) -> dict:
    """The star-domain radial estimate of the prior mass of ``measure``'s event around ``anchor``.

    Written from the description of Scherlis & Belrose (2025), not from their code: for a
    star-shaped set ``S`` around ``a``, ``P(S) = E_v[ A_{D-1} int_0^{r*(v)} p(a + r v) r^(D-1) dr ]``
    over uniform unit directions ``v``, with ``A_{D-1} = 2 pi^(D/2) / Gamma(D/2)`` the unit
    sphere's area and ``r*(v)`` the radius where the event first fails along the ray. The
    prior ``p`` is the Gaussian with the prior's per-parameter scales, evaluated along the
    offset ray (the anchor is not its centre), with the ``r^(D-1)`` factor. ``r*`` is found
    on a grid of ``grid`` radii up to ``r_max`` (default: the anchor's prior-scaled norm
    plus 12 prior standard deviations, far beyond the prior's mass) and refined by
    ``bisections`` halvings; the ray integral is a midpoint rule on ``quadrature`` points in
    ``r``, summed in log space (its relative error is about ``D^2 / (24 quadrature^2)``
    where ``r^(D-1)`` dominates: negligible for the networks here). The estimate is the
    directions' mean; their spread is reported, not an interval: the per-direction values
    are heavy-tailed, and the estimate is of the star domain only (a basin that is not
    star-shaped around ``a`` is underestimated).

    Returns:
      A dict with ``estimate``, ``log10_estimate``, ``relative_spread`` (sd of the per-direction
      values over their mean, divided by sqrt(directions)), ``directions``, ``radii``
      (median, min, max of ``r*``) and ``hit_r_max`` (directions whose ray never left the set).

    Raises:
      CountnetsError: for a prior that is not Gaussian, a measure without an event, or an
        anchor outside the event.
    """
    if type(prior) is not Gaussian:
        raise CountnetsError(f"the radial estimate integrates a Gaussian prior along rays, got {type(prior).__name__}")
    if measure.event is None:
        raise CountnetsError(f"the radial estimate needs a measure with an event, got {measure.name}")
    measure.check(arch)
    a = jnp.asarray(np.asarray(anchor, np.float32))
    if a.shape != (arch.n_params,):
        raise CountnetsError(f"the anchor must have shape ({arch.n_params},), got {tuple(a.shape)}")
    n_dirs = check_positive_int("directions", directions)
    x = jnp.asarray(boolean.cube(arch.n, encoding))
    scales = jnp.asarray(prior.scales(arch.layout()), jnp.float32)
    if not bool(jnp.all(scales > 0)):
        raise CountnetsError("the radial estimate needs every prior scale positive (sigma_w, sigma_b > 0): a "
                             "parameter fixed at 0 has no density along a ray")  # fmt: skip
    dim = arch.n_params

    def inside(theta):
        return measure.event(arch, arch.unflatten(theta), x, precision)

    if not bool(inside(a)):
        raise CountnetsError("the anchor must lie inside the event (its own basin)")
    reach = float(r_max) if r_max is not None else float(jnp.linalg.norm(a) + 12 * jnp.max(scales) * np.sqrt(dim))
    key = jax.random.key_data(jax.random.key(seed))
    v = jax.random.normal(jax.random.wrap_key_data(key), (n_dirs, dim), jnp.float32)
    v = v / jnp.linalg.norm(v, axis=1, keepdims=True)
    radii = jnp.linspace(0.0, reach, grid + 1)[1:]

    def first_exit(direction):
        ok = jax.vmap(lambda r: inside(a + r * direction))(radii)
        bad = ~ok
        first = jnp.argmax(bad)  # the first grid radius outside (0 if all inside: then r* = reach)
        lo = jnp.where(first > 0, radii[jnp.maximum(first - 1, 0)], 0.0)
        hi = radii[first]

        def halve(_, bounds):
            lo, hi = bounds
            mid = (lo + hi) / 2
            good = inside(a + mid * direction)
            return jnp.where(good, mid, lo), jnp.where(good, hi, mid)

        lo, hi = jax.lax.fori_loop(0, bisections, halve, (lo, hi))
        return jnp.where(jnp.any(bad), (lo + hi) / 2, reach), ~jnp.any(bad)

    r_star, hit = jax.jit(jax.vmap(first_exit))(v)
    r_star, hit = np.asarray(r_star, np.float64), np.asarray(hit)
    s, a64, v64 = np.asarray(scales, np.float64), np.asarray(a, np.float64), np.asarray(v, np.float64)
    log_norm = -0.5 * dim * np.log(2 * np.pi) - np.sum(np.log(s))
    log_area = np.log(2.0) + 0.5 * dim * np.log(np.pi) - special.gammaln(0.5 * dim)
    t = (np.arange(quadrature) + 0.5) / quadrature  # midpoints: r = t r*
    log_values = np.empty(n_dirs)
    for i in range(n_dirs):
        r = t * r_star[i]
        z = (a64[None, :] + r[:, None] * v64[i][None, :]) / s[None, :]
        log_f = -0.5 * np.sum(z * z, axis=1) + (dim - 1) * np.log(r)
        log_values[i] = special.logsumexp(log_f) + np.log(r_star[i] / quadrature)
    log_values += log_norm + log_area
    log_mean = special.logsumexp(log_values) - np.log(n_dirs)
    w = np.exp(log_values - log_values.max())
    spread = float(np.std(w, ddof=1) / np.mean(w) / np.sqrt(n_dirs)) if n_dirs > 1 else float("inf")
    return {"estimate": float(np.exp(log_mean)), "log10_estimate": float(log_mean / np.log(10)),
            "relative_spread": spread, "directions": n_dirs,
            "radii": [float(np.median(r_star)), float(r_star.min()), float(r_star.max())],
            "hit_r_max": int(hit.sum())}  # fmt: skip
