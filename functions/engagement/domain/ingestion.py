"""Ingest: validated events in, one conditional write each, a status per event out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from engagement.domain.errors import InvalidInput
from engagement.domain.events import EventIn, future_problems
from engagement.domain.ports import EventLog


@dataclass(frozen=True)
class IngestOutcome:
    index: int
    event_id: str
    status: Literal["accepted", "duplicate"]


@dataclass(frozen=True)
class Tally:
    """How many events a request stored now, and how many were already stored."""

    accepted: int = 0
    duplicates: int = 0

    @classmethod
    def of(cls, outcomes: Sequence[IngestOutcome]) -> Tally:
        accepted = sum(1 for o in outcomes if o.status == "accepted")
        return cls(accepted=accepted, duplicates=len(outcomes) - accepted)


def ingest(events: Sequence[EventIn], log: EventLog, now: datetime) -> list[IngestOutcome]:
    """Store each event once, or none of them when any is invalid.

    Every rule is checked before the first write, so a rejected request stores nothing. A
    store failure raises ``StoreError`` after some events may be stored; a retry of the same
    request then reports those as duplicates, so nothing is counted twice.
    """
    resolved = [event.resolve() for event in events]
    problems = future_problems(resolved, now)
    if problems:
        raise InvalidInput(problems)
    return [
        IngestOutcome(
            index=index,
            event_id=event.event_id,
            status="accepted" if log.put_event(event, received_at=now) else "duplicate",
        )
        for index, event in enumerate(resolved)
    ]
