"""``countnets estimate --method splitting``: the library's numbers, and one-line refusals of what does not apply."""

import json

import pytest

import countnets as cn
from countnets import results
from countnets.cli import main
from countnets.results import payloads

LATTICE_ARGS = ["estimate", "--n", "3", "--hidden", "2", "--prior", "lattice", "--values", "-1,0,1",
                "--encoding", "pm1", "--devices", "1", "--quiet"]  # fmt: skip
SPLIT = ["--method", "splitting", "--replicas", "8", "--particles", "200", "--seed", "3"]


def test_splitting_from_the_command_line_equals_the_library_call(tmp_path, capsys):
    path = tmp_path / "rare.json"
    assert main([*LATTICE_ARGS, *SPLIT, "--targets", "0x7", "--json", str(path)]) == 0
    data = json.loads(path.read_text())
    assert data["method"] == "splitting" and data["kind"] == "estimate-splitting"
    loaded = results.load_json(path)
    assert isinstance(loaded.extra, payloads.SplittingPayload)
    ref = cn.estimate_rare(cn.Lattice((-1.0, 0.0, 1.0)), cn.MLP(3, (2,)), "0x7", seed=3, replicas=8, particles=200,
                           encoding="pm1", devices=1)  # fmt: skip
    assert loaded.estimates == ref.estimates
    assert list(loaded.extra["replica_estimates"]) == list(ref.extra["replica_estimates"])


@pytest.mark.parametrize(
    "extra, phrase",
    [
        ([*SPLIT, "--targets", "0x7,0x6"], "one target at a time"),
        ([*SPLIT, "--targets", "0x7", "--samples", "1000"], "--samples applies to --method mc"),
        ([*SPLIT, "--targets", "0x7", "--exact"], "--exact applies to --method mc"),
        ([*SPLIT, "--targets", "0x7", "--interval", "wilson"], "--interval applies to --method mc"),
        (["--targets", "0x7", "--particles", "100"], "--particles applies to --method splitting"),
        (["--targets", "0x7", "--replicas", "10"], "--replicas applies to --method splitting"),
        ([*SPLIT, "--targets", "0x7", "--level-fraction", "1.5"], "--level-fraction"),
        ([*SPLIT, "--targets", "0x7", "--retry-factor", "0"], "--retry-factor"),
        (["--targets", "0x7", "--retry-factor", "2"], "--retry-factor applies to --method splitting"),
    ],
)
def test_options_that_do_not_apply_are_refused_with_one_line(extra, phrase, capsys):
    assert main([*LATTICE_ARGS, *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert phrase in err and len(err.splitlines()) == 1, err


def test_a_rerun_with_more_particles_is_said_and_saved(tmp_path, capsys):
    path = tmp_path / "rare.json"
    args = ["--method", "splitting", "--replicas", "32", "--particles", "10", "--seed", "1", "--retry-factor", "4"]
    assert main([*LATTICE_ARGS[:-1], *args, "--targets", "0x7", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "rerun with 40 particles: 10 particles were not determined" in out
    loaded = results.load_json(path)
    assert loaded.extra.retry_factor == 4 and [a.particles for a in loaded.extra.attempts] == [10]
