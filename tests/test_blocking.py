"""Block-by-block chunk evaluation: a speed setting that must never change a count."""

from collections import Counter

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import countnets as cn
from countnets import CountnetsError
from countnets import measures as M
from countnets.engine import estimators
from countnets.engine.estimators import Blocking

KEY = jax.random.PRNGKey(12)


def _sources():
    arch = cn.MLP(2, (3,))
    yield "gaussian", estimators.sampling_source(cn.Gaussian(1.0, 0.5), arch, 16)
    yield "uniform", estimators.sampling_source(cn.Uniform(0.5), arch, 16)
    yield "lattice-sampled", estimators.sampling_source(cn.Lattice((-1.0, 0.0, 2.0)), arch, 16)
    # Four values: chunks of 4**2 = 16 configurations, which can be split.
    yield "lattice-exact", estimators.lattice_source(cn.Lattice((-1.0, -0.5, 0.5, 1.0)), arch, 16)


@pytest.mark.parametrize("name, source", list(_sources()), ids=lambda v: v if isinstance(v, str) else "")
def test_blocks_partition_the_chunk_bit_for_bit(name, source):
    assert source.chunk_size == 16
    whole = np.asarray(jax.jit(source.params)(KEY, 5))
    for n_blocks in (1, 2, 4, 8):
        assert source.can_split(n_blocks)
        draw = jax.jit(lambda k, i, b: source.block(k, i, b, n_blocks))
        seen = np.zeros(16, int)
        for block in range(n_blocks):
            theta, rows = (np.asarray(a) for a in draw(KEY, 5, block))
            assert theta.shape == (16 // n_blocks, whole.shape[1])
            assert np.array_equal(theta, whole[rows]), (name, n_blocks, block)
            seen[rows] += 1
        assert (seen == 1).all()
    assert not source.can_split(16) and not source.can_split(3)
    with pytest.raises(CountnetsError, match="cannot be drawn in 3 blocks"):
        source.block(KEY, 0, 0, 3)


def test_odd_chunks_are_never_split():
    arch = cn.MLP(2, ())
    assert not estimators.sampling_source(cn.Gaussian(), arch, 15).can_split(2)
    exact = estimators.lattice_source(cn.Lattice((-1.0, 0.0, 1.0)), arch, 9)  # 3**2 configurations a chunk
    assert exact.chunk_size == 9 and not exact.can_split(2) and exact.can_split(1)
    # Chunks under 64 networks go several to a pass: 8 chunks of 9.
    assert estimators.plan_blocking(exact, 10**9, "cpu") == Blocking(1, 8)


def test_plan_blocking():
    source = estimators.sampling_source(cn.Gaussian(), cn.MLP(2, ()), 4096)
    assert estimators.plan_blocking(source, 10**6, "gpu") == Blocking(1, None)
    assert estimators.plan_blocking(source, 1, "cpu") == Blocking(1, 1)
    # 4096 networks of 4 KiB are 16 MiB: 8 blocks of about 2 MiB.
    assert estimators.plan_blocking(source, 4096, "cpu") == Blocking(8, 1)
    # Never fewer than 64 networks a block, however large the networks.
    assert estimators.plan_blocking(source, 10**9, "cpu") == Blocking(64, 1)
    small = estimators.sampling_source(cn.Gaussian(), cn.MLP(2, ()), 96)
    assert estimators.plan_blocking(small, 10**9, "cpu") == Blocking(1, 1)
    with pytest.raises(CountnetsError, match="n_blocks must be a positive int"):
        Blocking(0)
    with pytest.raises(CountnetsError, match="in_flight must be a positive int"):
        Blocking(2, 0)


# Whole chunks in one vmap; one block a pass; chunks split in two, one block a pass; split in four, three blocks
# a pass (padded steps). Fewer than before (six): each blocking is a compile, and these cover every code path.
BLOCKINGS = [Blocking(1, None), Blocking(1, 1), Blocking(2, 1), Blocking(4, 3)]
CHUNK = 256
CHUNKS = jnp.asarray([3, 0, 7], jnp.int32)
N_VALID = jnp.asarray([CHUNK, 150, 0], jnp.int32)  # a partial chunk and an empty one


def _same_for_every_blocking(build):
    outs = [jax.tree.map(np.asarray, build(b)(KEY, CHUNKS, N_VALID)) for b in BLOCKINGS]
    for blocking, out in zip(BLOCKINGS[1:], outs[1:]):
        assert out.keys() == outs[0].keys()
        for name in out:
            assert np.array_equal(out[name], outs[0][name]), (blocking, name)
    return outs[0]


@pytest.mark.parametrize(
    "arch",
    [cn.MLP(3, (5,)), cn.MLP(2, (4, 3), "tanh"), cn.ResMLP(2, 3, 2, 4), cn.GoalNet(3, 4)],
    ids=lambda a: a.name,
)
def test_counts_and_histograms_do_not_depend_on_blocking(arch):
    source = estimators.sampling_source(cn.Gaussian(), arch, CHUNK)
    targets = [0, 2 ** (2**arch.n) - 1, 5]
    counts = _same_for_every_blocking(lambda b: estimators.build_chunk_counter(source, arch, targets, blocking=b))
    hist = _same_for_every_blocking(lambda b: estimators.build_chunk_histogram(source, arch, blocking=b))
    assert int(hist["counts"].sum()) == CHUNK + 150
    # And both equal the reference: vmap of the per-network apply over the whole chunk.
    x = cn.cube(arch.n)
    ref = Counter()
    for index, keep in zip(CHUNKS.tolist(), N_VALID.tolist()):
        theta = jax.jit(source.params)(KEY, index)
        y = np.asarray(jax.vmap(lambda t: arch.apply(arch.unflatten(t), x))(theta))[:keep]
        ref.update(((y > 0) * (1 << np.arange(2**arch.n))).sum(axis=1).tolist())
    assert counts["hits"].tolist() == [ref[t] for t in targets]
    acc = Counter()
    estimators.merge_histogram_step(acc, hist)
    assert acc == ref


def test_circuit_steps_do_not_depend_on_blocking():
    res = cn.ResMLP(2, 3, 3, 4)
    source = estimators.sampling_source(cn.Gaussian(), res, CHUNK)
    scales = [res, cn.ResMLP(2, 3, 3, 4, 0.5)]
    depth = M.effective_depth([s.branch_scale for s in scales])
    _same_for_every_blocking(lambda b: cn.build_step(source, res, depth, reduce="histogram", blocking=b))
    _same_for_every_blocking(lambda b: cn.build_step(source, res, M.cancelling_pair(), reduce="histogram", blocking=b))
    goal = cn.GoalNet(3, 4)
    goal_source = estimators.sampling_source(cn.Gaussian(), goal, CHUNK)
    _same_for_every_blocking(lambda b: cn.build_step(goal_source, goal, M.goal(), reduce="histogram", blocking=b))


def test_exact_enumeration_does_not_depend_on_blocking():
    arch = cn.MLP(2, ())
    source = estimators.lattice_source(cn.Lattice((-1.0, -0.5, 0.5, 1.0)), arch, 16)
    outs = [
        np.asarray(
            estimators.build_chunk_histogram(source, arch, blocking=b)(KEY, CHUNKS[:2] % 4, N_VALID[:2] // 4)["counts"]
        )
        for b in (Blocking(1, None), Blocking(1, 1), Blocking(1, 3))
    ]
    assert np.array_equal(outs[0], outs[1])


def test_outputs_are_bit_identical_for_blocks_of_64_and_whole_chunks():
    # Counts agree because each network's outputs do: the smallest planned block (64
    # networks) gets the same matmul kernel, hence the same bits, as a whole chunk.
    arch = cn.MLP(7, (40, 40))
    source = estimators.sampling_source(cn.Gaussian(), arch, 512)
    x = cn.cube(arch.n)

    def outputs(blocking):
        def per_block(theta, valid):
            return cn.apply_flat_batch(arch, theta, x), valid

        y, _ = jax.jit(lambda k, i, v: estimators.map_blocks(source, blocking, per_block, k, i, v))(
            KEY, CHUNKS[:1], N_VALID[:1]
        )
        rows = jnp.concatenate([source.block(KEY, 0, b, blocking.n_blocks)[1] for b in range(blocking.n_blocks)])
        return np.asarray(y).reshape(512, -1)[np.argsort(np.asarray(rows))]

    assert np.array_equal(outputs(Blocking(1, None)), outputs(Blocking(8, 1)))


def test_blocks_under_64_networks_are_refused():
    arch = cn.MLP(2, ())
    source = estimators.sampling_source(cn.Gaussian(), arch, 256)
    step = estimators.build_chunk_counter(source, arch, [0], blocking=Blocking(8, 1))
    with pytest.raises(CountnetsError, match="blocks of 32 networks are too small"):
        step(KEY, CHUNKS, N_VALID)


def test_tiny_chunks_give_the_same_counts_for_any_chunks_per_step():
    # Chunks of 2 are evaluated 32 to a pass (64 networks), padded with empty chunks,
    # so every network sees the same matmul kernel as in one vmap over a long step.
    # On XLA:CPU, passes of 2 networks flip several of these 4096 tables (exact zeros
    # of a lattice network read differently in the last bit).
    arch = cn.MLP(7, (40, 40))
    source = estimators.sampling_source(cn.Lattice((-0.3, 0.1, 0.2)), arch, 2)
    planned = estimators.plan_blocking(source, estimators.network_bytes(arch), "cpu")
    assert planned == Blocking(1, 32)

    def histogram(blocking, per_step):
        step = estimators.build_chunk_histogram(source, arch, blocking=blocking)
        acc = Counter()
        for first in range(0, 2048, per_step):
            indices = jnp.arange(first, min(first + per_step, 2048), dtype=jnp.int32)
            estimators.merge_histogram_step(acc, step(KEY, indices, jnp.full(indices.shape, 2, jnp.int32)))
        return acc

    reference = histogram(Blocking(1, None), 1024)
    assert sum(reference.values()) == 4096
    assert histogram(planned, 7) == reference
    assert histogram(planned, 1024) == reference
