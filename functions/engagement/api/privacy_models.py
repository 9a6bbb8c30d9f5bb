"""Response models of a person's data: their events, their export, their erasure."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, JsonValue

from engagement.domain.erasure import Erasure
from engagement.domain.timefmt import from_ms, parse_rfc3339


class StoredEventOut(BaseModel):
    event_id: str
    type: str
    item_id: str
    occurred_at: AwareDatetime
    value: float | None = Field(description="Money, for converted events")
    context: str | None
    source: str
    received_at: AwareDatetime | None = Field(description="When this service stored it")
    metadata: dict[str, JsonValue] | None

    @classmethod
    def of(cls, stored: Mapping[str, Any]) -> StoredEventOut:
        received = stored.get("received_at")
        value = stored.get("value")
        return cls(
            event_id=str(stored["event_id"]),
            type=str(stored["type"]),
            item_id=str(stored["item_id"]),
            occurred_at=parse_rfc3339(str(stored["occurred_at"])),
            value=None if value is None else float(value),
            context=stored.get("context"),
            source=str(stored["source"]),
            received_at=None if received is None else parse_rfc3339(str(received)),
            metadata=stored.get("metadata"),
        )


class EventsPageResponse(BaseModel):
    user_id: str
    events: list[StoredEventOut] = Field(description="Newest first")
    cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last one")


class SuppressionKept(BaseModel):
    since: AwareDatetime = Field(description="When the person opted out")
    reason: str | None = Field(description="The keyword or provider error code that opted them out")


class ErasureResponse(BaseModel):
    status: Literal["in_progress", "complete"] = Field(
        description=(
            "complete: nothing stored of the person before erased_at is held; in_progress: ask again "
            "(meanwhile every event of the person is dropped)"
        )
    )
    erased_at: AwareDatetime = Field(
        description=(
            "When the erasure completed (in progress: when it began). Events of the person that "
            "occurred before it, or up to five minutes after (a fast clock), are dropped wherever they "
            "turn up"
        )
    )
    removed: dict[str, int] = Field(
        description="What was removed, by kind (events, engagements, history, links...)"
    )
    suppressed: SuppressionKept | None = Field(
        description="Present when the person had opted out: they stay suppressed (do not message them)"
    )

    @classmethod
    def of(cls, erasure: Erasure) -> ErasureResponse:
        return cls(
            status=erasure.status,
            erased_at=from_ms(erasure.erased_at_ms),
            removed=dict(erasure.counts),
            suppressed=None
            if not erasure.suppressed or erasure.suppressed_since_ms is None
            else SuppressionKept(since=from_ms(erasure.suppressed_since_ms), reason=erasure.opt_out_reason),
        )


class ExportResponse(BaseModel):
    user_id: str
    exported_at: AwareDatetime
    scores: dict[str, JsonValue] = Field(
        description="The person's scores evaluated at exported_at (Linear per item, the CRM composite)"
    )
    stored: dict[str, list[dict[str, JsonValue]]] = Field(
        description=(
            "Every item held about the person, as stored: aggregates (the contact and each engagement), "
            "history points, tracked links"
        )
    )
    erasure: ErasureResponse | None = Field(description="An earlier erasure of the person, if any")
    events: list[StoredEventOut] = Field(description="A page of the person's events, newest first")
    events_cursor: str | None = Field(
        description="The export pages through events: pass as ?cursor= for the next page (the rest repeats)"
    )


def plain(value: Any) -> JsonValue:
    """A stored DynamoDB value as plain JSON: numbers as numbers, sets as sorted lists, bytes as base64."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [plain(v) for v in value]
        return items if isinstance(value, list | tuple) else sorted(items, key=str)
    return _scalar(value)


def _scalar(value: Any) -> JsonValue:
    raw = getattr(value, "value", value)  # boto3's Binary wraps its bytes
    if isinstance(value, Decimal):
        found: JsonValue = int(value) if value == value.to_integral_value() else float(value)
    elif isinstance(raw, bytes | bytearray):
        found = base64.b64encode(bytes(raw)).decode()
    elif isinstance(value, datetime):
        found = value.isoformat()
    elif value is None or isinstance(value, bool | int | float | str):
        found = value
    else:
        found = str(value)
    return found
