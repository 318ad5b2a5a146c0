"""Within-group statistics for an interval-censored response (issue 29's primary analysis). NumPy/SciPy only.

The flip test measures a response ``y`` (an integrated pressure ``Lambda*`` or a sampled
``lambda*``) for several pairs that share one ``(S, A)`` group, known exactly or only as
an interval (censored). The claim is about the slope *within* a group, so the groups'
own levels must not enter it:

* :func:`random_intercept_regression`: ``y_ij = a + b x_ij + u_i + sigma eps_ij`` with
  ``u_i ~ N(0, tau^2)`` and ``eps_ij ~ N(0, 1)``, every observation exact or
  interval-censored; maximum likelihood with the intercepts integrated out by adaptive
  Gauss-Hermite quadrature (Pinheiro and Bates 1995), a profile-likelihood interval for
  ``b`` and a likelihood-ratio p-value.
* :func:`stratified_kendall`: Kendall's concordance of ``x`` and the interval-censored ``y``
  counted within groups only, with a permutation p-value (``x`` permuted within groups).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import optimize, special, stats

from countnets._errors import CountnetsError
from countnets.experiments.flip_decisive.censored import _kendall_s, _log_interval_prob, check_observations, fit_fixing
from countnets.stats.statistics import Floats

__all__ = ["random_intercept_regression", "stratified_kendall", "group_loglik"]

_NODES, _WEIGHTS = np.polynomial.hermite.hermgauss(64)
_LOG_WEIGHTS = np.log(_WEIGHTS) + _NODES**2  # the rule's weights times exp(t^2), which the centred integrand needs
_NEWTON_STEPS = 100


def _obs_terms(u, resid, lo, hi, exact, sigma):
    """Per observation log f, d/du log f and d2/du2 log f at intercept ``u`` (arrays ``(..., obs)``)."""
    r = resid - u
    ze = r / sigma
    f_exact = -0.5 * ze**2 - 0.5 * math.log(2 * math.pi) - math.log(sigma)
    with np.errstate(invalid="ignore", over="ignore"):
        zl = np.where(np.isfinite(lo), (lo - u) / sigma, -np.inf)
        zh = np.where(np.isfinite(hi), (hi - u) / sigma, np.inf)
    zl_safe = np.where(exact, -1.0, zl)
    zh_safe = np.where(exact, 1.0, zh)
    logp = _log_interval_prob(zl_safe, zh_safe)
    fin_l, fin_h = np.isfinite(zl_safe), np.isfinite(zh_safe)
    zl_f, zh_f = np.where(fin_l, zl_safe, 0.0), np.where(fin_h, zh_safe, 0.0)
    half_log_2pi = 0.5 * math.log(2 * math.pi)
    # phi(z) / P at each end; an infinite end contributes 0 (phi and z phi vanish there). Capped: far from the
    # mode, where P underflows, the damped Newton step only needs a direction (its line search guards the length).
    ratio_l = np.where(fin_l, np.exp(np.minimum(-0.5 * zl_f**2 - half_log_2pi - logp, 300.0)), 0.0)
    ratio_h = np.where(fin_h, np.exp(np.minimum(-0.5 * zh_f**2 - half_log_2pi - logp, 300.0)), 0.0)
    d_ratio = ratio_h - ratio_l
    zr = zh_f * ratio_h - zl_f * ratio_l
    f = np.where(exact, f_exact, logp)
    d1 = np.where(exact, r / sigma**2, -d_ratio / sigma)
    d2 = np.where(exact, -1.0 / sigma**2, -(zr + d_ratio**2) / sigma**2)
    return f, d1, d2


def group_loglik(
    lo: np.ndarray, hi: np.ndarray, mu: np.ndarray, groups: np.ndarray, n_groups: int, tau: float, sigma: float
) -> float:
    """Log-likelihood of the random-intercept model, intercepts integrated by adaptive Gauss-Hermite quadrature.

    ``lo``, ``hi`` (equal for an exact observation; ``-inf``/``inf`` for censored ends),
    ``mu`` the fixed part per observation, ``groups`` the group index ``0 .. n_groups - 1``
    per observation. Per group, the integrand ``exp(g(u))`` (``g`` = the observations'
    log-likelihood given ``u`` plus ``log N(u; 0, tau^2)``) is log-concave; it is centred at
    its mode (damped Newton, all groups at once) and scaled by its curvature before the
    64-node rule is applied.
    """
    exact = lo == hi
    lo_c, hi_c = lo - mu, hi - mu
    resid = np.where(exact, lo_c, 0.0)
    onehot = np.zeros((n_groups, lo.size))
    onehot[groups, np.arange(lo.size)] = 1.0

    def g_terms(u):
        f, d1, d2 = _obs_terms(u[groups], resid, lo_c, hi_c, exact, sigma)
        return onehot @ f - 0.5 * (u / tau) ** 2, onehot @ d1 - u / tau**2, onehot @ d2 - 1.0 / tau**2

    # Damped Newton on the strictly concave g: a step is halved until g does not fall, so it converges from u = 0
    # however far the mode lies (a group of censored observations far out, or sigma much smaller than tau).
    u = np.zeros(n_groups)
    g, grad, hess = g_terms(u)
    for _ in range(_NEWTON_STEPS):
        step = -grad / hess
        t = np.ones(n_groups)
        for _ in range(60):
            g_new = g_terms(u + t * step)[0]
            worse = ~(g_new >= g - 1e-12 * np.abs(g))
            if not worse.any():
                break
            t = np.where(worse, 0.5 * t, t)
        u = u + t * step
        g, grad, hess = g_terms(u)
        if np.max(np.abs(t * step)) < 1e-10 * (tau + sigma):
            break
    scale = 1.0 / np.sqrt(-hess)
    nodes = u[:, None] + math.sqrt(2.0) * scale[:, None] * _NODES[None, :]  # (groups, K)
    f, _, _ = _obs_terms(nodes[groups, :], resid[:, None], lo_c[:, None], hi_c[:, None], exact[:, None], sigma)
    per_group = onehot @ f  # (groups, K)
    log_prior = -0.5 * (nodes / tau) ** 2 - 0.5 * math.log(2 * math.pi) - math.log(tau)
    terms = per_group + log_prior + _LOG_WEIGHTS[None, :]
    return float(np.sum(special.logsumexp(terms, axis=1) + np.log(math.sqrt(2.0) * scale)))


def _negll(params: np.ndarray, lo, hi, X, groups, n_groups) -> float:
    beta, log_tau, log_sigma = params[:-2], params[-2], params[-1]
    if not (-30.0 < log_tau < 30.0 and -30.0 < log_sigma < 30.0):
        return 1e300
    value = group_loglik(lo, hi, X @ beta, groups, n_groups, math.exp(log_tau), math.exp(log_sigma))
    return -value if math.isfinite(value) else 1e300


def _fit(lo, hi, X, groups, n_groups, start, fixed=None) -> tuple[np.ndarray, float]:
    return fit_fixing(lambda p: _negll(p, lo, hi, X, groups, n_groups), start, fixed, maxiter=4000, both=True)


def _check_inputs(lo, hi, x, groups) -> tuple[np.ndarray, ...]:
    lo_a, hi_a, xa = (np.asarray(v, dtype=np.float64) for v in (lo, hi, x))
    ga = np.asarray(groups)
    if not (lo_a.shape == hi_a.shape == xa.shape == ga.shape) or lo_a.ndim != 1:
        raise CountnetsError(f"lo, hi, x and groups must be 1-d of one length, got {lo_a.shape}, {hi_a.shape}, "
                             f"{xa.shape}, {ga.shape}")  # fmt: skip
    check_observations(lo_a, hi_a, xa)
    _, codes = np.unique(ga, return_inverse=True)
    return lo_a, hi_a, xa, codes.astype(np.int64)


def random_intercept_regression(
    lo: Floats, hi: Floats, x: Floats, groups: Any, *, confidence: float = 0.95, within: bool = True
) -> dict[str, Any]:
    """Maximum likelihood for an interval-censored ``y`` with a random intercept per group; the slope on ``x``.

    Observation ``k`` (group ``groups[k]``, any hashable labels) says ``y`` lies in
    ``[lo_k, hi_k]``: exact when equal, censored otherwise (an infinite end allowed). The
    likelihood integrates each group's intercept ``u_i ~ N(0, tau^2)`` (:func:`group_loglik`).

    * ``within=True`` (the default; Mundlak 1978): ``y_ij = a + b (x_ij - xbar_i) + c xbar_i
      + u_i + sigma eps_ij`` with ``xbar_i`` the group's mean x. ``b`` is the slope *within*
      groups: a group level that moves with the group's mean x goes into ``c``, never into
      ``b``. ``between`` reports ``c``.
    * ``within=False``: ``y_ij = a + b x_ij + u_i + sigma eps_ij``; ``b`` then mixes the
      within- and between-group slopes, weighted by the fitted variances.

    The interval for ``b`` is the profile-likelihood interval at ``confidence``; ``p`` is
    the two-sided likelihood-ratio test of ``b = 0`` (chi-square, 1 degree of freedom).
    Internally ``y`` and ``x`` are standardised; every number returned is in their own units.

    Returns ``n``, ``groups``, ``exact``, ``censored``, ``intercept``, ``slope``,
    ``slope_ci``, ``between`` (``None`` without ``within``), ``tau``, ``sigma``, ``loglik``
    (in standardised units), ``p``, ``confidence`` and ``method``.

    Raises:
      CountnetsError: for mismatched or invalid input, or fewer than 6 observations.
    """
    lo_a, hi_a, xa, codes = _check_inputs(lo, hi, x, groups)
    n, n_groups = xa.size, int(codes.max()) + 1 if xa.size else 0
    if n < 6:
        raise CountnetsError(f"random_intercept_regression needs at least 6 observations, got {n}")
    exact = lo_a == hi_a
    mid = np.where(exact, lo_a, np.where(np.isinf(hi_a), lo_a, np.where(np.isinf(lo_a), hi_a, (lo_a + hi_a) / 2)))
    y_loc, y_scale = float(np.mean(mid)), float(np.std(mid)) or 1.0
    x_loc, x_scale = float(np.mean(xa)), float(np.std(xa)) or 1.0
    lo_s, hi_s, xs = (lo_a - y_loc) / y_scale, (hi_a - y_loc) / y_scale, (xa - x_loc) / x_scale
    if within:
        means = (np.bincount(codes, weights=xs) / np.bincount(codes))[codes]
        X = np.column_stack([np.ones(n), xs - means, means])
    else:
        X = np.column_stack([np.ones(n), xs])
    beta0, *_ = np.linalg.lstsq(X, (mid - y_loc) / y_scale, rcond=None)
    start = np.concatenate([beta0, [math.log(0.5), math.log(0.5)]])
    params, nll = _fit(lo_s, hi_s, X, codes, n_groups, start)
    for _ in range(3):  # restart from the optimum: quasi-Newton can stop early on flat censored likelihoods
        again, nll2 = _fit(lo_s, hi_s, X, codes, n_groups, params)
        if nll2 >= nll - 1e-9:
            break
        params, nll = again, nll2
    _, nll0 = _fit(lo_s, hi_s, X, codes, n_groups, params, fixed=(1, 0.0))
    crit = float(stats.chi2.ppf(confidence, 1))
    b_hat = float(params[1])

    def excess(b):
        return 2 * (_fit(lo_s, hi_s, X, codes, n_groups, params, fixed=(1, b))[1] - nll) - crit

    ends = []
    for sign in (-1.0, 1.0):
        step, end = 0.25, math.inf * sign
        for _ in range(30):
            if excess(b_hat + sign * step) > 0:
                end = b_hat + sign * optimize.brentq(lambda d: excess(b_hat + sign * d), 0.0, step, xtol=1e-7)
                break
            step *= 2
        ends.append(float(end) * y_scale / x_scale)
    slope = b_hat * y_scale / x_scale
    between = float(params[2]) * y_scale / x_scale if within else None
    # a + c xbar (within) or a + b x at x's own origin: the intercept in y's units
    intercept = float(y_loc + y_scale * params[0] - (between if within else slope) * x_loc)
    return {
        "n": n,
        "groups": n_groups,
        "exact": int(exact.sum()),
        "censored": int(n - exact.sum()),
        "intercept": intercept,
        "slope": slope,
        "slope_ci": ends,
        "between": between,
        "tau": math.exp(float(params[-2])) * y_scale,
        "sigma": math.exp(float(params[-1])) * y_scale,
        "loglik": -nll,
        "p": float(stats.chi2.sf(max(2 * (nll0 - nll), 0.0), 1)),
        "confidence": confidence,
        "method": ("within-group slope (group-mean x as a covariate, Mundlak) in a " if within else "")
        + "random-intercept interval-censored normal ML (adaptive Gauss-Hermite, 64 nodes); profile-likelihood "
        "interval; LR test of slope 0",
    }


def stratified_kendall(
    x: Floats, lo: Floats, hi: Floats, groups: Any, *, n_perm: int = 2000, seed: int = 0
) -> dict[str, Any]:
    """Kendall's concordance of x and an interval-censored y, counted within groups only.

    ``tau = sum_groups (C_g - D_g) / sum_groups n_g (n_g - 1) / 2``: a within-group pair is
    concordant or discordant only when its two y intervals do not overlap
    (:func:`countnets.experiments.flip_decisive.censored.interval_kendall`'s rule), so
    groups' levels never enter. ``p``: two-sided permutation test with x permuted within
    each group (``(1 + #{|tau_perm| >= |tau|}) / (1 + n_perm)``).
    """
    lo_a, hi_a, xa, codes = _check_inputs(lo, hi, x, groups)
    members = [np.flatnonzero(codes == g) for g in range(int(codes.max()) + 1)] if xa.size else []
    members = [m for m in members if m.size >= 2]
    pairs = sum(m.size * (m.size - 1) / 2 for m in members)
    if pairs == 0:
        raise CountnetsError("stratified_kendall needs a group with at least 2 observations")

    def score(xv):
        return sum(_kendall_s(xv[m], lo_a[m], hi_a[m]) * m.size * (m.size - 1) / 2 for m in members) / pairs

    tau = score(xa)
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(n_perm):
        xp = xa.copy()
        for m in members:
            xp[m] = xa[rng.permutation(m)]
        hits += abs(score(xp)) >= abs(tau) - 1e-12
    return {"n": int(sum(m.size for m in members)), "groups": len(members), "pairs": int(pairs), "tau": float(tau),
            "p": (1 + hits) / (1 + n_perm), "method": "Kendall tau-a within groups, interval-censored (overlaps "
            "count 0); permutation p with x permuted within groups"}  # fmt: skip
