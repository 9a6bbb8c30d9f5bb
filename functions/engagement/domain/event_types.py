"""Engagement event types, in a module without pydantic: the scorer and the scheduled jobs need
the names but not the request model, and pydantic's import is a measurable part of a cold start."""

from __future__ import annotations

from enum import StrEnum

SMS_SOURCE_PREFIX = "sms."
"""Events from SMS webhooks have the source ``sms.<provider>``."""


class EventType(StrEnum):
    # chat engagement (Telegram)
    QUERY = "query"
    VIEW = "view"
    MENTION = "mention"
    # SMS engagement
    DELIVERED = "delivered"
    OPENED = "opened"
    CLICKED = "clicked"
    RESPONDED = "responded"
    CONVERTED = "converted"
    OPTED_OUT = "opted_out"
    OPTED_IN = "opted_in"
    """The contact lifted an opt-out (START, UNSTOP, YES): a state change, not engagement."""
    BOUNCED = "bounced"


SUPPRESSION_TYPES = frozenset({EventType.OPTED_OUT, EventType.OPTED_IN})
"""Types whose latest occurrence decides whether a contact may be messaged."""
