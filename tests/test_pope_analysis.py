"""The pre-registered analysis of Pope's claims (scripts/pope_analysis.py), on made-up rows.

The analysis is fixed before its rows exist (issue 28); these tests pin its rules: which
rows are used, the Holm-adjusted tests against the placement null, the claim verdict, and
the detours' weighted trend with Fieller's crossing, checked against numpy's own weighted
fit and a brute-force scan.
"""

import math

import numpy as np
import pytest
from scipy import stats

from tests.repo_script import load_script

pope = load_script("scripts/pope_analysis.py")


def _row(target="parity4", L=3, ratio=4.0, se=0.2, null=2.0, kstar_parallel=2, reliable=True, replicate=True,
         rep_ci=None, df=30):  # fmt: skip
    ci = [ratio * math.exp(-2 * se), ratio * math.exp(2 * se)]
    row = {"target": target, "n": 4, "L": L, "w": 2, "alpha": "1", "min_depth": 1, "kstar_parallel": kstar_parallel,
           "ratio": {"estimate": ratio, "ci": ci, "reliable": reliable, "log_se": se, "df": df},
           "placement_null_ratio": null}  # fmt: skip
    if replicate:
        row["replicate"] = {"ratio": {"estimate": ratio, "ci": rep_ci or ci, "reliable": True}}
    return row


def test_rows_are_used_only_when_determined_and_replicated():
    rows = [_row(L=2), _row(L=3, reliable=False), _row(L=4, replicate=False), _row(L=6, rep_ci=[100.0, 200.0])]
    result = pope.serial_parallel(rows)
    assert [u["why"] for u in result["unused"]] == [
        "ratio not determined", "no replicate", "replicate's interval does not overlap"]  # fmt: skip
    assert [t["row"] for t in result["pope_against_null"]["tests"]] == ["parity4 n=4 L=2 w=2 alpha=1"]
    assert result["pope_against_null"]["verdict"] == "not determined"  # one used row, fewer than 3


def test_tests_against_the_null_are_holm_adjusted_t_tests():
    rows = [_row(L=2, ratio=2.0 * math.exp(0.9)), _row(L=3, ratio=2.0 * math.exp(-0.5)), _row(L=4, ratio=2.1)]
    tests = pope.serial_parallel(rows)["pope_against_null"]["tests"]
    p = [2 * stats.t.sf(abs(t["log_effect"]) / 0.2, 30) for t in tests]
    assert [t["p"] for t in tests] == pytest.approx(p)
    order = np.argsort(p)  # Holm by hand: (m - j + 1) p_(j), running maximum
    by_hand = np.maximum.accumulate(np.minimum(1, (3 - np.arange(3)) * np.asarray(p)[order]))
    assert np.asarray([t["p_holm"] for t in tests])[order] == pytest.approx(by_hand)
    assert [t["verdict"] for t in tests] == ["above", "below", "not detected"]
    claim = pope.serial_parallel(rows)["pope_against_null"]
    assert claim["verdict"] == "mixed" and claim["above"] == [tests[0]["row"]] and claim["below"] == [tests[1]["row"]]


@pytest.mark.parametrize(
    ("effects", "verdict"),
    [([0.9, 0.9, 0.0], "holds, beyond the null"), ([0.0, 0.0, 0.0], "holds"), ([-0.9, -0.9, -0.9], "fails"),
     ([0.9, -0.9, 0.0], "mixed")],
)  # fmt: skip
def test_the_claim_verdict_rule(effects, verdict):
    rows = [_row(L=L, ratio=2.0 * math.exp(e)) for L, e in zip((2, 3, 4), effects, strict=True)]
    assert pope.serial_parallel(rows)["pope_against_null"]["verdict"] == verdict


def test_the_control_is_its_own_family_and_never_pooled():
    rows = [_row(L=L, ratio=2.0) for L in (2, 3, 4)] + [_row(target="xor-and-xor", kstar_parallel=1, ratio=0.5)]
    result = pope.serial_parallel(rows)
    assert result["pope_against_null"]["rows"] == 3 and result["pope_against_null"]["verdict"] == "holds"
    assert [t["verdict"] for t in result["control_against_null"]] == ["below"]
    assert [t["verdict"] for t in result["parallel_against_serial"]] == ["above"] * 3


def _ratio(value, se, confidence=0.95):
    z = stats.norm.ppf(0.5 + confidence / 2)
    return {"estimate": value, "ci": [value * math.exp(-z * se), value * math.exp(z * se)], "reliable": True}


def test_the_trend_is_numpys_weighted_fit_and_the_crossing_fiellers():
    rng = np.random.default_rng(0)
    ns = np.arange(3, 11)
    se = np.linspace(0.05, 0.4, ns.size)
    y = -4.0 + 0.5 * ns + rng.normal(0, se)
    fit = pope.trend(ns, [_ratio(math.exp(v), s) for v, s in zip(y, se, strict=True)], 0.95)
    b, a = np.polyfit(ns, y, 1, w=1 / se)  # numpy weights are 1 / sigma
    assert (fit["intercept"], fit["slope"]["estimate"]) == pytest.approx((a, b), rel=1e-6)
    assert fit["trend"] == "rising" and fit["crossing"]["estimate"] == pytest.approx(-a / b)
    # Fieller's set by brute force: the n where the fitted log ratio's t interval contains 0.
    X = np.column_stack([np.ones_like(ns, dtype=float), ns])
    cov = np.linalg.inv(X.T @ (X / se[:, None] ** 2)) * fit["dispersion"]
    t = stats.t.ppf(0.975, ns.size - 2)
    grid = np.linspace(0, 20, 200_001)
    inside = grid[np.abs(a + b * grid) <= t * np.sqrt(cov[0, 0] + 2 * grid * cov[0, 1] + grid**2 * cov[1, 1])]
    assert fit["crossing"]["ci"] == pytest.approx([inside.min(), inside.max()], abs=2e-4)
    assert fit["crossing"]["status"] == "within the measured n"


def test_a_flat_trend_is_not_detected_and_predicts_no_crossing():
    ns = [3, 4, 5, 6]
    fit = pope.trend(ns, [_ratio(0.1 * (1.05 if n % 2 else 0.95), 0.3) for n in ns], 0.95)
    assert fit["trend"] == "not detected" and fit["crossing"] is None


def test_detours_fit_each_series_with_enough_determined_rows_at_a_bonferroni_level():
    rows = [{"kind": "goal", "width": 16, "n": n, "ratio": _ratio(0.01 * 2.0**n, 0.1)} for n in range(3, 8)]
    rows += [{"kind": "write-erase", "width": None, "n": n, "ratio": _ratio(0.05, 0.1)} for n in (3, 4)]
    rows += [{"kind": "goal", "width": 16, "n": 9, "ratio": _ratio(2.0, 0.05)}]
    out = pope.detours(rows)
    assert [(s["kind"], s["width"], s["alpha"], s["points"]) for s in out["series"]] == [("goal", 16, None, 6)]
    assert out["series"][0]["confidence"] == pytest.approx(0.95)  # one series fitted: no correction
    assert out["too_few_rows"] == ["write-erase width=None alpha=None"]
    assert [(r["n"]) for r in out["measured_above_1"]] == [7, 9]  # 0.01 * 2**7 = 1.28 and 2.0, intervals above 1


def test_missing_inputs_are_named_and_the_markdown_says_not_determined(tmp_path, monkeypatch):
    monkeypatch.setattr(pope, "SERIAL_PARALLEL", pope.ROOT / "results" / "no-such-file.json")
    result = pope.analyse(None, None)
    assert result["serial_parallel"] is None and len(result["missing"]) == 2
    text = pope.markdown(result)
    assert "Parallel vs serial: not determined (no rows yet)." in text


def test_the_verdict_page_quotes_the_analysis_of_the_committed_rows():
    # docs/verdicts.md shows exactly what the analysis prints for the files committed now (rows or none).
    page = (pope.ROOT / "docs" / "verdicts.md").read_text()
    block = page.split("<!-- pope-analysis -->\n```\n", 1)[1].split("```", 1)[0]
    assert block == pope.markdown(pope.analyse(pope._rows(pope.SERIAL_PARALLEL), pope._rows(pope.DETOURS)))


def test_the_verdict_page_quotes_the_control_rows_effective_replicas():
    # The page's range of effective replicas is that of the committed rows' runs.
    import json

    data = json.loads(pope.SERIAL_PARALLEL.read_text())
    eff = [x["p"]["effective_replicas"] for r in data["rows"] for x in (r, r["replicate"])]
    eff += [t["effective_replicas"] for r in data["rows"] for x in (r, r["replicate"]) for k in x["kstar"].values()
            for t in k["terms"]]  # fmt: skip
    page = " ".join((pope.ROOT / "docs" / "verdicts.md").read_text().split())
    assert f"with {math.floor(min(eff))} to {math.floor(max(eff))} effective replicas of 128" in page
    times = " and ".join(f"{round(r['seconds'])} s" for r in data["rows"])
    assert f"{times} for both seeds" in page
