"""What an attacker or a careless client sends: every case is a 4xx JSON error naming the problem,
and nothing of the request is stored. Each of these once answered 500 or stored part of itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import boto3
import pytest

from tests.signers import twilio_form

from .api import Answer, call

TELEGRAM_SECRET = "tg-secret"
TWILIO_TOKEN = "twilio-token"
VONAGE_SECRET = "vonage-secret"
DEEP = b"[" * 1000 + b"]" * 1000
HUGE_NUMBER = b"9" * 5000
OVERFLOWING = ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00")


@pytest.fixture(autouse=True)
def webhook_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", TELEGRAM_SECRET)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TWILIO_TOKEN)
    monkeypatch.setenv("VONAGE_SIGNATURE_SECRET", VONAGE_SECRET)


def stored(tables: dict[str, str]) -> dict[str, int]:
    client = boto3.client("dynamodb")
    return {
        key: client.scan(TableName=name, Select="COUNT")["Count"]
        for key, name in tables.items()
        if not key.startswith("bus:")
    }


def nothing_stored(tables: dict[str, str]) -> bool:
    return not any(stored(tables).values())


def refused(answer: Answer, status: int, error: str | None = None) -> None:
    assert answer.status == status, answer.body
    assert answer.headers["content-type"] == "application/json"
    assert isinstance(answer.body, dict)
    assert answer.body["message"]
    if error is not None:
        assert answer.body["error"] == error, answer.body


def event(**fields: Any) -> dict[str, Any]:
    return {
        "user_id": "42",
        "item_id": "AI-1",
        "type": "query",
        "occurred_at": "2026-11-20T10:00:00Z",
        **fields,
    }


def post_events(raw: bytes) -> Answer:
    return call("POST", "/v1/events", raw=raw)


def telegram(raw: bytes) -> Answer:
    headers = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
    return call("POST", "/webhooks/telegram", key=None, raw=raw, headers=headers)


def twilio_clicks(raw: bytes) -> Answer:
    digest = hashlib.sha256(raw).hexdigest()
    url = f"https://api.local/webhooks/twilio/clicks?bodySHA256={digest}"
    _, headers = twilio_form(url, {}, TWILIO_TOKEN)
    signature = {"X-Twilio-Signature": headers["X-Twilio-Signature"]}
    return call("POST", f"/webhooks/twilio/clicks?bodySHA256={digest}", key=None, raw=raw, headers=signature)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def vonage_jwt(body: bytes, *, header: bytes = b'{"alg":"HS256","typ":"JWT"}') -> str:
    claims = json.dumps({"iat": int(time.time()), "payload_hash": hashlib.sha256(body).hexdigest()})
    signing_input = f"{_b64url(header)}.{_b64url(claims.encode())}"
    signature = hmac.new(VONAGE_SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(signature)}"


def vonage(raw: bytes, token: str | None) -> Answer:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return call("POST", "/webhooks/vonage", key=None, raw=raw, headers=headers)


# ---------------------------------------------------------------- bodies that are not JSON we read


@pytest.mark.parametrize("target", ["/v1/events", "/v1/links"])
def test_a_body_that_is_not_utf8_is_a_400(tables: dict[str, str], target: str) -> None:
    refused(call("POST", target, raw=b"\xff\xfe{"), 400, "invalid_encoding")
    assert nothing_stored(tables)


@pytest.mark.parametrize(
    "send",
    [post_events, telegram, twilio_clicks, lambda raw: vonage(raw, vonage_jwt(raw))],
    ids=["events", "telegram", "twilio-clicks", "vonage-signed"],
)
def test_json_nested_1000_deep_is_a_400_on_every_json_route(tables: dict[str, str], send: Any) -> None:
    refused(send(DEEP), 400)
    refused(send(b'{"events":' + DEEP + b"}"), 400)
    assert nothing_stored(tables)


def test_unsigned_deep_json_to_vonage_is_refused_before_anything_is_parsed(tables: dict[str, str]) -> None:
    refused(vonage(DEEP, None), 401, "unauthorized")
    refused(vonage(b"{}", vonage_jwt(b"{}", header=DEEP)), 401, "unauthorized")  # a JWT header of it
    assert nothing_stored(tables)


@pytest.mark.parametrize(
    ("send", "status"),
    [(post_events, 422), (telegram, 400), (twilio_clicks, 400)],
    ids=["events", "telegram", "twilio-clicks"],
)
def test_a_number_of_5000_digits_is_refused(tables: dict[str, str], send: Any, status: int) -> None:
    body = (
        json.dumps({"events": [event(metadata={"n": 1})]}).encode().replace(b'"n": 1', b'"n": ' + HUGE_NUMBER)
    )
    refused(send(body), status)
    if status == 422:
        assert send(body).body["details"][0]["field"] == "events[0].metadata.n"
    assert nothing_stored(tables)


# ------------------------------------------------------------------ instants out of range


@pytest.mark.parametrize("instant", OVERFLOWING)
def test_an_occurred_at_whose_utc_overflows_is_a_422(tables: dict[str, str], instant: str) -> None:
    answer = post_events(json.dumps({"events": [event(occurred_at=instant)]}).encode())
    refused(answer, 422, "validation_error")
    assert answer.body["details"][0]["field"] == "events[0].occurred_at"
    assert nothing_stored(tables)


@pytest.mark.parametrize("instant", OVERFLOWING)
@pytest.mark.parametrize(
    "route",
    ["/v1/users/42/engagements", "/v1/users/42/engagements/AI-1", "/v1/users/42/stats", "/v1/users/42/score"],
)
def test_an_as_of_whose_utc_overflows_is_a_422_on_every_route(
    tables: dict[str, str], instant: str, route: str
) -> None:
    answer = call("GET", f"{route}?as_of={instant.replace('+', '%2B')}")
    refused(answer, 422, "validation_error")
    assert answer.body["details"][0]["field"] == "as_of"


@pytest.mark.parametrize("date", [1e20, -1e15])
def test_a_telegram_date_out_of_range_is_a_400(tables: dict[str, str], date: float) -> None:
    update = {
        "update_id": 1,
        "message": {
            "message_id": 1,
            "chat": {"id": 5, "type": "private"},
            "from": {"id": 5},
            "date": date,
            "text": "AI-1",
        },
    }
    refused(telegram(json.dumps(update).encode()), 400, "invalid_update")
    assert nothing_stored(tables)


def test_a_history_date_must_be_written_as_a_date(tables: dict[str, str]) -> None:
    refused(call("GET", "/v1/users/42/history?to=0"), 422, "validation_error")


# ------------------------------------------------------------------ all or nothing


REFUSED_LAST_EVENTS: dict[str, dict[str, Any]] = {
    "value below DynamoDB's smallest": event(type="converted", value=1e-200),
    "value with 39 significant digits": event(
        type="converted", value="1.23456789012345678901234567890123456789"
    ),
    "value over the maximum": event(type="converted", value=1e13),
    "metadata too large for DynamoDB": event(metadata={"x": 1e200}),
    "occurred_at as a bare number": event(occurred_at=0),
    "occurred_at before 1970": event(occurred_at="1969-12-31T23:59:59Z"),
    "occurred_at overflowing": event(occurred_at=OVERFLOWING[0]),
    "user_id with a slash": event(user_id="a/b"),
    "user_id with a percent sign": event(user_id="100%"),
}


@pytest.mark.parametrize("last", list(REFUSED_LAST_EVENTS.values()), ids=list(REFUSED_LAST_EVENTS))
def test_a_request_whose_last_event_is_refused_stores_nothing(
    tables: dict[str, str], last: dict[str, Any]
) -> None:
    body = {"events": [event(event_id=f"ok-{n}", item_id=f"AI-{n}") for n in range(3)] + [last]}
    answer = post_events(json.dumps(body).encode())
    refused(answer, 422, "validation_error")
    assert answer.body["details"][0]["field"].startswith("events[3].")
    assert nothing_stored(tables)


@pytest.mark.parametrize(
    "literal",
    [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"1e-400"],
)
def test_non_finite_and_unstorable_numbers_are_refused_anywhere(
    tables: dict[str, str], literal: bytes
) -> None:
    body = json.dumps({"events": [event(event_id="ok"), event(metadata={"x": 1})]}).encode()
    answer = post_events(body.replace(b'"x": 1', b'"x": ' + literal))
    refused(answer, 422, "validation_error")
    assert answer.body["details"][0]["field"] == "events[1].metadata.x"
    assert nothing_stored(tables)


def test_an_unpaired_surrogate_is_refused_not_stored(tables: dict[str, str]) -> None:
    body = json.dumps({"events": [event(context="CONTEXT")]}).encode().replace(b"CONTEXT", b"\\ud800")
    refused(post_events(body), 422, "validation_error")
    assert nothing_stored(tables)


# ------------------------------------------------------------- found by an outside review


def test_a_lone_surrogate_in_an_unsigned_vonage_body_is_a_401_not_a_500(tables: dict[str, str]) -> None:
    for body in (
        b'{"sig":"\\ud800","a":"b"}',
        b'{"sig":"abc","text":"\\udc00"}',
        b'{"sig":"abc","\\udc00":"x"}',
    ):
        refused(vonage(body, None), 401, "unauthorized")
    assert nothing_stored(tables)


def test_an_unsigned_webhook_with_the_wrong_media_type_is_a_401(tables: dict[str, str]) -> None:
    answer = call("POST", "/webhooks/telnyx", key=None, raw=b"x=1", content_type="text/plain")
    refused(answer, 401, "unauthorized")


def test_a_history_day_near_year_one_is_a_422(tables: dict[str, str]) -> None:
    refused(call("GET", "/v1/users/42/history?to=0001-03-31"), 422, "validation_error")


@pytest.mark.parametrize(
    "cursor",
    ["eyJzIjowLCJrIjp7ImZvbyI6ImJhciJ9fQ", "eyJzIjowLCJrIjp7ImZvbyI6eyJTIjoiYmFyIn19fQ", "not-base64!"],
)
def test_a_forged_segment_cursor_is_a_422(tables: dict[str, str], cursor: str) -> None:
    answer = call("GET", f"/v1/segments/hot?cursor={cursor}")
    refused(answer, 422, "validation_error")
    assert answer.body["details"][0]["field"] == "cursor"


@pytest.mark.parametrize("content_type", ["Application/Json", "APPLICATION/JSON; charset=UTF-8"])
def test_media_types_are_case_insensitive(tables: dict[str, str], content_type: str) -> None:
    answer = call("POST", "/v1/events", {"events": [event()]}, content_type=content_type)
    assert answer.status == 202, answer.body


@pytest.mark.parametrize("user_id", ["4\u200d2", "+1555\u200c1234567", "cafe\u0301", "\u0661\u0662"])
def test_ids_that_look_alike_or_cannot_be_asked_for_by_path_are_refused(
    tables: dict[str, str], user_id: str
) -> None:
    refused(post_events(json.dumps({"events": [event(user_id=user_id)]}).encode()), 422, "validation_error")
    assert nothing_stored(tables)


def test_a_retry_spelled_differently_is_the_same_event(tables: dict[str, str]) -> None:
    first = event(type="converted", value=0, metadata={"n": 1})
    again = event(type="converted", value=-0.0, metadata={"n": 1.0})
    assert post_events(json.dumps({"events": [first]}).encode()).body["accepted"] == 1
    assert post_events(json.dumps({"events": [again]}).encode()).body["duplicates"] == 1


def test_a_twilio_campaign_with_a_trailing_newline_falls_back_instead_of_failing(
    tables: dict[str, str],
) -> None:
    fields = {"MessageSid": "SM7", "To": "+14155550100", "From": "+14155550199", "MessageStatus": "delivered"}
    body, headers = twilio_form("https://api.local/webhooks/twilio?campaign=abc%0A", fields, TWILIO_TOKEN)
    content_type = headers.pop("Content-Type")
    answer = call(
        "POST",
        "/webhooks/twilio?campaign=abc%0A",
        key=None,
        raw=body,
        content_type=content_type,
        headers=headers,
    )
    assert answer.status == 200, answer.body
    items = boto3.client("dynamodb").scan(TableName=tables["events"])["Items"]
    assert [i["item_id"]["S"] for i in items] == ["sms"]


def test_a_provider_timestamp_before_1970_is_read_as_the_receipt(tables: dict[str, str]) -> None:
    from tests.signers import vonage_query

    params = {
        "msisdn": "447700900001",
        "to": "447700900000",
        "messageId": "0A9",
        "text": "hi",
        "type": "text",
        "message-timestamp": "0001-01-01 00:00:00",
    }
    assert call("GET", f"/webhooks/vonage?{vonage_query(params, VONAGE_SECRET)}", key=None).status == 200
    (item,) = boto3.client("dynamodb").scan(TableName=tables["events"])["Items"]
    assert int(item["occurred_ms"]["N"]) > 0
