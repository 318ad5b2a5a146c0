"""Network-steps per second: the vmapped optax loop against a plain Python loop over networks.

Both train networks of the same architecture on the same training set with the same
optimiser for exactly ``STEPS`` updates (``stop_on_fit=False``, so the work is fixed):

* ``vmapped``: one jitted ``countnets.train.training.build_trainer`` call on a batch of
  ``batch`` networks (one optax state for the whole batch);
* ``python-loop``: the same trainer jitted for a batch of one network, called once
  per network in a Python loop (``loop_nets`` networks; the rate is per network-step).

Run: ``python -m pytest benchmarks/test_bench_training.py -q -s``. The test prints the
rates and their ratio and writes ``benchmarks/results/training-<platform>-<date>.json``
(directory overridable with ``COUNTNETS_BENCH_OUT``). It asserts nothing about the
ratio: on a 2-core CPU the vmapped loop is *slower* than the Python loop for the
wider network (XLA's batched small matmuls on CPU), which is a measurement to report,
not a failure.
"""

import datetime
import json
import os
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import pytest

import countnets as cn
from countnets.train import training as T

STEPS = 100
CONFIGS = {
    # name: (architecture, training set size m, vmapped batch, networks in the Python loop)
    "mlp-5-16-1/m16": (cn.MLP(5, (16,)), 16, 4096, 24),
    "mlp-7-40-40-1/m64": (cn.MLP(7, (40, 40)), 64, 1024, 12),
}
_ROWS: list[dict] = []


def _setup(name, optimizer):
    arch, m, batch, loop_nets = CONFIGS[name]
    tset = T.training_set(arch.n, "majority", size=m, seed=0)
    cfg = T.TrainConfig(optimizer, max_steps=STEPS, stop_on_fit=False)
    train = jax.jit(T.build_trainer(arch, tset, cfg))
    theta = cn.Gaussian(1.0, 1.0).sample(jax.random.PRNGKey(0), 0, batch, arch.layout())
    return train, theta, batch, loop_nets


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("name", list(CONFIGS))
def test_training_network_steps_per_s(benchmark, name, optimizer):
    train, theta, batch, loop_nets = _setup(name, optimizer)
    valid = jnp.ones((batch,), bool)
    jax.block_until_ready(train(theta, valid, None))  # compile outside the timing
    benchmark.pedantic(
        lambda: jax.block_until_ready(train(theta, valid, None)), rounds=3, iterations=1, warmup_rounds=0
    )
    vmapped = batch * STEPS / benchmark.stats.stats.median

    one_valid = jnp.ones((1,), bool)
    singles = [theta[i : i + 1] for i in range(loop_nets)]
    jax.block_until_ready(train(singles[0], one_valid, None))  # compile the batch-of-one trainer
    start = time.perf_counter()
    for single in singles:
        jax.block_until_ready(train(single, one_valid, None))
    loop = loop_nets * STEPS / (time.perf_counter() - start)

    ratio = vmapped / loop
    benchmark.extra_info.update(
        {"network_steps_per_s": vmapped, "python_loop_network_steps_per_s": loop, "ratio": ratio}
    )
    _ROWS.append(
        {"config": name, "optimizer": optimizer, "steps": STEPS, "batch": batch, "loop_networks": loop_nets,
         "vmapped_network_steps_per_s": vmapped, "python_loop_network_steps_per_s": loop, "ratio": ratio}
    )  # fmt: skip
    print(f"\n{name} {optimizer}: vmapped {vmapped:.3g} network-steps/s, Python loop {loop:.3g}, ratio {ratio:.1f}x")


def teardown_module(module):
    if not _ROWS:
        return
    device = jax.devices()[0]
    report = {
        "device": f"{device.platform}: {device.device_kind}",
        "cpu_count": os.cpu_count(),
        "date": datetime.date.today().isoformat(),
        "jax_version": jax.__version__,
        "command": " ".join(["python -m pytest", *sys.argv[1:]]),
        "rows": _ROWS,
    }
    out_dir = Path(os.environ.get("COUNTNETS_BENCH_OUT", Path(__file__).parent / "results"))
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"training-{device.platform}-{report['date']}.json").write_text(json.dumps(report, indent=1) + "\n")
