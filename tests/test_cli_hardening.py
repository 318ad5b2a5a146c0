"""Issue 24: never lose a finished result, never a traceback, progress a batch job can see.

One test (or a few) per numbered item of the issue that lives in the command line; the
plot items are in test_plot_command.py and the library boundary checks in
test_boundary_checks.py. Each failed before its fix.
"""

import contextlib
import io
import json
import os
import re
import signal

import pytest

from countnets import _io, cli
from countnets.engine import checkpoint as checkpoint_lib

STEPS = ["histogram", "--n", "2", "--hidden", "2", "--samples", "2048", "--chunk-size", "256", "--devices", "1",
         "--chunks-per-step", "1"]  # fmt: skip  (8 steps, a second or two)


def _run(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(argv)
    return code, out.getvalue(), err.getvalue()


def _interrupt_at_start(monkeypatch):
    real = cli._run_counting

    def run(args):  # a Ctrl-C once the run has started: it finishes its first step and stops
        os.kill(os.getpid(), signal.SIGINT)
        return real(args)

    monkeypatch.setattr(cli, "_run_counting", run)


# ----------------------------------------------------------------------------- 1. the output-file rule


def test_a_partial_result_never_replaces_a_finished_one(tmp_path, monkeypatch):
    path = tmp_path / "full.json"
    argv = [*STEPS, "--quiet", "--json", str(path)]
    assert _run(argv)[0] == 0
    finished = path.read_text()
    assert json.loads(finished)["stopped_by"] == "samples"
    with monkeypatch.context() as m:
        _interrupt_at_start(m)
        code, _, err = _run(argv)
    assert code == cli.EXIT_INTERRUPTED
    assert path.read_text() == finished  # before: the partial result replaced it
    partial = tmp_path / "full.partial.json"
    assert json.loads(partial.read_text())["stopped_by"] == "interrupted"
    assert f"{path} holds a finished result, kept as it is; this partial result goes to {partial}" in err
    # Replacing a finished result with another finished one is allowed, and said.
    code, _, err = _run(argv)
    assert code == 0 and f"countnets: replacing the finished result in {path}" in err


def test_a_partial_result_with_no_finished_one_goes_where_asked(tmp_path, monkeypatch):
    path = tmp_path / "r.json"
    _interrupt_at_start(monkeypatch)
    assert _run([*STEPS, "--quiet", "--json", str(path)])[0] == cli.EXIT_INTERRUPTED
    assert json.loads(path.read_text())["stopped_by"] == "interrupted"
    assert not (tmp_path / "r.partial.json").exists()


# ----------------------------------------------------------------------------- 3. a failed checkpoint write


def test_a_checkpoint_that_cannot_be_written_warns_once_and_the_result_is_still_written(tmp_path, monkeypatch):
    calls = []

    def full_disk(path, text, what="file"):
        calls.append(path)
        raise _io.WriteError(f"cannot write {what} {str(path)!r}: No space left on device")

    monkeypatch.setattr(checkpoint_lib, "atomic_write_text", full_disk)
    out = tmp_path / "r.json"
    argv = [*STEPS, "--quiet", "--checkpoint", str(tmp_path / "c.ckpt"), "--checkpoint-every", "0", "--json", str(out)]
    code, _, err = _run(argv)
    assert code == 0 and json.loads(out.read_text())["samples"] == 2048  # before: exit 2 and no result
    assert len(calls) == 8  # every save was tried
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("countnets: warning: cannot write checkpoint"), err
    assert "the run goes on and its result will be written" in lines[0]


# ----------------------------------------------------------------------------- 4. malformed plan files

PLAN = json.loads(open(os.path.join(os.path.dirname(__file__), "..", "results", "flip_decisive_plan.json")).read())


def _plan_case(tmp_path, name):
    path = tmp_path / "plan.json"
    if name == "missing":
        return str(tmp_path / "nope.json")
    if name == "empty":
        path.write_text("")
    elif name == "png":
        path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe")
    elif name == "list":
        path.write_text("[1, 2]")
    else:
        plan = json.loads(json.dumps(PLAN))
        if name == "bad hex":
            plan["pairs"][0]["a"] = "0xzz"
        elif name == "missing b":
            del plan["pairs"][0]["b"]
        elif name == "b does not fit S":
            pair = plan["pairs"][0]
            point = pair["train_points"][0]
            pair["b"] = hex(int(pair["b"], 16) ^ (1 << point))
        path.write_text(json.dumps(plan))
    return str(path)


@pytest.mark.parametrize(
    "name, message",
    [
        ("missing", "no such file"),
        ("empty", "is not JSON"),
        ("png", "is not a text file"),
        ("list", "is a JSON list, not a flip-decisive plan"),
        ("bad hex", "pair 0: target, a and b must be hex truth tables"),
        ("missing b", "pair 0 lacks the field 'b'"),
        ("b does not fit S", "pair 0: b = 0x"),
    ],
)
def test_a_malformed_plan_is_one_line_and_exit_2(tmp_path, name, message):
    argv = ["experiment", "flip-decisive", "--n", "4", "--hidden", "8", "--plan", _plan_case(tmp_path, name), "--quiet"]
    code, out, err = _run(argv)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("countnets: error: "), err
    assert message in lines[0] and "Traceback" not in err


# ----------------------------------------------------------------------------- 9. progress in a log


def test_progress_lines_where_stderr_is_not_a_terminal(tmp_path):
    code, _, err = _run([*STEPS, "--progress-every", "1e-9"])
    assert code == 0
    lines = [ln for ln in err.splitlines() if ln.startswith("countnets: ")]
    pattern = re.compile(r"countnets: \w+: [\d,]+ of 2,048 samples \(\d+\.\d%\), \S+ samples/s, ETA (\d+ s|unknown)$")
    assert len(lines) >= 7 and all(pattern.match(ln) for ln in lines), err
    assert _run([*STEPS, "--progress-every", "1e-9", "--quiet"])[2] == ""  # --quiet: none
    assert _run([*STEPS, "--progress-every", "0"])[2] == ""  # 0: none
    assert "countnets: " not in _run(STEPS)[2]  # default: a line every 30 s, so none in a short run


# ----------------------------------------------------------------------------- 10. messages and names


def test_bench_json_can_go_to_standard_output():
    code, out, err = _run(["bench", "--suite", "quick", "--only", "closed-form-n1", "--json", "-"])
    assert code == 0 and json.loads(out)["kind"] == "bench" and "closed-form-n1" in err


def test_estimate_exact_says_estimate_and_names_the_max_exact_option():
    lattice = ["--prior", "lattice", "--values", "-1,1", "--exact", "--targets", "and"]
    code, out, _ = _run(["estimate", "--n", "2", "--hidden", "1", *lattice])
    assert code == 0 and out.startswith("estimate: exact enumeration"), out
    code, _, err = _run(["estimate", "--n", "3", "--hidden", "4", *lattice, "--max-exact", "100"])
    assert code == 2 and "a larger --max-exact" in err and "max_configurations" not in err


def test_changing_replicas_per_chunk_on_resume_names_that_option(tmp_path):
    base = ["estimate", "--n", "3", "--hidden", "2", "--targets", "and", "--method", "splitting", "--replicas", "4",
            "--particles", "50", "--checkpoint", str(tmp_path / "s.ckpt"), "--quiet"]  # fmt: skip
    assert _run([*base, "--replicas-per-chunk", "2"])[0] == 0
    code, _, err = _run([*base, "--replicas-per-chunk", "4"])
    assert code == 2 and "--replicas-per-chunk is 2 in the checkpoint but 4 now" in err and "chunk_size" not in err


def test_one_vocabulary_with_the_old_composition_spelling_deprecated():
    parse = cli.build_parser().parse_args
    new = parse(["experiment", "composition", "--block-width", "1,2"])
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        old = parse(["experiment", "composition", "--block-widths", "1,2"])
    assert new.block_widths == old.block_widths == (1, 2)
    assert err.getvalue() == (
        "countnets: warning: --block-widths is deprecated and will be removed in the next release; use --block-width\n"
    )
    help_text = cli.build_parser()._subparsers._group_actions[0].choices["experiment"].format_help()
    assert "--block-widths" not in help_text


def _all_help() -> str:
    parser = cli.build_parser()
    texts = [parser.format_help()]
    stack = [parser]
    while stack:
        for action in stack.pop()._actions:
            if isinstance(action, type(parser._subparsers._group_actions[0])):
                for sub in action.choices.values():
                    texts.append(sub.format_help())
                    stack.append(sub)
    return "\n".join(texts)


def test_defaults_are_written_one_way_and_exit_code_1_is_listed():
    text = " ".join(_all_help().split())
    assert "(default: " in text and not re.search(r"\(default [^:]", text)
    assert "1 countnets bench: a task failed or raised" in text


def test_dash_capital_v_prints_the_version():
    from countnets import __version__

    code, out, _ = _run(["-V"])
    assert code == 0 and out == f"countnets {__version__}\n"


# ----------------------------------------------------------------------------- 11. debris


def test_temporary_files_of_a_killed_save_are_removed_at_the_next_start(tmp_path):
    ckpt, out = tmp_path / "c.ckpt", tmp_path / "r.json"
    debris = [tmp_path / ".c.ckpt.k3j2h1x0.tmp", tmp_path / ".r.json.a9b8c7d6.tmp"]
    keep = [tmp_path / ".other.ckpt.k3j2h1x0.tmp", tmp_path / "notes.tmp"]
    for path in debris + keep:
        path.write_text("{half a checkpoint")
    assert _run([*STEPS, "--quiet", "--checkpoint", str(ckpt), "--json", str(out)])[0] == 0
    assert not any(p.exists() for p in debris) and all(p.exists() for p in keep)
    # The library's own loader cleans up too (a resume from Python, without the command line).
    debris[0].write_text("{half")
    with contextlib.suppress(Exception):  # a checkpoint of another run: refused, after the clean-up
        checkpoint_lib.load(checkpoint_lib.Checkpoint(ckpt, {"run": 1}))
    assert not debris[0].exists()
