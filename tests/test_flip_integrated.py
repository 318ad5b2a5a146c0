"""Issue 29's run: crossings with missing points, Lambda*'s rule, the samplers against importance sampling,
resumable units, the analysis and the command line."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from countnets import results
from countnets._errors import CountnetsError
from countnets.cli import main
from countnets.engine.driver import seed_key
from countnets.experiments.flip_decisive import censored, integrated, langevin, tilt_smc
from countnets.experiments.flip_decisive import integrated_plan as ip
from countnets.experiments.flip_decisive.grouped import random_intercept_regression
from countnets.experiments.flip_decisive.integrated_analysis import integrated_summary, verdict
from countnets.experiments.flip_decisive.integrated_groups import choose_flips
from countnets.experiments.flip_decisive.integrated_training import integrated_pressure
from countnets.network import boolean
from countnets.network.architectures import MLP, apply_flat_batch
from countnets.network.priors import Gaussian
from countnets.train.trainer import TrainingSet

PRIOR, ARCH = Gaussian(1.0, 1.0), MLP(4, (8,), "relu")


# --------------------------------------------------------------------------- crossings and Lambda*


def test_missing_points_are_left_out_not_flipped():
    lams = [1.0, 2.0, 4.0, 8.0]
    # no run on A or B at lambda 1: with skip_missing the pair is known only to lie below 2
    assert censored.isotonic_crossing(lams, [0, 0, 5, 0], [0, 5, 5, 10], skip_missing=True) == (2.0, 0.0, 2.0)
    # v1 behaviour kept without it: the empty first point takes its neighbour's value
    assert censored.isotonic_crossing(lams, [0, 0, 5, 0], [0, 5, 5, 10]) == (1.0, 0.0, 1.0)
    # an empty middle point is skipped: the crossing interpolates between its neighbours
    est, lo, hi = censored.isotonic_crossing(lams, [10, 0, 0, 0], [0, 0, 0, 10], skip_missing=True)
    assert est == pytest.approx(math.sqrt(8.0)) and lo == hi == est
    assert censored.isotonic_crossing(lams, [0, 3, 0, 0], [0, 1, 0, 0], skip_missing=True) == (math.inf, 2.0, math.inf)


def _star(v, kind=None, bound=None):
    return {"estimate": v, "censored": kind, "bound": bound or [v, v]}


def test_integrated_pressure_follows_the_plan_rule():
    exact = integrated_pressure({"300": _star(0.01), "1000": _star(0.004), "3000": _star(0.001)}, 2.0)
    assert exact["kind"] == "exact" and exact["determined"] and exact["ratio"] == pytest.approx(4 / 3)
    assert exact["value"] == pytest.approx((3.0 * 4.0 * 3.0) ** (1 / 3))
    unstable = integrated_pressure({"300": _star(0.01), "3000": _star(0.01)}, 2.0)
    assert unstable["kind"] == "exact" and not unstable["determined"] and unstable["ratio"] == pytest.approx(10)
    right = integrated_pressure({"300": _star(math.inf, "right", [2.0, math.inf]),
                                 "3000": _star(math.inf, "right", [1.0, math.inf])}, 2.0)  # fmt: skip
    assert right["determined"] and (right["lo"], right["hi"]) == (3000.0, math.inf)
    left = integrated_pressure({"300": _star(1e-4, "left", [0.0, 1e-4]), "3000": _star(2e-4, "left", [0.0, 2e-4])}, 2)
    assert left["determined"] and (left["lo"], left["hi"]) == (0.0, pytest.approx(0.03))
    mixed = integrated_pressure({"300": _star(0.01), "3000": _star(math.inf, "right", [1.0, math.inf])}, 2.0)
    assert mixed["kind"] == "mixed" and not mixed["determined"]


def test_flips_are_chosen_by_rank_of_ln_o_only():
    rows = [{"point": p, "reliable": p != 3, "log_odds": v} for p, v in enumerate([5.0, 1.0, 1.0, 9.0, 3.0, 0.0, 2.0])]
    # determined, sorted: 5 (0.0), 1 (1.0), 2 (1.0), 6 (2.0), 4 (3.0), 0 (5.0); ranks 0, 2, 3, 5 of 6
    assert choose_flips(rows, 4) == [5, 2, 6, 0]
    assert choose_flips(rows[:2], 4) == [1, 0]


# --------------------------------------------------------------------------- samplers


@pytest.fixture(scope="module")
def tiny():
    """MLP(2, (3,)); S = points 0 and 3 of AND; A = AND, B = AND with point 1 flipped; importance sampling reference."""
    prior, arch = Gaussian(1.0, 1.0), MLP(2, (3,), "relu")
    tset = TrainingSet(2, 0b1000, (0, 3))
    a, b = 0b1000, 0b1010
    energies = tilt_smc.tilt_energies(prior, arch, tset, a, b, encoding="01", precision="highest")
    theta = prior.sample(seed_key(123), 0, 2_000_000, arch.layout())
    e_s, e_b, is_a, is_b = (np.asarray(v, np.float64) for v in energies(theta))
    lams = [0.5, 3.0]
    reference = []
    for lam in lams:
        logw = -(e_s + lam * e_b)
        w = np.exp(logw - logw.max())
        ess = w.sum() ** 2 / (w**2).sum()
        p = [float((w * f).sum() / w.sum()) for f in (is_a, is_b)]
        reference.append([(v, math.sqrt(v * (1 - v) / ess)) for v in p])
    return {"prior": prior, "arch": arch, "tset": tset, "a": a, "b": b, "energies": energies, "lams": lams,
            "reference": reference}  # fmt: skip


def _agrees(mean, se, ref, ref_se, dof):
    """|mean - ref| within the 99.9% interval of the two standard errors combined (t with the sampler's dof)."""
    return abs(mean - ref) <= stats.t.ppf(0.9995, dof) * math.hypot(se, ref_se)


def test_smc_tilt_matches_importance_sampling(tiny):
    runs = tilt_smc.smc_tilt(tiny["prior"], tiny["arch"], tiny["energies"], tiny["lams"], particles=2048,
                             replicas=8, ess_fraction=0.5, sweeps=50, seed=1)  # fmt: skip
    for j, ref in enumerate(tiny["reference"]):
        for name, (v, v_se) in zip(("p_a", "p_b"), ref, strict=True):
            vals = runs[name][:, j]
            assert _agrees(vals.mean(), vals.std(ddof=1) / math.sqrt(vals.size), v, v_se, vals.size - 1), (name, j)
    assert (runs["min_ess"] >= 0.5 * 2048 - 1).all()


def test_mala_matches_importance_sampling_from_both_starts(tiny):
    prior, arch = tiny["prior"], tiny["arch"]
    model = langevin.langevin_model(prior, arch, tiny["tset"], tiny["a"], tiny["b"], encoding="01",
                                    precision="highest")  # fmt: skip
    rng = np.random.default_rng(0)
    starts = np.asarray(prior.sample(seed_key(7), 0, 4096, arch.layout()))
    _, _, is_a, is_b = (np.asarray(v) for v in tiny["energies"](starts))
    start_a, start_b = starts[is_a][rng.permutation(is_a.sum())[:16]], starts[is_b][rng.permutation(is_b.sum())[:16]]
    section = {"lambdas": tiny["lams"], "chains_per_start": 16, "warmup": 1000, "kept": 4000}
    n_a, n_b, rhat, acc, _ = langevin.mala_visits(section, model, start_a, start_b, seed=3)
    for j, ref in enumerate(tiny["reference"]):
        for visits, (v, v_se) in zip((n_a, n_b), ref, strict=True):
            per_chain = visits[j] / section["kept"]
            se = per_chain.std(ddof=1) / math.sqrt(per_chain.size)
            assert _agrees(per_chain.mean(), se, v, v_se, per_chain.size - 1), j
        assert rhat[j] < 1.1
        assert 0.4 < acc[j] < 0.75  # adapted toward 0.574


# --------------------------------------------------------------------------- units, resume, analysis


def _plan(n_groups=2):
    plan = json.loads(json.dumps(ip.integrated_plan(PRIOR, ARCH, seed=5, n_groups=n_groups, max_candidates=6)))
    return plan


def _fake_group(plan, prior, arch, candidate):
    qualifies = candidate % 2 == 0
    flips = [{"point": p, "b": hex(0x2F2F ^ (1 << p)), "log_odds": 0.5 * p + candidate, "log_odds_ci": [0, 9],
              "reliable": True, "log_p": {}} for p in (4, 5, 6)]  # fmt: skip
    return {"candidate": candidate, "target": "0x2f2f", "train_points": [0, 1, 2, 3, 8, 9, 10, 11], "qualifies":
            qualifies, "reason": "" if qualifies else "A holds 0.1 of runs, below 0.2", "a": "0x2f2f",
            "selection": {"a_share": 0.5}, "seeds": {}, "flips": flips, "chosen": [4, 5, 6]}  # fmt: skip


def _fake_pair(plan, prior, arch, group, flip):
    value = 2.0 + flip["log_odds"]
    if flip["point"] == 6:  # right censored: an infinite estimate must survive the checkpoint
        return {"lambda_star": math.inf, "censored": "right", "bound": [316.0, math.inf], "ci": [300.0, math.inf],
                "determined": True, "rhat": math.nan}  # fmt: skip
    return {"lambda_star": value, "censored": None, "bound": [value, value], "ci": [value, value], "determined": True}


def test_units_resume_after_a_stop_with_identical_state(tmp_path, monkeypatch):
    monkeypatch.setattr(integrated, "select_group", _fake_group)
    plan, units = _plan(), {"langevin": _fake_pair}
    whole, stopped = integrated.run_units(plan, PRIOR, ARCH, stages=("groups", "langevin"), pair_units=units)
    assert stopped == "samples" and len(whole["candidates"]) == 3 and len(whole["units"]) == 6
    path = tmp_path / "run.ckpt"
    part, stopped = integrated.run_units(plan, PRIOR, ARCH, stages=("groups", "langevin"), pair_units=units,
                                         checkpoint=path, max_seconds=0.0)  # fmt: skip
    assert stopped == "time" and not part["candidates"]
    state, stopped = integrated.run_units(plan, PRIOR, ARCH, stages=("groups", "langevin"), pair_units=units,
                                          checkpoint=path)  # fmt: skip
    assert stopped == "samples"
    assert state["candidates"] == whole["candidates"]
    assert json.dumps(state["units"], sort_keys=True) == json.dumps(whole["units"], sort_keys=True)  # NaN != NaN
    reread, _ = integrated.run_units(plan, PRIOR, ARCH, stages=("groups", "langevin"), pair_units=units,
                                     checkpoint=path)  # fmt: skip
    assert reread["units"]["langevin:0:6"]["lambda_star"] == math.inf
    changed = json.loads(json.dumps(plan))
    changed["langevin"]["kept"] = 5
    with pytest.raises(CountnetsError, match="another plan section 'langevin'"):
        integrated.run_units(changed, PRIOR, ARCH, stages=("groups",), checkpoint=path)


def test_unknown_stage_and_foreign_network_are_refused():
    with pytest.raises(CountnetsError, match="unknown stage 'sampling'"):
        integrated.run_units(_plan(), PRIOR, ARCH, stages=("sampling",))
    with pytest.raises(CountnetsError, match="the plan's"):
        integrated.run_units(_plan(), PRIOR, MLP(4, (16,), "relu"), stages=("groups",))


def test_analysis_fits_the_determined_rows_and_states_verdicts():
    rng = np.random.default_rng(4)
    rows = []
    for g in range(30):
        level = rng.normal() * 50
        for k in range(4):
            x = rng.uniform(0, 8)
            y = 100.0 + 20.0 * x + level + rng.normal() * 5
            rows.append({"group": g, "log_odds": x, "Lambda_star": {"kind": "exact", "value": y, "lo": y, "hi": y,
                                                                     "determined": k < 3, "per_T": {}}})  # fmt: skip
    summary = integrated_summary(rows)
    sgd = summary["primary"]["sgd"]
    assert sgd["n"] == 120 and sgd["determined"] == 90
    used = [r for r in rows if r["Lambda_star"]["determined"]]
    ys = [r["Lambda_star"]["value"] for r in used]
    direct = random_intercept_regression(ys, ys, [r["log_odds"] for r in used], [r["group"] for r in used],
                                         confidence=0.999)  # fmt: skip
    assert sgd["slope"]["estimate"] == pytest.approx(direct["slope"])
    assert direct["slope_ci"][0] <= 20.0 <= direct["slope_ci"][1]
    assert sgd["verdict"] == "not determined"  # 75% determined, below the plan's 80%
    assert summary["primary"]["langevin"]["note"] == "not run"
    assert summary["requirements"]["pairs"]["met"] and not summary["requirements"]["sgd_determined"]["met"]
    assert verdict({"n": 10, "determined": 9, "slope": {"estimate": -1.0}}, 0.01) == "contradicted"
    assert verdict({"n": 10, "determined": 9, "slope": {"estimate": 1.0}}, 0.2) == "not detected"


def test_result_round_trips_and_formats(tmp_path, monkeypatch):
    monkeypatch.setattr(integrated, "select_group", _fake_group)
    monkeypatch.setattr(integrated, "PAIR_UNITS", {"langevin": _fake_pair})
    result = integrated.run_integrated(_plan(), PRIOR, ARCH, stages=("groups", "langevin"))
    assert result.kind == "flip-decisive" and len(result.extra.pairs) == 6
    path = tmp_path / "r.json"
    results.save_json(result, path)
    again = results.load_json(path)
    assert again.extra.analysis["primary"]["langevin"]["determined"] == 6
    text = integrated.format_integrated(again)
    assert "primary langevin: slope on ln O" in text and "not met" in text
    assert main(["plot", str(path), "--out", str(tmp_path / "fig.png")]) == 0
    assert (tmp_path / "fig.png").stat().st_size > 1000


# --------------------------------------------------------------------------- command line


def test_cli_refuses_bad_stage_and_v1_only_options(tmp_path, capsys):
    plan = tmp_path / "plan.json"
    assert main(["experiment", "flip-decisive", "--n", "4", "--integrated", "--plan-out", str(plan), "--quiet"]) == 0
    assert main(["experiment", "flip-decisive", "--n", "4", "--plan", str(plan), "--stages", "groups,bogus"]) == 2
    assert "unknown stage 'bogus'" in capsys.readouterr().err
    assert main(["experiment", "flip-decisive", "--n", "4", "--hidden", "16", "--plan", str(plan)]) == 2
    assert "the plan's" in capsys.readouterr().err
    out = tmp_path / "empty.json"
    assert main(["experiment", "flip-decisive", "--n", "4", "--plan", str(plan), "--stages", "none", "--quiet",
                 "--checkpoint", str(tmp_path / "c.ckpt"), "--json", str(out)]) == 0  # fmt: skip
    assert results.load_json(out).extra.analysis["primary"]["sgd"]["note"] == "not run"
    assert main(["experiment", "flip-decisive", "--n", "4", "--plan", str(plan), "--stages", ","]) == 2
    assert "'none' to analyse" in capsys.readouterr().err
    assert main(["experiment", "flip-decisive", "--n", "4", "--plan", str(plan), "--runs", "64"]) == 2
    assert "--runs does not apply" in capsys.readouterr().err
    v1 = tmp_path.parent / "v1.json"
    v1.write_text(json.dumps({"plan_version": 1}))
    assert main(["experiment", "flip-decisive", "--n", "4", "--plan", str(v1), "--stages", "sgd"]) == 2
    assert "--stages applies to an integrated-pressure" in capsys.readouterr().err


def test_energies_are_the_summed_logistic_losses_toward_the_labels():
    prior, arch = Gaussian(1.0, 1.0), MLP(2, (3,), "relu")
    tset = TrainingSet(2, 0b1000, (0, 3))  # labels: point 0 -> 0, point 3 -> 1
    a, b = 0b1000, 0b1010  # B labels the off-S points 1 -> 1, 2 -> 0
    theta = np.asarray(prior.sample(seed_key(5), 0, 6, arch.layout()))
    e_s, e_b, is_a, is_b = (np.asarray(v) for v in tilt_smc.tilt_energies(prior, arch, tset, a, b, encoding="01",
                                                                          precision="highest")(theta))  # fmt: skip

    y = np.asarray(apply_flat_batch(arch, theta, boolean.cube(2, "01")), np.float64)
    softplus = np.logaddexp
    np.testing.assert_allclose(e_s, softplus(0, y[:, 0]) + softplus(0, -y[:, 3]), rtol=1e-5)
    np.testing.assert_allclose(e_b, softplus(0, -y[:, 1]) + softplus(0, y[:, 2]), rtol=1e-5)
    table = (y > 0) @ (1 << np.arange(4))
    np.testing.assert_array_equal(is_a, table == a)
    np.testing.assert_array_equal(is_b, table == b)


def _runs(p_a, p_b):
    p_a, p_b = np.asarray(p_a, float), np.asarray(p_b, float)
    ones = np.ones_like(p_a)
    return {"p_a": p_a, "p_b": p_b, "min_ess": 1000 * ones, "reached": ones, "log_z": 0 * ones, "steps": ones,
            "acceptance": ones}  # fmt: skip


def test_tilt_label_bound_and_interval_agree():
    lams = [1.0, 2.0, 4.0]
    # the mean curves cross between 2 and 4; one replica never does: exact estimate, interval open above
    res = tilt_smc.tilt_lambda_star({"min_ess": 100}, lams, _runs([[0.5, 0.4, 0.1], [0.5, 0.4, 0.3]],
                                                                  [[0.0, 0.1, 0.6], [0.0, 0.1, 0.25]]))  # fmt: skip
    assert res["censored"] is None and res["bound"] == [res["lambda_star"]] * 2 and res["ci"][1] == math.inf
    # neither the mean curves nor any replica cross: right censored at the last point
    res = tilt_smc.tilt_lambda_star({"min_ess": 100}, lams, _runs([[0.5, 0.4, 0.3]] * 2, [[0.0, 0.1, 0.2]] * 2))
    assert res["censored"] == "right" and res["bound"] == [4.0, math.inf] and res["evaluable"]
    unreached = _runs([[0.5, 0.4, 0.3]] * 2, [[0.0, 0.1, 0.2]] * 2)
    unreached["reached"][1, 2] = 0.0
    assert not tilt_smc.tilt_lambda_star({"min_ess": 100}, lams, unreached)["evaluable"]


def test_mala_decides_on_the_points_that_bracket_the_crossing():
    lams = [1.0, 2.0, 4.0, 8.0]
    seen = np.array([True, False, True, True])
    assert langevin._bracket(lams, seen, 3.0, 3.0, 3.0) == [0, 2]  # 2 is missing: the observed neighbours decide
    assert langevin._bracket(lams, seen, 1.0, 0.0, 1.0) == [0]
    assert langevin._bracket(lams, seen, math.inf, 8.0, math.inf) == [3]
    n_a = np.array([[9, 9], [0, 0], [5, 5], [0, 0]])
    n_b = np.array([[1, 1], [0, 0], [5, 5], [9, 9]])
    est, lo, hi = langevin.chain_crossing(lams, n_a, n_b)
    assert est == lo == hi == pytest.approx(4.0)


def test_holm_counts_a_missing_primary_as_p_one():
    rng = np.random.default_rng(2)
    rows = []
    for g in range(10):
        for _ in range(3):
            x = rng.uniform(0, 8)
            y = 5.0 + 1.0 * x + rng.normal() * 2
            rows.append({"group": g, "log_odds": x, "Lambda_star": {"kind": "exact", "value": y, "lo": y, "hi": y,
                                                                     "determined": True, "per_T": {}}})  # fmt: skip
    sgd = integrated_summary(rows)["primary"]["sgd"]
    assert sgd["p_holm"] == pytest.approx(min(1.0, 2 * sgd["p"]))


def test_lambda_star_ci_is_undefined_when_a_budget_has_none():
    rec = {"estimate": 0.01, "censored": None, "bound": [0.01, 0.01]}
    out = integrated_pressure({"300": {**rec, "interval": [0.008, 0.012]}, "3000": {**rec, "interval": [math.nan, 1]}},
                              2.0)  # fmt: skip
    assert all(math.isnan(v) for v in out["ci"])


def test_units_resume_after_a_stop_mid_stage(tmp_path, monkeypatch):
    monkeypatch.setattr(integrated, "select_group", _fake_group)
    plan, units = _plan(), {"langevin": _fake_pair}
    whole, _ = integrated.run_units(plan, PRIOR, ARCH, stages=("groups", "langevin"), pair_units=units)
    calls = {"n": 0}
    real_stop = integrated._Clock.stop

    def stop_after_four(self):
        calls["n"] += 1
        if calls["n"] > 4:  # candidates 0 and 1, then two of group 0's pairs: stop in the middle of a stage
            self.stopped_by = "interrupted"
            return True
        return real_stop(self)

    path = tmp_path / "mid.ckpt"
    with monkeypatch.context() as m:
        m.setattr(integrated._Clock, "stop", stop_after_four)
        part, stopped = integrated.run_units(plan, PRIOR, ARCH, stages=("groups", "langevin"), pair_units=units,
                                             checkpoint=path)  # fmt: skip
    assert stopped == "interrupted" and 0 < len(part["units"]) < len(whole["units"])
    state, stopped = integrated.run_units(plan, PRIOR, ARCH, stages=("groups", "langevin"), pair_units=units,
                                          checkpoint=path)  # fmt: skip
    assert stopped == "samples" and state["candidates"] == whole["candidates"]
    assert json.dumps(state["units"], sort_keys=True) == json.dumps(whole["units"], sort_keys=True)
