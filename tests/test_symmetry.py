"""Symmetries of the prior: functions in one class have equal volumes (exact and Monte Carlo checks)."""

import itertools

import numpy as np
import pytest
from scipy import stats

import countnets as cn
from countnets.experiments.serial_parallel import serial_parallel
from countnets.network import symmetry
from countnets.stats import statistics

NPN = symmetry.Symmetry()


@pytest.mark.parametrize(
    "n, sym, count",
    [
        (2, NPN, 4),
        (3, NPN, 14),  # the NPN classes of 3-input functions
        (4, NPN, 222),
        (3, symmetry.Symmetry(input_negation=False), 40),
        (3, symmetry.Symmetry(output_negation=False), 22),
        (3, symmetry.Symmetry(input_negation=False, output_negation=False), 80),
    ],
)
def test_number_of_classes_matches_the_known_counts(n, sym, count):
    classes = symmetry.classes(n, sym)
    assert len(classes) == count
    members = [f for m in classes.values() for f in m]
    assert sorted(members) == list(range(2 ** (2**n)))  # a partition of every function


def test_group_of_three_inputs_has_96_elements_and_acts_on_tables_as_defined():
    group = list(symmetry.transforms(3))
    assert len(group) == 96 and group[0] == ((0, 1, 2), 0, False)
    # Written from the definition: g(x) = f(y), y_i = x_perm[i] XOR mask_i, on the cube order x_i = (j >> i) & 1.
    rng = np.random.default_rng(0)
    for f in rng.integers(0, 256, 12).tolist():
        for perm, mask, neg in group[::7]:
            expected = 0
            for j in range(8):
                y = sum((((j >> perm[i]) & 1) ^ ((mask >> i) & 1)) << i for i in range(3))
                expected |= (((f >> y) & 1) ^ int(neg)) << j
            assert symmetry.apply(f, 3, perm, mask, neg) == expected


def test_named_functions_fall_in_the_expected_classes():
    t = {name: cn.parse_function(name, 3) for name in ("and", "or", "majority", "x0", "parity")}
    assert symmetry.canonical(t["and"], 3) == symmetry.canonical(t["or"], 3)
    assert len(symmetry.orbit(t["x0"], 3)) == 6  # the six literals
    assert symmetry.orbit(t["parity"], 3) == sorted({t["parity"], 0xFF ^ t["parity"]})
    assert symmetry.orbit(0, 3) == [0, 0xFF]
    # Without output negation AND and OR are still related (negate every input: AND -> NOR, not OR).
    assert symmetry.canonical(t["and"], 3, symmetry.Symmetry(output_negation=False)) != symmetry.canonical(
        t["or"], 3, symmetry.Symmetry(output_negation=False)
    )


def test_prior_symmetry_follows_the_derivation():
    g = {"prior": "gaussian", "sigma_w": 1.0, "sigma_b": 0.5}
    assert symmetry.prior_symmetry(g, "pm1") == NPN
    assert symmetry.prior_symmetry(g, "01") == symmetry.Symmetry(input_negation=False)
    assert symmetry.prior_symmetry({"prior": "uniform", "bound": 1.0}, "pm1") == NPN
    lat = {"prior": "lattice", "values": [-1.0, 0.0, 1.0]}
    assert symmetry.prior_symmetry(lat, "pm1") == symmetry.Symmetry(output_negation=False)
    skew = {"prior": "lattice", "values": [0.0, 1.0]}
    assert symmetry.prior_symmetry(skew, "pm1") == symmetry.Symmetry(input_negation=False, output_negation=False)


def _exact_kstar_counts(encoding):
    # 3^12 = 531,441 configurations of ResMLP(3, d=1, L=2, w=1) on {-1, 0, 1}; integer arithmetic, so exact.
    r = serial_parallel(cn.Lattice((-1.0, 0.0, 1.0)), n=3, d=1, w=1, blocks=[2], targets="all", exact=True,
                        encoding=encoding)  # fmt: skip
    entry = r.extra["results"][0]
    return {int(t["function"], 16): tuple(t["kstar_counts"]) for t in entry["per_target"]}, r


def test_exact_enumeration_gives_equal_volumes_and_depth_counts_across_each_class():
    # pm1 encoding, sign-symmetric lattice: permuting and negating inputs maps configurations one to one
    # (negate or permute rows of E) and leaves every path-order output unchanged, so P(f, k* = k) is the
    # same integer count for every f of a class.
    counts, result = _exact_kstar_counts("pm1")
    sym = symmetry.prior_symmetry(result.config["prior"], "pm1")
    assert sym == symmetry.Symmetry(output_negation=False)
    classes = symmetry.classes(3, sym)
    assert len(classes) == 22
    seen_classes = 0
    for members in classes.values():
        values = {counts.get(f, (0, 0, 0)) for f in members}
        assert len(values) == 1, members
        seen_classes += values != {(0, 0, 0)}
    assert seen_classes >= 5  # the check is not vacuous
    # Output negation is not a symmetry of a lattice prior: y = 0 reads as bit 0 both ways.
    assert counts[0x00] != counts[0xFF]


def test_input_negation_is_not_a_symmetry_with_the_01_encoding():
    counts, _ = _exact_kstar_counts("01")
    perm_only = symmetry.Symmetry(input_negation=False, output_negation=False)
    for members in symmetry.classes(3, perm_only).values():
        assert len({counts.get(f, (0, 0, 0)) for f in members}) == 1
    broken = [m for m in symmetry.classes(3, symmetry.Symmetry(output_negation=False)).values()
              if len({counts.get(f, (0, 0, 0)) for f in m}) > 1]  # fmt: skip
    assert broken  # so the exact test above can fail


def test_monte_carlo_volumes_are_homogeneous_within_each_class_under_a_gaussian_prior():
    # Gaussian prior, pm1: all three generators hold, output negation up to a null set (y = 0).
    result = cn.histogram_mc(cn.Gaussian(1.0, 1.0), cn.MLP(3, (8,)), n_samples=200_000, seed=3, encoding="pm1",
                             top=None)  # fmt: skip
    hist = {int(k, 16): v for k, v in result.histogram.items()}
    sym = symmetry.prior_symmetry(cn.Gaussian(1.0, 1.0).config(), "pm1")
    assert sym == NPN
    pvalues = []
    for members in symmetry.classes(3, sym).values():
        hits = np.array([hist.get(f, 0) for f in members])
        if len(members) > 1 and hits.sum() >= 5 * len(members):
            # Conditional on the class total, members are equally likely: a chi-square test of uniformity.
            pvalues.append(stats.chisquare(hits).pvalue)
    assert len(pvalues) >= 8
    assert statistics.holm(pvalues).min() > 0.001
    # The library's own exact ratio interval for two members of one class (AND and OR) contains 1.
    ratio, (lo, hi) = statistics.ratio_interval(hist[0x80], hist[0xFE], 0.999)
    assert lo < 1 < hi, (ratio, lo, hi)


def test_apply_rejects_bad_input():
    with pytest.raises(cn.CountnetsError, match="permutation"):
        symmetry.apply(1, 3, (0, 0, 1), 0, False)
    with pytest.raises(cn.CountnetsError, match="n must be an int in 1..4"):
        symmetry.classes(5)
    with pytest.raises(cn.CountnetsError, match=r"int in \[0, 2\^8\)"):
        symmetry.apply(256, 3, (0, 1, 2), 0, False)


def test_transforms_respect_the_flags():
    for sym in (symmetry.Symmetry(*flags) for flags in itertools.product((False, True), repeat=3)):
        group = list(symmetry.transforms(3, sym))
        assert len(group) == (6 if sym.input_permutation else 1) * (8 if sym.input_negation else 1) * (
            2 if sym.output_negation else 1
        )


@pytest.mark.parametrize("module", ["stats/statistics.py", "network/symmetry.py"])
def test_statistics_and_symmetry_import_no_jax(module):
    # Layering: statistics and symmetry are plain NumPy/SciPy, usable without jax.
    import ast
    from pathlib import Path

    tree = ast.parse((Path(cn.__file__).parent / module).read_text())
    names = [a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names]
    names += [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    allowed = ("__future__", "collections", "dataclasses", "itertools", "math", "typing", "numpy", "scipy",
               "countnets._errors", "countnets.records", "countnets.defaults",
               # the other stats modules, which tests/test_layers.py holds to the same rule
               "countnets.stats.distributions", "countnets.stats.multiplicity")  # fmt: skip
    assert all(n.split(".")[0] in allowed or n in allowed for n in names), names
