"""Issue 29's plan (version 2): written before any training, checked field by field, equal to the committed file."""

from __future__ import annotations

import json
import pathlib

import pytest

from countnets._errors import CountnetsError
from countnets.cli import main
from countnets.experiments.flip_decisive import integrated_plan as integrated
from countnets.network.architectures import MLP
from countnets.network.priors import Gaussian, Uniform

ROOT = pathlib.Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "results" / "flip_plan.json"


def test_committed_plan_is_the_one_the_code_builds():
    committed = json.loads(COMMITTED.read_text())
    built = json.loads(json.dumps(integrated.integrated_plan(Gaussian(1.0, 1.0), MLP(4, (8,), "relu"), seed=29)))
    assert committed == built
    assert integrated.check_integrated_plan(committed) is committed


def test_cli_writes_the_plan_and_round_trips(tmp_path):
    out = tmp_path / "plan.json"
    assert main(["experiment", "flip-decisive", "--n", "4", "--integrated", "--plan-out", str(out), "--seed", "29",
                 "--quiet"]) == 0  # fmt: skip
    assert integrated.read_integrated_plan(out) == json.loads(COMMITTED.read_text())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "not JSON"),
        ("{not json", "not JSON"),
        ("[1, 2]", "not a flip-decisive plan"),
        ('{"plan_version": 2, "kind": "flip-decisive", "design": "integrated-pressure"}', "lacks the field"),
    ],
)
def test_bad_plan_files_are_one_line_errors(tmp_path, capsys, text, message):
    path = tmp_path / "plan.json"
    path.write_text(text)
    assert main(["experiment", "flip-decisive", "--n", "4", "--plan", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_mistyped_fields_are_named():
    plan = json.loads(COMMITTED.read_text())
    plan["sgd"]["runs"] = "many"
    with pytest.raises(CountnetsError, match="sgd.runs"):
        integrated.check_integrated_plan(plan)
    plan = json.loads(COMMITTED.read_text())
    plan["langevin"]["lambdas"] = [1.0, 0.5]
    with pytest.raises(CountnetsError, match="langevin.lambdas"):
        integrated.check_integrated_plan(plan)


def test_plan_needs_a_gaussian_prior_and_points_off_s():
    with pytest.raises(CountnetsError, match="Gaussian prior"):
        integrated.integrated_plan(Uniform(1.0), MLP(4, (8,), "relu"))
    with pytest.raises(CountnetsError, match="train_size"):
        integrated.integrated_plan(Gaussian(1.0, 1.0), MLP(2, (8,), "relu"), train_size=3)


def test_seeds_never_collide_between_groups():
    seeds = [integrated.splitting_seed(29, c, p) for c in range(200) for p in [None, *range(16)]]
    assert len(set(seeds)) == len(seeds)
    groups = [v for c in range(200) for v in integrated.group_seeds(29, c).values()]
    assert len(set(groups)) == len(groups)
