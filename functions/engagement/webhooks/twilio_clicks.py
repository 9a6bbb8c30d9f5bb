"""Twilio Link Shortening click callbacks: a contact followed a shortened link in a message.

Twilio posts JSON for each click, signed like any Twilio webhook with a JSON body
(``X-Twilio-Signature`` over the URL, which carries ``bodySHA256``), so verification is the
Twilio adapter's. The fields are those of the documented ``link-clicked`` event [Twilio docs
"Link" event types; webhook-providers notes §3.7]: ``message_sid``, ``to``, ``link``,
``click_time``, ``user_agent``; the direct callback's payload is not documented separately, so
both the bare object and an Event Streams envelope (``{"data": {...}}``) are read. Clicks by
link-preview bots are acknowledged and not counted (Twilio's own example user agent is one).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from engagement.domain import strict_json
from engagement.domain.links import is_preview
from engagement.domain.timefmt import parse_rfc3339
from engagement.webhooks import twilio
from engagement.webhooks.provider import MalformedCallback, Verdict
from engagement.webhooks.request import WebhookRequest
from engagement.webhooks.sms import SmsOutcome, SmsSignal, SmsSource, e164


class TwilioClicksProvider:
    name = "twilio"
    acknowledgement = ("application/json", "{}")

    def verify(self, request: WebhookRequest, secret: str, now: datetime) -> Verdict:
        return twilio.PROVIDER.verify(request, secret, now)

    def parse(self, request: WebhookRequest, now: datetime) -> list[SmsSignal]:
        try:
            body = strict_json.parse(request.body or b"null")
        except ValueError as exc:
            raise MalformedCallback("a click callback is JSON") from exc
        data: Any = body.get("data", body) if isinstance(body, Mapping) else None
        if not isinstance(data, Mapping) or not data.get("message_sid") or not data.get("to"):
            raise MalformedCallback("a click callback names message_sid and to")
        if is_preview(str(data.get("user_agent") or "")):
            return []
        try:
            contact = e164(str(data["to"]))
        except ValueError:
            return []  # not a phone number (a WhatsApp id, a short code): nothing to attribute
        return [
            SmsSignal(
                provider=self.name,
                outcome=SmsOutcome.CLICKED,
                contact=contact,
                message_id=str(data["message_sid"]),
                occurred_at=_time(data.get("click_time"), now),
                inbound=True,
                detail="link",
            )
        ]


def _time(value: Any, default: datetime) -> datetime:
    try:
        return parse_rfc3339(str(value)) if value else default
    except ValueError:
        return default


PROVIDER = TwilioClicksProvider()

SOURCE = SmsSource(
    PROVIDER,
    summary="Twilio Link Shortening click callback",
    description=(
        "A contact followed a shortened link; counted once per message per click window "
        "(`CLICK_WINDOW_MINUTES`), previews not at all. Verified like every Twilio webhook with a "
        "JSON body (`X-Twilio-Signature` with `bodySHA256`)."
    ),
    credential="X-Twilio-Signature",
)
