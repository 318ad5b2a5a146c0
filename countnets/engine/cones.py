"""The Gaussian mass of a polyhedral cone: exact in 1 and 2 dimensions, unbiased above (issue 26).

With the hidden layers of a network fixed, its output at cube point ``x`` is linear in
the readout ``r`` (weights and bias): ``y_x = r . h_x``, with ``h_x`` the features at
``x`` and a 1 for the bias. The network implements ``f`` iff ``s_x y_x > 0`` at every
point, ``s_x = +1`` where ``f(x) = 1`` and ``-1`` where it is 0: an open polyhedral cone
in readout space. Under a Gaussian prior ``r = scales * u`` with ``u ~ N(0, I_k)``, so

    C(H, f) = P_u( A u > 0 ),   row x of A = s_x (h_x * scales),

the standard Gaussian mass of the cone ``{u : A u > 0}`` (:func:`cone_matrix`). This
module computes it:

* **1 and 2 dimensions, exactly** (:func:`cone_mass_exact`): in one dimension the cone is
  a half-line (mass 1/2) or empty; in two it is a sector of the circle, the directions
  within pi/2 of every row's direction, of angle ``max(0, pi - w)`` with ``w`` the
  shortest arc holding every row's direction, so its mass is that angle over ``2 pi``.
* **Empty cones** (:func:`cone_is_empty`): a linear program finds ``u`` with
  ``A u >= t`` (unit rows) for the largest ``t`` in a box, and the cone's mass is an exact
  0 (host NumPy/SciPy, before any sampling) unless the program's own point clears a margin
  of 1e-6: the solver's tolerance alone cannot tell an empty cone from a thin one, and a
  cone thinner than that everywhere is below what float32 features resolve.
* **Any dimension, unbiased** (:func:`cone_mass_hdr`): the Holmes-Diaconis-Ross
  estimator as Gessner, Kanjilal & Hennig (AISTATS 2020) use it. The nested domains
  are the shifted cones ``{u : min_x a_x . u >= level}`` (``a_x`` the unit rows) for
  levels rising to 0. A pilot population sets the levels adaptively (subset simulation:
  each level leaves a fraction ``level_fraction`` of the population above it); then a
  fresh population runs those *fixed* levels, resampling the particles above each and
  moving them by the exact linear elliptical slice move (:func:`lin_ess_sweep`, the
  points of the ellipse through ``u`` in the domain are arcs with known ends, and the
  angle is drawn uniformly on them). The product of the fractions above each fixed
  level is an unbiased estimate of the mass (fixed-level splitting with moves that leave
  the restricted Gaussian invariant, Del Moral 2004); its replicas (independent pilots
  and runs) give the interval.

Everything but :func:`cone_is_empty` is JAX, vmapped over a batch of matrices.

>>> import numpy as np
>>> float(cone_mass_exact(np.array([[1.0, 0.0], [0.0, 1.0]])))   # the positive quadrant
0.25
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import numpy.typing as npt
from jax.typing import ArrayLike
from jaxtyping import Array, Float, UInt32
from scipy import optimize

from countnets._errors import CountnetsError

__all__ = [
    "cone_matrix",
    "lp_margin",
    "cone_is_empty",
    "cone_mass_exact",
    "lin_ess_sweep",
    "cone_mass_hdr",
    "cone_mass",
    "cone_mass_batch",
    "matrix_keys",
    "DEFAULT_CONE_PARTICLES",
    "DEFAULT_CONE_SWEEPS",
    "DEFAULT_CONE_LEVEL_FRACTION",
    "CONE_MARGIN_FLOOR",
]

DEFAULT_CONE_PARTICLES = 256
DEFAULT_CONE_SWEEPS = 4
DEFAULT_CONE_LEVEL_FRACTION = 0.1
CONE_MARGIN_FLOOR = 1e-6  # a cone is non-empty when the LP's own point clears this margin (cone_is_empty)
TWO_PI = np.float32(2 * np.pi)


def cone_matrix(features: npt.ArrayLike, labels: npt.ArrayLike, scales: npt.ArrayLike) -> Float[Array, "*batch m k"]:
    """The cone's rows ``s_x (h_x * scales)``: the readout ``scales * u`` implements the labels iff ``A u > 0``.

    Args:
      features: ``(..., m, k)``, row x the features at point x with a trailing 1 for the bias.
      labels: bool ``(m,)``, the wanted output at each point.
      scales: ``(k,)``, the prior's standard deviation of each readout parameter.

    Raises:
      CountnetsError: for features that are not finite, or shapes that do not match.
    """
    h = jnp.asarray(features, jnp.float32)
    lab, sc = np.asarray(labels, bool), jnp.asarray(scales, jnp.float32)
    if h.ndim < 2 or h.shape[-2] != lab.shape[0] or h.shape[-1] != sc.shape[0]:
        raise CountnetsError(f"features must be (..., {lab.shape[0]}, {sc.shape[0]}) for {lab.shape[0]} labels and "
                             f"{sc.shape[0]} scales, got {tuple(h.shape)}")  # fmt: skip
    if not bool(jnp.all(jnp.isfinite(h))):
        raise CountnetsError("features must be finite (got NaN or inf): the cone of a non-finite output is undefined")
    sign = jnp.where(jnp.asarray(lab), 1.0, -1.0).astype(jnp.float32)
    lead = (1,) * (h.ndim - 2)
    return h * sc.reshape(lead + (1, -1)) * sign.reshape(lead + (-1, 1))


def lp_margin(rows: npt.ArrayLike) -> tuple[float, np.ndarray]:
    """The cone's margin by a linear program (host NumPy/SciPy): ``max min_x a_x . u`` over the box, and its ``u``.

    ``a_x`` are the unit rows (a zero row stays zero), ``-1 <= u <= 1`` and the margin is
    capped at 1. The open cone is non-empty iff the true margin is positive, but the solver
    meets its constraints only to its feasibility tolerance (about 1e-7): use
    :func:`cone_is_empty` for the verdict.

    Returns:
      ``(margin, u)``, ``u`` float64 ``(k,)``.

    Raises:
      CountnetsError: when the solver fails.
    """
    a = np.asarray(rows, np.float64)
    m, k = a.shape
    norms = np.linalg.norm(a, axis=1)
    a = a / np.where(norms > 0, norms, 1.0)[:, None]
    cost = np.zeros(k + 1)
    cost[-1] = -1.0  # maximise t
    res = optimize.linprog(cost, A_ub=np.hstack([-a, np.ones((m, 1))]), b_ub=np.zeros(m),
                           bounds=[(-1.0, 1.0)] * k + [(None, 1.0)], method="highs")  # fmt: skip
    if res.status != 0:
        raise CountnetsError(f"the cone's linear program failed: {res.message}")
    return float(-res.fun), res.x[:k]


def cone_is_empty(rows: npt.ArrayLike, margin_floor: float = CONE_MARGIN_FLOOR) -> bool:
    """Whether the open cone ``{u : A u > 0}`` is empty, by a linear program and a check of its point (host).

    :func:`lp_margin` maximises ``t`` subject to ``a_x . u >= t`` (``a_x`` the unit rows) in
    a box. The solver meets its constraints only to its feasibility tolerance (about 1e-7),
    so its ``t`` alone cannot tell an empty cone from a thin one: on parity of 4 through a
    ResMLP's stream about a quarter of the empty cones came back with ``t`` between 1e-10 and
    5e-8. The cone counts as non-empty only when the solver's point ``u`` itself, recomputed
    in float64, has ``min_x a_x . u > margin_floor``: a point inside with a margin the
    solver's tolerance cannot fake. A cone with no such point is thinner than that
    everywhere (thinner than float32 features resolve) and counts as empty.

    >>> cone_is_empty(np.array([[1.0, 0.0], [-1.0, 0.0]])), cone_is_empty(np.eye(3))
    (True, False)
    """
    a = np.asarray(rows, np.float64)
    norms = np.linalg.norm(a, axis=1)
    if np.any(norms == 0):
        return True  # 0 > 0 fails at every u
    _, u = lp_margin(a)
    return not bool(np.min((a / norms[:, None]) @ u) > margin_floor)


def cone_mass_exact(rows: npt.ArrayLike) -> Float[Array, "*batch"]:
    """The exact standard Gaussian mass of ``{u : A u > 0}`` for ``k = 1`` or ``2``.

    Raises:
      CountnetsError: for ``k > 2`` (use :func:`cone_mass_hdr`).
    """
    a = jnp.asarray(rows, jnp.float32)
    k = a.shape[-1]
    if a.shape[-2] == 0:  # no constraint: the whole space
        return jnp.ones(a.shape[:-2], jnp.float32)
    if k == 1:
        col = a[..., 0]
        return jnp.where(jnp.all(col > 0, axis=-1) | jnp.all(col < 0, axis=-1), 0.5, 0.0).astype(jnp.float32)
    if k != 2:
        raise CountnetsError(f"the cone's mass is exact for 1 or 2 readout parameters, got {k}; use cone_mass_hdr")
    nonzero = jnp.all(jnp.any(a != 0, axis=-1), axis=-1)
    angle = jnp.mod(jnp.arctan2(a[..., 1], a[..., 0]), TWO_PI)
    order = jnp.argsort(angle, axis=-1)
    theta = jnp.take_along_axis(angle, order, -1)
    gaps = jnp.diff(jnp.concatenate([theta, theta[..., :1] + TWO_PI], axis=-1), axis=-1)
    # The sector is the largest gap between consecutive row directions less pi (none if that gap is at most pi).
    # Its angle is recomputed from the gap's two rows, as the angle from -a to b, so that a thin sector keeps
    # its relative precision (the difference of two float32 angles near pi would not).
    i = jnp.argmax(gaps, axis=-1)
    first = jnp.take_along_axis(order, i[..., None], -1)[..., 0]
    second = jnp.take_along_axis(order, ((i + 1) % a.shape[-2])[..., None], -1)[..., 0]
    pa = jnp.take_along_axis(a, first[..., None, None], -2)[..., 0, :]
    pb = jnp.take_along_axis(a, second[..., None, None], -2)[..., 0, :]
    cross = pa[..., 0] * pb[..., 1] - pa[..., 1] * pb[..., 0]
    dot = jnp.sum(pa * pb, axis=-1)
    width = jnp.arctan2(-cross, -dot)  # the gap less pi, in (-pi, pi]; -pi is pi (one row: the gap is 2 pi)
    width = jnp.where(width < -np.float32(np.pi / 2), width + TWO_PI, jnp.maximum(width, 0.0))
    open_ = (jnp.max(gaps, axis=-1) > np.float32(np.pi)) & (a.shape[-2] > 0)
    return jnp.where(nonzero & open_, width / TWO_PI, 0.0)


def _unit_rows(rows: Array) -> Array:
    norms = jnp.linalg.norm(rows, axis=-1, keepdims=True)
    return rows / jnp.where(norms > 0, norms, 1.0)


def _score(unit: Float[Array, "m k"], u: Float[Array, "n k"]) -> Float[Array, " n"]:
    """``min_x a_x . u`` (unit rows): the cone is ``score > 0``; a zero row scores 0, never inside."""
    return jnp.min(u @ unit.T, axis=-1)


def lin_ess_sweep(
    key: UInt32[Array, " 2"], unit: Float[Array, "m k"], u: Float[Array, "n k"], level: ArrayLike
) -> Float[Array, "n k"]:
    """One exact elliptical slice move of each particle inside ``{v : min_x a_x . v >= level}`` (unit rows ``a_x``).

    On the ellipse ``u cos(phi) + nu sin(phi)`` (``nu ~ N(0, I)``) constraint x holds where
    ``r_x cos(phi - delta_x) >= level``: an arc of half-width ``arccos(level / r_x)`` about
    ``delta_x`` (the whole circle when ``level <= -r_x``). The angle is drawn uniformly on
    the angles where every constraint holds (from the sorted arc ends, as ``countnets.rare.moves``'
    ``lin-ess``), and the point is kept iff it is inside (rounding at an arc end). The move
    leaves the standard Gaussian restricted to the domain invariant (Gessner et al. 2020).
    ``u``: ``(n, k)`` particles inside; returns the moved ``(n, k)``.
    """
    n, k = u.shape
    m = unit.shape[0]
    k_nu, k_phi = jax.random.split(key)
    nu = jax.random.normal(k_nu, (n, k), jnp.float32)
    p, q = u @ unit.T, nu @ unit.T  # (n, m): a_x . u(phi) = p cos(phi) + q sin(phi)
    r = jnp.sqrt(p * p + q * q)
    delta = jnp.arctan2(q, p)
    ratio = level / jnp.where(r > 0, r, 1.0)
    always = (r == 0) | (ratio <= -1.0)  # the constraint holds on the whole circle (r = 0: 0 >= level < 0)
    half = jnp.arccos(jnp.clip(ratio, -1.0, 1.0))
    starts = jnp.where(always, 0.0, jnp.mod(delta - half, TWO_PI))
    ends = jnp.where(always, 0.0, jnp.mod(delta + half, TWO_PI))
    events = jnp.concatenate([starts, ends], axis=1)
    change = jnp.concatenate([jnp.where(always, 0, 1), jnp.where(always, 0, -1)], axis=1).astype(jnp.int32)
    events, change = jax.lax.sort((events, change), dimension=1, num_keys=1)
    start = jnp.sum(always | (p >= level), axis=1, dtype=jnp.int32)  # constraints holding at phi = 0
    counts = start[:, None] + jnp.concatenate([jnp.zeros((n, 1), jnp.int32), jnp.cumsum(change, axis=1)], axis=1)
    edges = jnp.concatenate([jnp.zeros((n, 1)), events, jnp.full((n, 1), TWO_PI)], axis=1)
    lengths = jnp.where(counts >= m, jnp.diff(edges, axis=1), 0.0)
    cum = jnp.cumsum(lengths, axis=1)
    pick = jax.random.uniform(k_phi, (n,), jnp.float32) * cum[:, -1]
    segment = jnp.minimum(jnp.sum(cum <= pick[:, None], axis=1), 2 * m)
    before = jnp.take_along_axis(cum - lengths, segment[:, None], 1)[:, 0]
    phi = jnp.take_along_axis(edges, segment[:, None], 1)[:, 0] + (pick - before)
    proposal = u * jnp.cos(phi)[:, None] + nu * jnp.sin(phi)[:, None]
    inside = _score(unit, proposal) >= level
    return jnp.where(inside[:, None], proposal, u)


def _resample(key: UInt32[Array, " 2"], u: Array, alive: Array) -> Array:
    """Draw every particle uniformly from the ``alive`` ones (unchanged when none is)."""
    n = u.shape[0]
    logits = jnp.where(alive, 0.0, -jnp.inf)
    idx = jax.random.categorical(key, jnp.where(jnp.any(alive), logits, 0.0), shape=(n,))
    return u[idx]


def _move(key: UInt32[Array, " 2"], unit: Array, u: Array, level: Array, sweeps: int) -> Array:
    def body(s, x):
        return lin_ess_sweep(jax.random.fold_in(key, s), unit, x, level)

    return jax.lax.fori_loop(0, sweeps, body, u)


def _pilot_levels(key: UInt32[Array, " 2"], unit: Array, particles: int, sweeps: int, fraction: float,
                  max_levels: int) -> tuple[Array, Array]:  # fmt: skip
    """Adaptive levels rising to 0, each the score leaving ``fraction`` of the pilot population at or above it.

    Returns ``(levels (max_levels,), count)``: the first ``count`` levels, the last of them 0
    (the event; forced at ``max_levels``), padded with 0.
    """
    k = unit.shape[1]
    keep = max(1, int(math.ceil(fraction * particles)))
    u0 = jax.random.normal(jax.random.fold_in(key, 0), (particles, k), jnp.float32)

    def more(carry):
        _, level, _, i = carry
        return (level < 0) & (i < max_levels)

    def step(carry):
        u, level, levels, i = carry
        scores = _score(unit, u)
        nxt = jnp.maximum(jnp.minimum(jnp.sort(scores)[particles - keep], 0.0), level)
        nxt = jnp.where(i == max_levels - 1, 0.0, nxt)
        kk = jax.random.fold_in(key, i + 1)
        u = _move(jax.random.fold_in(kk, 1), unit, _resample(jax.random.fold_in(kk, 0), u, scores >= nxt), nxt,
                  sweeps)  # fmt: skip
        return u, nxt, levels.at[i].set(nxt), i + 1

    init = (u0, jnp.float32(-jnp.inf), jnp.zeros(max_levels, jnp.float32), jnp.int32(0))
    _, _, levels, count = jax.lax.while_loop(more, step, init)
    return levels, count


def _fixed_level_run(key: UInt32[Array, " 2"], unit: Array, levels: Array, count: Array, particles: int,
                     sweeps: int) -> Array:  # fmt: skip
    """log of the product over the fixed levels of the fraction of particles at or above each (``-inf`` if none)."""
    k = unit.shape[1]
    u0 = jax.random.normal(jax.random.fold_in(key, 0), (particles, k), jnp.float32)

    def more(carry):
        _, log_p, i = carry
        return (i < count) & (log_p > -jnp.inf)

    def step(carry):
        u, log_p, i = carry
        alive = _score(unit, u) >= levels[i]
        kk = jax.random.fold_in(key, i + 1)
        u = _move(jax.random.fold_in(kk, 1), unit, _resample(jax.random.fold_in(kk, 0), u, alive), levels[i], sweeps)
        return u, log_p + jnp.log(jnp.mean(alive.astype(jnp.float32))), i + 1

    _, log_p, _ = jax.lax.while_loop(more, step, (u0, jnp.float32(0.0), jnp.int32(0)))
    return log_p


def cone_mass_hdr(
    key: ArrayLike,
    rows: npt.ArrayLike,
    *,
    replicas: int = 16,
    particles: int = DEFAULT_CONE_PARTICLES,
    sweeps: int = DEFAULT_CONE_SWEEPS,
    level_fraction: float = DEFAULT_CONE_LEVEL_FRACTION,
    max_levels: int = 64,
) -> Float[Array, "*batch replicas"]:
    """Unbiased estimates of the standard Gaussian mass of ``{u : A u > 0}``, ``replicas`` per matrix.

    Each replica runs its own pilot (the levels) and then fixed-level splitting with
    ``particles`` particles, ``sweeps`` exact elliptical slice sweeps per level
    (:func:`lin_ess_sweep`); its estimate is the product of the fractions above each level,
    unbiased for the mass whatever the levels. ``max_levels`` caps the pilot: a cone deeper
    than ``level_fraction ** (max_levels - 1)`` is reached by a last, larger step (still
    unbiased, with more spread). Matrices are vmapped; the replicas of one matrix are
    independent, so their mean and spread give an interval
    (:func:`countnets.stats.statistics.replica_interval`).

    Args:
      key: a raw JAX PRNG key, uint32 ``(2,)`` (matrix b then draws from ``fold_in(key, b)``),
        or one key per matrix, ``(..., 2)`` (so that a matrix's replicas do not depend on
        the batch it came in).
      rows: ``(..., m, k)`` cone matrices (:func:`cone_matrix`).

    Returns:
      ``(..., replicas)`` float32 estimates, each in [0, 1]. A zero row gives 0.

    Raises:
      CountnetsError: for options out of range or matrices that are not finite.
    """
    a = jnp.asarray(rows, jnp.float32)
    if a.ndim < 2:
        raise CountnetsError(f"rows must be (..., m, k), got shape {tuple(a.shape)}")
    if not bool(jnp.all(jnp.isfinite(a))):
        raise CountnetsError("the cone's rows must be finite (got NaN or inf)")
    for name, value in (("replicas", replicas), ("particles", particles), ("sweeps", sweeps),
                        ("max_levels", max_levels)):  # fmt: skip
        if not isinstance(value, int) or value < 1:
            raise CountnetsError(f"{name} must be a positive int, got {value!r}")
    if particles < 2:
        raise CountnetsError(f"particles must be at least 2, got {particles}")
    if not 0 < level_fraction < 1:
        raise CountnetsError(f"level_fraction must be in (0, 1), got {level_fraction}")
    batch = a.shape[:-2]
    flat = a.reshape((-1,) + a.shape[-2:])
    keys = jnp.asarray(key, jnp.uint32)
    if keys.shape == (2,):
        keys = matrix_keys(keys, np.arange(flat.shape[0]))
    elif keys.shape != batch + (2,):
        raise CountnetsError(f"key must be one key (2,) or one per matrix {batch + (2,)}, got {tuple(keys.shape)}")
    out = _hdr_batch(keys.reshape(-1, 2), flat, replicas, particles, sweeps, float(level_fraction), max_levels)
    return out.reshape(batch + (replicas,))


@functools.partial(jax.jit, static_argnums=(2, 3, 4, 5, 6))
def _hdr_batch(keys, flat, replicas, particles, sweeps, fraction, max_levels):
    def one_matrix(key, rows):
        unit = _unit_rows(rows)
        zero_row = jnp.any(jnp.all(rows == 0, axis=-1))

        def one_replica(r):
            kr = jax.random.fold_in(key, r)
            levels, count = _pilot_levels(jax.random.fold_in(kr, 0), unit, 2 * particles, sweeps, fraction,
                                          max_levels)  # fmt: skip
            return jnp.exp(_fixed_level_run(jax.random.fold_in(kr, 1), unit, levels, count, particles, sweeps))

        z = jax.vmap(one_replica)(jnp.arange(replicas))
        return jnp.where(zero_row, 0.0, z)

    return jax.vmap(one_matrix)(keys, flat)


def matrix_keys(key: ArrayLike, indices: npt.ArrayLike) -> Array:
    """``fold_in(key, i)`` for each index: the key of matrix (or draw) ``i``, uint32 ``(len(indices), 2)``."""
    root = jnp.asarray(key, jnp.uint32)
    return jax.vmap(lambda i: jax.random.fold_in(root, i))(jnp.asarray(np.asarray(indices, np.uint32)))


def cone_mass_batch(
    keys: ArrayLike,
    rows: npt.ArrayLike,
    *,
    replicas: int = 16,
    particles: int = DEFAULT_CONE_PARTICLES,
    sweeps: int = DEFAULT_CONE_SWEEPS,
    level_fraction: float = DEFAULT_CONE_LEVEL_FRACTION,
    max_levels: int = 64,
) -> tuple[np.ndarray, np.ndarray]:
    """The masses of a flat batch of cones and which are non-empty; matrix b draws from ``keys[b]``.

    Exact (every replica the same value) in 1 and 2 dimensions (:func:`cone_mass_exact`),
    an exact 0 for a cone the linear program shows empty (:func:`cone_is_empty`), and
    :func:`cone_mass_hdr` replicas for the others (only those matrices are sampled, padded
    to a power of 2 with a trivial cone so that batches with different numbers of them
    share a few compiled shapes; a matrix's replicas depend only on its key and rows).

    Args:
      keys: uint32 ``(B, 2)``, one key per matrix (:func:`matrix_keys`).
      rows: ``(B, m, k)`` cone matrices (:func:`cone_matrix`).
      replicas, particles, sweeps, level_fraction, max_levels: as :func:`cone_mass_hdr`.

    Returns:
      ``(masses float64 (B, replicas), nonempty bool (B,))``; in 1 and 2 dimensions a cone
      is non-empty when its exact mass is positive.

    Raises:
      CountnetsError: as :func:`cone_mass_hdr`.
    """
    flat = np.asarray(rows, np.float32)
    if flat.ndim != 3:
        raise CountnetsError(f"rows must be a flat batch (B, m, k), got shape {flat.shape}")
    if not np.all(np.isfinite(flat)):
        raise CountnetsError("the cone's rows must be finite (got NaN or inf)")
    out = np.zeros((flat.shape[0], replicas), np.float64)
    if flat.shape[-1] <= 2:
        out[:] = np.asarray(cone_mass_exact(flat), np.float64)[:, None]
        return out, out[:, 0] > 0
    nonempty = np.array([not cone_is_empty(m) for m in flat], bool)
    todo = np.flatnonzero(nonempty)
    if len(todo):
        size = 1 << max(0, (len(todo) - 1).bit_length())
        pad = np.zeros((size - len(todo),) + flat.shape[1:], np.float32)
        pad[:, :, 0] = 1.0  # one row e_0: mass 1/2, reached at the first level
        batch_keys = jnp.asarray(keys, jnp.uint32)[np.concatenate([todo, np.zeros(size - len(todo), np.int64)])]
        z = cone_mass_hdr(batch_keys, np.concatenate([flat[todo], pad]), replicas=replicas, particles=particles,
                          sweeps=sweeps, level_fraction=level_fraction, max_levels=max_levels)  # fmt: skip
        out[todo] = np.asarray(z, np.float64)[: len(todo)]
    return out, nonempty


def cone_mass(
    key: UInt32[Array, " 2"],
    rows: npt.ArrayLike,
    *,
    replicas: int = 16,
    particles: int = DEFAULT_CONE_PARTICLES,
    sweeps: int = DEFAULT_CONE_SWEEPS,
    level_fraction: float = DEFAULT_CONE_LEVEL_FRACTION,
    max_levels: int = 64,
) -> np.ndarray:
    """The standard Gaussian mass of each cone ``{u : A u > 0}``: exact where it can be, else unbiased replicas.

    :func:`cone_mass_batch` over the matrices in flat order, matrix b drawing from
    ``fold_in(key, b)``.

    Args:
      key: a raw JAX PRNG key, uint32 ``(2,)``.
      rows: ``(..., m, k)`` cone matrices (:func:`cone_matrix`).
      replicas, particles, sweeps, level_fraction, max_levels: as :func:`cone_mass_hdr`.

    Returns:
      float64 ``(..., replicas)``.

    Raises:
      CountnetsError: as :func:`cone_mass_hdr`.
    """
    a = np.asarray(rows, np.float32)
    if a.ndim < 2:
        raise CountnetsError(f"rows must be (..., m, k), got shape {a.shape}")
    flat = a.reshape((-1,) + a.shape[-2:])
    out, _ = cone_mass_batch(matrix_keys(key, np.arange(len(flat))), flat, replicas=replicas, particles=particles,
                             sweeps=sweeps, level_fraction=level_fraction, max_levels=max_levels)  # fmt: skip
    return out.reshape(a.shape[:-2] + (replicas,))
