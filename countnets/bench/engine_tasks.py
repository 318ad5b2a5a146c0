"""Engine rows of the counting suite: counts and probabilities with exact or closed-form references.

Every estimate comes from the library's estimators (:func:`countnets.histogram_mc`,
:func:`countnets.estimate_mc`, :func:`countnets.enumerate_exact`); every reference from
:mod:`countnets.bench.references` (NumPy/SciPy, no engine) or from exact enumeration.
``docs/bench.md`` derives each reference and says how agreement is judged.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Mapping
from typing import Any

from countnets.bench import references as refs
from countnets.bench.registry import (
    Agreement,
    Measurement,
    Reference,
    Task,
    binomial_agreement,
    call,
    p_value_agreement,
    register,
)
from countnets.engine.estimators import enumerate_exact, estimate_mc, histogram_mc
from countnets.network import boolean
from countnets.network.architectures import MLP
from countnets.network.priors import Gaussian, Lattice
from countnets.stats import statistics

__all__ = ["TASKS"]


def _int_hist(result) -> dict[int, int]:
    return {int(k, 16): int(v) for k, v in (result.histogram or {}).items()}


def _confidence(config: Mapping[str, Any]) -> float:
    return 1.0 - float(config["alpha"])


def _histogram(prior, arch, config: Mapping[str, Any], seed: int) -> tuple[dict[int, int], Any, str]:
    """The full histogram of functions (no truncation) and the call that made it."""
    kwargs = dict(n_samples=int(config["samples"]), seed=seed, encoding=config["encoding"], top=0, max_distinct=None)
    result = histogram_mc(prior, arch, **kwargs)
    if result.extra.get("other"):
        raise RuntimeError(f"histogram truncated ({result.extra['other']} samples unattributed)")
    return _int_hist(result), result, call("cn.histogram_mc", prior, arch, **kwargs)


# ----------------------------------------------------------------------------- threshold functions


def _threshold_reference(config: Mapping[str, Any]) -> float:
    """A000609(n), checked against the brute-force integer-weight enumeration."""
    n = int(config["n"])
    brute = len(refs.threshold_functions_bruteforce(n))
    if brute != refs.threshold_count(n):
        raise RuntimeError(f"brute force found {brute} threshold functions for n={n}, A000609 says {refs.A000609[n]}")
    return float(refs.threshold_count(n))


def _threshold_measure(config: Mapping[str, Any], seed: int) -> Measurement:
    n = int(config["n"])
    prior, arch = Gaussian(float(config["sigma_w"]), float(config["sigma_b"])), MLP(n, ())
    hist, result, text = _histogram(prior, arch, config, seed)
    non_threshold = sorted(f for f in hist if not refs.is_threshold(f, n))
    singletons = sum(1 for c in hist.values() if c == 1)
    distinct = len(hist)
    return Measurement(
        estimate=float(distinct),
        interval=(float(distinct), float(distinct)),
        confidence=1.0,
        unit="distinct functions seen (an exact lower bound)",
        samples=result.samples,
        evaluations=result.samples,
        call=text,
        details={
            "distinct": distinct,
            "non_threshold_seen": [boolean.to_hex(f) for f in non_threshold],
            "lp_checked": distinct,
            "rarest_count": min(hist.values()),
            "singletons": singletons,
            "unseen_mass_upper": refs.missing_mass_bound(singletons, result.samples, float(config["alpha"])),
        },
    )


def _threshold_agree(m: Measurement, reference: float | None, config: Mapping[str, Any]) -> Agreement:
    bad = m.details["non_threshold_seen"]
    distinct = int(m.details["distinct"])
    ok = not bad and distinct == int(reference or 0)
    note = (
        f"{len(bad)} function(s) seen that the LP rejects"
        if bad
        else ("" if ok else f"{int(reference or 0) - distinct} threshold function(s) not seen")
    )
    return Agreement(
        test="every function seen is LP-feasible, and the count seen equals A000609(n)", passed=ok,
        overlap=distinct == int(reference or 0), note=note,
    )  # fmt: skip


_THRESHOLD_REF = Reference(
    source="exact",
    citation="OEIS A000609 (number of threshold functions of n variables); "
    "checked here by brute force over integer weights |w_i| <= 3",
    claim="a perceptron with bias implements exactly the threshold functions: 104 for n = 3, 1882 for n = 4",
    value=_threshold_reference,
    tolerance="every function seen must pass the LP test and the number seen must equal A000609(n)",
)


def _threshold_task(n: int, quick: int, standard: int) -> Task:
    base = {"n": n, "sigma_w": 1.0, "sigma_b": 1.0, "encoding": "pm1"}
    return Task(
        name=f"threshold-count-n{n}",
        group="engine",
        what=f"distinct functions of a Gaussian perceptron with bias on n = {n} (pm1), from its histogram",
        suites={"quick": {**base, "samples": quick}, "standard": {**base, "samples": standard}},
        measure=_threshold_measure,
        reference=_THRESHOLD_REF,
        agree=_threshold_agree,
    )


# ----------------------------------------------------------------------------- zero-bias perceptron law


def _zero_bias_measure(config: Mapping[str, Any], seed: int) -> Measurement:
    n = int(config["n"])
    prior, arch = Gaussian(float(config["sigma_w"]), 0.0), MLP(n, ())
    hist, result, text = _histogram(prior, arch, config, seed)
    by_ones = Counter()
    for f, c in hist.items():
        by_ones[refs.ones(f)] += c
    law = refs.zero_bias_ones_law(n)
    gof = refs.chi_square_pooled(dict(by_ones), {t: float(p) for t, p in enumerate(law)}, result.samples)
    middle = 2 ** (n - 1)
    hits = by_ones.get(middle, 0)
    conf = _confidence(config)
    lo, hi = statistics.clopper_pearson(hits, result.samples, conf)
    return Measurement(
        estimate=hits / result.samples,
        interval=(lo, hi),
        confidence=conf,
        unit=f"P(t = {middle} ones)",
        samples=result.samples,
        evaluations=result.samples,
        call=text,
        details={
            "hits": hits,
            "n": result.samples,
            "ones_counts": [int(by_ones.get(t, 0)) for t in range(2**n + 1)],
            **gof,
        },
    )


# ----------------------------------------------------------------------------- lattice: exact against sampling


@functools.lru_cache(maxsize=4)
def _exact_lattice(values: tuple[float, ...], n: int, hidden: tuple[int, ...], encoding: str) -> tuple[dict, int]:
    result = enumerate_exact(Lattice(values), MLP(n, hidden), encoding=encoding, top=0, max_distinct=None)
    return _int_hist(result), result.samples


def _lattice_setup(config: Mapping[str, Any]):
    values = tuple(float(v) for v in config["values"])
    return Lattice(values), MLP(int(config["n"]), tuple(config["hidden"])), values


def _lattice_exact_p(config: Mapping[str, Any]) -> float:
    _, arch, values = _lattice_setup(config)
    hist, total = _exact_lattice(values, arch.n, arch.hidden, config["encoding"])
    return hist.get(boolean.parse_function(config["target"], arch.n), 0) / total


def _lattice_point_measure(config: Mapping[str, Any], seed: int) -> Measurement:
    prior, arch, _ = _lattice_setup(config)
    conf = _confidence(config)
    kwargs = dict(n_samples=int(config["samples"]), seed=seed, encoding=config["encoding"], confidence=conf)
    result = estimate_mc(prior, arch, config["target"], **kwargs)
    est = result.estimates[0]
    return Measurement(
        estimate=est.p, interval=est.ci, confidence=conf, unit=f"P({est.function})", samples=result.samples,
        evaluations=result.samples, call=call("cn.estimate_mc", prior, arch, config["target"], **kwargs),
        details={"hits": est.hits, "n": est.n},
    )  # fmt: skip


def _lattice_gof_measure(config: Mapping[str, Any], seed: int) -> Measurement:
    prior, arch, values = _lattice_setup(config)
    hist, result, text = _histogram(prior, arch, config, seed)
    exact, total = _exact_lattice(values, arch.n, arch.hidden, config["encoding"])
    gof = refs.chi_square_pooled(hist, {f: c / total for f, c in exact.items()}, result.samples)
    # The row's number: total variation between the sampled and the exact distributions.
    tv = 0.5 * sum(abs(hist.get(f, 0) / result.samples - exact.get(f, 0) / total) for f in set(hist) | set(exact))
    return Measurement(
        estimate=tv, interval=(math.nan, math.nan), confidence=math.nan, unit="total variation, sampled vs exact",
        samples=result.samples,
        evaluations=result.samples + total, call=text + f"; cn.enumerate_exact(...) over {total:_} configurations",
        details={**gof, "configurations": total, "functions_exact": len(exact), "functions_sampled": len(hist)},
    )  # fmt: skip


_LATTICE = {"values": [-1.0, 0.0, 1.0], "n": 3, "hidden": [2], "encoding": "01"}
_LATTICE_CITATION = "exact enumeration of all 3^11 = 177,147 parameter vectors (cn.enumerate_exact)"


# ----------------------------------------------------------------------------- closed forms


def _point_measure(prior_fn):
    def measure(config: Mapping[str, Any], seed: int) -> Measurement:
        prior, arch = prior_fn(config), MLP(int(config["n"]), ())
        conf = _confidence(config)
        kwargs = dict(n_samples=int(config["samples"]), seed=seed, encoding=config["encoding"], confidence=conf)
        result = estimate_mc(prior, arch, config["target"], **kwargs)
        est = result.estimates[0]
        return Measurement(
            estimate=est.p, interval=est.ci, confidence=conf, unit=f"P({est.function})", samples=result.samples,
            evaluations=result.samples, call=call("cn.estimate_mc", prior, arch, config["target"], **kwargs),
            details={"hits": est.hits, "n": est.n},
        )  # fmt: skip

    return measure


def _n1_prior(config):
    return Gaussian(float(config["sigma_w"]), float(config["sigma_b"]))


def _n1_reference(config) -> float:
    return refs.orthant_n1(float(config["sigma_w"]), float(config["sigma_b"]))[int(config["target"], 16)]


def _n2_prior(config):
    return Gaussian(math.sqrt(2.0), 1.0)


def _n2_reference(config) -> float:
    return refs.isotropic_n2_pm1()[int(config["target"], 16)]


# ----------------------------------------------------------------------------- symmetry invariance


def _symmetry_measure(config: Mapping[str, Any], seed: int) -> Measurement:
    n = int(config["n"])
    prior, arch = Gaussian(float(config["sigma_w"]), float(config["sigma_b"])), MLP(n, tuple(config["hidden"]))
    hist, result, text = _histogram(prior, arch, config, seed)
    stat, dof, used, members = 0.0, 0, 0, 0
    for orb in refs.orbits(sorted(hist, key=lambda f: -hist[f]), n):
        counts = [hist.get(f, 0) for f in orb]
        total = sum(counts)
        expected = total / len(orb)
        if len(orb) < 2 or expected < 5:
            continue
        stat += sum((c - expected) ** 2 / expected for c in counts)
        dof += len(orb) - 1
        used += 1
        members += len(orb)
    from scipy import stats

    p_value = float(stats.chi2.sf(stat, dof)) if dof else 1.0
    a, b = 2 ** (2**n - 1), 1  # AND (only the all-ones point) and NOR (only the all-zeros point)
    na, nb = hist.get(a, 0), hist.get(b, 0)
    ratio, (lo, hi) = statistics.ratio_interval(na, nb, _confidence(config))
    return Measurement(
        estimate=ratio, interval=(lo, hi), confidence=_confidence(config),
        unit=f"P({boolean.to_hex(a)}) / P({boolean.to_hex(b)}) (AND / NOR, one orbit)", samples=result.samples,
        evaluations=result.samples, call=text,
        details={"p_value": p_value, "statistic": stat, "dof": dof, "orbits_tested": used, "functions_tested": members,
                 "hits_and": na, "hits_nor": nb, "distinct": len(hist)},
    )  # fmt: skip


# ----------------------------------------------------------------------------- the tasks

TASKS = [
    register(_threshold_task(3, quick=100_000, standard=1_000_000)),
    register(_threshold_task(4, quick=200_000, standard=4_000_000)),
    register(
        Task(
            name="zero-bias-ones-law",
            group="engine",
            what="number of ones t of a zero-bias Gaussian perceptron's truth table on {0,1}^n",
            suites={
                "quick": {"n": 3, "sigma_w": 1.0, "encoding": "01", "samples": 200_000},
                "standard": {"n": 5, "sigma_w": 1.0, "encoding": "01", "samples": 4_000_000},
            },
            measure=_zero_bias_measure,
            reference=Reference(
                source="closed-form",
                citation="Mingard et al. 2019, 'Neural networks are a priori biased towards Boolean functions with "
                "low entropy', arXiv:1909.11522 (zero-bias perceptron, i.i.d. symmetric weights); n = 2 derived in "
                "docs/bench.md",
                claim="P(t) = 2^-n for t = 0 .. 2^n - 1, P(2^n) = 0",
                value=lambda config: 2.0 ** -int(config["n"]),
                tolerance="chi-square goodness of fit over all 2^n + 1 values of t; pass at p >= alpha",
            ),
            agree=p_value_agreement("chi-square goodness of fit of the ones counts to the uniform law"),
        )
    ),
    register(
        Task(
            name="lattice-exact-vs-mc",
            group="engine",
            what="P(AND) of a 3-2-1 ReLU MLP under the lattice prior {-1, 0, 1}: sampling against enumeration",
            suites={
                "quick": {**_LATTICE, "target": "0x80", "samples": 200_000},
                "standard": {**_LATTICE, "target": "0x80", "samples": 4_000_000},
            },
            measure=_lattice_point_measure,
            reference=Reference(
                source="exact",
                citation=_LATTICE_CITATION,
                claim="the exact configuration fraction implementing AND",
                value=_lattice_exact_p,
                tolerance="exact binomial test at alpha; the exact p should lie in the 99.9% Clopper-Pearson interval",
            ),  # fmt: skip
            agree=binomial_agreement,
        )
    ),
    register(
        Task(
            name="lattice-histogram-gof",
            group="engine",
            what="the whole sampled function histogram of the lattice 3-2-1 MLP against its exact enumeration",
            suites={
                "quick": {**_LATTICE, "samples": 200_000},
                "standard": {**_LATTICE, "samples": 4_000_000},
            },
            measure=_lattice_gof_measure,
            reference=Reference(
                source="exact",
                citation=_LATTICE_CITATION,
                claim="the exact distribution over functions",
                tolerance="chi-square goodness of fit (cells with expected count < 5 pooled); pass at p >= alpha",
            ),  # fmt: skip
            agree=p_value_agreement("chi-square goodness of fit to the exact distribution"),
        )
    ),
    register(
        Task(
            name="closed-form-n1",
            group="engine",
            what="P(x0) of a Gaussian perceptron on n = 1 (encoding 01, sigma_w = 1, sigma_b = 0.5)",
            suites={
                s: {"n": 1, "sigma_w": 1.0, "sigma_b": 0.5, "encoding": "01", "target": "0x2", "samples": k}
                for s, k in (("quick", 200_000), ("standard", 10_000_000))
            },
            measure=_point_measure(_n1_prior),
            reference=Reference(
                source="closed-form",
                citation="bivariate normal orthant probability (Sheppard 1899); derivation in docs/bench.md",
                claim="P(0x2) = 1/4 - arcsin(rho)/(2 pi), rho = sigma_b / sqrt(sigma_w^2 + sigma_b^2)",
                value=_n1_reference,
                tolerance="exact binomial test at alpha",
            ),
            agree=binomial_agreement,
        )
    ),
    register(
        Task(
            name="closed-form-n2",
            group="engine",
            what="P(AND) of a perceptron on n = 2 (pm1) whose (w1, w2, b) is isotropic Gaussian",
            suites={
                s: {"n": 2, "encoding": "pm1", "target": "0x8", "samples": k}
                for s, k in (("quick", 200_000), ("standard", 10_000_000))
            },
            measure=_point_measure(_n2_prior),
            reference=Reference(
                source="closed-form",
                citation="solid angle of a spherical triangle (Girard's theorem); derivation in docs/bench.md",
                claim="P(AND) = (3 arccos(1/3) - pi) / (4 pi) = 0.04387",
                value=_n2_reference,
                tolerance="exact binomial test at alpha",
            ),
            agree=binomial_agreement,
        )
    ),
    register(
        Task(
            name="symmetry-invariance",
            group="engine",
            what="equal volumes within orbits of input permutation, input negation and output negation (pm1 MLP)",
            suites={
                "quick": {"n": 3, "hidden": [8], "sigma_w": 1.0, "sigma_b": 1.0, "encoding": "pm1", "samples": 200_000},
                "standard": {
                    "n": 4,
                    "hidden": [8],
                    "sigma_w": 1.0,
                    "sigma_b": 1.0,
                    "encoding": "pm1",
                    "samples": 4_000_000,
                },
            },  # fmt: skip
            measure=_symmetry_measure,
            reference=Reference(
                source="exact",
                citation="symmetry of the prior: i.i.d. zero-mean Gaussian weights are invariant under permuting or "
                "negating rows of W1 and negating the output layer (docs/bench.md)",
                claim="P(f) = P(g) for f, g in one orbit; in particular P(AND) / P(NOR) = 1",
                value=1.0,
                tolerance="chi-square homogeneity within every orbit with >= 5 expected per function, summed; "
                "pass at p >= alpha",
            ),
            agree=p_value_agreement("chi-square homogeneity within orbits (summed over orbits)"),
        )
    ),
]
