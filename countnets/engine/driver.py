"""The run driver: one frozen :class:`RunConfig`, and :func:`run_chunks`, which drives a step over chunks.

Everything a run needs goes in as an argument and everything it did comes back in a
:class:`RunOutcome`; nothing travels through thread-locals or context variables.

The unit of randomness is the chunk: sample ``i`` lives in chunk ``i // C`` and a
chunk's parameters depend only on (seed, chunk index, C). A *step* (built by
:func:`countnets.engine.steps.build_step`) evaluates a batch of chunks in one call and returns
only counts or a step histogram; ``merge`` adds them into an accumulator on the host
as Python ints. Counts are therefore identical for any number of chunks per step,
device count, or after a resume.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, PRNGKeyArray

from countnets import _io, _version
from countnets._errors import CountnetsError, check_finite_float, check_positive_int
from countnets.defaults import DEFAULT_LOG_SECONDS  # noqa: F401 (re-exported)
from countnets.engine import checkpoint as checkpoint_lib
from countnets.engine import resuming, sharding
from countnets.engine.progress import ProgressLog as ProgressLog
from countnets.engine.progress import bar_shape as bar_shape
from countnets.engine.progress import log_interval as log_interval
from countnets.engine.progress import open_progress
from countnets.engine.sources import DEFAULT_CHUNK_SIZE, DEFAULT_MAX_EXACT, ChunkSource, lattice_source, sampling_source
from countnets.network.architectures import Architecture
from countnets.network.priors import Prior

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_MAX_EXACT",
    "STEP_BYTES",
    "RunConfig",
    "RunOutcome",
    "run_chunks",
    "seed_key",
    "plan_chunks_per_step",
    "bar_shape",
    "DEFAULT_LOG_SECONDS",
    "log_interval",
    "ProgressLog",
]

STEP_BYTES = 256 * 2**20  # activation memory aimed at per device and step when choosing chunks per step
_MAX_CHUNKS_PER_STEP = 64
_OWN = object()  # "this config's value" in RunConfig.fingerprint


def seed_key(seed: int) -> PRNGKeyArray:
    """The raw uint32 words of ``jax.random.key(seed, impl="threefry2x32")``, whatever JAX's default PRNG.

    Raises:
      CountnetsError: unless ``0 <= seed < 2**32``.
    """
    seed = check_positive_int("seed", seed, allow_zero=True)
    if seed >= 2**32:
        raise CountnetsError(f"seed must be below 2**32, got {seed}")
    return jax.random.key_data(jax.random.key(seed, impl="threefry2x32"))


def plan_chunks_per_step(chunk_size: int, bytes_per_network: int, devices: int | None = None) -> int:
    """Chunks per step over all devices: as many as fit :data:`STEP_BYTES` per device (1 .. 64), times the devices.

    This is the only chunks-per-step planner; the choice changes speed, never counts.

    Args:
      chunk_size: networks per chunk.
      bytes_per_network: activation bytes of one network (see :func:`countnets.engine.sources.network_bytes`).
      devices: local devices (``None``: all), times ``jax.process_count()``.
    """
    per_chunk = max(1, chunk_size * bytes_per_network)
    per_device = int(max(1, min(_MAX_CHUNKS_PER_STEP, STEP_BYTES // per_chunk)))
    n_local, _ = sharding.resolve_devices(devices)
    return per_device * n_local * jax.process_count()


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """How to run a counting pass, validated once: samples, seed, chunking, devices, checkpoint, stop rules.

    A run's counts depend only on ``(seed, chunk_size, n_samples)`` and what is counted;
    ``chunks_per_step``, ``devices``, ``progress`` and the checkpoint change speed and
    robustness, never counts.

    Attributes:
      n_samples: samples to draw (the maximum, when a stop rule is given).
      seed: integer seed, ``0 <= seed < 2**32``.
      chunk_size: samples per chunk C (part of the random stream: keep it fixed to reproduce a run).
      chunks_per_step: chunks per step over all devices (``None``: :func:`plan_chunks_per_step`).
        With an explicit ``devices``, a multiple of the device count.
      devices: local devices to shard steps over (``None``: all).
      checkpoint: save progress to this file and resume from it (``None``: no checkpoint).
      checkpoint_every: seconds between checkpoint saves (0: after every step).
      max_seconds: stop after the first step that ends past this wall time.
      rel_halfwidth: stop once every target has hits and interval half-width / p is at most
        this (read by front ends that estimate probabilities).
      progress: ``True``: a progress bar on a terminal (after 2 s), and where stderr is
        not a terminal (a batch job's log) one line every :data:`DEFAULT_LOG_SECONDS`
        seconds; a positive number: the same with lines that many seconds apart
        (``math.inf``: the bar only); ``False`` or 0: nothing.

    Raises:
      CountnetsError: for any invalid field.
    """

    n_samples: int
    seed: int = 0
    chunk_size: int = DEFAULT_CHUNK_SIZE
    chunks_per_step: int | None = None
    devices: int | None = None
    checkpoint: str | os.PathLike | None = None
    checkpoint_every: float = checkpoint_lib.DEFAULT_EVERY_SECONDS
    max_seconds: float | None = None
    rel_halfwidth: float | None = None
    progress: bool | float = False

    def __post_init__(self):
        fix = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731
        fix("n_samples", check_positive_int("n_samples (sample count)", self.n_samples))
        seed_key(self.seed)
        fix("seed", int(self.seed))
        fix("chunk_size", check_positive_int("chunk_size", self.chunk_size))
        if self.chunks_per_step is not None:
            fix("chunks_per_step", check_positive_int("chunks_per_step", self.chunks_per_step))
        if self.devices is not None:
            n_local, _ = sharding.resolve_devices(self.devices)
            fix("devices", n_local)
            total = n_local * jax.process_count()
            if self.chunks_per_step is not None and self.chunks_per_step % total:
                raise CountnetsError(
                    f"chunks_per_step must be a multiple of the device count {total} "
                    f"({n_local} per process x {jax.process_count()} process(es)), got {self.chunks_per_step}"
                )
        fix("checkpoint_every", check_finite_float("checkpoint_every", self.checkpoint_every, non_negative=True))
        if self.checkpoint is not None and (
            not isinstance(self.checkpoint, (str, os.PathLike)) or not str(self.checkpoint).strip()
        ):
            raise CountnetsError(f"checkpoint must be a non-empty path, got {self.checkpoint!r}")
        for name in ("max_seconds", "rel_halfwidth"):
            value = getattr(self, name)
            if value is not None:
                fix(name, check_finite_float(name, value, positive=True))
        log_interval(self.progress)  # checks it

    def key(self) -> PRNGKeyArray:
        """The run's PRNG key words (see :func:`seed_key`)."""
        return seed_key(self.seed)

    def sampling_source(self, prior: Prior, arch: Architecture) -> ChunkSource:
        """The chunk source of prior samples (see :func:`countnets.engine.sources.sampling_source`)."""
        return sampling_source(prior, arch, self.chunk_size)

    def lattice_source(self, prior: Prior, arch: Architecture, max_configurations: int) -> ChunkSource:
        """The chunk source of every lattice configuration (:func:`countnets.engine.sources.lattice_source`)."""
        return lattice_source(prior, arch, self.chunk_size, max_configurations)

    def steps_for(self, chunk_size: int, bytes_per_network: int) -> int:
        """Chunks per step: ``chunks_per_step`` if given, else :func:`plan_chunks_per_step`."""
        if self.chunks_per_step is not None:
            return self.chunks_per_step
        return plan_chunks_per_step(chunk_size, bytes_per_network, self.devices)

    def fingerprint(self, kind: str, config: dict, *, seed: Any = _OWN, chunk_size: int | None = None,
                    n_samples: int | None = None, **more: Any) -> dict:  # fmt: skip
        """What decides a run's counts (a checkpoint must match it). Interval settings do not.

        ``seed``, ``chunk_size`` and ``n_samples`` default to this config's (an enumeration
        passes ``seed=None`` and its configuration count).
        """
        cfg = {k: v for k, v in config.items() if k not in ("interval", "confidence")}
        return {
            "kind": kind,
            "countnets": _version.__version__,
            "config": cfg,
            "seed": self.seed if seed is _OWN else seed,
            "chunk_size": self.chunk_size if chunk_size is None else chunk_size,
            "n_samples": self.n_samples if n_samples is None else n_samples,
            **more,
        }

    def open_checkpoint(self, fingerprint: dict, suffix: str = "") -> checkpoint_lib.Checkpoint | None:
        """The :class:`countnets.engine.checkpoint.Checkpoint` for ``fingerprint`` (``None`` without a checkpoint).

        ``suffix`` names one of several counting passes of one command (``run.ckpt.L2``).
        """
        if self.checkpoint is None:
            return None
        return checkpoint_lib.Checkpoint(f"{os.fspath(self.checkpoint)}{suffix}", fingerprint, self.checkpoint_every)

    def with_samples(self, n_samples: int) -> RunConfig:
        """This config with another sample count."""
        return dataclasses.replace(self, n_samples=n_samples)


@dataclasses.dataclass(frozen=True)
class RunOutcome:
    """What :func:`run_chunks` did.

    Attributes:
      samples: samples (or configurations) merged, including those restored from a checkpoint.
      stopped_by: ``"samples"``, ``"rel_halfwidth"`` (or another ``should_stop`` reason),
        ``"interrupted"`` or ``"time"``.
      devices: devices that evaluated chunks, over all processes.
      processes: processes in the run (``jax.process_count()``).
      resumed_from: samples restored from a checkpoint (0 for a fresh run).
      seconds_before: counting seconds spent by earlier invocations (from the checkpoint).
      seconds: wall seconds of this invocation.
      checkpoint: the checkpoint path, or ``None``.
    """

    samples: int
    stopped_by: str
    devices: int = 1
    processes: int = 1
    resumed_from: int = 0
    seconds_before: float = 0.0
    seconds: float = 0.0
    checkpoint: str | None = None

    @property
    def samples_per_s(self) -> float:
        """Throughput of this invocation: samples restored from a checkpoint are not counted."""
        new = max(0, self.samples - self.resumed_from)
        return new / self.seconds if self.seconds > 0 else 0.0


def run_chunks(
    step: Callable[[PRNGKeyArray, Array, Array], Any],
    merge: Callable[[Any], None],
    *,
    key: PRNGKeyArray,
    chunk_size: int,
    n_samples: int,
    chunks_per_step: int,
    pure: bool = True,
    start_chunk: int = 0,
    should_stop: Callable[[int], str | None] | None = None,
    max_seconds: float | None = None,
    progress: bool | float = False,
    description: str = "counting",
    unit: str = "samples",
    devices: int | None = None,
    checkpoint: checkpoint_lib.Checkpoint | None = None,
    state: checkpoint_lib.Checkpointable | None = None,
) -> RunOutcome:
    """Drive ``step`` over chunks ``start_chunk ..`` until ``n_samples`` samples are done.

    Sample ``i`` (``i < n_samples``) is sample ``i % C`` of chunk ``i // C``; the last
    chunk is truncated by passing ``n_valid < C``. Padding chunks in the final step
    have ``n_valid = 0``, so shapes (and the compiled step) never change.

    **Pure steps, devices and processes.** A ``pure`` step (the default; every step of
    :func:`countnets.engine.steps.build_step` is one) is a traceable function of its arguments
    alone, so it is sharded over ``devices`` local devices (default: every one) of every
    process of a ``jax.distributed`` run, and the next step is dispatched while the host
    merges the last. A step then covers ``chunks_per_step`` rounded up to a multiple of
    the device count ``D``; each device evaluates ``chunks_per_step / D`` consecutive
    chunks, and ``merge`` is called once per device, in chunk order, on that device's
    output. Every process merges every device's output, so all hold the same counts.
    A step with ``pure=False`` (a Python step that reads host state ``merge`` changes)
    runs as given on one device, after the previous merge. Counts are identical in every
    case, as ``merge`` only ever sees chunks in order.

    **Checkpoints.** With ``checkpoint`` (and ``state``, the object ``merge`` adds
    into, with ``state_dict``/``load_state_dict``) an existing checkpoint of the same
    run is loaded first and the run continues from its next chunk; progress and
    ``state.state_dict()`` are saved atomically after completed steps (see
    :class:`countnets.engine.checkpoint.Checkpoint`), and when the run stops.

    **Stopping.** After each step: all samples done (``"samples"``); ``should_stop``;
    a signal caught by :func:`countnets.engine.checkpoint.catch_signals` (``"interrupted"``);
    ``max_seconds`` (``"time"``). With several processes the last two are agreed by
    all processes after every step.

    Args:
      step: ``step(key, chunk_indices, n_valid)``, int32 arrays of shape ``(chunks per step (per device),)``.
      merge: called on each step's (or each device's) output, on the host, in chunk order.
      pure: whether ``step`` may be sharded and dispatched ahead of the previous merge.
      should_stop: called with the samples done after each step; a non-None return
        is the reason for stopping early. Also called once on resuming.
      max_seconds: stop after the first step that ends past this wall time.
      devices: local devices to shard over (``None``: all).
      checkpoint: where to save and resume (``None``: no checkpoint).
      state: the accumulator saved in the checkpoint.

    Returns:
      A :class:`RunOutcome`.

    While it runs, the checkpoint is locked (:func:`countnets._io.locked`, by process 0
    of a multi-process run): a second run on the same checkpoint file is refused.

    Raises:
      CountnetsError: for invalid arguments, a device count the step cannot use, a
        checkpoint without ``state``, a checkpoint of another run, a damaged or edited
        checkpoint, or one another process holds.
    """
    lock: Any = contextlib.nullcontext()
    if isinstance(checkpoint, checkpoint_lib.Checkpoint) and jax.process_index() == 0:
        lock = _io.locked(checkpoint.path, "checkpoint")
    with lock:
        return _run_chunks(
            step, merge, key=key, chunk_size=chunk_size, n_samples=n_samples, chunks_per_step=chunks_per_step,
            pure=pure, start_chunk=start_chunk, should_stop=should_stop, max_seconds=max_seconds, progress=progress,
            description=description, unit=unit, devices=devices, checkpoint=checkpoint, state=state,
        )  # fmt: skip


def _run_chunks(
    step: Callable[[PRNGKeyArray, Array, Array], Any],
    merge: Callable[[Any], None],
    *,
    key: PRNGKeyArray,
    chunk_size: int,
    n_samples: int,
    chunks_per_step: int,
    pure: bool = True,
    start_chunk: int = 0,
    should_stop: Callable[[int], str | None] | None = None,
    max_seconds: float | None = None,
    progress: bool | float = False,
    description: str = "counting",
    unit: str = "samples",
    devices: int | None = None,
    checkpoint: checkpoint_lib.Checkpoint | None = None,
    state: checkpoint_lib.Checkpointable | None = None,
) -> RunOutcome:
    """:func:`run_chunks` without the checkpoint lock."""
    chunk_size, n_samples, chunks_per_step, start_chunk, max_seconds = _checked_arguments(
        chunk_size, n_samples, chunks_per_step, start_chunk, max_seconds, pure
    )
    n_chunks = _chunk_count(n_samples, chunk_size)
    resuming.check_checkpoint(checkpoint, state, description)
    n_local, n_proc = _run_devices(devices, pure, description)
    n_total = n_local * n_proc

    done = min(n_samples, start_chunk * chunk_size)
    resumed_from, seconds_before = 0, 0.0
    if checkpoint is not None:
        start_chunk, done, resumed_from, seconds_before = resuming.resume(
            checkpoint, state, start_chunk, done, n_samples=n_samples, chunk_size=chunk_size, n_chunks=n_chunks
        )
    start = time.perf_counter()
    outcome = functools.partial(
        _outcome, devices=n_total, processes=n_proc, resumed_from=resumed_from, seconds_before=seconds_before,
        start=start, checkpoint=checkpoint,
    )  # fmt: skip

    cps = _step_chunks(chunks_per_step, n_chunks - start_chunk, n_total, chunk_size)
    dispatch, collect = _dispatcher(step, key, pure, n_local, n_total)

    def launch(first: int) -> tuple[int, Any, int]:
        """The step from chunk ``first`` dispatched: ``(first, its output, its samples)``."""
        indices, n_valid = _plan_step(first, cps, n_samples=n_samples, chunk_size=chunk_size, n_chunks=n_chunks)
        return first, dispatch(indices, n_valid), int(n_valid.sum())

    stopped_before = _stopped_before_start(done, n_samples, resumed_from, should_stop)
    if stopped_before is not None:
        return outcome(done, stopped_before)

    stopped_by = "samples"
    saves = resuming.Saves(checkpoint, state, seconds_before, start)
    bar, log = open_progress(progress, description, unit, n_samples, done, lead=jax.process_index() == 0)
    firsts = iter(range(start_chunk, n_chunks, cps))
    with bar:
        pending = launch(next(firsts))
        while pending is not None:
            first, out, step_samples = pending
            following = next(firsts, None)
            # A pure step can run on the devices during this merge.
            pending = launch(following) if pure and following is not None else None
            for part in collect(out):
                merge(part)
            done += step_samples
            bar.update(step_samples)
            if log is not None:
                log.update(done)
            finished = done >= n_samples
            reason = None if finished else _stop_reason(done, should_stop, start, max_seconds)
            saves.after_step(min(first + cps, n_chunks), done, finished, reason)
            if finished:
                break
            if reason is not None:
                stopped_by = reason
                break
            if pending is None and following is not None:
                pending = launch(following)
    return outcome(done, stopped_by)


def _checked_arguments(
    chunk_size: int, n_samples: int, chunks_per_step: int, start_chunk: int, max_seconds: float | None, pure: bool
) -> tuple[int, int, int, int, float | None]:
    """``(chunk_size, n_samples, chunks_per_step, start_chunk, max_seconds)`` checked; ``pure`` must be a bool."""
    chunk_size = check_positive_int("chunk_size", chunk_size)
    n_samples = check_positive_int("n_samples (sample count)", n_samples)
    chunks_per_step = check_positive_int("chunks_per_step", chunks_per_step)
    start_chunk = check_positive_int("start_chunk", start_chunk, allow_zero=True)
    if max_seconds is not None:
        max_seconds = check_finite_float("max_seconds", max_seconds, positive=True)
    if not isinstance(pure, bool):
        raise CountnetsError(f"pure must be True or False, got {pure!r}")
    return chunk_size, n_samples, chunks_per_step, start_chunk, max_seconds


def _chunk_count(n_samples: int, chunk_size: int) -> int:
    """The chunks that hold ``n_samples`` samples, which int32 chunk indices must address."""
    n_chunks = -(-n_samples // chunk_size)
    if n_chunks >= 2**31:
        raise CountnetsError(
            f"{n_samples} samples in chunks of {chunk_size} make {n_chunks} chunks, more than the 2**31 - 1 "
            "that chunk indices (int32) can address; raise chunk_size"
        )
    return n_chunks


def _run_devices(devices: int | None, pure: bool, description: str) -> tuple[int, int]:
    """``(local devices, processes)`` a step runs on: one device of one process unless the step is ``pure``."""
    n_proc = jax.process_count()
    n_local, explicit = sharding.resolve_devices(devices)
    if not pure:
        if n_proc > 1:
            raise CountnetsError(f"{description}: its step is not pure, so it cannot be split over {n_proc} processes")
        if explicit and n_local > 1:
            raise CountnetsError(
                f"{description}: its step is not pure, so it cannot be sharded over {n_local} devices; use 1 device"
            )
        n_local = 1
    return n_local, n_proc


def _outcome(
    samples: int,
    stopped_by: str,
    *,
    devices: int,
    processes: int,
    resumed_from: int,
    seconds_before: float,
    start: float,
    checkpoint: checkpoint_lib.Checkpoint | None,
) -> RunOutcome:
    """The :class:`RunOutcome` of a run that began at ``start`` (``time.perf_counter()``) and stops now."""
    return RunOutcome(
        samples=samples,
        stopped_by=stopped_by,
        devices=devices,
        processes=processes,
        resumed_from=resumed_from,
        seconds_before=seconds_before,
        seconds=time.perf_counter() - start,
        checkpoint=None if checkpoint is None else str(checkpoint.path),
    )


def _step_chunks(chunks_per_step: int, chunks_left: int, n_total: int, chunk_size: int) -> int:
    """Chunks per step: ``chunks_per_step``, at most the chunks left, rounded up to a multiple of the devices."""
    # Never pad a short run up to a full step of empty chunks; one chunk block per device.
    cps = sharding.round_chunks_per_step(max(1, min(chunks_per_step, chunks_left)), n_total)
    if cps // n_total * chunk_size >= 2**31:
        raise CountnetsError(
            f"one device's share of a step ({cps // n_total} chunks of {chunk_size}) must be below 2**31 samples "
            "(per-step counts are int32); lower chunks_per_step"
        )
    return cps


def _dispatcher(
    step: Callable[[PRNGKeyArray, Array, Array], Any], key: PRNGKeyArray, pure: bool, n_local: int, n_total: int
) -> tuple[Callable[[np.ndarray, np.ndarray], Any], Callable[[Any], list[Any]]]:
    """``(dispatch, collect)``: start a step on its chunks, and split its output into the parts to merge in order."""
    if pure and n_total > 1:
        runner = sharding.ShardedStep(step, sharding.make_mesh(n_local))

        def dispatch(indices, n_valid):
            return runner.dispatch(key, indices, n_valid)

        return dispatch, runner.collect

    def dispatch(indices, n_valid):
        return step(key, jnp.asarray(indices, dtype=jnp.int32), jnp.asarray(n_valid, dtype=jnp.int32))

    def collect(out):
        return [out]

    return dispatch, collect


def _plan_step(
    first: int, cps: int, *, n_samples: int, chunk_size: int, n_chunks: int
) -> tuple[np.ndarray, np.ndarray]:
    """``(chunk indices, valid samples)`` (int32) of the step from chunk ``first``; padding: chunk 0, 0 valid."""
    indices = np.arange(first, first + cps, dtype=np.int64)
    n_valid = np.clip(n_samples - indices * chunk_size, 0, chunk_size)
    indices = np.where(indices < n_chunks, indices, 0)
    return indices.astype(np.int32), n_valid.astype(np.int32)


def _stopped_before_start(
    done: int, n_samples: int, resumed_from: int, should_stop: Callable[[int], str | None] | None
) -> str | None:
    """Why a run stops before its first step: all samples done, or a resumed run's stop rule met; ``None``: run."""
    if done >= n_samples:
        return "samples"
    if resumed_from and should_stop is not None:
        # A resumed run that had met its stop rule stops again, as the uninterrupted run did.
        return should_stop(done)
    return None


def _stop_reason(
    done: int, should_stop: Callable[[int], str | None] | None, start: float, max_seconds: float | None
) -> str | None:
    """Why to stop after a step short of the samples: ``should_stop``, else a signal or time (agreed); or ``None``."""
    reason = should_stop(done) if should_stop else None
    local = None
    if checkpoint_lib.interrupt_signal() is not None:
        local = "interrupted"
    elif max_seconds is not None and time.perf_counter() - start >= max_seconds:
        local = "time"
    agreed = sharding.agree_stop(local)  # a collective: every process calls it after every step
    return reason or agreed
