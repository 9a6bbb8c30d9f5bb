"""The Telnyx adapter: Ed25519 verification cross-checked against the official SDK, and the
documented example webhooks mapped to SMS signals.

No official Ed25519 test vector exists for Telnyx webhooks (webhook notes §5, §15), so key pairs
are generated here and the official SDK's own verification (``telnyx.lib.webhooks_ed25519``) is
the oracle: whatever it accepts, ``verify`` accepts, and the other way round.
"""

from __future__ import annotations

import base64
import copy
import json
import subprocess
import sys
import types
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from importlib.util import find_spec
from pathlib import Path
from typing import Any, get_args

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engagement.domain.event_types import EventType
from engagement.domain.events import stable_id
from engagement.topology import TELNYX, TOPOLOGY
from engagement.webhooks import telnyx
from engagement.webhooks.provider import MalformedCallback, Verdict
from engagement.webhooks.request import WebhookRequest, from_api_gateway
from engagement.webhooks.sms import SmsOutcome, SmsSignal, to_events
from tests.settings_defaults import CLICK_WINDOW

FIXTURES = Path(__file__).parent / "fixtures" / "telnyx"
ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
NOW_TS = int(NOW.timestamp())
PROVIDER = telnyx.PROVIDER


def raw_key(private: Ed25519PrivateKey) -> str:
    return base64.b64encode(private.public_key().public_bytes_raw()).decode()


SIGNER = Ed25519PrivateKey.generate()
KEY = raw_key(SIGNER)
OTHER = Ed25519PrivateKey.generate()


def fixture(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def envelope(name: str) -> dict[str, Any]:
    return dict(json.loads(fixture(name)))


def sign(body: bytes, timestamp: str, signer: Ed25519PrivateKey = SIGNER) -> str:
    return base64.b64encode(signer.sign(timestamp.encode() + b"|" + body)).decode()


def request(
    body: bytes,
    *,
    timestamp: int | str = NOW_TS,
    signer: Ed25519PrivateKey = SIGNER,
    headers: Mapping[str, str] | None = None,
) -> WebhookRequest:
    """A request as Telnyx sends it: the signature covers ``"<timestamp>|"`` + the raw body."""
    stamp = str(timestamp)
    signed = {
        "content-type": "application/json",
        "telnyx-signature-ed25519": sign(body, stamp, signer),
        "telnyx-timestamp": stamp,
    }
    return WebhookRequest(
        method="POST",
        url="https://hooks.example.com/webhooks/telnyx",
        headers={**signed, **(headers or {})} if headers is not None else signed,
        body=body,
        query="",
    )


def without(req: WebhookRequest, header: str) -> WebhookRequest:
    return WebhookRequest(
        req.method, req.url, {k: v for k, v in req.headers.items() if k != header}, req.body, req.query
    )


def replacing(req: WebhookRequest, **headers: str) -> WebhookRequest:
    changed = {name.replace("_", "-"): value for name, value in headers.items()}
    return WebhookRequest(req.method, req.url, {**req.headers, **changed}, req.body, req.query)


def parsed(body: dict[str, Any] | bytes) -> list[SmsSignal]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return PROVIDER.parse(request(raw), NOW)


# ------------------------------------------------------------------ the adapter's shape


def test_adapter_identity_secret_and_acknowledgement() -> None:
    assert PROVIDER.name == "telnyx"
    assert TOPOLOGY.webhook("telnyx").secret is TELNYX
    assert PROVIDER.acknowledgement == ("application/json", "{}")


# ------------------------------------------------------------------ verification


@pytest.mark.parametrize("name", sorted(p.stem for p in FIXTURES.glob("*.json")))
def test_a_signed_documented_webhook_verifies(name: str) -> None:
    assert PROVIDER.verify(request(fixture(name)), KEY, NOW) is Verdict.OK


def test_a_tampered_body_is_invalid() -> None:
    req = request(fixture("official_message_finalized"))
    tampered = req.body.replace(b'"delivered"', b'"delivery_failed"')
    assert tampered != req.body
    forged = WebhookRequest(req.method, req.url, req.headers, tampered, req.query)
    assert PROVIDER.verify(forged, KEY, NOW) is Verdict.INVALID


def test_one_flipped_bit_anywhere_in_the_body_is_invalid() -> None:
    req = request(fixture("official_message_received"))
    for position in (0, len(req.body) // 2, len(req.body) - 1):
        body = bytearray(req.body)
        body[position] ^= 0x01
        forged = WebhookRequest(req.method, req.url, req.headers, bytes(body), req.query)
        assert PROVIDER.verify(forged, KEY, NOW) is Verdict.INVALID


def test_re_serialized_json_does_not_verify() -> None:
    """The same event re-encoded (what JSON.stringify(req.body) does in the docs' Node sample)
    is different bytes, so the signature over the original bytes no longer matches."""
    req = request(fixture("official_message_finalized"))
    for reencoded in (
        json.dumps(json.loads(req.body)).encode(),
        json.dumps(json.loads(req.body), separators=(",", ":")).encode(),
    ):
        assert json.loads(reencoded) == json.loads(req.body)
        again = WebhookRequest(req.method, req.url, req.headers, reencoded, req.query)
        assert PROVIDER.verify(again, KEY, NOW) is Verdict.INVALID


@pytest.mark.parametrize(
    ("offset", "verdict"),
    [
        (0, Verdict.OK),
        (300, Verdict.OK),
        (-300, Verdict.OK),
        (301, Verdict.STALE),
        (-301, Verdict.STALE),
        (86_400, Verdict.STALE),
    ],
)
def test_the_timestamp_must_be_within_300_seconds(offset: int, verdict: Verdict) -> None:
    req = request(fixture("official_message_sent"), timestamp=NOW_TS + offset)
    assert PROVIDER.verify(req, KEY, NOW) is verdict


def test_the_window_counts_whole_seconds_like_the_sdk() -> None:
    # int(time.time()) in the SDK: 300.9 s after the timestamp is still 300.
    req = request(fixture("official_message_sent"), timestamp=NOW_TS - 300)
    assert PROVIDER.verify(req, KEY, NOW + timedelta(milliseconds=900)) is Verdict.OK


def test_stale_means_signed_by_telnyx_and_a_forged_old_request_is_invalid() -> None:
    old = request(fixture("official_message_sent"), timestamp=NOW_TS - 3600, signer=OTHER)
    assert PROVIDER.verify(old, KEY, NOW) is Verdict.INVALID


def test_the_timestamp_is_part_of_what_is_signed() -> None:
    req = request(fixture("official_message_sent"))
    moved = replacing(req, telnyx_timestamp=str(NOW_TS + 1))
    assert PROVIDER.verify(moved, KEY, NOW) is Verdict.INVALID


@pytest.mark.parametrize("header", ["telnyx-signature-ed25519", "telnyx-timestamp"])
def test_a_missing_header_is_missing(header: str) -> None:
    req = request(fixture("official_message_sent"))
    assert PROVIDER.verify(without(req, header), KEY, NOW) is Verdict.MISSING
    assert PROVIDER.verify(replacing(req, **{header.replace("-", "_"): ""}), KEY, NOW) is Verdict.MISSING


def test_no_headers_at_all_is_missing() -> None:
    bare = WebhookRequest("POST", "https://h/webhooks/telnyx", {}, fixture("official_message_sent"), "")
    assert PROVIDER.verify(bare, KEY, NOW) is Verdict.MISSING


@pytest.mark.parametrize(
    "signature",
    [
        "not base64 at all!",
        "%%%%",
        "QUJD",  # valid base64, 3 bytes
        base64.b64encode(b"\x00" * 63).decode(),
        base64.b64encode(b"\x00" * 65).decode(),
        base64.b64encode(b"\x00" * 64).decode().rstrip("="),  # unpadded
        "ü" * 88,  # not ASCII
    ],
    ids=["text", "symbols", "short", "63-bytes", "65-bytes", "unpadded", "non-ascii"],
)
def test_a_malformed_signature_header_is_invalid(signature: str) -> None:
    req = replacing(request(fixture("official_message_sent")), telnyx_signature_ed25519=signature)
    assert PROVIDER.verify(req, KEY, NOW) is Verdict.INVALID


def test_a_repeated_signature_header_comma_joined_by_api_gateway_is_invalid() -> None:
    req = request(fixture("official_message_sent"))
    doubled = req.headers["telnyx-signature-ed25519"] * 2
    twice = replacing(req, telnyx_signature_ed25519=f"{req.headers['telnyx-signature-ed25519']},{doubled}")
    assert PROVIDER.verify(twice, KEY, NOW) is Verdict.INVALID


@pytest.mark.parametrize("timestamp", ["soon", "1.7e9", "-1", "+1763640000", "0x69"])
def test_a_timestamp_that_is_not_unix_seconds_is_invalid(timestamp: str) -> None:
    req = request(fixture("official_message_sent"), timestamp=timestamp)  # signed over it, even
    assert PROVIDER.verify(req, KEY, NOW) is Verdict.INVALID


def test_another_accounts_key_is_invalid() -> None:
    req = request(fixture("official_message_received"))
    assert PROVIDER.verify(req, raw_key(OTHER), NOW) is Verdict.INVALID
    assert PROVIDER.verify(request(req.body, signer=OTHER), KEY, NOW) is Verdict.INVALID


def test_headers_arriving_through_api_gateway_in_any_case_and_base64_verify() -> None:
    body = fixture("official_message_finalized")
    stamp = str(NOW_TS)
    for encoded in (False, True):
        event = {
            "rawPath": "/webhooks/telnyx",
            "requestContext": {
                "domainName": "abc.execute-api.eu-west-1.amazonaws.com",
                "http": {"method": "POST"},
            },
            "headers": {"Telnyx-Signature-Ed25519": sign(body, stamp), "TELNYX-TIMESTAMP": stamp},
            "body": base64.b64encode(body).decode() if encoded else body.decode(),
            "isBase64Encoded": encoded,
        }
        assert PROVIDER.verify(from_api_gateway(event), KEY, NOW) is Verdict.OK


# ------------------------------------------------------------------ the public key


def test_the_key_may_carry_surrounding_whitespace() -> None:
    assert PROVIDER.verify(request(fixture("official_message_sent")), f" {KEY}\n", NOW) is Verdict.OK


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "expected 32 bytes, got 0"),
        ("not a key!", "is not base64"),
        (base64.b64encode(b"\x01" * 31).decode(), "expected 32 bytes, got 31"),
        (base64.b64encode(b"\x01" * 44).decode(), "expected 32 bytes, got 44"),  # e.g. a DER key
    ],
)
def test_a_malformed_key_is_a_configuration_error_that_refuses_everything(
    key: str, message: str, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(telnyx.PublicKeyError, match=message) as raised:
        telnyx.public_key(key)
    assert "TELNYX_PUBLIC_KEY" in str(raised.value)
    # verify never lets the request through, and says why where the operator looks.
    assert PROVIDER.verify(request(fixture("official_message_sent")), key, NOW) is Verdict.INVALID
    (record,) = [r for r in caplog.records if r.levelname == "ERROR"]
    assert "TELNYX_PUBLIC_KEY" in record.getMessage()
    assert "refused" in record.getMessage()


def test_the_loaded_key_is_cached_per_key_string() -> None:
    telnyx.public_key.cache_clear()
    first = telnyx.public_key(KEY)
    assert telnyx.public_key(KEY) is first
    assert telnyx.public_key(raw_key(OTHER)) is not first
    info = telnyx.public_key.cache_info()
    assert (info.hits, info.misses) == (1, 2)


def test_importing_the_adapter_does_not_import_cryptography() -> None:
    """The cold-start decision, kept: the other providers sharing the function do not pay for it."""
    probe = (
        "import sys, engagement.webhooks.telnyx as t\n"
        "assert not [m for m in sys.modules if m.startswith('cryptography')], 'imported eagerly'\n"
        "t.public_key(sys.argv[1])\n"
        "assert 'cryptography.hazmat.primitives.asymmetric.ed25519' in sys.modules\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, KEY],
        cwd=ROOT,
        env={"PYTHONPATH": f"{ROOT / 'functions'}", "AWS_DEFAULT_REGION": "us-east-1"},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


# ------------------------------------------------------------------ cross-check with the official SDK


class _VerifyKey:
    """PyNaCl's ``VerifyKey`` API over ``cryptography``, for when PyNaCl is not installed.

    The SDK's webhook code imports PyNaCl lazily (the ``telnyx[webhooks]`` extra); all of the
    SDK's own logic (headers, window, decoding, the signed string) still runs unchanged.
    """

    def __init__(self, key: bytes) -> None:
        self._key = Ed25519PublicKey.from_public_bytes(key)

    def verify(self, message: bytes, signature: bytes) -> bytes:
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            raise _BadSignatureError("Signature was forged or corrupt") from None
        return message


class _BadSignatureError(Exception):
    pass


@pytest.fixture(scope="module")
def sdk() -> Iterator[types.ModuleType]:
    """``telnyx.lib.webhooks_ed25519`` with its clock at NOW and PyNaCl present (real or stand-in)."""
    with pytest.MonkeyPatch.context() as patch:
        if find_spec("nacl") is None:
            nacl = types.ModuleType("nacl")
            signing = types.ModuleType("nacl.signing")
            exceptions = types.ModuleType("nacl.exceptions")
            signing.VerifyKey = _VerifyKey  # type: ignore[attr-defined]
            exceptions.BadSignatureError = _BadSignatureError  # type: ignore[attr-defined]
            for name, module in (("nacl", nacl), ("nacl.signing", signing), ("nacl.exceptions", exceptions)):
                patch.setitem(sys.modules, name, module)
        from telnyx.lib import webhook_verification, webhooks_ed25519

        patch.setattr(webhook_verification, "time", types.SimpleNamespace(time=NOW.timestamp))
        yield webhooks_ed25519


@pytest.fixture(scope="module")
def client() -> Any:
    from telnyx import Telnyx

    return Telnyx(api_key="KEY_unit_test", public_key=KEY)


def sdk_accepts(sdk: types.ModuleType, client: Any, req: WebhookRequest, key: str) -> bool:
    try:
        sdk.verify_ed25519(client, req.body, dict(req.headers), key=key)
    except sdk.WebhookVerificationError:
        return False
    return True


MUTATIONS = [
    "none",
    "body",
    "reserialize",
    "timestamp",
    "signature-bit",
    "signature-short",
    "wrong-key",
    "no-signature",
    "no-timestamp",
]


def mutate(req: WebhookRequest, mutation: str) -> tuple[WebhookRequest, str]:
    key = KEY
    body, headers = req.body, dict(req.headers)
    signature = base64.b64decode(headers["telnyx-signature-ed25519"])
    if mutation == "body":
        body = body + b" "
    elif mutation == "reserialize":
        body = json.dumps({"data": body.decode()}).encode()
    elif mutation == "timestamp":
        headers["telnyx-timestamp"] = str(int(headers["telnyx-timestamp"]) + 1)
    elif mutation == "signature-bit":
        headers["telnyx-signature-ed25519"] = base64.b64encode(
            bytes([signature[0] ^ 1]) + signature[1:]
        ).decode()
    elif mutation == "signature-short":
        headers["telnyx-signature-ed25519"] = base64.b64encode(signature[:-1]).decode()
    elif mutation == "wrong-key":
        key = raw_key(OTHER)
    elif mutation == "no-signature":
        del headers["telnyx-signature-ed25519"]
    elif mutation == "no-timestamp":
        del headers["telnyx-timestamp"]
    return WebhookRequest(req.method, req.url, headers, body, req.query), key


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=st.text(max_size=400),
    offset=st.integers(min_value=-400, max_value=400),
    mutation=st.sampled_from(MUTATIONS),
)
def test_verify_accepts_exactly_what_the_official_sdk_accepts(
    sdk: types.ModuleType, client: Any, text: str, offset: int, mutation: str
) -> None:
    req, key = mutate(request(text.encode(), timestamp=NOW_TS + offset), mutation)
    ours = PROVIDER.verify(req, key, NOW)
    assert (ours is Verdict.OK) == sdk_accepts(sdk, client, req, key), (mutation, offset, ours)
    if mutation == "none":
        assert ours is (Verdict.OK if abs(offset) <= 300 else Verdict.STALE)


@pytest.mark.parametrize("name", sorted(p.stem for p in FIXTURES.glob("*.json")))
def test_the_sdk_unwraps_what_verify_accepts_and_reads_the_same_message(
    sdk: types.ModuleType, client: Any, name: str
) -> None:
    req = request(fixture(name))
    event = sdk.unwrap_with_ed25519(client, req.body, dict(req.headers), key=KEY)
    assert PROVIDER.verify(req, KEY, NOW) is Verdict.OK
    signals = PROVIDER.parse(req, NOW)
    assert event.data.event_type == json.loads(req.body)["data"]["event_type"]
    assert {s.message_id for s in signals} == {event.data.payload.id}


def test_the_sdk_also_refuses_re_serialized_json(sdk: types.ModuleType, client: Any) -> None:
    req = request(fixture("official_message_finalized"))
    again = WebhookRequest(req.method, req.url, req.headers, json.dumps(json.loads(req.body)).encode(), "")
    assert not sdk_accepts(sdk, client, again, KEY)
    assert PROVIDER.verify(again, KEY, NOW) is Verdict.INVALID


def test_every_recipient_status_the_sdk_knows_is_mapped_deliberately() -> None:
    from telnyx.types.outbound_message_payload import To

    annotation = To.model_fields["status"].annotation
    literal = next(arg for arg in get_args(annotation) if get_args(arg))
    known = set(get_args(literal))
    assert known, "the SDK no longer lists the statuses"
    assert known <= telnyx.DELIVERED_STATUSES | telnyx.FAILED_STATUSES | telnyx.PENDING_STATUSES


# ------------------------------------------------------------------ the documented examples


def test_documented_inbound_message_is_a_response_from_its_sender() -> None:
    (signal,) = parsed(fixture("official_message_received"))
    assert signal == SmsSignal(
        provider="telnyx",
        outcome=SmsOutcome.RESPONDED,
        contact="+13125550001",
        message_id="84cca175-9755-4859-b67f-4730d7f58aa3",
        occurred_at=datetime(2024, 1, 15, 20, 16, 7, 588000, tzinfo=UTC),
        inbound=True,
        detail=None,
    )


def test_documented_sent_event_is_acknowledged_and_stores_nothing() -> None:
    (signal,) = parsed(fixture("official_message_sent"))
    assert (signal.outcome, signal.detail, signal.contact, signal.inbound) == (
        None,
        "sent",
        "+13125550002",
        False,
    )
    assert to_events([signal], campaign="c", click_window=CLICK_WINDOW) == []


def test_documented_finalized_event_is_a_delivery_to_the_recipient() -> None:
    (signal,) = parsed(fixture("official_message_finalized"))
    assert signal == SmsSignal(
        provider="telnyx",
        outcome=SmsOutcome.DELIVERED,
        contact="+13125550002",
        message_id="ac012cbf-5e09-46af-a69a-7c0e2d90993c",  # payload.id, not data.id
        occurred_at=datetime(2024, 1, 15, 21, 32, 14, 148000, tzinfo=UTC),
        inbound=False,
        detail="delivered",
    )
    (event,) = to_events([signal], campaign="spring", click_window=CLICK_WINDOW)
    assert event.event_id == stable_id("telnyx", "ac012cbf-5e09-46af-a69a-7c0e2d90993c", "outcome")
    assert (event.type, event.user_id, event.item_id) == (EventType.DELIVERED, "+13125550002", "spring")
    assert (event.source, event.context) == ("sms.telnyx", "delivered")


def test_sent_and_finalized_name_the_same_message() -> None:
    (sent,) = parsed(fixture("official_message_sent"))
    (final,) = parsed(fixture("official_message_finalized"))
    assert sent.message_id == final.message_id
    assert (
        envelope("official_message_sent")["data"]["id"]
        != envelope("official_message_finalized")["data"]["id"]
    )


def test_message_text_never_leaves_the_adapter() -> None:
    for name in ("official_message_received", "official_message_sent", "official_message_finalized"):
        text = envelope(name)["data"]["payload"]["text"]
        signals = parsed(fixture(name))
        assert all(text not in repr(s) for s in signals)
        assert all(text not in repr(e) for e in to_events(signals, campaign="c", click_window=CLICK_WINDOW))


# ------------------------------------------------------------------ inbound keywords


def inbound(text: str | None) -> dict[str, Any]:
    body = envelope("official_message_received")
    if text is None:
        del body["data"]["payload"]["text"]
    else:
        body["data"]["payload"]["text"] = text
    return body


@pytest.mark.parametrize(
    ("text", "outcome", "detail"),
    [
        ("STOP", SmsOutcome.OPTED_OUT, "STOP"),
        ("  stop\n", SmsOutcome.OPTED_OUT, "STOP"),
        ("Stop All", SmsOutcome.OPTED_OUT, "STOP ALL"),
        ("stopall", SmsOutcome.OPTED_OUT, "STOPALL"),
        ("unsubscribe", SmsOutcome.OPTED_OUT, "UNSUBSCRIBE"),
        ("Cancel", SmsOutcome.OPTED_OUT, "CANCEL"),
        ("END", SmsOutcome.OPTED_OUT, "END"),
        ("quit", SmsOutcome.OPTED_OUT, "QUIT"),
        ("START", SmsOutcome.OPTED_IN, "START"),
        ("unstop", SmsOutcome.OPTED_IN, "UNSTOP"),
        ("yes", SmsOutcome.OPTED_IN, "YES"),
        ("please stop texting me", SmsOutcome.RESPONDED, None),
        ("Hello from Telnyx!", SmsOutcome.RESPONDED, None),
        ("", SmsOutcome.RESPONDED, None),  # an MMS with only media
        (None, SmsOutcome.RESPONDED, None),
    ],
)
def test_inbound_keywords(text: str | None, outcome: SmsOutcome, detail: str | None) -> None:
    (signal,) = parsed(inbound(text))
    assert (signal.outcome, signal.detail, signal.inbound) == (outcome, detail, True)


def test_an_inbound_message_is_keyed_by_its_own_id() -> None:
    (signal,) = parsed(inbound("STOP"))
    (event,) = to_events([signal], campaign="c", click_window=CLICK_WINDOW)
    assert event.event_id == stable_id("telnyx", "84cca175-9755-4859-b67f-4730d7f58aa3", "inbound")
    assert (event.type, event.user_id, event.context) == (EventType.OPTED_OUT, "+13125550001", "STOP")


# ------------------------------------------------------------------ delivery outcomes


def finalized(
    *recipients: tuple[str, str | None], errors: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    body = envelope("official_message_finalized")
    template = body["data"]["payload"]["to"][0]
    body["data"]["payload"]["to"] = [{**template, "phone_number": n, "status": s} for n, s in recipients]
    body["data"]["payload"]["errors"] = errors or []
    return body


def error(code: str | int, pointer: str | None = None) -> dict[str, Any]:
    # The shape of the docs' "Common delivery failure error codes" sample.
    found: dict[str, Any] = {"code": code, "title": "t", "detail": "d"}
    if pointer is not None:
        found["source"] = {"pointer": pointer}
    return found


@pytest.mark.parametrize(
    ("status", "codes", "outcome", "detail"),
    [
        ("delivered", [], SmsOutcome.DELIVERED, "delivered"),
        ("read", [], SmsOutcome.DELIVERED, "read"),
        ("sending_failed", [], SmsOutcome.BOUNCED, "sending_failed"),
        ("delivery_failed", ["40008"], SmsOutcome.BOUNCED, "delivery_failed:40008"),
        ("delivery_failed", [40001], SmsOutcome.BOUNCED, "delivery_failed:40001"),
        ("expired", [], SmsOutcome.BOUNCED, "expired"),
        ("expired", ["40005"], SmsOutcome.BOUNCED, "expired:40005"),
        ("delivery_failed", ["40300"], SmsOutcome.OPTED_OUT, "delivery_failed:40300"),
        ("sending_failed", ["40300"], SmsOutcome.OPTED_OUT, "sending_failed:40300"),
        ("expired", [40300], SmsOutcome.OPTED_OUT, "expired:40300"),
        ("sending_failed", ["40008", "40300"], SmsOutcome.OPTED_OUT, "sending_failed:40300"),
        ("delivered", ["40300"], SmsOutcome.DELIVERED, "delivered"),
        ("queued", [], None, "queued"),
        ("sending", [], None, "sending"),
        ("sent", [], None, "sent"),
        ("delivery_unconfirmed", [], None, "delivery_unconfirmed"),
        ("delivery_unconfirmed", ["40300"], None, "delivery_unconfirmed"),
        ("a_status_from_the_future", [], None, "a_status_from_the_future"),
        (None, [], None, None),
    ],
)
def test_finalized_status_mapping(
    status: str | None, codes: list[str | int], outcome: SmsOutcome | None, detail: str | None
) -> None:
    (signal,) = parsed(finalized(("+13125550002", status), errors=[error(c) for c in codes]))
    assert (signal.outcome, signal.detail, signal.inbound) == (outcome, detail, False)


def test_40300_is_an_opt_out_not_a_bounce() -> None:
    """The same failure is a bounce with a carrier error and an opt-out with the STOP block."""
    kinds = []
    for code in ("40008", "40300"):
        signals = parsed(finalized(("+13125550002", "delivery_failed"), errors=[error(code)]))
        kinds += [e.type for e in to_events(signals, campaign="c", click_window=CLICK_WINDOW)]
    assert kinds == [EventType.BOUNCED, EventType.OPTED_OUT]


def test_a_group_message_gives_each_recipient_its_own_outcome() -> None:
    body = finalized(
        ("+13125550002", "delivered"),
        ("+13125550003", "delivery_failed"),
        ("+13125550004", "sending_failed"),
        ("+13125550005", "queued"),
        errors=[error("40008", "/to/1/phone_number"), error("40300", "/to/2")],
    )
    signals = parsed(body)
    message = body["data"]["payload"]["id"]
    assert [(s.contact, s.outcome, s.detail) for s in signals] == [
        ("+13125550002", SmsOutcome.DELIVERED, "delivered"),
        ("+13125550003", SmsOutcome.BOUNCED, "delivery_failed:40008"),
        ("+13125550004", SmsOutcome.OPTED_OUT, "sending_failed:40300"),
        ("+13125550005", None, "queued"),
    ]
    assert [s.message_id for s in signals] == [f"{message}:{s.contact}" for s in signals]
    events = to_events(signals, campaign="c", click_window=CLICK_WINDOW)
    assert len({e.event_id for e in events}) == 3  # none taken for a duplicate of another
    assert [e.event_id for e in to_events(parsed(body), campaign="c", click_window=CLICK_WINDOW)] == [
        e.event_id for e in events
    ]


def test_an_error_that_names_no_recipient_applies_to_every_failed_one() -> None:
    body = finalized(
        ("+13125550002", "delivery_failed"),
        ("+13125550003", "delivered"),
        ("+13125550004", "sending_failed"),
        errors=[error("40300")],
    )
    assert [s.outcome for s in parsed(body)] == [
        SmsOutcome.OPTED_OUT,
        SmsOutcome.DELIVERED,
        SmsOutcome.OPTED_OUT,
    ]


def test_a_single_recipient_message_keeps_the_telnyx_message_id() -> None:
    (signal,) = parsed(finalized(("+13125550002", "delivery_failed"), errors=[error("40008", "/to/0")]))
    assert signal.message_id == "ac012cbf-5e09-46af-a69a-7c0e2d90993c"
    assert signal.detail == "delivery_failed:40008"


@pytest.mark.parametrize("event_type", ["message.sent", "message.read"])
def test_non_terminal_outbound_events_store_nothing_whatever_the_status(event_type: str) -> None:
    body = finalized(
        ("+13125550002", "delivered"), ("+13125550003", "delivery_failed"), errors=[error("40300")]
    )
    body["data"]["event_type"] = event_type
    signals = parsed(body)
    assert [(s.contact, s.outcome, s.detail) for s in signals] == [
        ("+13125550002", None, "delivered"),
        ("+13125550003", None, "delivery_failed"),
    ]
    assert to_events(signals, campaign="c", click_window=CLICK_WINDOW) == []


def test_a_finalized_without_recipients_says_nothing() -> None:
    assert parsed(finalized()) == []


# ------------------------------------------------------------------ ids, redeliveries, precedence


def test_a_redelivered_webhook_yields_the_same_event_ids() -> None:
    first = envelope("official_message_finalized")
    again = copy.deepcopy(first)
    again["meta"]["attempt"] = 2  # same data.id, same payload
    assert first["data"]["id"] == again["data"]["id"]
    ids = [e.event_id for e in to_events(parsed(first), campaign="c", click_window=CLICK_WINDOW)]
    assert ids == [e.event_id for e in to_events(parsed(again), campaign="c", click_window=CLICK_WINDOW)]


def test_a_second_terminal_webhook_for_the_message_has_the_same_id_so_the_first_wins() -> None:
    failed = finalized(("+13125550002", "delivery_failed"), errors=[error("40008")])
    delivered = finalized(("+13125550002", "delivered"))
    delivered["data"]["id"] = "another-webhook-event-id"
    (first,) = to_events(parsed(failed), campaign="c", click_window=CLICK_WINDOW)
    (late,) = to_events(parsed(delivered), campaign="c", click_window=CLICK_WINDOW)
    assert (first.type, late.type) == (EventType.BOUNCED, EventType.DELIVERED)
    assert first.event_id == late.event_id  # the store keeps the first; the late one is a duplicate


# ------------------------------------------------------------------ times


@pytest.mark.parametrize(
    ("occurred_at", "expected"),
    [
        ("2024-01-15T21:32:14.148+00:00", datetime(2024, 1, 15, 21, 32, 14, 148000, tzinfo=UTC)),
        ("2019-01-23T18:10:02.574Z", datetime(2019, 1, 23, 18, 10, 2, 574000, tzinfo=UTC)),
        ("2024-01-15T23:32:14+02:00", datetime(2024, 1, 15, 21, 32, 14, tzinfo=UTC)),
        ("2024-01-15T21:32:14.148123", datetime(2024, 1, 15, 21, 32, 14, 148123, tzinfo=UTC)),
        (None, NOW),
        ("", NOW),
        ("yesterday", NOW),
    ],
)
def test_occurred_at_is_the_event_time_else_now(occurred_at: str | None, expected: datetime) -> None:
    body = envelope("official_message_finalized")
    body["data"]["occurred_at"] = occurred_at
    (signal,) = parsed(body)
    assert signal.occurred_at == expected
    assert signal.occurred_at.utcoffset() == timedelta(0)


def test_occurred_at_may_be_absent() -> None:
    body = envelope("official_message_received")
    del body["data"]["occurred_at"]
    (signal,) = parsed(body)
    assert signal.occurred_at == NOW


# ------------------------------------------------------------------ other and malformed bodies


@pytest.mark.parametrize(
    "event_type", ["message.delivered", "call.initiated", "fax.received", "messaging.profile.updated"]
)
def test_other_event_types_are_acknowledged_without_signals(event_type: str) -> None:
    assert parsed({"data": {"event_type": event_type, "id": "x", "payload": {"whatever": 1}}}) == []
    assert parsed({"data": {"event_type": event_type, "record_type": "event"}}) == []


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"\xff\xfe",
        b"[]",
        b"null",
        b'{"event_type": "message.received"}',  # v1-style, no envelope
        b'{"data": null}',
        b'{"data": []}',
        b'{"data": {"id": "x"}}',
        b'{"data": {"event_type": 7}}',
        b'{"data": {"event_type": "message.finalized"}}',
        b'{"data": {"event_type": "message.finalized", "payload": {"to": []}}}',
        b'{"data": {"event_type": "message.finalized", "payload": {"id": "", "to": []}}}',
        b'{"data": {"event_type": "message.sent", "payload": {"id": "m", "to": [{"status": "sent"}]}}}',
        b'{"data": {"event_type": "message.sent", "payload": {"id": "m", "to": {"phone_number": "+1"}}}}',
        b'{"data": {"event_type": "message.received", "payload": {"id": "m", "text": "hi"}}}',
        b'{"data": {"event_type": "message.received", "payload": {"id": "m", "from": {}}}}',
        b'{"data": {"event_type": "message.received", "payload": {"id": "m", "from": {"phone_number": 1}}}}',
    ],
)
def test_bodies_that_are_not_telnyx_messaging_events_are_malformed(body: bytes) -> None:
    with pytest.raises(MalformedCallback):
        parsed(body)


@pytest.mark.parametrize("number", ["short code 1234", "alphanumeric", "+1 (31)"])
def test_an_address_that_is_not_a_phone_number_is_malformed_and_not_echoed(number: str) -> None:
    for body in (
        finalized((number, "delivered")),
        inbound("hi")
        | {"data": {**inbound("hi")["data"], "payload": {"id": "m", "from": {"phone_number": number}}}},
    ):
        with pytest.raises(MalformedCallback) as raised:
            parsed(body)
        assert number not in str(raised.value)


def test_malformed_messages_name_fields_never_values() -> None:
    body = {
        "data": {
            "event_type": "message.received",
            "payload": {"id": "m", "text": "my secret text", "from": 5},
        }
    }
    with pytest.raises(MalformedCallback) as raised:
        parsed(body)
    assert "from" in str(raised.value)
    assert "my secret text" not in str(raised.value)


def test_an_outlandish_status_is_kept_short_in_the_detail() -> None:
    (signal,) = parsed(finalized(("+13125550002", "x" * 500)))
    assert (signal.outcome, signal.detail) == (None, "x" * 64)
