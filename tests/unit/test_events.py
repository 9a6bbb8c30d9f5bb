from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from engagement.domain.events import EventIn, EventType, derive_event_id, future_problems, stable_id

BASE: dict[str, Any] = {
    "user_id": "42",
    "item_id": "AI-1799",
    "type": "query",
    "occurred_at": "2026-11-20T10:00:00Z",
}


def event(**changes: Any) -> EventIn:
    return EventIn.model_validate({**BASE, **changes})


def test_occurred_at_is_stored_in_utc() -> None:
    assert event(occurred_at="2026-11-20T12:30:00+02:30").occurred_at == datetime(
        2026, 11, 20, 10, 0, tzinfo=UTC
    )


def test_a_timestamp_without_offset_is_rejected() -> None:
    with pytest.raises(ValidationError, match="with an offset"):
        event(occurred_at="2026-11-20T10:00:00")


@pytest.mark.parametrize("kind", [t.value for t in EventType])
def test_every_documented_type_is_accepted(kind: str) -> None:
    assert event(type=kind, value=None).type.value == kind


def test_an_unknown_type_is_rejected() -> None:
    with pytest.raises(ValidationError, match="type"):
        event(type="liked")


def test_context_is_truncated_to_200_characters() -> None:
    assert event(context="é" * 500).context == "é" * 200


def test_value_is_only_for_conversions() -> None:
    assert event(type="converted", value=19.99).value == Decimal("19.99")
    with pytest.raises(ValidationError, match="only allowed on converted"):
        event(type="clicked", value=1)


@pytest.mark.parametrize("value", [-1, "NaN", "Infinity", 10**13])
def test_value_must_be_a_finite_non_negative_amount(value: Any) -> None:
    with pytest.raises(ValidationError):
        event(type="converted", value=value)


def test_metadata_is_size_limited() -> None:
    assert event(metadata={"campaign": "spring"}).metadata == {"campaign": "spring"}
    with pytest.raises(ValidationError, match="2048 bytes"):
        event(metadata={"blob": "x" * 2100})


@pytest.mark.parametrize("bad", ["", "a b", "a/b", "x" * 129, "tab\there"])
def test_identifiers_refuse_whitespace_slashes_and_excess_length(bad: str) -> None:
    with pytest.raises(ValidationError):
        event(user_id=bad)


def test_unknown_fields_are_refused_so_typos_surface() -> None:
    with pytest.raises(ValidationError, match="Extra inputs"):
        event(ocurred_at="2026-11-20T10:00:00Z")


def test_derived_id_is_stable_for_an_exact_resend_and_for_the_same_instant() -> None:
    first = event().resolve()
    assert first.event_id == event().resolve().event_id
    assert first.event_id == event(occurred_at="2026-11-20T11:00:00+01:00").resolve().event_id
    assert first.event_id.startswith("ev_")


@pytest.mark.parametrize(
    "change",
    [
        {"user_id": "43"},
        {"item_id": "AI-1800"},
        {"type": "view"},
        {"occurred_at": "2026-11-20T10:00:01Z"},
        {"context": "hi"},
        {"source": "telegram"},
        {"metadata": {"a": 1}},
    ],
)
def test_derived_id_changes_with_any_content(change: dict[str, Any]) -> None:
    assert event().resolve().event_id != event(**change).resolve().event_id


def test_an_explicit_event_id_is_kept() -> None:
    assert event(event_id="tg:1:AI-1799").resolve().event_id == "tg:1:AI-1799"


def test_derive_event_id_matches_resolve() -> None:
    parsed = event()
    assert derive_event_id(parsed) == parsed.resolve().event_id


def test_stable_id_depends_on_every_part() -> None:
    assert stable_id("tg", 1, "AI-1") == stable_id("tg", 1, "AI-1")
    assert stable_id("tg", 1, "AI-1") != stable_id("tg", 1, "AI-2")
    assert stable_id("tg", 12, "3") != stable_id("tg", 1, "23")


def test_future_events_beyond_five_minutes_are_named_by_index() -> None:
    now = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    events = [
        event(occurred_at=(now + timedelta(minutes=5)).isoformat()).resolve(),
        event(occurred_at=(now + timedelta(minutes=5, seconds=1)).isoformat()).resolve(),
    ]
    problems = future_problems(events, now)
    assert [p.field for p in problems] == ["events[1].occurred_at"]
    assert "future" in problems[0].message
