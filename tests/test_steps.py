"""Each step of build_step compiles once per run, whatever the number of steps, padding or devices.

A measure function runs in Python only while JAX traces it, so counting its calls
counts traces (the idea of chex.assert_max_traces).
"""

import jax
import pytest

import countnets as cn
from countnets import measures as M
from countnets.engine import accumulators, driver, sources

PRIOR, ARCH = cn.Gaussian(1.0, 1.0), cn.MLP(3, (4,))


def _traced(measure: M.Measure, calls: list) -> M.Measure:
    def wrap(fn):
        def counted(*args):
            calls.append(1)
            return fn(*args)

        return counted

    return measure._replace(
        event=None if measure.event is None else wrap(measure.event),
        key=None if measure.key is None else wrap(measure.key),
    )


@pytest.mark.parametrize("devices", [1, 8])
@pytest.mark.parametrize(
    "reduce, make, where, arch",
    [
        ("count", lambda: M.all_of("and", M.unit_dead(0, 1)), None, ARCH),
        ("histogram", M.table, None, ARCH),
        ("histogram", M.table, M.unit_dead(0, 2), ARCH),
        ("histogram", lambda: M.effective_depth(["1", "invsqrt"]), None, cn.ResMLP(2, 3, 2, 2)),
    ],
)
def test_a_step_is_traced_once_per_run(reduce, make, where, arch, devices):
    calls: list = []
    measure = _traced(make(), calls)
    source = sources.sampling_source(PRIOR, arch, 64)
    step = cn.build_step(source, arch, measure, reduce=reduce, where=where)
    calls.clear()  # a histogram step's builder traces once abstractly (jax.eval_shape) to size its blocks
    if reduce == "count":
        acc = accumulators.CountAccumulator([0])
    else:
        acc = accumulators.KeyedAccumulator(measure.key_fields(arch))
    # 23 chunks in steps of 8 (per all devices): three steps, the last one padded, and a truncated chunk.
    outcome = driver.run_chunks(step, acc.merge, key=driver.seed_key(0), chunk_size=64, n_samples=64 * 22 + 5,
                                chunks_per_step=8, devices=devices)  # fmt: skip
    assert outcome.samples == 64 * 22 + 5
    assert len(calls) == 1, f"traced {len(calls)} times"
    assert jax.local_device_count() == 8
