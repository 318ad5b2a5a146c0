"""``countnets experiment basin`` end to end on a tiny setting: rows, JSON, figure, command line, bad input.

The estimates themselves are checked in tests/test_basin.py; here a run's shape and its
refusals. The setting is far too small for determined basins, and the test does not ask
for them.
"""

import json

import pytest
from repo_script import load_script

import countnets as cn
from countnets.cli import main
from countnets.experiments import basin_volume
from countnets.train.training import TrainConfig, training_set

TINY = ["--n", "2", "--hidden", "2", "--prior", "gaussian", "--encoding", "pm1", "--target", "and",
        "--train-points", "0,3", "--runs", "16", "--anchors", "1", "--tolerances", "0.3", "--replicas", "8",
        "--particles", "20", "--directions", "8", "--samples", "4096", "--quiet"]  # fmt: skip


def test_a_tiny_run_writes_rows_json_and_a_figure(tmp_path):
    path, fig = tmp_path / "basin.json", tmp_path / "basin.png"
    assert main(["experiment", "basin", *TINY, "--json", str(path), "--plot", str(fig)]) == 0
    data = json.loads(path.read_text())
    assert data["kind"] == "basin" and len(data["rows"]) == 1 and fig.exists()
    row = data["rows"][0]
    for field in ("basin", "basin_star", "p_f"):
        assert set(row[field]) >= {"p", "ci", "reliable"}
    assert set(row["radial"]) >= {"estimate", "spread"} and "p_f_given_s" in row
    assert row["tolerance"] == 0.3 and row["function"].startswith("0x")
    back = cn.load_json(path)
    assert type(back.extra).__name__ == "BasinPayload" and back.extra["summary"]["rows"] == 1


@pytest.mark.parametrize(
    "extra, phrase",
    [
        (["--tolerances", "-0.1"], "tolerances must be positive"),
        (["--prior", "lattice", "--values", "-1,0,1"], "needs a Gaussian prior"),
        (["--exact"], "--exact"),
    ],
)
def test_bad_input_is_refused_with_one_line(extra, phrase, capsys):
    args = list(TINY)
    for i in range(0, len(extra), 2):
        flag = extra[i]
        if flag in args and i + 1 < len(extra):
            args[args.index(flag) + 1] = extra[i + 1]
        else:
            args += extra[i : i + 2]
    assert main(["experiment", "basin", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert phrase in err and len(err.splitlines()) == 1, err


def test_too_few_fitting_runs_say_how_many():
    tset = training_set(2, "and", points=[0, 3])
    with pytest.raises(cn.CountnetsError, match="fit S; raise --runs"):
        basin_volume.basin_experiment(cn.Gaussian(), cn.MLP(2, (2,)), tset, TrainConfig(max_steps=0), anchors=3,
                                      runs=2)  # fmt: skip


def test_an_interrupted_run_resumes_from_its_checkpoint_with_identical_rows(tmp_path):
    tset = training_set(2, "and", points=[0, 3])
    kw = dict(anchors=1, runs=16, tolerances=(0.3,), directions=8, fit_samples=4096,
              splitting_options={"replicas": 8, "particles": 20}, seed=0)  # fmt: skip
    args = (cn.Gaussian(), cn.MLP(2, (2,)), tset, TrainConfig())
    path = tmp_path / "basin.ckpt"
    stopped = basin_volume.basin_experiment(*args, checkpoint=path, max_seconds=1e-9, **kw)
    assert stopped.stopped_by == "time" and stopped.extra["rows"] == []
    resumed = basin_volume.basin_experiment(*args, checkpoint=path, **kw)
    fresh = basin_volume.basin_experiment(*args, **kw)
    assert resumed.stopped_by == "samples" and len(resumed.extra["rows"]) == 1
    assert resumed.extra["rows"] == fresh.extra["rows"]


def test_a_resumed_run_counts_the_seconds_of_every_session(tmp_path):
    # The saved state's seconds never grew, so a resumed result reported only its last session's time.
    tset = training_set(2, "and", points=[0, 3])
    kw = dict(anchors=1, runs=16, tolerances=(0.3,), directions=8, fit_samples=4096, seed=0,
              splitting_options={"replicas": 8, "particles": 20}, checkpoint=tmp_path / "basin.ckpt")  # fmt: skip
    args = (cn.Gaussian(), cn.MLP(2, (2,)), tset, TrainConfig())
    first = basin_volume.basin_experiment(*args, **kw)
    again = basin_volume.basin_experiment(*args, **kw)  # every row is in the checkpoint: nothing left to run
    assert again.extra["rows"] == first.extra["rows"]
    assert again.seconds >= first.seconds > 0


def _row(anchor, tol, basin, star, radial, p_f=1e-3, reliable=True, theta=(0.0,)):
    interval = lambda p: {"p": p, "ci": [p / 2, p * 2], "reliable": reliable}  # noqa: E731
    return {"anchor": anchor, "tolerance": tol, "function": "0x1", "basin": interval(basin),
            "basin_star": interval(star), "radial": {"estimate": radial, "spread": 1.0, "hit_r_max": 0},
            "p_f": interval(p_f), "anchor_theta": list(theta)}  # fmt: skip


def test_the_pre_registered_analysis_on_made_up_rows():
    # scripts/basin_analysis.py, fixed before the run, on rows whose answers are known by construction.
    analysis = load_script("scripts/basin_analysis.py")
    main = [_row(i, 0.01, 1e-4, 1e-5, 1e-7) for i in range(20)]  # radial 100x below the star basin
    main += [_row(i, 0.1, 1e-4, 1e-5, 1e-5) for i in range(20)]  # radial on the star basin
    main += [_row(20, 0.1, 1e-4, 1e-5, 1e-5, reliable=False)]  # not determined: left out of B to E
    subset = [_row(i, 0.1, 1e-4, 3e-5, 2e-5) for i in range(5)]
    a = analysis.analyse(main, subset)
    assert a["A_determined"] == {"rows": 41, "basin": 40, "star": 40}
    assert a["B_share_of_p_f"]["0.01"]["median"] == pytest.approx(0.1)
    low, on = a["C_radial_vs_star"]["0.01"], a["C_radial_vs_star"]["0.1"]
    assert (low["below"], low["inside"], low["above"], low["verdict"]) == (20, 0, 0, "radial below")
    assert low["log10_ratio"]["median"] == pytest.approx(-2.0)
    assert (on["below"], on["inside"], on["verdict"]) == (0, 20, "not detected")
    assert a["D_star_grid_64_over_16"]["ratio"]["median"] == pytest.approx(3.0)
    assert a["D_star_grid_64_over_16"]["overlapping"] == 5
    assert a["E_radial_4096_over_256"]["ratio"]["median"] == pytest.approx(2.0)
    assert a["F_one_function"][0]["max_over_min"] == pytest.approx(1.0)
    assert "| 0.01 |" in analysis.markdown(a)
    with pytest.raises(SystemExit, match="not the same anchors"):
        analysis.analyse(main, [_row(0, 0.1, 1e-4, 3e-5, 2e-5, theta=(1.0,))])
