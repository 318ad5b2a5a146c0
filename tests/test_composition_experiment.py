"""``countnets experiment composition`` (issue 15): a tiny quick variant, the zero-hits check, the CLI."""

import json
import math

import jax
import numpy as np
import pytest
from repo_script import load_script

import countnets as cn
from countnets.cli import main
from countnets.engine import checkpoint as checkpoint_lib
from countnets.engine import estimators
from countnets.experiments.composition import (
    composition_experiment,
    depth_counts,
    format_composition,
    rows_from_histogram,
)
from countnets.measures import composition as C
from countnets.network.priors import Gaussian, Lattice
from countnets.stats import tolerance
from countnets.stats.statistics import clopper_pearson, ratio_of_means, replica_interval


def test_quick_variant_rows_and_json_round_trip(tmp_path):
    r = composition_experiment(Gaussian(1.0, 1.0), n_values=[4], d=8, blocks=[3], widths=[2],
                               branch_scales="1,0.25", n_samples=2048, chunk_size=1024, seed=3)  # fmt: skip
    rows = r.extra["rows"]
    # 6 parity4 forms (serial-2 included) + 3 xor-and-xor forms fit in (d=8, L=3, w=2), for each of 2 branch scales
    assert len(rows) == 18
    assert {(x["target"], x["form"]) for x in rows} == {(f.target, f.name) for f in C.FORMS}
    for x in rows:
        assert x["samples"] == 2048 and x["min_depth"] == 1 and x["one_hidden_layer"]
        assert set(x["kstar_given_f"]) == {"0", "1", "2", "3"}
        assert sum(v["hits"] for v in x["kstar_given_f"].values()) == x["p"]["hits"]
        # the upper end of P(f) is the Clopper-Pearson bound, even at zero hits
        assert x["p"]["ci"][1] >= 1 - 0.05 ** (1 / 2048) - 1e-12 if x["p"]["hits"] == 0 else True
        assert x["needs_splitting"] == (x["p"]["hits"] == 0 or x["p"]["ci"][1] / x["p"]["ci"][0] > 2)
    pairs = {x["pair"]: x["placement_null_ratio"] for x in rows if x.get("pair")}
    assert pairs == {"tree/chain": 2.0, "tree-w1/chain-w1": 5.0, "parallel/serial": 2.0}
    assert r.extra["bound_violations"] == 0 and r.extra["kstar0_nonthreshold"] == 0
    assert len(r.extra["checks"]) == 4
    path = tmp_path / "c.json"
    cn.save_json(r, path)
    back = cn.load_json(path)
    assert back.extra == r.extra
    assert "zero-hits check passed" in format_composition(back)


def test_rows_from_a_planted_histogram():
    # A histogram made by hand: 30 networks implement parity4 with k* = 2 (Hamming 8 at order 1), 10 with k* = 3
    # (Hamming 1 at order 2), 5 with k* = 1; the ratio tree/chain is 30/10 with the exact conditional interval.
    n, L, span = 4, 3, 17
    f = int(sum(1 << j for j in range(16) if C.target_table("parity4", 4)[j]))
    code = lambda k, s, h: (k * (L + 1) + s) * span + h  # noqa: E731
    hist = {(f, code(2, 2, 8)): 30, (f, code(3, 3, 1)): 10, (f, code(1, 1, 7)): 5, (0, code(0, 0, 0)): 955}
    checks = []
    rows = rows_from_histogram(hist, n=n, d=8, L=L, w=2, arch=cn.ResMLP(4, 8, 3, 2), spec="1", samples=1000,
                               targets=["parity4"], confidence=0.95, method="clopper-pearson", stopped_by="samples",
                               seconds=0.0, checks=checks)  # fmt: skip
    tree = next(x for x in rows if x["form"] == "tree")
    assert tree["p"]["hits"] == 45 and tree["p_form"]["hits"] == 30
    assert tree["kstar_given_f"]["2"]["p"] == pytest.approx(30 / 45)
    lo, hi = cn.clopper_pearson(30, 45)
    assert tree["kstar_given_f"]["2"]["ci"] == pytest.approx([lo, hi])
    assert tree["hamming"] == {"1": [0] * 7 + [5] + [0] * 9, "2": [0] * 8 + [30] + [0] * 8,
                               "3": [0, 10] + [0] * 15}  # fmt: skip
    est, (rlo, rhi) = cn.ratio_interval(30, 10)
    assert tree["ratio"]["estimate"] == est == 3.0 and tree["ratio"]["ci"] == pytest.approx([rlo, rhi])
    assert tree["placement_null_ratio"] == 2.0 and checks[0]["below"] == 0
    # a network with k* = 0 implementing parity4 would break the bound, and is counted, not dropped
    checks = []
    rows_from_histogram({(f, code(0, 0, 0)): 1}, n=n, d=8, L=L, w=2, arch=cn.ResMLP(4, 8, 3, 2), spec="1",
                        samples=1, targets=["parity4"], confidence=0.95, method="clopper-pearson",
                        stopped_by="samples", seconds=0.0, checks=checks)  # fmt: skip
    assert checks[0]["below"] == 1


def test_lattice_enumeration_respects_the_lower_bound():
    # Every configuration of ResMLP(4, d=1, L=3, w=1) on the lattice {-1, 1} (2**16 networks): no network
    # with k* = 0 computes a non-threshold function (the lower bound 1 of both targets), and no network
    # implementing a target has k* below its bound. This lattice has no network implementing either target.
    r = composition_experiment(Lattice((-1.0, 1.0)), n_values=[4], d=1, blocks=[3], widths=[1], branch_scales="1",
                               exact=True, chunk_size=4096)  # fmt: skip
    assert r.extra["kstar0_nonthreshold"] == 0 and r.extra["bound_violations"] == 0
    assert [c["hits"] for c in r.extra["checks"]] == [0, 0]
    assert r.extra["rows"] == []


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"estimator": "splitting", "n_samples": 10}, "n_samples is a Monte Carlo option"),
        ({"estimator": "splitting", "exact": True}, "exact enumeration is a Monte Carlo option"),
        ({"estimator": "splitting", "splitting_options": {"particle": 5}}, "unknown splitting options"),
        ({"estimator": "splitting", "splitting_options": {"replicas": 1}}, "replicas >= 2"),
        ({"estimator": "splitting", "splitting_options": {"sweeps": 0}}, "sweeps"),
        ({"estimator": "mc", "n_samples": 10, "splitting_options": {"replicas": 4}}, "estimator='splitting' only"),
        ({"estimator": "importance", "n_samples": 10}, "estimator must be one of"),
    ],
)
def test_bad_estimator_options_are_refused_with_a_clear_error(kwargs, match):
    with pytest.raises(cn.CountnetsError, match=match):
        composition_experiment(Gaussian(1.0, 1.0), **kwargs)


def test_splitting_depth_profile_agrees_with_rejection_sampling():
    # AND of 3 in ResMLP(3, 4, 3, 1): P(f) ~ 4e-3, with k* spread over 0..3, so plain Monte
    # Carlo reaches it too. P(f) and every P(k* = k | f) from splitting's final populations
    # must agree with rejection sampling: their 99.9% intervals overlap.
    arch, f, conf = cn.ResMLP(3, 4, 3, 1), 0x80, 0.999
    pop = cn.sample_rare(Gaussian(), arch, cn.measures.implements(f), seed=5, replicas=8, particles=128)
    est = pop.result.estimates[0]
    c = depth_counts(pop, arch, f).sum(axis=2)  # (replicas, k)
    joint = pop.weights[:, None] * c / pop.theta.shape[1]
    source = estimators.sampling_source(Gaussian(), arch, 8192)
    depth = cn.measures.effective_depth()
    keys = jax.jit(jax.vmap(lambda t: depth.key(arch, arch.unflatten(t), cn.cube(3), "highest")))
    draw = jax.jit(source.params)
    mc = np.zeros(arch.L + 1, np.int64)
    for chunk in range(6):
        k = np.asarray(keys(draw(jax.random.PRNGKey(11), chunk))).reshape(-1, 3)
        hit = k[:, 1] == f
        mc += np.bincount(k[hit, 2] // (2**3 + 1) // (arch.L + 1), minlength=arch.L + 1)
    n_mc = 6 * 8192
    lo, hi = clopper_pearson(int(mc.sum()), n_mc, conf)
    s_lo, s_hi = replica_interval(pop.weights, conf).lo, replica_interval(pop.weights, conf).hi
    assert s_lo <= hi and lo <= s_hi, ((s_lo, s_hi), (lo, hi))
    for k in range(arch.L + 1):
        p, r_lo, r_hi = ratio_of_means(joint[:, k], pop.weights, conf)
        m_lo, m_hi = clopper_pearson(int(mc[k]), int(mc.sum()), conf)
        assert r_lo <= m_hi and m_lo <= r_hi, (k, (r_lo, r_hi), (m_lo, m_hi))
    assert est.p > 0 and mc[1] > 25  # both reached, with a spread of k*


def test_splitting_rows_cli_checkpoint_and_resume(tmp_path):
    # Two (alpha) groups with a checkpoint. A rerun on the intact checkpoint computes nothing and gives the same
    # rows; one cut back to the first group resumes there (here stopped at once by --max-seconds, so it reports
    # the first group's rows from the checkpoint). A resumed group draws from splitting_seed(seed, index), a
    # function of its index only, so it repeats what the uninterrupted run computed.
    ckpt, a, b, c = (tmp_path / name for name in ("c.ckpt", "a.json", "b.json", "c.json"))
    argv = ["experiment", "composition", "--method", "splitting", "--n", "4", "--blocks", "2", "--block-width",
            "2", "--branch-scale", "1,0.25", "--targets", "xor-and-xor", "--replicas", "2", "--particles", "8",
            "--max-levels", "1", "--sweeps", "1", "--quiet", "--checkpoint", str(ckpt)]  # fmt: skip
    assert main([*argv, "--json", str(a)]) == 0
    first = json.loads(a.read_text())
    rows = first["rows"]
    assert [r["form"] for r in rows] == ["parallel", "serial", "parallel-w1"] * 2
    for r in rows:
        assert r["estimator"] == "splitting" and r["splitting"]["replicas"] == 2
        assert r["splitting"]["pilot_status"] in ("reached", "max_levels", "stalled")
        assert r["p"]["method"] in ("splitting-log-t", "splitting-upper-bound")
    assert first["splitting_run"]["groups_done"] == 2 and first["bound_violations"] == 0
    assert main([*argv, "--json", str(b)]) == 0
    assert json.loads(b.read_text())["rows"] == rows
    saved = json.loads(ckpt.read_text())
    state = saved["state"]
    cut = {**state, "done": 1, "rows": state["rows"][:3], "checks": state["checks"][:1]}
    checkpoint_lib.save(checkpoint_lib.Checkpoint(ckpt, saved["fingerprint"]), next_chunk=1, samples=1,
                        seconds=1.0, stopped_by="running", state=cut)  # fmt: skip
    assert main([*argv, "--max-seconds", "1e-9", "--json", str(c)]) == 0
    resumed = json.loads(c.read_text())
    assert resumed["rows"] == rows[:3] and resumed["stopped_by"] == "time"
    assert resumed["splitting_run"] == {**first["splitting_run"], "stopped_by": "time", "groups_done": 1}
    assert main(["experiment", "composition", "--particles", "20"]) == 2  # a splitting option with --method mc


def test_cli(tmp_path, capsys):
    out = tmp_path / "c.json"
    code = main(["experiment", "composition", "--n", "5", "--blocks", "2", "--block-width", "2",
                 "--branch-scale", "invsqrt", "--targets", "xor-and-xor", "--samples", "1024", "--chunk-size",
                 "1024", "--json", str(out)])  # fmt: skip
    assert code == 0
    data = json.loads(out.read_text())
    rows = data["rows"]
    assert [x["form"] for x in rows] == ["parallel", "serial", "parallel-w1"]
    assert rows[0]["branch_scale"] == pytest.approx(1 / math.sqrt(2))
    assert "placement null" in capsys.readouterr().out
    assert main(["experiment", "composition", "--n", "4", "--targets", "nope"]) == 2
    assert np.isfinite(rows[0]["placement_null_ratio"])


def test_docs_quote_the_committed_run():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    r = cn.load_json(root / "results" / "composition.json")
    page = (root / "docs" / "composition.md").read_text()
    checks = r.extra["checks"]
    assert len(checks) == 24 and all(c["hits"] == 0 and c["below"] == 0 for c in checks)
    assert r.samples == 8_000_000 and r.extra["bound_violations"] == 0 and r.extra["kstar0_nonthreshold"] == 0
    assert {f"{x['p']['ci'][1]:.3g}" for x in r.extra["rows"]} == {"1.84e-06"}
    assert all(x["needs_splitting"] and x["min_depth"] == 1 and x["one_hidden_layer"] for x in r.extra["rows"])
    assert "1.84e-06" in page and "8,000,000 networks" in page and "24\n(target, L, w, alpha) cells" in page


def test_docs_quote_the_second_run():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    r = cn.load_json(root / "results" / "composition_L2_L8.json")
    page = (root / "docs" / "composition.md").read_text()
    checks = r.extra["checks"]
    assert len(checks) == 36 and all(c["hits"] == 0 and c["below"] == 0 for c in checks)
    assert r.extra["bound_violations"] == 0 and r.extra["kstar0_nonthreshold"] == 0
    uppers = {(x["blocks"], x["w"]): f"{x['p']['ci'][1]:.3g}" for x in r.extra["rows"]}
    assert uppers.pop((8, 1)) == "1.32e-05" and set(uppers.values()) == {"3.69e-06"}
    assert {x["samples"] for x in r.extra["rows"] if (x["blocks"], x["w"]) == (8, 1)} == {278_528}
    assert {x["form"] for x in r.extra["rows"] if (x["blocks"], x["w"]) == (2, 1)} == {"parallel-w1"}
    assert "3.69e-06" in page and "1.32e-05" in page and "278,528" in page and "36 (target, L, w, alpha)" in page


def test_docs_table_is_the_committed_splitting_runs():
    # docs/composition.md's splitting table is scripts/composition_figure.py's output on the committed JSON,
    # and the runs passed the zero-hits check.
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    script = load_script("scripts/composition_figure.py")
    rows = script.group_rows()
    assert len(rows) == 16 and {r["estimator"] for r in rows} == {"splitting"}
    # The Holm p column is recomputed (scipy t): equal to the page within countnets.stats.tolerance's rule for text.
    table = script.markdown(rows)
    page = (root / "docs" / "composition.md").read_text()
    header = table.splitlines()[0]
    assert header in page
    start = page.index(header)
    committed = page[start : start + len(table) + 200].splitlines()[: len(table.splitlines())]
    assert tolerance.text_mismatches("\n".join(committed), table.rstrip("\n")) == []
    for name in script.RUNS:
        r = cn.load_json(root / "results" / name)
        assert r.extra["bound_violations"] == 0 and r.extra["kstar0_nonthreshold"] == 0
        assert r.extra["splitting_run"]["groups_done"] == r.extra["splitting_run"]["groups"]
