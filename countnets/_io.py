"""File safety shared by results, checkpoints, figures and the command line.

* :func:`atomic_write_bytes` / :func:`atomic_write_text` replace a *regular* file
  atomically (temporary file in the same folder, fsync, rename, fsync of the folder).
  A destination that exists and is not a regular file (a directory, FIFO, device,
  socket) is refused, never replaced; a symlink is written through, to its target.
* :func:`check_destination` makes the same checks before any work, and also tries
  the folder (a probe file is created and removed), so an unwritable path is found
  before a run, not after it.
* :func:`read_text` reads only regular files, at most :data:`MAX_READ_BYTES`.
* :func:`locked` holds an exclusive ``fcntl`` lock on ``PATH.lock`` for a block; a
  second holder is refused with the first holder's PID.

Every error is a :class:`countnets.CountnetsError` naming the path the caller gave,
never a temporary file.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import glob
import json
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from countnets._errors import CountnetsError

__all__ = [
    "STDOUT",
    "MAX_READ_BYTES",
    "WriteError",
    "destination",
    "check_destination",
    "atomic_write_bytes",
    "atomic_write_text",
    "temporary_prefix",
    "remove_stale_temporaries",
    "read_text",
    "read_json",
    "FORMATS",
    "figure_format",
    "figure_paths",
    "write_figure",
    "locked",
    "holder_pid",
]

STDOUT = "-"
"""The path that means standard output (``--json -``)."""

MAX_READ_BYTES = 1 << 30
"""The most bytes :func:`read_text` reads (1 GiB): a result or checkpoint is far smaller."""

_LOCK_SUFFIX = ".lock"
_LOCK_CONTENT = re.compile(rb"\A(countnets (\d+)\n?)?\Z")


class WriteError(CountnetsError):
    """A file could not be written (full disk, permissions, a vanished folder...); names the user's path."""


def _describe(error: OSError) -> str:
    return os.strerror(error.errno) if error.errno else str(error)


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):  # fmt: skip
        if test(mode):
            return name
    return "not a regular file"


def destination(path: str | os.PathLike, what: str = "file") -> Path:
    """The file a write to ``path`` replaces: ``path`` itself, or a symlink's final target.

    Raises:
      CountnetsError: if that file exists and is not a regular file (directory, FIFO,
        device, socket), or the path cannot be resolved (e.g. a symlink loop).
    """
    shown = os.fspath(path)
    if not str(shown).strip():
        raise CountnetsError(f"{what} needs a file path, got {shown!r}")
    target = Path(os.path.realpath(shown))
    try:
        mode = os.stat(target).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return target
    except OSError as err:
        raise CountnetsError(f"{what} {shown!r}: {_describe(err)}") from None
    if not stat.S_ISREG(mode):
        kind = _kind(mode)
        raise CountnetsError(
            f"{what} {shown!r} is {kind}, not a regular file; give a file path"
            if kind != "not a regular file"
            else f"{what} {shown!r} is not a regular file; give a file path"
        )
    return target


def check_destination(path: str | os.PathLike, what: str = "file", *, probe: bool = True) -> None:
    """Refuse, before any work, a path :func:`atomic_write_bytes` could not write.

    Checks: a non-empty path; no existing non-regular file there (after symlinks); the
    nearest existing folder is a folder and writable, and (with ``probe``) a file can be
    created in it; an existing file is writable.

    Raises:
      CountnetsError: naming ``what`` and the path as given.
    """
    shown = os.fspath(path)
    target = destination(path, what)
    if target.exists() and not os.access(target, os.W_OK):
        raise CountnetsError(f"{what} {shown!r} is read-only; make it writable or give another path")
    parent = target.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise CountnetsError(f"{what} {shown!r}: {str(parent)!r} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise CountnetsError(f"{what} {shown!r}: cannot write in {str(parent)!r}")
    if probe:
        try:
            fd, name = tempfile.mkstemp(dir=parent, prefix=".countnets-probe-")
        except OSError as err:
            raise CountnetsError(f"{what} {shown!r}: cannot write in {str(parent)!r}: {_describe(err)}") from None
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(name)


def atomic_write_bytes(path: str | os.PathLike, data: bytes, what: str = "file") -> Path:
    """Replace ``path`` (or a symlink's target) with ``data`` atomically; returns the file written.

    Temporary file in the same folder, fsync, rename, fsync of the folder: a reader sees
    the old file or the new one, never a partial write, even if the process is killed.
    An existing file keeps its permission bits; a new one gets ``0o666 & ~umask``.

    Raises:
      CountnetsError: for a destination that is not a regular file (nothing is written).
      WriteError: when the file system refuses (the message names ``path``, not the
        temporary file); the destination is then unchanged.
    """
    shown = os.fspath(path)
    target = destination(path, what)
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    except OSError as err:
        raise WriteError(f"cannot write {what} {shown!r}: {_describe(err)}") from None
    tmp = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=temporary_prefix(target), suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        destination(path, what)  # still not replaced by a non-regular file
        os.replace(tmp, target)
        tmp = None
        with contextlib.suppress(OSError):  # not every platform can fsync a directory
            dir_fd = os.open(target.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
    except OSError as err:
        raise WriteError(f"cannot write {what} {shown!r}: {_describe(err)}") from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return target


def temporary_prefix(target: Path) -> str:
    """The name prefix of :func:`atomic_write_bytes`'s temporary files for ``target`` (suffix ``.tmp``)."""
    return f".{target.name}."


def remove_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Delete the temporary files an earlier writer of ``path`` left when it was killed mid-write.

    Only files named as :func:`atomic_write_bytes` names its temporaries for this very
    ``path`` (``.NAME.XXXXXXXX.tmp`` beside it) are touched. Call it while holding the
    run's lock on ``path`` (the command line does), so no live writer owns them.
    Returns the files removed; errors are ignored (the next start tries again).
    """
    try:
        target = destination(path)
    except CountnetsError:
        return []
    removed = []
    with contextlib.suppress(OSError):
        for leftover in target.parent.glob(f"{glob.escape(temporary_prefix(target))}*.tmp"):
            with contextlib.suppress(OSError):
                if leftover.is_file() and not leftover.is_symlink():
                    leftover.unlink()
                    removed.append(leftover)
    return removed


def atomic_write_text(path: str | os.PathLike, text: str, what: str = "file") -> Path:
    """:func:`atomic_write_bytes` of ``text`` in UTF-8."""
    return atomic_write_bytes(path, text.encode("utf-8"), what)


def read_text(path: str | os.PathLike, what: str = "file", *, limit: int = MAX_READ_BYTES) -> str:
    """The UTF-8 text of the regular file ``path``, reading at most ``limit`` bytes.

    A FIFO, device or directory is refused without reading from it.

    Raises:
      FileNotFoundError: if there is no such file.
      CountnetsError: for anything else that is not a readable UTF-8 regular file of
        at most ``limit`` bytes; the message names ``what`` and the path.
    """
    shown = os.fspath(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise
    except OSError as err:
        raise CountnetsError(f"cannot read {what} {shown!r}: {_describe(err)}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise CountnetsError(f"{what} {shown!r} is {_kind(info.st_mode)}, not a regular file")
        too_big = f"{what} {shown!r} is larger than {limit:,} bytes; it cannot be a countnets file"
        if info.st_size > limit:
            raise CountnetsError(too_big)
        parts, size = [], 0
        while size <= limit:
            part = os.read(fd, min(1 << 20, limit + 1 - size))
            if not part:
                break
            parts.append(part)
            size += len(part)
        if size > limit:
            raise CountnetsError(too_big)
    except OSError as err:
        raise CountnetsError(f"cannot read {what} {shown!r}: {_describe(err)}") from None
    finally:
        os.close(fd)
    try:
        return b"".join(parts).decode("utf-8")
    except UnicodeDecodeError as err:
        raise CountnetsError(
            f"{what} {shown!r} is not a text file (byte {err.start} is not UTF-8); expected JSON"
        ) from None


def read_json(path: str | os.PathLike, what: str = "file", *, limit: int = MAX_READ_BYTES) -> Any:
    """The JSON value in the regular file ``path``: the one checked reader for every file countnets reads.

    Raises:
      CountnetsError: one line naming ``what`` and the path, for a missing file, a
        non-regular, oversized or non-UTF-8 one (:func:`read_text`), or text that is not
        JSON (empty, truncated, nested too deeply).
    """
    shown = os.fspath(path)
    try:
        text = read_text(path, what, limit=limit)
    except FileNotFoundError:
        raise CountnetsError(f"cannot read {what} {shown!r}: no such file") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise CountnetsError(f"{what} {shown!r} is not JSON: {err}") from None
    except RecursionError:
        raise CountnetsError(f"{what} {shown!r} is nested too deeply to be a countnets file") from None


FORMATS = ("png", "pdf", "svg")
"""Figure formats, named by the path's suffix (any case); a path without a suffix gets ``.png``."""


def figure_format(path: str | os.PathLike, what: str = "figure path") -> str:
    """The format a figure at ``path`` is written in: its suffix, one of :data:`FORMATS`; ``"png"`` without one.

    >>> figure_format("r.PDF"), figure_format("r")
    ('pdf', 'png')

    Raises:
      CountnetsError: for another suffix (the message names ``what``, the path and the accepted suffixes).
    """
    suffix = Path(os.fspath(path)).suffix
    if not suffix:
        return "png"
    if suffix[1:].lower() not in FORMATS:
        accepted = ", ".join(f".{f}" for f in FORMATS)
        raise CountnetsError(
            f"{what} {os.fspath(path)!r} has the suffix {suffix!r}; expected one of {accepted} (no suffix: .png)"
        )
    return suffix[1:].lower()


def figure_paths(path: str | os.PathLike, names: tuple[str, ...]) -> list[Path]:
    """Figure files for ``path``: the first figure at ``STEM.EXT``, the others at ``STEM_NAME.EXT``.

    ``EXT`` is the path's own suffix (``.png``, ``.pdf`` or ``.svg``), ``.png`` for a path without one.

    >>> [str(p) for p in figure_paths("r.pdf", ("ratio", "kstar"))]
    ['r.pdf', 'r_kstar.pdf']

    Raises:
      CountnetsError: for a path with another suffix, or one naming no file.
    """
    figure_format(path)
    shown, path = os.fspath(path), Path(path)
    if not path.name:
        raise CountnetsError(f"figure path {shown!r} names no file; give a file path")
    stem, ext = (path.with_suffix(""), path.suffix) if path.suffix else (path, ".png")
    return [stem.with_name(stem.name + ("" if i == 0 else f"_{name}") + ext) for i, name in enumerate(names)]


def write_figure(fig, path: str | os.PathLike, **savefig_kwargs) -> Path:
    """Render a matplotlib figure in memory and write it with :func:`atomic_write_bytes`; closes it.

    The format is the file suffix's (``.png``, ``.pdf``, ``.svg``...), PNG without one.

    Raises:
      CountnetsError: for a format matplotlib cannot write, or what :func:`atomic_write_bytes` raises.
    """
    import io

    import matplotlib.pyplot as plt

    suffix = Path(os.fspath(path)).suffix.lower().lstrip(".") or "png"
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format=suffix, **savefig_kwargs)
    except ValueError as err:
        raise CountnetsError(f"figure {os.fspath(path)!r}: {err}") from None
    finally:
        plt.close(fig)
    return atomic_write_bytes(path, buffer.getvalue(), "figure")


# ----------------------------------------------------------------------------- locks

_held: dict[str, list] = {}  # lock file -> [depth, fd]: this process's locks (re-entrant)


def holder_pid(path: str | os.PathLike) -> int | None:
    """The PID written in the lock file of ``path`` (``None`` if there is none)."""
    try:
        with open(os.path.realpath(os.fspath(path)) + _LOCK_SUFFIX, "rb") as fh:
            match = _LOCK_CONTENT.match(fh.read(64))
    except OSError:
        return None
    return int(match.group(2)) if match and match.group(2) else None


def _acquire(lock_path: str, shown: str, what: str) -> int:
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    while True:
        try:
            os.makedirs(os.path.dirname(lock_path), exist_ok=True)  # as a write would
            fd = os.open(lock_path, flags, 0o666)
        except OSError as err:
            raise CountnetsError(
                f"cannot lock {what} {shown!r}: cannot create {lock_path!r}: {_describe(err)}"
            ) from None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise CountnetsError(f"cannot lock {what} {shown!r}: {lock_path!r} is not a regular file")
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as err:
                if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise CountnetsError(f"cannot lock {what} {shown!r}: {_describe(err)}") from None
                pid = holder_pid(shown)
                holder = f"PID {pid}" if pid is not None else "PID unknown"
                raise CountnetsError(
                    f"{what} {shown!r} is in use by another countnets run ({holder}); "
                    "wait for it to finish or give another path"
                ) from None
            # The holder removes its lock file on release: make sure we locked the file now at lock_path.
            try:
                current = os.stat(lock_path, follow_symlinks=False)
            except FileNotFoundError:
                current = None
            if current is None or (current.st_dev, current.st_ino) != (info.st_dev, info.st_ino):
                os.close(fd)
                continue
            content = os.pread(fd, 64, 0)
            if not _LOCK_CONTENT.match(content):
                raise CountnetsError(
                    f"cannot lock {what} {shown!r}: {lock_path!r} exists and is not a countnets lock file"
                )
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"countnets {os.getpid()}\n".encode(), 0)
            return fd
        except BaseException:
            with contextlib.suppress(OSError):
                os.close(fd)
            raise


@contextlib.contextmanager
def locked(path: str | os.PathLike, what: str = "file") -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (on its symlink target) for the block.

    The lock is an ``fcntl.flock`` on ``PATH.lock``, which holds the holder's PID and is
    removed on release; the operating system releases it if the process dies. Nested
    use in one process is allowed (the lock is re-entrant per process).

    Raises:
      CountnetsError: if another process holds the lock (the message gives its PID), or
        the lock file cannot be created.
    """
    shown = os.fspath(path)
    lock_path = os.path.realpath(shown) + _LOCK_SUFFIX
    entry = _held.get(lock_path)
    if entry is not None:
        entry[0] += 1
        try:
            yield
        finally:
            entry[0] -= 1
        return
    fd = _acquire(lock_path, shown, what)
    _held[lock_path] = [1, fd]
    try:
        yield
    finally:
        del _held[lock_path]
        with contextlib.suppress(OSError):
            os.unlink(lock_path)
        os.close(fd)
