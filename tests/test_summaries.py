"""Summaries over committed or synthetic results: multiplicity, symmetry classes, flip correlations.

None of these sample or train a network: they are pure functions of stored counts.
"""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from repo_script import load_script
from scipy import stats

from countnets.experiments.flip import MIN_EVALUABLE_ESS, flip_summary, tilt_evaluable
from countnets.network import symmetry
from countnets.results.report import multiplicity, ratio_p_value, ratio_record, ratio_verdict
from countnets.stats import statistics, tolerance

ROOT = Path(__file__).resolve().parents[1]
GAUSS = {"prior": "gaussian", "sigma_w": 1.0, "sigma_b": 1.0}


def _entry(counts: dict[int, tuple[int, int]], blocks: int = 2, spec: str = "1", n: int = 2) -> dict:
    # A serial-parallel entry at L = blocks: each function gets (parallel, serial) counts as k* = 0 and k* = 2.
    per_target, verdicts = [], {"above_1": 0, "below_1": 0, "contains_1": 0, "no_hits": 0}
    for f, (a, b) in sorted(counts.items()):
        ks = [a, 0, b] + [0] * (blocks - 2)
        record = ratio_record(a, b, 0.95, False)
        verdicts[ratio_verdict(record)] += 1
        per_target.append(
            {"function": hex(f), "kstar_counts": ks, "ratio": record["estimate"], "ratio_ci": record["ci"]}
        )
    verdicts["no_hits"] += 2 ** (2**n) - len(counts)
    return {"blocks": blocks, "branch_scale_spec": spec, "per_target": per_target, "target_verdicts": verdicts}


def test_ratio_p_value_is_the_test_dual_to_the_ratio_interval():
    for a, b in [(30, 10), (12, 20), (55, 50), (0, 9), (3, 0), (0, 0)]:
        rec = ratio_record(a, b, 0.95, False)
        excludes_one = ratio_verdict(rec) in ("above_1", "below_1")
        assert excludes_one == (ratio_p_value(a, b) < 0.05), (a, b)


def test_multiplicity_adjusts_over_the_whole_family_and_keeps_direction():
    # 16 functions of n = 2 in two cells; one function barely significant alone, one overwhelming.
    cell = {f: (50, 50) for f in range(16)}
    cell[0x1] = (62, 38)  # p ~ 0.02 alone: above 1 unadjusted, not after Holm over 32 tests
    cell[0x8] = (10, 90)  # p ~ 1e-16: below 1 either way
    entries = [_entry(cell, 2, "1"), _entry(cell, 3, "1")]
    out = multiplicity(entries, n=2, prior=GAUSS, encoding="pm1", confidence=0.95, all_functions=True)
    assert out["function_tests"] == 32 and out["adjustment"] == "holm"
    raw = entries[0]["target_verdicts"]
    assert raw["above_1"] == 1 and raw["below_1"] == 1
    for c in out["cells"]:
        assert c["functions"] == {"above_1": 0, "below_1": 1, "contains_1": 15, "no_hits": 0}
    bh = multiplicity(entries, n=2, prior=GAUSS, encoding="pm1", confidence=0.95, all_functions=True,
                      adjustment="bh")  # fmt: skip
    assert bh["cells"][0]["functions"]["below_1"] == 1


def test_multiplicity_pools_each_symmetry_class():
    # n = 2 under permutations, negations and output negation: 4 classes (constants, literals, AND-type, XOR-type).
    cls = symmetry.classes(2)
    assert sorted(len(m) for m in cls.values()) == [2, 2, 4, 8]
    counts = {f: (5, 5) for f in range(16)}
    for f in cls[symmetry.canonical(0x1, 2)]:  # the AND-type class: each member alone is not significant
        counts[f] = (14, 6)
    out = multiplicity([_entry(counts)], n=2, prior=GAUSS, encoding="pm1", confidence=0.95, all_functions=True)
    assert out["classes"] == 4 and out["class_tests"] == 4
    assert out["cells"][0]["functions"]["above_1"] == 0
    and_class = out["cells"][0]["class_verdicts"][hex(symmetry.canonical(0x1, 2))]
    assert and_class["size"] == 8 and (and_class["parallel"], and_class["serial"]) == (112, 48)
    assert and_class["verdict"] == "above_1"  # pooled, the class is one test with eight times the counts
    # The 01 encoding loses input negation: more, smaller classes.
    out01 = multiplicity([_entry(counts)], n=2, prior=GAUSS, encoding="01", confidence=0.95, all_functions=True)
    assert out01["classes"] == len(symmetry.classes(2, symmetry.Symmetry(input_negation=False))) > 4


def _pair(log_odds, star, tilt_star=("inf", ["30.0", "inf"]), ess=(1000.0, 500.0, 50.0, 1.0)):
    lams = [0.0, 1.0, 10.0, 100.0]
    return {
        "log_odds": log_odds,
        "lambda_star_train": {"estimate": star, "interval": [0.0, star], "censored": star == "inf"},
        "lambda_star_tilt": {"estimate": tilt_star[0], "interval": [0.0, tilt_star[1][1]], "censored": False},
        "tilt_sweep": [{"lambda": lam, "ess": e} for lam, e in zip(lams, ess, strict=True)],
    }


def test_flip_summary_keeps_censored_pairs_and_ranks_them_highest():
    pairs = [_pair(1.0, 0.5), _pair(2.0, 0.3), _pair(3.0, 2.0), _pair(4.0, "inf"), _pair(5.0, 1.0), _pair(6.0, "inf")]
    s = flip_summary(pairs)
    t = s["train"]
    assert t["pairs_used"] == 6 and t["pairs_censored"] == 2
    ref = stats.spearmanr([1, 2, 3, 4, 5, 6], [0.5, 0.3, 2.0, 1e9, 1.0, 1e9])
    assert t["spearman"] == pytest.approx(ref.statistic) and t["spearman_p"] == pytest.approx(ref.pvalue)
    assert t["spearman_ci"] == pytest.approx(list(statistics.fisher_z_interval(ref.statistic, 6)))
    assert t["uncensored_only"]["pairs"] == 4
    # Every tilted lambda* rests on a sweep point with ESS < 100: none is evaluable, nothing is computed.
    assert s["tilt"]["pairs_evaluable"] == 0 and s["tilt"]["spearman"] is None
    assert s["min_ess"] == 1.0
    json.dumps(s, allow_nan=False)  # standard JSON


def test_tilt_evaluable_looks_only_at_the_sweep_values_the_bracket_rests_on():
    assert MIN_EVALUABLE_ESS == 100.0
    ok = _pair(1.0, 0.5, tilt_star=(1.0, [0.0, 1.0]))  # decided at lambda = 1, where ESS = 500
    assert tilt_evaluable(ok) == (True, None)
    late = _pair(1.0, 0.5, tilt_star=(10.0, [1.0, 10.0]))  # needs lambda = 10, ESS = 50
    assert tilt_evaluable(late) == (False, 10.0)
    assert tilt_evaluable(late, min_ess=10.0) == (True, None)
    censored = _pair(1.0, 0.5)  # bracket (30, inf]: the whole sweep
    assert tilt_evaluable(censored) == (False, 10.0)


# ----------------------------------------------------------------------------- committed results


def _refresh_script():
    return load_script("scripts/refresh_summaries.py")


def test_committed_summaries_and_tables_are_what_the_script_computes():
    # Within the tolerance rule of countnets.stats.tolerance: the summaries are recomputed here, maybe on another CPU.
    stale = {str(p.relative_to(ROOT)): how for p, how in _refresh_script().stale().items()}
    assert not stale, f"run python scripts/refresh_summaries.py: {stale}"


def _nudge_summaries(data, ulps: int, inside: bool = False):
    # Every float under a "summary" key moved by `ulps` units in the last place (alternating in sign).
    if isinstance(data, dict):
        return {k: _nudge_summaries(v, ulps, inside or k == "summary") for k, v in data.items()}
    if isinstance(data, list):
        return [_nudge_summaries(v, ulps, inside) for v in data]
    if inside and isinstance(data, float) and math.isfinite(data) and data != 0.0:
        toward = math.inf if int(abs(data) * 1e6) % 2 else -math.inf
        for _ in range(ulps):
            data = math.nextafter(data, toward)
    return data


def _copy_results(tmp_path: Path, edit=lambda name, data: data) -> Path:
    # The committed results/*.json and *.txt, the JSON passed through `edit` and written as the script writes.
    refresh = _refresh_script()
    for path in sorted((ROOT / "results").glob("*.json")):
        (tmp_path / path.name).write_text(refresh._dump(edit(path.name, json.loads(path.read_text()))))
    for path in sorted((ROOT / "results").glob("*.txt")):
        (tmp_path / path.name).write_text(path.read_text())
    return tmp_path


def test_summaries_a_few_ulps_off_still_pass(tmp_path):
    refresh = _refresh_script()
    nudged = 0

    def edit(name, data):
        nonlocal nudged
        out = _nudge_summaries(data, ulps=4)
        nudged += out != data
        return out

    results_dir = _copy_results(tmp_path, edit)
    assert nudged >= 5  # the flip and train-vs-prior summaries, each moved
    assert refresh.stale(results_dir) == {}


def test_a_closed_form_value_moved_by_1e_6_relative_fails(tmp_path):
    refresh = _refresh_script()

    def edit(name, data):
        if name == "flip_pairs.json":
            summary = data["summary"] if "summary" in data else data["extra"]["summary"]
            summary["train"]["spearman"] *= 1 + 1e-6
        return data

    stale = refresh.stale(_copy_results(tmp_path, edit))
    assert list(stale) == [tmp_path / "flip_pairs.json"]
    assert "summary.train.spearman" in stale[tmp_path / "flip_pairs.json"][0]

    def edit_stable(name, data):
        if name == "train_vs_prior.json":
            data["summary"]["tv"] *= 1 + 1e-6
        return data

    # A train-vs-prior field earlier versions computed is guarded too: the script refuses to rewrite it.
    with pytest.raises(SystemExit, match="fields changed on recomputation: \\['tv'\\]"):
        refresh.stale(_copy_results(tmp_path, edit_stable))


@pytest.mark.parametrize("name", ["serial_parallel", "serial_parallel_quick"])
def test_committed_serial_parallel_counts_respect_the_symmetry_classes(name):
    # Built-in check on the data: members of one class have equal P(f) and equal parallel/serial split, so
    # their counts must be homogeneous (chi-square tests, Holm over every class and cell).
    data = json.loads((ROOT / "results" / f"{name}.json").read_text())
    sym = symmetry.prior_symmetry(data["config"]["prior"], data["config"]["encoding"])
    classes = symmetry.classes(data["config"]["arch"]["n"], sym)
    pvalues = []
    for e in data["results"]:
        per = {int(t["function"], 16): t["kstar_counts"] for t in e["per_target"]}
        for members in classes.values():
            hits = np.array([sum(per.get(f, [0])) for f in members])
            if len(members) > 1 and hits.sum() >= 5 * len(members):
                pvalues.append(stats.chisquare(hits).pvalue)
            split = np.array([[sum(per[f][:2]), sum(per[f][2:])] for f in members if f in per])
            if e["blocks"] >= 2 and len(split) > 1 and (split.sum(axis=0) >= 5 * len(split)).all():
                pvalues.append(stats.chi2_contingency(split).pvalue)
    assert len(pvalues) > 50
    assert statistics.holm(pvalues).min() > 0.01
    assert not any(math.isnan(p) for p in pvalues)


@pytest.mark.parametrize("name", ["flip_pairs_spread", "flip_pairs", "flip_pairs_hinge"])
def test_committed_flip_summaries_read_back_as_recomputed(name):
    # What load_json gives readers (some files keep their fields under a legacy "extra") is the new summary.
    from countnets import load_json

    result = load_json(ROOT / "results" / f"{name}.json")
    expected = json.loads(json.dumps(flip_summary(result.extra["pairs"], confidence=result.config["confidence"])))
    assert tolerance.mismatches(json.loads(json.dumps(dict(result.extra["summary"]))), expected) == []
