"""Training versus the prior (DESIGN section 3b): the drivers, and one import for all of it.

* :func:`train_networks`: drives :func:`countnets.train.trainer.build_trainer` over chunks
  with :func:`countnets.engine.driver.run_chunks`. Trained network ``i`` starts from prior
  sample ``i`` (chunk ``i // C``, the same ``prior.sample(key, chunk, C, layout)`` as
  sampling), so a run is reproducible per chunk and independent of batching.
* :func:`diverse_runs`: sequential runs, each rewarded for differing off S from the
  functions its chain found before.

The rest of the training API is re-exported here from where it lives:
:mod:`countnets.train.trainer` (training sets, losses, the trainer),
:mod:`countnets.train.conditional` (the conditional and tilted priors) and
:mod:`countnets.stats.statistics` (:func:`lambda_star`, :func:`compare_distributions`).
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from countnets._errors import CountnetsError, check_finite_float, check_positive_int
from countnets.engine.accumulators import keys_to_ints
from countnets.engine.driver import run_chunks, seed_key
from countnets.engine.sources import DEFAULT_CHUNK_SIZE, sampling_source, valid_mask
from countnets.engine.steps import chunk_tables
from countnets.network import boolean
from countnets.network.layout import layout_offsets
from countnets.stats.statistics import LambdaStar, compare_distributions, lambda_star
from countnets.train.conditional import ConditionalPrior, TiltResult, conditional_prior, tilted_prior
from countnets.train.trainer import (
    DEFAULT_LEARNING_RATES,
    DEFAULT_MAX_TRAIN_BATCH,
    LOSSES,
    OPTIMIZERS,
    Penalty,
    TrainConfig,
    TrainingSet,
    TrainOutput,
    build_trainer,
    diversity_penalty,
    off_set_loss,
    pointwise_loss,
    pressure_penalty,
    training_set,
)

__all__ = [
    "LOSSES",
    "OPTIMIZERS",
    "DEFAULT_LEARNING_RATES",
    "DEFAULT_MAX_TRAIN_BATCH",
    "TrainingSet",
    "training_set",
    "TrainConfig",
    "pointwise_loss",
    "off_set_loss",
    "pressure_penalty",
    "diversity_penalty",
    "TrainOutput",
    "build_trainer",
    "TrainedRuns",
    "train_networks",
    "DiverseRuns",
    "diverse_runs",
    "ConditionalPrior",
    "conditional_prior",
    "TiltResult",
    "tilted_prior",
    "LambdaStar",
    "lambda_star",
    "compare_distributions",
]


def _table_ints(packed: np.ndarray) -> list[int]:
    """Packed truth tables (words least significant first, as :func:`boolean.pack_table`) as ints."""
    return keys_to_ints(np.asarray(packed)[:, ::-1])


@dataclasses.dataclass(frozen=True)
class TrainedRuns:
    """Per-network results of :func:`train_networks` (host numpy arrays).

    Arrays have shape ``(G, runs)``: ``G`` settings (1 without ``setting_args``) by
    trained networks; network ``r`` of every setting starts from prior sample ``r``.

    Attributes:
      tables: final integer truth tables (Python ints in an object array).
      fit: whether the final network fits S.
      steps: updates applied.
      nonfinite: some final output is NaN or infinite.
      init_tables: the truth table of prior sample ``r`` before training, ``(runs,)``.
      moved: per parameter array name, how many trained networks (over all settings)
        changed that array at all.
      chunk_size: C, samples per chunk; ``seed``; ``config``: the :class:`TrainConfig`.
      seconds: wall time of the training loop.
    """

    tables: np.ndarray
    fit: np.ndarray
    steps: np.ndarray
    nonfinite: np.ndarray
    init_tables: np.ndarray
    moved: dict[str, int]
    chunk_size: int
    seed: int
    config: TrainConfig
    seconds: float

    @property
    def runs(self) -> int:
        """Networks trained per setting."""
        return int(self.fit.shape[1])

    def histogram(self, setting: int = 0, *, converged: bool = True) -> Counter:
        """Functions of the networks of one setting that did (or did not) fit S."""
        sel = self.fit[setting] if converged else ~self.fit[setting]
        return Counter(int(t) for t in self.tables[setting][sel].tolist())


def _train_batch_cps(chunk_size: int, n_runs: int, n_settings: int, max_batch: int) -> int:
    chunks = -(-n_runs // chunk_size)
    per_step = max(1, max_batch // max(1, chunk_size * n_settings))
    return int(max(1, min(chunks, per_step)))


def _setting_count(setting_args: Any) -> int:
    """``G``, the leading (setting) axis shared by every leaf of ``setting_args`` (1 without any)."""
    leaves = jax.tree_util.tree_leaves(setting_args)
    G = int(leaves[0].shape[0]) if leaves else 1
    if any(int(leaf.shape[0]) != G for leaf in leaves):
        raise CountnetsError("every leaf of setting_args must have the same leading (setting) axis")
    return G


def _train_step(
    source: Any, arch: Any, trainer: Any, x_full: Any, specs: list, setting_args: Any, G: int, precision: str
) -> Any:
    """The jitted chunk step of :func:`train_networks`: train the chunks' prior samples once per setting."""
    C = source.chunk_size
    P = arch.n_params

    @jax.jit
    def step(key, chunk_indices, n_valid):
        theta0 = jax.vmap(source.params, in_axes=(None, 0))(key, chunk_indices).reshape(-1, P)
        valid = valid_mask(C, n_valid).reshape(-1)
        init_keys, _, _ = chunk_tables(arch, theta0, x_full, precision=precision)
        B = theta0.shape[0]
        if setting_args is None:
            args = None
            theta_all, valid_all = theta0, valid
        else:
            args = jax.tree_util.tree_map(
                lambda leaf: jnp.repeat(jnp.asarray(leaf), B, axis=0, total_repeat_length=G * B), setting_args
            )
            theta_all = jnp.tile(theta0, (G, 1))
            valid_all = jnp.tile(valid, (G,))
        out = trainer(theta_all, valid_all, args)
        changed = out.theta != theta_all
        moved = jnp.stack(
            [jnp.sum(jnp.any(changed[:, o : o + s.size], axis=1) & valid_all, dtype=jnp.int32) for s, o in specs]
        )
        return {
            "tables": out.tables.reshape(G, B, -1),
            "fit": out.fit.reshape(G, B),
            "steps": out.steps.reshape(G, B),
            "nonfinite": out.nonfinite.reshape(G, B),
            "init": init_keys,
            "valid": valid,
            "moved": moved,
        }

    return step


class _TrainedParts:
    """The host side of :func:`train_networks`: each step's valid runs, kept in chunk order."""

    def __init__(self, G: int, n_arrays: int) -> None:
        self.G = G
        self.parts: dict[str, list] = {"tables": [], "fit": [], "steps": [], "nonfinite": [], "init": []}
        self.moved = np.zeros(n_arrays, dtype=np.int64)

    def merge(self, out: dict[str, Any]) -> None:
        """Keep one step's outputs (its valid runs only) and add up the moved parameter arrays."""
        parts = self.parts
        valid = np.asarray(out["valid"])
        tables = np.asarray(out["tables"])
        parts["tables"].append(
            np.array(_table_ints(tables.reshape(-1, tables.shape[-1])), dtype=object).reshape(self.G, -1)[:, valid]
        )
        for name in ("fit", "steps", "nonfinite"):
            parts[name].append(np.asarray(out[name])[:, valid])
        parts["init"].append(np.array(_table_ints(np.asarray(out["init"])), dtype=object)[valid])
        self.moved[:] += np.asarray(out["moved"], dtype=np.int64)

    def arrays(self) -> dict[str, np.ndarray]:
        """Every step's parts joined along the runs axis."""
        parts = self.parts
        return {
            "tables": np.concatenate(parts["tables"], axis=1),
            "fit": np.concatenate(parts["fit"], axis=1),
            "steps": np.concatenate(parts["steps"], axis=1),
            "nonfinite": np.concatenate(parts["nonfinite"], axis=1),
            "init": np.concatenate(parts["init"]),
        }


def train_networks(
    prior: Any,
    arch: Any,
    tset: TrainingSet,
    config: TrainConfig,
    *,
    n_runs: int,
    seed: int = 0,
    encoding: str = "01",
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    chunks_per_step: int | None = None,
    penalty: Penalty | None = None,
    setting_args: Any = None,
    max_batch: int = DEFAULT_MAX_TRAIN_BATCH,
    progress: bool | float = False,
    devices: int | None = None,
) -> TrainedRuns:
    """Train ``n_runs`` networks from the prior, in chunks, and record where they land.

    Network ``r`` starts from prior sample ``r``: sample ``r % C`` of
    ``prior.sample(key(seed), r // C, C, arch.layout())``, the same parameters as
    sampling chunk ``r // C``. With ``setting_args`` (a pytree whose leaves have a
    leading axis ``G``), every network is trained once per setting ``g`` with penalty
    arguments ``setting_args[g]`` (e.g. one value of lambda each), all in the same batch.

    Results are identical for any ``chunks_per_step`` (tested).

    Raises:
      CountnetsError: for bad arguments, or ``setting_args`` without ``penalty``.
    """
    n_runs = check_positive_int("runs (trained networks)", n_runs)
    if (penalty is None) != (setting_args is None):
        raise CountnetsError("penalty and setting_args must be given together")
    source = sampling_source(prior, arch, chunk_size)
    C = source.chunk_size
    G = _setting_count(setting_args)
    cps = chunks_per_step or _train_batch_cps(C, n_runs, G, max_batch)
    cps = check_positive_int("chunks_per_step", cps)
    trainer = build_trainer(arch, tset, config, encoding=encoding, penalty=penalty)
    specs = layout_offsets(arch.layout())
    step = _train_step(source, arch, trainer, boolean.cube(arch.n, encoding), specs, setting_args, G, config.precision)
    parts = _TrainedParts(G, len(specs))
    start = time.perf_counter()
    run_chunks(
        step,
        parts.merge,
        key=seed_key(seed),
        chunk_size=C,
        n_samples=n_runs,
        chunks_per_step=cps,
        progress=progress,
        description="training",
        devices=devices,
    )
    seconds = time.perf_counter() - start
    arrays = parts.arrays()
    return TrainedRuns(
        tables=arrays["tables"],
        fit=arrays["fit"],
        steps=arrays["steps"],
        nonfinite=arrays["nonfinite"],
        init_tables=arrays["init"],
        moved={s.name: int(v) for (s, _), v in zip(specs, parts.moved.tolist(), strict=True)},
        chunk_size=C,
        seed=seed,
        config=config,
        seconds=seconds,
    )


@dataclasses.dataclass(frozen=True)
class DiverseRuns:
    """Results of :func:`diverse_runs` (host numpy arrays of shape ``(settings, chains, runs)``).

    Attributes:
      rewards: the reward strength ``mu`` of each setting.
      tables: integer truth table each run ends on (object array of Python ints).
      fit: whether that run fits S (only such runs count as *found*).
      steps: updates applied in that run.
      chunk_size: the number of chains (run ``k`` of chain ``c`` starts from sample
        ``c`` of prior chunk ``k``); ``seed``; ``config``; ``seconds``.
    """

    rewards: tuple[float, ...]
    tables: np.ndarray
    fit: np.ndarray
    steps: np.ndarray
    chunk_size: int
    seed: int
    config: TrainConfig
    seconds: float

    def distinct_curve(self) -> np.ndarray:
        """Distinct functions fitting S found within the first k runs, shape ``(settings, chains, runs)``."""
        S, R, K = self.fit.shape
        out = np.zeros((S, R, K), dtype=np.int64)
        for s in range(S):
            for c in range(R):
                seen: set[int] = set()
                for k in range(K):
                    if self.fit[s, c, k]:
                        seen.add(int(self.tables[s, c, k]))
                    out[s, c, k] = len(seen)
        return out

    def first_hit(self, function: int) -> np.ndarray:
        """1-based index of the first run fitting S that ends on ``function``, per (setting, chain); 0 if never."""
        hit = (self.tables == int(function)) & self.fit
        first = np.argmax(hit, axis=2) + 1
        return np.where(hit.any(axis=2), first, 0)


def diverse_runs(
    prior: Any,
    arch: Any,
    tset: TrainingSet,
    config: TrainConfig,
    *,
    n_runs: int,
    chains: int,
    rewards: Sequence[float],
    seed: int = 0,
    encoding: str = "01",
    progress: bool | float = False,
) -> DiverseRuns:
    """Sequential training runs, each penalised for agreeing off S with the functions found before.

    ``chains`` independent sequences run side by side (one batch) for each reward
    ``mu`` in ``rewards`` (e.g. ``(0.0, 1.0)``: a baseline of independent restarts and
    the diverse runs, from the same initialisations). Run ``k`` (0-based) of chain
    ``c`` starts from sample ``c`` of ``prior.sample(key(seed), k, chains, layout)``
    (chunk ``k`` with chunk size ``chains``) and minimises
    ``L_S + mu * max_{g found} a_g`` (see :func:`diversity_penalty`), where *found*
    are the functions of the chain's earlier runs that fit S. Chunks are driven by
    :func:`countnets.engine.estimators.run_chunks`, one chunk (run) per step.
    """
    n_runs = check_positive_int("runs (sequential runs per chain)", n_runs)
    chains = check_positive_int("chains", chains)
    mus = [check_finite_float("reward", m, non_negative=True) for m in rewards]
    if not mus:
        raise CountnetsError("at least one reward value is needed")
    source = sampling_source(prior, arch, chains)
    off = np.array(tset.off_points(), dtype=np.int32)
    trainer = build_trainer(arch, tset, config, encoding=encoding, penalty=diversity_penalty(tset))
    G = len(mus)
    mu = jnp.asarray(np.repeat(np.array(mus, dtype=np.float32), chains))
    found = np.zeros((G * chains, n_runs, off.shape[0]), dtype=bool)
    found_mask = np.zeros((G * chains, n_runs), dtype=bool)
    P = arch.n_params

    @jax.jit
    def train_chunk(key, chunk_indices, n_valid, found, found_mask):
        theta0 = source.params(key, chunk_indices[0]).reshape(-1, P)
        valid = valid_mask(chains, n_valid[:1]).reshape(-1)
        out = trainer(jnp.tile(theta0, (G, 1)), jnp.tile(valid, (G,)), (mu, found, found_mask))
        return {"tables": out.tables, "fit": out.fit, "steps": out.steps}

    def step(key, chunk_indices, n_valid):
        return train_chunk(key, chunk_indices, n_valid, jnp.asarray(found), jnp.asarray(found_mask))

    tables = np.zeros((G * chains, n_runs), dtype=object)
    fit = np.zeros((G * chains, n_runs), dtype=bool)
    steps = np.zeros((G * chains, n_runs), dtype=np.int64)
    k_done = [0]

    def merge(out):
        k = k_done[0]
        ints = _table_ints(np.asarray(out["tables"]))
        f = np.asarray(out["fit"])
        tables[:, k] = np.array(ints, dtype=object)
        fit[:, k] = f
        steps[:, k] = np.asarray(out["steps"])
        for i, t in enumerate(ints):
            if f[i]:
                found[i, k] = boolean.int_to_table(t, tset.n)[off]
                found_mask[i, k] = True
        k_done[0] += 1

    start = time.perf_counter()
    run_chunks(
        step,
        merge,
        key=seed_key(seed),
        chunk_size=chains,
        n_samples=n_runs * chains,
        chunks_per_step=1,
        pure=False,  # each run reads the functions its chain found before (host state merge changes)
        progress=progress,
        description="diverse runs",
    )
    return DiverseRuns(
        rewards=tuple(mus),
        tables=tables.reshape(G, chains, n_runs),
        fit=fit.reshape(G, chains, n_runs),
        steps=steps.reshape(G, chains, n_runs),
        chunk_size=chains,
        seed=seed,
        config=config,
        seconds=time.perf_counter() - start,
    )
