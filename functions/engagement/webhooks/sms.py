"""What every SMS provider's callbacks mean for engagement, whoever sent them.

Providers speak different vocabularies (see each provider module); they all reduce to a few
signals about one contact:

    delivered    a message reached the handset (counted once per message)
    bounced      it could not (undelivered, failed, rejected, expired...)
    opted_out    the contact sent STOP (or a send failed because they had: Twilio 21610,
                 Telnyx 40300, Vonage err-code 9 are opt-outs, not bounces)
    opted_in     the contact sent START / UNSTOP / YES: the opt-out is lifted
    responded    any other inbound message
    clicked      a tracked link was followed

Intermediate statuses (queued, sending, sent, accepted...) are acknowledged and store nothing.

Event ids decide idempotency and precedence. A message's delivery outcome has one id
(provider, message id, "outcome"): the first terminal callback stored wins, so a repeated
callback is a duplicate, a late "delivered" never overrides a failure already recorded, and a
message counts as delivered at most once. Inbound messages are keyed by their own message id,
and clicks by message and click window (``CLICK_WINDOW_MINUTES``, fixed windows: two clicks
either side of a window boundary count twice).

:class:`SmsSource` is what every provider module exposes as ``SOURCE``: its ``PROVIDER`` for
the provider's quirks, and these rules for everything after.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from engagement.domain.event_types import SMS_SOURCE_PREFIX, EventType
from engagement.domain.events import EventIn, stable_id
from engagement.domain.timefmt import EPOCH, to_ms
from engagement.webhooks.request import WebhookRequest
from engagement.webhooks.source import Acknowledgement, Translation, Verdict

if TYPE_CHECKING:
    from engagement.domain.ports import AggregateReader
    from engagement.settings import Settings
    from engagement.webhooks.provider import SmsProvider

DEFAULT_CAMPAIGN = "sms"
# The campaign comes from the callback URL the operator registered (?campaign=spring-sale).
_CAMPAIGN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")

# Union of the providers' and regulators' keyword sets (webhook-providers notes §11); a message
# is a keyword only when it is exactly one of these after trimming, in any case.
OPT_OUT_KEYWORDS = frozenset(
    {
        "STOP",
        "STOPALL",
        "STOP ALL",
        "UNSUBSCRIBE",
        "CANCEL",
        "END",
        "QUIT",
        "REVOKE",
        "OPTOUT",
        "OPT-OUT",
        "OPT OUT",
        "ARRET",
        "REMOVE",
        "TD",
    }
)
OPT_IN_KEYWORDS = frozenset({"START", "UNSTOP", "YES"})


class SmsOutcome(StrEnum):
    DELIVERED = "delivered"
    BOUNCED = "bounced"
    OPTED_OUT = "opted_out"
    OPTED_IN = "opted_in"
    RESPONDED = "responded"
    CLICKED = "clicked"


_EVENT_TYPE = {
    SmsOutcome.DELIVERED: EventType.DELIVERED,
    SmsOutcome.BOUNCED: EventType.BOUNCED,
    SmsOutcome.OPTED_OUT: EventType.OPTED_OUT,
    SmsOutcome.OPTED_IN: EventType.OPTED_IN,
    SmsOutcome.RESPONDED: EventType.RESPONDED,
    SmsOutcome.CLICKED: EventType.CLICKED,
}


@dataclass(frozen=True)
class SmsSignal:
    """One provider callback, understood. ``outcome`` None: acknowledged, nothing to store."""

    provider: str
    outcome: SmsOutcome | None
    contact: str
    """The contact's phone number (normalized to E.164 by :func:`e164`)."""
    message_id: str
    """The provider's id of the message the callback is about (outbound or inbound)."""
    occurred_at: datetime
    inbound: bool
    """True for a message the contact sent; False for a status about one sent to them."""
    detail: str | None = None
    """The provider's own word for it: a status, a keyword, an error code. Kept as context."""
    campaign: str | None = None
    """The campaign, when the callback itself names one (else the callback URL's)."""


def classify_inbound(text: str | None) -> SmsOutcome:
    word = " ".join((text or "").split()).upper()
    if word in OPT_OUT_KEYWORDS:
        return SmsOutcome.OPTED_OUT
    if word in OPT_IN_KEYWORDS:
        return SmsOutcome.OPTED_IN
    return SmsOutcome.RESPONDED


def e164(number: str) -> str:
    """``+14155550100`` from "+1 415 555 0100", "14155550100" (Vonage, Plivo send no plus).

    Digits of any script are read as the digits they are (Arabic-Indic or fullwidth digits
    spell the same number), so one phone number is one contact however a provider wrote it."""
    digits = "".join(str(int(ch)) for ch in number if ch.isdecimal())
    if not 6 <= len(digits) <= 15:
        raise ValueError("not a phone number")
    return f"+{digits}"


def masked(number: str) -> str:
    """What logs may show of a phone number: enough to tell two apart, not enough to call."""
    return number[:4] + "…" + number[-2:] if len(number) > 6 else "…"


# A run of digits however it is written: separators, brackets, zero-width characters between.
NUMBER_RUN = re.compile(r"\+?\d[\d\s().\-\u200b-\u200d\u2060]*\d")
LOGGED_TEXT_CHARS = 32


def redacted(text: str, limit: int | None = LOGGED_TEXT_CHARS) -> str:
    """Text a log line may carry (a provider's status, keyword or error code; a request's path):
    at most ``limit`` characters, with anything that could be a phone number (seven digits or
    more, however separated) masked."""

    def mask(match: re.Match[str]) -> str:
        run = match.group(0)
        return masked(run) if sum(ch.isdigit() for ch in run) >= 7 else run

    return NUMBER_RUN.sub(mask, text[:limit])


def to_events(signals: list[SmsSignal], *, campaign: str, click_window: timedelta) -> list[EventIn]:
    """Clicks on one message's link within ``click_window`` count once (a double tap, a reload)."""
    window_ms = int(click_window.total_seconds() * 1000)
    events = []
    for signal in signals:
        if signal.outcome is None:
            continue
        if signal.outcome is SmsOutcome.CLICKED:
            slot = f"click:{to_ms(signal.occurred_at) // window_ms}"
        else:
            slot = "inbound" if signal.inbound else "outcome"
        events.append(
            EventIn(
                event_id=stable_id(signal.provider, signal.message_id, slot),
                user_id=signal.contact,
                item_id=signal.campaign or campaign,
                type=_EVENT_TYPE[signal.outcome],
                occurred_at=signal.occurred_at,
                context=signal.detail,
                source=SMS_SOURCE_PREFIX + signal.provider,
                metadata={"message_id": signal.message_id},
            )
        )
    return events


def campaign_of(request: WebhookRequest) -> str:
    """``?campaign=`` of the URL the operator registered, when it is a valid id."""
    for key, value in request.query_params():
        if key == "campaign" and _CAMPAIGN.fullmatch(value):
            return value
    return DEFAULT_CAMPAIGN


def log_fields(signals: list[SmsSignal]) -> list[dict[str, str | None]]:
    """What a log line may say about signals: outcomes and provider codes, numbers masked."""
    return [
        {
            "outcome": s.outcome,
            "detail": None if s.detail is None else redacted(s.detail),
            "contact": masked(s.contact),
        }
        for s in signals
    ]


@dataclass(frozen=True)
class SmsSource:
    """An SMS provider as a webhook source (``webhooks.source.WebhookSource``)."""

    provider: SmsProvider
    summary: str
    description: str
    credential: str = "signature"

    @property
    def name(self) -> str:
        return self.provider.name

    @property
    def acknowledgement_types(self) -> tuple[str, ...]:
        return (self.provider.acknowledgement[0],)

    def verify(self, request: WebhookRequest, secret: str, now: datetime) -> Verdict:
        return self.provider.verify(request, secret, now)

    def translate(self, request: WebhookRequest, now: datetime, settings: Settings) -> Translation:
        # Nothing happened after it was received (a time ahead of our clock is the provider's skew),
        # and nothing before 1970 (a zeroed or garbled timestamp): either is read as the receipt.
        signals = [
            s if EPOCH <= s.occurred_at <= now else replace(s, occurred_at=now)
            for s in self.provider.parse(request, now)
        ]
        campaign = campaign_of(request)
        window = timedelta(minutes=settings.click_window_minutes)
        return Translation(
            events=to_events(signals, campaign=campaign, click_window=window),
            log={"campaign": campaign, "signals": log_fields(signals)},
        )

    def acknowledge(
        self, translation: Translation, reader: AggregateReader, now: datetime, settings: Settings
    ) -> Acknowledgement:
        content_type, body = self.provider.acknowledgement
        return Acknowledgement(content_type, body)
