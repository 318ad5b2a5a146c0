"""The record codec: exact round trips through standard JSON, clear errors, mapping access."""

import dataclasses
import json
import math

import pytest

from countnets import CountnetsError
from countnets.records import Record, StopReason, decode, encode, record


@record
class Ratio(Record):
    estimate: float
    ci: tuple[float, float]
    method: str = "exact"


@record
class Entry(Record):
    blocks: int
    ratio: Ratio
    counts: tuple[int, ...]
    per_target: dict[str, int]
    stopped_by: StopReason
    note: str | None = None
    history: list[Ratio] = dataclasses.field(default_factory=list)


ENTRY = Entry(
    blocks=4,
    ratio=Ratio(math.inf, (2.5, math.inf)),
    counts=(1, 2, 3),
    per_target={"0x8": 5},
    stopped_by=StopReason.TIME,
    history=[Ratio(math.nan, (0.0, math.inf), "conditional-binomial")],
)


def test_round_trip_through_standard_json_is_exact():
    text = json.dumps(encode(ENTRY), allow_nan=False)
    back = decode(Entry, json.loads(text))
    assert back == ENTRY and isinstance(back.ratio, Ratio) and back.stopped_by is StopReason.TIME
    assert math.isnan(back.history[0].estimate) and back.counts == (1, 2, 3)


def test_records_are_read_only_mappings():
    assert ENTRY["blocks"] == 4 and ENTRY["ratio"]["ci"] == (2.5, math.inf) and "ratio" in ENTRY
    assert ENTRY.get("missing") is None and set(ENTRY) >= {"blocks", "ratio"}
    with pytest.raises(KeyError):
        ENTRY["missing"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        ENTRY.blocks = 5  # type: ignore[misc]
    # Equal to the dict payloads of schema 1 that hold the same values.
    assert ENTRY["ratio"] == {"estimate": "inf", "ci": [2.5, "inf"], "method": "exact"}


def test_null_reads_as_nan_and_stop_reasons_compare_as_strings():
    assert math.isnan(decode(Ratio, {"estimate": None, "ci": [0, 1]}).estimate)
    assert StopReason("rel_halfwidth") == "rel_halfwidth" and json.dumps(StopReason.SAMPLES) == '"samples"'


@pytest.mark.parametrize(
    "data, match",
    [
        ({"estimate": "x", "ci": [0, 1]}, r"record.estimate must be a number"),
        ({"estimate": 1, "ci": [0, 1, 2]}, r"record.ci must have 2 entries"),
        ({"estimate": 1}, r"lacks the field 'ci'"),
        ({"estimate": 1, "ci": [0, 1], "extra": 2}, r"unknown fields \['extra'\]"),
        ([1, 2], r"must be an object"),
        ({"estimate": True, "ci": [0, 1]}, r"must be a number"),
    ],
)
def test_malformed_data_names_the_field(data, match):
    with pytest.raises(CountnetsError, match=match):
        decode(Ratio, data)


def test_bad_enum_and_values_json_cannot_hold():
    with pytest.raises(CountnetsError, match="stopped_by must be one of"):
        decode(Entry, {**encode(ENTRY), "stopped_by": "bored"})
    with pytest.raises(CountnetsError, match="keys must be str"):
        encode({1: 2})
    with pytest.raises(CountnetsError, match="cannot be written as JSON"):
        encode({"x": object()})
