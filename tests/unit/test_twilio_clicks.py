"""Twilio Link Shortening clicks, signed by Twilio's own SDK as Twilio signs JSON webhooks."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from twilio.request_validator import RequestValidator

from engagement.webhooks.provider import MalformedCallback, Verdict
from engagement.webhooks.request import WebhookRequest
from engagement.webhooks.sms import SmsOutcome, to_events
from engagement.webhooks.twilio_clicks import PROVIDER
from tests.settings_defaults import CLICK_WINDOW

TOKEN = "12345"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
CLICK = {
    "message_sid": "SM0123456789abcdef0123456789abcdef",
    "to": "+14155550100",
    "from": "+14155550199",
    "link": "https://shop.example/p/1",
    "shortened_link": "https://go.example.com/abcdefghij",
    "click_time": "2026-11-20T11:58:00Z",
    "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)",
}


def signed(body: dict[str, Any], *, tamper: bool = False) -> WebhookRequest:
    raw = json.dumps(body).encode()
    url = f"https://hooks.example.com/webhooks/twilio/clicks?bodySHA256={hashlib.sha256(raw).hexdigest()}"
    signature = RequestValidator(TOKEN).compute_signature(url, {})
    sent = raw + (b" " if tamper else b"")
    return WebhookRequest(
        "POST",
        url,
        {"content-type": "application/json", "x-twilio-signature": signature},
        sent,
        url.split("?", 1)[1],
    )


def test_a_click_signed_by_twilio_is_verified_and_counted() -> None:
    request = signed(CLICK)
    assert PROVIDER.verify(request, TOKEN, NOW) is Verdict.OK
    [signal] = PROVIDER.parse(request, NOW)
    assert (signal.outcome, signal.contact, signal.message_id) == (
        SmsOutcome.CLICKED,
        "+14155550100",
        CLICK["message_sid"],
    )
    assert signal.occurred_at == datetime(2026, 11, 20, 11, 58, tzinfo=UTC)


def test_a_tampered_click_is_refused() -> None:
    assert PROVIDER.verify(signed(CLICK, tamper=True), TOKEN, NOW) is Verdict.INVALID


def test_an_event_streams_envelope_is_read_too() -> None:
    assert PROVIDER.parse(signed({"specversion": "1.0", "data": CLICK}), NOW)[0].outcome is SmsOutcome.CLICKED


def test_preview_bots_are_acknowledged_but_not_counted() -> None:
    bot = {
        **CLICK,
        "user_agent": "Mozilla/5.0 (compatible; Google-PageRenderer Google (+https://developers.google.com))",
    }
    assert PROVIDER.parse(signed(bot), NOW) == []


def test_clicks_on_one_message_in_the_same_half_hour_window_count_once() -> None:
    def at(time: str) -> str:
        click = to_events(
            PROVIDER.parse(signed({**CLICK, "click_time": time}), NOW),
            campaign="spring",
            click_window=CLICK_WINDOW,
        )
        return click[0].event_id

    first, again, later = at("2026-11-20T12:01:00Z"), at("2026-11-20T12:29:00Z"), at("2026-11-20T12:31:00Z")
    assert first == again != later


@pytest.mark.parametrize("body", [[], {"to": "+14155550100"}, {"message_sid": "SM1"}, "x"])
def test_malformed_clicks_are_refused(body: Any) -> None:
    with pytest.raises(MalformedCallback):
        PROVIDER.parse(
            signed(body) if not isinstance(body, str) else WebhookRequest("POST", "u", {}, b"x", ""), NOW
        )
