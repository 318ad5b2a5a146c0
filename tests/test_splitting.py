"""Multilevel splitting (issue 14) against truths derived independently of it.

* exact lattice enumeration (plain numpy over all 3**11 configurations of an MLP 3-2-1),
  from about 1e-3 down to the rarest function, and an unreachable one (an upper bound);
* plain Monte Carlo (:func:`countnets.estimate_mc`) for Gaussian and uniform priors at 1e-3 to 1e-5;
* closed forms below 1e-6: every hidden unit of an MLP 1-w-1 dead on the pm1 cube has
  probability ``q**w`` (``q`` an orthant probability, checked numerically here);
* coverage of the interval over many independent replica groups, where the truth is known;
* the final population against rejection sampling (the conditional prior P(f | S));
* bad input, resume after an interruption, 1 versus 8 devices, JSON round trip.

Measure objects are module constants so that runs with the same measure share compiled steps.
"""

import itertools
import json
import math

import numpy as np
import pytest
from scipy import stats

import countnets as cn
from countnets import measures as M
from countnets.rare import moves, replicas, splitting
from countnets.stats import statistics

LATTICE = cn.Lattice((-1.0, 0.0, 1.0))
LATTICE_ARCH = cn.MLP(3, (2,))
LATTICE_MEASURES = {f: M.implements(f) for f in ("0x7", "0x6", "0x7e", "0x96")}
LATTICE_KW = dict(seed=0, replicas=64, particles=500, encoding="pm1", devices=1)


def _dead_units(w):
    return M.all_of(*[M.unit_dead(0, i) for i in range(w)])


W_GAUSS, W_UNIFORM = 10, 10
DEAD_GAUSS, DEAD_UNIFORM = _dead_units(W_GAUSS), _dead_units(W_UNIFORM)
GAUSS = cn.Gaussian(1.0, 0.5)
DEAD_KW = dict(replicas=64, particles=500, encoding="pm1", devices=1)


def dead_unit_probability(sigma_w, sigma_b):
    """P(w x + b <= 0 at x = -1 and x = +1) for w ~ N(0, sigma_w**2), b ~ N(0, sigma_b**2).

    (b - w, b + w) is a centred bivariate normal with correlation
    ``rho = (sigma_b**2 - sigma_w**2) / (sigma_b**2 + sigma_w**2)``, and Sheppard's formula
    gives the negative orthant ``1/4 + arcsin(rho) / (2 pi)``.
    """
    rho = (sigma_b**2 - sigma_w**2) / (sigma_b**2 + sigma_w**2)
    return 0.25 + math.asin(rho) / (2 * math.pi)


# ----------------------------------------------------------------------------- truths


@pytest.fixture(scope="module")
def lattice_truth():
    """Every function's exact mass for the MLP 3-2-1 on {-1, 0, 1}, by plain numpy over 3**11 configurations."""
    values = np.array([-1.0, 0.0, 1.0])
    theta = values[np.array(list(itertools.product(range(3), repeat=LATTICE_ARCH.n_params)))]
    W1, b1, W2, b2 = theta[:, :6].reshape(-1, 3, 2), theta[:, 6:8], theta[:, 8:10], theta[:, 10]
    j = np.arange(8)
    x = np.stack([2.0 * ((j >> i) & 1) - 1 for i in range(3)], axis=1)  # pm1 cube, bit order of DESIGN 2
    h = np.maximum(np.einsum("pi,nih->nph", x, W1) + b1[:, None, :], 0.0)
    y = np.einsum("nph,nh->np", h, W2) + b2[:, None]
    tables = ((y > 0).astype(np.int64) << j).sum(axis=1)
    counts = np.bincount(tables, minlength=256)
    return {cn.to_hex(int(f)): int(c) / len(theta) for f, c in enumerate(counts)}


def test_closed_form_dead_unit_probability_is_right():
    # Numerically, by scipy's bivariate normal CDF and by plain numpy sampling.
    for sw, sb in ((1.0, 0.5), (1.0, 1.0), (0.7, 1.3)):
        q = dead_unit_probability(sw, sb)
        cov = [[sb**2 + sw**2, sb**2 - sw**2], [sb**2 - sw**2, sb**2 + sw**2]]
        assert stats.multivariate_normal(mean=[0, 0], cov=cov).cdf([0, 0]) == pytest.approx(q, abs=1e-5)
        rng = np.random.default_rng(0)
        w, b = rng.normal(0, sw, 10**6), rng.normal(0, sb, 10**6)
        assert np.mean((b - w <= 0) & (b + w <= 0)) == pytest.approx(q, abs=4 * math.sqrt(q / 10**6))
    assert dead_unit_probability(1.0, 1.0) == 0.25
    # Uniform prior: b <= -|w| with w, b uniform on [-a, a] has probability E[(a - |w|) / 2a] = 1/4.
    rng = np.random.default_rng(1)
    w, b = rng.uniform(-2, 2, 10**6), rng.uniform(-2, 2, 10**6)
    assert np.mean(b <= -np.abs(w)) == pytest.approx(0.25, abs=2e-3)


# ----------------------------------------------------------------------------- cross-checks


def _check_covers(result, truth):
    e = result.estimates[0]
    print(f"{e.function}: {e.p:.4g} [{e.ci[0]:.4g}, {e.ci[1]:.4g}] truth {truth:.4g}, "
          f"relative error {result.extra['relative_error']:.3f}, {result.extra['n_levels']} levels")  # fmt: skip
    assert e.method == "splitting-log-t" and e.hits == e.n
    assert e.ci[0] <= truth <= e.ci[1], (e.p, e.ci, truth)
    assert result.extra["relative_error"] < 0.25


@pytest.fixture(scope="module")
def lattice_runs():
    return {f: cn.estimate_rare(LATTICE, LATTICE_ARCH, m, **LATTICE_KW) for f, m in LATTICE_MEASURES.items()}


@pytest.mark.parametrize("f", ["0x7", "0x6", "0x7e"])
def test_lattice_estimates_cover_exact_enumeration(lattice_runs, lattice_truth, f):
    truth = lattice_truth[f]
    assert truth > 0 and (f != "0x7e" or truth == min(v for v in lattice_truth.values() if v > 0))
    _check_covers(lattice_runs[f], truth)


def test_unreachable_lattice_function_gets_an_upper_bound(lattice_runs, lattice_truth):
    assert lattice_truth["0x96"] == 0.0  # parity: no MLP 3-2-1 on {-1, 0, 1} implements it
    res = lattice_runs["0x96"]
    e = res.estimates[0]
    print(f"0x96: p = {e.p}, upper bound {e.ci[1]:.3g} at {e.confidence}")
    assert e.p == 0.0 and e.hits == 0 and e.method == "splitting-upper-bound"
    assert 0 < e.ci[1] < 1e-6 and e.ci[0] == 0.0
    assert res.extra["interval"] == "upper-bound" and res.extra["upper_bound_level"] >= 1
    assert res.extra["pilot_status"] == "stalled"
    assert math.isinf(e.bits) and e.bits_ci[0] == pytest.approx(-math.log2(e.ci[1]))


def test_unreachable_function_under_a_gaussian_prior_is_never_positive():
    # XOR is not linearly separable: no perceptron implements it, whatever its weights.
    res = cn.estimate_rare(cn.Gaussian(), cn.MLP(2, ()), "xor", seed=0, replicas=4, particles=200, max_levels=12,
                           devices=1)  # fmt: skip
    e = res.estimates[0]
    print(f"xor (perceptron): p = {e.p}, upper bound {e.ci[1]:.3g}, pilot {res.extra['pilot_status']}")
    assert e.p == 0.0 and e.method == "splitting-upper-bound" and 0 < e.ci[1] < 1
    assert res.extra["pilot_status"] in ("max_levels", "stalled")


@pytest.fixture(scope="module")
def gaussian_dead():
    return cn.estimate_rare(GAUSS, cn.MLP(1, (W_GAUSS,)), DEAD_GAUSS, seed=3, **DEAD_KW)


def test_gaussian_closed_form_below_1e_8(gaussian_dead):
    truth = dead_unit_probability(GAUSS.sigma_w, GAUSS.sigma_b) ** W_GAUSS
    assert 1e-9 < truth < 1e-8
    _check_covers(gaussian_dead, truth)
    x = gaussian_dead.extra
    assert x["move"] == "ess" and x["pilot_status"] == "reached" and x["n_levels"] >= 8
    # The trace is recorded; elliptical slice sampling moves every particle (rejection-free, no step to adapt).
    assert all(len(level.pilot_steps) == x["sweeps"] for level in x["levels"])
    assert all(level.acceptance > 0.99 and level.step == 1.0 for level in x["levels"])
    assert x["reliable"] and x["effective_replicas"] >= 30
    assert x["evaluations"] > 0 and x["speedup"] > 100
    assert x["mc_equivalent_evaluations"] == pytest.approx(
        (1 - gaussian_dead.estimates[0].p) / (gaussian_dead.estimates[0].p * x["relative_error"] ** 2)
    )


def test_uniform_closed_form_below_1e_6():
    truth = 0.25**W_UNIFORM
    res = cn.estimate_rare(cn.Uniform(1.5), cn.MLP(1, (W_UNIFORM,)), DEAD_UNIFORM, seed=0, **DEAD_KW)
    assert truth < 1e-6
    _check_covers(res, truth)
    assert res.extra["move"] == "reflected-walk"


MC_ARCH = cn.MLP(3, (4,))
MC_CASES = {  # (prior, target): MC samples; masses about 1.5e-5 (Gaussian) and 1.3e-3 (uniform)
    (cn.Gaussian(1.0, 1.0), "0x3d"): 4_000_000,
    (cn.Uniform(1.0), "0xc8"): 400_000,
}
MC_MEASURES = {target: M.implements(target) for _, target in MC_CASES}


@pytest.mark.slow
@pytest.mark.parametrize("prior, target", list(MC_CASES), ids=[f"{type(p).__name__}-{t}" for p, t in MC_CASES])
def test_against_plain_monte_carlo(prior, target):
    mc = cn.estimate_mc(prior, MC_ARCH, target, n_samples=MC_CASES[prior, target], seed=11, devices=1).estimates[0]
    res = cn.estimate_rare(prior, MC_ARCH, MC_MEASURES[target], seed=2, replicas=16, particles=500, devices=1)
    e = res.estimates[0]
    mc_rel = math.sqrt((1 - mc.p) / (mc.p * mc.n))
    z = abs(math.log(e.p / mc.p)) / math.hypot(mc_rel, res.extra["relative_error"])
    print(f"{target}: splitting {e.p:.4g} [{e.ci[0]:.4g}, {e.ci[1]:.4g}], plain MC {mc.p:.4g} "
          f"[{mc.ci[0]:.4g}, {mc.ci[1]:.4g}] ({mc.hits} hits of {mc.n}), z = {z:.2f}")  # fmt: skip
    assert z < 3, (e.p, mc.p, mc.hits, z)


# ----------------------------------------------------------------------------- coverage


def _coverage(z, truth, group, confidence):
    groups = np.asarray(z)[: len(z) // group * group].reshape(-1, group)
    hits = [statistics.replica_interval(g, confidence) for g in groups]
    return float(np.mean([r.lo <= truth <= r.hi for r in hits])), len(hits)


@pytest.mark.slow
def test_interval_coverage_at_least_nominal_on_a_known_truth(lattice_truth):
    # Replicas are i.i.d. given the pilot, so groups of 16 are independent runs of 16
    # replicas; two seeds give two pilots. Truth: the rarest lattice function, exactly
    # (docs/rare-events.md reports a larger study, benchmarks/splitting_coverage.py).
    # Groups of 16 are below the reliability rule (30 effective replicas), so no such interval is ever quoted; the
    # check keeps its original subject, coordinate resampling. The default lattice move (unit-gibbs) covers 41 of 60
    # groups at 0.8 here and is checked where the rule applies, by benchmarks/coverage_study.py (docs/rare-events.md).
    truth = lattice_truth["0x7e"]
    zs = [cn.estimate_rare(LATTICE, LATTICE_ARCH, LATTICE_MEASURES["0x7e"], **{**LATTICE_KW, "seed": seed,
                           "replicas": 480, "move": "coordinate-resample"}).extra["replica_estimates"]
          for seed in (5, 6)]  # fmt: skip
    for confidence in (0.8, 0.95):
        rates = [_coverage(z, truth, 16, confidence) for z in zs]
        n = sum(k for _, k in rates)
        rate = sum(r * k for r, k in rates) / n
        print(f"coverage at {confidence}: {rate:.3f} over {n} groups of 16 replicas")
        assert rate >= confidence - 2 * math.sqrt(confidence * (1 - confidence) / n)


def test_replica_interval_is_the_documented_formula():
    z = np.array([1.0, 3.0, 2.0, 6.0]) * 1e-9
    r = statistics.replica_interval(z, 0.9)
    e = z.std(ddof=1) / (z.mean() * 2)
    t = stats.t.ppf(0.95, 3)
    assert (r.mean, r.relative_error) == pytest.approx((z.mean(), e))
    assert (r.lo, r.hi) == pytest.approx((z.mean() * math.exp(-t * e), z.mean() * math.exp(t * e)))
    assert statistics.replica_interval([0.0, 0.0]).mean == 0.0
    with pytest.raises(cn.CountnetsError, match="at least 2"):
        statistics.replica_interval([1.0])


def test_upper_bound_construction():
    # Two replicas pass level 1 (fractions 0.5 and 0.25), none passes level 2.
    bound, level = replicas.upper_bound([[50, 0], [25, 0]], 100, 0.9)
    first = statistics.replica_interval([0.5, 0.25], 0.9).hi
    assert level == 1 and bound == pytest.approx(min(1.0, first) * (1 - 0.05 ** (1 / 200)))
    bound, level = replicas.upper_bound([[0, 0], [0, 0]], 100, 0.9)
    assert level == 0 and bound == pytest.approx(1 - 0.05 ** (1 / 200))


# ----------------------------------------------------------------------------- the final population

FITS = M.fits([0, 3, 5], "0x28")


@pytest.mark.slow
def test_conditional_prior_from_the_population_matches_rejection_sampling():
    prior, arch = cn.Gaussian(1.0, 1.0), cn.MLP(3, (4,))
    res = cn.estimate_rare(prior, arch, FITS, seed=1, replicas=16, particles=500, devices=1, conditional=M.table())
    ref = cn.histogram_mc(prior, arch, n_samples=300_000, seed=9, where=FITS, top=None, devices=1)
    fit = sum(ref.histogram.values())
    mc_p = fit / ref.samples
    e = res.estimates[0]
    mc_rel = math.sqrt((1 - mc_p) / (mc_p * ref.samples))
    assert abs(math.log(e.p / mc_p)) < 3 * math.hypot(mc_rel, res.extra["relative_error"])
    rows = {r.key: r for r in res.extra["conditional"]}
    assert sum(r.conditional for r in rows.values()) == pytest.approx(1.0)
    assert sum(r.joint for r in rows.values()) == pytest.approx(e.p)
    # Every function's conditional mass agrees with rejection sampling's within both errors.
    for f, count in ref.histogram.items():
        q = count / fit
        row = rows.get(f)
        if q < 0.02:
            continue
        assert row is not None, f
        se_mc = math.sqrt(q * (1 - q) / fit)
        half = (row.conditional_ci[1] - row.conditional_ci[0]) / 2
        assert abs(row.conditional - q) <= 3 * math.hypot(se_mc, half / 1.96), (f, row, q)
    tv = 0.5 * sum(abs((rows[k].conditional if k in rows else 0.0) - ref.histogram.get(k, 0) / fit)
                   for k in set(rows) | set(ref.histogram))  # fmt: skip
    print(f"P(f | S): total variation between splitting and rejection sampling {tv:.3f}")
    assert tv < 0.1


def test_sample_rare_population_lies_in_the_event():
    arch = cn.MLP(1, (W_GAUSS,))
    pop = cn.sample_rare(GAUSS, arch, DEAD_GAUSS, seed=3, **DEAD_KW)
    assert pop.theta.shape == (64, 500, arch.n_params) and pop.weights.shape == (64,)
    assert pop.result.estimates[0].p == pytest.approx(pop.weights.mean())
    # Every particle of the final populations has all 10 units dead: b <= -|w| per unit.
    params = arch.unflatten(pop.theta)
    w, b = np.asarray(params["W1"])[..., 0, :], np.asarray(params["b1"])
    assert np.all(b <= -np.abs(w) + 1e-6)
    # Conditional expectations: given the event, P(w_0 > 0) = 1/2 by symmetry.
    assert pop.expectation(w[..., 0] > 0) == pytest.approx(0.5, abs=0.1)


def test_same_seed_same_result_as_estimate_rare(gaussian_dead):
    pop = cn.sample_rare(GAUSS, cn.MLP(1, (W_GAUSS,)), DEAD_GAUSS, seed=3, **DEAD_KW)
    assert pop.weights.tolist() == gaussian_dead.extra["replica_estimates"]


# ----------------------------------------------------------------------------- reproducibility


def test_identical_on_8_devices_other_chunking_and_after_resume(tmp_path):
    prior, arch, m = LATTICE, LATTICE_ARCH, LATTICE_MEASURES["0x7"]
    kw = dict(seed=4, replicas=12, particles=500, encoding="pm1")
    ref = cn.estimate_rare(prior, arch, m, devices=1, **kw)
    z = ref.extra["replica_estimates"]
    # 8 devices and 2 replicas per chunk (instead of 1 device and 4): the same replicas, bit for bit.
    eight = cn.estimate_rare(prior, arch, m, replicas_per_chunk=2, **kw)
    assert eight.device_count == 8 and eight.extra["replica_estimates"] == z
    path = tmp_path / "split.ckpt"
    part = cn.estimate_rare(prior, arch, m, devices=1, max_seconds=1e-9, checkpoint=path, **kw)
    assert part.stopped_by == "time" and part.samples == 4
    resumed = cn.estimate_rare(prior, arch, m, devices=1, checkpoint=path, **kw)
    assert resumed.extra["replica_estimates"] == z and resumed.estimates == ref.estimates
    assert resumed.extra["checkpoint"]["resumed_from"] == 4
    with pytest.raises(cn.CountnetsError, match="seed is 4 in the checkpoint but 5 now"):
        cn.estimate_rare(prior, arch, m, devices=1, checkpoint=path, **{**kw, "seed": 5})


def test_rel_halfwidth_adds_replicas_until_met():
    res = cn.estimate_rare(LATTICE, LATTICE_ARCH, LATTICE_MEASURES["0x7"], seed=4, particles=500, encoding="pm1",
                           devices=1, rel_halfwidth=0.15)  # fmt: skip
    e = res.estimates[0]
    assert res.stopped_by == "rel_halfwidth" and res.samples >= splitting.MIN_REPLICAS_TO_STOP
    assert (e.ci[1] - e.ci[0]) / 2 <= 0.15 * e.p


def test_json_round_trip(tmp_path, gaussian_dead):
    path = tmp_path / "r.json"
    cn.save_json(gaussian_dead, path)
    data = json.loads(path.read_text())
    assert data["method"] == "splitting" and data["kind"] == "estimate-splitting"
    assert len(data["levels"]) == data["n_levels"]
    back = cn.load_json(path)
    assert back == gaussian_dead
    assert type(back.extra).__name__ == "SplittingPayload"


# ----------------------------------------------------------------------------- bad input


class _HeavyTailed(cn.Gaussian):
    """A prior countnets has no invariant move for (it could sample another law than its base class)."""


@pytest.mark.parametrize(
    "call, phrase",
    [
        (lambda: cn.estimate_rare(GAUSS, LATTICE_ARCH, M.table()), "needs a measure with a score; table"),
        (lambda: cn.estimate_rare(_HeavyTailed(), LATTICE_ARCH, "and"), "invariant move .* got _HeavyTailed"),
        (lambda: cn.estimate_rare(GAUSS, LATTICE_ARCH, 0x1FF), "out of range for n=3"),
        (lambda: cn.estimate_rare(GAUSS, LATTICE_ARCH, "0x1ff"), "n=3"),
        (lambda: cn.estimate_rare(GAUSS, LATTICE_ARCH, "and", replicas=1), "replicas >= 2"),
        (lambda: cn.estimate_rare(GAUSS, LATTICE_ARCH, "and", level_fraction=1.0), "level_fraction must be in"),
        (lambda: cn.estimate_rare(GAUSS, LATTICE_ARCH, "and", conditional=M.implements("or")), "with a key"),
        (lambda: cn.estimate_rare(GAUSS, LATTICE_ARCH, "and", encoding="x"), "encoding"),
    ],
)
def test_bad_input_is_refused_with_one_line(call, phrase):
    with pytest.raises(cn.CountnetsError, match=phrase) as err:
        call()
    assert "\n" not in str(err.value)


def test_moves_leave_their_prior_invariant():
    """One proposal from prior samples gives prior samples (every proposal accepted, i.e. level -inf)."""
    import jax

    layout = cn.MLP(2, (3,)).layout()
    from countnets.engine.driver import seed_key

    key = seed_key(0)
    rng = np.random.default_rng(0)
    n = 20_000
    for prior, name in ((cn.Gaussian(1.0, 0.5), "pcn"), (cn.Uniform(2.0), "reflected-walk"),
                        (cn.Lattice((-1.0, 0.5, 2.0)), "coordinate-resample")):  # fmt: skip
        move = moves.invariant_move(prior, layout, name)
        if isinstance(prior, cn.Gaussian):
            draw = lambda: rng.normal(size=(n, 13)) * prior.scales(layout)  # noqa: E731
        elif isinstance(prior, cn.Uniform):
            draw = lambda: rng.uniform(-prior.bound, prior.bound, (n, 13))  # noqa: E731
        else:
            draw = lambda: rng.choice(np.float32(prior.values), (n, 13))  # noqa: E731
        propose = jax.jit(move.propose)
        for step in (move.min_step * 10, move.max_step):
            out = np.asarray(propose(key, draw().astype(np.float32), np.float32(step)))
            fresh = draw()
            for col in (0, 7, 12):
                ks = stats.ks_2samp(out[:, col], fresh[:, col]).pvalue
                assert ks > 1e-4, (prior, step, col, ks)
            if isinstance(prior, cn.Lattice):
                assert set(np.unique(out)) <= set(np.float32(prior.values))
            if isinstance(prior, cn.Uniform):
                assert np.all(np.abs(out) <= prior.bound)


# ----------------------------------------------------------------------------- retry with more particles


def test_a_run_not_determined_is_rerun_with_more_particles_and_reports_both():
    m, kw = LATTICE_MEASURES["0x7"], dict(seed=1, replicas=32, encoding="pm1", devices=1)
    first = cn.estimate_rare(LATTICE, LATTICE_ARCH, m, particles=10, retry_factor=1, **kw)
    assert first.extra.reliable is False and first.extra.pilot_status == "reached" and first.extra.attempts is None
    retried = cn.estimate_rare(LATTICE, LATTICE_ARCH, m, particles=10, retry_factor=4, **kw)
    # The rerun is exactly the run with 4x the particles and pilot particles, the same seed: reproducible.
    direct = cn.estimate_rare(LATTICE, LATTICE_ARCH, m, particles=40, pilot_particles=80, retry_factor=1, **kw)
    x = retried.extra
    assert x.particles == 40 and x.pilot_particles == 80 and x.retry_factor == 4
    assert retried.estimates == direct.estimates and x.replica_estimates == direct.extra.replica_estimates
    (attempt,) = x.attempts
    assert attempt.particles == 10 and attempt.p == first.estimates[0].p
    assert attempt.effective_replicas == first.extra.effective_replicas
    assert attempt.unreliable_reasons == first.extra.unreliable_reasons
    # Its cost counts: evaluations and seconds are both attempts'.
    assert x.evaluations == direct.extra.evaluations + first.extra.evaluations
    assert retried.seconds > attempt.seconds
    # A run with fewer replicas than the rule's count is not rerun: no particle count could make it pass.
    few = cn.estimate_rare(LATTICE, LATTICE_ARCH, m, particles=10, retry_factor=4, **{**kw, "replicas": 16})
    assert few.extra.attempts is None and few.extra.particles == 10


def test_retry_checkpoints_resume_both_attempts(tmp_path):
    m, kw = LATTICE_MEASURES["0x7"], dict(seed=1, replicas=32, particles=10, encoding="pm1", devices=1)
    ref = cn.estimate_rare(LATTICE, LATTICE_ARCH, m, **kw)
    path = tmp_path / "split.ckpt"
    again = cn.estimate_rare(LATTICE, LATTICE_ARCH, m, checkpoint=path, **kw)
    assert again.extra.attempts is not None and (tmp_path / "split.ckpt.particles-40").exists()
    resumed = cn.estimate_rare(LATTICE, LATTICE_ARCH, m, checkpoint=path, **kw)
    assert resumed.estimates == ref.estimates and resumed.extra.replica_estimates == ref.extra.replica_estimates
    assert resumed.extra.checkpoint["resumed_from"] == 32


def test_retry_factor_is_checked():
    with pytest.raises(cn.CountnetsError, match="retry_factor"):
        cn.estimate_rare(GAUSS, LATTICE_ARCH, "and", retry_factor=0)


def test_a_stalled_pilot_whose_replicas_reached_the_event_is_rerun():
    # A replica that reached the event proves it reachable: the stalled pilot gets four times the particles.
    m, kw = LATTICE_MEASURES["0x6"], dict(seed=1, replicas=32, particles=20, encoding="pm1", devices=1)
    first = cn.estimate_rare(LATTICE, LATTICE_ARCH, m, retry_factor=1, **kw)
    assert first.extra.pilot_status == "stalled" and first.estimates[0].p > 0 and not first.extra.reliable
    retried = cn.estimate_rare(LATTICE, LATTICE_ARCH, m, retry_factor=4, **kw)
    assert retried.extra.particles == 80 and retried.extra.attempts[0].particles == 20
