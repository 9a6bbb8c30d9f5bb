"""The provider-independent half of SMS: requests as sent, keywords, numbers, event ids."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from engagement.domain.event_types import EventType
from engagement.webhooks.request import from_api_gateway
from engagement.webhooks.sms import SmsOutcome, SmsSignal, classify_inbound, e164, masked, to_events
from tests.settings_defaults import CLICK_WINDOW

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
FORM = "To=%2B15550001111&Body=Hi+there&ToCity=&MessageSid=SM1&Body=again"


def api_event(*, base64_body: bool, stage_path: str = "") -> dict[str, object]:
    body = base64.b64encode(FORM.encode()).decode() if base64_body else FORM
    return {
        "version": "2.0",
        "rawPath": f"{stage_path}/webhooks/twilio",
        "rawQueryString": "campaign=spring&x=a%20b+c",
        "headers": {"content-type": "application/x-www-form-urlencoded", "x-twilio-signature": "abc"},
        "requestContext": {
            "domainName": "abc123.execute-api.eu-west-1.amazonaws.com",
            "http": {"method": "POST"},
        },
        "body": body,
        "isBase64Encoded": base64_body,
    }


@pytest.mark.parametrize("base64_body", [True, False])
def test_the_request_is_rebuilt_as_the_provider_sent_it_whatever_the_body_encoding(base64_body: bool) -> None:
    request = from_api_gateway(api_event(base64_body=base64_body))
    assert (
        request.url
        == "https://abc123.execute-api.eu-west-1.amazonaws.com/webhooks/twilio?campaign=spring&x=a%20b+c"
    )
    assert request.body == FORM.encode()
    assert request.form() == [
        ("To", "+15550001111"),
        ("Body", "Hi there"),
        ("ToCity", ""),
        ("MessageSid", "SM1"),
        ("Body", "again"),
    ]
    assert request.param("Body") == "Hi there"
    assert request.header("X-Twilio-Signature") == "abc"


def test_a_named_stage_stays_in_the_url_and_a_configured_base_wins() -> None:
    assert "/prod/webhooks/twilio?" in from_api_gateway(api_event(base64_body=True, stage_path="/prod")).url
    custom = from_api_gateway(api_event(base64_body=True), public_base_url="https://hooks.example.com/")
    assert custom.url == "https://hooks.example.com/webhooks/twilio?campaign=spring&x=a%20b+c"


@pytest.mark.parametrize(
    ("text", "outcome"),
    [
        ("STOP", SmsOutcome.OPTED_OUT),
        ("  stop ", SmsOutcome.OPTED_OUT),
        ("Stop all", SmsOutcome.OPTED_OUT),
        ("unsubscribe", SmsOutcome.OPTED_OUT),
        ("ARRET", SmsOutcome.OPTED_OUT),
        ("START", SmsOutcome.OPTED_IN),
        ("unstop", SmsOutcome.OPTED_IN),
        ("yes", SmsOutcome.OPTED_IN),
        ("please stop texting me", SmsOutcome.RESPONDED),
        ("", SmsOutcome.RESPONDED),
        (None, SmsOutcome.RESPONDED),
    ],
)
def test_only_an_exact_keyword_changes_the_opt_state(text: str | None, outcome: SmsOutcome) -> None:
    assert classify_inbound(text) is outcome


@pytest.mark.parametrize("raw", ["+1 (415) 555-0100", "14155550100", "+14155550100"])
def test_numbers_are_normalized_to_e164(raw: str) -> None:
    assert e164(raw) == "+14155550100"


def test_masked_numbers_keep_too_little_to_call() -> None:
    assert masked("+14155550100") == "+141…00"
    assert "5550" not in masked("+14155550100")


def signal(
    outcome: SmsOutcome | None, message: str, *, inbound: bool = False, detail: str | None = None
) -> SmsSignal:
    return SmsSignal("twilio", outcome, "+14155550100", message, NOW, inbound, detail)


def test_a_message_has_one_outcome_id_whatever_its_terminal_status() -> None:
    delivered, failed = to_events(
        [signal(SmsOutcome.DELIVERED, "SM1"), signal(SmsOutcome.BOUNCED, "SM1")],
        campaign="spring",
        click_window=CLICK_WINDOW,
    )
    assert delivered.event_id == failed.event_id  # the first stored wins; the other is a duplicate
    assert (delivered.type, failed.type) == (EventType.DELIVERED, EventType.BOUNCED)
    assert delivered.item_id == "spring"
    assert delivered.source == "sms.twilio"


def test_intermediate_statuses_store_nothing_and_inbound_messages_have_their_own_ids() -> None:
    events = to_events(
        [
            signal(None, "SM1", detail="sent"),
            signal(SmsOutcome.RESPONDED, "SM9", inbound=True),
            signal(SmsOutcome.DELIVERED, "SM9"),
        ],
        campaign="sms",
        click_window=CLICK_WINDOW,
    )
    assert [e.type for e in events] == [EventType.RESPONDED, EventType.DELIVERED]
    assert events[0].event_id != events[1].event_id


def test_digits_of_any_script_are_the_same_phone_number() -> None:
    assert e164("+\u0661\u0665\u0665\u0665\u0666\u0666\u0666\u0660\u0660\u0662\u0660") == "+15556660020"
    assert e164("\uff0b\uff11\uff15\uff15\uff15\uff16\uff16\uff16\uff10\uff10\uff12\uff10") == "+15556660020"
    assert e164("+1 (555) 666-0020") == "+15556660020"
