"""Result records as standard JSON: experiment-field names, non-finite numbers, the round trip."""

import dataclasses
import json
import math
import re

import pytest

from countnets import results
from countnets._errors import CountnetsError


def _refuse_constant(token):
    raise ValueError(f"non-standard JSON token {token}")


def _record(**kwargs):
    fields = dict(kind="histogram-mc", config={"n": 2}, seed=0, chunk_size=4, samples=8, exact=False,
                  histogram={"0x0": 8}, estimates=(results.make_estimate("0x1", 0, 8),))  # fmt: skip
    return results.CountResult(**{**fields, **kwargs})


RESERVED = [f.name for f in dataclasses.fields(results.CountResult)] + ["extra_fields"]


@pytest.mark.parametrize("name", RESERVED)
def test_an_experiment_field_named_like_a_record_field_is_refused(name):
    with pytest.raises(CountnetsError, match=f"experiment field '{name}' clashes"):
        _record(extra={"counts": 1, name: {"x": 1}})


@pytest.mark.parametrize("name", ["extra", "kind", "extra_fields", "seconds"])
def test_a_clash_added_after_construction_is_refused_when_written(tmp_path, name):
    record = _record()
    record.extra[name] = 1  # the dataclass is frozen, its dict is not
    with pytest.raises(CountnetsError, match=f"'{name}'"):
        results.to_json(record)
    with pytest.raises(CountnetsError, match=f"'{name}'"):
        results.save_json(record, tmp_path / "r.json")
    assert not (tmp_path / "r.json").exists()


def test_a_clash_in_a_file_is_refused_when_read():
    data = results.to_json(_record(extra={"counts": 1}))
    data["extra_fields"].append("kind")
    with pytest.raises(CountnetsError, match="'kind' clashes"):
        results.from_json(data)


EXTRAS = [
    {},
    {"results": [{"a": 1, "b": [0.5, "inf", None]}], "counts": {"with": 3}},
    {"other": 0, "max_distinct": 10, "checkpoint": {"path": "x.ckpt", "resumed_from": 0}},
    {"extras": 1, "Extra": 2, "extra_field": 3, "fields": 4, "estimate": "x", "extra_fields_": [], "": None},
    {"ratio": {"estimate": "inf", "ci": ["nan", "-inf"]}, "flag": True, "nothing": None, "x": 1e-300},
]


@pytest.mark.parametrize("extra", EXTRAS)
def test_every_allowed_extra_round_trips_through_standard_json(tmp_path, extra):
    record = _record(extra=extra)
    text = json.dumps(results.to_json(record), allow_nan=False)
    assert results.from_json(json.loads(text, parse_constant=_refuse_constant)) == record
    results.save_json(record, tmp_path / "r.json")
    written = (tmp_path / "r.json").read_text()
    data = json.loads(written, parse_constant=_refuse_constant)
    assert data["extra_fields"] == list(extra) and all(data[name] == value for name, value in extra.items())
    assert data["estimates"][0]["bits"] == "inf"  # zero hits
    assert results.load_json(tmp_path / "r.json") == record


@pytest.mark.parametrize(
    "change, where",
    [
        (dict(extra={"odds": math.inf}), "odds"),
        (dict(extra={"pairs": [{"a": "0x1", "odds": -math.inf}]}), "pairs[0]['odds']"),
        (dict(extra={"summary": {"rho": math.nan}}), "summary['rho']"),
        (dict(config={"n": 2, "sigma": math.nan}), "config['sigma']"),
        (dict(seconds=math.inf), "seconds"),
        (dict(versions={"x": [1.0, math.inf]}), "versions['x'][1]"),
    ],
)
def test_non_finite_floats_are_refused_naming_the_field(tmp_path, change, where):
    record = _record(**change)
    with pytest.raises(CountnetsError, match=re.escape(f"result field {where} is ") + ".*standard JSON cannot hold"):
        results.to_json(record)
    with pytest.raises(CountnetsError, match="standard JSON cannot hold"):
        results.save_json(record, tmp_path / "r.json")
    assert not (tmp_path / "r.json").exists()


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"ci": (0.1, 0.2)}, "ci is a tuple"),
        ({"counts": {1: 5}}, "counts has the non-str key 1"),
        ({"when": object()}, "when has type object"),
    ],
)
def test_extras_that_would_not_read_back_unchanged_are_refused(extra, message):
    with pytest.raises(CountnetsError, match=message):
        results.to_json(_record(extra=extra))


def test_a_legacy_record_with_fields_under_extra_still_reads():
    record = _record(extra={"results": [1, 2], "counts": {"a": 1}})
    data = results.to_json(record)
    for name in data.pop("extra_fields"):
        data["extra"][name] = data.pop(name)
    assert results.from_json(data) == record


@pytest.mark.parametrize(
    ("old", "extra", "exact", "now"),
    [("estimate", {}, False, "estimate-mc"), ("estimate", {"method": "splitting"}, False, "estimate-splitting"),
     ("histogram", {}, False, "histogram-mc"), ("histogram", {}, True, "histogram-exact"),
     ("serial-parallel", {}, False, "serial-parallel")],
)  # fmt: skip
def test_older_kinds_read_back_as_the_kinds_that_say_what_made_them(old, extra, exact, now):
    assert results.current_kind(old, extra, exact) == now


def test_a_file_written_with_an_older_kind_loads_with_its_payload(tmp_path):
    # Files written before the kinds said what made them carry "estimate": a splitting run's reads back as
    # "estimate-splitting" with its typed payload, a Monte Carlo run's as "estimate-mc".
    import countnets as cn

    prior, arch = cn.Lattice((-1.0, 0.0, 1.0)), cn.MLP(2, (2,))
    for result, now in ((cn.estimate_rare(prior, arch, "and", replicas=4, particles=20, retry_factor=1),
                         "estimate-splitting"),
                        (cn.estimate_mc(prior, arch, ["and"], n_samples=64), "estimate-mc")):  # fmt: skip
        assert result.kind == now
        data = json.loads(results.dumps(result))
        data["kind"] = "estimate"
        path = tmp_path / f"{now}.json"
        path.write_text(json.dumps(data))
        assert results.load_json(path) == result
