"""The pre-registered flip test (countnets.experiments.flip_decisive): plan, quick run, analysis (issue 16)."""

import json
import math

import pytest

from countnets import results
from countnets.experiments import flip_decisive as fd
from countnets.network.architectures import MLP
from countnets.network.priors import Gaussian
from countnets.train.training import TrainConfig

PRIOR, ARCH = Gaussian(), MLP(3, (4,))


@pytest.fixture(scope="module")
def plan(tmp_path_factory):
    p = fd.plan_pairs(PRIOR, ARCH, n_pairs=3, train_size=4, n_samples=4096, seed=1, log_odds_range=(0.0, 3.0))
    path = tmp_path_factory.mktemp("plan") / "plan.json"
    fd.write_plan(p, path)
    return fd.read_plan(path)


def test_plan_pairs_are_independent_and_spread(plan):
    pairs = plan["pairs"]
    assert len(pairs) == 3 and plan["primary_analysis"] == json.loads(json.dumps(fd.PRIMARY_ANALYSIS))
    # different training sets, seeds and initialisations per pair; no pair shares a seed with a prior pass
    assert len({(p["target"], tuple(p["train_points"])) for p in pairs}) == 3
    seeds = [p["train_seed"] for p in pairs] + [p["prior_seed"] for p in pairs]
    assert len(set(seeds)) == 6
    for p in pairs:
        na, nb = p["prior_counts"]
        assert p["log_odds"] == pytest.approx(math.log(na / nb)) and nb >= plan["min_count"]
        assert p["hamming"] == bin(int(p["a"], 16) ^ int(p["b"], 16)).count("1") > 0
        assert p["aim_log_odds"] == pytest.approx(3.0 * (p["slot"] + 0.5) / 3)
        assert abs(p["log_odds"] - p["aim_log_odds"]) <= plan["tolerance"] == 1.0
    # the plan is a deterministic function of its arguments
    again = fd.plan_pairs(PRIOR, ARCH, n_pairs=3, train_size=4, n_samples=4096, seed=1, log_odds_range=(0.0, 3.0))
    assert [p["b"] for p in again["pairs"]] == [p["b"] for p in pairs]


def test_quick_run_records_every_pair_and_round_trips(plan, tmp_path):
    cfg = TrainConfig(optimizer="sgd", max_steps=50)
    r = fd.flip_decisive(
        plan, PRIOR, ARCH, cfg, optimizers=("sgd", "adam"), lambdas=[0.1, 1.0, 10.0], n_runs=32, n_boot=20,
        replicas=2, n_particles=200, n_moves=2,
    )  # fmt: skip
    assert len(r.extra["pairs"]) == 3  # censored or not, no pair is dropped
    for p in r.extra["pairs"]:
        sgd, adam, tilt = (p["lambda_star"][k] for k in ("sgd", "adam", "tilt"))
        assert sgd["optimizer"] == "sgd" and adam["optimizer"] == "adam"  # Adam reported apart
        for star in (sgd, adam):
            assert sum(star["a"]) + sum(star["b"]) + sum(star["other"]) + sum(star["not_fit"]) == 3 * 32
        assert tilt["min_ess"] >= 100  # ess_fraction 0.5 of 200 particles
    path = tmp_path / "r.json"
    results.save_json(r, path)
    back = results.load_json(path)
    assert back.extra["summary"]["pairs_planned"] == 3
    assert "flip-decisive" in fd.format_flip_decisive(back)


def test_summary_keeps_censored_pairs_and_adjusts_the_two_primary_tests():
    def star(est, cen=None):
        bound = {"right": [100.0, math.inf], "left": [0.0, 0.01]}.get(cen, [est, est])
        return {"estimate": est, "censored": cen, "bound": bound, "interval": bound, "lambda0": {"log_odds": 1.0}}

    rows = []
    for i in range(8):
        x = float(i)
        s = star(math.inf, "right") if i >= 6 else star(1.0 + 2 * x + 0.1 * (-1) ** i)
        t = dict(s, evaluable=i != 0)
        rows.append({"log_odds": x, "hamming": 1 + i % 3, "off_points": 4, "lambda_star": {"sgd": s, "tilt": t}})
    out = fd.decisive_summary(rows)
    sgd = out["sets"]["sgd"]
    assert sgd["regression"]["right"] == 2 and sgd["pairs_used"] == 8
    assert sgd["regression"]["slope_ci"][0] > 0
    assert out["sets"]["tilt"]["pairs_not_evaluable"] == 1
    assert set(out["holm"]) == {"sgd", "tilt"}


def test_cli_writes_a_plan_and_rejects_a_missing_training_size(tmp_path, capsys):
    from countnets.cli import main

    path = tmp_path / "plan.json"
    base = ["experiment", "flip-decisive", "--n", "3", "--hidden", "4", "--samples", "4096", "--quiet"]
    assert main([*base, "--plan-out", str(path)]) == 2
    assert "--train-size" in capsys.readouterr().err
    assert main([*base, "--plan-out", str(path), "--train-size", "4", "--max-seconds", "5"]) == 2
    assert "--max-seconds" in capsys.readouterr().err
    assert main([*base, "--plan-out", str(path), "--train-size", "4", "--rare-b", "--rare-flips", "1.5"]) == 2
    assert "--rare-flips" in capsys.readouterr().err
    assert main([*base, "--plan-out", str(path), "--train-size", "4", "--rare-b", "--rare-replicas", "1"]) == 2
    assert "replicas" in capsys.readouterr().err
    assert main([*base, "--plan-out", str(path), "--pairs", "2", "--train-size", "4", "--log-odds-range", "0,2"]) == 0
    plan = fd.read_plan(path)
    assert len(plan["pairs"]) == 2 and plan["pairs"][0]["aim_log_odds"] == pytest.approx(0.5)


def test_training_page_quotes_the_power_of_the_planned_design():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    power = json.loads((root / "results" / "design" / "flip_decisive_power.json").read_text())
    text = (root / "docs" / "training.md").read_text()
    assert power["design"]["n"] == 30 and power["design"]["log_odds"] == [10 * (i + 0.5) / 30 for i in range(30)]
    for s in power["scenarios"]:
        row = f"| {s['censor_low']:.0%} | {s['censor_high']:.0%} | {s['rho']:.2f} | {s['slope_per_sigma']:.3f} |"
        assert row in text, row
    assert "The full run has not been done." not in text


def primary_rows(e: dict) -> list[str]:
    """The docs' table rows of the primary analysis, built from a committed run's ``extra``."""
    rows = []
    for name in ("sgd", "tilt"):
        res, holm = e["summary"]["sets"][name], e["summary"]["holm"][name]
        reg, ken = res["regression"], res["kendall"]
        used = [p["lambda_star"][name] for p in e["pairs"] if p["lambda_star"][name].get("evaluable", True)]
        cen = [sum(s.get("censored") == c for s in used) for c in (None, "left", "right")]
        lo, hi = (float(v) for v in reg["slope_ci"])
        tau = f"{ken['tau']:.2f} [{ken['ci'][0]:.2f}, {ken['ci'][1]:.2f}]"
        rows.append(
            f"| {name} | {res['pairs_used']} | {cen[0]} | {cen[1]} | {cen[2]} | {reg['slope']:.3g} [{lo:.3g}, "
            f"{hi:.3g}] | {reg['p']:.2g} | {tau} | {ken['p']:.2g} | {holm:.2g} |"
        )
    return rows


def test_training_page_quotes_the_committed_run():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    run = results.load_json(root / "results" / "flip_decisive.json").extra
    plan = json.loads((root / "results" / "flip_decisive_plan.json").read_text())
    assert run["plan"] == plan  # the run is of the committed (pre-registered) plan
    assert len(run["pairs"]) == len(plan["pairs"]) >= 30
    text = (root / "docs" / "training.md").read_text()
    for row in primary_rows(run):
        assert row in text, row


def test_convergence_check_reports_runs_still_changing_function(plan):
    from countnets.train.training import TrainingSet

    p = plan["pairs"][0]
    tset = TrainingSet(3, int(p["target"], 16), tuple(p["train_points"]))
    a, b = int(p["a"], 16), int(p["b"], 16)
    kw = dict(n_runs=16, seed=p["train_seed"], n_boot=5)
    # a learning rate of 1e-9 cannot move any function between step 5 and step 10
    frozen = TrainConfig(optimizer="sgd", learning_rate=1e-9, max_steps=10)
    r = fd.train_lambda_star(PRIOR, ARCH, tset, frozen, a, b, [1.0, 10.0], check_steps=5, **kw)
    assert r["check_steps"] == 5 and r["unsettled"] == [0.0, 0.0, 0.0]
    with pytest.raises(fd.CountnetsError, match="check_steps"):
        fd.train_lambda_star(PRIOR, ARCH, tset, frozen, a, b, [1.0, 10.0], check_steps=10, **kw)


def test_rare_b_planner_agrees_with_monte_carlo_where_both_reach():
    """A slot the plan's Monte Carlo cannot fill is filled by a rare B (P(B) by splitting).

    With ``min_count=15`` the first candidate's only Monte Carlo B (A and B are each seen
    18 times in 4096 samples) is 2.5 nats from the aim, so it takes the rare path. A
    larger, independent Monte Carlo pass (2**16 samples, where this B is seen often) gives
    ln O with its exact conditional-binomial interval; the two 95% intervals, each as the
    library computes it, must overlap.
    """
    from countnets.stats import statistics
    from countnets.train.conditional import conditional_prior

    rare = fd.RareOptions(flips=(1, 2), replicas=8, particles=100)
    plan = fd.plan_pairs(PRIOR, ARCH, n_pairs=1, train_size=4, n_samples=4096, seed=1, log_odds_range=(1.0, 4.0),
                         min_count=15, tolerance=1.5, rare=rare)  # fmt: skip
    assert plan["rare"] == rare.config()
    (p,) = plan["pairs"]
    assert p["candidate"] == 0 and p["log_odds_estimator"] == fd.RARE_ESTIMATOR
    r = p["rare"]
    a, b, target = int(p["a"], 16), int(p["b"], 16), int(p["target"], 16)
    on_s = sum(1 << j for j in p["train_points"])
    assert (b ^ target) & on_s == 0 and (a ^ b) & on_s == 0  # B fits S, and differs from A only off S
    assert p["hamming"] in rare.flips and abs(p["log_odds"] - p["aim_log_odds"]) <= plan["tolerance"]
    assert r["p_a"] == p["prior_counts"][0] / plan["samples"] and r["p_b_hits"] > 0
    assert p["b"] in [q["b"] for q in r["proposals"]]
    lo, hi = p["log_odds_ci"]
    assert lo < p["log_odds"] < hi
    assert p["log_odds"] == pytest.approx(math.log(r["p_a"]) - math.log(r["p_b"]))
    tset = fd.TrainingSet(3, target, tuple(p["train_points"]))
    cp = conditional_prior(PRIOR, ARCH, tset, n_samples=2**16, seed=12345)
    na, nb = cp.histogram.get(a, 0), cp.histogram.get(b, 0)
    assert nb >= 10, "the check needs B to be within Monte Carlo's reach at 2**16 samples"
    _, (olo, ohi) = statistics.ratio_interval(na, nb, 0.95)
    assert math.log(olo) <= hi and lo <= math.log(ohi), (math.log(olo), math.log(ohi), lo, hi)


def test_rare_options_and_rare_log_odds_reject_bad_input():
    with pytest.raises(fd.CountnetsError, match="replicas"):
        fd.RareOptions(replicas=1)
    with pytest.raises(fd.CountnetsError, match="flips"):
        fd.RareOptions(flips=())
    with pytest.raises(fd.CountnetsError, match="hits_a"):
        fd.rare_log_odds(PRIOR, ARCH, 0x0F, 0x1F, 0, 100, seed=0)
    tset = fd.TrainingSet(3, 0, (0, 1, 2, 3))
    props = fd.rare_candidates(0, tset, (1, 2, 9), 2, 0)  # k = 9 > |off S| = 4 is left out
    assert props and all(p & 0x0F == 0 and bin(p).count("1") in (1, 2) for p in props)
