from __future__ import annotations

from datetime import UTC, datetime

from engagement.webhooks import plivo, twilio
from engagement.webhooks.provider import Verdict
from engagement.webhooks.request import WebhookRequest
from infra.local.recording import RecordedRequest
from infra.local.replay import (
    RESIGNERS,
    PlivoSignatureResigner,
    TelegramSecretTokenResigner,
    TwilioSignatureResigner,
)

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

UPDATE = RecordedRequest(
    recorded_at="2026-11-20T12:00:00Z",
    method="POST",
    path="/webhooks/telegram",
    query="",
    headers=(("Content-Type", "application/json"), ("X-Telegram-Bot-Api-Secret-Token", "local-secret")),
    body=b'{"update_id": 1}',
    source_ip="127.0.0.1",
)


def test_the_telegram_secret_token_is_swapped_for_the_targets() -> None:
    resigner = TelegramSecretTokenResigner()
    assert resigner.applies(UPDATE)
    target = "https://api.example.com/webhooks/telegram"
    resigned = resigner.resign(UPDATE, url=target, secrets={"telegram": "prod"})
    assert dict(resigned.headers)["X-Telegram-Bot-Api-Secret-Token"] == "prod"
    assert (resigned.body, resigned.path) == (UPDATE.body, UPDATE.path)


def test_without_its_secret_the_request_is_replayed_as_recorded() -> None:
    assert TelegramSecretTokenResigner().resign(UPDATE, url="http://x", secrets={"api_key": "k"}) == UPDATE


def test_the_replay_command_knows_the_telegram_resigner() -> None:
    assert "telegram" in {r.name for r in RESIGNERS}


def _webhook(request: RecordedRequest, url: str) -> WebhookRequest:
    return WebhookRequest(
        request.method, url, {n.lower(): v for n, v in request.headers}, request.body, url.partition("?")[2]
    )


FORM_HEADERS = ("Content-Type", "application/x-www-form-urlencoded")
STATUS = b"MessageSid=SM1&MessageStatus=delivered&To=%2B14155550100&ToCity="


def test_a_twilio_callback_replayed_to_another_url_verifies_there() -> None:
    recorded = RecordedRequest(
        "2026-11-20T12:00:00Z",
        "POST",
        "/webhooks/twilio",
        "campaign=spring",
        (FORM_HEADERS, ("X-Twilio-Signature", "recorded-for-the-runner")),
        STATUS,
        "127.0.0.1",
    )
    target = "https://abc.execute-api.eu-west-1.amazonaws.com/webhooks/twilio?campaign=spring"
    resigned = TwilioSignatureResigner().resign(recorded, url=target, secrets={"twilio": "prod-token"})
    assert twilio.PROVIDER.verify(_webhook(resigned, target), "prod-token", NOW) is Verdict.OK
    assert twilio.PROVIDER.verify(_webhook(recorded, target), "prod-token", NOW) is Verdict.INVALID


def test_a_plivo_callback_replayed_to_another_url_verifies_there() -> None:
    recorded = RecordedRequest(
        "2026-11-20T12:00:00Z",
        "POST",
        "/webhooks/plivo",
        "",
        (
            FORM_HEADERS,
            ("X-Plivo-Signature-V3", "x"),
            ("X-Plivo-Signature-Ma-V3", "y"),
            ("X-Plivo-Signature-V3-Nonce", "12345"),
        ),
        b"MessageUUID=u1&Status=delivered&To=14155550100",
        "127.0.0.1",
    )
    target = "https://hooks.example.com/webhooks/plivo"
    resigned = PlivoSignatureResigner().resign(recorded, url=target, secrets={"plivo": "plivo-token"})
    assert plivo.PROVIDER.verify(_webhook(resigned, target), "plivo-token", NOW) is Verdict.OK
    assert not any("-ma-" in n.lower() for n, _ in resigned.headers)
