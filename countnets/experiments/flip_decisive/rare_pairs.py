"""Rare B for the decisive flip test's planner: propose a B that fits S, and measure ln O by splitting.

Used by :func:`countnets.experiments.flip_decisive.plan_pairs` (``--rare-b``) where Monte
Carlo cannot show B: B is A with k bits flipped off the training set S, and since A and B
both fit S, ``P(A | S) / P(B | S) = P(A) / P(B)``, so ``ln O = ln P(A) - ln P(B)`` with
``P(A)`` from the planner's Monte Carlo pass and ``P(B)`` from
:func:`countnets.rare.splitting.estimate_rare`. docs/training.md ("flip-decisive") has the
design and the checks.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from countnets._errors import CountnetsError, check_positive_int
from countnets.defaults import RARE_B_FLIPS, RARE_B_PARTICLES, RARE_B_REPLICAS
from countnets.measures import implements
from countnets.network import boolean
from countnets.rare.splitting import SplittingOptions, estimate_rare, run_pilot
from countnets.stats import statistics
from countnets.train.training import TrainingSet

__all__ = ["RARE_ESTIMATOR", "RareOptions", "rare_candidates", "rare_log_odds", "pilot_log_p"]

RARE_ESTIMATOR = "mc-p(a)/splitting-p(b)"
"""``ln O = ln P(A) - ln P(B)``: ``P(A)`` by Monte Carlo (Clopper-Pearson), ``P(B)`` by splitting (log-t)."""


@dataclasses.dataclass(frozen=True)
class RareOptions:
    """How the planner proposes and measures a rare B (``plan_pairs(..., rare=RareOptions())``).

    Attributes:
      flips: numbers ``k`` of off-S bits of A flipped to make a proposal (each ``1 <= k``;
        proposals with ``k`` above ``|off S|`` are left out).
      per_flip: proposals per ``k`` (distinct random sets of flipped bits, seeded per candidate).
      replicas: splitting replicas of the chosen B (>= 2; its log-t interval needs a spread).
      particles: splitting particles per replica (>= 2); the pilot has twice as many.
      sweeps: move sweeps per splitting level.

    Raises:
      CountnetsError: for any invalid field.
    """

    flips: tuple[int, ...] = RARE_B_FLIPS
    per_flip: int = 1
    replicas: int = RARE_B_REPLICAS
    particles: int = RARE_B_PARTICLES
    sweeps: int = 4

    def __post_init__(self) -> None:
        flips = tuple(check_positive_int("flips", k) for k in self.flips)
        if not flips:
            raise CountnetsError("RareOptions.flips must name at least one number of flipped bits")
        object.__setattr__(self, "flips", flips)
        check_positive_int("per_flip", self.per_flip)
        for name in ("replicas", "particles"):
            if check_positive_int(name, getattr(self, name)) < 2:
                raise CountnetsError(f"RareOptions.{name} must be at least 2, got {getattr(self, name)}")
        check_positive_int("sweeps", self.sweeps)

    def config(self) -> dict[str, Any]:
        """Plain-dict description, stored in the plan."""
        return {**dataclasses.asdict(self), "flips": list(self.flips)}


@functools.lru_cache(maxsize=64)
def _implements(b: int) -> Any:
    """One ``implements(b)`` object per B, so splitting's kernels (keyed on the measure object) compile once per B."""
    return implements(int(b))


def rare_candidates(a: int, tset: TrainingSet, flips: Sequence[int], per_flip: int, seed: Any) -> list[int]:
    """Proposals for a rare B: A with ``k`` of its off-S bits flipped, ``per_flip`` per ``k``.

    Every proposal agrees with A (so with ``f*``) on S and differs from A at exactly ``k``
    off-S points. Bits are drawn without replacement from ``numpy.random.default_rng(seed)``;
    duplicates are dropped, order kept.

    >>> from countnets.train.training import TrainingSet
    >>> rare_candidates(0b0000, TrainingSet(2, 0, (0, 1)), [1, 2, 3], 1, 0)  # off S: points 2, 3
    [8, 12]
    """
    off = np.array(tset.off_points())
    rng = np.random.default_rng(seed)
    out: list[int] = []
    for k in flips:
        if k > off.size:
            continue
        for _ in range(per_flip):
            bits = rng.choice(off, size=int(k), replace=False)
            b = int(a) ^ sum(1 << int(j) for j in bits)
            if b not in out:
                out.append(b)
    return out


def rare_log_odds(
    prior: Any,
    arch: Any,
    a: int,
    b: int,
    hits_a: int,
    samples: int,
    *,
    seed: int,
    options: RareOptions | None = None,
    confidence: float = 0.95,
    encoding: str = "01",
    precision: str = "highest",
    devices: int | None = None,
) -> dict[str, Any]:
    """``ln O = ln P(A) - ln P(B)`` for a B too rare for Monte Carlo, with a joint interval (nats).

    ``P(A) = hits_a / samples`` is the Monte Carlo fraction of the plan's prior pass
    (A implemented on the whole cube), with a Clopper-Pearson interval; ``P(B)`` is
    :func:`countnets.rare.splitting.estimate_rare` of ``implements(B)`` over the whole cube, with
    its log-t interval over replicas. Both fit S, so ``P(A | S) / P(B | S) = P(A) / P(B)``.
    Each interval is taken at confidence ``1 - (1 - confidence) / 2`` and the ``ln O``
    interval is ``[ln P(A)_lo - ln P(B)_hi, ln P(A)_hi - ln P(B)_lo]``: by Bonferroni it
    covers with probability at least ``confidence`` (the splitting interval's own coverage
    being asymptotic in the replicas).

    Returns:
      ``{"log_odds", "log_odds_ci", "estimator": RARE_ESTIMATOR, "p_a", "p_a_ci", "p_b",
      "p_b_ci", "p_b_relative_error", "p_b_hits", "splitting": {...}, "seconds"}``
      (probabilities unitless, ``ln O`` in nats).

    Raises:
      CountnetsError: for ``hits_a`` not in ``1..samples``, or when no splitting replica
        reached B (then only an upper bound on ``P(B)`` exists, and no ``ln O``).
    """
    options = options or RareOptions()
    if not (isinstance(hits_a, (int, np.integer)) and isinstance(samples, (int, np.integer)) and 0 < hits_a <= samples):
        raise CountnetsError(f"hits_a must be in 1..samples, got hits_a={hits_a!r}, samples={samples!r}")
    each = 1 - (1 - confidence) / 2
    p_a = hits_a / samples
    a_lo, a_hi = statistics.clopper_pearson(int(hits_a), int(samples), each)
    start = time.perf_counter()
    res = estimate_rare(
        prior, arch, _implements(int(b)), seed=seed, replicas=options.replicas, particles=options.particles,
        sweeps=options.sweeps, confidence=each, encoding=encoding, precision=precision, devices=devices,
    )  # fmt: skip
    est = res.estimates[0]
    if not est.p > 0:
        raise CountnetsError(
            f"no splitting replica reached B = {boolean.to_hex(b)} (P(B) <= {est.ci[1]:.3g}); "
            "raise RareOptions.replicas or particles"
        )
    b_lo, b_hi = est.ci
    return {
        "log_odds": math.log(p_a) - math.log(est.p),
        "log_odds_ci": [math.log(a_lo) - math.log(b_hi), math.log(a_hi) - math.log(b_lo)],
        "estimator": RARE_ESTIMATOR,
        "p_a": p_a,
        "p_a_ci": [a_lo, a_hi],
        "p_b": est.p,
        "p_b_ci": [b_lo, b_hi],
        "p_b_relative_error": res.extra.relative_error,
        "p_b_hits": est.hits,
        "splitting": {
            "seed": seed,
            "replicas": est.n,
            "particles": options.particles,
            "sweeps": options.sweeps,
            "levels": res.extra.n_levels,
            "pilot_status": res.extra.pilot_status,
        },
        "seconds": time.perf_counter() - start,
    }


def pilot_log_p(prior: Any, arch: Any, b: int, seed: int, options: RareOptions, encoding: str, precision: str) -> float:
    """The splitting pilot's own (adaptive, slightly biased) ``ln P(B)``, in nats: a cheap guess to choose B by.

    ``-inf`` when the pilot did not reach B. Not an estimate to report: the planner
    measures the chosen B with :func:`rare_log_odds`.
    """
    pilot = run_pilot(
        prior, arch, _implements(int(b)), seed=seed, encoding=encoding, precision=precision,
        options=SplittingOptions(particles=options.particles, sweeps=options.sweeps),
    )  # fmt: skip
    if pilot.status != "reached" or min(pilot.survival) <= 0:
        return -math.inf
    return float(sum(math.log(v) for v in pilot.survival))
