"""The experiments' registry (issue 27): one record per experiment, read by the command line, the plots and the loader.

A toy experiment written here, outside the package, registers itself with
``cn.experiments.register`` and then appears in ``countnets experiment --help``, runs from
the command line (table, ``--json``, ``--plot``), draws with ``countnets plot`` and loads
with its payload type, with no edit to the package.
"""

import argparse
import dataclasses
import json

import pytest

import countnets as cn
from countnets.cli import main
from countnets.records import Record, record
from countnets.results import payloads

BUILT_IN = ("basin", "composition", "detour", "diverse", "flip", "flip-decisive", "serial-parallel", "train-vs-prior")


@record
class ToyPayload(Record):
    """The toy experiment's result: its target and twice its estimate."""

    target: str
    doubled: float


def _add_toy_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--target", default="and")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None)
    parser.add_argument("--plot", default=None)
    parser.add_argument("--quiet", action="store_true")


def _run_toy(args: argparse.Namespace) -> cn.CountResult:
    result = cn.estimate_mc(cn.Gaussian(1.0, 1.0), cn.MLP(args.n, ()), [args.target], n_samples=4096, seed=args.seed)
    extra = payloads.make(ToyPayload, {"target": args.target, "doubled": 2 * result.estimates[0].p})
    return dataclasses.replace(result, kind="toy", extra=extra)


def _plot_toy(result: cn.CountResult, path) -> str:
    with open(path, "w") as handle:  # a figure in the loosest sense: the test reads it back
        handle.write(f"doubled={result.extra.doubled}\n")
    return str(path)


TOY = cn.experiments.Experiment(
    name="toy", help="a toy experiment registered from a test", add_arguments=_add_toy_arguments, run=_run_toy,
    format=lambda result: f"toy: doubled {result.extra.doubled:.4f}", plot=_plot_toy, figures=("figure",),
    payload=ToyPayload, description="Twice the prior mass of a target on a perceptron.",
)  # fmt: skip


@pytest.fixture
def toy():
    cn.experiments.register(TOY)
    yield TOY
    cn.experiments.unregister("toy")


def test_the_built_in_experiments_are_registered_and_resolve():
    assert tuple(e.name for e in cn.experiments.registered()) == BUILT_IN
    for experiment in cn.experiments.registered():
        for field in ("add_arguments", "run", "format", "plot"):
            callable_ = getattr(experiment, field)
            assert callable(callable_.resolve()), (experiment.name, field)  # every lazy path names a function


def test_built_in_payload_types_are_the_records_they_were():
    expected = {"basin": payloads.BasinPayload, "composition": payloads.CompositionPayload,
                "diverse": payloads.DiversePayload, "flip": payloads.FlipPayload,
                "flip-decisive": payloads.FlipDecisivePayload, "serial-parallel": payloads.SerialParallelPayload,
                "train-vs-prior": payloads.TrainVsPriorPayload}  # fmt: skip
    for kind, payload_type in expected.items():
        assert payloads.payload_type(kind, {}) is payload_type
    assert payloads.payload_type("detour", {"detour_kind": "write-erase"}) is payloads.WriteErasePayload
    assert payloads.payload_type("detour", {"detour_kind": "goal"}) is payloads.GoalPayload
    assert payloads.payload_type("estimate-splitting", {"method": "splitting"}) is payloads.SplittingPayload
    assert payloads.payload_type("estimate-integrated", {"method": "integrate"}) is payloads.IntegratedPayload
    assert payloads.payload_type("estimate-mc", {}) is None
    assert payloads.payload_type("histogram-exact", {}) is None
    assert payloads.payload_type("bench", {}) is payloads.BenchPayload
    assert payloads.payload_type("no-such-kind", {}) is None


def test_a_user_experiment_appears_in_help_runs_plots_and_loads(toy, tmp_path, capsys):
    assert main(["experiment", "--help"]) == 0
    assert "toy" in capsys.readouterr().out
    assert main(["experiment", "toy", "--help"]) == 0
    assert "Twice the prior mass" in capsys.readouterr().out

    out, fig = tmp_path / "toy.json", tmp_path / "toy.png"
    assert main(["experiment", "toy", "--n", "2", "--json", str(out), "--plot", str(fig)]) == 0
    printed = capsys.readouterr().out
    loaded = cn.load_json(out)
    assert loaded.kind == "toy" and isinstance(loaded.extra, ToyPayload)
    assert f"toy: doubled {loaded.extra.doubled:.4f}" in printed and f"wrote {fig}" in printed
    assert json.loads(out.read_text())["target"] == "and"  # a payload's fields sit at the top level
    assert fig.read_text() == f"doubled={loaded.extra.doubled}\n"

    again = tmp_path / "again.png"
    assert main(["plot", str(out), "--out", str(again)]) == 0
    assert again.read_text() == fig.read_text()


def test_an_unregistered_kind_has_no_figures_and_loads_as_plain_values(toy, tmp_path, capsys):
    out = tmp_path / "toy.json"
    assert main(["experiment", "toy", "--n", "2", "--json", str(out), "--quiet"]) == 0
    cn.experiments.unregister("toy")
    try:
        assert not isinstance(cn.load_json(out).extra, ToyPayload)  # no record: its fields as plain values
        assert main(["plot", str(out)]) == 2
        assert "no figures for results of kind 'toy'" in capsys.readouterr().err
    finally:
        cn.experiments.register(TOY)  # the fixture unregisters it


def test_a_run_that_returns_another_kind_is_a_bug_in_the_experiment(tmp_path):
    wrong = dataclasses.replace(TOY, name="wrong-kind")
    cn.experiments.register(wrong)
    try:
        with pytest.raises(TypeError, match="not a CountResult of its kind"):
            main(["experiment", "wrong-kind", "--n", "2", "--quiet"])
    finally:
        cn.experiments.unregister("wrong-kind")


@pytest.mark.parametrize(
    "change, message",
    [
        ({"name": "Bad Name"}, "lower case, digits and hyphens"),
        ({"name": "estimate"}, "engine's own results"),
        ({"name": "basin"}, "already registered"),
        ({"run": None}, "run must be callable"),
        ({"plot": 3}, "plot must be callable or None"),
        ({"figures": ()}, "figures must be non-empty"),
        ({"bench_tasks": ["exp-toy"]}, "bench_tasks must be callable or None"),
        ({"name": "estimate-mc"}, "engine's own results"),
        ({"name": "histogram"}, "engine's own results"),
    ],
)
def test_bad_records_are_refused_in_one_line(change, message):
    with pytest.raises(cn.CountnetsError, match=message):
        cn.experiments.register(dataclasses.replace(TOY, **change))


def test_register_takes_records_only_and_unregister_names_registered_ones():
    with pytest.raises(cn.CountnetsError, match="takes a countnets.experiments.Experiment"):
        cn.experiments.register({"name": "toy"})
    with pytest.raises(cn.CountnetsError, match="no experiment named 'toy'"):
        cn.experiments.unregister("toy")
    assert cn.experiments.get("toy") is None


def test_the_suite_holds_the_bench_tasks_each_experiment_record_names():
    # countnets.bench reads each record's bench_tasks instead of importing the experiments it knows.
    from countnets.bench import experiment_tasks, registered

    named = {e.name: [t.name for t in e.bench_tasks()] for e in cn.experiments.registered() if e.bench_tasks}
    assert named == {"composition": ["exp-composition"], "detour": ["exp-detour-write-erase", "exp-detour-goal"],
                     "flip": ["exp-flip"], "serial-parallel": ["exp-serial-parallel"]}  # fmt: skip
    suite = registered()
    assert [t.name for t in experiment_tasks.TASKS] == [name for names in named.values() for name in names]
    assert all(suite[t.name] is t for t in experiment_tasks.TASKS)
