"""The engagement event: one model for chat and SMS engagement.

``EventIn`` is what a client may send; ``EngagementEvent`` is what is stored, with its
``event_id`` always set. An absent ``event_id`` is derived from the event's content, so an
exact resend maps to the same id and the conditional write turns it into a duplicate.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

from engagement.domain.errors import FieldProblem
from engagement.domain.event_types import EventType
from engagement.domain.ids import stable_id
from engagement.domain.instants import FUTURE_TOLERANCE
from engagement.domain.strict_json import NUMBER_RULE, fits_dynamodb
from engagement.domain.timefmt import EPOCH, LATEST, RANGE_RULE, parse_rfc3339, rfc3339

CONTEXT_MAX_CHARS = 200
_SURROGATE = re.compile("[\ud800-\udfff]")
METADATA_MAX_BYTES = 2048
MAX_VALUE = Decimal(10) ** 12

IDENTIFIER_PATTERN = r"^[A-Za-z0-9_\-.~()'!*:@,;=+&$<>\[\]{}|^]+$"
"""Identifiers end up in DynamoDB keys and in URL paths, so an id is ASCII letters, digits, "_"
and the punctuation a path segment carries unambiguously: what a Powertools route parameter
matches, minus the space, "%" (API Gateway decodes it twice), "/", "?" and "#". ASCII only:
pydantic, Powertools' router and JSON Schema each read ``\\w`` differently beyond it, and look-alike
ids ("4\u200d2" and "42", Arabic-Indic and ASCII digits) would be different people. Every id
stored can then be asked for by path."""
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=IDENTIFIER_PATTERN)]


def _instant(value: object) -> object:
    """An RFC 3339 string, and only that: a bare number would be read as epoch seconds."""
    if isinstance(value, datetime):
        # Built in code (webhook adapters) from a provider's own timestamp: the same range holds.
        if value.tzinfo is None or not EPOCH <= value <= LATEST:
            raise ValueError(RANGE_RULE)
        return value
    if not isinstance(value, str):
        raise ValueError("must be an RFC 3339 timestamp string (for example 2026-01-01T00:00:00Z)")
    return parse_rfc3339(value)


Instant = Annotated[AwareDatetime, BeforeValidator(_instant)]
EventId = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[!-~]+$")]
Source = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_.-]*$")]


__all__ = ["EngagementEvent", "EventIn", "EventType", "derive_event_id", "future_problems", "stable_id"]


class _EventFields(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    user_id: Identifier = Field(description="Who: a Telegram user id, or a phone number in E.164")
    item_id: Identifier = Field(description="What: an issue key such as AI-1799, or a campaign id")
    type: EventType
    occurred_at: Instant = Field(
        description="RFC 3339 with an offset, 1970-01-01T00:00:00Z to 2999-12-31T23:59:59Z; stored in UTC"
    )
    value: Annotated[Decimal, Field(ge=0, le=MAX_VALUE, allow_inf_nan=False)] | None = Field(
        default=None, description="Money, only for converted events"
    )
    context: str | None = Field(
        default=None, description=f"Free text, truncated to {CONTEXT_MAX_CHARS} characters"
    )
    source: Source = "api"
    metadata: Annotated[
        dict[str, JsonValue] | None,
        # Any JSON object: spelled out plainly, not as pydantic's recursive JsonValue schema,
        # which client generators and fuzzers handle poorly.
        WithJsonSchema({"anyOf": [{"type": "object"}, {"type": "null"}]}),
    ] = Field(default=None, description=f"Small JSON object, at most {METADATA_MAX_BYTES} bytes serialized")

    @field_validator("value")
    @classmethod
    def _value_only_for_conversions(cls, value: Decimal | None, info: ValidationInfo) -> Decimal | None:
        # A field validator (not a model one), so the error names events[i].value.
        kind = info.data.get("type")  # absent when the type itself was invalid: that error suffices
        if value is not None and kind is not None and kind is not EventType.CONVERTED:
            raise ValueError("is only allowed on converted events")
        if value is not None and not fits_dynamodb(value):
            raise ValueError(NUMBER_RULE)  # refused here, or the write fails after earlier ones
        return value

    @field_validator("occurred_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise ValueError("must be between 1970-01-01T00:00:00Z and 2999-12-31T23:59:59Z") from None

    @field_validator("context")
    @classmethod
    def _truncate(cls, value: str | None) -> str | None:
        if value is None:
            return None
        # Free text from chats and providers: an unpaired surrogate (which no UTF-8 encoder can
        # write) becomes U+FFFD rather than failing the whole event.
        return _SURROGATE.sub("\ufffd", value[:CONTEXT_MAX_CHARS])

    @field_validator("metadata")
    @classmethod
    def _small(cls, value: dict[str, JsonValue] | None) -> dict[str, JsonValue] | None:
        if value is None:
            return None
        if not all(_storable(leaf) for leaf in _leaves(value)):
            raise ValueError(f"every number {NUMBER_RULE}, and no text may hold unpaired surrogates")
        if len(_canonical_json(value).encode()) > METADATA_MAX_BYTES:
            raise ValueError(f"metadata must serialize to at most {METADATA_MAX_BYTES} bytes")
        return value


class EventIn(_EventFields):
    """An event as a client sends it; ``event_id`` is optional."""

    event_id: EventId | None = Field(
        default=None,
        description="Stable id; when absent it is derived from the content, so a resend is a duplicate",
    )

    def resolve(self) -> EngagementEvent:
        fields = self.model_dump(exclude={"event_id"})
        event_id = self.event_id or derive_event_id(self)
        return EngagementEvent.model_construct(event_id=event_id, **fields)


class EngagementEvent(_EventFields):
    """A validated event with its id: the unit stored in the event log."""

    event_id: EventId


def derive_event_id(event: _EventFields) -> str:
    """A content hash: equal content gives an equal id; any difference gives another id."""
    content = {
        "user_id": event.user_id,
        "item_id": event.item_id,
        "type": event.type.value,
        "occurred_at": rfc3339(event.occurred_at),
        "value": None if event.value is None else _decimal_text(event.value),
        "context": event.context,
        "source": event.source,
        # Numbers as values, not spellings: a retry re-encoded by another JSON library (1 or 1.0,
        # 0 or -0.0) is the same event and must get the same id.
        "metadata": _same_numbers(event.metadata),
    }
    digest = hashlib.sha256(_canonical_json(content).encode()).hexdigest()
    return f"ev_{digest[:32]}"


def future_problems(events: list[EngagementEvent], now: datetime) -> list[FieldProblem]:
    """Events more than five minutes ahead of ``now`` are clock errors, not engagement."""
    limit = now + FUTURE_TOLERANCE
    return [
        FieldProblem(
            field=f"events[{index}].occurred_at",
            message=f"is more than 5 minutes in the future (now is {rfc3339(now)})",
        )
        for index, event in enumerate(events)
        if event.occurred_at > limit
    ]


def _leaves(value: JsonValue) -> list[JsonValue]:
    """Every scalar in a JSON value, keys included (without recursion: depth is bounded at parse)."""
    found: list[JsonValue] = []
    stack: list[JsonValue] = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            found.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        else:
            found.append(node)
    return found


def _storable(leaf: JsonValue) -> bool:
    if isinstance(leaf, bool) or leaf is None:
        return True
    if isinstance(leaf, int | float):
        try:
            return fits_dynamodb(Decimal(repr(leaf)))
        except (ArithmeticError, ValueError):  # repr refuses integers of over 4,300 digits
            return False
    if isinstance(leaf, str):
        try:
            leaf.encode("utf-8")
        except UnicodeEncodeError:
            return False
    return True


def _decimal_text(value: Decimal) -> str:
    return "0" if value.is_zero() else format(value.normalize(), "f")


def _same_numbers(value: Any) -> Any:
    """Every number as one spelling: integral floats as ints, other floats as their shortest repr."""
    if isinstance(value, dict):
        return {key: _same_numbers(child) for key, child in value.items()}
    if isinstance(value, list):
        return [_same_numbers(child) for child in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
