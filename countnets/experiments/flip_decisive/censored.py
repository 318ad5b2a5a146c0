"""Statistics for censored ``lambda*`` (DESIGN section 3b, "Making the flip test decisive"). NumPy/SciPy only.

A pair's ``lambda*`` is known exactly, or only as an interval ``[lo, hi]``: right
censored (``hi = inf``: the sweep never flipped it, ``lambda* > lambda_max``) or
left censored (``lo = 0``, ``hi = lambda_min``: flipped at the smallest pressure).

* :func:`isotonic_crossing`: ``lambda*`` of one pair from the fraction
  ``q(lambda) = n_B / (n_A + n_B)`` of runs ending on B among those ending on A or B,
  fitted isotonic (non-decreasing) in ``lambda``; the crossing of ``q = 1/2``.
* :func:`bootstrap_lambda_star`: that estimate with a percentile bootstrap interval
  over initialisations (every lambda of a pair uses the same initialisations, so an
  initialisation is resampled with its whole row of outcomes).
* :func:`interval_regression`: Tobit-type maximum likelihood for interval-censored
  data, ``y = a + b x (+ c z) + sigma eps``, with a profile-likelihood interval for
  ``b`` and a likelihood-ratio p-value.
* :func:`interval_kendall`: Kendall's tau for interval-censored ``y`` (a pair is
  concordant or discordant only when the two intervals do not overlap), with a
  bootstrap interval and a permutation p-value.
* :func:`regression_power`, :func:`minimum_detectable_rho`: the power of
  :func:`interval_regression`'s test at a planned design with censoring, by simulation,
  and the least latent correlation it detects with a given power.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import optimize, special, stats

from countnets._errors import CountnetsError
from countnets.stats.statistics import Floats, clopper_pearson

__all__ = [
    "OUTCOME_A",
    "OUTCOME_B",
    "OUTCOME_OTHER",
    "OUTCOME_NOT_FIT",
    "outcomes",
    "outcome_counts",
    "pava",
    "isotonic_crossing",
    "bootstrap_lambda_star",
    "interval_regression",
    "interval_kendall",
    "regression_power",
    "minimum_detectable_rho",
]

# Outcome codes of one training run (one initialisation at one lambda).
OUTCOME_NOT_FIT, OUTCOME_OTHER, OUTCOME_A, OUTCOME_B = 0, 1, 2, 3


def outcomes(tables: Any, fit: Any, a: int, b: int) -> np.ndarray:
    """Outcome codes (``OUTCOME_*``) of training runs that ended on ``tables``, fitting S where ``fit``."""
    tables, fit = np.asarray(tables), np.asarray(fit)
    found = np.where(tables == b, OUTCOME_B, OUTCOME_OTHER)
    return np.where(~fit, OUTCOME_NOT_FIT, np.where(tables == a, OUTCOME_A, found))


def outcome_counts(codes: Any) -> dict[str, Any]:
    """How many runs ended on A, B, another function, or not fitting S, along the last axis of ``codes``.

    One row of codes gives ints; a ``(lambdas, inits)`` array gives a list per outcome.

    >>> outcome_counts(np.array([OUTCOME_A, OUTCOME_A, OUTCOME_NOT_FIT]))
    {'a': 2, 'b': 0, 'other': 0, 'not_fit': 1}
    """
    codes = np.asarray(codes)
    return {name: (codes == code).sum(axis=-1).tolist() for name, code in
            (("a", OUTCOME_A), ("b", OUTCOME_B), ("other", OUTCOME_OTHER), ("not_fit", OUTCOME_NOT_FIT))}  # fmt: skip


def pava(y: Floats, w: Floats) -> np.ndarray:
    """Weighted least-squares non-decreasing fit (pool-adjacent-violators); zero weights are skipped.

    Entries of weight 0 take the value of the fitted block to their left (or right at the
    start), so the fit is defined everywhere; all-zero weight gives NaN.

    >>> pava([0.0, 1.0, 0.5, 1.0], [1, 1, 1, 1]).tolist()
    [0.0, 0.75, 0.75, 1.0]
    """
    y = np.asarray(y, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    idx = np.flatnonzero(w > 0)
    if idx.size == 0:
        return np.full(y.shape, np.nan)
    vals, wts, sizes = [], [], []
    for i in idx:
        vals.append(y[i])
        wts.append(w[i])
        sizes.append(1)
        while len(vals) > 1 and vals[-2] > vals[-1]:
            tw = wts[-2] + wts[-1]
            vals[-2] = (vals[-2] * wts[-2] + vals[-1] * wts[-1]) / tw
            wts[-2], sizes[-2] = tw, sizes[-2] + sizes[-1]
            del vals[-1], wts[-1], sizes[-1]
    fitted = np.repeat(vals, sizes)
    out = np.empty(y.shape)
    out[idx] = fitted
    # fill zero-weight entries from the left neighbour (from the right before the first)
    last = fitted[0]
    for i in range(y.size):
        if w[i] > 0:
            last = out[i]
        else:
            out[i] = last
    return out


def isotonic_crossing(
    lambdas: Floats, n_a: Floats, n_b: Floats, *, skip_missing: bool = False
) -> tuple[float, float, float]:
    """``lambda*`` where the isotonic fit of ``q = n_B / (n_A + n_B)`` on the sweep first reaches 1/2.

    ``q`` is fitted non-decreasing in lambda (weights ``n_A + n_B``, :func:`pava`). With
    ``lambdas`` strictly increasing and positive (log-spaced), the crossing is linear
    interpolation of the fit in ``log lambda`` between the last grid point below 1/2 and
    the first at or above it. Returns ``(estimate, lo, hi)``, the interval the pair is
    known to lie in: ``(est, est, est)`` when it crosses inside the grid,
    ``(0, 0, lambdas[0])`` with estimate ``lambdas[0]`` when the fit is already >= 1/2 at the
    smallest lambda (left censored), ``(inf, lambdas[-1], inf)`` when it never reaches 1/2
    (right censored), and ``(nan, nan, nan)`` when no run ended on A or B.

    With ``skip_missing`` a grid point where no run ended on A or B is left out before
    anything else (issue 29: it is missing, not "flipped"): the fit, the crossing and the
    censoring bounds use the observed points only, so a left-censored pair is known to lie
    below the first *observed* lambda and a right-censored one above the last observed.
    Without it (plan version 1) such a point takes its neighbour's fitted value.

    >>> tuple(round(v, 9) for v in isotonic_crossing([1.0, 10.0, 100.0], [10, 5, 0], [0, 5, 10]))
    (10.0, 10.0, 10.0)
    """
    lam = np.asarray(lambdas, dtype=np.float64)
    if lam.ndim != 1 or lam.size < 2 or np.any(lam <= 0) or np.any(np.diff(lam) <= 0):
        raise CountnetsError(f"lambdas must be positive and strictly increasing (>= 2 values), got {lam.tolist()}")
    na = np.asarray(n_a, dtype=np.float64)
    nb = np.asarray(n_b, dtype=np.float64)
    tot = na + nb
    if tot.sum() == 0:
        return math.nan, math.nan, math.nan
    if skip_missing and np.any(tot == 0):
        seen = tot > 0
        lam, na, nb, tot = lam[seen], na[seen], nb[seen], tot[seen]
        if lam.size == 1:
            return (float(lam[0]), 0.0, float(lam[0])) if nb[0] >= na[0] else (math.inf, float(lam[0]), math.inf)
    q = pava(np.where(tot > 0, nb / np.where(tot > 0, tot, 1), 0.0), tot)
    above = np.flatnonzero(q >= 0.5)
    if above.size == 0:
        return math.inf, float(lam[-1]), math.inf
    j = int(above[0])
    if j == 0:
        return float(lam[0]), 0.0, float(lam[0])
    x0, x1 = math.log(lam[j - 1]), math.log(lam[j])
    t = (0.5 - q[j - 1]) / (q[j] - q[j - 1])
    est = math.exp(x0 + t * (x1 - x0))
    return est, est, est


def bootstrap_lambda_star(
    lambdas: Floats,
    outcomes: Any,
    *,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    skip_missing: bool = False,
) -> dict[str, Any]:
    """:func:`isotonic_crossing` of one pair with a percentile bootstrap interval over initialisations.

    Args:
      lambdas: the sweep, positive and strictly increasing.
      outcomes: int array ``(lambdas, inits)`` of outcome codes (``OUTCOME_*``): the
        function initialisation r ended on at lambda j. Resampling draws whole columns.
      skip_missing: leave out grid points where no run ended on A or B
        (:func:`isotonic_crossing`), in the estimate and in every resample.

    Returns:
      ``estimate``, ``censored`` (``"right"``, ``"left"`` or ``None``), ``bound`` (the
      interval ``[lo, hi]`` the estimate says lambda* is in, see
      :func:`isotonic_crossing`), ``interval`` (percentile bootstrap: the ``alpha/2``
      quantile of the resamples' lower bounds and the ``1 - alpha/2`` quantile of their
      upper bounds, so it is ``[0, ...]`` when enough resamples are left censored and
      ``[..., inf]`` when more than ``alpha/2`` of them never flipped),
      ``boot_censored`` (fraction of right-censored resamples), ``n_boot``, counts per
      lambda (``a``, ``b``, ``other``, ``not_fit``).
    """
    out = np.asarray(outcomes)
    if out.ndim != 2 or out.shape[0] != len(lambdas):
        raise CountnetsError(f"outcomes must have shape (lambdas={len(lambdas)}, inits), got {out.shape}")
    if not 0 < confidence < 1:
        raise CountnetsError(f"confidence must be in (0, 1), got {confidence}")

    def counts(o):
        return (o == OUTCOME_A).sum(axis=1), (o == OUTCOME_B).sum(axis=1)

    na, nb = counts(out)
    est, lo, hi = isotonic_crossing(lambdas, na, nb, skip_missing=skip_missing)
    rng = np.random.default_rng(seed)
    boots = np.empty((n_boot, 3))
    for i in range(n_boot):
        cols = rng.integers(0, out.shape[1], out.shape[1])
        boots[i] = isotonic_crossing(lambdas, *counts(out[:, cols]), skip_missing=skip_missing)
    boots = boots[~np.isnan(boots[:, 0])]
    alpha = 1 - confidence
    if boots.size:
        # lower end from the resamples' lower bounds (0 when left censored), upper end from their
        # upper bounds (inf when right censored): inf when > alpha/2 of resamples never flipped
        b_lo = float(np.quantile(boots[:, 1], alpha / 2, method="inverted_cdf"))
        b_hi = float(np.quantile(boots[:, 2], 1 - alpha / 2, method="inverted_cdf"))
    else:
        b_lo = b_hi = math.nan
    censored = "right" if math.isinf(est) else ("left" if lo == 0.0 else None)
    return {
        "estimate": est,
        "censored": censored,
        "bound": [lo, hi],
        "interval": [b_lo, b_hi],
        "boot_censored": float(np.isinf(boots[:, 0]).mean()) if boots.size else math.nan,
        "n_boot": int(n_boot),
        "confidence": confidence,
        **outcome_counts(out),
    }


# --------------------------------------------------------------------------- interval-censored regression


def _log_interval_prob(zl: np.ndarray, zh: np.ndarray) -> np.ndarray:
    """``log(Phi(zh) - Phi(zl))`` for ``zl < zh``, stable in both tails."""
    upper = zl > 0  # both in the upper tail: use Phi(-zl) - Phi(-zh)
    a = np.where(upper, -zh, zl)
    b = np.where(upper, -zl, zh)
    la, lb = special.log_ndtr(a), special.log_ndtr(b)
    return lb + np.log1p(-np.exp(np.minimum(la - lb, 0.0)) + 0.0)


def _negll(params: np.ndarray, lo: np.ndarray, hi: np.ndarray, X: np.ndarray, exact: np.ndarray) -> float:
    beta, log_s = params[:-1], params[-1]
    s = math.exp(log_s)
    mu = X @ beta
    ll = np.zeros(lo.shape)
    ze = (lo[exact] - mu[exact]) / s
    ll[exact] = -0.5 * ze**2 - 0.5 * math.log(2 * math.pi) - log_s
    c = ~exact
    with np.errstate(invalid="ignore", over="ignore"):
        zl = np.where(np.isfinite(lo[c]), (lo[c] - mu[c]) / s, -np.inf)
        zh = np.where(np.isfinite(hi[c]), (hi[c] - mu[c]) / s, np.inf)
    ll[c] = _log_interval_prob(zl, zh)
    total = float(ll.sum())
    return -total if math.isfinite(total) else 1e300


def fit_fixing(objective, start: np.ndarray, fixed: tuple[int, float] | None = None, maxiter: int = 5000,
               both: bool = False):  # fmt: skip
    """Minimise ``objective(params)`` from ``start``: BFGS, then Nelder-Mead if it fails (or always, with ``both``).

    ``fixed = (index, value)`` holds one coefficient (a profile). Returns ``(params, value)``,
    the better of the tries, with the fixed coefficient in place.
    """
    free = np.ones(start.size, dtype=bool) if fixed is None else np.arange(start.size) != fixed[0]

    def full(p):
        v = start.copy()
        v[free] = p
        if fixed is not None:
            v[fixed[0]] = fixed[1]
        return v

    best = None
    for method in ("BFGS", "Nelder-Mead"):
        res = optimize.minimize(lambda p: objective(full(p)), start[free], method=method, options={"maxiter": maxiter})
        if best is None or res.fun < best.fun:
            best = res
        if res.success and not both:
            break
    return full(best.x), float(best.fun)


def _fit(lo, hi, X, exact, start, fixed: tuple[int, float] | None = None) -> tuple[np.ndarray, float]:
    """Minimise the negative log-likelihood; ``fixed = (index, value)`` holds one coefficient."""
    return fit_fixing(lambda p: _negll(p, lo, hi, X, exact), start, fixed)


def check_observations(lo: np.ndarray, hi: np.ndarray, x: np.ndarray) -> None:
    """Refuse interval-censored observations that no likelihood can use: NaN, ``lo > hi``, a non-finite x, or
    ``(-inf, inf)``, which carries no information (one-line :class:`CountnetsError`)."""
    if np.any(np.isnan(lo)) or np.any(np.isnan(hi)) or np.any(~np.isfinite(x)) or np.any(lo > hi):
        raise CountnetsError("every observation needs lo <= hi (no NaN) and a finite x")
    if np.any(np.isinf(lo) & np.isinf(hi)):
        raise CountnetsError("an observation with lo = -inf and hi = inf carries no information; leave it out")


def interval_regression(
    lo: Floats,
    hi: Floats,
    x: Floats,
    covariates: Sequence[Floats] | np.ndarray = (),
    *,
    confidence: float = 0.95,
    profile: bool = True,
) -> dict[str, Any]:
    """Maximum-likelihood regression of an interval-censored response (Tobit, Amemiya 1973).

    Model: ``y_i = a + b x_i + sum_k c_k z_ki + sigma eps_i`` with ``eps_i ~ N(0, 1)``
    independent. Observation i says ``y_i`` lies in ``[lo_i, hi_i]``: exact when
    ``lo_i == hi_i`` (density term), otherwise ``P(lo_i <= y_i <= hi_i)`` (``lo = -inf`` or
    ``hi = inf`` allowed: left or right censored). The ``confidence`` interval for ``b``
    is the profile-likelihood interval ``{b: 2 (l_max - l_prof(b)) <= chi2_1(confidence)}``;
    ``p`` is the likelihood-ratio test of ``b = 0`` (chi-square, 1 degree of freedom),
    two-sided. An end of the interval is ``inf`` when the profile never drops that far
    (e.g. every observation censored); ``profile=False`` skips it (``slope_ci`` None).
    Needs more observations than parameters + 1.

    Returns ``n``, ``exact``, ``left``, ``right``, ``interval`` (the number of each kind
    of observation), ``intercept``, ``slope``, ``slope_ci``, ``covariates`` (their
    coefficients), ``sigma``, ``loglik``, ``p``, ``confidence`` and ``method``.

    >>> r = interval_regression([1, 2, 3, 4, 5, 5], [1, 2, 3, 4, 5, float("inf")], [1, 2, 3, 4, 5, 6])
    >>> round(r["slope"], 2), r["right"]
    (1.0, 1)
    """
    lo_a = np.asarray(lo, dtype=np.float64)
    hi_a = np.asarray(hi, dtype=np.float64)
    xa = np.asarray(x, dtype=np.float64)
    Z = np.asarray(covariates, dtype=np.float64).reshape(-1, xa.size) if len(covariates) else np.zeros((0, xa.size))
    n = xa.size
    if not (lo_a.shape == hi_a.shape == xa.shape):
        raise CountnetsError(f"lo, hi and x must have the same length, got {lo_a.size}, {hi_a.size}, {xa.size}")
    check_observations(lo_a, hi_a, xa)
    X = np.column_stack([np.ones(n), xa, Z.T])
    k = X.shape[1]
    if n < k + 2:
        raise CountnetsError(f"interval_regression needs at least {k + 2} observations, got {n}")
    exact = lo_a == hi_a
    mid = np.where(exact, lo_a, np.where(np.isinf(hi_a), lo_a, np.where(np.isinf(lo_a), hi_a, (lo_a + hi_a) / 2)))
    beta0, *_ = np.linalg.lstsq(X, mid, rcond=None)
    s0 = max(float(np.std(mid - X @ beta0)), 1e-3 * (float(np.std(mid)) + 1.0))
    start = np.append(beta0, math.log(s0))
    params, nll = _fit(lo_a, hi_a, X, exact, start)
    for _ in range(2):  # restart from the optimum: BFGS can stop early on flat censored likelihoods
        p2, nll2 = _fit(lo_a, hi_a, X, exact, params)
        if nll2 >= nll - 1e-9:
            break
        params, nll = p2, nll2
    _, nll0 = _fit(lo_a, hi_a, X, exact, params, fixed=(1, 0.0))
    lr = max(2 * (nll0 - nll), 0.0)
    crit = float(stats.chi2.ppf(confidence, 1))
    b_hat = float(params[1])
    scale = max(abs(b_hat), float(np.std(mid)) / max(float(np.std(xa)), 1e-12), 1e-6)

    def excess(b):
        return 2 * (_fit(lo_a, hi_a, X, exact, params, fixed=(1, b))[1] - nll) - crit

    ends = []
    for sign in (-1.0, 1.0) if profile else ():
        step, end = scale, math.inf * sign
        for _ in range(40):
            if excess(b_hat + sign * step) > 0:
                end = optimize.brentq(lambda d: excess(b_hat + sign * d), 0.0, step, xtol=1e-6 * scale)
                end = b_hat + sign * end
                break
            step *= 2
        ends.append(float(end))
    right = np.isinf(hi_a) & ~exact
    left = np.isinf(lo_a) & ~exact
    return {
        "n": n,
        "exact": int(exact.sum()),
        "left": int(left.sum()),
        "right": int(right.sum()),
        "interval": int(n - exact.sum() - left.sum() - right.sum()),
        "intercept": float(params[0]),
        "slope": b_hat,
        "slope_ci": ends if profile else None,
        "covariates": [float(v) for v in params[2:k]],
        "sigma": math.exp(float(params[-1])),
        "loglik": -nll,
        "p": float(stats.chi2.sf(lr, 1)),
        "confidence": confidence,
        "method": "interval-censored normal ML (Tobit); profile-likelihood interval; LR test of slope 0",
    }


def _kendall_s(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    dx = np.sign(x[:, None] - x[None, :])
    above = lo[:, None] > hi[None, :]  # y_i surely above y_j
    below = hi[:, None] < lo[None, :]
    dy = above.astype(np.float64) - below.astype(np.float64)
    n = x.size
    return float(np.triu(dx * dy, 1).sum()) / (n * (n - 1) / 2)


def interval_kendall(
    x: Floats,
    lo: Floats,
    hi: Floats,
    *,
    confidence: float = 0.95,
    n_boot: int = 2000,
    n_perm: int = 2000,
    seed: int = 0,
) -> dict[str, Any]:
    """Kendall's tau-a between x and an interval-censored y (censoring-aware rank correlation).

    ``tau = (C - D) / (n (n - 1) / 2)``: a pair (i, j) is concordant when
    ``sign(x_i - x_j)`` equals the order of y_i and y_j, which is known only when their
    intervals do not overlap (``lo_i > hi_j`` or ``hi_i < lo_j``; an exact value is the
    interval ``[y, y]``); overlapping intervals count 0, which shrinks tau toward 0 but
    never invents an order. Interval: percentile bootstrap over pairs; p: two-sided
    permutation test of x (``n_perm`` permutations, ``(1 + #{|tau_perm| >= |tau|}) /
    (1 + n_perm)``). Without censoring and ties it equals scipy's tau-b.

    >>> interval_kendall([1, 2, 3], [1, 2, 3], [1, 2, 3], n_boot=10, n_perm=10)["tau"]
    1.0
    """
    xa = np.asarray(x, dtype=np.float64)
    la = np.asarray(lo, dtype=np.float64)
    ha = np.asarray(hi, dtype=np.float64)
    if not (xa.shape == la.shape == ha.shape) or xa.size < 3:
        raise CountnetsError(f"x, lo and hi need the same length >= 3, got {xa.size}, {la.size}, {ha.size}")
    tau = _kendall_s(xa, la, ha)
    rng = np.random.default_rng(seed)
    n = xa.size
    boots = []
    for _ in range(n_boot):
        i = rng.integers(0, n, n)
        boots.append(_kendall_s(xa[i], la[i], ha[i]))
    alpha = 1 - confidence
    ci = [float(v) for v in np.quantile(boots, [alpha / 2, 1 - alpha / 2])] if boots else [math.nan, math.nan]
    perm = [abs(_kendall_s(rng.permutation(xa), la, ha)) for _ in range(n_perm)]
    p = (1 + sum(v >= abs(tau) - 1e-12 for v in perm)) / (1 + n_perm)
    return {"n": n, "tau": tau, "ci": ci, "p": float(p), "confidence": confidence,
            "method": "Kendall tau-a, interval-censored (overlaps count 0); bootstrap CI; permutation p"}  # fmt: skip


def regression_power(
    x: Floats,
    rho: float,
    *,
    censor_low: float = 0.1,
    censor_high: float = 0.2,
    alpha: float = 0.05,
    reps: int = 200,
    seed: int = 0,
) -> dict[str, Any]:
    """Power of :func:`interval_regression`'s slope test at design ``x``, by simulation.

    Latent ``y = b x + eps``, ``eps ~ N(0, 1)``, ``b = rho / sqrt(1 - rho^2) / sd(x)`` so
    that ``rho`` is the latent correlation of y with x over the design. ``y`` is left
    censored below the ``censor_low`` quantile and right censored above the
    ``1 - censor_high`` quantile of its marginal over the design (the grid ends), as
    ``lambda*`` is by a finite sweep. Each replicate is tested by the likelihood-ratio
    test of slope 0 at level ``alpha`` (the same test whose inversion is the profile
    interval). Returns ``power`` (fraction rejecting, with its Clopper-Pearson 95%
    interval ``power_ci``) and the settings.
    """
    xa = np.asarray(x, dtype=np.float64)
    if not -1 < rho < 1:
        raise CountnetsError(f"rho must be in (-1, 1), got {rho}")
    b = rho / math.sqrt(1 - rho**2) / float(np.std(xa))
    rng = np.random.default_rng(seed)
    mu = b * xa
    pool = (mu[None, :] + rng.standard_normal((200, xa.size))).ravel()
    c_lo, c_hi = np.quantile(pool, [censor_low, 1 - censor_high])
    hits = 0
    for _ in range(reps):
        y = mu + rng.standard_normal(xa.size)
        lo = np.where(y < c_lo, -np.inf, np.where(y > c_hi, c_hi, y))
        hi = np.where(y < c_lo, c_lo, np.where(y > c_hi, np.inf, y))
        hits += interval_regression(lo, hi, xa, profile=False)["p"] < alpha
    ci = clopper_pearson(int(hits), reps, 0.95)
    return {"rho": rho, "slope": b, "power": hits / reps, "power_ci": list(ci), "reps": reps, "alpha": alpha,
            "censor_low": censor_low, "censor_high": censor_high, "n": int(xa.size)}  # fmt: skip


def minimum_detectable_rho(
    x: Floats,
    *,
    power: float = 0.8,
    rhos: Sequence[float] = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7),
    censor_low: float = 0.1,
    censor_high: float = 0.2,
    alpha: float = 0.05,
    reps: int = 400,
    seed: int = 0,
) -> dict[str, Any]:
    """The least latent correlation detected with probability ``power`` (:func:`regression_power` at each rho).

    Power is simulated at every ``rhos`` value (seed ``seed + k`` for the k-th) and the
    answer is linear interpolation between the last value below ``power`` and the first
    at or above it (``None`` when none reaches it). ``slope_per_sigma`` gives the same
    threshold as a slope in units of the residual sd, ``b / sigma = rho / sqrt(1 - rho^2)
    / sd(x)``.
    """
    curve = [regression_power(x, r, censor_low=censor_low, censor_high=censor_high, alpha=alpha, reps=reps,
                              seed=seed + k) for k, r in enumerate(rhos)]  # fmt: skip
    pw = [c["power"] for c in curve]
    rho = None
    for k, p in enumerate(pw):
        if p >= power:
            rho = rhos[k] if k == 0 else rhos[k - 1] + (power - pw[k - 1]) / (p - pw[k - 1]) * (rhos[k] - rhos[k - 1])
            break
    sd = float(np.std(np.asarray(x, dtype=np.float64)))
    slope = None if rho is None else rho / math.sqrt(1 - rho**2) / sd
    return {"rho": rho, "slope_per_sigma": slope, "power": power, "curve": curve, "n": len(x),
            "censor_low": censor_low, "censor_high": censor_high}  # fmt: skip
