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
    (["histogram", "--n", "0"], "n \\(number of inputs\\)"),
    (["histogram", "--n", "9"], "must be in 1..8"),
    (["estimate", "--n", "3", "--target", "0xzz"], "malformed hex"),
    (["estimate", "--n", "3", "--target", "0x100"], "out of range for n=3"),
    (["estimate", "--n", "3", "--target", "and,,or"], "comma-separated"),
    (["histogram", "--n", "3", "--activation", "gelu"], "unknown activation 'gelu'"),
    (["histogram", "--n", "3", "--samples", "-5"], "must be >= 0"),
    (["histogram", "--n", "3", "--samples", "0"], "must be a positive int"),
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
    (["histogram", "--n", "3", "--sigma-w", "-1"], "sigma_w must be > 0"),
    (["histogram", "--n", "3", "--confidence", "2"], "confidence must be in"),
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
