"""SMS provider callbacks through the gateway and the real handler, signed as each provider signs."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest

from tests.signers import TelnyxSigner, plivo_form, twilio_form, vonage_query

from .api import Answer, call

BASE = "https://api.local"
TELNYX = TelnyxSigner()


@pytest.fixture(autouse=True)
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "twilio-token")
    monkeypatch.setenv("VONAGE_SIGNATURE_SECRET", "vonage-secret")
    monkeypatch.setenv("TELNYX_PUBLIC_KEY", TELNYX.public_key)
    monkeypatch.setenv("PLIVO_AUTH_TOKEN", "plivo-token")


def post(target: str, body: bytes, headers: dict[str, str]) -> Answer:
    content_type = headers.pop("Content-Type")
    return call("POST", target, key=None, raw=body, content_type=content_type, headers=headers)


def twilio(fields: dict[str, str], *, token: str = "twilio-token", query: str = "campaign=spring") -> Answer:
    body, headers = twilio_form(f"{BASE}/webhooks/twilio?{query}", fields, token)
    return post(f"/webhooks/twilio?{query}", body, headers)


def events(tables: dict[str, str]) -> list[tuple[str, str, str]]:
    items = boto3.client("dynamodb").scan(TableName=tables["events"])["Items"]
    return sorted((i["type"]["S"], i["user_id"]["S"], i["item_id"]["S"]) for i in items)


STATUS = {
    "MessageSid": "SM100",
    "To": "+14155550100",
    "From": "+14155550199",
    "AccountSid": "AC1",
    "ToCity": "",
}


def test_a_twilio_delivery_is_stored_for_the_campaign_once(tables: dict[str, str]) -> None:
    answer = twilio({**STATUS, "MessageStatus": "delivered"})
    assert (answer.status, answer.headers["content-type"]) == (200, "text/xml")
    assert twilio({**STATUS, "MessageStatus": "delivered"}).status == 200  # Twilio's retry
    assert events(tables) == [("delivered", "+14155550100", "spring")]


def test_a_late_delivered_never_overrides_a_recorded_failure(tables: dict[str, str]) -> None:
    twilio({**STATUS, "MessageStatus": "sent"})
    twilio({**STATUS, "MessageStatus": "undelivered", "ErrorCode": "30003"})
    twilio({**STATUS, "MessageStatus": "delivered"})
    assert events(tables) == [("bounced", "+14155550100", "spring")]


def test_a_send_blocked_by_an_opt_out_is_an_opt_out_and_suppresses_the_contact(
    tables: dict[str, str],
) -> None:
    twilio({**STATUS, "MessageStatus": "failed", "ErrorCode": "21610"}, query="campaign=promo")
    assert events(tables) == [("opted_out", "+14155550100", "promo")]


def test_inbound_stop_then_start(tables: dict[str, str]) -> None:
    inbound = {"From": "+14155550100", "To": "+14155550199", "AccountSid": "AC1", "NumMedia": "0"}
    twilio({**inbound, "MessageSid": "SM201", "Body": "STOP"})
    twilio({**inbound, "MessageSid": "SM202", "Body": "start"})
    twilio({**inbound, "MessageSid": "SM203", "Body": "What time do you open?"})
    assert events(tables) == [
        ("opted_in", "+14155550100", "spring"),
        ("opted_out", "+14155550100", "spring"),
        ("responded", "+14155550100", "spring"),
    ]


@pytest.mark.parametrize("token", ["wrong-token", ""])
def test_a_bad_twilio_signature_stores_nothing(tables: dict[str, str], token: str) -> None:
    answer = twilio({**STATUS, "MessageStatus": "delivered"}, token=token or "x")
    assert (answer.status, answer.body["error"]) == (401, "unauthorized")
    assert events(tables) == []


def test_an_unconfigured_provider_refuses_everything(
    tables: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TWILIO_AUTH_TOKEN")
    assert twilio({**STATUS, "MessageStatus": "delivered"}).status == 401
    assert events(tables) == []


def test_vonage_signed_get_inbound(tables: dict[str, str]) -> None:
    query = vonage_query(
        {
            "msisdn": "447700900001",
            "to": "447700900000",
            "messageId": "0A0000001234567B",
            "text": "Hello!",
            "type": "text",
            "message-timestamp": "2026-11-20 11:59:00",
        },
        "vonage-secret",
    )
    answer = call("GET", f"/webhooks/vonage?{query}", key=None)
    assert answer.status == 200, answer.body
    assert events(tables) == [("responded", "+447700900001", "sms")]


def test_an_unsigned_vonage_callback_is_refused_like_any_unauthenticated_request(
    tables: dict[str, str],
) -> None:
    # Not a 5xx: an anonymous caller must not be able to trip the 5xx alarm.
    answer = call("GET", "/webhooks/vonage?msisdn=447700900001&messageId=1&text=hi", key=None)
    assert (answer.status, answer.body["error"]) == (401, "unauthorized")
    assert events(tables) == []


def telnyx_finalized(status: str, errors: list[dict[str, Any]] | None = None) -> bytes:
    return json.dumps(
        {
            "data": {
                "event_type": "message.finalized",
                "id": "ev-1",
                "record_type": "event",
                "occurred_at": "2026-11-20T11:59:00.000+00:00",
                "payload": {
                    "id": "40385f64-5717-4562-b3fc-2c963f66afa6",
                    "direction": "outbound",
                    "from": {"phone_number": "+13125550000"},
                    "to": [{"phone_number": "+13125550001", "status": status}],
                    "errors": errors or [],
                },
            },
            "meta": {"attempt": 1, "delivered_to": "https://api.local/webhooks/telnyx"},
        }
    ).encode()


def test_telnyx_finalized_delivery(tables: dict[str, str]) -> None:
    body = telnyx_finalized("delivered")
    assert post("/webhooks/telnyx", body, TELNYX.headers(body)).status == 200
    assert events(tables) == [("delivered", "+13125550001", "sms")]


def test_a_stale_telnyx_callback_is_a_403(tables: dict[str, str]) -> None:
    body = telnyx_finalized("delivered")
    answer = post("/webhooks/telnyx", body, TELNYX.headers(body, at=int(time.time()) - 301))
    assert (answer.status, answer.body["error"]) == (403, "stale_request")
    assert events(tables) == []


def test_a_re_serialized_telnyx_body_fails_verification(tables: dict[str, str]) -> None:
    body = telnyx_finalized("delivered")
    headers = TELNYX.headers(body)
    reserialized = json.dumps(json.loads(body), indent=2).encode()
    assert post("/webhooks/telnyx", reserialized, headers).status == 401


def test_plivo_inbound_with_a_v3_signature(tables: dict[str, str]) -> None:
    fields = {
        "From": "14155550100",
        "To": "14155550199",
        "Text": "yes please",
        "Type": "sms",
        "MessageUUID": "abc-123",
    }
    body, headers = plivo_form(f"{BASE}/webhooks/plivo", fields, "plivo-token")
    assert post("/webhooks/plivo", body, headers).status == 200
    assert events(tables) == [("responded", "+14155550100", "sms")]


def test_a_store_outage_is_a_503_so_the_provider_retries(
    tables: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:9")
    from engagement import deps

    deps.reset()
    assert twilio({**STATUS, "MessageStatus": "delivered"}).status == 503
