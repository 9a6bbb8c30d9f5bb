"""Ingest: validated events in, one conditional write each, a status per event out.

An erased person's events that occurred before their erasure are not stored ("erased"): a late
webhook, a replay or a resend cannot bring them back. When a person who had opted out comes back
with new events, their opt-out is written back first (``domain.erasure``), once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from engagement.domain.erasure import SUPPRESSION_SOURCE, Erasure
from engagement.domain.errors import InvalidInput
from engagement.domain.event_types import EventType
from engagement.domain.events import EventIn, future_problems
from engagement.domain.ports import EventLog
from engagement.domain.timefmt import from_ms, to_ms

Status = Literal["accepted", "duplicate", "erased"]


@dataclass(frozen=True)
class IngestOutcome:
    index: int
    event_id: str
    status: Status


@dataclass(frozen=True)
class Tally:
    """How many events a request stored now, and how many were already stored."""

    accepted: int = 0
    duplicates: int = 0
    erased: int = 0
    """Events of an erased person that occurred before the erasure: not stored."""

    @classmethod
    def of(cls, outcomes: Sequence[IngestOutcome]) -> Tally:
        return cls(
            accepted=sum(1 for o in outcomes if o.status == "accepted"),
            duplicates=sum(1 for o in outcomes if o.status == "duplicate"),
            erased=sum(1 for o in outcomes if o.status == "erased"),
        )


def ingest(
    events: Sequence[EventIn], log: EventLog, now: datetime, *, receipt_window: timedelta
) -> list[IngestOutcome]:
    """Store each event once, or none of them when any is invalid.

    Every rule is checked before the first write, so a rejected request stores nothing. A
    store failure raises ``StoreError`` after some events may be stored; a retry of the same
    request then reports those as duplicates, so nothing is counted twice.
    """
    resolved = [event.resolve() for event in events]
    problems = future_problems(resolved, now)
    if problems:
        raise InvalidInput(problems)
    erasures = log.erasures_of({event.user_id for event in resolved})
    outcomes: list[IngestOutcome] = []
    for index, event in enumerate(resolved):
        erasure = erasures.get(event.user_id)
        dropped = erasure is not None and erasure.drops(
            event.event_id,
            event.type,
            to_ms(event.occurred_at),
            received_ms=to_ms(now),
            receipt_window_ms=int(receipt_window.total_seconds() * 1000),
        )
        if dropped:
            outcomes.append(IngestOutcome(index=index, event_id=event.event_id, status="erased"))
            continue
        if erasure is not None and (carried := carried_opt_out(erasure, event.user_id)) is not None:
            log.put_event(carried.resolve(), received_at=now)  # once: its id is the erasure's
        stored = log.put_event(event, received_at=now)
        outcomes.append(
            IngestOutcome(index=index, event_id=event.event_id, status="accepted" if stored else "duplicate")
        )
    return outcomes


def carried_opt_out(erasure: Erasure, user_id: str) -> EventIn | None:
    """The opt-out an erasure carries, as the event that writes it back when the person returns.

    Its id is derived from the erasure, so writing it at every return is one event, once; it
    occurred when the person opted out, so their later opt-in (START) still lifts it.
    """
    if not erasure.suppressed or erasure.suppressed_since_ms is None:
        return None
    return EventIn(
        event_id=erasure.carried_opt_out_id,
        user_id=user_id,
        item_id="suppression",
        type=EventType.OPTED_OUT,
        occurred_at=from_ms(erasure.suppressed_since_ms),
        context=erasure.opt_out_reason,
        source=SUPPRESSION_SOURCE,
    )
