"""History points evaluated from stretches equal the points a daily run writing them would have
left; retention, the clock, the horizon and points stored before stretches."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest

from engagement.domain.aggregates import ObservedEvent
from engagement.domain.contact import ContactState
from engagement.domain.contact_records import (
    REVISIT_DAYS,
    STRETCH_LIFE_MS,
    ContactRecord,
    HistoryPoint,
    StoredHistory,
    Stretch,
    stretch_day,
    stretch_expires_at_s,
)
from engagement.domain.decay import MS_PER_DAY
from engagement.domain.event_types import EventType
from engagement.domain.history import DAILY_RUN_MS_OF_DAY, first_run_after, history_points, planned_stretches
from engagement.domain.timefmt import to_ms
from engagement.domain.upkeep import evaluate_contact
from engagement.topology import TOPOLOGY

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


@pytest.mark.parametrize(("seed", "days"), [*((seed, 150) for seed in range(12)), (12, 1300), (13, 1300)])
def test_evaluated_points_equal_the_points_a_run_would_have_written(seed: int, days: int) -> None:
    events = random_events(seed, days)
    stored = StoredHistory(recorded_stretches(events, days))
    first, last = START.date(), (START + timedelta(days=days - 1)).date()
    evaluated = history_points(
        stored, first_day=first, last_day=last, now_ms=run_ms(days - 1), retention_days=days + 1
    )
    expected = written_points(events, days)
    assert evaluated == expected
    assert len(expected) > 1
    if days > 1000:  # the score's rounding keeps moving for years (frequency falls like 1 / t)
        assert expected[-1].day > (START + timedelta(days=500)).date().isoformat()
    # Any window of it is the same points, whatever the window starts on.
    window = history_points(
        stored,
        first_day=first + timedelta(days=40),
        last_day=first + timedelta(days=80),
        now_ms=run_ms(days - 1),
        retention_days=days + 1,
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


def test_a_stretch_expires_once_it_cannot_be_in_force_plus_the_retention() -> None:
    stretch = stretch_of(0, EventType.CLICKED)
    retention = 400 * MS_PER_DAY
    assert stretch_expires_at_s(stretch, retention) * 1000 == stretch.at_ms + STRETCH_LIFE_MS + retention
    assert STRETCH_LIFE_MS == 2 * REVISIT_DAYS * MS_PER_DAY


def test_the_daily_run_time_is_the_schedules() -> None:
    schedule = next(s for s in TOPOLOGY.schedules if s.job == "decay")
    minute, hour = schedule.expression.removeprefix("cron(").split()[:2]
    assert (int(hour) * 60 + int(minute)) * 60_000 == DAILY_RUN_MS_OF_DAY


def record(version: int, **marks: int) -> ContactRecord:
    state = stretch_of(0, EventType.CLICKED).state
    assert state is not None
    return ContactRecord(state, version=version, **marks)  # type: ignore[arg-type]


def starts(stretches: list[Stretch]) -> list[tuple[int, bool]]:
    """(day index from START, whether the state is known) of each stretch."""
    return [((s.at_ms - run_ms(0)) // MS_PER_DAY, s.state is not None) for s in stretches]


def test_a_new_state_is_in_force_from_the_first_run_after_the_scorer_applied_it() -> None:
    run = run_ms(10)
    assert first_run_after(run - 1, run) == run
    assert first_run_after(run, run) == run + MS_PER_DAY  # applied at the instant: the next run
    assert first_run_after(run - 3 * MS_PER_DAY - 5, run) == run - 3 * MS_PER_DAY
    # Applied after the run before: from this run.
    assert starts(
        planned_stretches(record(3, stretch_version=1, stretch_at_ms=run_ms(9), unseen_ms=run - 5), run)
    ) == [(10, True)]
    # Applied once, on day 6, and runs 7 to 9 were missed: from run 7.
    missed = record(
        3, stretch_version=1, stretch_at_ms=run_ms(2), unseen_ms=run_ms(6) + 5, seen_ms=run_ms(6) + 9
    )
    assert starts(planned_stretches(missed, run)) == [(7, True)]
    # Applied on day 6 and again on day 8: days 7 and 8 saw a state nobody kept (a gap).
    twice = record(
        4, stretch_version=1, stretch_at_ms=run_ms(2), unseen_ms=run_ms(6) + 5, seen_ms=run_ms(8) + 9
    )
    assert starts(planned_stretches(twice, run)) == [(7, False), (9, True)]
    # Applied after this run's instant (it reads it): from the next run, a day has one state.
    assert starts(
        planned_stretches(record(3, stretch_version=1, stretch_at_ms=run, unseen_ms=run + 5), run)
    ) == [(11, True)]
    # Without the scorer's marks (an older scorer), or no stretch yet: from this run.
    assert starts(planned_stretches(record(3, stretch_version=1, stretch_at_ms=run_ms(2)), run)) == [
        (10, True)
    ]
    assert starts(planned_stretches(record(1), run)) == [(10, True)]
    # Recorded already: nothing, unless it is old and the run revisits it.
    recorded = record(3, stretch_version=3, stretch_at_ms=run_ms(2))
    assert planned_stretches(recorded, run, revisit=True) == []
    old = record(3, stretch_version=3, stretch_at_ms=run - REVISIT_DAYS * MS_PER_DAY)
    assert planned_stretches(old, run) == []
    assert starts(planned_stretches(old, run, revisit=True)) == [(10, True)]


def test_days_after_unrecorded_events_are_read_from_the_contact_when_runs_were_missed() -> None:
    before = [ObservedEvent("a", "u", "i", EventType.CLICKED, run_ms(0) - 5, None, 0)]
    later = [ObservedEvent("b", "u", "i", EventType.CONVERTED, run_ms(8) + 36_000_000, None, 0)]
    old = ContactState.from_events("u", before)
    new = ContactState.from_events("u", before + later)
    assert old is not None
    assert new is not None
    applied = later[0].occurred_ms
    contact = ContactRecord(
        new, version=2, stretch_version=1, stretch_at_ms=run_ms(0), unseen_ms=applied, seen_ms=applied
    )
    stored = [Stretch(stretch_day(run_ms(0)), run_ms(0), old)]
    now = run_ms(13) + 60_000
    read = history_points(
        StoredHistory([*stored, *planned_stretches(contact, run_ms(13))]),
        first_day=START.date(),
        last_day=START.date() + timedelta(days=13),
        now_ms=now,
        retention_days=400,
    )
    # Exactly what runs on every one of those days would have written.
    assert read == written_points(before + later, 14)


def test_a_gap_has_no_point_and_the_day_after_it_compares_with_the_last_known_score() -> None:
    known = stretch_of(0, EventType.CLICKED, EventType.RESPONDED, EventType.CONVERTED)
    same = Stretch(stretch_day(run_ms(5)), run_ms(5), known.state)
    gapped = StoredHistory([known, Stretch(stretch_day(run_ms(3)), run_ms(3), None), same])
    days = points(gapped, now_day=8)
    whole = points(StoredHistory([known]), now_day=8)
    assert not {"2026-06-04", "2026-06-05"} & set(days)  # days 3 and 4: the gap
    assert [d for d in whole if d < "2026-06-04"] == [d for d in days if d < "2026-06-04"]
    assert [d for d in whole if d > "2026-06-06"] == [d for d in days if d > "2026-06-06"]
    # Day 5 compares with day 2's score, the last one known: a point, since the score fell since.
    assert "2026-06-06" in days
