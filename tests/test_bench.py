"""The counting suite: the registry refuses incomplete tasks, a wrong reference fails, the quick suite passes."""

import dataclasses
import json
import math

import pytest

import countnets as cn
from countnets import bench, results
from countnets.bench import references as refs
from countnets.bench.registry import Measurement, Reference, Task, binomial_agreement
from countnets.cli import main


def _measure(config, seed):
    return Measurement(estimate=0.5, interval=(0.4, 0.6), confidence=0.999, unit="P", samples=10,
                       details={"hits": 5, "n": 10})  # fmt: skip


def _task(**changes):
    base = dict(
        name="toy-task", group="engine", what="a toy", suites={"quick": {}}, measure=_measure,
        reference=Reference(source="closed-form", citation="by hand", claim="p = 1/2", value=0.5),
        agree=binomial_agreement,
    )  # fmt: skip
    return Task(**{**base, **changes})


# ----------------------------------------------------------------------------- the registry


def test_a_complete_task_is_accepted():
    assert _task().name == "toy-task"


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"measure": None}, "has no measurement"),
        ({"reference": None}, "has no reference source"),
        ({"reference": Reference(source="folklore", citation="x", claim="y", value=0.5)}, "has no reference source"),
        ({"reference": Reference(source="published", claim="y")}, "needs a citation"),
        ({"reference": Reference(source="exact", citation="x")}, "needs its claim"),
        ({"agree": None}, "needs an agreement test"),
        ({"suites": {}}, "suites must be"),
        ({"suites": {"nightly": {}}}, "suites must be"),
        ({"group": "misc"}, "group must be"),
        ({"name": "Bad Name"}, "lowercase slug"),
    ],
)
def test_the_registry_refuses_an_incomplete_task(changes, message):
    with pytest.raises(cn.CountnetsError, match=message):
        bench.register(_task(**changes))


def test_register_checks_again_and_refuses_duplicates():
    task = _task()
    object.__setattr__(task, "reference", None)  # built around the constructor
    with pytest.raises(cn.CountnetsError, match="has no reference source"):
        bench.register(task)
    with pytest.raises(cn.CountnetsError, match="already registered"):
        bench.register(dataclasses.replace(bench.get_task("closed-form-n1")))


def test_a_measured_only_task_needs_no_reference_value_or_test():
    task = _task(reference=Reference(source="measured-only"), agree=None, group="experiments")
    result = bench.run_tasks([task], suite="quick")
    assert result.extra.rows[0].verdict == "measured"


def test_unknown_names_and_suites_are_one_line_errors():
    with pytest.raises(cn.CountnetsError, match="no task named 'nope'"):
        bench.run(suite="quick", only=["nope"])
    with pytest.raises(cn.CountnetsError, match="suite must be one of"):
        bench.run(suite="nightly")
    with pytest.raises(cn.CountnetsError, match="not in the quick suite"):
        bench.run(suite="quick", only="mingard-sgd-vs-bayes")


@pytest.mark.skipif(bench.splitting_available(), reason="countnets.rare.splitting is installed")
def test_a_rare_event_task_without_splitting_says_what_is_missing():
    for name in bench.RARE_TASK_NAMES:
        with pytest.raises(cn.CountnetsError, match="countnets.rare.splitting"):
            bench.run(suite="quick", only=[name])
    with pytest.raises(cn.CountnetsError, match="countnets.rare.splitting"):
        bench.rare_event_tasks()


def test_a_raising_task_is_an_error_row_and_the_rest_run():
    def broken(config, seed):
        raise RuntimeError("boom")

    rows = bench.run_tasks([_task(measure=broken), _task(name="toy-two")], suite="quick").extra.rows
    assert [r.verdict for r in rows] == ["error", "pass"]
    assert "boom" in rows[0].note


# ----------------------------------------------------------------------------- wrong references fail


def _smaller(task, samples):
    return dataclasses.replace(task, suites={"quick": {**task.suites["quick"], "samples": samples}})


def test_a_deliberately_wrong_reference_makes_its_row_fail():
    task = _smaller(bench.get_task("closed-form-n1"), 50_000)
    right = bench.run_tasks([task], suite="quick").extra.rows[0]
    assert right.verdict == "pass", right
    wrong_value = right.reference * 1.1  # 10% off: about 10 standard errors at 50,000 samples
    wrong = dataclasses.replace(task, reference=dataclasses.replace(task.reference, value=wrong_value))
    row = bench.run_tasks([wrong], suite="quick").extra.rows[0]
    assert row.verdict == "fail" and row.p_value < 1e-6 and row.overlap is False
    assert row.estimate == right.estimate  # same measurement, only the reference moved


def test_a_wrong_threshold_count_fails():
    task = _smaller(bench.get_task("threshold-count-n3"), 20_000)  # the rarest function is expected ~60 times
    wrong = dataclasses.replace(task, reference=dataclasses.replace(task.reference, value=lambda config: 105.0))
    row = bench.run_tasks([wrong], suite="quick").extra.rows[0]
    assert row.verdict == "fail" and "not seen" in row.note


# ----------------------------------------------------------------------------- independent references


def test_lp_and_brute_force_agree_on_every_function_of_three_inputs():
    brute = refs.threshold_functions_bruteforce(3)
    assert {f for f in range(256) if refs.is_threshold(f, 3)} == brute
    assert len(brute) == refs.threshold_count(3) == 104
    assert len(refs.threshold_functions_bruteforce(4)) == 1882


def test_closed_forms_are_distributions():
    assert math.isclose(sum(refs.isotropic_n2_pm1().values()), 1.0)
    assert math.isclose(sum(refs.orthant_n1(1.3, 0.4).values()), 1.0)
    assert refs.zero_bias_ones_law(3).sum() == pytest.approx(1.0)


def test_orbits_of_three_inputs_are_the_npn_classes():
    classes = refs.orbits(range(256), 3)
    assert len(classes) == 14 and sum(len(c) for c in classes) == 256


# ----------------------------------------------------------------------------- the quick suite


@pytest.fixture(scope="module")
def quick():
    return bench.run(suite="quick", seed=0)


def test_the_quick_suite_passes(quick):
    rows = quick.extra.rows
    assert [r.name for r in rows] == [t.name for t in bench.suite_tasks("quick")]
    bad = [(r.name, r.verdict, r.note) for r in rows if r.verdict not in ("pass", "measured")]
    assert not bad, bad
    for r in rows:
        if r.source == "measured-only":
            assert r.verdict == "measured" and math.isfinite(r.estimate)
        else:
            assert r.verdict == "pass" and r.test and r.citation
        assert r.samples > 0 and r.command


def test_the_quick_suite_round_trips_through_json(quick, tmp_path):
    path = tmp_path / "bench.json"
    results.save_json(quick, path)
    data = json.loads(path.read_text())
    assert data["kind"] == "bench" and len(data["rows"]) == len(quick.extra.rows)
    assert results.load_json(path) == quick


def test_the_tables_name_every_row(quick):
    text, markdown = bench.format_bench(quick), bench.markdown_bench(quick)
    for r in quick.extra.rows:
        assert r.name in text and f"`{r.name}`" in markdown
    assert "Machine:" in markdown and "Versions:" in markdown and "Command:" in markdown


def test_the_command_line_writes_json_and_markdown(tmp_path, capsys):
    out, md = tmp_path / "b.json", tmp_path / "b.md"
    code = main(["bench", "--suite", "quick", "--only", "closed-form-n2", "--json", str(out), "--markdown", str(md)])
    assert code == 0, capsys.readouterr()
    row = results.load_json(out).extra.rows[0]
    assert row.name == "closed-form-n2" and row.verdict == "pass"
    text = md.read_text()
    assert "countnets bench --suite quick --only closed-form-n2 --seed 0" in text and "closed-form-n2" in text
    assert main(["bench", "--only", "nope"]) == 2


def test_the_docs_example_registers_and_runs_a_task(capsys):
    import re
    from pathlib import Path

    from countnets.bench import registry

    text = (Path(__file__).resolve().parents[1] / "docs" / "bench.md").read_text()
    code = re.search(r"<!-- add-a-task -->\s*```python\n(.*?)```", text, re.S).group(1)
    try:
        exec(compile(code, "docs/bench.md", "exec"), {})
        assert capsys.readouterr().out.strip() == "pass"
    finally:
        registry._REGISTRY.pop("my-task", None)


@pytest.mark.parametrize("name", ["valle-perez-rank-frequency", "mingard-sgd-vs-bayes"])
def test_standard_only_tasks_run_at_small_sizes(name):
    # Their verdicts at these sizes mean nothing; the rows must come out whole (and type-checked).
    task = bench.get_task(name)
    small = {"samples": 20_000, "bootstrap": 50, "min_count": 3}
    if name.startswith("mingard"):
        small.update(runs=256, max_steps=50)
    tiny = dataclasses.replace(task, suites={"quick": {**task.suites["standard"], **small}})
    row = bench.run_tasks([tiny], suite="quick").extra.rows[0]
    assert row.verdict in ("pass", "fail"), row.note
    assert row.samples >= 20_000 and row.command and row.details


def test_the_docs_summary_quotes_the_committed_table():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    rows = {r["name"]: r for r in json.loads((root / "results" / "benchmark-suite.json").read_text())["rows"]}
    text = " ".join((root / "docs" / "bench.md").read_text().split())

    def quoted(value, ci):
        return f"{value:.3g} [{ci[0]:.3g}, {ci[1]:.3g}]"

    judged = [r for r in rows.values() if r["source"] != "measured-only"]
    assert all(r["verdict"] == "pass" for r in judged)
    for name in ("valle-perez-rank-frequency", "valle-perez-complexity", "mingard-sgd-vs-bayes"):
        assert quoted(rows[name]["estimate"], rows[name]["interval"]) in text, name
    details = rows["valle-perez-complexity"]["details"]
    assert quoted(details["spearman_ones"], details["spearman_ones_ci"]) in text
    assert details["tracks_p_better"] == "number of ones"
    mingard = rows["mingard-sgd-vs-bayes"]["details"]
    assert quoted(mingard["slope_log_sgd_on_log_b"], mingard["slope_ci"]) in text
    assert re.search(rf"over {mingard['functions_compared']} functions", text)
    for name in ("rare-splitting-vs-exact", "rare-splitting-vs-mc"):
        assert quoted(rows[name]["estimate"], rows[name]["interval"]) in text, name
        # Quoted as intervals, so they must pass the reliability rule: Kish's count from the stored relative error.
        d = rows[name]["details"]
        kish = d["replicas"] / (1 + d["relative_error"] ** 2 * (d["replicas"] - 1))
        assert kish >= 30 and d["replicas_hit"] == d["replicas"] and f"{kish:.0f}" in text, (name, kish)
    # The compositional row predates the reliability rule and stored no replica weights: not determined, not quoted.
    assert quoted(rows["exp-composition"]["estimate"], rows["exp-composition"]["interval"]) not in text
    assert "is not\n  determined under the reliability rule" in (root / "docs" / "bench.md").read_text()
    assert f"z-test p = {rows['rare-splitting-vs-mc']['details']['p_value']:.3g}" in text


@pytest.mark.parametrize(
    "argv",
    [
        ["bench", "--suite", "nightly"],
        ["bench", "--seed", "4294967296", "--only", "closed-form-n1", "--suite", "quick"],
        ["bench", "--only", ",", "--suite", "quick"],
        ["bench", "--json", ".", "--suite", "quick", "--only", "closed-form-n1"],
        ["bench", "--json", "same.json", "--markdown", "same.json", "--suite", "quick"],
        ["bench", "--suite", "quick", "--only", "mingard-sgd-vs-bayes"],
    ],
)
def test_bad_bench_options_are_one_line_errors(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("countnets: error: ")
