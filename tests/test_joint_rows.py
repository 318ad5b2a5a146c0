"""Pope's rows assembled from joint masses (countnets.experiments.composition.joint), with a stand-in estimator.

The estimator is a parameter, so the assembly is checked on made-up masses: which events
are run (once each; none below the proved lower bound of k*), the signed sums, the rule
that a sum is determined only when every term is, and the ratio against the placement null.
"""

import json
import math
from types import SimpleNamespace

import pytest

import countnets as cn
from countnets.experiments.composition import joint
from countnets.measures import composition

# Made-up masses of "f, and every order in the key computes f" (the key () is P(f) itself), parity of 4 at L = 3.
MASSES = {(): 8e-9, (1,): 3e-9, (2,): 5e-9, (1, 2): 2e-9}


def _orders(measure) -> tuple[int, ...]:
    spec = measure.spec
    if "implements" in spec:
        return ()
    return tuple(part["order"] for part in spec["all_of"][1:])


def _fake(calls, masses=MASSES, unreliable=()):
    def estimate(measure, seed):
        orders = _orders(measure)
        calls.append((orders, seed))
        p = masses[orders]
        return SimpleNamespace(
            estimates=[SimpleNamespace(p=p, ci=(p * 0.9, p * 1.1))], samples=64,
            extra=SimpleNamespace(reliable=orders not in unreliable, relative_error=0.05, effective_replicas=60.0),
        )  # fmt: skip

    return estimate


ARCH = cn.ResMLP(4, 8, 3, 2, 1.0)


def test_the_row_combines_each_kstar_from_its_own_terms():
    calls = []
    row = joint.joint_row(ARCH, "parity4", "tree", "chain", _fake(calls), seed=3)
    # min_depth lower bound is 1 here (six units in one layer compute parity of 4): order 0 is never run.
    assert row["min_depth_lower"] == 1 and row["kstar"]["0"]["p"] == 0 and row["kstar"]["0"]["reliable"]
    assert sorted(calls) == sorted((o, 3) for o in MASSES)  # every distinct event once, P(f) shared with k* = 3
    m = MASSES
    expected = {1: m[(1,)], 2: m[(2,)] - m[(1, 2)], 3: m[()] - m[(1,)] - m[(2,)] + m[(1, 2)]}
    for k, value in expected.items():
        assert row["kstar"][str(k)]["p"] == pytest.approx(value), k
    assert sum(row["kstar"][str(k)]["p"] for k in range(4)) == pytest.approx(m[()])  # the k* = k partition f
    assert row["ratio"]["estimate"] == pytest.approx(expected[2] / expected[3])
    null = composition.placement_null_ratio("parity4", "tree", "chain", 3, 2)
    assert row["placement_null_ratio"] == null == 2
    assert row["ratio_over_null"]["estimate"] == pytest.approx(expected[2] / expected[3] / null)
    assert row["log_ratio_over_null"] == pytest.approx(math.log(expected[2] / expected[3] / null))
    assert row["ratio"]["log_se"] > 0 and row["ratio"]["df"] > 0


def test_an_undetermined_term_leaves_its_sums_and_the_ratio_undetermined():
    row = joint.joint_row(ARCH, "parity4", "tree", "chain", _fake([], unreliable={(1, 2)}), seed=0)
    assert row["kstar"]["1"]["reliable"]  # k* = 1 does not use the event with orders 1 and 2
    assert not row["kstar"]["2"]["reliable"] and not row["kstar"]["3"]["reliable"]
    assert row["ratio"] == {"estimate": None, "ci": None, "reliable": False}


def test_a_sum_whose_interval_reaches_zero_is_not_determined():
    masses = {**MASSES, (2,): 2.0001e-9}  # P(f, k* = 2) = 1e-13, far inside its noise
    row = joint.joint_row(ARCH, "parity4", "tree", "chain", _fake([], masses=masses), seed=0)
    assert row["kstar"]["2"]["why"] == "the signed sum's interval reaches 0" and not row["ratio"]["reliable"]


def test_a_form_that_does_not_fit_is_refused_before_any_run():
    calls = []
    with pytest.raises(cn.CountnetsError, match="does not fit ResMLP"):
        joint.joint_row(cn.ResMLP(4, 8, 2, 1, 1.0), "parity4", "tree", "chain", _fake(calls), seed=0)
    assert calls == []


def test_the_rows_script_saves_each_row_with_its_replicate_and_resumes(tmp_path):
    from tests.repo_script import load_script

    rows_script = load_script("scripts/pope_rows.py")
    calls = []
    spec = {"target": "parity4", "n": 4, "d": 8, "L": 3, "w": 2, "alpha": 1.0, "seed": 5}
    out = tmp_path / "rows.json"
    rows = rows_script.run_rows([spec], lambda arch: _fake(calls), out, "test")
    assert len(rows) == 1 and rows[0]["seed"] == 5 and rows[0]["replicate"]["seed"] == 6
    assert rows[0]["command"] == "test"
    assert {seed for _, seed in calls} == {5, 6}
    assert json.loads(out.read_text())["rows"] == json.loads(json.dumps(rows))
    calls.clear()
    again = rows_script.run_rows([spec], lambda arch: _fake(calls), out, "test")  # the row is there: nothing runs
    assert calls == [] and len(again) == 1
    # The analysis reads the row as written.
    pope = load_script("scripts/pope_analysis.py")
    analysis = pope.serial_parallel(again)
    assert analysis["unused"] == [] and analysis["pope_against_null"]["rows"] == 1
