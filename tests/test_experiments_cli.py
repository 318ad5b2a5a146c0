"""End-to-end runs of ``countnets experiment serial-parallel|detour`` and ``countnets plot``."""

import json
import math

import pytest
from repo_script import load_script

from countnets import results
from countnets.cli import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
COMMON = ["--n", "3", "--encoding", "pm1", "--seed", "3", "--chunk-size", "512"]


def _run(argv, capsys):
    rc = main(argv)
    out = capsys.readouterr()
    return rc, out.out, out.err


def _is_png(path):
    with open(path, "rb") as fh:
        return fh.read(8) == PNG_MAGIC


def test_serial_parallel_cli_writes_json_table_and_figures(tmp_path, capsys):
    path, png = tmp_path / "sp.json", tmp_path / "sp.png"
    argv = ["experiment", "serial-parallel", *COMMON, "--width", "4", "--block-width", "4", "--blocks", "1,2",
            "--branch-scale", "1,invsqrt", "--targets", "all", "--prior", "gaussian", "--sigma-w", "1",
            "--sigma-b", "1", "--samples", "3000", "--json", str(path), "--plot", str(png)]  # fmt: skip
    rc, out, err = _run(argv, capsys)
    assert rc == 0, err
    assert "P(parallel)" in out and "ratio" in out and "per target (all functions" in out
    data = json.loads(path.read_text())
    assert data["kind"] == "serial-parallel" and data["seed"] == 3 and data["chunk_size"] == 512
    entries = data["results"]
    assert [(e["blocks"], e["branch_scale_spec"]) for e in entries] == [
        (1, "1"),
        (1, "invsqrt"),
        (2, "1"),
        (2, "invsqrt"),
    ]
    assert math.isclose(entries[3]["branch_scale"], 1 / math.sqrt(2), rel_tol=1e-12)
    for e in entries:
        L = e["blocks"]
        assert len(e["kstar_counts"]) == L + 1 and sum(e["kstar_counts"]) == 3000
        assert sum(t["hits"] for t in e["per_target"]) == 3000
        assert e["parallel"]["hits"] == sum(e["kstar_counts"][:2])
        assert e["serial"]["hits"] == sum(e["kstar_counts"][2:])
        assert e["ratio"]["hits_a"] == e["parallel"]["hits"] and len(e["ratio"]["ci"]) == 2
        assert e["arch"]["branch_scale"] == e["branch_scale"]
    assert entries[0]["serial"]["hits"] == 0  # k* <= L = 1
    loaded = results.load_json(path)
    assert loaded.extra["results"] == entries
    assert _is_png(tmp_path / "sp.png") and _is_png(tmp_path / "sp_kstar.png")

    rc, out, err = _run(["plot", str(path), "--out", str(tmp_path / "again.png")], capsys)
    assert rc == 0, err
    assert _is_png(tmp_path / "again.png") and "again_kstar.png" in out


def test_write_erase_cli_counts_every_network(tmp_path, capsys):
    path = tmp_path / "we.json"
    argv = ["experiment", "detour", "--kind", "write-erase", *COMMON, "--width", "4", "--block-width", "4",
            "--blocks", "3", "--branch-scale", "1,invsqrt", "--targets", "and,majority", "--samples", "2000",
            "--json", str(path), "--plot", str(tmp_path / "we.png")]  # fmt: skip
    rc, out, err = _run(argv, capsys)
    assert rc == 0, err
    assert "with_pair" in out and "per target" in out
    data = json.loads(path.read_text())
    assert data["detour_kind"] == "write-erase" and data["branch_scale"] == 1.0
    assert data["counts"]["with_pair"] + data["counts"]["without_pair"] == 2000
    assert [t["function"] for t in data["per_target"]] == ["0x80", "0xe8"]
    assert set(data["pair_counts"]) == {"1,2", "1,3", "2,3"}
    assert sum(data["pair_counts"].values()) >= data["counts"]["with_pair"]
    # Several branch scales on the same draws: the top-level fields are the first alpha's.
    assert [e["branch_scale_spec"] for e in data["scales"]] == ["1", "invsqrt"] and "every branch scale" in out
    assert data["scales"][0]["counts"] == data["counts"] and data["scales"][1]["branch_scale"] == pytest.approx(3**-0.5)
    assert _is_png(tmp_path / "we.png")


def test_goal_cli_counts_every_network(tmp_path, capsys):
    path = tmp_path / "goal.json"
    argv = ["experiment", "detour", "--kind", "goal", *COMMON, "--width", "4", "--targets", "all",
            "--samples", "2000", "--json", str(path)]  # fmt: skip
    rc, out, err = _run(argv, capsys)
    assert rc == 0, err
    assert "detour (sum over goals) / direct" in out
    data = json.loads(path.read_text())
    assert data["config"]["arch"] == {"arch": "goalnet", "n": 3, "w": 4}
    counts = data["counts"]
    assert counts["direct"] + counts["detour"] + counts["other"] == 2000
    assert data["distinct_goals"] == len(data["goals"]) and sum(data["goals"].values()) == counts["detour"]
    assert sum(t["hits"] for t in data["per_target"]) == 2000
    assert sum(t["detour"] for t in data["per_target"]) == counts["detour"]
    for t in data["per_target"]:
        assert sum(t["goals"].values()) == t["detour"] and t["distinct_goals"] == len(t["goals"])
    assert sum(data["direct_breakdown"].values()) == counts["direct"]


@pytest.mark.parametrize(
    "argv,message",
    [
        (["experiment", "serial-parallel", "--n", "3", "--branch-scale", "fast"], "branch scale"),
        (["experiment", "serial-parallel", "--n", "3", "--blocks", "1,x"], "block counts"),
        (["experiment", "serial-parallel", "--n", "3", "--blocks", "0"], "blocks"),
        (["experiment", "serial-parallel", "--n", "3", "--targets", "0x1ff"], "out of range"),
        (["experiment", "serial-parallel", "--n", "3", "--prior", "uniform"], "--bound"),
        (["experiment", "detour", "--n", "3"], "--kind"),
        (["experiment", "detour", "--kind", "goal", "--n", "3", "--blocks", "3"], "write-erase"),
        (["experiment", "detour", "--kind", "write-erase", "--n", "3", "--blocks", "2,3"], "one block count"),
        (["experiment", "detour", "--kind", "write-erase", "--n", "3", "--blocks", "1"], "2..8 blocks"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(argv, message, capsys):
    rc, out, err = _run(argv, capsys)
    assert rc == 2
    assert message in err and err.count("\n") == 1


def test_plot_refuses_undrawable_results_naming_the_file(tmp_path, capsys):
    record = results.CountResult(kind="histogram-mc", config={}, seed=0, chunk_size=1, samples=1, exact=False,
                                 histogram={"0x0": 1}, estimates=())  # fmt: skip
    results.save_json(record, tmp_path / "h.json")
    rc, _, err = _run(["plot", str(tmp_path / "h.json")], capsys)
    assert rc == 2 and f"result '{tmp_path / 'h.json'}'" in err and "without estimates" in err
    assert err.count("\n") == 1
    other = results.CountResult(kind="mystery", config={}, seed=0, chunk_size=1, samples=1, exact=False,
                                histogram=None, estimates=())  # fmt: skip
    results.save_json(other, tmp_path / "m.json")
    rc, _, err = _run(["plot", str(tmp_path / "m.json")], capsys)
    assert rc == 2 and "no figures for results of kind 'mystery'" in err and err.count("\n") == 1


def test_docs_tables_are_built_from_the_committed_results():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    tables = load_script("results/circuits_tables.py")
    docs = (root / "docs" / "circuits.md").read_text()
    lines = tables.serial_parallel(root / "results" / "serial_parallel.json")
    lines += tables.detour_rows(root / "results" / "detour_write_erase.json", root / "results" / "detour_goal.json")
    for line in lines:
        if line.startswith("|"):
            assert line in docs, line
    # The committed runs are big enough that every pooled ratio interval is narrower than a factor of 2.
    for record in [e["ratio"] for e in json.loads((root / "results" / "serial_parallel.json").read_text())["results"]
                   if e["blocks"] >= 2] + [json.loads((root / "results" / name).read_text())["ratio"]
                                           for name in ("detour_write_erase.json", "detour_goal.json")]:  # fmt: skip
        lo, hi = (float(v) for v in record["ci"])
        assert 0 < lo and hi / lo < 2


def _refuse_constant(token):
    raise ValueError(f"non-standard JSON token {token}")


FLIP = ["experiment", "flip", "--n", "3", "--hidden", "none", "--target", "or", "--train-points", "0,3,5",
        "--chunk-size", "128", "--samples", "2000", "--runs", "8", "--lambdas", "0,1"]  # fmt: skip


def _flip_row(text, a, b):
    return next(line for line in text.splitlines() if line.startswith(f"{a}  {b}")).split()


def test_flip_writes_infinite_and_undefined_odds_as_standard_json(tmp_path, capsys):
    from countnets.experiments.flip import format_flip, plot_flip

    # A perceptron cannot compute 0x68 or 0x6a (not linearly separable) but both agree with
    # "or" on S = {0, 3, 5}: the prior never samples them, whatever the seed.
    path, png = tmp_path / "flip.json", tmp_path / "flip.png"
    rc, out, err = _run([*FLIP, "--b", "0x68", "--b-rank", "2", "--json", str(path), "--plot", str(png)], capsys)
    assert rc == 0, err
    assert _is_png(png)
    data = json.loads(path.read_text(), parse_constant=_refuse_constant)
    inf_pair, finite_pair = data["pairs"]
    assert inf_pair["b"] == "0x68" and inf_pair["prior_counts"][1] == 0 and inf_pair["prior_counts"][0] > 0
    assert inf_pair["prior_odds"] == "inf" and inf_pair["log_odds"] == "inf" and inf_pair["prior_odds_ci"][1] == "inf"
    assert isinstance(finite_pair["prior_odds"], float) and math.isfinite(finite_pair["log_odds"])
    assert _flip_row(out, inf_pair["a"], "0x68")[4] == "inf"
    assert "odds inf: B was never seen" in out and "odds -" not in out
    loaded = results.load_json(path)  # reading it back gives the same table
    assert format_flip(loaded) in out

    # A = 0x6a never seen: odds 0 (ln O = -inf) against a seen B, undefined ("nan") against 0x68.
    rc, out, err = _run([*FLIP, "--a", "0x6a", "--b", "0x68", "--b-rank", "2", "--json", str(path),
                         "--plot", str(png)], capsys)  # fmt: skip
    assert rc == 0, err
    assert _is_png(png)
    data = json.loads(path.read_text(), parse_constant=_refuse_constant)
    undefined, zero = data["pairs"]
    assert undefined["prior_counts"] == [0, 0] and undefined["prior_odds"] == "nan" and undefined["log_odds"] == "nan"
    assert undefined["prior_odds_ci"] == [0.0, "inf"]
    assert zero["prior_counts"][0] == 0 < zero["prior_counts"][1]
    assert zero["prior_odds"] == 0.0 and zero["log_odds"] == "-inf"
    assert _flip_row(out, "0x6a", "0x68")[4] == "-" and _flip_row(out, "0x6a", zero["b"])[4] == "0"
    assert "odds -: neither A nor B was seen" in out and "odds inf" not in out
    loaded = results.load_json(path)
    assert format_flip(loaded) in out
    assert _is_png(plot_flip(loaded, tmp_path / "again.png"))

    # The same by exact enumeration of a lattice prior.
    exact = [a for i, a in enumerate(FLIP) if a != "--samples" and FLIP[i - 1] != "--samples"]  # it does not apply
    rc, out, err = _run([*exact, "--prior", "lattice", "--values", "-1,0,1", "--exact", "--a", "0x6a", "--b",
                         "0x68", "--json", str(path)], capsys)  # fmt: skip
    assert rc == 0, err
    (undefined,) = json.loads(path.read_text(), parse_constant=_refuse_constant)["pairs"]
    assert undefined["prior_counts"] == [0, 0] and undefined["prior_odds"] == "nan"
    assert undefined["prior_odds_ci"] == ["nan", "nan"] and undefined["log_odds"] == "nan"
    assert _flip_row(out, "0x6a", "0x68")[4:7] == ["-", "[-,", "-]"]


# ----------------------------------------------------------------------------- plot (issue 12, item 10)

RESULTS = __import__("pathlib").Path(__file__).resolve().parents[1] / "results"


@pytest.mark.parametrize(
    "name", ["serial_parallel", "detour_goal", "detour_write_erase", "train_vs_prior", "flip_pairs", "diverse"]
)
def test_plot_draws_every_committed_result_kind(name, tmp_path, capsys):
    # train-vs-prior (and flip, diverse) were refused although the README says plot draws a saved result.
    out = tmp_path / f"{name}.png"
    rc, stdout, err = _run(["plot", str(RESULTS / f"{name}.json"), "--out", str(out)], capsys)
    assert rc == 0, err
    assert _is_png(out) and f"wrote {out}" in stdout


@pytest.mark.parametrize("command", [["histogram"], ["estimate", "--target", "and,0x0"]])
def test_plot_draws_histogram_and_estimate_results(command, tmp_path, capsys):
    path = tmp_path / "r.json"
    rc, _, err = _run([*command, "--n", "2", "--hidden", "2", "--samples", "512", "--chunk-size", "256", "--quiet",
                       "--json", str(path)], capsys)  # fmt: skip
    assert rc == 0, err
    rc, out, err = _run(["plot", str(path)], capsys)
    assert rc == 0, err
    assert _is_png(tmp_path / "r.png") and "wrote" in out


def _broken(tmp_path, change):
    data = json.loads((RESULTS / "serial_parallel.json").read_text())
    change(data)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    "change, phrase",
    [
        (lambda d: d.update(results="x"), "serial-parallel.results must be a list, got str"),
        (lambda d: d.update(results=[]), "a serial-parallel result needs a non-empty 'results' list"),
        (lambda d: d["results"][0].pop("blocks"), "lacks the field 'blocks'"),
        (lambda d: d.pop("estimates"), "malformed result record"),
    ],
)
def test_plot_of_a_malformed_result_is_one_line_naming_the_file(tmp_path, capsys, change, phrase):
    path = _broken(tmp_path, change)
    rc, out, err = _run(["plot", str(path)], capsys)
    assert rc == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"countnets: error: result '{path}'") and phrase in err, err
    assert not (tmp_path / "broken.png").exists()


def test_plot_of_a_png_or_a_fifo_is_one_line_naming_the_file(tmp_path, capsys):
    png = tmp_path / "figure.png"
    png.write_bytes(PNG_MAGIC + bytes(range(256)))
    rc, _, err = _run(["plot", str(png)], capsys)
    assert rc == 2
    assert err == f"countnets: error: result '{png}' is not a text file (byte 0 is not UTF-8); expected JSON\n"
    fifo = tmp_path / "pipe.json"
    __import__("os").mkfifo(fifo)
    rc, _, err = _run(["plot", str(fifo)], capsys)
    assert rc == 2 and err == f"countnets: error: result '{fifo}' is a FIFO, not a regular file\n"
