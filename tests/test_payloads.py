"""Typed payloads: every committed result loads, and typed payloads re-encode to the same JSON."""

import dataclasses
import json
from pathlib import Path

import pytest

import countnets as cn
from countnets import records, results
from countnets.results import payloads

# Committed JSON files that are not run results: the flip-decisive plans (pre-registered before any training, read
# by --plan; flip_plan.json is issue 29's version 2), the diversity script's summary, and the rows of
# scripts/pope_rows.py (issue 28, read by scripts/pope_analysis.py). Every other results/*.json must load as a
# CountResult.
NOT_RESULTS = {"flip_decisive_plan.json": "primary_analysis", "flip_decisive_diversity.json": "pairs",
               "pope_serial_parallel.json": "rows", "flip_plan.json": "analysis"}  # fmt: skip
ALL_JSON = sorted((Path(__file__).resolve().parents[1] / "results").glob("*.json"))
RESULTS = [p for p in ALL_JSON if p.name not in NOT_RESULTS]


def test_the_files_that_are_not_results_are_what_they_say():
    names = {p.name for p in ALL_JSON}
    for name, key in NOT_RESULTS.items():
        assert name in names, name
        data = json.loads((ALL_JSON[0].parent / name).read_text())
        assert key in data and "schema_version" not in data, name


def _same_up_to_null_nan(encoded, stored) -> bool:
    if isinstance(encoded, dict) and isinstance(stored, dict):
        return encoded.keys() == stored.keys() and all(_same_up_to_null_nan(encoded[k], stored[k]) for k in stored)
    if isinstance(encoded, list) and isinstance(stored, list):
        return len(encoded) == len(stored) and all(map(_same_up_to_null_nan, encoded, stored))
    return encoded == stored or (encoded == "nan" and stored is None)


@pytest.mark.parametrize("path", RESULTS, ids=lambda p: p.name)
def test_every_committed_result_loads_and_typed_payloads_reencode_exactly(path):
    data = json.loads(path.read_text())
    loaded = cn.load_json(path)
    assert loaded.schema_version == results.SCHEMA_VERSION
    assert isinstance(loaded.stopped_by, records.StopReason)
    fields = {**data.get("extra", {}), **{name: data[name] for name in data.get("extra_fields", [])}}
    typed = payloads.payload_type(data["kind"], fields)
    if typed is not None:
        assert type(loaded.extra) is typed
        # Schema 1 wrote an undefined number as null; a typed float field reads it as NaN.
        assert _same_up_to_null_nan(records.encode(loaded.extra), fields)
    again = results.from_json(json.loads(json.dumps(results.to_json(loaded))))
    assert again == loaded


def test_a_payload_missing_or_mistyping_a_field_is_refused_naming_it():
    data = json.loads((RESULTS[0].parent / "detour_goal.json").read_text())
    broken = dict(data)
    broken["per_target"] = [dict(data["per_target"][0], hits="many")] + data["per_target"][1:]
    with pytest.raises(cn.CountnetsError, match=r"detour.per_target\[0\].hits must be an int"):
        results.from_json(broken)
    missing = {k: v for k, v in data.items() if k != "goals"}
    missing["extra_fields"] = [f for f in data["extra_fields"] if f != "goals"]
    with pytest.raises(cn.CountnetsError, match="lacks the field 'goals'"):
        results.from_json(missing)


def test_run_information_is_an_optional_payload_field_written_only_when_set(tmp_path):
    prior = cn.Gaussian(1.0, 1.0)
    from countnets.experiments import detour

    plain = detour.goal_detour(prior, n=2, w=2, n_samples=300, chunk_size=100)
    assert plain.extra.checkpoint is None and "checkpoint" not in results.to_json(plain)
    saved = detour.goal_detour(prior, n=2, w=2, n_samples=300, chunk_size=100, checkpoint=tmp_path / "c.ckpt")
    assert saved.extra["checkpoint"]["resumed_from"] == 0
    assert results.to_json(saved)["checkpoint"]["path"] == str(tmp_path / "c.ckpt")
    assert dataclasses.replace(saved.extra, checkpoint=None) == plain.extra
