"""``countnets plot RESULT.json``: every kind countnets writes, the figure's format and path (issue 24, item 8)."""

import math
import os
from pathlib import Path

import pytest

from countnets import results
from countnets.cli import main
from countnets.engine import checkpoint
from countnets.results import payloads, plotting
from countnets.stats.statistics import Estimate, make_estimate

RESULTS = Path(__file__).resolve().parents[1] / "results"
MAGIC = {"png": (b"\x89PNG\r\n\x1a\n",), "pdf": (b"%PDF",), "svg": (b"<svg", b"<?xml")}


def _run(argv, capsys):
    rc = main([str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def _format(path) -> str | None:
    head = Path(path).read_bytes()[:16]
    return next((fmt for fmt, magics in MAGIC.items() if head.startswith(magics)), None)


def _one_line_error(rc, out, err):
    assert rc == 2 and out == "", (rc, out, err)
    assert err.startswith("countnets: error: ") and err.count("\n") == 1 and "Traceback" not in err, err


def _result(kind, estimates, extra=None, **fields):
    base = dict(kind=kind, config={}, seed=0, chunk_size=8, samples=64, exact=False, histogram=None)
    return results.CountResult(**{**base, **fields}, estimates=tuple(estimates), extra=extra or {})


def _splitting(replica_estimates, estimate: Estimate, interval="log-t"):
    level = dict(level=0.5, step=0.1, pilot_survival=0.3, pilot_acceptance=[0.3], pilot_steps=[0.1], survival=0.3,
                 acceptance=0.3, alive=len(replica_estimates))  # fmt: skip
    fields = dict(method="splitting", algorithm="fixed-level splitting", interval=interval, move="coordinate-resample",
                  step_name="fraction resampled", particles=50, sweeps=2, level_fraction=0.25, target_acceptance=0.3,
                  pilot_particles=100, pilot_status="reached", pilot_evaluations=1000, pilot_seconds=0.1, n_levels=1,
                  levels=[level], replica_estimates=list(replica_estimates), relative_error=0.2, replica_cv=0.5,
                  evaluations=10_000, mc_equivalent_evaluations=20_000.0, speedup=2.0)  # fmt: skip
    payload = payloads.make(payloads.SplittingPayload, fields)
    return _result("estimate-splitting", [estimate], payload, seed=3, samples=len(replica_estimates), chunk_size=4)


def _split_estimate(p, lo, hi, hits, n, method="splitting-log-t"):
    return Estimate(function="0x7", hits=hits, n=n, p=p, ci=(lo, hi), confidence=0.95, method=method,
                    bits=-math.log2(p) if p > 0 else math.inf, bits_ci=(-math.log2(hi), -math.log2(lo) if lo > 0 else
                    math.inf), log10_p=math.log10(p) if p > 0 else -math.inf)  # fmt: skip


SPLITTING = _splitting([2e-6, 0.0, 5e-7, 1e-6], _split_estimate(8.75e-7, 2.1e-7, 3.6e-6, hits=3, n=4))
SPLITTING_BOUND = _splitting([0.0] * 4, _split_estimate(0.0, 0.0, 1.6e-6, hits=0, n=4, method="splitting-upper-bound"),
                             interval="upper-bound")  # fmt: skip
INTEGRATED = payloads.make(payloads.IntegratedPayload, dict(
    method="integrate", algorithm="conditional Monte Carlo", readout_parameters=4, exact_cones=False,
    cone_particles=100, cone_sweeps=2, draws=64, nonempty_cones=60, reliable=True, unreliable_reasons=[],
    effective_draws=40.0, max_draw_share=0.05, reliability_rule="effective draws >= 30"))  # fmt: skip
BUILT = {
    "histogram": _result(
        "histogram-mc", [make_estimate("0x0", 40, 64), make_estimate("0x8", 1, 64)], histogram={"0x0": 40, "0x8": 1}
    ),
    "histogram-exact": _result("histogram-exact", [make_estimate("0x0", 40, 64, method="exact")], exact=True,
                               seed=None, histogram={"0x0": 40, "0x8": 24}),  # fmt: skip
    "estimate": _result("estimate-mc", [make_estimate("0x8", 3, 64), make_estimate("0x6", 0, 64)]),
    "integrated": _result("estimate-integrated", [make_estimate("0x8", 3, 64)], INTEGRATED),
    "splitting": SPLITTING,
    "splitting-upper-bound": SPLITTING_BOUND,
    "basin": _result("basin", [], payloads.make(payloads.BasinPayload, {
        "rows": [{"anchor": 0, "function": "0x8", "tolerance": t, "p_f": {"p": 1e-3, "ci": [8e-4, 1.2e-3],
                  "reliable": True}, "basin": {"p": 1e-4 * t, "ci": [8e-5 * t, 1.2e-4 * t], "reliable": t > 0.05},
                  "basin_star": {"p": 5e-5 * t, "ci": [4e-5 * t, 6e-5 * t], "reliable": True},
                  "radial": {"estimate": 1e-5 * t, "spread": 0.3}} for t in (0.03, 0.1)],
        "fitted_runs": 10, "p_fits_s": {"p": 0.1, "ci": [0.09, 0.11]}, "summary": {"rows": 2}})),
}

# One committed result of every kind (the smallest where there are several).
COMMITTED = {
    "serial-parallel": "serial_parallel_quick.json",
    "detour": "detour_write_erase.json",
    "train-vs-prior": "train_vs_prior.json",
    "flip": "flip_pairs_hinge.json",
    "diverse": "diverse.json",
    "composition": "composition_splitting.json",
    "composition-upper-bounds": "composition_splitting_n.json",
    "flip-decisive": "flip_decisive.json",
    "bench": "benchmark-suite.json",
}


def _saved(tmp_path, name):
    if name in COMMITTED:
        return RESULTS / COMMITTED[name]
    path = tmp_path / f"{name}.json"
    results.save_json(BUILT[name], path)
    return path


def test_every_kind_countnets_writes_is_covered():
    kinds = {results.load_json(RESULTS / f).kind for f in COMMITTED.values()} | {r.kind for r in BUILT.values()}
    assert kinds == set(plotting.kinds())


@pytest.mark.parametrize("name", [*COMMITTED, *BUILT])
def test_plot_draws_every_kind(name, tmp_path, capsys):
    # composition, flip-decisive and bench were refused: "no figures for results of kind ...".
    out = tmp_path / "x.png"
    rc, stdout, err = _run(["plot", _saved(tmp_path, name), "--out", out], capsys)
    assert rc == 0, err
    assert out.stat().st_size > 0 and _format(out) == "png"
    assert f"wrote {out}" in stdout


@pytest.mark.parametrize("fmt", ["pdf", "svg", "PDF"])
def test_out_suffix_names_the_format_and_the_file(fmt, tmp_path, capsys):
    # --out r.pdf wrote r.pdf.png (a PNG), and a second figure r_kstar.png.
    rc, stdout, err = _run(["plot", RESULTS / COMMITTED["serial-parallel"], "--out", tmp_path / f"r.{fmt}"], capsys)
    assert rc == 0, err
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == sorted([f"r.{fmt}", f"r_kstar.{fmt}"])
    assert all(_format(tmp_path / name) == fmt.lower() for name in written)
    rc, _, err = _run(["plot", _saved(tmp_path, "estimate"), "--out", tmp_path / f"e.{fmt}"], capsys)
    assert rc == 0 and _format(tmp_path / f"e.{fmt}") == fmt.lower(), err


def test_out_without_a_suffix_gets_png(tmp_path, capsys):
    rc, stdout, err = _run(["plot", RESULTS / COMMITTED["diverse"], "--out", tmp_path / "fig"], capsys)
    assert rc == 0, err
    assert [p.name for p in tmp_path.iterdir()] == ["fig.png"] and _format(tmp_path / "fig.png") == "png"


@pytest.mark.parametrize("suffix", [".jpg", ".json", ".1"])
def test_unknown_suffix_is_one_line_naming_the_accepted_ones(suffix, tmp_path, capsys):
    out = tmp_path / f"r{suffix}"
    rc, stdout, err = _run(["plot", RESULTS / COMMITTED["diverse"], "--out", out], capsys)
    _one_line_error(rc, stdout, err)
    assert repr(str(out)) in err and ".png, .pdf, .svg" in err, err
    assert list(tmp_path.iterdir()) == []


def test_out_that_is_a_device_is_refused_and_nothing_is_created_beside_it(tmp_path, capsys):
    # --out /dev/full created /dev/full.png (a kind whose figures get names: estimate, serial-parallel...).
    assert not os.path.exists("/dev/full.png")
    rc, stdout, err = _run(["plot", _saved(tmp_path, "estimate"), "--out", "/dev/full"], capsys)
    _one_line_error(rc, stdout, err)
    assert "'/dev/full' is a character device" in err, err
    assert not os.path.exists("/dev/full.png")


def test_out_that_is_a_fifo_or_under_a_file_is_refused_before_drawing(tmp_path, capsys):
    # As /dev/full: pipe.png was written beside the FIFO.
    source = _saved(tmp_path, "estimate")
    out = tmp_path / "out"
    out.mkdir()
    fifo = out / "pipe"
    os.mkfifo(fifo)
    rc, stdout, err = _run(["plot", source, "--out", fifo], capsys)
    _one_line_error(rc, stdout, err)
    assert "is a FIFO" in err and not (out / "pipe.png").exists()
    afile = out / "file.txt"
    afile.write_text("x")
    rc, stdout, err = _run(["plot", source, "--out", afile / "r.png"], capsys)
    _one_line_error(rc, stdout, err)
    assert "is not a directory" in err and sorted(p.name for p in out.iterdir()) == ["file.txt", "pipe"]


def test_a_checkpoint_is_named_as_a_checkpoint(tmp_path, capsys):
    # It said "unsupported result schema_version None".
    path = tmp_path / "x.ckpt"
    ck = checkpoint.Checkpoint(path, {"kind": "histogram", "seed": 0})
    checkpoint.save(ck, next_chunk=1, samples=8, seconds=0.0, stopped_by="running", state={"counts": {}})
    rc, stdout, err = _run(["plot", path, "--out", tmp_path / "x.png"], capsys)
    _one_line_error(rc, stdout, err)
    assert err == (f"countnets: error: {str(path)!r} is a countnets checkpoint, not a result; "
                   "finish or resume the run and plot its --json result\n")  # fmt: skip
    assert not (tmp_path / "x.png").exists()


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def _drawn(monkeypatch, result, tmp_path):
    """Draw ``result`` and return its figure, kept open."""
    figures = []
    monkeypatch.setattr(plotting, "write_figure", lambda fig, path, **kw: figures.append(fig))
    plotting.plot_result(result, tmp_path / "x.png")
    (fig,) = figures
    return fig


def test_splitting_figure_names_replicas_and_its_log_axis_covers_every_bar(monkeypatch, tmp_path):
    # It said "4 samples, seed 3" for 4 replicas, and its log axis cut the bars off.
    fig = _drawn(monkeypatch, SPLITTING, tmp_path)
    (ax,) = fig.axes
    title = ax.get_title()
    assert "replicas" in title and "samples" not in title and ax.get_xlabel() == "replica"
    bottom, top = ax.get_ylim()
    assert ax.get_yscale() == "log" and bottom < 2.1e-7 and top > 3.6e-6  # below every value, above the interval
    bars = [p for p in ax.patches if p.get_height() > 0 and p.get_width() < 1]
    assert len(bars) == 3 and all(bottom <= b.get_y() and b.get_y() + b.get_height() < top for b in bars)
    labels = [line.get_label() for line in ax.get_lines()]
    assert any("did not reach" in label for label in labels)  # the replica that estimated 0 is marked


def test_splitting_upper_bound_is_drawn_as_a_bound(monkeypatch, tmp_path):
    fig = _drawn(monkeypatch, SPLITTING_BOUND, tmp_path)
    (ax,) = fig.axes
    bottom, top = ax.get_ylim()
    assert bottom < 1.6e-6 < top
    assert any("upper bound" in line.get_label() for line in ax.get_lines())


def test_zero_hit_estimate_is_an_upper_bound_marker_not_clipped(monkeypatch, tmp_path):
    fig = _drawn(monkeypatch, BUILT["estimate"], tmp_path)
    (ax,) = fig.axes
    (marker,) = [line for line in ax.get_lines() if "upper end" in line.get_label()]
    (hi,) = marker.get_ydata()
    assert hi == pytest.approx(BUILT["estimate"].estimates[1].ci[1])
    bottom, top = ax.get_ylim()
    lowest = min(e.ci[0] for e in BUILT["estimate"].estimates if e.ci[0] > 0)
    assert bottom < lowest and bottom < hi < top
