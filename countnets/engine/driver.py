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
import json
import math
import os
import sys
import time
import zlib
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
from countnets.engine import sharding
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




def log_interval(progress: bool | float) -> float | None:
    """Seconds between progress lines for a ``progress`` setting (see :class:`RunConfig`); ``None``: no lines.

    Raises:
      CountnetsError: for anything but a bool or a number >= 0 (``math.inf``: never).

    >>> log_interval(True), log_interval(5), log_interval(False), log_interval(0), log_interval(math.inf)
    (30.0, 5.0, None, None, None)
    """
    if isinstance(progress, bool):
        return DEFAULT_LOG_SECONDS if progress else None
    if progress == math.inf:
        return None
    value = check_finite_float("progress", progress, non_negative=True)
    return value or None


class ProgressLog:
    """Progress as plain lines on stderr, for logs (stderr not a terminal): done, rate, ETA.

    ``update(done)`` prints ``countnets: DESCRIPTION: DONE of TOTAL UNIT (P%), R UNIT/s,
    ETA T`` once at least ``interval`` seconds have passed since the start or the last
    line; ``interval`` ``None`` prints nothing.
    """

    def __init__(self, description: str, unit: str, total: int, done: int, interval: float | None):
        self.description, self.unit, self.total, self.interval = description, unit, total, interval
        self.start = self.last = time.perf_counter()
        self.done_at_start = done

    def update(self, done: int) -> None:
        now = time.perf_counter()
        if self.interval is None or now - self.last < self.interval:
            return
        self.last = now
        rate = (done - self.done_at_start) / max(now - self.start, 1e-9)
        eta = f"{(self.total - done) / rate:.0f} s" if rate > 0 else "unknown"
        share = 100 * done / self.total
        print(f"countnets: {self.description}: {done:,} of {self.total:,} {self.unit} ({share:.1f}%), "
              f"{rate:.3g} {self.unit}/s, ETA {eta}", file=sys.stderr, flush=True)  # fmt: skip


def bar_shape() -> dict[str, int | None]:
    """tqdm's ``ncols`` and ``nrows``: ``None`` (tqdm asks the terminal), or 80 x 20 where it reports 0.

    Some terminals (and pseudo-terminals of job schedulers) report a size of 0 x 0, or
    0 rows only; tqdm then draws a bar of width 0, or none at all, i.e. nothing.
    """
    try:
        size = os.get_terminal_size(sys.stderr.fileno())
    except (OSError, ValueError, AttributeError):
        return {"ncols": 80, "nrows": 20}
    return {"ncols": None if size.columns > 0 else 80, "nrows": None if size.lines > 0 else 20}


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
    from tqdm.auto import tqdm

    chunk_size = check_positive_int("chunk_size", chunk_size)
    n_samples = check_positive_int("n_samples (sample count)", n_samples)
    chunks_per_step = check_positive_int("chunks_per_step", chunks_per_step)
    start_chunk = check_positive_int("start_chunk", start_chunk, allow_zero=True)
    if max_seconds is not None:
        max_seconds = check_finite_float("max_seconds", max_seconds, positive=True)
    if not isinstance(pure, bool):
        raise CountnetsError(f"pure must be True or False, got {pure!r}")
    n_chunks = -(-n_samples // chunk_size)
    if n_chunks >= 2**31:
        raise CountnetsError(
            f"{n_samples} samples in chunks of {chunk_size} make {n_chunks} chunks, more than the 2**31 - 1 "
            "that chunk indices (int32) can address; raise chunk_size"
        )
    if checkpoint is not None:
        if not isinstance(checkpoint, checkpoint_lib.Checkpoint):
            raise CountnetsError(
                f"checkpoint must be a countnets.engine.checkpoint.Checkpoint, got {type(checkpoint).__name__}"
            )
        if state is None or not (hasattr(state, "state_dict") and hasattr(state, "load_state_dict")):
            raise CountnetsError(
                f"{description}: a checkpoint needs state=, an accumulator with state_dict()/load_state_dict()"
            )
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
    n_total = n_local * n_proc

    done = min(n_samples, start_chunk * chunk_size)
    resumed_from, seconds_before = 0, 0.0
    if checkpoint is not None:
        saved = checkpoint_lib.load(checkpoint)
        if saved is not None:
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
                raise CountnetsError(
                    f"checkpoint {str(checkpoint.path)!r} is damaged: {problem}; delete it to start afresh"
                )
            start_chunk, done, seconds_before = saved.next_chunk, saved.samples, saved.seconds
            resumed_from = done
        digest = zlib.crc32(json.dumps(checkpoint.fingerprint, sort_keys=True).encode())
        sharding.check_same_on_all_processes(
            (start_chunk, done, digest), f"checkpoint {str(checkpoint.path)!r} (next chunk, samples, run fingerprint)"
        )
    start = time.perf_counter()

    def outcome(samples: int, stopped_by: str) -> RunOutcome:
        return RunOutcome(
            samples=samples,
            stopped_by=stopped_by,
            devices=n_total,
            processes=n_proc,
            resumed_from=resumed_from,
            seconds_before=seconds_before,
            seconds=time.perf_counter() - start,
            checkpoint=None if checkpoint is None else str(checkpoint.path),
        )

    # Never pad a short run up to a full step of empty chunks; one chunk block per device.
    cps = sharding.round_chunks_per_step(max(1, min(chunks_per_step, n_chunks - start_chunk)), n_total)
    if cps // n_total * chunk_size >= 2**31:
        raise CountnetsError(
            f"one device's share of a step ({cps // n_total} chunks of {chunk_size}) must be below 2**31 samples "
            "(per-step counts are int32); lower chunks_per_step"
        )
    if pure and n_total > 1:
        runner = sharding.ShardedStep(step, sharding.make_mesh(n_local))

        def dispatch(indices, n_valid):
            return runner.dispatch(key, indices, n_valid)

        collect = runner.collect
    else:

        def dispatch(indices, n_valid):
            return step(key, jnp.asarray(indices, dtype=jnp.int32), jnp.asarray(n_valid, dtype=jnp.int32))

        def collect(out):
            return [out]

    def plan(first: int):
        indices = np.arange(first, first + cps, dtype=np.int64)
        n_valid = np.clip(n_samples - indices * chunk_size, 0, chunk_size)
        indices = np.where(indices < n_chunks, indices, 0)
        return first, indices.astype(np.int32), n_valid.astype(np.int32)

    def launch(planned):
        first, indices, n_valid = planned
        return first, dispatch(indices, n_valid), int(n_valid.sum())

    last_save = start

    def save(next_chunk: int, why: str) -> None:
        checkpoint_lib.save(
            checkpoint,  # type: ignore[arg-type]
            next_chunk=next_chunk,
            samples=done,
            seconds=seconds_before + time.perf_counter() - start,
            stopped_by=why,
            state=state.state_dict(),  # type: ignore[union-attr]
        )

    if done >= n_samples:
        return outcome(done, "samples")
    if resumed_from and should_stop is not None:
        # A resumed run that had met its stop rule stops again, as the uninterrupted run did.
        reason = should_stop(done)
        if reason is not None:
            return outcome(done, reason)

    stopped_by = "samples"
    lead = jax.process_index() == 0
    show = bool(progress) and sys.stderr.isatty() and lead
    log = ProgressLog(description, unit, n_samples, done, log_interval(progress)) if lead and not show else None
    firsts = iter(range(start_chunk, n_chunks, cps))
    bar = tqdm(
        total=n_samples, initial=done, unit="net", unit_scale=True, delay=2.0, disable=not show, desc=description,
        **bar_shape(),
    )  # fmt: skip
    with bar:
        pending = launch(plan(next(firsts)))
        while pending is not None:
            first, out, step_samples = pending
            following = next(firsts, None)
            # A pure step can run on the devices during this merge.
            pending = launch(plan(following)) if pure and following is not None else None
            for part in collect(out):
                merge(part)
            done += step_samples
            bar.update(step_samples)
            if log is not None:
                log.update(done)
            next_chunk = min(first + cps, n_chunks)
            reason = None
            if done < n_samples:
                reason = should_stop(done) if should_stop else None
                local = None
                if checkpoint_lib.interrupt_signal() is not None:
                    local = "interrupted"
                elif max_seconds is not None and time.perf_counter() - start >= max_seconds:
                    local = "time"
                agreed = sharding.agree_stop(local)
                reason = reason or agreed
            finished = done >= n_samples
            now = time.perf_counter()
            due = checkpoint is not None and now - last_save >= checkpoint.every_seconds
            if checkpoint is not None and (finished or reason is not None or due):
                save(next_chunk, "samples" if finished else reason or "running")
                last_save = now
            if finished:
                break
            if reason is not None:
                stopped_by = reason
                break
            if pending is None and following is not None:
                pending = launch(plan(following))
    return outcome(done, stopped_by)
