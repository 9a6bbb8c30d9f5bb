"""History points evaluated from stretches equal the points a daily run writing them would have
left; retention, the clock, the horizon and points stored before stretches."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest

from engagement.domain.aggregates import ObservedEvent
from engagement.domain.contact import ContactState
from engagement.domain.contact_records import HistoryPoint
from engagement.domain.event_types import EventType
from engagement.domain.history import (
    MS_PER_DAY,
    STRETCH_HORIZON_DAYS,
    StoredHistory,
    Stretch,
    history_points,
    stretch_day,
)
from engagement.domain.timefmt import to_ms
from engagement.domain.upkeep import evaluate_contact

START = datetime(2026, 6, 1, tzinfo=UTC)
KINDS = (EventType.CLICKED, EventType.RESPONDED, EventType.QUERY, EventType.DELIVERED, EventType.CONVERTED)


def run_ms(n: int) -> int:
    return to_ms(START + timedelta(days=n))


def written_points(events: list[ObservedEvent], days: int) -> list[HistoryPoint]:
    """The rule the daily run used to apply, written out: each day's run evaluates the state it
    sees (every event before its instant) and writes a point when the score, to one decimal,
    differs from the last point written."""
    points: list[HistoryPoint] = []
    for n in range(days):
        at = run_ms(n)
        state = ContactState.from_events("u", [e for e in events if e.occurred_ms < at])
        if state is None:
            continue
        evaluation = evaluate_contact(state, at)
        score = round(evaluation.score.composite, 1)
        if not points or points[-1].score != score:
            components = {k: round(v, 1) for k, v in evaluation.score.components.items()}
            points.append(HistoryPoint(stretch_day(at), at, score, evaluation.band.value, components))
    return points


def recorded_stretches(events: list[ObservedEvent], days: int) -> list[Stretch]:
    """What the daily runs record: a stretch on the first run after events, none otherwise."""
    stretches: list[Stretch] = []
    seen: ContactState | None = None
    for n in range(days):
        at = run_ms(n)
        state = ContactState.from_events("u", [e for e in events if e.occurred_ms < at])
        if state is not None and state != seen:
            stretches.append(Stretch(stretch_day(at), at, state))
            seen = state
    return stretches


def random_events(seed: int, days: int) -> list[ObservedEvent]:
    rng = random.Random(seed)
    events = []
    for n in range(rng.randint(1, 25)):
        at = run_ms(0) + rng.randrange(0, days * MS_PER_DAY)
        events.append(ObservedEvent(f"e{n}", "u", "i", rng.choice(KINDS), at, None, at // 1000))
    return events


@pytest.mark.parametrize("seed", range(12))
def test_evaluated_points_equal_the_points_a_run_would_have_written(seed: int) -> None:
    days = 150
    events = random_events(seed, days)
    stored = StoredHistory(recorded_stretches(events, days))
    first, last = START.date(), (START + timedelta(days=days - 1)).date()
    evaluated = history_points(
        stored, first_day=first, last_day=last, now_ms=run_ms(days - 1), retention_days=400
    )
    expected = written_points(events, days)
    assert evaluated == expected
    assert len(expected) > 1
    # Any window of it is the same points, whatever the window starts on.
    window = history_points(
        stored,
        first_day=first + timedelta(days=40),
        last_day=first + timedelta(days=80),
        now_ms=run_ms(days - 1),
        retention_days=400,
    )
    assert window == [p for p in expected if "2026-07-11" <= p.day <= "2026-08-20"]


def stretch_of(day: int, *kinds: EventType) -> Stretch:
    at = run_ms(day)
    events = [ObservedEvent(f"e{n}", "u", "i", k, at - 3_600_000, None, 0) for n, k in enumerate(kinds)]
    state = ContactState.from_events("u", events)
    assert state is not None
    return Stretch(stretch_day(at), at, state)


def points(stored: StoredHistory, *, now_day: int, retention_days: int = 400) -> list[str]:
    found = history_points(
        stored,
        first_day=date(2000, 1, 1),
        last_day=date(2100, 1, 1),
        now_ms=run_ms(now_day),
        retention_days=retention_days,
    )
    return [p.day for p in found]


def test_no_point_for_a_day_whose_run_has_not_come_and_none_past_the_retention() -> None:
    stored = StoredHistory([stretch_of(0, EventType.CLICKED, EventType.RESPONDED, EventType.CONVERTED)])
    upto_ten = points(stored, now_day=10)
    assert upto_ten[0] == "2026-06-01"
    assert max(upto_ten) <= "2026-06-11"
    assert points(stored, now_day=10, retention_days=3) == [d for d in upto_ten if d > "2026-06-08"]


def test_a_stretch_yields_nothing_past_its_horizon() -> None:
    stored = StoredHistory([stretch_of(0, EventType.CLICKED)])
    days = points(stored, now_day=STRETCH_HORIZON_DAYS + 30, retention_days=10_000)
    assert days
    assert max(days) <= (START + timedelta(days=STRETCH_HORIZON_DAYS)).date().isoformat()


def test_points_stored_before_stretches_are_served_for_the_days_before_them() -> None:
    stretch = stretch_of(5, EventType.CLICKED, EventType.RESPONDED)
    first = evaluate_contact(stretch.state, stretch.at_ms).score.composite
    same = HistoryPoint("2026-06-03", run_ms(2), round(first, 1), "warm")
    later_legacy = HistoryPoint("2026-06-09", run_ms(8), 1.0, "warm")
    stored = StoredHistory([stretch], legacy=[same, later_legacy])
    # The stretch's first day repeats the last stored score: no point; the stretch's days
    # replace any stored point on or after its start.
    assert points(stored, now_day=5) == ["2026-06-03"]
    evaluated = history_points(
        stored, first_day=date(2026, 6, 9), last_day=date(2026, 6, 9), now_ms=run_ms(20), retention_days=400
    )
    assert [(p.day, p.at_ms) for p in evaluated] == [("2026-06-09", run_ms(8))]
    assert evaluated[0].score != later_legacy.score
