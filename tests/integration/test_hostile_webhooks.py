"""Every webhook route against generated hostile input, unsigned and signed.

Unsigned: whatever the body, headers or query hold, the answer is 401 and no table changes (the
credential is checked before anything is parsed). Signed with the real secret: the request is
authentic but its content is anything (a valid payload with one value replaced by something
hostile, or arbitrary bytes); the answer is never a 5xx, and a refusal (4xx) leaves every table
as it was.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.signers import TelnyxSigner, plivo_form, twilio_form, vonage_query

from .api import Answer, call
from .test_hostile_input import TELEGRAM_SECRET, TWILIO_TOKEN, VONAGE_SECRET, stored, vonage_jwt

FIXTURES = Path(__file__).parents[1] / "unit" / "fixtures"
BASE = "https://api.local"
PLIVO_TOKEN = "plivo-token"
TELNYX = TelnyxSigner()
EXAMPLES = 40
RUN = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(autouse=True)
def webhook_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", TELEGRAM_SECRET)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TWILIO_TOKEN)
    monkeypatch.setenv("VONAGE_SIGNATURE_SECRET", VONAGE_SECRET)
    monkeypatch.setenv("TELNYX_PUBLIC_KEY", TELNYX.public_key)
    monkeypatch.setenv("PLIVO_AUTH_TOKEN", PLIVO_TOKEN)


# ---------------------------------------------------------------------------- hostile values

HOSTILE_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.sampled_from([10**20, -(10**15), 2**63, -(2**63) - 1, 0, -1]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(
        ["", " ", "STOP", "+", "+1", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "\u0000"]
    ),
)
HOSTILE_JSON = st.recursive(
    HOSTILE_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
RAW_BODIES = st.one_of(
    st.binary(max_size=200),
    st.sampled_from(
        [b"[" * 1000 + b"]" * 1000, b'{"a": NaN}', b"9" * 5000, b"\xff\xfe", b"", b"null", b"[]"]
    ),
)


@st.composite
def mutated(draw: st.DrawFn, document: Any) -> Any:
    """``document`` with one value (at any depth) replaced by a hostile one."""
    paths: list[tuple[Any, ...]] = []

    def walk(node: Any, path: tuple[Any, ...]) -> None:
        paths.append(path)
        if isinstance(node, dict):
            for key, child in node.items():
                walk(child, (*path, key))
        elif isinstance(node, list):
            for index, child in enumerate(node):
                walk(child, (*path, index))

    walk(document, ())
    path = draw(st.sampled_from(paths[1:] or paths))
    copy = json.loads(json.dumps(document))
    if not path:
        return draw(HOSTILE_JSON)
    target = copy
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = draw(HOSTILE_JSON)
    return copy


def fixture(provider: str, name: str) -> Any:
    return json.loads((FIXTURES / provider / name).read_text())


def form_fixture(fields: dict[str, str]) -> st.SearchStrategy[dict[str, str]]:
    return st.builds(
        lambda replaced, key, value: {**fields, key: value} if replaced else fields,
        st.booleans(),
        st.sampled_from(sorted(fields)),
        st.text(max_size=40).filter(lambda t: "\x00" not in t),
    )


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, allow_nan=False).encode()


# ---------------------------------------------------------------------------- senders


def post(path: str, body: bytes, headers: dict[str, str], *, query: str = "") -> Answer:
    content_type = headers.pop("Content-Type", "application/json")
    target = f"{path}?{query}" if query else path
    return call("POST", target, key=None, raw=body, content_type=content_type, headers=headers)


def signed_telegram(body: bytes) -> Answer:
    return post("/webhooks/telegram", body, {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET})


def signed_twilio_json(path: str, body: bytes) -> Answer:
    query = f"bodySHA256={hashlib.sha256(body).hexdigest()}"
    _, headers = twilio_form(f"{BASE}{path}?{query}", {}, TWILIO_TOKEN)
    return post(path, body, {"X-Twilio-Signature": headers["X-Twilio-Signature"]}, query=query)


def signed_twilio_form(fields: dict[str, str]) -> Answer:
    body, headers = twilio_form(f"{BASE}/webhooks/twilio", fields, TWILIO_TOKEN)
    return post("/webhooks/twilio", body, headers)


def signed_plivo(fields: dict[str, str]) -> Answer:
    body, headers = plivo_form(f"{BASE}/webhooks/plivo", fields, PLIVO_TOKEN)
    return post("/webhooks/plivo", body, dict(headers))


def signed_telnyx(body: bytes) -> Answer:
    return post("/webhooks/telnyx", body, TELNYX.headers(body))


def signed_vonage_messages(body: bytes) -> Answer:
    return post("/webhooks/vonage", body, {"Authorization": f"Bearer {vonage_jwt(body)}"})


def signed_vonage_get(params: dict[str, str]) -> Answer:
    return call("GET", f"/webhooks/vonage?{vonage_query(params, VONAGE_SECRET)}", key=None)


def check_signed(tables: dict[str, str], send: Callable[[], Answer]) -> None:
    before = stored(tables)
    answer = send()
    assert answer.status < 500, answer.body
    if answer.status >= 400:
        assert answer.headers["content-type"] == "application/json"
        assert stored(tables) == before, answer.body


# ---------------------------------------------------------------------------- unsigned

UNSIGNED_ROUTES = [
    ("POST", "/webhooks/telegram"),
    ("POST", "/webhooks/twilio"),
    ("POST", "/webhooks/twilio/clicks"),
    ("GET", "/webhooks/vonage"),
    ("POST", "/webhooks/vonage"),
    ("POST", "/webhooks/telnyx"),
    ("POST", "/webhooks/plivo"),
]


@pytest.mark.parametrize(("method", "path"), UNSIGNED_ROUTES)
@RUN
@given(
    body=RAW_BODIES,
    content_type=st.sampled_from(["application/json", "application/x-www-form-urlencoded"]),
    query=st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=3).map(urlencode),
    headers=st.dictionaries(
        st.sampled_from(
            [
                "X-Twilio-Signature",
                "X-Telegram-Bot-Api-Secret-Token",
                "Authorization",
                "telnyx-signature-ed25519",
                "telnyx-timestamp",
                "X-Plivo-Signature-V3",
                "X-Plivo-Signature-V3-Nonce",
            ]
        ),
        st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=60),
        max_size=3,
    ),
)
def test_an_unsigned_request_is_a_401_whatever_it_holds(
    tables: dict[str, str],
    method: str,
    path: str,
    body: bytes,
    content_type: str,
    query: str,
    headers: dict[str, str],
) -> None:
    before = stored(tables)
    target = f"{path}?{query}" if query else path
    answer = call(
        method,
        target,
        key=None,
        raw=body if method == "POST" else b"",
        content_type=content_type,
        headers=headers,
    )
    assert answer.status in (401, 415), answer.body  # 415: a body the route never takes
    assert stored(tables) == before


# ---------------------------------------------------------------------------- signed, hostile content


@RUN
@given(document=mutated(fixture("telegram", "private_query.json")) | RAW_BODIES)
def test_signed_telegram_updates(tables: dict[str, str], document: Any) -> None:
    body = document if isinstance(document, bytes) else _json_bytes(document)
    check_signed(tables, lambda: signed_telegram(body))


@RUN
@given(document=mutated(fixture("telnyx", "official_message_received.json")) | RAW_BODIES)
def test_signed_telnyx_events(tables: dict[str, str], document: Any) -> None:
    body = document if isinstance(document, bytes) else _json_bytes(document)
    check_signed(tables, lambda: signed_telnyx(body))


@RUN
@given(document=mutated(fixture("vonage", "messages_inbound_sms.json")) | RAW_BODIES)
def test_signed_vonage_messages(tables: dict[str, str], document: Any) -> None:
    body = document if isinstance(document, bytes) else _json_bytes(document)
    check_signed(tables, lambda: signed_vonage_messages(body))


CLICK = {
    "message_sid": "SM1",
    "to": "+14155550100",
    "link": "https://example.com",
    "click_time": "2026-11-20T10:00:00Z",
    "user_agent": "Mozilla/5.0",
}


@RUN
@given(document=mutated(CLICK) | RAW_BODIES)
def test_signed_twilio_clicks(tables: dict[str, str], document: Any) -> None:
    body = document if isinstance(document, bytes) else _json_bytes(document)
    check_signed(tables, lambda: signed_twilio_json("/webhooks/twilio/clicks", body))


TWILIO_INBOUND = {
    "MessageSid": "SM9",
    "From": "+14155550100",
    "To": "+14155550199",
    "Body": "hello",
    "NumMedia": "0",
    "AccountSid": "AC1",
}


@RUN
@given(
    fields=form_fixture(TWILIO_INBOUND)
    | form_fixture({**TWILIO_INBOUND, "MessageStatus": "failed", "ErrorCode": "21610"})
)
def test_signed_twilio_forms(tables: dict[str, str], fields: dict[str, str]) -> None:
    check_signed(tables, lambda: signed_twilio_form(fields))


PLIVO_INBOUND = {
    "From": "14155550100",
    "To": "14155550199",
    "Text": "yes",
    "Type": "sms",
    "MessageUUID": "abc-1",
}


@RUN
@given(fields=form_fixture(PLIVO_INBOUND))
def test_signed_plivo_forms(tables: dict[str, str], fields: dict[str, str]) -> None:
    check_signed(tables, lambda: signed_plivo(fields))


VONAGE_INBOUND = {
    "msisdn": "447700900001",
    "to": "447700900000",
    "messageId": "0A0000001234567B",
    "text": "Hello!",
    "type": "text",
    "message-timestamp": "2026-11-20 11:59:00",
}


@RUN
@given(params=form_fixture(VONAGE_INBOUND))
def test_signed_vonage_sms_api(tables: dict[str, str], params: dict[str, str]) -> None:
    check_signed(tables, lambda: signed_vonage_get(params))
