"""A run's checkpoint in use: checking it, resuming from it, and when to save it.

:func:`countnets.engine.driver.run_chunks` checks its ``checkpoint`` and ``state`` with
:func:`check_checkpoint`, continues a saved run with :func:`resume`, and saves through
:class:`Saves`; the file format is :mod:`countnets.engine.checkpoint`'s.
"""

from __future__ import annotations

import json
import time
import zlib
from typing import Any

from countnets._errors import CountnetsError
from countnets.engine import checkpoint as checkpoint_lib
from countnets.engine import sharding

__all__ = ["check_checkpoint", "resume", "restore", "Saves"]


def check_checkpoint(checkpoint: Any, state: Any, description: str) -> None:
    """Refuse a ``checkpoint`` that is not a :class:`Checkpoint`, or one without a ``state`` to save."""
    if checkpoint is None:
        return
    if not isinstance(checkpoint, checkpoint_lib.Checkpoint):
        raise CountnetsError(
            f"checkpoint must be a countnets.engine.checkpoint.Checkpoint, got {type(checkpoint).__name__}"
        )
    if state is None or not (hasattr(state, "state_dict") and hasattr(state, "load_state_dict")):
        raise CountnetsError(
            f"{description}: a checkpoint needs state=, an accumulator with state_dict()/load_state_dict()"
        )


def resume(
    checkpoint: checkpoint_lib.Checkpoint,
    state: checkpoint_lib.Checkpointable | None,
    start_chunk: int,
    done: int,
    *,
    n_samples: int,
    chunk_size: int,
    n_chunks: int,
) -> tuple[int, int, int, float]:
    """``(start chunk, samples done, resumed from, seconds before)``: ``checkpoint``'s, loaded into ``state``, if saved.

    Without a saved checkpoint the run starts at ``start_chunk`` with ``done`` samples. Every
    process must start from the same chunk of the same run.
    """
    resumed_from, seconds_before = 0, 0.0
    saved = checkpoint_lib.load(checkpoint)
    if saved is not None:
        restore(checkpoint, state, saved, n_samples=n_samples, chunk_size=chunk_size, n_chunks=n_chunks)
        start_chunk, done, seconds_before = saved.next_chunk, saved.samples, saved.seconds
        resumed_from = done
    digest = zlib.crc32(json.dumps(checkpoint.fingerprint, sort_keys=True).encode())
    sharding.check_same_on_all_processes(
        (start_chunk, done, digest), f"checkpoint {str(checkpoint.path)!r} (next chunk, samples, run fingerprint)"
    )
    return start_chunk, done, resumed_from, seconds_before


def restore(
    checkpoint: checkpoint_lib.Checkpoint,
    state: checkpoint_lib.Checkpointable | None,
    saved: checkpoint_lib.Saved,
    *,
    n_samples: int,
    chunk_size: int,
    n_chunks: int,
) -> None:
    """Load ``saved`` into ``state``, refusing progress that does not fit the run or counts ``state`` finds wrong."""
    if saved.next_chunk > n_chunks or saved.samples != min(n_samples, saved.next_chunk * chunk_size):
        raise CountnetsError(
            f"checkpoint {str(checkpoint.path)!r} is damaged: chunk {saved.next_chunk} and "
            f"{saved.samples} samples do not fit {n_samples} samples in chunks of {chunk_size}; "
            "delete it to start afresh"
        )
    state.load_state_dict(saved.state)  # type: ignore[union-attr]
    check = getattr(state, "count_problem", None)
    problem = check(saved.samples) if check is not None else None
    if problem:
        raise CountnetsError(f"checkpoint {str(checkpoint.path)!r} is damaged: {problem}; delete it to start afresh")


class Saves:
    """A run's checkpoint saves: after a step once ``every_seconds`` have passed, and when the run stops."""

    def __init__(
        self,
        checkpoint: checkpoint_lib.Checkpoint | None,
        state: checkpoint_lib.Checkpointable | None,
        seconds_before: float,
        start: float,
    ):
        self.checkpoint, self.state, self.seconds_before, self.start = checkpoint, state, seconds_before, start
        self.last = start

    def after_step(self, next_chunk: int, done: int, finished: bool, reason: str | None) -> None:
        """Save progress up to ``next_chunk`` if the run is ``finished``, stops for ``reason``, or a save is due."""
        now = time.perf_counter()
        checkpoint = self.checkpoint
        due = checkpoint is not None and now - self.last >= checkpoint.every_seconds
        if checkpoint is None or not (finished or reason is not None or due):
            return
        checkpoint_lib.save(
            checkpoint,
            next_chunk=next_chunk,
            samples=done,
            seconds=self.seconds_before + time.perf_counter() - self.start,
            stopped_by="samples" if finished else reason or "running",
            state=self.state.state_dict(),  # type: ignore[union-attr]
        )
        self.last = now
