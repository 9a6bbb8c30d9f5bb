"""Nothing personal or secret in any log line: sentinel phone numbers, message text and secrets go
through every route, accepted and refused, scored and maintained, at the most verbose log level;
then everything the runner and the functions printed is searched for them."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from tests.signers import TelnyxSigner, plivo_form, twilio_form, vonage_query

from .conftest import Runner, free_port, start_runner

pytestmark = pytest.mark.e2e

PHONE = "+15550009876"
PHONE_DIGITS = PHONE[1:]
VONAGE_PHONE = "447700900123"
TEXT = "sentinel words nobody else says"
SECRETS = {
    "ENGAGEMENT_API_KEYS": "sentinel-api-key-0001",
    "TELEGRAM_WEBHOOK_SECRET": "sentinel-telegram-secret-0002",
    "TWILIO_AUTH_TOKEN": "sentinel-twilio-token-0003",
    "VONAGE_SIGNATURE_SECRET": "sentinel-vonage-secret-0004",
    "PLIVO_AUTH_TOKEN": "sentinel-plivo-token-0005",
    "LINK_SIGNING_KEY": "sentinel-link-key-0006",
}
TELNYX = TelnyxSigner()
FORBIDDEN = [
    PHONE,
    PHONE_DIGITS,
    VONAGE_PHONE,
    TEXT,
    quote(TEXT),
    quote_plus(TEXT),
    "sentinel words",
    *SECRETS.values(),
    TELNYX.public_key,
]


def _send(
    runner: Runner, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> int:
    request = urllib.request.Request(f"{runner.url}{path}", data=body or None, method=method)
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def _api(
    runner: Runner, method: str, path: str, body: Any = None, *, key: str = SECRETS["ENGAGEMENT_API_KEYS"]
) -> int:
    headers = {"Authorization": f"Bearer {key}"}
    data = b""
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return _send(runner, method, path, data, headers)


def _exercise(runner: Runner, base: str) -> None:
    now = datetime.now(UTC).replace(microsecond=0).isoformat()
    event = {"user_id": PHONE, "item_id": "spring", "type": "responded", "occurred_at": now, "context": TEXT}
    assert _api(runner, "POST", "/v1/events", {"events": [event]}) == 202
    assert _api(runner, "POST", "/v1/events", {"events": [{**event, "type": "liked"}]}) == 422
    assert _api(runner, "POST", "/v1/events", {"events": [{**event, "user_id": f"{PHONE} {TEXT}"}]}) == 422
    assert _api(runner, "POST", "/v1/events", {"events": [event]}, key=f"{TEXT}") == 401
    for path in ("engagements", "engagements/spring", "stats", "score", "history"):
        assert _api(runner, "GET", f"/v1/users/%2B{PHONE_DIGITS}/{path}") in (200, 404)
        parameter = "from" if path == "history" else "as_of"
        assert _api(runner, "GET", f"/v1/users/%2B{PHONE_DIGITS}/{path}?{parameter}={quote(TEXT)}") == 422
    assert _api(runner, "GET", f"/v1/users/%2B{PHONE_DIGITS}/nothing-here") == 404
    link = {"url": f"https://shop.example/{PHONE_DIGITS}", "user_id": PHONE, "campaign": "spring"}
    assert _api(runner, "POST", "/v1/links", link) == 201
    assert _api(runner, "POST", "/v1/links", {**link, "url": TEXT}) == 422

    inbound = {"MessageSid": "SM1", "From": PHONE, "To": "+14155550199", "Body": TEXT, "NumMedia": "0"}
    body, headers = twilio_form(f"{base}/webhooks/twilio", inbound, SECRETS["TWILIO_AUTH_TOKEN"])
    assert _send(runner, "POST", "/webhooks/twilio", body, headers) == 200
    body, headers = twilio_form(f"{base}/webhooks/twilio", inbound, "wrong")
    assert _send(runner, "POST", "/webhooks/twilio", body, headers) == 401

    params = {"msisdn": VONAGE_PHONE, "to": "447700900000", "messageId": "0A1", "text": TEXT, "type": "text"}
    assert (
        _send(runner, "GET", f"/webhooks/vonage?{vonage_query(params, SECRETS['VONAGE_SIGNATURE_SECRET'])}")
        == 200
    )
    assert _send(runner, "GET", f"/webhooks/vonage?{vonage_query(params, 'wrong')}") == 401

    plivo = {"From": PHONE_DIGITS, "To": "14155550199", "Text": TEXT, "Type": "sms", "MessageUUID": "p-1"}
    body, plivo_headers = plivo_form(f"{base}/webhooks/plivo", plivo, SECRETS["PLIVO_AUTH_TOKEN"])
    assert _send(runner, "POST", "/webhooks/plivo", body, dict(plivo_headers)) == 200

    telnyx = {
        "data": {
            "event_type": "message.received",
            "id": "t-1",
            "occurred_at": now,
            "payload": {
                "id": "m-1",
                "from": {"phone_number": PHONE},
                "to": [{"phone_number": "+14155550199"}],
                "text": TEXT,
            },
        }
    }
    body = json.dumps(telnyx).encode()
    assert _send(runner, "POST", "/webhooks/telnyx", body, TELNYX.headers(body)) == 200

    update = {
        "update_id": 9,
        "message": {
            "message_id": 3,
            "chat": {"id": 77, "type": "private"},
            "from": {"id": 77},
            "date": int(time.time()),
            "text": f"AI-1799 {TEXT} {PHONE}",
        },
    }
    tg = {
        "Content-Type": "application/json",
        "X-Telegram-Bot-Api-Secret-Token": SECRETS["TELEGRAM_WEBHOOK_SECRET"],
    }
    assert _send(runner, "POST", "/webhooks/telegram", json.dumps(update).encode(), tg) == 200
    broken = json.dumps({**update, "message": {**update["message"], "date": TEXT}}).encode()
    assert _send(runner, "POST", "/webhooks/telegram", broken, tg) == 400
    assert (
        _send(runner, "POST", "/webhooks/telegram", broken, {**tg, "X-Telegram-Bot-Api-Secret-Token": TEXT})
        == 401
    )

    runner.control("POST", "settle", {})
    runner.control("POST", "clock", {"advance": "8d"})  # decay every day, cleanup once


def test_no_log_line_holds_a_phone_number_a_message_text_or_a_secret() -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with start_runner(
        PORT=str(port), LOG_LEVEL="DEBUG", TELNYX_PUBLIC_KEY=TELNYX.public_key, **SECRETS
    ) as runner:
        _exercise(runner, base)
        runner.stop()
        lines = list(runner.output)
    assert len(lines) > 20  # the functions did log, at DEBUG
    assert any("+155…76" in line for line in lines)  # the requests were logged, numbers masked
    leaks = [(word, line) for line in lines for word in FORBIDDEN if word in line]
    assert leaks == [], "\n".join(f"{word!r} in: {line[:300]}" for word, line in leaks[:10])


@pytest.mark.parametrize("word", FORBIDDEN)
def test_the_sentinels_are_distinct_enough_to_be_found(word: str) -> None:
    assert len(word) >= 10
