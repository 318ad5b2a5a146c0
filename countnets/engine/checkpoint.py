"""Checkpoint and resume of counting runs, and graceful SIGINT/SIGTERM.

A checkpoint is one JSON file holding a run's *fingerprint* (everything that decides
its counts: experiment, configuration, seed, chunk size, sample count), its progress
(the next chunk to evaluate, samples done, seconds spent) and its accumulated counts.
It is written atomically (temporary file in the same folder, ``fsync``, rename), so a
run killed at any moment, even with SIGKILL during a write, leaves either the previous
checkpoint or the new one, never a torn file. Because chunk ``i`` depends only on
``(seed, i, C)`` and counts are merged in chunk order, a resumed run gives exactly
the counts of an uninterrupted one, whatever the device count, process count or
chunks per step of either part.

Resuming refuses a checkpoint whose fingerprint differs from the run's, naming the
first differing field, e.g. ``seed is 1 in the checkpoint but 2 now``. Every save
stores a sha256 of its canonical content (:func:`content_hash`); a checkpoint whose
hash does not match (edited by hand, or damaged) is refused, and so is one whose counts
cannot come from its progress (:func:`countnets.engine.driver.run_chunks` checks that the
samples done fit the plan and asks the accumulator's ``count_problem``).

Signals: inside :func:`catch_signals` the first SIGINT or SIGTERM only sets a flag,
which :func:`countnets.engine.estimators.run_chunks` reads after each step: it finishes the
step, saves the checkpoint and returns with ``stopped_by="interrupted"``. A second
signal raises :class:`KeyboardInterrupt` at once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import warnings
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from countnets._errors import CountnetsError
from countnets._io import WriteError, atomic_write_text, destination, read_text, remove_stale_temporaries
from countnets._signals import catch_signals, interrupt_signal, signal_count
from countnets.defaults import DEFAULT_EVERY_SECONDS  # noqa: F401 (re-exported)

__all__ = [
    "FORMAT",
    "VERSION",
    "DEFAULT_EVERY_SECONDS",
    "Checkpoint",
    "Checkpointable",
    "Saved",
    "save",
    "load",
    "content_hash",
    "fingerprint_difference",
    "CheckpointWriteWarning",
    "catch_signals",
    "interrupt_signal",
    "signal_count",
]

FORMAT = "countnets-checkpoint"
VERSION = 2  # 2: a sha256 content hash


@runtime_checkable
class Checkpointable(Protocol):
    """Accumulated counts that can be saved and restored (JSON-ready dicts)."""

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


def _check_json(value: Any, where: str) -> None:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise CountnetsError(f"{where} must be plain JSON data: {err}") from None


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """Where and how often a run saves its progress.

    Attributes:
      path: the checkpoint file (created with its parent folder if missing).
      fingerprint: JSON-ready dict identifying the run; a saved checkpoint is used
        only if its fingerprint is equal.
      every_seconds: save after a completed step once this many seconds have passed
        since the last save (0: after every step). The run also saves when it stops
        for any reason, including a signal, and when it finishes.
      failed_writes: the messages of saves the file system refused, in order (filled
        by :func:`save`; the run goes on, see there).

    Raises:
      CountnetsError: for an empty path, a path that is a directory, a fingerprint
        that is not a JSON-ready dict, or a negative or non-finite ``every_seconds``.
    """

    path: str | os.PathLike
    fingerprint: dict[str, Any]
    every_seconds: float = DEFAULT_EVERY_SECONDS
    failed_writes: list[str] = dataclasses.field(default_factory=list, compare=False, repr=False)

    def __post_init__(self):
        if not isinstance(self.path, (str, os.PathLike)) or not str(self.path).strip():
            raise CountnetsError(f"checkpoint path must be a non-empty path, got {self.path!r}")
        destination(self.path, "checkpoint")  # refuses a directory, FIFO or device
        if not isinstance(self.fingerprint, dict):
            raise CountnetsError(f"fingerprint must be a dict, got {type(self.fingerprint).__name__}")
        _check_json(self.fingerprint, "fingerprint")
        # Compare as JSON reads it back (tuples become lists, keys strings).
        object.__setattr__(self, "fingerprint", json.loads(json.dumps(self.fingerprint)))
        every = self.every_seconds
        if isinstance(every, bool) or not isinstance(every, (int, float)) or not math.isfinite(every) or every < 0:
            raise CountnetsError(f"checkpoint every_seconds must be a finite number >= 0, got {every!r}")


@dataclasses.dataclass(frozen=True)
class Saved:
    """A checkpoint read back: progress and the accumulated state.

    Attributes:
      next_chunk: first chunk not yet merged.
      samples: samples merged so far.
      seconds: counting seconds spent by all earlier invocations together.
      stopped_by: why the saving invocation stopped (``"running"`` if it was saved mid-run).
      state: the accumulator's ``state_dict()``.
    """

    next_chunk: int
    samples: int
    seconds: float
    stopped_by: str
    state: dict[str, Any]


def save(
    checkpoint: Checkpoint, *, next_chunk: int, samples: int, seconds: float, stopped_by: str, state: dict[str, Any]
) -> None:
    """Write the checkpoint atomically: temporary file in the same folder, fsync, rename.

    The folder entry is fsynced as well, so the rename itself survives a crash. A save
    the file system refuses (a full disk, a folder made read-only) does not stop the
    run: the first such failure warns once (:class:`CheckpointWriteWarning`), every one
    is recorded in ``checkpoint.failed_writes``, and the file keeps its last good save,
    so the run still finishes and its result is still written.
    """
    from countnets._version import __version__

    path = Path(checkpoint.path)
    data = {
        "format": FORMAT,
        "version": VERSION,
        "countnets": __version__,
        "fingerprint": checkpoint.fingerprint,
        "progress": {
            "next_chunk": int(next_chunk),
            "samples": int(samples),
            "seconds": float(seconds),
            "stopped_by": stopped_by,
        },  # fmt: skip
        "state": state,
    }
    data["sha256"] = content_hash(data)
    text = json.dumps(data, separators=(",", ":"), allow_nan=False)
    try:
        atomic_write_text(path, text, "checkpoint")
    except WriteError as err:
        checkpoint.failed_writes.append(str(err))
        if len(checkpoint.failed_writes) == 1:
            kept = "keeps its last good save" if path.exists() else "was not written"
            warnings.warn(f"{err}; the run goes on and its result will be written, but the checkpoint {kept}",
                          CheckpointWriteWarning, stacklevel=2)  # fmt: skip


class CheckpointWriteWarning(UserWarning):
    """A checkpoint save failed; the run went on (see :func:`save`)."""


def content_hash(data: dict[str, Any]) -> str:
    """The sha256 (hex) of a checkpoint's canonical JSON (sorted keys, no spaces), its ``sha256`` field left out.

    >>> content_hash({"b": 1, "a": [1.5, "x"]}) == content_hash({"a": [1.5, "x"], "b": 1, "sha256": "..."})
    True
    """
    body = {k: v for k, v in data.items() if k != "sha256"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False, ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def fingerprint_difference(saved: Any, current: Any, where: str = "") -> str | None:
    """The first difference between two fingerprints, as a phrase, or ``None`` if equal.

    >>> fingerprint_difference({"seed": 1, "config": {"n": 3}}, {"seed": 1, "config": {"n": 4}})
    'config.n is 3 in the checkpoint but 4 now'
    """
    if isinstance(saved, dict) and isinstance(current, dict):
        for name in list(saved) + [k for k in current if k not in saved]:
            sub = f"{where}.{name}" if where else str(name)
            if name not in current:
                return f"{sub} is {saved[name]!r} in the checkpoint but not set now"
            if name not in saved:
                return f"{sub} is not in the checkpoint but is {current[name]!r} now"
            diff = fingerprint_difference(saved[name], current[name], sub)
            if diff:
                return diff
        return None
    if isinstance(saved, list) and isinstance(current, list) and len(saved) == len(current):
        for i, (a, b) in enumerate(zip(saved, current, strict=True)):
            diff = fingerprint_difference(a, b, f"{where}[{i}]")
            if diff:
                return diff
        return None
    if saved != current or isinstance(saved, bool) != isinstance(current, bool):
        return f"{where or 'the fingerprint'} is {saved!r} in the checkpoint but {current!r} now"
    return None


def load(checkpoint: Checkpoint) -> Saved | None:
    """Read the checkpoint at ``checkpoint.path``; ``None`` if there is no such file.

    Raises:
      CountnetsError: if the file is unreadable, not a countnets checkpoint, of another
        format version, or written for a different run (the message names the first
        differing field and says how to start afresh).
    """
    path = Path(checkpoint.path)
    remove_stale_temporaries(path)  # left by a run killed during a save
    try:
        text = read_text(path, "checkpoint")
    except FileNotFoundError:
        return None
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as err:
        raise CountnetsError(f"cannot read checkpoint {str(path)!r}: {err}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CountnetsError(f"{str(path)!r} is not a countnets checkpoint")
    if data.get("version") != VERSION:
        raise CountnetsError(
            f"checkpoint {str(path)!r} has format version {data.get('version')!r}; this countnets reads {VERSION}"
        )
    try:
        intact = data.get("sha256") == content_hash(data)
    except ValueError:  # NaN or infinity written by hand
        intact = False
    if not intact:
        raise CountnetsError(
            f"checkpoint {str(path)!r} was changed after countnets wrote it (its sha256 content hash does not match); "
            "delete it to start afresh"
        )
    diff = fingerprint_difference(data.get("fingerprint"), checkpoint.fingerprint)
    if diff:
        raise CountnetsError(
            f"checkpoint {str(path)!r} belongs to a different run: {diff}; "
            "rerun with the original options to resume, or use another checkpoint path"
        )
    try:
        progress = data["progress"]
        saved = Saved(
            next_chunk=int(progress["next_chunk"]),
            samples=int(progress["samples"]),
            seconds=float(progress["seconds"]),
            stopped_by=str(progress["stopped_by"]),
            state=dict(data["state"]),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise CountnetsError(f"checkpoint {str(path)!r} is damaged: {err!r}") from None
    if saved.next_chunk < 0 or saved.samples < 0 or not (math.isfinite(saved.seconds) and saved.seconds >= 0):
        raise CountnetsError(f"checkpoint {str(path)!r} is damaged: negative or non-finite progress")
    return saved
