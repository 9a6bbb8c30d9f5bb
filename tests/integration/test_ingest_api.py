"""POST /v1/events through the gateway, the real handler and a real DynamoDB API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import boto3
import pytest

from engagement.domain.clock import ManualClock
from tests.conftest import NOW

from .api import call


def count(table: str) -> int:
    return boto3.client("dynamodb").scan(TableName=table, Select="COUNT")["Count"]


def event(**changes: Any) -> dict[str, Any]:
    return {
        "user_id": "42",
        "item_id": "AI-1799",
        "type": "query",
        "occurred_at": "2026-11-20T10:00:00Z",
        **changes,
    }


def test_events_are_accepted_and_stored(tables: dict[str, str], clock: ManualClock) -> None:
    answer = call("POST", "/v1/events", {"events": [event(), event(item_id="AI-1800", type="mention")]})
    assert answer.status == 202
    assert (answer.body["accepted"], answer.body["duplicates"]) == (2, 0)
    assert [r["status"] for r in answer.body["results"]] == ["accepted", "accepted"]
    assert count(tables["events"]) == 2


def test_a_resend_is_reported_as_duplicate_and_stored_once(
    tables: dict[str, str], clock: ManualClock
) -> None:
    first = call("POST", "/v1/events", {"events": [event(), event(event_id="tg-1-AI-1")]})
    again = call("POST", "/v1/events", {"events": [event(), event(event_id="tg-1-AI-1")]})
    assert again.status == 202
    assert [r["status"] for r in again.body["results"]] == ["duplicate", "duplicate"]
    assert [r["event_id"] for r in again.body["results"]] == [r["event_id"] for r in first.body["results"]]
    assert count(tables["events"]) == 2


def test_the_same_id_twice_in_one_request_is_stored_once(tables: dict[str, str], clock: ManualClock) -> None:
    answer = call("POST", "/v1/events", {"events": [event(event_id="x"), event(event_id="x", type="view")]})
    assert [r["status"] for r in answer.body["results"]] == ["accepted", "duplicate"]
    assert count(tables["events"]) == 1


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (event(type="liked"), "events[1].type"),
        (event(occurred_at="2026-11-20T10:00:00"), "events[1].occurred_at"),
        (event(user_id=""), "events[1].user_id"),
        (event(value=3), "events[1].value"),
        (event(metadata={"blob": "x" * 3000}), "events[1].metadata"),
        ({**event(), "colour": "red"}, "events[1].colour"),
        ({k: v for k, v in event().items() if k != "item_id"}, "events[1].item_id"),
    ],
)
def test_one_invalid_event_rejects_the_request_naming_index_and_field(
    tables: dict[str, str], clock: ManualClock, bad: dict[str, Any], field: str
) -> None:
    answer = call("POST", "/v1/events", {"events": [event(), bad]})
    assert answer.status == 422
    assert answer.body["error"] == "validation_error"
    assert field in [d["field"] for d in answer.body["details"]]
    assert field in answer.body["message"]
    assert count(tables["events"]) == 0


def test_an_event_from_the_future_is_refused_and_nothing_is_stored(
    tables: dict[str, str], clock: ManualClock
) -> None:
    future = (NOW + timedelta(minutes=6)).isoformat()
    answer = call("POST", "/v1/events", {"events": [event(), event(occurred_at=future)]})
    assert answer.status == 422
    assert answer.body["details"] == [
        {"field": "events[1].occurred_at", "message": answer.body["details"][0]["message"]}
    ]
    assert "future" in answer.body["message"]
    assert count(tables["events"]) == 0


@pytest.mark.parametrize("events", [[], [event(event_id=f"e{n}") for n in range(101)]])
def test_a_request_holds_one_to_one_hundred_events(
    tables: dict[str, str], clock: ManualClock, events: list[Any]
) -> None:
    answer = call("POST", "/v1/events", {"events": events})
    assert answer.status == 422
    assert answer.body["details"][0]["field"] == "events"


def test_one_hundred_events_are_accepted(tables: dict[str, str], clock: ManualClock) -> None:
    answer = call("POST", "/v1/events", {"events": [event(event_id=f"e{n}") for n in range(100)]})
    assert answer.status == 202
    assert answer.body["accepted"] == 100


def test_malformed_json_is_a_400(tables: dict[str, str]) -> None:
    answer = call("POST", "/v1/events", raw=b'{"events": [')
    assert (answer.status, answer.body["error"]) == (400, "invalid_json")


def test_a_missing_body_is_a_400(tables: dict[str, str]) -> None:
    assert call("POST", "/v1/events").status == 400


def test_a_non_json_content_type_is_refused(tables: dict[str, str]) -> None:
    answer = call("POST", "/v1/events", raw=b"events=1", content_type="application/x-www-form-urlencoded")
    assert answer.status == 415
    assert count(tables["events"]) == 0


def test_a_body_over_one_megabyte_is_refused_before_parsing(tables: dict[str, str]) -> None:
    answer = call("POST", "/v1/events", raw=b'{"events": ["' + b"x" * (1024 * 1024) + b'"]}')
    assert (answer.status, answer.body["error"]) == (413, "body_too_large")


@pytest.mark.parametrize("key", [None, "wrong-key", ""])
def test_without_a_valid_key_the_answer_is_401_and_nothing_is_stored(
    tables: dict[str, str], key: str | None
) -> None:
    answer = call("POST", "/v1/events", {"events": [{"not": "even valid"}]}, key=key)
    assert answer.status == 401
    assert answer.body["error"] == "unauthorized"
    assert answer.headers["www-authenticate"] == "Bearer"
    assert count(tables["events"]) == 0


def test_every_configured_key_is_accepted(tables: dict[str, str], clock: ManualClock) -> None:
    assert call("POST", "/v1/events", {"events": [event()]}, key="test-key-2").status == 202


def test_no_configured_keys_refuses_everything(
    tables: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ENGAGEMENT_API_KEYS")
    assert call("POST", "/v1/events", {"events": [event()]}).status == 401


def test_a_store_outage_is_a_503_so_the_caller_retries(
    tables: dict[str, str], clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVENTS_TABLE", "no-such-table")  # the store answers, but cannot write
    from engagement import deps

    deps.reset()
    outage = call("POST", "/v1/events", {"events": [event()]})
    assert outage.status == 500
    assert outage.body["error"] == "store_error"
    assert count(tables["events"]) == 0


def test_an_unreachable_store_is_a_503(
    tables: dict[str, str], clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:9")  # nothing listens there
    from engagement import deps

    deps.reset()
    outage = call("POST", "/v1/events", {"events": [event()]})
    assert (outage.status, outage.body["error"]) == (503, "store_unavailable")
