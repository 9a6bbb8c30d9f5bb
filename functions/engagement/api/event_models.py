"""Request and response models of POST /v1/events (kept apart from the score models, so the
ingest function does not build models it never uses at cold start)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from engagement.domain.events import EventIn
from engagement.domain.ingestion import IngestOutcome, Tally

MAX_EVENTS_PER_REQUEST = 100


class IngestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[EventIn] = Field(min_length=1, max_length=MAX_EVENTS_PER_REQUEST)


class EventStatus(BaseModel):
    index: int
    event_id: str
    status: Literal["accepted", "duplicate", "erased"] = Field(
        description=(
            "accepted: stored now; duplicate: an event with this id was already stored; erased: the "
            "person was erased after this event occurred, so it is not stored"
        )
    )


class IngestResponse(BaseModel):
    accepted: int
    duplicates: int
    erased: int = Field(
        description="Events not stored because their person was erased (see DELETE /v1/users/{user_id})"
    )
    results: list[EventStatus]

    @classmethod
    def of(cls, outcomes: list[IngestOutcome]) -> IngestResponse:
        tally = Tally.of(outcomes)
        return cls(
            accepted=tally.accepted,
            duplicates=tally.duplicates,
            erased=tally.erased,
            results=[EventStatus(index=o.index, event_id=o.event_id, status=o.status) for o in outcomes],
        )
