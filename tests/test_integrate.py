"""The readout integrated (countnets.engine.integrate, ``estimate_mc(readout="integrate")``) against plain Monte Carlo.

Conditional Monte Carlo averages, over prior draws of the hidden layers, the Gaussian
mass of the cone of readouts that implement f (:mod:`countnets.engine.cones`). Its estimate is
unbiased, so where plain Monte Carlo reaches it the two 99.9% intervals must overlap; the
perceptron (all readout) must cover the AND_n reference of ``countnets.bench.references``.
"""

import json

import pytest

import countnets as cn
from countnets import measures as M
from countnets.bench.references import perceptron_and_pm1
from countnets.cli import main
from countnets.network.architectures import readout_indices

GAUSS = cn.Gaussian(1.0, 1.0)
CONFIDENCE = 0.999
CASES = [
    (cn.MLP(3, (2,)), "and"),  # 3 readout parameters: HDR replicas
    (cn.MLP(2, (1,)), "0x8"),  # 2 readout parameters: exact sectors
    (cn.ResMLP(3, 4, 2, 1, 1.0), "and"),  # the residual stream's readout
]


def _overlap(a, b):
    return a.ci[0] <= b.ci[1] and b.ci[0] <= a.ci[1]


@pytest.mark.parametrize("arch, f", CASES, ids=["mlp-3-2-1", "mlp-2-1-1", "resmlp"])
def test_integrated_agrees_with_plain_monte_carlo(arch, f):
    kw = dict(seed=0, encoding="pm1", confidence=CONFIDENCE)
    integrated = cn.estimate_mc(GAUSS, arch, f, n_samples=400, readout="integrate", **kw)
    plain = cn.estimate_mc(GAUSS, arch, f, n_samples=1 << 20, **{**kw, "seed": 1})
    e, m = integrated.estimates[0], plain.estimates[0]
    assert integrated.extra.reliable and e.method == "integrate-log-t"
    assert m.hits >= 100 and _overlap(e, m), (e, m)
    assert integrated.extra.exact_cones == (arch.n_params - readout_indices(arch)[0] <= 2)


def test_the_perceptron_integrates_to_the_and_reference():
    r = cn.estimate_mc(GAUSS, cn.MLP(5, ()), "and", n_samples=48, seed=0, encoding="pm1", confidence=0.99,
                       readout="integrate")  # fmt: skip
    p, se = perceptron_and_pm1(5, 1.0, 1.0, samples=1 << 20)
    e = r.estimates[0]
    assert r.extra.nonempty_cones == 48 and r.extra.reliable
    assert e.ci[0] <= p + 3.3 * se and p - 3.3 * se <= e.ci[1], (e, p, se)


def test_draws_do_not_depend_on_the_chunk_size():
    arch = cn.MLP(3, (2,))
    a = cn.estimate_mc(GAUSS, arch, "0x7", n_samples=40, seed=3, encoding="pm1", readout="integrate")
    b = cn.estimate_mc(GAUSS, arch, "0x7", n_samples=40, seed=3, encoding="pm1", readout="integrate", chunk_size=7)
    assert a.extra.draw_values == b.extra.draw_values and a.estimates == b.estimates


def test_a_few_heavy_draws_are_not_determined():
    # Parity of 3 through 3 hidden units: the cone is non-empty on a few draws (about 1 in 500),
    # with masses orders of magnitude apart, so the rule refuses an interval.
    r = cn.estimate_mc(GAUSS, cn.MLP(3, (3,)), "0x96", n_samples=2000, seed=0, encoding="pm1", readout="integrate")
    e = r.extra
    assert r.estimates[0].p > 0 and not e.reliable and e.effective_draws < 30
    assert r.estimates[0].method == "integrate-markov" and r.estimates[0].ci[1] == 1.0


def test_json_round_trip(tmp_path):
    r = cn.estimate_mc(GAUSS, cn.MLP(2, (1,)), "0x8", n_samples=50, seed=0, encoding="pm1", readout="integrate")
    path = tmp_path / "r.json"
    cn.save_json(r, path)
    assert json.loads(path.read_text())["method"] == "integrate"
    back = cn.load_json(path)
    assert back == r and type(back.extra).__name__ == "IntegratedPayload"


def test_command_line_equals_the_library(tmp_path):
    path = tmp_path / "r.json"
    args = ["estimate", "--n", "2", "--hidden", "1", "--prior", "gaussian", "--encoding", "pm1", "--targets",
            "0x8", "--readout", "integrate", "--samples", "50", "--quiet", "--json", str(path)]  # fmt: skip
    assert main(args) == 0
    ref = cn.estimate_mc(GAUSS, cn.MLP(2, (1,)), "0x8", n_samples=50, seed=0, encoding="pm1", readout="integrate")
    assert cn.load_json(path).estimates == ref.estimates


@pytest.mark.parametrize(
    "call, phrase",
    [
        (lambda: cn.estimate_mc(cn.Lattice((-1.0, 0.0, 1.0)), cn.MLP(2, (1,)), "and", n_samples=10,
                                readout="integrate"), "needs a Gaussian readout"),  # fmt: skip
        (lambda: cn.estimate_mc(GAUSS, cn.MLP(2, (1,)), M.unit_dead(0, 0), n_samples=10, readout="integrate"),
         "cone in the readout"),
        (lambda: cn.estimate_mc(GAUSS, cn.MLP(2, (1,)), "and", n_samples=10, readout="exact"), "readout must be"),
        (lambda: cn.estimate_mc(GAUSS, cn.MLP(2, (1,)), "and", n_samples=10, readout="integrate",
                                rel_halfwidth=0.1), "does not take rel_halfwidth"),  # fmt: skip
        (lambda: cn.estimate_mc(GAUSS, cn.MLP(2, (1,)), ["and", "or"], n_samples=10, readout="integrate"),
         "one measure at a time"),
        (lambda: cn.estimate_mc(GAUSS, cn.MLP(2, (1,)), "and", readout="integrate"), "needs n_samples"),
    ],
)
def test_bad_input_is_refused_with_one_line(call, phrase):
    with pytest.raises(cn.CountnetsError, match=phrase) as err:
        call()
    assert "\n" not in str(err.value)


def test_exact_enumeration_with_the_readout_integrated_is_refused(capsys):
    args = ["estimate", "--n", "2", "--hidden", "1", "--prior", "lattice", "--values", "-1,0,1", "--targets", "and",
            "--readout", "integrate", "--exact", "--quiet"]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "--readout integrate" in err and len(err.splitlines()) == 1, err


def test_splitting_with_the_readout_integrated_is_refused_on_the_command_line(capsys):
    args = ["estimate", "--n", "2", "--hidden", "1", "--prior", "gaussian", "--targets", "and", "--method",
            "splitting", "--readout", "integrate", "--quiet"]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "not built yet" in err and len(err.splitlines()) == 1


def test_docs_table_is_the_committed_benchmark():
    import importlib.util
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("integrated_readout", root / "benchmarks" / "integrated_readout.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    report = json.loads((root / "benchmarks" / "results" / "integrated-readout-cpu-2026-12-07.json").read_text())
    assert script.markdown(report) in (root / "docs" / "rare-events.md").read_text()
    # Every case's two intervals overlap, as the page says.
    assert all(case["overlap"] for case in report["cases"].values())


def test_splitting_with_the_readout_integrated_covers_the_and_perceptron():
    # For a perceptron the whole network is the readout: estimate_rare(readout="integrate") is replicas of the
    # cone's mass (HDR), under the reliability rule; its 99% interval must hold AND_6's reference.
    r = cn.estimate_rare(GAUSS, cn.MLP(6, ()), "and", seed=0, encoding="pm1", replicas=48, particles=128,
                         confidence=0.99, readout="integrate")  # fmt: skip
    p, se = perceptron_and_pm1(6, 1.0, 1.0, samples=1 << 20)
    e = r.estimates[0]
    assert r.extra.reliable and e.ci[0] <= p + 3.3 * se and p - 3.3 * se <= e.ci[1], (e, p, se)
    with pytest.raises(cn.CountnetsError, match="does not take move, rel_halfwidth"):
        cn.estimate_rare(GAUSS, cn.MLP(8, ()), "and", readout="integrate", rel_halfwidth=0.1, move="pcn")
    with pytest.raises(cn.CountnetsError, match="built for a perceptron"):
        cn.estimate_rare(GAUSS, cn.MLP(2, (1,)), "and", readout="integrate")


def test_perceptron_from_the_command_line_with_either_method(tmp_path):
    base = ["estimate", "--n", "4", "--hidden", "none", "--prior", "gaussian", "--encoding", "pm1", "--targets",
            "and", "--readout", "integrate", "--quiet"]  # fmt: skip
    for method, size in (("mc", ["--samples", "32"]), ("splitting", ["--replicas", "32", "--particles", "64"])):
        path = tmp_path / f"{method}.json"
        assert main([*base, "--method", method, *size, "--json", str(path)]) == 0
        assert cn.load_json(path).extra["method"] == "integrate"
