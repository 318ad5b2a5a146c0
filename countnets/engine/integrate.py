"""Conditional Monte Carlo with the readout integrated exactly: ``P(f) = E_hidden[C(H, f)]`` (issue 26).

For a Gaussian prior, the network's output is linear and homogeneous in its readout
(the output layer's weights and bias, :func:`countnets.network.architectures.readout_indices`),
so with the hidden parameters fixed the readouts that implement a labelling form a
polyhedral cone, and its prior mass ``C`` is a Gaussian cone mass
(:mod:`countnets.engine.cones`). This module draws the hidden parameters from the prior, reads
each draw's features off the network itself (the outputs with the readout set to each
unit vector: column j of ``H`` is ``y(e_j)``, whatever the architecture), and averages
``C`` over the draws:

* ``C`` is exact when the readout has at most 2 parameters, an exact 0 when a linear
  program shows the cone empty, and otherwise one unbiased Holmes-Diaconis-Ross replica
  (:func:`countnets.engine.cones.cone_mass_hdr`). Each draw's value is therefore an unbiased
  estimate of ``P(f)``, the draws are i.i.d., and their mean is unbiased
  (Rao-Blackwellisation: with ``C`` exact its variance is at most plain Monte Carlo's).
* The interval is the log-t interval of a mean of i.i.d. non-negative values
  (:func:`countnets.stats.statistics.replica_interval`), under the reliability rule of the
  rare-event work (:mod:`countnets.stats.reliability`): it is quoted only when the Kish
  effective number of draws, ``(sum C_i)^2 / sum C_i^2``, is at least 30. ``C`` can vary
  over many orders of magnitude between draws (issue 26 measured 1e-31 to 1e-11 for
  parity of 4 on a ResMLP); then a few draws carry the mean, the run is *not determined*
  and keeps only the one-sided statement ``[alpha p_hat, 1]`` (Markov).
* When every draw's value is 0 (no cone non-empty, or the HDR replicas of the non-empty
  ones all died out) the estimate is 0 with the Clopper-Pearson upper bound on the
  probability of a non-empty cone (from the draws that had one), which bounds ``P(f)``
  (``C <= 1``). There is no progress display yet.

Draw ``i`` uses the prior's chunk ``i`` of size 1 under the seed's key, and its cone
replica ``fold_in(cone key, i)``: results do not depend on ``draws_per_chunk``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from countnets import measures as measures_lib
from countnets._errors import CountnetsError, check_finite_float, check_positive_int
from countnets.engine import cones
from countnets.engine._validate import check_measure, check_prior_and_arch
from countnets.engine.driver import seed_key
from countnets.engine.steps import check_precision
from countnets.measures import Measure
from countnets.network import boolean
from countnets.network.architectures import DEFAULT_PRECISION, Architecture, readout_indices
from countnets.network.priors import Gaussian, Prior
from countnets.results import CountResult, Estimate, count_result
from countnets.results.payloads import IntegratedPayload
from countnets.stats import reliability, statistics

__all__ = [
    "readout_features",
    "estimate_integrated",
    "refuse_options",
    "DEFAULT_DRAWS_PER_CHUNK",
    "DEFAULT_CONE_PARTICLES",
    "ALGORITHM",
]

DEFAULT_DRAWS_PER_CHUNK = 256
DEFAULT_CONE_PARTICLES = 64  # one HDR replica per draw: its spread is small beside the spread of C across draws
PERCEPTRON_CONE_PARTICLES = cones.DEFAULT_CONE_PARTICLES  # all readout: the replicas' spread is the whole spread
CONE_STREAM = 2**32 - 2  # cone replicas draw from fold_in(seed key, CONE_STREAM), hidden draws from the seed key
ALGORITHM = "conditional Monte Carlo over hidden draws, the readout's Gaussian cone mass integrated exactly or by HDR"


def readout_features(arch: Architecture, theta: Array, x: Array, precision: str = DEFAULT_PRECISION) -> Array:
    """The features ``H`` in which the output is linear: ``y_x = H[x] . r`` for the readout ``r``.

    Column j is the output with the readout set to the unit vector ``e_j`` (the last column,
    the bias's, is 1), which holds for every architecture whose output is linear and
    homogeneous in its readout block.

    Args:
      arch: the architecture.
      theta: ``(draws, n_params)`` parameters (the readout block is ignored).
      x: ``(m, n)`` cube points.

    Returns:
      ``(draws, m, k)``, k the readout's parameter count.
    """
    idx = jnp.asarray(readout_indices(arch))
    basis = jnp.eye(idx.shape[0], dtype=theta.dtype)

    def one(t):
        outputs = jax.vmap(lambda e: arch.apply(arch.unflatten(t.at[idx].set(e)), x, precision=precision))(basis)
        return outputs.T

    return jax.vmap(one)(theta)


def _features_step(prior: Gaussian, arch: Architecture, x: Array, precision: str) -> Callable:
    layout = arch.layout()

    @jax.jit
    def features(key, first, count_dummy):
        idx = first + jnp.arange(count_dummy.shape[0], dtype=jnp.int32)
        theta = jax.vmap(lambda i: prior.sample(key, i, 1, layout)[0])(idx)
        return readout_features(arch, theta, x, precision)

    return features


def refuse_options(given: dict[str, bool], why: str) -> None:
    """One line naming, in order, the options ``readout='integrate'`` does not take among ``given`` (flag true).

    Raises:
      CountnetsError: when any flag is true; ``why`` ends the message.
    """
    names = [name for name, flag in given.items() if flag]
    if names:
        raise CountnetsError(f"readout='integrate' does not take {', '.join(names)}{why}")


def estimate_integrated(
    prior: Prior,
    arch: Architecture,
    measure: Measure | int | str,
    *,
    config: dict,
    n_samples: int,
    seed: int = 0,
    encoding: str = "01",
    precision: str = DEFAULT_PRECISION,
    confidence: float = 0.95,
    draws_per_chunk: int = DEFAULT_DRAWS_PER_CHUNK,
    cone_particles: int | None = None,
    cone_sweeps: int = cones.DEFAULT_CONE_SWEEPS,
) -> CountResult:
    """``P(event)`` by conditional Monte Carlo over the hidden layers, the readout integrated (module docstring).

    Args:
      prior: a :class:`~countnets.Gaussian` prior (the readout must be Gaussian).
      arch: any architecture (a perceptron, ``MLP(n, ())``, is all readout: every draw
        is then the same cone, and the draws are replicas of its mass).
      config: the result's config (:func:`countnets.engine.estimators.base_config`, from
        :func:`countnets.estimate_mc`, which is the public way in).
      measure: a measure whose event is linear in the readout (``implements``, ``fits``);
        an int, hex or name means :func:`countnets.measures.implements`.
      n_samples: hidden draws.
      seed: integer seed, ``0 <= seed < 2**32``.
      encoding, precision, confidence: as :func:`countnets.estimate_mc`.
      draws_per_chunk: draws evaluated together; results do not depend on it.
      cone_particles, cone_sweeps: the HDR estimator's population and sweeps per level
        (``cone_particles=None``: 64 for a network with hidden layers, 256 for a perceptron,
        whose draws are all the same cone, so that the HDR replicas' spread is the whole spread).

    Returns:
      A :class:`~countnets.CountResult` of kind ``"estimate-integrated"`` with one estimate
      (``hits``: draws with a non-empty cone, ``n``: draws; method ``"integrate-log-t"``
      when determined, ``"integrate-markov"`` when not, ``"integrate-upper-bound"`` when
      every draw's value was 0) and an :class:`~countnets.results.payloads.IntegratedPayload`.

    Raises:
      CountnetsError: for a prior that is not Gaussian, a measure whose event is not a
        cone in the readout, non-finite features, or invalid options.
    """
    where = "estimate_mc(readout='integrate')"
    check_prior_and_arch(prior, arch, where)
    if type(prior) is not Gaussian:
        raise CountnetsError(f"readout='integrate' needs a Gaussian readout (a Gaussian prior), got "
                             f"{type(prior).__name__}")  # fmt: skip
    measure = check_measure(measure, where)
    if measure.agreement is None:
        raise CountnetsError(f"readout='integrate' needs a measure whose event is a cone in the readout "
                             f"(implements, fits), got {measure.name}")  # fmt: skip
    measure.check(arch)
    n_samples = check_positive_int("n_samples", n_samples)
    per_chunk = check_positive_int("draws_per_chunk", draws_per_chunk)
    confidence = check_finite_float("confidence", confidence)
    if not 0 < confidence < 1:
        raise CountnetsError(f"confidence must be in (0, 1), got {confidence}")
    precision = check_precision(precision)
    hidden = arch.n_params - len(readout_indices(arch))
    if cone_particles is None:
        cone_particles = DEFAULT_CONE_PARTICLES if hidden else PERCEPTRON_CONE_PARTICLES
    cone_particles = check_positive_int("cone_particles", cone_particles)
    cone_sweeps = check_positive_int("cone_sweeps", cone_sweeps)
    start = time.perf_counter()
    points, labels = measure.agreement(arch)
    x = jnp.asarray(boolean.cube(arch.n, encoding))[jnp.asarray(points)]
    scales = prior.scales(arch.layout())[readout_indices(arch)]
    key = seed_key(seed)
    cone_key = jax.random.fold_in(key, CONE_STREAM)
    features = _features_step(prior, arch, x, precision)
    values = np.zeros(n_samples, np.float64)
    nonempty = 0
    for first in range(0, n_samples, per_chunk):
        count = min(per_chunk, n_samples - first)
        rows = cones.cone_matrix(features(key, jnp.int32(first), jnp.zeros(count)), labels, scales)
        masses, found = cones.cone_mass_batch(cones.matrix_keys(cone_key, np.arange(first, first + count)), rows,
                                              replicas=1, particles=cone_particles, sweeps=cone_sweeps)  # fmt: skip
        values[first : first + count] = masses[:, 0]
        nonempty += int(found.sum())
    seconds = time.perf_counter() - start
    return _result(measure, arch, values, nonempty, len(scales), config=config, seed=seed, confidence=confidence,
                   per_chunk=per_chunk, seconds=seconds,
                   cone_particles=cone_particles, cone_sweeps=cone_sweeps)  # fmt: skip


def _result(measure, arch, values, nonempty, k, *, config, seed, confidence, per_chunk, seconds, cone_particles,
            cone_sweeps) -> CountResult:  # fmt: skip
    name = measures_lib.target_of(measure, arch.n)
    name = measure.name if name is None else boolean.to_hex(name)
    n = len(values)
    kish = reliability.effective_replicas(values)
    reasons = []
    if nonempty and kish < reliability.MIN_EFFECTIVE_REPLICAS:
        reasons.append(f"{kish:.1f} effective draws of {n} (the rule needs {reliability.MIN_EFFECTIVE_REPLICAS}): "
                       "the cone mass varies too much across hidden draws for an interval on their mean")  # fmt: skip
    interval = statistics.replica_interval(values, confidence) if values.sum() > 0 else None
    if interval is not None and not reasons:
        p, ci, method = interval.mean, (interval.lo, interval.hi), "integrate-log-t"
    elif interval is not None:
        p, ci, method = interval.mean, reliability.markov_lower_bound(interval.mean, confidence), "integrate-markov"
    else:  # every value 0: P(f) <= P(the cone is non-empty), bounded by its Clopper-Pearson upper end
        p, ci, method = 0.0, (0.0, statistics.clopper_pearson(nonempty, n, confidence)[1]), "integrate-upper-bound"
    estimate = Estimate(
        function=name, hits=int(nonempty), n=n, p=p, ci=ci, confidence=confidence, method=method,
        bits=statistics.bits(p), bits_ci=(statistics.bits(ci[1]), statistics.bits(ci[0])), log10_p=statistics.log10(p),
    )  # fmt: skip
    config = dict(config, interval="log-t")
    config.update(method="integrate", targets=[name], measures=[measure.spec],
                  options={"cone_particles": cone_particles, "cone_sweeps": cone_sweeps})  # fmt: skip
    positive = values[values > 0]
    payload = IntegratedPayload(
        method="integrate", algorithm=ALGORITHM, readout_parameters=int(k), exact_cones=bool(k <= 2),
        cone_particles=cone_particles, cone_sweeps=cone_sweeps, draws=n, nonempty_cones=int(nonempty),
        draw_values=[float(v) for v in values] if n <= 100_000 else None,
        log10_cone_range=[float(np.log10(positive.min())), float(np.log10(positive.max()))] if len(positive) else None,
        relative_error=None if interval is None else interval.relative_error, reliable=not reasons,
        unreliable_reasons=reasons, effective_draws=kish,
        max_draw_share=float(values.max() / values.sum()) if values.sum() > 0 else 0.0,
        reliability_rule=f"determined iff the Kish effective number of draws is at least "
        f"{reliability.MIN_EFFECTIVE_REPLICAS}",
    )  # fmt: skip
    return count_result(
        "estimate-integrated", config, seed=seed, chunk_size=per_chunk, samples=n, estimates=(estimate,),
        seconds=seconds, samples_per_s=n / seconds if seconds > 0 else math.inf, device_count=1, extra=payload,
    )  # fmt: skip
