"""Networks per second: countnets' chunk steps against naive baselines, in the same run.

Run: ``python -m pytest benchmarks -q``. The session prints a table of ratios to the
naive baseline and writes ``benchmarks/results/throughput-<device>-<date>.json``.
"""

import itertools

import pytest
from throughput import CONFIGS, IMPLS, MODES_BY_IMPL, TRUNCATION, scale

CASES = [
    (config, mode, impl)
    for config, impl in itertools.product(CONFIGS, IMPLS)
    for mode in MODES_BY_IMPL[impl]
    if config not in TRUNCATION or mode == "histogram"  # the circuits path is a histogram of (f, k*, ...)
]


@pytest.mark.parametrize("config, mode, impl", CASES, ids=["-".join(c) for c in CASES])
def test_throughput(benchmark, config, mode, impl, throughput_rows):
    arch, n_nets = CONFIGS[config]
    n_nets *= scale()
    if impl == "torch-bmm":
        pytest.importorskip("torch")
        if not config.startswith("mlp-"):
            pytest.skip("the torch baseline covers ReLU MLPs only")
    run = IMPLS[impl](arch, n_nets, mode, truncation=config in TRUNCATION)
    run(0)  # compile outside the timing
    rounds = iter(range(1, 10**9))
    benchmark.pedantic(lambda: run(next(rounds)), rounds=9, iterations=1, warmup_rounds=1)
    nets_per_s = n_nets / benchmark.stats.stats.median
    benchmark.extra_info["nets_per_s"] = nets_per_s
    throughput_rows.append({"config": config, "mode": mode, "impl": impl, "nets_per_s": nets_per_s})
