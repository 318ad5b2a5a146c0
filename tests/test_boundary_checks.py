"""Checks at the public boundary (issue 24, items 5, 6 and 7).

* Item 5: every front end checks its arguments' types and raises a ``CountnetsTypeError``
  (a ``CountnetsError`` and a ``TypeError``) saying what it received, never a bare
  ``AttributeError`` from deep inside; ``histogram_mc(where="and")`` means ``implements(and)``.
* Item 6: a splitting checkpoint whose counts no run can produce is refused on resume even
  with its sha256 content hash recomputed, with a one-line message naming what is wrong.
* Item 7: a prior scale above ``countnets.network.priors.MAX_SCALE`` (whose float32 forward pass
  would overflow) is refused at construction, naming the parameter and the value.
"""

import json
import shutil

import numpy as np
import pytest
from plain_session import run_cases

import countnets as cn
from countnets import cli
from countnets import measures as M
from countnets.engine import checkpoint
from countnets.network.priors import MAX_SCALE
from countnets.rare.replicas import ReplicaAccumulator

PRIOR, ARCH = cn.Gaussian(), cn.MLP(3, (4,))
LATTICE, LATTICE_ARCH = cn.Lattice((-1.0, 0.0, 1.0)), cn.MLP(3, (2,))
AND = M.implements("and")


# ----------------------------------------------------------------------------- item 5: types at the boundary

# Under pytest the runtime type checker (beartype, on every countnets function) stops a wrong
# type before countnets' own checks run, so what a user sees is checked in a plain Python
# process, as in tests/test_api.py. Each case records (type, is TypeError, is CountnetsError, message).
USER_SESSION = r"""
import json
import countnets as cn
from countnets import measures as M
from countnets.rare import splitting
from countnets.results import to_json

prior, arch, lattice, AND = cn.Gaussian(), cn.MLP(3, (4,)), cn.Lattice((-1.0, 0.0, 1.0)), M.implements("and")
result = cn.estimate_mc(prior, arch, "and", n_samples=8, chunk_size=8)
fronts = {
    "estimate_mc": lambda p, a: cn.estimate_mc(p, a, "and", n_samples=8),
    "histogram_mc": lambda p, a: cn.histogram_mc(p, a, n_samples=8),
    "enumerate_exact": lambda p, a: cn.enumerate_exact(p, a),
    "estimate_rare": lambda p, a: cn.estimate_rare(p, a, "and"),
    "sample_rare": lambda p, a: cn.sample_rare(p, a, "and"),
    "run_pilot": lambda p, a: splitting.run_pilot(p, a, "and"),
}
cases = {"issue": lambda: cn.estimate_rare(cn.Gaussian(), "mlp", "and", seed=0)}
for name, front in fronts.items():
    cases[f"{name}(arch, prior)"] = lambda front=front: front(arch, prior)
    cases[f"{name}(lattice, 'mlp')"] = lambda front=front: front(lattice, "mlp")
for label, bad in {"None": None, "1.5": 1.5, "True": True, "object": object()}.items():
    cases[f"estimate_mc measures={label}"] = lambda bad=bad: cn.estimate_mc(prior, arch, bad, n_samples=8)
    cases[f"estimate_mc measures=[AND, {label}]"] = lambda bad=bad: cn.estimate_mc(prior, arch, [AND, bad], n_samples=8)
    cases[f"estimate_rare measure={label}"] = lambda bad=bad: cn.estimate_rare(prior, arch, bad)
    cases[f"sample_rare measure={label}"] = lambda bad=bad: cn.sample_rare(prior, arch, bad)
    if bad is not None:  # None means: no restriction, no conditional histogram
        cases[f"histogram_mc where={label}"] = lambda bad=bad: cn.histogram_mc(prior, arch, n_samples=8, where=bad)
        cases[f"estimate_rare conditional={label}"] = lambda b=bad: cn.estimate_rare(prior, arch, AND, conditional=b)
for label, bad in {"1.5": 1.5, "[1.5]": [1.5], "['and', None]": ["and", None], "dict": {"and": 1}}.items():
    cases[f"histogram_mc targets={label}"] = lambda bad=bad: cn.histogram_mc(prior, arch, n_samples=8, targets=bad)
    cases[f"enumerate_exact targets={label}"] = lambda b=bad: cn.enumerate_exact(lattice, cn.MLP(3, (2,)), targets=b)
cases.update({
    "to_dataframe(None)": lambda: cn.to_dataframe(None),
    "to_dataframe(dict)": lambda: cn.to_dataframe(to_json(result)),
    "to_json('r.json')": lambda: to_json("r.json"),
    "save_json(None, path)": lambda: cn.save_json(None, "never-written.json"),
    "save_json(result, None)": lambda: cn.save_json(result, None),
    "load_json(None)": lambda: cn.load_json(None),
    "load_json(3)": lambda: cn.load_json(3),
})
"""


@pytest.fixture(scope="module")
def user_session(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("session")
    out = run_cases(USER_SESSION, cwd=cwd)
    assert not (cwd / "never-written.json").exists()
    return out


def _refused(session, case, *parts):
    """The case raised a CountnetsTypeError (a TypeError and a CountnetsError), one line holding every part."""
    assert session[case] is not None, f"{case} was accepted"
    name, is_type_error, is_countnets_error, message = session[case]
    assert (name, is_type_error, is_countnets_error) == ("CountnetsTypeError", True, True), session[case]
    assert "\n" not in message
    for part in parts:
        assert part in message, (case, part, message)


def test_estimate_rare_with_a_str_arch_says_what_it_received(user_session):
    # cn.estimate_rare(cn.Gaussian(), "mlp", "and", seed=0): an AttributeError before.
    message = (
        "estimate_rare: arch must be a countnets architecture (MLP, ResMLP, GoalNet or a countnets.Architecture), "
        "got str 'mlp'"
    )
    _refused(user_session, "issue", message)


@pytest.mark.parametrize(
    "front", ["estimate_mc", "histogram_mc", "enumerate_exact", "estimate_rare", "sample_rare", "run_pilot"]
)
def test_every_front_end_refuses_swapped_prior_and_arch(user_session, front):
    _refused(user_session, f"{front}(arch, prior)", f"{front}: prior must be a countnets prior", "got MLP",
             "prior and arch look swapped")  # fmt: skip
    _refused(user_session, f"{front}(lattice, 'mlp')", f"{front}: arch must be", "got str 'mlp'")


@pytest.mark.parametrize("label", ["None", "1.5", "True", "object"])
def test_a_measure_of_the_wrong_type_is_a_type_error_everywhere(user_session, label):
    got = "got " + {"None": "NoneType None", "1.5": "float 1.5", "True": "bool True", "object": "object <"}[label]
    _refused(user_session, f"estimate_mc measures={label}", "estimate_mc: measures must be", got)
    _refused(user_session, f"estimate_mc measures=[AND, {label}]", "estimate_mc: a measure must be", got)
    _refused(user_session, f"estimate_rare measure={label}", "estimate_rare: measure must be a countnets Measure", got)
    _refused(user_session, f"sample_rare measure={label}", "sample_rare: measure must be", got)
    if label != "None":
        _refused(user_session, f"histogram_mc where={label}", "histogram_mc: where must be", got)
        _refused(user_session, f"estimate_rare conditional={label}", "estimate_rare: conditional must be", got)


@pytest.mark.parametrize("label", ["1.5", "[1.5]", "['and', None]", "dict"])
def test_targets_of_the_wrong_type_are_a_type_error(user_session, label):
    _refused(user_session, f"histogram_mc targets={label}", "histogram_mc: ", "must be a function")
    _refused(user_session, f"enumerate_exact targets={label}", "enumerate_exact: ", "must be a function")


def test_result_functions_refuse_what_is_not_a_result(user_session):
    _refused(user_session, "to_dataframe(None)", "to_dataframe: result must be a countnets.CountResult, got NoneType")
    _refused(user_session, "to_dataframe(dict)", "to_dataframe: result must be", "got dict", "from_json")
    _refused(user_session, "to_json('r.json')", "to_json: result must be", "got str 'r.json'", "load_json")
    _refused(user_session, "save_json(None, path)", "save_json: result must be", "got NoneType None")
    _refused(user_session, "save_json(result, None)", "save_json: path must be a file path", "got NoneType None")
    _refused(user_session, "load_json(None)", "load_json: path must be a file path", "got NoneType None")
    _refused(user_session, "load_json(3)", "load_json: path must be", "got int 3")


def test_histogram_where_takes_a_function_name_as_every_measure_argument_does():
    kw = dict(n_samples=2000, seed=0, devices=1)
    by_name = cn.histogram_mc(PRIOR, ARCH, where="and", **kw)
    by_measure = cn.histogram_mc(PRIOR, ARCH, where=AND, **kw)
    assert by_name.histogram == by_measure.histogram and set(by_name.histogram) == {"0x80"}
    assert by_name.config["where"] == by_measure.config["where"] == {"implements": "and"}


def test_target_zero_is_the_constant_false_function_not_no_target():
    result = cn.enumerate_exact(cn.Lattice((-1.0, 1.0)), cn.MLP(2, ()), top=0, targets=0)
    assert [e.function for e in result.estimates] == ["0x0"]


# ----------------------------------------------------------------------------- item 6: splitting checkpoints

SPLIT_KW = dict(seed=4, replicas=8, particles=20, sweeps=2, encoding="pm1", devices=1)


@pytest.fixture(scope="module")
def partial_split(tmp_path_factory):
    """A splitting checkpoint of 4 of 8 replicas (20 particles, 2 sweeps, 6 levels)."""
    path = tmp_path_factory.mktemp("split") / "split.ckpt"
    part = cn.estimate_rare(LATTICE, LATTICE_ARCH, "0x7", max_seconds=1e-9, checkpoint=path, **SPLIT_KW)
    assert part.samples == 4
    data = json.loads(path.read_text())
    assert len(data["state"]["survivors"]) == 4 and len(data["state"]["survivors"][0]) >= 2
    return path


def _tampered(source, target, change):
    shutil.copy(source, target)
    data = json.loads(target.read_text())
    change(data)
    data["sha256"] = checkpoint.content_hash(data)
    target.write_text(json.dumps(data))
    return target


def _set(field, replica, level, value):
    def change(data):
        data["state"][field][replica][level] = value

    return change


def _dead_then_more_than_moved(data):
    data["state"]["survivors"][1][0], data["state"]["accepted"][1][0] = 0, 2
    data["state"]["survivors"][1][1] = 3


DAMAGE = {
    "survivors above particles": (_set("survivors", 3, 1, 130),
                                  "replica 3 has 130 survivors of 20 particles at level 2"),
    "negative survivors": (_set("survivors", 0, 0, -1), "replica 0 has -1 survivors at level 1"),
    "accepted above particles x sweeps": (_set("accepted", 2, 0, 41),
                                          "replica 2 has 41 accepted moves at level 1 (20 particles x 2 sweeps)"),
    "negative accepted": (_set("accepted", 0, 1, -5), "replica 0 has -5 accepted moves at level 2"),
    "extinct, then more survivors than moves": (_dead_then_more_than_moved,
                                                "replica 1 has 3 survivors at level 2 after none at level 1, "
                                                "where only 2 moves were accepted"),
    "near above the final particles": (lambda d: d["state"].update(near=10**6), "near is 1000000, outside 0.."),
    "negative nonfinite": (lambda d: d["state"].update(nonfinite=-1), "nonfinite is -1, outside 0.."),
    "a replica missing": (lambda d: [d["state"][k].pop() for k in ("survivors", "accepted", "ancestors")],
                          "it holds 3 replicas but its progress says 4"),
    "more ancestors than particles": (_set("ancestors", 2, 0, 21), "replica 2 has 21 distinct ancestors at level 1, "
                                      "not in 1..20 or more than before"),
    "ancestors growing back": (_set("ancestors", 1, 1, 20), "replica 1 has 20 distinct ancestors at level 2, "
                               "not in 1..20 or more than before"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(DAMAGE))
def test_a_rehashed_splitting_checkpoint_with_impossible_counts_is_refused(case, partial_split, tmp_path):
    change, phrase = DAMAGE[case]
    path = _tampered(partial_split, tmp_path / "bad.ckpt", change)
    with pytest.raises(cn.CountnetsError) as info:
        cn.estimate_rare(LATTICE, LATTICE_ARCH, "0x7", checkpoint=path, **SPLIT_KW)
    message = str(info.value)
    assert message.startswith(f"checkpoint {str(path)!r} is damaged: {phrase}"), message
    assert message.endswith("delete it to start afresh") and "\n" not in message


def test_the_cli_prints_the_damage_on_one_line(partial_split, tmp_path, capsys):
    path = _tampered(partial_split, tmp_path / "bad.ckpt", _set("survivors", 3, 1, 130))
    argv = ["estimate", "--method", "splitting", "--n", "3", "--hidden", "2", "--prior", "lattice", "--values",
            "-1,0,1", "--encoding", "pm1", "--targets", "0x7", "--seed", "4", "--replicas", "8", "--particles", "20",
            "--sweeps", "2", "--devices", "1", "--checkpoint", str(path), "--quiet"]  # fmt: skip
    code = cli.main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err == [f"countnets: error: checkpoint {str(path)!r} is damaged: replica 3 has 130 survivors of 20 "
                   "particles at level 2; delete it to start afresh"]  # fmt: skip


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["fingerprint"]["pilot"]["levels"].reverse(),  # levels out of order
        lambda d: d["fingerprint"]["config"]["options"].update(level_fraction=1.5),  # a fraction outside (0, 1)
    ],
    ids=["levels out of order", "level_fraction outside (0, 1)"],
)
def test_a_rehashed_checkpoint_with_other_levels_or_options_is_refused(change, partial_split, tmp_path):
    # These live in the run's fingerprint, which must equal the run's own (a guard: refused before item 6 too).
    path = _tampered(partial_split, tmp_path / "bad.ckpt", change)
    with pytest.raises(cn.CountnetsError, match="belongs to a different run"):
        cn.estimate_rare(LATTICE, LATTICE_ARCH, "0x7", checkpoint=path, **SPLIT_KW)


def test_an_intact_splitting_checkpoint_still_resumes(partial_split, tmp_path):
    path = tmp_path / "ok.ckpt"
    shutil.copy(partial_split, path)
    resumed = cn.estimate_rare(LATTICE, LATTICE_ARCH, "0x7", checkpoint=path, **SPLIT_KW)
    assert resumed.samples == 8 and resumed.extra["checkpoint"]["resumed_from"] == 4


def test_conditional_keys_must_count_every_final_particle(tmp_path):
    path = tmp_path / "cond.ckpt"
    kw = dict(SPLIT_KW, conditional=M.table())
    cn.estimate_rare(LATTICE, LATTICE_ARCH, "0x7", max_seconds=1e-9, checkpoint=path, **kw)

    def one_more(data):
        keys = data["state"]["keys"][0]
        keys[next(iter(keys))] += 1

    bad = _tampered(path, tmp_path / "bad.ckpt", one_more)
    with pytest.raises(cn.CountnetsError, match="replica 0 has conditional keys for 21 particles, not a multiple of"):
        cn.estimate_rare(LATTICE, LATTICE_ARCH, "0x7", checkpoint=bad, **kw)


def test_a_dead_replica_may_count_survivors_later_but_never_more_than_it_moved():
    # After a level with no survivor, resampling keeps every particle and the moves may still
    # lift some above the next level (genuine runs do this), at most one per accepted move.
    def problem(survivors, accepted):
        acc = ReplicaAccumulator(3, None, 3, particles=4, sweeps=2, survivors=[survivors], accepted=[accepted],
                                 ancestors=[[4, 4, 4]])  # fmt: skip
        return acc.count_problem(1)

    assert problem([0, 3, 1], [5, 2, 1]) is None
    assert problem([0, 3, 1], [2, 2, 1]) == (
        "replica 0 has 3 survivors at level 2 after none at level 1, where only 2 moves were accepted"
    )
    assert problem([2, 5, 1], [1, 1, 1]) == "replica 0 has 5 survivors of 4 particles at level 2"
    assert ReplicaAccumulator(1, None, 3).count_problem(0) is None  # no bounds known: none checked


# ----------------------------------------------------------------------------- item 7: prior scales


@pytest.mark.parametrize(
    "make, phrase",
    [
        (lambda: cn.Gaussian(sigma_w=1e300), "sigma_w must be at most 1e+06 in absolute value"),
        (lambda: cn.Gaussian(1.0, sigma_b=2e6), "sigma_b must be at most 1e+06"),
        (lambda: cn.Uniform(1e300), "bound must be at most 1e+06"),
        (lambda: cn.Lattice((-1e39, 1.0)), "lattice value must be at most 1e+06"),
    ],
    ids=["sigma_w", "sigma_b", "bound", "lattice value"],
)
def test_a_scale_that_overflows_float32_is_refused_at_construction(make, phrase):
    with pytest.raises(cn.CountnetsError) as info:
        make()
    assert str(info.value).startswith(phrase) and "float32" in str(info.value)


def test_the_cli_refuses_sigma_w_1e300_naming_its_option(capsys):
    assert cli.main(["estimate", "--n", "2", "--sigma-w", "1e300", "--samples", "100", "--targets", "and"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("countnets: error: --sigma-w must be at most 1e+06"), err
    assert err[0].endswith("got 1e+300")


@pytest.mark.parametrize("prior", [cn.Gaussian(MAX_SCALE, MAX_SCALE), cn.Uniform(MAX_SCALE),
                                   cn.Lattice((-MAX_SCALE, 0.0, MAX_SCALE))], ids=repr)  # fmt: skip
def test_at_the_cap_the_documented_depth_stays_finite(prior):
    # MAX_SCALE's docstring: safe up to 5 weight layers (4 hidden layers).
    result = cn.estimate_mc(prior, cn.MLP(3, (8, 8, 8, 8)), "and", n_samples=20000, seed=0, devices=1)
    assert result.nonfinite == 0 and result.samples == 20000
    assert np.isfinite(result.estimates[0].p)
