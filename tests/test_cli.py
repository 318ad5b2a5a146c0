"""The command line: JSON contents, and one-line errors with exit code 2 for bad input."""

import json
import os
import subprocess
import sys

import pytest

from countnets import cli, to_hex

ENV = {**os.environ, "JAX_PLATFORMS": "cpu"}


def test_histogram_json_fields(tmp_path, capsys):
    path = tmp_path / "hist.json"
    code = cli.main(["histogram", "--n", "2", "--hidden", "3", "--samples", "3000", "--seed", "5",
                     "--chunk-size", "1000", "--top", "4", "--json", str(path), "--quiet"])  # fmt: skip
    assert code == 0
    data = json.loads(path.read_text())
    for field in ["samples", "exact", "seed", "chunk_size", "config", "histogram", "estimates", "versions",
                  "device", "seconds"]:  # fmt: skip
        assert field in data, field
    assert data["samples"] == 3000 and data["seed"] == 5 and data["chunk_size"] == 1000 and not data["exact"]
    assert sum(data["histogram"].values()) == 3000
    assert len(data["estimates"]) == 4
    for e in data["estimates"]:
        assert set(["function", "hits", "p", "ci", "confidence", "bits"]) <= set(e)
        assert data["histogram"][e["function"]] == e["hits"]
        assert e["ci"][0] <= e["p"] <= e["ci"][1]
    assert data["config"]["arch"] == {"arch": "mlp", "n": 2, "hidden": [3], "activation": "relu"}
    assert capsys.readouterr().out == ""


def test_estimate_and_exact_print_tables(capsys):
    assert cli.main(["estimate", "--n", "2", "--hidden", "none", "--prior", "lattice", "--values", "-1,0,1",
                     "--exact", "--target", "and,0x6"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "exact enumeration" in out and "0x8" in out and "0x6" in out
    assert cli.main(["estimate", "--n", "3", "--target", "majority", "--samples", "2000", "--chunk-size", "500"]) == 0
    assert to_hex(0xE8) in capsys.readouterr().out


def test_exact_histogram_matches_library(tmp_path):
    path = tmp_path / "exact.json"
    assert cli.main(["histogram", "--n", "2", "--hidden", "2", "--prior", "lattice", "--values", "-1,0,1",
                     "--exact", "--json", str(path), "--quiet"]) == 0  # fmt: skip
    data = json.loads(path.read_text())
    assert data["exact"] and data["samples"] == 3**9 and sum(data["histogram"].values()) == 3**9


BAD = [
    (["histogram", "--n", "0"], "argument --n: must be in 1..12, got 0"),
    (["histogram", "--n", "13"], "must be in 1..12"),
    (["histogram", "--n", "9"], "takes n <= 8, got n=9"),
    (["estimate", "--n", "3", "--target", "0xzz"], "malformed hex"),
    (["estimate", "--n", "3", "--target", "0x100"], "out of range for n=3"),
    (["estimate", "--n", "3", "--target", "and,,or"], "comma-separated"),
    (["histogram", "--n", "3", "--activation", "gelu"], "argument --activation: invalid choice: 'gelu'"),
    # One message for every value out of range, naming the option (issue 12, item 11).
    (["histogram", "--n", "3", "--samples", "-5"], "^countnets: error: argument --samples: must be a positive int, got -5$"),  # noqa: E501
    (["histogram", "--n", "3", "--samples", "0"], "^countnets: error: argument --samples: must be a positive int, got 0$"),  # noqa: E501
    (["histogram", "--n", "3", "--samples", "lots"], "expected an int"),
    (
        ["histogram", "--n", "3", "--hidden", "8,8", "--prior", "lattice", "--values", "-1,0,1", "--exact"],
        "3\\*\\*113 = 8.217e\\+53 configurations",
    ),
    (["histogram", "--n", "3", "--prior", "gaussian", "--exact"], "needs a Lattice prior"),
    (
        ["histogram", "--n", "2", "--prior", "lattice", "--values", "-1,1", "--exact", "--max-seconds", "5"],
        "--max-seconds applies to sampling, not to --exact",
    ),
    (["histogram", "--n", "3", "--prior", "uniform"], "needs --bound"),
    (["histogram", "--n", "3", "--prior", "lattice"], "needs --values"),
    (["histogram", "--n", "3", "--sigma-w", "-1"], "argument --sigma-w: must be > 0, got -1"),
    (["histogram", "--n", "3", "--confidence", "2"], "argument --confidence: must be in \\(0, 1\\), got 2"),
    (["histogram", "--n", "3", "--encoding", "bits"], "invalid choice"),
    (["histogram", "--n", "3", "--bogus"], "unrecognized arguments"),
    (["frobnicate"], "invalid choice"),
    ([], "required"),
]


@pytest.mark.parametrize("argv, match", BAD)
def test_bad_input_one_line_exit_2(argv, match, capsys):
    import re

    code = cli.main(argv)
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("countnets: error: ")
    assert re.search(match, lines[0]), lines[0]
    assert "Traceback" not in err


def test_python_m_entry_point_bad_input_has_no_traceback():
    proc = subprocess.run([sys.executable, "-m", "countnets", "estimate", "--n", "3", "--target", "0x1ff"],
                          capture_output=True, text=True, env=ENV, timeout=120)  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "countnets: error: truth table '0x1ff' is out of range for n=3: it must be below 2**(2**3) = 0x100"
    ]


@pytest.mark.parametrize("content", ["[1,2]", '{"schema_version":1}', '{"schema_version":1,"estimates":[],"kind":"x"}'])
def test_plot_malformed_result_is_one_line_exit_2(tmp_path, content, capsys):
    path = tmp_path / "bad.json"
    path.write_text(content)
    code = cli.main(["plot", str(path)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err


# ----------------------------------------------------------------------------- run behaviour (issue 12, items 8, 9)

SMALL = ["histogram", "--n", "2", "--hidden", "2", "--samples", "2048", "--chunk-size", "256", "--devices", "1",
         "--chunks-per-step", "1"]  # fmt: skip


def test_checkpoints_are_saved_by_time_not_every_step_by_default(tmp_path, monkeypatch):
    # Saving every step cost 2-2.8x the run time (item 8): the default is now 30 s, and always at exit.
    from countnets.engine import checkpoint

    assert checkpoint.DEFAULT_EVERY_SECONDS == 30.0
    assert "always saved when the run stops or ends (default: 30.0)" in " ".join(
        cli.build_parser()._subparsers._group_actions[0].choices["histogram"].format_help().split()
    )
    saves = []
    real_save = checkpoint.save
    monkeypatch.setattr(checkpoint, "save", lambda *a, **k: (saves.append(k["next_chunk"]), real_save(*a, **k)))
    assert cli.main([*SMALL, "--quiet", "--checkpoint", str(tmp_path / "a.ckpt")]) == 0
    assert saves == [8]  # 8 steps, one save: at the end
    saves.clear()
    assert cli.main([*SMALL, "--quiet", "--checkpoint", str(tmp_path / "b.ckpt"), "--checkpoint-every", "0"]) == 0
    assert saves == list(range(1, 9))


def test_a_resumed_run_is_labelled_with_its_own_rate_apart_from_the_totals(tmp_path, capsys):
    ckpt, path = tmp_path / "r.ckpt", tmp_path / "r.json"
    assert cli.main([*SMALL, "--checkpoint", str(ckpt), "--max-seconds", "1e-9"]) == 0
    first = capsys.readouterr().out
    assert "stopped by --max-seconds 1e-09 after 256 of 2,048 samples" in first  # item 9
    assert cli.main([*SMALL, "--checkpoint", str(ckpt), "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "histogram: 2,048 samples, seed 0 (resumed from 256); chunk size 256; this run " in out
    assert f"resumed from checkpoint {ckpt} at 256 samples: this run 1,792 samples in " in out
    assert json.loads(path.read_text())["checkpoint"]["resumed_from"] == 256


def test_rel_width_says_why_it_stopped_or_why_it_could_not(capsys):
    base = ["estimate", "--n", "2", "--hidden", "2", "--samples", "4096", "--chunk-size", "256", "--devices", "1",
            "--chunks-per-step", "1"]  # fmt: skip
    assert cli.main([*base, "--target", "0x0", "--rel-width", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "stopped by --rel-width 0.5 after 256 of 4,096 samples: every target's interval half-width" in out
    # Parity on 4 inputs has (almost surely) no hits in 4096 tiny networks: the run cannot stop early.
    assert cli.main([*base, "--n", "4", "--target", "0x0,parity", "--rel-width", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "--rel-width 0.5 was not reached within --samples 4,096: 0x6996 had no hits" in out


@pytest.mark.parametrize(
    "size, shape",
    [((0, 0), (80, 20)), ((100, 30), (None, None)), ((100, 0), (None, 20)), ((0, 30), (80, None)), (OSError, (80, 20))],
)
def test_the_progress_bar_falls_back_to_80_by_20_when_the_terminal_reports_0(monkeypatch, size, shape):
    # Issue 24 item 9: with 0 rows reported, tqdm drew nothing (0 columns were already handled).
    from countnets.engine import driver

    def terminal_size(fd):
        if size is OSError:
            raise OSError("not a terminal")
        return os.terminal_size(size)

    monkeypatch.setattr(os, "get_terminal_size", terminal_size)
    assert driver.bar_shape() == {"ncols": shape[0], "nrows": shape[1]}
