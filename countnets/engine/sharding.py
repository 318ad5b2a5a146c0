"""Scale-out: chunks sharded over every local device, and over several processes.

The reproducibility unit is the chunk (DESIGN section 2): chunk ``i``'s parameters
depend only on ``(seed, i, C)``. A *global step* evaluates ``B`` consecutive chunks
``first .. first + B - 1``; with ``D`` devices in all (``D = devices per process x
processes``) device ``d`` of the mesh takes the ``B / D`` consecutive chunks starting at
``first + d * B / D`` (see :func:`device_chunks`). Each device's output is merged on the
host, in device order, which is chunk order, exactly as if the step had been run with
``B / D`` chunks on one device. Counts are therefore identical for any device count,
process count and chunks per step.

* **One process.** :class:`ShardedStep` wraps a jitted chunk step in
  :func:`jax.shard_map` over a one-axis :class:`jax.sharding.Mesh` (axis ``"chunks"``)
  of the local devices; only the chunk axis is split, the key is replicated.
* **Several processes.** After :func:`initialize_distributed` (``jax.distributed``),
  the mesh holds the same number of devices from every process; each process evaluates
  only its own devices' chunks (a disjoint, deterministic set: :func:`process_chunks`),
  the per-device outputs are gathered to every process
  (:func:`jax.experimental.multihost_utils.process_allgather`) and every process merges
  all of them, so every process holds the same combined counts. Process 0 writes the
  result. Stop decisions (time budget, signals) are agreed after every step
  (:func:`agree_stop`), so all processes stop after the same step.

Example:
  >>> device_chunks(first_chunk=8, chunks_per_step=8, n_devices=4)
  [(8, 10), (10, 12), (12, 14), (14, 16)]
  >>> process_chunks(first_chunk=8, chunks_per_step=8, devices_per_process=2, process_index=1, process_count=2)
  [12, 13, 14, 15]
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
from collections.abc import Callable, Mapping
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from countnets._errors import CountnetsError
from countnets.defaults import ENV_COORDINATOR, ENV_NUM_PROCESSES, ENV_PROCESS_ID  # noqa: F401 (re-exported)

__all__ = [
    "AXIS",
    "ENV_COORDINATOR",
    "ENV_NUM_PROCESSES",
    "ENV_PROCESS_ID",
    "DistributedConfig",
    "distributed_config",
    "initialize_distributed",
    "resolve_devices",
    "round_chunks_per_step",
    "device_chunks",
    "process_chunks",
    "make_mesh",
    "ShardedStep",
    "agree_stop",
    "check_same_on_all_processes",
]

AXIS = "chunks"

_HOST_PORT = re.compile(r"^(?P<host>\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+):(?P<port>[0-9]{1,5})$")


# ----------------------------------------------------------------------------- jax.distributed


@dataclasses.dataclass(frozen=True)
class DistributedConfig:
    """How this process joins a multi-process run (``jax.distributed``).

    Attributes:
      coordinator: ``host:port`` of process 0's coordinator service (every process
        gives the same address).
      num_processes: number of processes in the run, >= 1.
      process_id: this process's index, ``0 <= process_id < num_processes``.
    """

    coordinator: str
    num_processes: int
    process_id: int


def _parse_int(value: object, name: str) -> int:
    if isinstance(value, bool):
        raise CountnetsError(f"{name} must be an int, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise CountnetsError(f"{name} must be an int, got {value!r}")


def distributed_config(
    coordinator: str | None = None,
    num_processes: int | str | None = None,
    process_id: int | str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> DistributedConfig | None:
    """Validated multi-process settings from arguments, falling back to environment variables.

    Each of ``coordinator``, ``num_processes`` and ``process_id`` that is ``None`` is
    read from ``COUNTNETS_COORDINATOR``, ``COUNTNETS_NUM_PROCESSES`` and
    ``COUNTNETS_PROCESS_ID``. Returns ``None`` when none of the three is set anywhere
    (a single-process run).

    Raises:
      CountnetsError: if only some are set, the address is not ``host:port`` with a port
        in 1..65535, ``num_processes < 1`` or ``process_id`` is outside
        ``0 .. num_processes - 1``. The message names the option or variable.

    Example:
      >>> distributed_config("10.0.0.1:1234", 2, 1)
      DistributedConfig(coordinator='10.0.0.1:1234', num_processes=2, process_id=1)
      >>> distributed_config(environ={}) is None
      True
    """
    env = os.environ if environ is None else environ
    given: dict[str, tuple[object, str]] = {}
    for name, value, var in (
        ("coordinator", coordinator, ENV_COORDINATOR),
        ("num_processes", num_processes, ENV_NUM_PROCESSES),
        ("process_id", process_id, ENV_PROCESS_ID),
    ):
        if value is not None:
            given[name] = (value, f"{name.replace('_', '-')}")
        elif env.get(var, "").strip():
            given[name] = (env[var].strip(), var)
    if not given:
        return None
    missing = [n for n in ("coordinator", "num_processes", "process_id") if n not in given]
    if missing:
        named = ", ".join(f"--{m.replace('_', '-')} (or {_ENV[m]})" for m in missing)
        have = ", ".join(source for _, source in given.values())
        raise CountnetsError(
            f"a multi-process run needs coordinator, num-processes and process-id; got {have} but not {named}"
        )
    addr, addr_src = given["coordinator"]
    if not isinstance(addr, str) or not _HOST_PORT.match(addr.strip()):
        raise CountnetsError(f"{addr_src} must be host:port (e.g. 10.0.0.1:12345), got {addr!r}")
    addr = addr.strip()
    port = int(_HOST_PORT.match(addr).group("port"))  # type: ignore[union-attr]
    if not 1 <= port <= 65535:
        raise CountnetsError(f"{addr_src} port must be in 1..65535, got {port}")
    n = _parse_int(given["num_processes"][0], given["num_processes"][1])
    if n < 1:
        raise CountnetsError(f"{given['num_processes'][1]} must be >= 1, got {n}")
    i = _parse_int(given["process_id"][0], given["process_id"][1])
    if not 0 <= i < n:
        raise CountnetsError(f"{given['process_id'][1]} must be in 0..{n - 1} for {n} processes, got {i}")
    return DistributedConfig(addr, n, i)


_ENV = {"coordinator": ENV_COORDINATOR, "num_processes": ENV_NUM_PROCESSES, "process_id": ENV_PROCESS_ID}


def initialize_distributed(config: DistributedConfig, *, timeout_s: int = 300) -> None:
    """Join the run described by ``config`` with :func:`jax.distributed.initialize`.

    Must be called before any JAX computation in the process. On CPU the cross-process
    collectives use gloo. Every process blocks until all ``num_processes`` have joined
    (at most ``timeout_s`` seconds).

    Raises:
      CountnetsError: if JAX is already initialised differently or the coordinator
        cannot be reached (one line, naming the address).
    """
    if not isinstance(config, DistributedConfig):
        raise CountnetsError(f"config must be a DistributedConfig, got {type(config).__name__}")
    if jax.distributed.is_initialized():
        if (jax.process_count(), jax.process_index()) != (config.num_processes, config.process_id):
            raise CountnetsError(
                f"jax.distributed is already initialised as process {jax.process_index()} of {jax.process_count()}, "
                f"not {config.process_id} of {config.num_processes}"
            )
        return
    try:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(
            coordinator_address=config.coordinator,
            num_processes=config.num_processes,
            process_id=config.process_id,
            initialization_timeout=int(timeout_s),
        )
    except Exception as err:  # JAX raises RuntimeError / XlaRuntimeError with multi-line text
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CountnetsError(
            f"cannot join the distributed run at {config.coordinator} as process {config.process_id} of "
            f"{config.num_processes}: {first}"
        ) from None


# ----------------------------------------------------------------------------- devices


def resolve_devices(devices: int | None = None) -> tuple[int, bool]:
    """``(local devices to use, whether the count was asked for explicitly)``.

    ``None`` means every local device.

    Raises:
      CountnetsError: if ``devices`` is not an int in ``1 .. jax.local_device_count()``.
    """
    explicit = devices is not None
    available = jax.local_device_count()
    if devices is None:
        return available, False
    if isinstance(devices, bool) or not isinstance(devices, (int, np.integer)):
        raise CountnetsError(f"devices must be an int, got {devices!r}")
    devices = int(devices)
    if not 1 <= devices <= available:
        kind = jax.local_devices()[0].device_kind
        raise CountnetsError(
            f"devices must be in 1..{available} (this process has {available} {kind} device(s)), got {devices}"
        )
    return devices, explicit


def round_chunks_per_step(chunks_per_step: int, n_devices: int) -> int:
    """The least multiple of ``n_devices`` that is >= ``chunks_per_step``.

    >>> round_chunks_per_step(3, 4), round_chunks_per_step(8, 4), round_chunks_per_step(1, 1)
    (4, 8, 1)
    """
    return -(-chunks_per_step // n_devices) * n_devices


def device_chunks(first_chunk: int, chunks_per_step: int, n_devices: int) -> list[tuple[int, int]]:
    """``[start, stop)`` chunk ranges of each mesh device in the global step starting at ``first_chunk``.

    ``chunks_per_step`` must be a multiple of ``n_devices``; device ``d`` takes the
    ``chunks_per_step / n_devices`` consecutive chunks from ``first_chunk + d * chunks_per_step / n_devices``.
    """
    if chunks_per_step % n_devices:
        raise CountnetsError(
            f"chunks_per_step ({chunks_per_step}) must be a multiple of the device count ({n_devices})"
        )
    per = chunks_per_step // n_devices
    return [(first_chunk + d * per, first_chunk + (d + 1) * per) for d in range(n_devices)]


def process_chunks(
    first_chunk: int, chunks_per_step: int, devices_per_process: int, process_index: int, process_count: int
) -> list[int]:
    """The chunks that process ``process_index`` evaluates in one global step.

    The mesh lists each process's devices together, processes in order, so process
    ``p`` takes devices ``p * devices_per_process ..`` and their chunk ranges. The sets
    of different processes are disjoint and together are the whole step.
    """
    ranges = device_chunks(first_chunk, chunks_per_step, devices_per_process * process_count)
    mine = ranges[process_index * devices_per_process : (process_index + 1) * devices_per_process]
    return [c for start, stop in mine for c in range(start, stop)]


def make_mesh(devices_per_process: int) -> Mesh:
    """A one-axis mesh (``"chunks"``) of the first ``devices_per_process`` local devices of every process.

    Devices are ordered by process index, then by device id, so mesh position = chunk order.
    """
    if jax.process_count() == 1:
        devices = list(jax.local_devices())[:devices_per_process]
    else:
        devices = []
        for p in range(jax.process_count()):
            mine = sorted((d for d in jax.devices() if d.process_index == p), key=lambda d: d.id)
            if len(mine) < devices_per_process:
                raise CountnetsError(
                    f"process {p} has {len(mine)} device(s), fewer than the {devices_per_process} per process asked for"
                )
            devices += mine[:devices_per_process]
    return Mesh(np.array(devices), (AXIS,))


class ShardedStep:
    """A jitted chunk step run over every device of a mesh, one block of chunks per device.

    ``dispatch(key, chunk_indices, n_valid)`` (host int32 arrays of the whole global
    step) starts the computation and returns device arrays whose leading axis is the
    mesh device; ``collect`` turns them into a list of per-device outputs (NumPy), in
    chunk order, each shaped like the step's output for one device's block of chunks.
    With several processes ``collect`` gathers every process's outputs.
    """

    def __init__(self, step: Callable[..., Any], mesh: Mesh):
        self.mesh = mesh
        self.n_devices = int(mesh.devices.size)
        self._multi = jax.process_count() > 1

        def body(key, chunk_indices, n_valid, impl=None):
            if impl is not None:
                key = jax.random.wrap_key_data(key, impl=impl)
            return jax.tree_util.tree_map(lambda leaf: leaf[None], step(key, chunk_indices, n_valid))

        self._body = body
        self._typed: dict[Any, Callable[..., Any]] = {}

        self._fn = jax.jit(
            jax.shard_map(body, mesh=mesh, in_specs=(P(), P(AXIS), P(AXIS)), out_specs=P(AXIS)),
        )
        self._split = NamedSharding(mesh, P(AXIS))
        self._replicated = NamedSharding(mesh, P())

    def _put(self, host: np.ndarray, sharding: NamedSharding) -> jax.Array:
        return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])

    def dispatch(self, key: Any, chunk_indices: np.ndarray, n_valid: np.ndarray) -> Any:
        """Start the global step; returns device arrays (leading axis: mesh device)."""
        if len(chunk_indices) % self.n_devices:
            raise CountnetsError(f"a step of {len(chunk_indices)} chunks cannot be split over {self.n_devices} devices")
        fn = self._fn
        if jax.dtypes.issubdtype(getattr(key, "dtype", np.uint32), jax.dtypes.prng_key):
            # A typed key travels as its raw data and is wrapped again on each device.
            impl = jax.random.key_impl(key)
            if impl not in self._typed:
                body = functools.partial(self._body, impl=impl)
                self._typed[impl] = jax.jit(
                    jax.shard_map(body, mesh=self.mesh, in_specs=(P(), P(AXIS), P(AXIS)), out_specs=P(AXIS))
                )
            fn = self._typed[impl]
            key = jax.random.key_data(key)
        key_host = np.asarray(key)
        return fn(
            self._put(key_host, self._replicated),
            self._put(np.asarray(chunk_indices, np.int32), self._split),
            self._put(np.asarray(n_valid, np.int32), self._split),
        )

    def collect(self, out: Any) -> list[Any]:
        """Per-device outputs as NumPy, in chunk order (gathered from every process)."""
        if self._multi:
            from jax.experimental import multihost_utils

            host = multihost_utils.process_allgather(out, tiled=True)
        else:
            host = jax.tree_util.tree_map(np.asarray, out)
        return [jax.tree_util.tree_map(lambda leaf, d=d: leaf[d], host) for d in range(self.n_devices)]


_STOP_CODES = {None: 0, "time": 1, "interrupted": 2}
_STOP_NAMES = {v: k for k, v in _STOP_CODES.items()}


def agree_stop(local_reason: str | None) -> str | None:
    """All processes' stop reasons combined: ``"interrupted"`` if any process was
    signalled, else ``"time"`` if any ran out of time, else ``None``.

    A collective: every process must call it after the same step. With one process it
    returns ``local_reason``.
    """
    if local_reason not in _STOP_CODES:
        raise CountnetsError(f"unknown stop reason {local_reason!r}")
    if jax.process_count() == 1:
        return local_reason
    from jax.experimental import multihost_utils

    codes = np.asarray(multihost_utils.process_allgather(np.array([_STOP_CODES[local_reason]], np.int32)))
    return _STOP_NAMES[int(codes.max())]


def _to_words(values: tuple[int, ...]) -> np.ndarray:
    """Non-negative ints below 2**64 as uint32 words (high, low), safe to gather with x64 off.

    >>> _from_words(_to_words((0, 5, 2**40 + 3))).tolist()
    [0, 5, 1099511627779]
    """
    if any(not 0 <= int(v) < 2**64 for v in values):
        raise CountnetsError(f"values to compare across processes must be in 0 .. 2**64 - 1, got {values}")
    return np.array([[int(v) >> 32, int(v) & 0xFFFFFFFF] for v in values], np.uint32).reshape(-1)


def _from_words(words: np.ndarray) -> np.ndarray:
    pairs = np.asarray(words, np.uint64).reshape(-1, 2)
    return (pairs[:, 0] << np.uint64(32)) | pairs[:, 1]


def check_same_on_all_processes(values: tuple[int, ...], what: str) -> None:
    """Raise the same :class:`CountnetsError` on every process unless ``values`` agree.

    A collective (a no-op with one process); ``values`` are non-negative ints below
    ``2**64``, gathered as uint32 words so that they do not wrap with x64 off.
    """
    words = _to_words(values)
    if jax.process_count() == 1:
        return
    from jax.experimental import multihost_utils

    gathered = np.asarray(multihost_utils.process_allgather(words)).reshape(jax.process_count(), -1)
    gathered = np.stack([_from_words(row) for row in gathered])
    if not (gathered == gathered[0]).all():
        rows = ", ".join(f"process {p}: {tuple(int(v) for v in row)}" for p, row in enumerate(gathered))
        raise CountnetsError(f"{what} differs between processes ({rows})")
