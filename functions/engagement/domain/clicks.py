"""A click on a tracked link as an engagement event (kept apart from ``links`` so that the store,
which every function imports, never pulls in the request models)."""

from __future__ import annotations

from datetime import datetime, timedelta

from engagement.domain.event_types import EventType
from engagement.domain.events import EventIn, stable_id
from engagement.domain.links import Link
from engagement.domain.timefmt import to_ms


def click_event(link: Link, at: datetime, window: timedelta) -> EventIn:
    """One ``clicked`` event per link per window: a double tap or a reload counts once."""
    window_index = to_ms(at) // int(window.total_seconds() * 1000)
    return EventIn(
        event_id=stable_id("click", link.id, window_index),
        user_id=link.user_id,
        item_id=link.campaign,
        type=EventType.CLICKED,
        occurred_at=at,
        source="links",
        metadata={"link": link.id},
    )
