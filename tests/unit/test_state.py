from __future__ import annotations

import json

import pytest

from infra.local.state import from_json_value, to_json_value

VALUES = [
    {"S": "text"},
    {"N": "12.5"},
    {"B": b"\x00\xffbinary"},
    {"BS": [b"\x01\x02", b"\xfe"]},
    {"SS": ["a", "b"]},
    {"M": {"inner": {"B": b"\x00"}, "list": {"L": [{"BS": [b"\x03"]}, {"BOOL": True}]}}},
    {"NULL": True},
]


@pytest.mark.parametrize("value", VALUES)
def test_attribute_values_survive_a_json_round_trip_exactly(value: dict[str, object]) -> None:
    assert from_json_value(json.loads(json.dumps(to_json_value(value)))) == value
