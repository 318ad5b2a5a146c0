"""Throughput implementations compared by the benchmark suite.

Every implementation evaluates ``n_nets`` networks of one configuration on the
whole cube, reduces to counts (count mode: hits of two targets) or a function
histogram (histogram mode), and blocks until the result is on the host.

* ``countnets``: the library's jitted chunk step: one fused threefry stream per chunk,
  drawn and evaluated block by block in cache on CPU (``estimators.plan_blocking``),
  in one ``vmap`` on accelerators.
* ``naive-vmap``: one key per network (``split``), ``vmap`` of a per-network
  sample-and-apply function, counting on device.
* ``host-unique``: the naive tables copied to the host, histogram by ``numpy.unique``.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

import countnets as cn
from countnets import measures
from countnets.engine import estimators
from countnets.engine.steps import build_step
from countnets.measures import circuits
from countnets.network.boolean import pack_table

CONFIGS: dict[str, tuple] = {
    "mlp-3-8-1": (cn.MLP(3, (8,)), 2**18),
    "mlp-5-16-16-1": (cn.MLP(5, (16, 16)), 2**15),
    "mlp-7-40-40-1": (cn.MLP(7, (40, 40)), 2**12),
    "resmlp-3-d8-L4-w8": (cn.ResMLP(3, 8, 4, 8), 2**15),
    # The circuits path: every truncation order y^(0..L), k*, stable depth, Hamming distance.
    "resmlp-3-d8-L4-w8-trunc": (cn.ResMLP(3, 8, 4, 8), 2**15),
}
TRUNCATION = {"resmlp-3-d8-L4-w8-trunc"}
PRIOR = cn.Gaussian(1.0, 1.0)
CHUNK_SIZE = 2**12


def scale() -> int:
    """Multiplier on the per-round network counts (``COUNTNETS_BENCH_SCALE``, default 1; larger on GPUs)."""
    return int(os.environ.get("COUNTNETS_BENCH_SCALE", "1"))


def countnets_impl(arch, n_nets: int, mode: str, truncation: bool = False) -> Callable[[int], object]:
    """The library's step over ``n_nets // CHUNK_SIZE`` chunks in one call."""
    chunk = min(CHUNK_SIZE, n_nets)
    n_chunks = n_nets // chunk
    source = estimators.sampling_source(PRIOR, arch, chunk)
    if truncation:
        step = build_step(source, arch, measures.effective_depth(), reduce="histogram")
    elif mode == "count":
        step = estimators.build_chunk_counter(source, arch, [0, 2 ** (2**arch.n) - 1])
    else:
        step = estimators.build_chunk_histogram(source, arch)
    key = jax.random.PRNGKey(0)
    n_valid = jnp.full((n_chunks,), chunk, jnp.int32)

    def run(round_index: int):
        indices = jnp.arange(n_chunks, dtype=jnp.int32) + round_index * n_chunks
        return jax.block_until_ready(step(key, indices, n_valid))

    return run


def _naive_tables(arch, truncation: bool):
    x = cn.cube(arch.n)
    layout = arch.layout()

    def one(k):
        theta = PRIOR.sample(k, 0, 1, layout)[0]
        params = arch.unflatten(theta)
        if not truncation:
            return pack_table(arch.apply(params, x) > 0)
        tables = circuits.truncated_outputs(arch, params, x) > 0
        kstar, stable, hamming = circuits.depth_statistics(tables)
        extra = jnp.stack([kstar, stable, hamming]).astype(jnp.uint32)
        return jnp.concatenate([pack_table(tables[-1]), extra])

    return jax.vmap(one)


def naive_impl(arch, n_nets: int, mode: str, truncation: bool = False) -> Callable[[int], object]:
    """Key split per network + vmap; count on device, or histogram by numpy.unique on the host."""
    tables = _naive_tables(arch, truncation)
    targets = jnp.asarray([[0], [2 ** (2**arch.n) - 1]], dtype=jnp.uint32) if arch.n <= 5 else None

    @jax.jit
    def count(key):
        keys = jax.random.split(key, n_nets)
        t = tables(keys)
        if targets is None:
            return jnp.sum(jnp.all(t == 0, axis=1), dtype=jnp.int32)
        return jnp.sum(t[:, None, :] == targets[None, :, :], axis=0, dtype=jnp.int32)

    @jax.jit
    def device_tables(key):
        return tables(jax.random.split(key, n_nets))

    def run(round_index: int):
        key = jax.random.fold_in(jax.random.PRNGKey(0), round_index)
        if mode == "count":
            return jax.block_until_ready(count(key))
        host = np.asarray(device_tables(key))
        return np.unique(host, axis=0, return_counts=True)

    return run


def torch_impl(arch, n_nets: int, mode: str, truncation: bool = False) -> Callable[[int], object]:
    """PyTorch baseline: torch.randn per chunk and torch.bmm, counting on the device (MLP only)."""
    import torch

    if truncation or type(arch) is not cn.MLP or arch.activation != "relu":
        raise NotImplementedError("the torch baseline covers ReLU MLPs only")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    widths = [arch.n, *arch.hidden, 1]
    bits = np.asarray(cn.cube(arch.n))
    x = torch.tensor(bits, device=device)
    chunk = min(CHUNK_SIZE * 4, n_nets)
    n_words = max(1, 2**arch.n // 32)
    weights = torch.tensor([1 << (j % 32) for j in range(2**arch.n)], device=device, dtype=torch.int64)
    gen = torch.Generator(device=device)

    def run(round_index: int):
        gen.manual_seed(round_index)
        hits = torch.zeros((), dtype=torch.int64, device=device)
        tables = []
        for _ in range(n_nets // chunk):
            h = x.expand(chunk, *x.shape)
            for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
                w = torch.randn(chunk, a, b, device=device, generator=gen) / a**0.5
                bias = torch.randn(chunk, 1, b, device=device, generator=gen)
                h = torch.bmm(h, w) + bias
                if i < len(widths) - 2:
                    h = torch.relu(h)
            positive = h[:, :, 0] > 0
            if mode == "count":
                hits += (~positive).all(dim=1).sum()
            else:
                packed = (positive.long() * weights).reshape(chunk, n_words, -1).sum(dim=2)
                tables.append(packed)
        if mode == "count":
            return int(hits)
        return torch.unique(torch.cat(tables), dim=0, return_counts=True)

    return run


IMPLS = {"countnets": countnets_impl, "naive-vmap": naive_impl, "host-unique": naive_impl, "torch-bmm": torch_impl}
MODES_BY_IMPL = {
    "countnets": ("count", "histogram"),
    "naive-vmap": ("count",),
    "host-unique": ("histogram",),
    "torch-bmm": ("count", "histogram"),
}
