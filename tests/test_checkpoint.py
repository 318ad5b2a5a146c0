"""Checkpoint and resume: atomic saves, exact resumption after SIGKILL, SIGTERM, refusal of other runs.

Counts after a resume must equal those of an uninterrupted run exactly (integer equality).
The kill tests run the command line in subprocesses (JAX on one CPU device).
"""

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import jax
import numpy as np
import pytest

import countnets as cn
from countnets import cli
from countnets.engine import checkpoint, estimators

ENV = {**os.environ, "JAX_PLATFORMS": "cpu", "XLA_FLAGS": "--xla_force_host_platform_device_count=1"}
ARCH, PRIOR = cn.MLP(3, (5,)), cn.Gaussian(1.0, 0.5)

# A run of 293 one-chunk steps, saved after every step: long enough to be killed mid-way.
KILL_ARGS = ["histogram", "--n", "4", "--hidden", "6", "--samples", "300000", "--chunk-size", "1024",
             "--chunks-per-step", "1", "--seed", "11", "--top", "3"]  # fmt: skip
KILL_CHUNKS = -(-300000 // 1024)


def _cli(args, timeout=300):
    return subprocess.run([sys.executable, "-m", "countnets", *args], capture_output=True, text=True, env=ENV,
                          timeout=timeout)  # fmt: skip


def _start(args):
    return subprocess.Popen([sys.executable, "-m", "countnets", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=ENV)  # fmt: skip


def _progress(path):
    """The checkpoint's progress, or None while it does not exist yet."""
    try:
        return json.loads(path.read_text())["progress"]
    except FileNotFoundError:
        return None


def _wait_for_chunks(proc, path, at_least, timeout=120):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        progress = _progress(path)
        if progress is not None and progress["next_chunk"] >= at_least:
            return progress
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"run ended (rc {proc.returncode}) before its checkpoint reached chunk {at_least}: {err}")
        time.sleep(0.01)
    proc.kill()
    pytest.fail("no checkpoint appeared in time")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run, in this process on one device (as the subprocesses run)."""
    path = tmp_path_factory.mktemp("ref") / "ref.json"
    assert cli.main([*KILL_ARGS, "--devices", "1", "--json", str(path), "--quiet"]) == 0
    return json.loads(path.read_text())


# ----------------------------------------------------------------------------- library


def _fingerprint(**over):
    return {"kind": "histogram", "seed": 1, "config": {"n": 3, "hidden": (5,)}, **over}


def test_save_load_round_trip_and_atomic_replace(tmp_path):
    path = tmp_path / "sub" / "run.ckpt"
    ck = checkpoint.Checkpoint(path, _fingerprint(), every_seconds=0)
    assert checkpoint.load(ck) is None
    checkpoint.save(ck, next_chunk=3, samples=3000, seconds=1.5, stopped_by="running", state={"hits": [1, 2]})
    checkpoint.save(ck, next_chunk=5, samples=5000, seconds=2.5, stopped_by="time", state={"hits": [3, 4]})
    saved = checkpoint.load(ck)
    assert (saved.next_chunk, saved.samples, saved.seconds, saved.stopped_by) == (5, 5000, 2.5, "time")
    assert saved.state == {"hits": [3, 4]}
    assert [p.name for p in path.parent.iterdir()] == ["run.ckpt"]  # no temporary files left behind


@pytest.mark.parametrize(
    "other, phrase",
    [
        (_fingerprint(seed=2), "seed is 1 in the checkpoint but 2 now"),
        (_fingerprint(config={"n": 3, "hidden": (6,)}), r"config.hidden\[0\] is 5 in the checkpoint but 6 now"),
        (_fingerprint(kind="estimate"), "kind is 'histogram' in the checkpoint but 'estimate' now"),
        ({**_fingerprint(), "n_samples": 10}, "n_samples is not in the checkpoint but is 10 now"),
    ],
)
def test_mismatched_fingerprint_is_refused_naming_the_field(tmp_path, other, phrase):
    path = tmp_path / "run.ckpt"
    checkpoint.save(checkpoint.Checkpoint(path, _fingerprint()), next_chunk=1, samples=10, seconds=0.0,
                    stopped_by="running", state={})  # fmt: skip
    with pytest.raises(cn.CountnetsError, match=phrase):
        checkpoint.load(checkpoint.Checkpoint(path, other))


def test_bad_checkpoint_files_and_arguments(tmp_path):
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    with pytest.raises(cn.CountnetsError, match="cannot read checkpoint"):
        checkpoint.load(checkpoint.Checkpoint(garbage, {}))
    other = tmp_path / "result.json"
    other.write_text(json.dumps({"kind": "histogram"}))
    with pytest.raises(cn.CountnetsError, match="is not a countnets checkpoint"):
        checkpoint.load(checkpoint.Checkpoint(other, {}))
    future = tmp_path / "future.json"
    future.write_text(json.dumps({"format": checkpoint.FORMAT, "version": 99}))
    with pytest.raises(cn.CountnetsError, match="format version 99"):
        checkpoint.load(checkpoint.Checkpoint(future, {}))
    with pytest.raises(cn.CountnetsError, match="is a directory"):
        checkpoint.Checkpoint(tmp_path, {})
    with pytest.raises(cn.CountnetsError, match="every_seconds"):
        checkpoint.Checkpoint(tmp_path / "x", {}, every_seconds=-1)
    with pytest.raises(cn.CountnetsError, match="plain JSON"):
        checkpoint.Checkpoint(tmp_path / "x", {"f": object()})


def test_resume_after_stop_equals_uninterrupted_run_even_on_other_devices(tmp_path):
    kw = dict(n_samples=20_000, seed=5, chunk_size=1000, top=None)
    full = cn.histogram_mc(PRIOR, ARCH, devices=1, **kw)
    path = tmp_path / "h.ckpt"
    # The smallest time budget stops after the first step (2 chunks) and saves.
    part = cn.histogram_mc(PRIOR, ARCH, devices=1, chunks_per_step=2, max_seconds=1e-9, checkpoint=path, **kw)
    assert part.stopped_by == "time" and part.samples == 2000
    assert json.loads(path.read_text())["progress"]["next_chunk"] == 2
    # Resume on all 8 (fake) devices with another chunks per step: identical counts.
    resumed = cn.histogram_mc(PRIOR, ARCH, checkpoint=path, chunks_per_step=16, **kw)
    assert resumed.histogram == full.histogram and resumed.samples == 20_000
    assert resumed.device_count == 8
    assert resumed.extra["checkpoint"]["resumed_from"] == 2000
    assert resumed.samples_per_s == pytest.approx(18_000 / resumed.seconds)
    # Rerunning a finished run reads the result back without sampling again.
    again = cn.histogram_mc(PRIOR, ARCH, checkpoint=path, **kw)
    assert again.histogram == full.histogram and again.extra["checkpoint"]["resumed_from"] == 20_000


def test_estimate_resume_and_refusal_of_another_seed(tmp_path):
    kw = dict(n_samples=12_000, chunk_size=1000, devices=1, chunks_per_step=1)
    full = cn.estimate_mc(PRIOR, ARCH, ["and", "0x0"], seed=3, **kw)
    path = tmp_path / "e.ckpt"
    cn.estimate_mc(PRIOR, ARCH, ["and", "0x0"], seed=3, max_seconds=1e-9, checkpoint=path, **kw)
    with pytest.raises(cn.CountnetsError, match="seed is 3 in the checkpoint but 4 now"):
        cn.estimate_mc(PRIOR, ARCH, ["and", "0x0"], seed=4, checkpoint=path, **kw)
    with pytest.raises(cn.CountnetsError, match=r"config.targets\[1\] is '0x0' in the checkpoint but '0xff' now"):
        cn.estimate_mc(PRIOR, ARCH, ["and", "0xff"], seed=3, checkpoint=path, **kw)
    resumed = cn.estimate_mc(PRIOR, ARCH, ["and", "0x0"], seed=3, checkpoint=path, **kw)
    assert [e.hits for e in resumed.estimates] == [e.hits for e in full.estimates]


def test_exact_enumeration_resumes_exactly(tmp_path):
    prior, arch = cn.Lattice((-1.0, 0.0, 1.0)), cn.MLP(2, (2,))
    full = cn.enumerate_exact(prior, arch, chunk_size=81, devices=1)
    path = tmp_path / "x.ckpt"
    ck = checkpoint.Checkpoint(path, {"test": 1}, every_seconds=0)
    source = estimators.lattice_source(prior, arch, 81)
    step = estimators.build_chunk_histogram(source, arch)
    acc = estimators.HistogramAccumulator()
    calls = []

    def after_five_steps(done):
        calls.append(done)
        return "enough" if len(calls) == 5 else None

    # Stop after 5 steps via should_stop, then resume with a fresh accumulator.
    estimators.run_chunks(step, acc.merge, key=jax.random.PRNGKey(0), chunk_size=81, n_samples=3**9, chunks_per_step=8,
                          devices=1, checkpoint=ck, state=acc, should_stop=after_five_steps)  # fmt: skip
    progress = json.loads(path.read_text())["progress"]
    assert (progress["next_chunk"], progress["samples"], progress["stopped_by"]) == (40, 40 * 81, "enough")
    acc2 = estimators.HistogramAccumulator()
    outcome = estimators.run_chunks(step, acc2.merge, key=jax.random.PRNGKey(0), chunk_size=81, n_samples=3**9,
                                    chunks_per_step=3, devices=1, checkpoint=ck, state=acc2)  # fmt: skip
    assert (outcome.samples, outcome.stopped_by, outcome.resumed_from) == (3**9, "samples", 40 * 81)
    assert {cn.to_hex(k): v for k, v in sorted(acc2.histogram.items())} == full.histogram


def test_checkpoint_needs_state_and_rejects_damaged_progress(tmp_path):
    source = estimators.sampling_source(PRIOR, ARCH, 100)
    step = estimators.build_chunk_counter(source, ARCH, [0])
    ck = checkpoint.Checkpoint(tmp_path / "c.ckpt", {"a": 1})
    with pytest.raises(cn.CountnetsError, match="needs state="):
        estimators.run_chunks(step, lambda out: None, key=jax.random.PRNGKey(0), chunk_size=100, n_samples=1000,
                              chunks_per_step=1, checkpoint=ck)  # fmt: skip
    checkpoint.save(ck, next_chunk=50, samples=5000, seconds=0.0, stopped_by="running", state={})
    acc = estimators.CountAccumulator([0])
    with pytest.raises(cn.CountnetsError, match="is damaged"):
        estimators.run_chunks(step, acc.merge, key=jax.random.PRNGKey(0), chunk_size=100, n_samples=1000,
                              chunks_per_step=1, checkpoint=ck, state=acc)  # fmt: skip


# ----------------------------------------------------------------------------- bounded histograms


@pytest.fixture(scope="module")
def truth():
    """True counts per function (unbounded accumulator)."""
    r = cn.histogram_mc(cn.Gaussian(), cn.MLP(4, (3,)), n_samples=20_000, seed=2, chunk_size=500, devices=1,
                        max_distinct=None, top=None)  # fmt: skip
    return Counter({int(k, 16): v for k, v in r.histogram.items()})


@pytest.mark.parametrize("k", [1, 7])
def test_max_distinct_keeps_lower_bounds_within_the_documented_error(k, truth):
    assert len(truth) > 40  # many more functions than kept
    r = cn.histogram_mc(cn.Gaussian(), cn.MLP(4, (3,)), n_samples=20_000, seed=2, chunk_size=500, devices=1,
                        chunks_per_step=1, max_distinct=k, top=3, targets=["0x0"])  # fmt: skip
    kept = {int(key, 16): v for key, v in r.histogram.items()}
    other, under = r.extra["other"], r.extra["max_undercount"]
    assert other > 0 and len(kept) <= k + max(1, k // 4)
    assert sum(kept.values()) + other == 20_000
    assert under <= other / (k + 1)
    for f, true_count in truth.items():
        assert kept.get(f, 0) <= true_count <= kept.get(f, 0) + under, (f, true_count)
    # Each widened interval contains the interval the true count would have given.
    for e in r.estimates:
        assert e.method == "clopper-pearson+truncation"
        lo, hi = cn.clopper_pearson(truth[int(e.function, 16)], 20_000, 0.95)
        assert e.ci[0] <= lo and hi <= e.ci[1], (e, lo, hi)


def test_max_distinct_state_round_trip_and_default_is_exact():
    acc = estimators.HistogramAccumulator(max_distinct=3)
    for keys in ([1, 2, 3, 4, 5], [1, 1, 1, 6, 7], [2, 2, 8, 9, 1]):
        ks, counts = np.unique(np.asarray(keys, np.uint32), return_counts=True)
        acc.merge({"keys": ks[:, None], "counts": counts.astype(np.int32), "n_unique": len(ks), "nonfinite": 0,
                   "near": 0})  # fmt: skip
    restored = estimators.HistogramAccumulator(max_distinct=3)
    restored.load_state_dict(json.loads(json.dumps(acc.state_dict())))
    assert restored == acc and acc.truncated
    with pytest.raises(cn.CountnetsError, match="max_distinct=3"):
        estimators.HistogramAccumulator(max_distinct=4).load_state_dict(acc.state_dict())
    with pytest.raises(cn.CountnetsError, match="max_distinct must be a positive int"):
        estimators.HistogramAccumulator(max_distinct=0)
    r = cn.histogram_mc(PRIOR, ARCH, n_samples=3000, seed=1, chunk_size=1000)
    assert r.extra["other"] == 0 and r.extra["max_distinct"] == estimators.DEFAULT_MAX_DISTINCT


# ----------------------------------------------------------------------------- command line, killed runs


def test_sigkill_mid_run_then_resume_gives_identical_counts(tmp_path, reference):
    ckpt = tmp_path / "run.ckpt"
    out = tmp_path / "out.json"
    args = [*KILL_ARGS, "--checkpoint", str(ckpt), "--checkpoint-every", "0", "--json", str(out), "--quiet"]
    proc = _start(args)
    _wait_for_chunks(proc, ckpt, 20)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    killed_at = _progress(ckpt)
    assert 20 <= killed_at["next_chunk"] < KILL_CHUNKS and not out.exists()
    done = _cli([*args, "--checkpoint-every", "600"])  # the same run: how often it saves is not part of it
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    assert result["histogram"] == reference["histogram"]
    assert result["samples"] == reference["samples"] == 300000
    assert result["checkpoint"]["resumed_from"] == killed_at["samples"]


def test_sigterm_finishes_the_step_saves_and_exits_3(tmp_path, reference):
    ckpt = tmp_path / "run.ckpt"
    out = tmp_path / "out.json"
    args = [*KILL_ARGS, "--checkpoint", str(ckpt), "--checkpoint-every", "0", "--json", str(out)]
    proc = _start(args)
    _wait_for_chunks(proc, ckpt, 5)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == cli.EXIT_INTERRUPTED == 3, stderr
    saved = _progress(ckpt)
    assert saved["stopped_by"] == "interrupted" and saved["next_chunk"] < KILL_CHUNKS
    partial = json.loads(out.read_text())
    assert partial["stopped_by"] == "interrupted" and partial["samples"] == saved["samples"]
    assert sum(partial["histogram"].values()) == saved["samples"]
    assert f"histogram: {saved['samples']:,} samples" in stdout  # the partial result is printed
    lines = [line for line in stderr.splitlines() if line.startswith("countnets:")]
    assert lines == [f"countnets: interrupted by SIGTERM after {saved['samples']:,} of 300,000 samples; checkpoint "
                     f"saved to {ckpt}; rerun the same command to resume"]  # fmt: skip
    assert "Traceback" not in stderr
    done = _cli([*args, "--quiet", "--checkpoint-every", "600"])
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text())["histogram"] == reference["histogram"]


def test_cli_refuses_a_checkpoint_of_another_run(tmp_path, capsys):
    ckpt = tmp_path / "run.ckpt"
    base = ["histogram", "--n", "3", "--hidden", "3", "--samples", "4000", "--chunk-size", "1000", "--quiet",
            "--checkpoint", str(ckpt), "--max-seconds", "1e-9", "--devices", "1"]  # fmt: skip
    assert cli.main([*base, "--seed", "1"]) == 0
    capsys.readouterr()
    assert cli.main([*base, "--seed", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"countnets: error: checkpoint '{ckpt}' belongs to a different run: seed is 1 in the checkpoint "
                   "but 2 now; rerun with the original options to resume, or use another checkpoint path"]  # fmt: skip
    assert cli.main([*base, "--seed", "1", "--hidden", "4"]) == 2
    assert "config.arch.hidden[0] is 3 in the checkpoint but 4 now" in capsys.readouterr().err


# ----------------------------------------------------------------------------- tampering (issue 12, item 3)


def _rewrite(path, change, *, rehash):
    data = json.loads(path.read_text())
    change(data)
    if rehash:
        data["sha256"] = checkpoint.content_hash(data)
    path.write_text(json.dumps(data))


def _partial_histogram(path):
    kw = dict(n_samples=8000, seed=4, chunk_size=1000, top=None, devices=1, chunks_per_step=2)
    part = cn.histogram_mc(PRIOR, ARCH, max_seconds=1e-9, checkpoint=path, **kw)
    assert part.samples == 2000 and json.loads(path.read_text())["sha256"]
    return kw


def _double_counts(data):
    data["state"]["histogram"] = {k: 2 * v for k, v in data["state"]["histogram"].items()}


def test_an_edited_checkpoint_is_refused_by_its_content_hash(tmp_path):
    path = tmp_path / "h.ckpt"
    kw = _partial_histogram(path)
    _rewrite(path, _double_counts, rehash=False)
    with pytest.raises(cn.CountnetsError, match=r"was changed after countnets wrote it \(its sha256"):
        cn.histogram_mc(PRIOR, ARCH, checkpoint=path, **kw)
    _rewrite(path, lambda d: d.pop("sha256"), rehash=False)
    with pytest.raises(cn.CountnetsError, match="content hash does not match"):
        cn.histogram_mc(PRIOR, ARCH, checkpoint=path, **kw)


@pytest.mark.parametrize(
    "change, phrase",
    [
        (_double_counts, "the counts sum to 4000, but 2000 samples were done"),
        (lambda d: d["state"].update(nonfinite=-1), "nonfinite is -1, outside 0..2000"),
        (lambda d: d["progress"].update(samples=3000), "do not fit 8000 samples in chunks of 1000"),
        (lambda d: d["progress"].update(next_chunk=99, samples=99000), "do not fit 8000 samples"),
        (lambda d: d["progress"].update(seconds=-5.0), "negative or non-finite progress"),
    ],
)
def test_a_checkpoint_with_a_valid_hash_but_impossible_counts_is_refused(tmp_path, change, phrase):
    # Someone who recomputes the hash still cannot make counts that do not fit the samples done.
    path = tmp_path / "h.ckpt"
    kw = _partial_histogram(path)
    _rewrite(path, change, rehash=True)
    with pytest.raises(cn.CountnetsError, match=phrase):
        cn.histogram_mc(PRIOR, ARCH, checkpoint=path, **kw)


def test_estimate_counts_above_the_samples_done_are_refused(tmp_path):
    path = tmp_path / "e.ckpt"
    kw = dict(n_samples=8000, seed=3, chunk_size=1000, devices=1, chunks_per_step=1)
    cn.estimate_mc(PRIOR, ARCH, ["and", "0x0"], max_seconds=1e-9, checkpoint=path, **kw)
    _rewrite(path, lambda d: d["state"].update(hits=[1001, 0]), rehash=True)
    with pytest.raises(cn.CountnetsError, match=r"hits\[0\] is 1001, outside 0..1000 for 1000 samples done"):
        cn.estimate_mc(PRIOR, ARCH, ["and", "0x0"], checkpoint=path, **kw)


def test_cli_refuses_a_tampered_checkpoint_with_one_line_and_exit_2(tmp_path, capsys):
    ckpt = tmp_path / "run.ckpt"
    base = ["histogram", "--n", "3", "--hidden", "3", "--samples", "4000", "--chunk-size", "1000", "--quiet",
            "--checkpoint", str(ckpt), "--devices", "1", "--chunks-per-step", "1"]  # fmt: skip
    assert cli.main([*base, "--max-seconds", "1e-9"]) == 0
    _rewrite(ckpt, _double_counts, rehash=False)
    capsys.readouterr()
    assert cli.main(base) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"countnets: error: checkpoint '{ckpt}' was changed after countnets")


def test_a_second_run_on_the_same_checkpoint_or_json_is_refused_naming_the_first(tmp_path, capsys):
    # Before: both runs exited 0 and one silently overwrote the other's checkpoint (issue 12, item 4).
    ckpt, out = tmp_path / "run.ckpt", tmp_path / "out.json"
    first = _start([*KILL_ARGS, "--checkpoint", str(ckpt), "--checkpoint-every", "0", "--json", str(out), "--quiet"])
    try:
        _wait_for_chunks(first, ckpt, 2)
        for argv in ([*KILL_ARGS, "--checkpoint", str(ckpt), "--quiet"],
                     [*KILL_ARGS, "--json", str(out), "--quiet"]):  # fmt: skip
            capsys.readouterr()
            assert cli.main(argv) == 2
            err = capsys.readouterr().err.strip().splitlines()
            assert len(err) == 1 and f"is in use by another countnets run (PID {first.pid})" in err[0], err
        assert first.poll() is None  # the first run is untouched
    finally:
        first.kill()
        first.communicate()


# ----------------------------------------------------------------------------- signals (issue 12, item 7)

FAST = ["histogram", "--n", "2", "--hidden", "2", "--samples", "2048", "--chunk-size", "256", "--devices", "1",
        "--chunks-per-step", "1", "--quiet"]  # fmt: skip


def test_the_signal_handler_is_installed_before_parsing_and_an_early_sigint_stops(tmp_path, monkeypatch, capsys):
    seen = []
    real_build, real_prepare = cli.build_parser, cli._prepare

    def build_parser():
        seen.append(signal.getsignal(signal.SIGINT))
        return real_build()

    def prepare(args):  # a Ctrl-C while the command is being prepared, before any JAX work
        out = real_prepare(args)
        os.kill(os.getpid(), signal.SIGINT)
        return out

    monkeypatch.setattr(cli, "build_parser", build_parser)
    monkeypatch.setattr(cli, "_prepare", prepare)
    path = tmp_path / "r.json"
    assert cli.main([*FAST, "--json", str(path)]) == cli.EXIT_INTERRUPTED
    assert seen and seen[0] is not signal.default_int_handler  # ours, not Python's KeyboardInterrupt
    assert capsys.readouterr().err.strip().splitlines() == [
        "countnets: interrupted by SIGINT before any work; nothing was computed"
    ]
    assert not path.exists() and signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_second_sigint_exits_130_even_when_its_keyboardinterrupt_is_swallowed(monkeypatch, capsys):
    # JAX's gc callback swallowed the KeyboardInterrupt of a second Ctrl-C and the run exited 3 (item 7).
    real_run = cli._run_counting

    def run(args):
        os.kill(os.getpid(), signal.SIGINT)
        try:
            os.kill(os.getpid(), signal.SIGINT)
        except KeyboardInterrupt:
            pass  # as "Exception ignored in: <function _xla_gc_callback>" did
        return real_run(args)

    monkeypatch.setattr(cli, "_run_counting", run)
    assert cli.main(FAST) == cli.EXIT_FORCED
    assert "stopped at once by a second interrupt" in capsys.readouterr().err


def test_help_documents_the_exit_codes():
    text = " ".join(cli.build_parser().format_help().split())
    for code in ("0 done", "2 bad input", "3 stopped by SIGINT/SIGTERM", "130 a second SIGINT/SIGTERM"):
        assert code in text, code


@pytest.mark.parametrize("delay", [0.3, 0.8, 1.5])
def test_a_sigint_at_any_moment_of_start_up_gives_exit_3_and_one_line(delay):
    # Issue 24 item 2: a Ctrl-C in the first 1.5 s was a 40-line traceback (exit 130) or was swallowed by JAX
    # (exit 0 after the full run). The console script installs its handler before JAX is imported, a few
    # milliseconds after the interpreter starts (before that, Python's own start-up owns the signal).
    import subprocess
    import sys
    import time

    code = "import sys; from countnets._entry import main; sys.exit(main(sys.argv[1:]))"
    argv = [sys.executable, "-c", code, "estimate", "--n", "3", "--targets", "and", "--samples", "30000000",
            "--quiet"]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == cli.EXIT_INTERRUPTED, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("countnets: interrupted by SIGINT"), err
    assert "Traceback" not in err and out == ""


def test_importing_the_package_loads_nothing_heavy():
    # The entry point relies on it: the signal handler is installed before JAX loads.
    import subprocess
    import sys

    code = "import sys, countnets, countnets._entry; print(sorted(m for m in ('jax', 'optax', 'matplotlib', " \
           "'pandas', 'countnets.bench', 'countnets.cli') if m in sys.modules))"  # fmt: skip
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "[]\n"
