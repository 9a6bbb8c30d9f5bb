"""AWS End User Messaging SMS events as published to SNS."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from engagement.webhooks.aws_sms import BOUNCED, DELIVERED, INTERMEDIATE, parse_message
from engagement.webhooks.provider import MalformedCallback
from engagement.webhooks.sms import SmsOutcome

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def delivery(event_type: str, **extra: object) -> str:
    # Shape of an SMS event from a configuration set's SNS destination (AWS docs "Event types for
    # SMS, MMS, and voice"): only the fields this service reads, plus a few it ignores.
    return json.dumps(
        {
            "eventType": event_type,
            "eventVersion": "1.0",
            "eventTimestamp": 1795000000123,
            "isFinal": True,
            "originationPhoneNumber": "+12065550100",
            "destinationPhoneNumber": "+14255550199",
            "isoCountryCode": "US",
            "messageId": "8a2c0f3e-1111-2222-3333-444455556666",
            "messageStatus": event_type.removeprefix("TEXT_"),
            "totalMessageParts": 1,
            **extra,
        }
    )


@pytest.mark.parametrize("event_type", sorted(DELIVERED))
def test_delivered_events(event_type: str) -> None:
    [signal] = parse_message(delivery(event_type), NOW)
    assert (signal.outcome, signal.contact, signal.inbound) == (SmsOutcome.DELIVERED, "+14255550199", False)
    assert signal.occurred_at == datetime(2026, 11, 18, 11, 6, 40, 123000, tzinfo=UTC)


@pytest.mark.parametrize("event_type", sorted(BOUNCED))
def test_bounces(event_type: str) -> None:
    assert parse_message(delivery(event_type), NOW)[0].outcome is SmsOutcome.BOUNCED


@pytest.mark.parametrize("event_type", [*sorted(INTERMEDIATE), "TEXT_SOMETHING_NEW"])
def test_intermediate_and_unknown_events_store_nothing_but_keep_their_name(event_type: str) -> None:
    [signal] = parse_message(delivery(event_type), NOW)
    assert (signal.outcome, signal.detail) == (None, event_type)


def test_the_senders_context_names_the_campaign() -> None:
    [signal] = parse_message(delivery("TEXT_DELIVERED", context={"campaign": "spring"}), NOW)
    assert signal.campaign == "spring"


@pytest.mark.parametrize(
    ("body", "outcome"),
    [("STOP", SmsOutcome.OPTED_OUT), ("start", SmsOutcome.OPTED_IN), ("sounds good", SmsOutcome.RESPONDED)],
)
def test_two_way_replies(body: str, outcome: SmsOutcome) -> None:
    message = json.dumps(
        {
            "originationNumber": "+14255550199",
            "destinationNumber": "+12065550100",
            "messageKeyword": "KEYWORD_123456789012",
            "messageBody": body,
            "inboundMessageId": "cae173d2-66b9-564c-8309-21f858e9fb84",
            "previousPublishedMessageId": "wJ0A4c9mJ1qSKaPnnyRh",
        }
    )
    [signal] = parse_message(message, NOW)
    assert (signal.outcome, signal.contact, signal.inbound) == (outcome, "+14255550199", True)
    assert signal.message_id == "cae173d2-66b9-564c-8309-21f858e9fb84"


@pytest.mark.parametrize("message", ["not json", "[]", "{}", json.dumps({"eventType": "TEXT_DELIVERED"})])
def test_malformed_messages_are_refused(message: str) -> None:
    with pytest.raises(MalformedCallback):
        parse_message(message, NOW)
