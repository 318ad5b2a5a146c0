"""Issue 25: moves that mix (elliptical slice sampling, a lattice unit's exact conditional) and the reliability rule.

The moves are checked against the law they must leave invariant: the prior (at level
-inf) and the prior restricted to an event (samples by plain rejection, moved, compared
with fresh rejection samples). The rule is checked against hand-computed weights.
"""

import contextlib
import io
import math

import jax
import numpy as np
import pytest
from repo_script import load_script
from scipy import stats

import countnets as cn
from countnets import cli
from countnets import measures as M
from countnets.network.architectures import GoalNet
from countnets.rare import moves
from countnets.stats import reliability


def _key():
    from countnets.engine.driver import seed_key

    return seed_key(3)


def _score_fn(arch, measure, encoding):
    x = cn.cube(arch.n, encoding)

    def one(theta):
        return measure.score(arch, arch.unflatten(theta), x, "highest").astype(np.float32)

    return jax.vmap(one)


def _rejection(prior, arch, measure, encoding, n, seed):
    # Exact samples of the prior restricted to the event: prior draws kept when the event holds.
    theta = np.asarray(prior.sample(_key_of(seed), 0, 100 * n, arch.layout()))
    x = cn.cube(arch.n, encoding)
    hit = np.asarray(jax.vmap(lambda t: measure.event(arch, arch.unflatten(t), x, "highest"))(theta))
    kept = theta[hit]
    assert len(kept) >= n, len(kept)
    return kept[:n]


def _key_of(seed):
    from countnets.engine.driver import seed_key

    return seed_key(seed)


CASES = [
    ("ess", cn.Gaussian(1.0, 1.0), "pm1", cn.MLP(2, (3,))),
    ("unit-gibbs", cn.Lattice((-1.0, 0.0, 1.0)), "01", cn.MLP(2, (3,))),
    ("lin-ess", cn.Gaussian(1.0, 1.0), "pm1", cn.MLP(2, (3,))),  # readout moves alternate with ESS
    ("lin-ess", cn.Gaussian(1.0, 1.0), "pm1", cn.MLP(2, ())),  # a perceptron: the readout move alone
]
IDS = [f"{c[0]}-{c[3].name}" for c in CASES]


@pytest.mark.parametrize("name, prior, encoding, arch", CASES, ids=IDS)
def test_a_move_leaves_the_prior_restricted_to_the_event_invariant(name, prior, encoding, arch):
    measure = M.implements("and")
    level = np.float32(measure.level(arch))
    move = moves.move_for(prior, arch, measure, name, encoding, "highest")
    score_fn = _score_fn(arch, measure, encoding)
    start = _rejection(prior, arch, measure, encoding, 3000, 1)
    transition = jax.jit(lambda k, t, s, sweep: move.transition(k, t, s, level, np.float32(1.0), score_fn, sweep))
    theta, scores = start, score_fn(start)
    for sweep in range(6):
        theta, scores, moved = transition(moves.subkey(_key(), sweep), theta, scores, sweep)
        assert int(moved) > 0
    theta = np.asarray(theta)
    assert np.all(np.asarray(scores) >= level)  # never leaves the event
    fresh = _rejection(prior, arch, measure, encoding, 3000, 2)
    changed = np.mean(np.any(theta != start, axis=1))
    assert changed > 0.5, changed  # it moves
    pvalues = [stats.ks_2samp(theta[:, c], fresh[:, c]).pvalue for c in range(arch.n_params)]
    if isinstance(prior, cn.Lattice):  # discrete: compare the value frequencies

        def counts(c):  # value frequencies of coordinate c in both samples (plus one, so no column is empty)
            return np.array([[np.sum(col == v) for v in prior.values] for col in (theta[:, c], fresh[:, c])]) + 1

        pvalues = [stats.chi2_contingency(counts(c)).pvalue for c in range(arch.n_params)]
    # Holm over the coordinates, family-wise level 0.001.
    assert min(pvalues) * len(pvalues) > 1e-3, pvalues


@pytest.mark.parametrize("name, prior, encoding, arch", CASES, ids=IDS)
def test_at_level_minus_infinity_a_move_leaves_the_prior_invariant(name, prior, encoding, arch):
    move = moves.move_for(prior, arch, M.implements("and"), name, encoding, "highest")
    theta = np.asarray(prior.sample(_key_of(5), 0, 20_000, arch.layout()))
    score_fn = _score_fn(arch, M.implements("and"), encoding)
    out, _, _ = jax.jit(lambda t: move.transition(_key(), t, score_fn(t), -np.inf, np.float32(1.0), score_fn, 1))(theta)
    out = np.asarray(out)
    fresh = np.asarray(prior.sample(_key_of(6), 0, 20_000, arch.layout()))
    for c in sorted({0, arch.n_params // 2, arch.n_params - 1}):
        if isinstance(prior, cn.Lattice):
            table = [[np.sum(col == v) for v in prior.values] for col in (out[:, c], fresh[:, c])]
            assert stats.chi2_contingency(table).pvalue > 1e-4, c
        else:
            assert stats.ks_2samp(out[:, c], fresh[:, c]).pvalue > 1e-4, c


def test_lin_ess_between_two_counts_keeps_the_prior_restricted_to_the_level():
    # A level with a fractional part: the arcs hold count >= 3, the accept step the tie-break (score >= 3.3).
    arch, measure, prior, level = cn.MLP(2, ()), M.implements("and"), cn.Gaussian(1.0, 1.0), np.float32(3.3)
    score_fn = _score_fn(arch, measure, "pm1")

    def restricted(seed):
        theta = np.asarray(prior.sample(_key_of(seed), 0, 40_000, arch.layout()))
        return theta[np.asarray(score_fn(theta)) >= level][:3000]

    start, fresh = restricted(11), restricted(12)
    assert len(start) == len(fresh) == 3000
    move = moves.move_for(prior, arch, measure, "lin-ess", "pm1", "highest")
    step = jax.jit(lambda k, t, s: move.transition(k, t, s, level, np.float32(1.0), score_fn, 0))
    theta, scores = start, score_fn(start)
    for sweep in range(4):
        theta, scores, moved = step(moves.subkey(_key(), sweep), theta, scores)
        assert 0 < int(moved) < len(start)  # it moves, and the tie-break rejects some proposals
    assert np.all(np.asarray(scores) >= level)
    theta = np.asarray(theta)
    pvalues = [stats.ks_2samp(theta[:, c], fresh[:, c]).pvalue for c in range(arch.n_params)]
    assert min(pvalues) * len(pvalues) > 1e-3, pvalues


def test_lin_ess_needs_a_score_that_counts_agreeing_points():
    arch = cn.MLP(1, (2,))
    with pytest.raises(cn.CountnetsError, match="the move 'lin-ess' needs a measure whose score counts agreeing"):
        cn.estimate_rare(cn.Gaussian(), arch, M.unit_dead(0, 0), move="lin-ess")
    with pytest.raises(cn.CountnetsError, match="the move 'lin-ess' does not apply to a Lattice prior"):
        cn.estimate_rare(cn.Lattice((-1.0, 1.0)), arch, "and", move="lin-ess")


def test_and_of_six_on_the_perceptron_is_determined_and_covered_with_lin_ess():
    # The reference integrates the bias exactly inside a Monte Carlo average over the weights (numpy, no engine).
    from countnets.bench.references import perceptron_and_pm1

    ref, se = perceptron_and_pm1(6)
    r = cn.estimate_rare(cn.Gaussian(1.0, 1.0), cn.MLP(6, ()), "and", encoding="pm1", move="lin-ess", seed=0,
                         replicas=40, particles=200, confidence=0.999)  # fmt: skip
    lo, hi = r.estimates[0].ci
    assert r.extra.move == "lin-ess" and r.extra.reliable, r.extra.unreliable_reasons
    assert lo <= ref + 4 * se and ref - 4 * se <= hi, (lo, hi, ref)


@pytest.mark.parametrize("arch", [cn.MLP(3, (4, 2)), cn.MLP(2, ()), cn.ResMLP(n=3, d=4, L=2, w=2), GoalNet(3, 2)])
def test_unit_blocks_cover_every_parameter_once(arch):
    blocks = moves.unit_blocks(arch.layout())
    flat = np.sort(np.concatenate(blocks))
    assert flat.tolist() == list(range(arch.n_params))


def test_a_move_that_does_not_apply_is_one_line():
    layout = cn.MLP(2, (2,)).layout()
    with pytest.raises(cn.CountnetsError, match="the move 'ess' does not apply to a Lattice prior; its moves are"):
        moves.invariant_move(cn.Lattice((-1.0, 1.0)), layout, "ess")
    with pytest.raises(cn.CountnetsError, match="unknown move 'hmc'"):
        moves.invariant_move(cn.Gaussian(), layout, "hmc")

    class Wide(cn.Gaussian):  # another law: no move of countnets is invariant for it
        pass

    with pytest.raises(cn.CountnetsError, match="needs a prior with an invariant move"):
        moves.invariant_move(Wide(), layout, "ess")
    with pytest.raises(cn.CountnetsError, match="move must be one of"):
        cn.estimate_rare(cn.Gaussian(), cn.MLP(2, (2,)), "and", move="hmc")
    code, err = _cli(["estimate", "--n", "2", "--hidden", "2", "--targets", "and", "--method", "splitting",
                      "--prior", "lattice", "--values", "-1,1", "--move", "ess"])  # fmt: skip
    assert code == 2 and err.startswith("countnets: error: the move 'ess' does not apply to a Lattice prior")


def _cli(argv):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()) as out:
        code = cli.main(argv)
    return code, err.getvalue() + out.getvalue() if code == 0 else err.getvalue()


# ----------------------------------------------------------------------------- the reliability rule


def test_kish_and_the_rule_on_hand_computed_weights():
    assert reliability.effective_replicas([1.0, 1.0, 2.0]) == pytest.approx(16 / 6)
    assert reliability.effective_replicas([1e-300, 1e-300]) == pytest.approx(2.0)  # no underflow
    even = reliability.assess([2e-9] * 30, pilot_status="reached")
    assert even.reliable and even.effective_replicas == pytest.approx(30.0)
    assert even.max_replica_share == pytest.approx(1 / 30)
    short = reliability.assess([2e-9] * 29, pilot_status="reached")
    assert not short.reliable and "29.0 effective replicas of 29 (the rule needs 30)" in short.unreliable_reasons[0]
    stalled = reliability.assess([2e-9] * 40, pilot_status="stalled")
    assert not stalled.reliable and stalled.unreliable_reasons[0].startswith("the pilot stalled before the event")
    assert reliability.assess([0.0] * 40, pilot_status="reached").extinct_replicas == 40
    # Well-mixed reference: sum_k (1 - p_k) / (N p_k).
    assert reliability.well_mixed_relative_variance([0.5, 0.25], 100) == pytest.approx(0.5 / 50 + 0.75 / 25)


def test_markov_lower_bound_holds_for_a_heavy_tailed_unbiased_estimator():
    # p_hat = mean of R draws of Z with P(Z = 1/q) = q, else 0 (mean 1): P(p > alpha p_hat) >= 1 - alpha.
    rng = np.random.default_rng(0)
    q, alpha = 1e-3, 0.05
    p_hat = (rng.random((20_000, 8)) < q).mean(axis=1) / q
    holds = np.mean(alpha * p_hat < 1.0)
    assert holds >= 1 - alpha
    assert reliability.markov_lower_bound(2.0, 0.95) == pytest.approx((0.1, 1.0))


LATTICE_ARCH = cn.MLP(3, (2,))


def test_a_run_with_too_few_effective_replicas_is_not_determined_and_says_why():
    # 8 replicas can never carry 30 effective ones: the estimate stays, the interval is Markov's one-sided one.
    r = cn.estimate_rare(cn.Lattice((-1.0, 0.0, 1.0)), LATTICE_ARCH, "0x7e", seed=0, replicas=8, particles=200,
                         encoding="pm1", devices=1)  # fmt: skip
    e, x = r.estimates[0], r.extra
    assert x.reliable is False and x.effective_replicas <= 8 and "raise --replicas" in x.unreliable_reasons[0]
    assert e.method == "splitting-markov" and e.ci == pytest.approx((0.05 * e.p, 1.0)) and e.p > 0
    data = cn.results.to_json(r)
    assert {"reliable", "unreliable_reasons", "effective_replicas"} <= set(data) and "estimates" in data
    assert [lv.ancestors for lv in x.levels][0] <= 200 and x.levels[-1].ancestors >= 1
    assert x.well_mixed_relative_variance > 0 and math.isfinite(x.relative_variance)


def test_the_cli_prints_one_line_saying_why_and_exits_0():
    argv = ["estimate", "--n", "3", "--hidden", "2", "--prior", "lattice", "--values", "-1,0,1", "--encoding", "pm1",
            "--targets", "0x7e", "--method", "splitting", "--replicas", "8", "--particles", "200",
            "--devices", "1"]  # fmt: skip
    code, text = _cli(argv)
    lines = [ln for ln in text.splitlines() if ln.startswith("not determined")]
    assert code == 0 and len(lines) == 1 and "effective replicas of 8" in lines[0] and "raise --replicas" in lines[0]


# ----------------------------------------------------------------------------- inputs up to n = 12


def test_twelve_inputs_estimate_against_a_numpy_forward_pass():
    # The constant-0 function of an MLP 12-3-1 on all 4,096 pm1 points, counted by the engine and by plain numpy
    # on the same parameters (chunk 0 of the seed); they may differ only by networks within the margin of 0.
    from countnets.engine.driver import seed_key

    arch, prior, n = cn.MLP(12, (3,)), cn.Gaussian(1.0, 1.0), 4096
    r = cn.estimate_mc(prior, arch, ["0x0"], n_samples=n, seed=0, encoding="pm1", chunk_size=n)
    theta = np.asarray(jax.jit(lambda k: prior.sample(k, 0, n, arch.layout()))(seed_key(0)), np.float64)
    W1, b1, W2, b2 = theta[:, :36].reshape(n, 12, 3), theta[:, 36:39], theta[:, 39:42], theta[:, 42]
    j = np.arange(2**12)
    x = np.stack([2.0 * ((j >> i) & 1) - 1 for i in range(12)], axis=1)
    h = np.maximum(np.einsum("pi,nih->nph", x, W1) + b1[:, None, :], 0.0)
    y = np.einsum("nph,nh->np", h, W2) + b2[:, None]
    reference = int(np.sum(np.all(y <= 0, axis=1)))
    e = r.estimates[0]
    assert abs(e.hits - reference) <= r.near_threshold and 0 < reference < n


def test_past_twelve_inputs_and_histograms_past_eight_are_one_line_errors():
    with pytest.raises(cn.CountnetsError, match=r"n \(number of inputs\) must be in 1..12, got 13"):
        cn.MLP(13, (2,))
    with pytest.raises(cn.CountnetsError, match="takes n <= 8, got n=9; estimate given targets instead"):
        cn.histogram_mc(cn.Gaussian(), cn.MLP(9, (2,)), n_samples=100, seed=0)
    code, err = _cli(["histogram", "--n", "10", "--hidden", "2", "--samples", "100"])
    assert code == 2 and "takes n <= 8, got n=10" in err and len(err.strip().splitlines()) == 1
    code, err = _cli(["estimate", "--n", "13", "--targets", "and"])
    assert code == 2 and "1..12" in err


def test_many_seeds_in_one_process_compile_once():
    # The same call as a user writes, a function given by name, for several seeds: the pilot's steps (resampling,
    # sweeps, the mixing check's outputs) and the replicas' step are compiled for the first seed only.
    from countnets.rare import pilot, replica_step

    def sizes():
        steps = (pilot._pilot_init, pilot._pilot_resample, pilot._pilot_sweeps, pilot._pilot_outputs,
                 replica_step._replica_step)  # fmt: skip
        return [step._cache_size() for step in steps]

    kw = dict(replicas=8, particles=50, encoding="pm1", devices=1)
    prior, arch = cn.Lattice((-1.0, 0.0, 1.0)), cn.MLP(3, (2,))
    cn.estimate_rare(prior, arch, "0x7e", seed=0, **kw)
    first = sizes()
    for seed in (1, 2, 3):
        cn.estimate_rare(prior, arch, "0x7e", seed=seed, **kw)
    assert sizes() == first


def test_the_docs_quote_the_committed_coverage_study():
    # docs/rare-events.md's coverage table is benchmarks/coverage_study.py's markdown of the committed JSON, and
    # every case's summary is what its runs give.
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    study = load_script("benchmarks/coverage_study.py")
    report = json.loads((root / "benchmarks" / "results" / "coverage-study-cpu-2026-12-07.json").read_text())
    from countnets.stats import tolerance

    for case in report["cases"].values():
        recomputed = json.loads(json.dumps(study.summarise(case["runs"], case["truth"])))
        assert tolerance.mismatches(case["summary"], recomputed) == []
    assert study.markdown(report) in (root / "docs" / "rare-events.md").read_text()


def test_the_docs_quote_the_committed_structured_benchmark():
    # docs/rare-events.md's table of older against newer moves is the benchmark's markdown of its committed JSON.
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    bench = load_script("benchmarks/test_bench_structured.py")
    report = json.loads((root / "benchmarks" / "results" / "splitting-structured-cpu-2026-12-07.json").read_text())
    assert bench.markdown(report) in (root / "docs" / "rare-events.md").read_text()
    assert not any(r["reliable"] is False and f"{r['ci'][1]:.3g}]" in bench.markdown(report) for r in report["rows"])


def test_the_docs_quote_the_committed_and_of_n_runs():
    # docs/rare-events.md's AND_n table is benchmarks/and_perceptron.py's markdown of its committed JSON, and each
    # row's verdict is what its numbers say.
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    script = load_script("benchmarks/and_perceptron.py")
    report = json.loads((root / "benchmarks" / "results" / "and-perceptron-cpu-2026-12-07.json").read_text())
    assert {(r["n"], r["move"]) for r in report["rows"]} >= {(10, "ess"), (12, "ess")}
    for r in report["rows"]:
        assert r["holds_reference"] == (r["ci"][0] <= r["reference"] <= r["ci"][1])
    assert script.markdown(report) in (root / "docs" / "rare-events.md").read_text()


@pytest.mark.parametrize("arch, size", [(cn.MLP(3, (4, 2)), 3), (cn.MLP(3, ()), 4),
                                        (cn.ResMLP(n=3, d=4, L=2, w=2), 5), (GoalNet(3, 2), 3)])  # fmt: skip
def test_the_output_is_linear_and_homogeneous_in_the_readout_block(arch, size):
    # What lin-ess relies on: with the rest fixed, y(r cos phi + nu sin phi) = cos phi y(r) + sin phi y(nu).
    from countnets.network.architectures import apply_flat_batch, readout_indices

    idx = readout_indices(arch)
    rng = np.random.default_rng(0)
    theta, nu = rng.normal(size=(2, 8, arch.n_params)).astype(np.float32)
    x, phi = cn.cube(arch.n, "pm1"), 0.7
    mixed, swapped = theta.copy(), theta.copy()
    mixed[:, idx] = np.cos(phi) * theta[:, idx] + np.sin(phi) * nu[:, idx]
    swapped[:, idx] = nu[:, idx]
    y = [np.asarray(apply_flat_batch(arch, t, x)) for t in (theta, swapped, mixed)]
    np.testing.assert_allclose(y[2], np.cos(phi) * y[0] + np.sin(phi) * y[1], rtol=1e-4, atol=1e-4)
    assert idx.tolist() == list(range(arch.n_params - size, arch.n_params))  # the output weights and bias


def test_lin_ess_on_a_training_set_agrees_with_plain_monte_carlo():
    # fits(S) counts agreeing points of S only: lin-ess reads the measure's own points and labels.
    prior, arch, measure = cn.Gaussian(1.0, 1.0), cn.MLP(3, (4,)), M.fits([0, 3, 5, 6, 7], "0x96")
    mc = cn.estimate_mc(prior, arch, measure, n_samples=1 << 18, seed=4, devices=1, confidence=0.999).estimates[0]
    r = cn.estimate_rare(prior, arch, measure, move="lin-ess", seed=4, replicas=40, particles=200, confidence=0.999,
                         devices=1)  # fmt: skip
    e = r.estimates[0]
    assert r.extra.reliable, r.extra.unreliable_reasons
    assert e.ci[0] <= mc.ci[1] and mc.ci[0] <= e.ci[1], (e.p, e.ci, mc.p, mc.ci)


def test_docs_quote_the_xor_mixing_runs():
    # docs/rare-events.md's XOR-and-XOR effective replicas are the committed JSON's, and its summary holds.
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    report = json.loads((root / "benchmarks" / "results" / "xor-mixing-cpu-2026-12-07.json").read_text())
    text = (root / "docs" / "rare-events.md").read_text().replace("\n", " ")
    kish = [f"{r['effective_replicas']:.1f}" for r in report["runs"]]
    assert ", ".join(kish[:-1]) + " and " + kish[-1] + " of 64" in text
    assert f"median {report['summary']['median_effective_replicas']:.1f}" in text
    assert report["summary"]["at_least_half"] == report["summary"]["runs"] == report["summary"]["determined"]
