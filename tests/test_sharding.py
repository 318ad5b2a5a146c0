"""Sharding over devices and processes: counts identical to one device, one process.

In-process tests use the 8 fake CPU devices of conftest. The 4-device and the
two-process runs use subprocesses (the device count and jax.distributed must be set
before JAX starts); the two processes join over loopback with gloo collectives.
"""

import json
import os
import socket
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import countnets as cn
from countnets import cli
from countnets.engine import estimators, sharding

ARCH, PRIOR = cn.MLP(3, (5,), "tanh"), cn.Gaussian(1.0, 0.5)
CLI_ARGS = ["histogram", "--n", "3", "--hidden", "4", "--samples", "30000", "--chunk-size", "512", "--seed", "7",
            "--top", "5", "--quiet"]  # fmt: skip


def _env(devices):
    env = {k: v for k, v in os.environ.items() if not k.startswith("COUNTNETS_")}
    return {**env, "JAX_PLATFORMS": "cpu", "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def one_device(tmp_path_factory):
    """The CLI result on one device, in this process."""
    path = tmp_path_factory.mktemp("one") / "one.json"
    assert cli.main([*CLI_ARGS, "--devices", "1", "--json", str(path)]) == 0
    data = json.loads(path.read_text())
    assert data["device_count"] == 1
    return data


# ----------------------------------------------------------------------------- chunk assignment


def test_device_and_process_chunks_are_disjoint_and_cover_the_step():
    assert sharding.device_chunks(0, 6, 3) == [(0, 2), (2, 4), (4, 6)]
    for n_proc, per in [(1, 4), (2, 2), (3, 1), (2, 3)]:
        step = 2 * n_proc * per
        owned = [sharding.process_chunks(100, step, per, p, n_proc) for p in range(n_proc)]
        flat = [c for chunks in owned for c in chunks]
        assert sorted(flat) == flat == list(range(100, 100 + step))  # disjoint, in order, complete
        assert all(len(chunks) == step // n_proc for chunks in owned)
    with pytest.raises(cn.CountnetsError, match="multiple of the device count"):
        sharding.device_chunks(0, 5, 2)
    assert [sharding.round_chunks_per_step(c, 4) for c in (1, 4, 5, 8)] == [4, 4, 8, 8]


def test_distributed_config_from_arguments_and_environment():
    env = {sharding.ENV_COORDINATOR: "node7:1234", sharding.ENV_NUM_PROCESSES: "4", sharding.ENV_PROCESS_ID: "3"}
    assert sharding.distributed_config(environ=env) == sharding.DistributedConfig("node7:1234", 4, 3)
    # Arguments win over the environment.
    assert sharding.distributed_config(process_id=1, environ=env).process_id == 1
    assert sharding.distributed_config(environ={}) is None


@pytest.mark.parametrize(
    "kwargs, env, match",
    [
        (
            dict(num_processes=2),
            {},
            "needs coordinator, num-processes and process-id; got num-processes but not --coordinator",
        ),  # fmt: skip
        (dict(coordinator="host", num_processes=2, process_id=0), {}, "host:port"),
        (dict(coordinator="host:0", num_processes=2, process_id=0), {}, "port must be in 1..65535"),
        (dict(coordinator="host:99999", num_processes=2, process_id=0), {}, "port must be in 1..65535"),
        (dict(coordinator="h:1", num_processes=0, process_id=0), {}, "num-processes must be >= 1"),
        (dict(coordinator="h:1", num_processes=2, process_id=2), {}, "process-id must be in 0..1"),
        (
            {},
            {sharding.ENV_COORDINATOR: "h:1", sharding.ENV_NUM_PROCESSES: "two", sharding.ENV_PROCESS_ID: "0"},
            "COUNTNETS_NUM_PROCESSES must be an int, got 'two'",
        ),  # fmt: skip
    ],
)
def test_distributed_config_errors_name_the_option(kwargs, env, match):
    with pytest.raises(cn.CountnetsError, match=match):
        sharding.distributed_config(**kwargs, environ=env)


def test_device_count_validation():
    assert jax.local_device_count() == 8
    assert sharding.resolve_devices(None) == (8, False)
    assert sharding.resolve_devices(3) == (3, True)
    for bad in (0, 9, -1):
        with pytest.raises(cn.CountnetsError, match="devices must be in 1..8"):
            sharding.resolve_devices(bad)
    with pytest.raises(cn.CountnetsError, match="must be a multiple of the device count 4"):
        cn.histogram_mc(PRIOR, ARCH, n_samples=1000, devices=4, chunks_per_step=6)


# ----------------------------------------------------------------------------- in-process, 8 fake devices


def test_histograms_identical_on_1_4_and_8_devices():
    kw = dict(n_samples=21_000, seed=9, chunk_size=1000, top=None)
    one = cn.histogram_mc(PRIOR, ARCH, devices=1, chunks_per_step=3, **kw)
    four = cn.histogram_mc(PRIOR, ARCH, devices=4, chunks_per_step=8, **kw)
    eight = cn.histogram_mc(PRIOR, ARCH, **kw)  # default: every device
    assert one.histogram == four.histogram == eight.histogram
    assert (one.device_count, four.device_count, eight.device_count) == (1, 4, 8)
    assert sum(eight.histogram.values()) == 21_000


def test_estimates_and_enumeration_identical_on_1_and_8_devices():
    targets = ["0x0", "0xff", "majority", "x0"]
    one = cn.estimate_mc(PRIOR, ARCH, targets, n_samples=15_000, seed=1, chunk_size=700, devices=1)
    eight = cn.estimate_mc(PRIOR, ARCH, targets, n_samples=15_000, seed=1, chunk_size=700, chunks_per_step=16)
    assert [e.hits for e in one.estimates] == [e.hits for e in eight.estimates]
    assert (one.nonfinite, one.near_threshold) == (eight.nonfinite, eight.near_threshold)
    lattice, small = cn.Lattice((-1.0, 0.0, 1.0)), cn.MLP(2, (2,))
    a = cn.enumerate_exact(lattice, small, chunk_size=27, devices=1)
    b = cn.enumerate_exact(lattice, small, chunk_size=27)
    assert a.histogram == b.histogram and b.samples == 3**9 and b.device_count == 8


def test_run_chunks_shards_any_jitted_step_and_merges_per_device_in_chunk_order():
    # A step whose outputs have per-chunk rows shows which chunks each merge saw.
    @jax.jit
    def step(key, chunk_indices, n_valid):
        draws = jax.vmap(lambda i: jax.random.uniform(jax.random.fold_in(key, i), (3,)))(chunk_indices)
        return {"chunks": chunk_indices, "valid": n_valid, "draws": draws, "total": jnp.sum(n_valid)}

    runs = {}
    for devices, cps in [(1, 1), (1, 5), (4, 4), (8, 8), (8, 24)]:
        seen = []
        done = estimators.run_chunks(step, seen.append, key=jax.random.PRNGKey(3), chunk_size=10, n_samples=215,
                                     chunks_per_step=cps, devices=devices).samples  # fmt: skip
        assert done == 215
        rows = [(int(c), int(v), tuple(np.asarray(d).tolist())) for out in seen
                for c, v, d in zip(out["chunks"], out["valid"], out["draws"], strict=True) if v > 0]  # fmt: skip
        assert [r[0] for r in rows] == list(range(22)) and sum(r[1] for r in rows) == 215
        assert sum(int(out["total"]) for out in seen) == 215
        runs[devices, cps] = rows
    assert len({tuple(rows) for rows in runs.values()}) == 1  # same chunks, same random numbers


def test_typed_keys_are_sharded_too():
    @jax.jit
    def step(key, chunk_indices, n_valid):
        bits = jax.vmap(lambda i: jax.random.bits(jax.random.fold_in(key, i)))(chunk_indices)
        return {"s": jnp.sum((bits % 7).astype(jnp.int32) * n_valid)}

    totals = []
    for devices in (1, 8):
        out = []
        estimators.run_chunks(step, out.append, key=jax.random.key(5), chunk_size=4, n_samples=64, chunks_per_step=8,
                              devices=devices)  # fmt: skip
        totals.append(sum(int(o["s"]) for o in out))
    assert totals[0] == totals[1]


def test_plain_python_steps_run_on_one_device_or_refuse_explicit_devices():
    host_state = [0]

    def step(key, chunk_indices, n_valid):  # reads host state: not shardable
        return {"n": jnp.sum(n_valid) + host_state[0]}

    out = []
    outcome = estimators.run_chunks(step, out.append, key=jax.random.PRNGKey(0), chunk_size=5, n_samples=50,
                                    chunks_per_step=1, pure=False)  # fmt: skip
    assert outcome.samples == 50 and len(out) == 10 and outcome.devices == 1
    with pytest.raises(cn.CountnetsError, match="not pure, so it cannot be sharded over 2 devices"):
        estimators.run_chunks(step, out.append, key=jax.random.PRNGKey(0), chunk_size=5, n_samples=50,
                              chunks_per_step=2, devices=2, pure=False)  # fmt: skip


def test_int32_step_and_chunk_limits_are_checked():
    step = estimators.build_chunk_counter(estimators.sampling_source(PRIOR, ARCH, 2**20), ARCH, [0])
    with pytest.raises(cn.CountnetsError, match="below 2\\*\\*31 samples"):
        estimators.run_chunks(step, lambda o: None, key=jax.random.PRNGKey(0), chunk_size=2**20, n_samples=2**40,
                              chunks_per_step=2**11, devices=1)  # fmt: skip
    with pytest.raises(cn.CountnetsError, match="2\\*\\*31 - 1"):
        estimators.run_chunks(step, lambda o: None, key=jax.random.PRNGKey(0), chunk_size=1, n_samples=2**31,
                              chunks_per_step=1, devices=1)  # fmt: skip


# ----------------------------------------------------------------------------- subprocesses


def test_four_virtual_devices_equal_one_device(tmp_path, one_device):
    path = tmp_path / "four.json"
    proc = subprocess.run([sys.executable, "-m", "countnets", *CLI_ARGS, "--json", str(path)], capture_output=True,
                          text=True, env=_env(4), timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    four = json.loads(path.read_text())
    assert four["device_count"] == 4
    assert four["histogram"] == one_device["histogram"]
    assert [e["hits"] for e in four["estimates"]] == [e["hits"] for e in one_device["estimates"]]


def test_two_processes_on_loopback_equal_one_process(tmp_path, one_device):
    port = _free_port()
    paths = [tmp_path / "p0.json", tmp_path / "p1.json"]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "countnets",
                *CLI_ARGS,
                "--json",
                str(paths[i]),
                "--coordinator",
                f"127.0.0.1:{port}",
                "--num-processes",
                "2",
                "--process-id",
                str(i),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(2),
        )  # fmt: skip
        for i in range(2)
    ]
    outputs = []
    try:
        for proc in procs:
            outputs.append(proc.communicate(timeout=300))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert paths[0].exists() and not paths[1].exists()  # one combined result, written by process 0
    both = json.loads(paths[0].read_text())
    assert both["histogram"] == one_device["histogram"]
    assert both["samples"] == 30000 and both["device_count"] == 4 and both["processes"] == 2


def test_multi_process_options_from_environment_are_validated():
    env = {**_env(1), sharding.ENV_COORDINATOR: "127.0.0.1:1", sharding.ENV_NUM_PROCESSES: "2",
           sharding.ENV_PROCESS_ID: "5"}  # fmt: skip
    proc = subprocess.run([sys.executable, "-m", "countnets", *CLI_ARGS], capture_output=True, text=True, env=env,
                          timeout=120)  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "countnets: error: COUNTNETS_PROCESS_ID must be in 0..1 for 2 processes, got 5"
    ]


def test_result_records_device_count_from_the_run():
    r = cn.histogram_mc(PRIOR, ARCH, n_samples=2000, seed=0, chunk_size=500, devices=2)
    assert r.device_count == 2
    assert np.isclose(r.samples_per_s, 2000 / r.seconds)


def test_process_check_values_survive_x64_off():
    # Gathered as uint32 words: values past 2**32 must not wrap onto smaller ones.
    values = (0, 2**32, 2**32 + 7, 2**63 + 1)
    words = sharding._to_words(values)
    assert words.dtype == np.uint32
    assert sharding._from_words(words).tolist() == list(values)
    assert not np.array_equal(sharding._to_words((2**32,)), sharding._to_words((0,)))
    with pytest.raises(cn.CountnetsError, match="must be in 0 .. 2\\*\\*64 - 1"):
        sharding.check_same_on_all_processes((-1,), "test")
