"""The reliability rule of splitting results: when the replicas' spread is an honest interval (no JAX).

Multilevel splitting is unbiased: each replica's ``Z_r`` has mean p. Its interval (the
log-t interval of the mean over replicas, :func:`countnets.stats.statistics.replica_interval`)
rests on a central limit over replicas, and that fails when the moves do not mix: the
``Z_r`` are then heavy-tailed, most of the weight sits on one or two replicas, the
sample spread underestimates the true one, and the interval undercovers (measured: 80%
coverage of a 95% interval at 3.4e-9 on a lattice network, issue 25).

**The rule** (fixed before the coverage study that checks it; not tuned per run). A
splitting estimate is *determined* if and only if

1. the pilot reached the event (a stalled pilot cannot tell an unreachable event from
   one its moves could not climb to), and
2. the Kish effective number of replicas ``(sum_r Z_r)^2 / sum_r Z_r^2`` is at least
   :data:`MIN_EFFECTIVE_REPLICAS` = 30: the t interval of a mean needs about 30
   effectively independent terms (the usual rule of thumb for a skewed law), and when
   fewer replicas carry the weight their spread says little about the unseen ones.

With i.i.d. replicas of relative spread ``c`` the expected Kish count is about
``R / (1 + c^2)``; well-mixed splitting at the defaults has ``c`` about 0.31
(:func:`well_mixed_relative_variance`), so the default :data:`DEFAULT_REPLICAS` = 64 passes
with room, and a run that fails says to raise ``--replicas`` (the rule then asks for
``R >= 30 (1 + c^2)``) or to improve the moves.

A result that is **not determined** keeps its estimate ``p`` (still unbiased) but its
``ci`` is the one-sided statement the data support whatever the mixing:
``[alpha p_hat, 1]``. Markov's inequality for the non-negative unbiased ``p_hat`` gives
``P(p_hat >= p / alpha) <= alpha``, so ``p > alpha p_hat`` holds with probability at least
``1 - alpha``; no upper bound is supported (collapsed replicas mostly *under*estimate).

Genealogy (distinct initial ancestors of the survivors, per level) is reported as a
diagnostic, not used in the rule: ancestry always collapses over many levels in a
splitting run, since moves change positions, not ancestors; whether that harms the
estimate is what the replicas' spread measures.

>>> r = assess([1e-9] * 40, pilot_status="reached", survival=[0.25] * 15, particles=500)
>>> r.reliable, round(r.effective_replicas, 1), r.unreliable_reasons
(True, 40.0, [])
>>> assess([1e-9, 0, 0, 0], pilot_status="reached").unreliable_reasons[0]
'1.0 effective replicas of 4 (the rule needs 30); raise --replicas (about 150 here) or use moves that mix better'
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from countnets._errors import CountnetsError
from countnets.defaults import DEFAULT_REPLICAS  # noqa: F401 (re-exported)
from countnets.records import Record, record

__all__ = [
    "MIN_EFFECTIVE_REPLICAS",
    "DEFAULT_REPLICAS",
    "RULE",
    "Reliability",
    "effective_replicas",
    "well_mixed_relative_variance",
    "assess",
    "markov_lower_bound",
]

MIN_EFFECTIVE_REPLICAS = 30
RULE = (
    "determined iff the pilot reached the event and the Kish effective number of replicas "
    f"(sum Z)^2 / sum Z^2 is at least {MIN_EFFECTIVE_REPLICAS}"
)


def effective_replicas(weights: Sequence[float] | np.ndarray) -> float:
    """Kish's effective number ``(sum w)^2 / sum w^2`` of non-negative weights (0 when all are 0).

    >>> effective_replicas([1.0, 1.0, 1.0, 1.0]), effective_replicas([1.0, 0.0, 0.0]), effective_replicas([0.0])
    (4.0, 1.0, 0.0)
    """
    w = np.asarray(weights, np.float64).reshape(-1)
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise CountnetsError("weights must be finite and non-negative")
    if w.size == 0 or float(w.max()) == 0:
        return 0.0
    scaled = w / w.max()  # squares of weights near 1e-300 would underflow
    return float(scaled.sum() ** 2 / np.square(scaled).sum())


def well_mixed_relative_variance(survival: Sequence[float], particles: int) -> float:
    """``sum_k (1 - p_k) / (N p_k)``: a replica's squared relative spread if every level's particles were independent.

    ``p_k`` is the fraction of a level's population at or above the next level. This is
    the variance of ``log Z`` to first order for independent binomial survivals: the
    best splitting can do with these levels and N particles. Its square root is about
    0.31 at the defaults (15 levels of 0.25, N = 500). NaN when a ``p_k`` is not in (0, 1].

    >>> round(math.sqrt(well_mixed_relative_variance([0.25] * 15, 500)), 2)
    0.3
    """
    p = np.asarray(survival, np.float64).reshape(-1)
    if p.size == 0:
        return 0.0
    if not np.all((p > 0) & (p <= 1)):
        return math.nan
    return float(np.sum((1 - p) / (particles * p)))


@record
class Reliability(Record):
    """Whether a splitting estimate's interval holds (the rule of this module), with the numbers it rests on.

    Attributes:
      reliable: the rule holds: the estimate is *determined*.
      unreliable_reasons: one sentence per failed condition, each saying what to raise.
      effective_replicas: Kish's ``(sum Z_r)^2 / sum Z_r^2``.
      replicas: R.
      max_replica_share: ``max_r Z_r / sum_r Z_r`` (NaN when every ``Z_r`` is 0).
      extinct_replicas: replicas with ``Z_r = 0`` (some level had no survivor).
      relative_variance: the replicas' squared relative spread ``var(Z) / mean(Z)^2`` (NaN when every one is 0).
      well_mixed_relative_variance: :func:`well_mixed_relative_variance` for the run's levels.
      rule: the rule, in words.
    """

    reliable: bool
    unreliable_reasons: list[str]
    effective_replicas: float
    replicas: int
    max_replica_share: float
    extinct_replicas: int
    relative_variance: float
    well_mixed_relative_variance: float
    rule: str


def assess(
    weights: Sequence[float] | np.ndarray,
    *,
    pilot_status: str,
    survival: Sequence[float] = (),
    particles: int = 1,
    what: str = "replicas",
    option: str = "--replicas",
) -> Reliability:
    """The reliability of a splitting estimate from its replicas' weights (see the module docstring).

    Args:
      weights: ``Z_r`` per replica (for a conditional mass, ``Z_r c_r(key) / N``).
      pilot_status: the pilot's status (``"reached"``, ``"stalled"``, ``"max_levels"``).
      survival: per level, the fraction of a population at or above it (for the well-mixed reference).
      particles: N, for the well-mixed reference.
      what, option: how the reasons name the replicas and the option that raises their number.
    """
    z = np.asarray(weights, np.float64).reshape(-1)
    ess = effective_replicas(z)
    total = float(z.sum())
    mean = total / z.size if z.size else 0.0
    reasons = []
    if pilot_status != "reached":
        reasons.append(
            f"the pilot {pilot_status.replace('_', ' ')} before the event: raise --pilot-particles or --sweeps "
            "(the event may be unreachable, or the moves may not climb to it)"
        )
    if ess < MIN_EFFECTIVE_REPLICAS:
        c2 = float(z.var(ddof=1)) / mean**2 if mean > 0 and z.size > 1 else math.inf
        need = MIN_EFFECTIVE_REPLICAS * (1 + c2)
        hint = f" (about {10 * math.ceil(need / 10 - 1e-9)} here)" if math.isfinite(need) else ""
        reasons.append(
            f"{ess:.1f} effective {what} of {z.size} (the rule needs {MIN_EFFECTIVE_REPLICAS}); raise {option}{hint} "
            "or use moves that mix better"
        )
    return Reliability(
        reliable=not reasons,
        unreliable_reasons=reasons,
        effective_replicas=ess,
        replicas=int(z.size),
        max_replica_share=float(z.max()) / total if total > 0 else math.nan,
        extinct_replicas=int((z == 0).sum()),
        relative_variance=float(z.var(ddof=1)) / mean**2 if mean > 0 and z.size > 1 else math.nan,
        well_mixed_relative_variance=well_mixed_relative_variance(survival, particles),
        rule=RULE,
    )


def markov_lower_bound(p_hat: float, confidence: float) -> tuple[float, float]:
    """The interval a not-determined estimate keeps: ``[alpha p_hat, 1]`` (Markov, see the module docstring).

    >>> markov_lower_bound(2e-9, 0.95)
    (1.0000000000000009e-10, 1.0)
    """
    return (1 - confidence) * p_hat, 1.0
