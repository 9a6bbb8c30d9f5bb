"""AWS End User Messaging SMS: delivery events and two-way replies, delivered through SNS.

Not an HTTP webhook: the configuration set's event destination (and the phone number's
two-way channel) publish to an SNS topic this stack owns, and SNS invokes the function with
IAM, so there is no signature to check; the topic's policy is the authentication.

Delivery events carry ``eventType`` and ``messageId`` [AWS docs "Event types for SMS, MMS, and
voice"]; replies carry ``originationNumber``, ``messageBody`` and ``inboundMessageId`` [AWS docs
"Example of a two-way SMS message payload for Amazon SNS topics"].
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from engagement.domain import strict_json
from engagement.domain.timefmt import LATEST, to_ms
from engagement.webhooks.request import WebhookRequest
from engagement.webhooks.sms import SmsOutcome, SmsSignal, SmsSource, classify_inbound, e164
from engagement.webhooks.source import MalformedCallback, Verdict

NAME = "aws_sms"
LATEST_MS = to_ms(LATEST)

DELIVERED = frozenset({"TEXT_DELIVERED", "TEXT_SUCCESSFUL"})  # used interchangeably by country
BOUNCED = frozenset(
    {
        "TEXT_BLOCKED",
        "TEXT_CARRIER_BLOCKED",
        "TEXT_INVALID",
        "TEXT_INVALID_MESSAGE",
        "TEXT_UNREACHABLE",
        "TEXT_CARRIER_UNREACHABLE",
        "TEXT_TTL_EXPIRED",
        "TEXT_SPAM",
        "TEXT_PROTECT_BLOCKED",
    }
)
INTERMEDIATE = frozenset({"TEXT_QUEUED", "TEXT_PENDING", "TEXT_SENT", "TEXT_UNKNOWN"})


def parse_message(message: str, now: datetime) -> list[SmsSignal]:
    """One SNS message (its ``Message`` string) as signals; raises MalformedCallback."""
    try:
        body = strict_json.parse(message)
    except ValueError as exc:
        raise MalformedCallback("the SNS message is not JSON") from exc
    if not isinstance(body, Mapping):
        raise MalformedCallback("the SNS message is not a JSON object")
    if "eventType" in body:
        return [_delivery(body, now)]
    if "inboundMessageId" in body:
        return [_reply(body, now)]
    raise MalformedCallback("neither a delivery event nor a two-way message")


def _delivery(body: Mapping[str, Any], now: datetime) -> SmsSignal:
    event_type = str(body["eventType"])
    outcome = (
        SmsOutcome.DELIVERED
        if event_type in DELIVERED
        else SmsOutcome.BOUNCED
        if event_type in BOUNCED
        else None
    )
    try:
        return SmsSignal(
            provider=NAME,
            outcome=outcome,
            contact=e164(str(body["destinationPhoneNumber"])),
            message_id=str(body["messageId"]),
            occurred_at=_timestamp(body.get("eventTimestamp"), now),
            inbound=False,
            detail=event_type,
            campaign=_campaign(body),
        )
    except (KeyError, ValueError) as exc:
        raise MalformedCallback(f"delivery event without {exc}") from exc


def _reply(body: Mapping[str, Any], now: datetime) -> SmsSignal:
    text = str(body.get("messageBody") or "")
    outcome = classify_inbound(text)
    try:
        return SmsSignal(
            provider=NAME,
            outcome=outcome,
            contact=e164(str(body["originationNumber"])),
            message_id=str(body["inboundMessageId"]),
            occurred_at=now,
            inbound=True,
            detail=text.strip().upper() if outcome is not SmsOutcome.RESPONDED else None,
        )
    except (KeyError, ValueError) as exc:
        raise MalformedCallback(f"two-way message without {exc}") from exc


def _campaign(body: Mapping[str, Any]) -> str | None:
    """The sender's ``Context`` on SendTextMessage comes back on every event: ``{"campaign": ...}``."""
    context = body.get("context")
    campaign = context.get("campaign") if isinstance(context, Mapping) else None
    return str(campaign) if isinstance(campaign, str) and campaign.strip() else None


def _timestamp(value: Any, default: datetime) -> datetime:
    """``eventTimestamp`` is epoch milliseconds."""
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= LATEST_MS:
        return datetime.fromtimestamp(value / 1000, UTC)
    return default


class AwsSmsProvider:
    """End User Messaging as an SMS provider. ``verify`` is never called: the topology declares
    no secret for it, because SNS authenticated the delivery with IAM before the function ran."""

    name = NAME
    acknowledgement = ("application/json", "{}")

    def verify(self, request: WebhookRequest, secret: str, now: datetime) -> Verdict:
        return Verdict.INVALID  # nothing here can be signed; only the transport authenticates

    def parse(self, request: WebhookRequest, now: datetime) -> list[SmsSignal]:
        try:
            message = request.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedCallback("the SNS message is not UTF-8") from exc
        return parse_message(message, now)


PROVIDER = AwsSmsProvider()
SOURCE = SmsSource(
    PROVIDER,
    summary="AWS End User Messaging SMS events and two-way replies, from SNS",
    description="Delivered by SNS with IAM; no signature.",
    credential="IAM",
)
