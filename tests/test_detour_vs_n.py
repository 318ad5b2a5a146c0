"""Issue 15, detours with n: write-erase at several branch scales on the same draws, and the sweep over n."""

import json

import pytest
from repo_script import load_script

import countnets as cn
from countnets import results
from countnets.experiments import detour

PRIOR = cn.Gaussian(1, 1)
TINY = dict(n=2, d=2, w=2, blocks=2, n_samples=512, chunk_size=256, encoding="pm1", seed=4)
FIELDS = ("branch_scale", "counts", "pair_counts", "with_pair", "without_pair", "ratio", "distinct_functions",
          "target_verdicts", "per_target")  # fmt: skip


def test_a_branch_scale_sweep_counts_each_alpha_as_its_own_run_with_the_same_seed(tmp_path):
    multi = detour.write_erase(PRIOR, branch_scale="0.25,1", **TINY)
    assert [e["branch_scale_spec"] for e in multi.extra["scales"]] == ["0.25", "1"]
    assert multi.config["branch_scale_spec"] == "0.25,1"
    for field in FIELDS:  # the top-level fields are the first alpha's
        assert multi.extra[field] == multi.extra["scales"][0][field], field
    entry = multi.extra["scales"][1]  # the second alpha, whose key rows lie behind the first's
    single = detour.write_erase(PRIOR, branch_scale="1", **TINY)
    assert "scales" not in results.to_json(single)  # a single alpha writes the payload of earlier versions
    assert entry["counts"]["with_pair"] > 0
    for field in FIELDS:
        assert single.extra[field] == entry[field], field  # bit-identical counts, intervals and verdicts
    for e in multi.extra["scales"]:  # each of the 2**(2**n) functions has a verdict; unseen ones have no hits
        assert sum(e["target_verdicts"].values()) == 16
        assert e["target_verdicts"]["no_hits"] == 16 - e["distinct_functions"]
    assert "every branch scale, on the same draws" in detour.format_detour(multi)
    again = results.load_json(results.save_json(multi, tmp_path / "we.json"))
    assert again.extra["scales"] == multi.extra["scales"]


def test_the_sweep_runs_beyond_n_3_and_counts_goals_against_the_possible_ones():
    sweep = detour.detour_vs_n(PRIOR, kind="goal", ns=[4], widths=[2], n_samples=256, chunk_size=256, encoding="pm1")
    (row,) = sweep["rows"]
    assert row["n"] == 4 and row["width"] == 2 and row["detour"] + row["direct"] == 256
    assert row["possible_functions"] == 2**16 and 0 < row["distinct_goals"] <= row["detour"]
    assert row["verdict"] == "below_1" and row["p_holm"] >= row["p_value"]
    assert row["ratio_nonconstant_ci"][0] <= row["ratio_nonconstant"] <= row["ratio_nonconstant_ci"][1]
    text = detour.format_detour_vs_n(json.loads(json.dumps(sweep)))  # as the script stores and reads it
    assert "goals seen / possible" in text and "/ 65,536" in text


@pytest.mark.parametrize(
    "kwargs, phrase",
    [
        (dict(kind="write-erase", ns=[3], branch_scale="1,fast"), "branch scale must be a number or 'invsqrt'"),
        (dict(kind="write-erase", ns=[3, 7]), r"n must be distinct values in 1\.\.6"),
        (dict(kind="goal", ns=[3, 3]), r"n must be distinct values in 1\.\.6"),
        (dict(kind="goal", ns=[0]), "n must be"),
        (dict(kind="goal", ns=[3], widths=[2, 2]), "goal widths must be distinct"),
        (dict(kind="serial", ns=[3]), "unknown detour kind 'serial'"),
    ],
)
def test_bad_sweep_input_is_refused_before_any_run(kwargs, phrase):
    with pytest.raises(cn.CountnetsError, match=phrase):
        detour.detour_vs_n(PRIOR, n_samples=10, **kwargs)


def test_write_erase_refuses_an_unknown_branch_scale():
    with pytest.raises(cn.CountnetsError, match="branch scale must be a number or 'invsqrt', got 'x'"):
        detour.write_erase(PRIOR, branch_scale="1,x", **TINY)


def test_the_docs_table_and_numbers_are_those_of_the_committed_sweep():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    script = load_script("scripts/detour_vs_n.py")
    data = json.loads((root / "results" / "detour_vs_n" / "detour_vs_n.json").read_text())
    page = (root / "docs" / "circuits.md").read_text()
    assert script.markdown(data) in page
    rows = [r for kind in ("write-erase", "goal") for r in data[kind]["sweep"]["rows"]]
    assert len(rows) == 28 and all(r["verdict"] == "below_1" and r["ratio_ci"][1] < 1 for r in rows)
    for kind in ("write-erase", "goal"):
        assert f"{data[kind]['wall_seconds']:.0f} s wall" in page
    goal = {(r["n"], r["width"]): r["ratio"] for r in data["goal"]["sweep"]["rows"]}
    widths = sorted({w for _, w in goal})
    assert all(goal[(n, a)] < goal[(n, b)] for n in range(3, 7) for a, b in zip(widths, widths[1:]))
    assert all(goal[(n, w)] < goal[(n + 1, w)] for n in range(3, 6) for w in widths)
