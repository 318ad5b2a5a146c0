"""File safety (countnets._io): atomic writes never replace a non-regular file, bounded reads, locks."""

import errno
import os
import subprocess
import sys
import time

import pytest

import countnets as cn
from countnets import _io


def _fifo(tmp_path, name="fifo"):
    path = tmp_path / name
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("kind", ["directory", "fifo", "chardev"])
def test_atomic_write_refuses_a_non_regular_destination_and_leaves_it(tmp_path, kind):
    if kind == "directory":
        path = tmp_path / "d"
        path.mkdir()
    elif kind == "fifo":
        path = _fifo(tmp_path)
    else:
        path = "/dev/null"
    before = os.stat(path).st_mode
    with pytest.raises(cn.CountnetsError, match="not a regular file"):
        _io.atomic_write_text(path, "x", "--json")
    with pytest.raises(cn.CountnetsError, match="not a regular file"):
        _io.check_destination(path, "--json")
    assert os.stat(path).st_mode == before  # not replaced
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_atomic_write_goes_through_a_symlink_and_keeps_the_mode(tmp_path):
    target = tmp_path / "real.json"
    target.write_text("old")
    os.chmod(target, 0o640)
    link = tmp_path / "link.json"
    link.symlink_to(target)
    written = _io.atomic_write_text(link, "new", "result")
    assert link.is_symlink() and target.read_text() == "new" and written == target.resolve()
    assert os.stat(target).st_mode & 0o777 == 0o640
    dangling = tmp_path / "dangling.json"
    dangling.symlink_to(tmp_path / "made.json")
    _io.atomic_write_text(dangling, "made", "result")
    assert dangling.is_symlink() and (tmp_path / "made.json").read_text() == "made"


def test_a_failed_write_names_the_users_path_not_the_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "out.json"
    real_replace = os.replace

    def full_disk(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device", src)

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(_io.WriteError) as info:
        _io.atomic_write_text(path, "x", "result")
    message = str(info.value)
    assert message == f"cannot write result {str(path)!r}: No space left on device"
    assert ".tmp" not in message
    monkeypatch.setattr(os, "replace", real_replace)
    assert list(tmp_path.iterdir()) == []  # the temporary file was removed
    with pytest.raises(_io.WriteError, match=r"cannot write result '/proc/nope/x.json'"):
        _io.atomic_write_text("/proc/nope/x.json", "x", "result")


def test_check_destination_finds_unwritable_paths_before_any_work(tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(cn.CountnetsError, match="is not a directory"):
        _io.check_destination(a_file / "out.json", "--json")
    with pytest.raises(cn.CountnetsError, match="cannot write in '/proc'"):
        _io.check_destination("/proc/foo.json", "--json")
    with pytest.raises(cn.CountnetsError, match="needs a file path"):
        _io.check_destination("", "--json")
    _io.check_destination(tmp_path / "new" / "deeper" / "out.json", "--json")  # folders are made on writing
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # the probe left nothing


def test_read_text_refuses_fifos_devices_and_oversized_files_without_reading_them(tmp_path):
    fifo = _fifo(tmp_path)
    start = time.monotonic()
    with pytest.raises(cn.CountnetsError, match="is a FIFO, not a regular file"):
        _io.read_text(fifo, "checkpoint")  # no writer: a blocking read would hang
    for device in ("/dev/zero", "/dev/full"):  # endless: an unbounded read runs out of memory
        with pytest.raises(cn.CountnetsError, match="is a character device"):
            _io.read_text(device, "checkpoint")
    assert time.monotonic() - start < 5
    big = tmp_path / "big"
    big.write_bytes(b"x" * 1000)
    with pytest.raises(cn.CountnetsError, match="larger than 999 bytes"):
        _io.read_text(big, "checkpoint", limit=999)
    assert _io.read_text(big, "checkpoint", limit=1000) == "x" * 1000
    binary = tmp_path / "figure.png"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff")
    with pytest.raises(cn.CountnetsError, match=r"'.*figure.png' is not a text file"):
        _io.read_text(binary, "result")
    with pytest.raises(FileNotFoundError):
        _io.read_text(tmp_path / "missing", "result")


HOLD = """
import sys, time
from countnets import _io
with _io.locked(sys.argv[1], "--checkpoint"):
    print("held", flush=True)
    time.sleep(60)
"""


def test_lock_refuses_a_second_holder_naming_its_pid_and_is_reentrant_in_one_process(tmp_path):
    path = tmp_path / "run.ckpt"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert _io.holder_pid(path) == holder.pid
        with pytest.raises(cn.CountnetsError, match=rf"is in use by another countnets run \(PID {holder.pid}\)"):
            with _io.locked(path, "--checkpoint"):
                pass
    finally:
        holder.kill()
        holder.wait()
    # The holder died: the operating system released its lock; the stale file is reused.
    with _io.locked(path, "--checkpoint"):
        with _io.locked(path, "checkpoint"):  # nested use in one process
            assert _io.holder_pid(path) == os.getpid()
        assert _io.holder_pid(path) == os.getpid()
    assert not os.path.exists(str(path) + ".lock")  # removed on release


def test_lock_never_overwrites_a_foreign_lock_named_file(tmp_path):
    path = tmp_path / "out.json"
    foreign = tmp_path / "out.json.lock"
    foreign.write_text("my notes\n")
    with pytest.raises(cn.CountnetsError, match="is not a countnets lock file"):
        with _io.locked(path, "--json"):
            pass
    assert foreign.read_text() == "my notes\n"
