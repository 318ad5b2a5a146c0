"""The host side of splitting (:mod:`countnets.rare.splitting`): replicas' counts, estimates, bounds and populations.

Everything here is NumPy/SciPy on what the replicas send back: per replica and level the
survivor count ``s_k`` and the accepted moves, and optionally the keys of the final
population. :func:`replica_estimates` turns counts into ``Z_r = prod_k s_k / N``;
:func:`countnets.stats.statistics.replica_interval` gives the interval of their mean;
:func:`upper_bound` the bound when every ``Z_r`` is 0; :func:`conditional_rows` the
masses of keys in the final populations (the prior conditioned on the event).

>>> replica_estimates([[250, 125], [250, 0]], 500).tolist()
[0.125, 0.0]
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from countnets import measures as measures_lib
from countnets._errors import CountnetsError, check_finite_float
from countnets.engine.steps import check_precision
from countnets.measures import Measure
from countnets.network import boolean
from countnets.network.architectures import DEFAULT_PRECISION, Architecture
from countnets.results import CountResult, Estimate
from countnets.results.payloads import ConditionalRow, SplittingLevel
from countnets.stats import reliability, statistics
from countnets.stats.statistics import ratio_of_means, replica_interval

__all__ = [
    "key_text",
    "ReplicaAccumulator",
    "replica_estimates",
    "upper_bound",
    "conditional_rows",
    "level_records",
    "splitting_estimate",
    "RarePopulation",
]


def key_text(key: tuple[int, ...], fields: tuple[int, ...], n: int) -> str:
    """A decoded key as text: a truth table's hex for a one-field table key, else its ints joined by commas.

    >>> key_text((8,), (1,), 2), key_text((3, 5), (1, 1), 2)
    ('0x8', '3,5')
    """
    if len(fields) == 1 and fields[0] == boolean.words_per_table(n):
        return boolean.to_hex(key[0])
    return ",".join(str(v) for v in key)


@dataclasses.dataclass
class ReplicaAccumulator:
    """Per-replica survivor counts, accepted moves and final-population keys, in replica order.

    Attributes:
      n_levels: levels K of the run.
      key_fields: the conditional measure's ``key_fields`` (``None``: no conditional keys).
      n_inputs: n, to print table keys in hex.
      keep: keep the final particles (in memory only, never in a checkpoint).
      particles, sweeps: N and the sweeps per level, which bound the counts a checkpoint
        may hold (:meth:`count_problem`; ``None``: not checked).
      survivors, accepted: per replica, per level, survivors ``s_k`` and accepted moves.
      ancestors: per replica, per level, the distinct initial ancestors of the population
        after resampling at the level (the genealogy; ``N`` before any collapse).
      keys: per replica, key text -> particles of its final population with that key.
      nonfinite, near: final particles (of replicas that reached the event) with a
        non-finite output, or one within the margin of 0.
      theta: per replica, its final particles ``(N, n_params)`` (when ``keep``).
    """

    n_levels: int
    key_fields: tuple[int, ...] | None
    n_inputs: int
    keep: bool = False
    particles: int | None = None
    sweeps: int | None = None
    survivors: list[list[int]] = dataclasses.field(default_factory=list)
    accepted: list[list[int]] = dataclasses.field(default_factory=list)
    ancestors: list[list[int]] = dataclasses.field(default_factory=list)
    keys: list[dict[str, int]] = dataclasses.field(default_factory=list)
    nonfinite: int = 0
    near: int = 0
    theta: list[np.ndarray] = dataclasses.field(default_factory=list)

    def merge(self, out: dict[str, Any]) -> None:
        """Add one device's output of a replica step (leading axes: chunk, replica in chunk)."""
        valid = np.asarray(out["valid"])
        survivors, accepted = np.asarray(out["survivors"]), np.asarray(out["accepted"])
        ancestors = np.asarray(out["ancestors"])
        for b, j in zip(*np.nonzero(valid)):
            self.survivors.append(survivors[b, j].tolist())
            self.accepted.append(accepted[b, j].tolist())
            self.ancestors.append(ancestors[b, j].tolist())
            if min(self.survivors[-1]) > 0:
                self.nonfinite += int(np.asarray(out["nonfinite"])[b, j])
                self.near += int(np.asarray(out["near"])[b, j])
            if self.key_fields is not None:
                rows = measures_lib.decode_keys(np.asarray(out["keys"])[b, j], self.key_fields)
                self.keys.append(
                    {key_text(k, self.key_fields, self.n_inputs): c for k, c in sorted(Counter(rows).items())}
                )
            if self.keep:
                self.theta.append(np.asarray(out["theta"])[b, j])

    def state_dict(self) -> dict[str, Any]:
        """JSON-ready state for a checkpoint."""
        state: dict[str, Any] = {"survivors": self.survivors, "accepted": self.accepted, "ancestors": self.ancestors,
                                 "nonfinite": self.nonfinite, "near": self.near}  # fmt: skip
        if self.key_fields is not None:
            state["keys"] = self.keys
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from :meth:`state_dict`."""
        try:
            survivors = [[int(v) for v in row] for row in state["survivors"]]
            accepted = [[int(v) for v in row] for row in state["accepted"]]
            ancestors = [[int(v) for v in row] for row in state["ancestors"]]
            keys = [{str(k): int(c) for k, c in d.items()} for d in state.get("keys", [])]
            nonfinite, near = int(state["nonfinite"]), int(state["near"])
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise CountnetsError(f"malformed splitting state in checkpoint: {err!r}") from None
        rows = survivors + accepted + ancestors
        if any(len(row) != self.n_levels for row in rows) or not len(survivors) == len(accepted) == len(ancestors):
            raise CountnetsError(f"saved splitting state does not have {self.n_levels} levels per replica")
        if self.key_fields is not None and len(keys) != len(survivors):
            raise CountnetsError("saved splitting state lacks the conditional keys of its replicas")
        self.survivors, self.accepted, self.ancestors, self.keys = survivors, accepted, ancestors, keys
        self.nonfinite, self.near = nonfinite, near

    def count_problem(self, samples: int) -> str | None:
        """Why these counts cannot come from ``samples`` replicas of a run, or ``None`` (checked on resume).

        A run's counts satisfy, per replica ``r`` and level ``k`` (numbered from 1, as
        ``L_1 .. L_K``): ``0 <= s_k <= N``; ``0 <= accepted_k <= N * sweeps``; and after a
        level with no survivor the replica's particles all lie below it, so only particles
        moved by an accepted proposal can pass the next one: ``s_{k+1} <= accepted_k``
        when ``s_k = 0`` (a dead replica may still count survivors later, but never more).
        There is one row per replica done; ``nonfinite`` and ``near`` count final particles
        of the replicas that reached the event (at most N each); each replica's
        conditional key counts are positive and add up to the same multiple of N.
        """
        n = math.inf if self.particles is None else self.particles
        moves = math.inf if self.particles is None or self.sweeps is None else self.particles * self.sweeps
        if len(self.survivors) != samples:
            return f"it holds {len(self.survivors)} replicas but its progress says {samples}"
        for r, (row, moved, roots) in enumerate(zip(self.survivors, self.accepted, self.ancestors, strict=True)):
            for k, (s, a, d) in enumerate(zip(row, moved, roots, strict=True), start=1):
                if not 0 <= s <= n:
                    return f"replica {r} has {s} survivors{f' of {n} particles' if s > n else ''} at level {k}"
                if not 1 <= d <= n or (k > 1 and d > roots[k - 2]):
                    return f"replica {r} has {d} distinct ancestors at level {k}, not in 1..{n} or more than before"
                if not 0 <= a <= moves:
                    bound = f" ({self.particles} particles x {self.sweeps} sweeps)" if a > moves else ""
                    return f"replica {r} has {a} accepted moves at level {k}{bound}"
                if k < len(row) and s == 0 and row[k] > a:
                    return (f"replica {r} has {row[k]} survivors at level {k + 1} after none at level {k}, "
                            f"where only {a} moves were accepted")  # fmt: skip
        reached = sum(1 for row in self.survivors if row and min(row) > 0)
        most = n * reached if reached else 0
        for name, value in (("nonfinite", self.nonfinite), ("near", self.near)):
            if not 0 <= value <= most:
                return f"{name} is {value}, outside 0..{most} for the {reached} replicas that reached the event"
        totals = set()
        for r, counts in enumerate(self.keys):
            if any(c <= 0 for c in counts.values()):
                return f"replica {r} has a conditional key count {min(counts.values())}, not positive"
            total = sum(counts.values())
            if self.particles is not None and total % self.particles:
                return f"replica {r} has conditional keys for {total} particles, not a multiple of {n}"
            totals.add(total)
        if len(totals) > 1:
            return f"replicas have conditional keys for different particle counts {sorted(totals)}"
        return None


def replica_estimates(survivors: Sequence[Sequence[int]] | np.ndarray, particles: int) -> np.ndarray:
    """``Z_r = prod_k s_{r,k} / N`` per replica, float64 (0 where some level had no survivor).

    Raises:
      CountnetsError: if a replica with survivors at every level has a product below the
        float64 range (about 1e-308).
    """
    counts = np.asarray(survivors, np.float64).reshape(len(survivors), -1)
    z = np.prod(counts / particles, axis=1)
    if np.any((z == 0) & np.all(counts > 0, axis=1)):
        raise CountnetsError("a replica estimate is below the float64 range (about 1e-308)")
    return z


def upper_bound(
    survivors: Sequence[Sequence[int]] | np.ndarray, particles: int, confidence: float = 0.95
) -> tuple[float, int]:
    """An upper confidence bound on p when every replica ended at 0, and the level it stands on.

    With ``j`` the last level any replica passed (0: none), ``P_j = P(score >= L_j)``
    (``P_0 = 1``) and ``m = N x`` (replicas alive at level j), none of whose particles
    passed level ``j + 1``: ``p <= P_j P(L_{j+1} | L_j)``, bounded by the product of the
    upper end of :func:`replica_interval` of ``P_j`` at confidence ``1 - alpha`` (one-sided
    ``alpha/2``) and the one-sided Clopper-Pearson bound ``1 - (alpha/2)**(1/m)`` for 0
    successes in m trials; Bonferroni makes the product hold with probability about
    ``1 - alpha``. The second factor treats the final particles as
    independent draws from the prior above ``L_j``, which the moves only approximate.

    Returns:
      ``(bound, j)``.
    """
    alpha = 1 - check_finite_float("confidence", confidence)
    counts = np.asarray(survivors, np.int64).reshape(len(survivors), -1)
    alive = np.cumprod(counts > 0, axis=1).astype(bool)  # replica alive after level k (0-based)
    passed = np.nonzero(alive.any(axis=0))[0]
    j = int(passed[-1]) + 1 if passed.size else 0
    if j == 0:
        first, m = 1.0, particles * counts.shape[0]
    else:
        z = np.where(alive[:, j - 1], replica_estimates(counts[:, :j], particles), 0.0)
        first = min(1.0, replica_interval(z, 1 - alpha).hi)
        m = particles * int(alive[:, j - 1].sum())
    return first * (1.0 - (alpha / 2) ** (1.0 / m)), j


def level_records(pilot: Any, survivors: np.ndarray, accepted: np.ndarray, ancestors: np.ndarray,
                  particles: int) -> list[SplittingLevel]:  # fmt: skip
    """Per level: the pilot's trace (``pilot``: a :class:`countnets.rare.splitting.Pilot`) and the replicas' means.

    ``survivors``, ``accepted``, ``ancestors``: int ``(replicas, levels)``; N = ``particles``.
    """
    n = particles
    alive_after = np.cumprod(survivors > 0, axis=1).astype(bool)
    out = []
    for k in range(len(pilot.levels)):
        before = np.ones(len(survivors), bool) if k == 0 else alive_after[:, k - 1]
        after = alive_after[:, k]
        survival = float(np.mean(survivors[before, k] / n)) if before.any() else math.nan
        acceptance = float(np.mean(accepted[after, k] / (n * pilot.sweeps[k]))) if after.any() else math.nan
        out.append(SplittingLevel(
            level=pilot.levels[k], step=pilot.steps[k], pilot_survival=pilot.survival[k],
            pilot_acceptance=list(pilot.acceptance[k]), pilot_steps=list(pilot.step_trace[k]), survival=survival,
            acceptance=acceptance, alive=int(after.sum()),
            ancestors=float(np.median(ancestors[after, k])) if after.any() else None, sweeps=pilot.sweeps[k],
            mixing=None if math.isnan(pilot.mixing[k]) else pilot.mixing[k],
        ))  # fmt: skip
    return out


def conditional_rows(
    weights: Sequence[float] | np.ndarray,
    counts: Sequence[dict[str, int]],
    particles: int,
    confidence: float = 0.95,
    *,
    pilot_status: str = "reached",
) -> list[ConditionalRow]:
    """Each key's ``P(event and key)`` and ``P(key | event)`` from replicas' final populations.

    With ``Z_r`` the replica estimates (``weights``) and ``c_r(k)`` the particles of replica
    r's final population holding key k: ``joint = mean_r Z_r c_r(k) / N`` (unbiased, as
    ``Z_r`` times the population's empirical measure is unbiased for the prior restricted
    to the event) and ``conditional = joint / mean_r Z_r``, with the delta-method t interval
    of that ratio over replicas. Rows are sorted by decreasing conditional mass.

    Each row is judged by the reliability rule (:mod:`countnets.stats.reliability`) with its own
    effective number of replicas, from the weights ``Z_r c_r(k)``: a key held by the
    populations of two heavy replicas is not determined however many replicas the run
    had. A row that is not determined keeps its estimate, with the interval ``[0, 1]``.
    """
    z = np.asarray(weights, np.float64)
    if z.size != len(counts):
        raise CountnetsError(f"{z.size} weights for {len(counts)} populations")
    if float(z.sum()) == 0 or z.size < 2:
        return []
    rows = []
    for key in sorted({k for c in counts for k in c}):
        c = np.array([d.get(key, 0) for d in counts], np.float64)
        joint_r = z * c / particles
        ratio, lo, hi = ratio_of_means(joint_r, z, confidence)
        verdict = reliability.assess(joint_r, pilot_status=pilot_status, what="replicas holding the key")
        ci = [lo, min(1.0, hi)] if verdict.reliable else [0.0, 1.0]
        rows.append(ConditionalRow(key=key, replicas=int((c > 0).sum()), joint=float(joint_r.mean()),
                                   conditional=ratio, conditional_ci=ci, effective_replicas=verdict.effective_replicas,
                                   reliable=verdict.reliable))  # fmt: skip
    return sorted(rows, key=lambda r: (-r.conditional, r.key))


def splitting_estimate(name: str, z: np.ndarray, survivors: np.ndarray, levels: list, pilot_status: str,
                       particles: int, confidence: float) -> tuple[Estimate, Any, int | None, Any]:  # fmt: skip
    """A splitting run's estimate of ``p`` from its replicas' ``Z_r``, under the reliability rule.

    Returns ``(estimate, verdict, upper bound's level or None, replica interval)``.

    Determined: the log-t interval. Not determined though some replica reached the event: the unbiased
    estimate and only the lower bound Markov's inequality supports. No replica reached it: ``p = 0``
    and an upper bound.
    """
    interval = replica_interval(z, confidence)
    verdict = reliability.assess(z, pilot_status=pilot_status, survival=[lv.survival for lv in levels],
                                 particles=particles)  # fmt: skip
    bound_level = None
    if interval.mean > 0 and verdict.reliable:
        p, ci, method = interval.mean, (interval.lo, interval.hi), "splitting-log-t"
    elif interval.mean > 0:  # not determined: the unbiased estimate, and only what Markov's inequality supports
        p, ci, method = interval.mean, reliability.markov_lower_bound(interval.mean, confidence), "splitting-markov"
    else:
        bound, bound_level = upper_bound(survivors, particles, confidence)
        p, ci, method = 0.0, (0.0, bound), "splitting-upper-bound"
    estimate = Estimate(
        function=name, hits=int((z > 0).sum()), n=len(z), p=p, ci=ci, confidence=confidence, method=method,
        bits=statistics.bits(p), bits_ci=(statistics.bits(ci[1]), statistics.bits(ci[0])), log10_p=statistics.log10(p),
    )  # fmt: skip
    return estimate, verdict, bound_level, interval


@dataclasses.dataclass(frozen=True)
class RarePopulation:
    """The replicas' final populations: approximate samples of the prior conditioned on the event.

    Attributes:
      theta: float32 ``(replicas, particles, n_params)``: replica r's final particles (flat
        parameter vectors, DESIGN section 2); a replica that did not reach the event holds
        meaningless particles and has weight 0.
      weights: float64 ``(replicas,)``: the replica estimates ``Z_r``; ``Z_r`` times replica
        r's empirical measure is an unbiased estimate of the prior restricted to the event.
      result: the run's :class:`countnets.CountResult` (as :func:`estimate_rare` returns it).
    """

    theta: np.ndarray
    weights: np.ndarray
    result: CountResult

    def expectation(self, values: np.ndarray | Sequence[Sequence[float]]) -> float:
        """``E[v | event]`` from per-particle values ``v`` of shape ``(replicas, particles)``.

        The ratio ``sum_r Z_r mean_i v_ri / sum_r Z_r`` (NaN when every weight is 0).
        """
        v = np.asarray(values, np.float64)
        if v.shape != self.theta.shape[:2]:
            raise CountnetsError(f"values must have shape {self.theta.shape[:2]}, got {v.shape}")
        total = float(self.weights.sum())
        return math.nan if total == 0 else float((self.weights * v.mean(axis=1)).sum() / total)

    def conditional(
        self, arch: Architecture, measure: Measure, *, encoding: str = "01", precision: str = DEFAULT_PRECISION,
        confidence: float = 0.95,
    ) -> list[ConditionalRow]:  # fmt: skip
        """:func:`conditional_rows` of ``measure``'s key (e.g. ``table()``) over the final populations."""
        fields = measures_lib.as_measure(measure).key_fields(arch)
        counts = [
            {key_text(k, fields, arch.n): c for k, c in replica.items()}
            for replica in self.key_counts(arch, measure, encoding=encoding, precision=precision)
        ]
        return conditional_rows(self.weights, counts, self.theta.shape[1], confidence)

    def key_counts(
        self, arch: Architecture, measure: Measure, *, encoding: str = "01", precision: str = DEFAULT_PRECISION
    ) -> list[Counter[tuple[int, ...]]]:
        """Per replica, how many of its final particles hold each decoded key of ``measure``.

        Keys are tuples of ints, one per key field (:func:`countnets.measures.decode_keys`); a
        measure with several key rows per network (e.g. one per branch scale) counts each row.
        Replicas with weight 0 are counted too: drop them before using their particles.
        """
        measure = measures_lib.as_measure(measure)
        if measure.key is None:
            raise CountnetsError(f"a conditional histogram needs a measure with a key; {measure.name} has none")
        measure.check(arch)
        x = boolean.cube(arch.n, encoding)
        fields = measure.key_fields(arch)
        keys_fn = jax.jit(jax.vmap(lambda t: measure.key(arch, arch.unflatten(t), x, check_precision(precision))))
        counts = []
        for theta in self.theta:
            rows = np.asarray(keys_fn(jnp.asarray(theta)))
            counts.append(Counter(measures_lib.decode_keys(rows.reshape(-1, rows.shape[-1]), fields)))
        return counts
