"""A contact's score history, evaluated when read from the states it went through.

Between two events a contact's state does not change, so its daily history points follow from
that state and the run instants (design decision 4). What the store keeps is one *stretch* per
state the daily run saw: the contact's state as the first run after its events read it, in
force from the first run after those events reached the scorer, until the next stretch.
Writing a point every day a score moved cost the daily run two writes per moving contact (the
point and the contact's next due time): nine tenths of a quiet day's bill, for values a read
can compute. Until the run records a contact's new state, a read evaluates the days after its
events from the contact itself (``planned_stretches``, as the run will record them).

A point is the reading of day D's run (its instant, 00:00 UTC): the score to one decimal, the
band and the components, from the stretch in force on D. It exists when that score differs
from the last one read (or there was none), which is what a run writing "a point when the score
moved by 0.1 since the last one" produced. Points are kept ``retention`` after their day, like
the stored ones were (TTL).

When runs were missed and events arrived on several days in between, the states of the days
between are not known (only the last one is): those days are a *gap*, with no point, as when
the runs wrote points and did not run. Points stored before stretches existed (``legacy``) are
served as they are, for the days before the first stretch.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from engagement.domain.contact import ContactState
from engagement.domain.contact_records import (
    REVISIT_DAYS,
    ContactRecord,
    HistoryPoint,
    StoredHistory,
    Stretch,
    stretch_day,
)
from engagement.domain.crm import CrmProfile
from engagement.domain.decay import MS_PER_DAY
from engagement.domain.scoring_config import DEFAULT_SCORING_CONFIG, ScoringConfig
from engagement.domain.upkeep import evaluate_contact

HISTORY_DECIMALS = 1
"""A point when the composite moved by at least 0.1 (in rounding): enough for a chart, and a
contact idle for months stops producing points once its score stops moving."""
DAILY_RUN_MS_OF_DAY = 0
"""The daily run's time of day (its schedule: 00:00 UTC; a test holds the topology to it)."""


def first_run_after(instant_ms: int, run_ms: int) -> int:
    """The earliest daily run instant strictly after ``instant_ms`` (``run_ms``: any run)."""
    return run_ms - MS_PER_DAY * ((run_ms - instant_ms - 1) // MS_PER_DAY)


def latest_run_at(now_ms: int) -> int:
    """The latest daily run instant at or before ``now_ms``."""
    return now_ms - (now_ms - DAILY_RUN_MS_OF_DAY) % MS_PER_DAY


def planned_stretches(record: ContactRecord, run_ms: int, *, revisit: bool = False) -> list[Stretch]:
    """What the run at ``run_ms`` records for the contact (or a read imagines the latest run
    recorded), oldest first: nothing when its latest stretch holds its state.

    The new state is in force from the first run after the scorer first applied events the
    runs had not seen, and after the latest stretch. If the scorer applied more on a later day
    (runs were missed), the days from that first run to the run after the latest application
    saw states that are not kept: a gap, then the state from there. Without the scorer's marks
    (an older scorer wrote it) the state starts at this run. ``revisit``: a state older than
    ``REVISIT_DAYS`` is recorded again from this run, so a stretch in force is never too old.
    """
    floor = -1 if record.stretch_at_ms is None else first_run_after(record.stretch_at_ms, run_ms)
    if not record.has_unrecorded_state:
        old = record.stretch_at_ms is not None and run_ms - record.stretch_at_ms >= REVISIT_DAYS * MS_PER_DAY
        return [_stretch(run_ms, record.state)] if revisit and old else []
    if record.unseen_ms is None:
        return [_stretch(max(run_ms, floor), record.state)]
    early = max(first_run_after(record.unseen_ms, run_ms), floor)
    late = max(first_run_after(record.seen_ms or record.unseen_ms, run_ms), early)
    if late == early:
        return [_stretch(early, record.state)]
    return [_stretch(early, None), _stretch(late, record.state)]


def _stretch(at_ms: int, state: ContactState | None) -> Stretch:
    return Stretch(day=stretch_day(at_ms), at_ms=at_ms, state=state)


def history_points(
    stored: StoredHistory,
    *,
    first_day: date,
    last_day: date,
    now_ms: int,
    retention_days: int,
    config: ScoringConfig = DEFAULT_SCORING_CONFIG,
) -> list[HistoryPoint]:
    """The points of the days ``first_day``..``last_day`` whose run instant has passed and is
    still within the retention, oldest first."""
    stretches = sorted(stored.stretches, key=lambda s: s.day)  # stable: a later one wins a tie
    derived: list[HistoryPoint] = []
    start = date.fromisoformat(stretches[0].day) if stretches else None
    legacy = [p for p in stored.legacy if start is None or p.day < start.isoformat()]
    if start is not None:
        profile = CrmProfile(config.crm)

        def rounded(day: date) -> float | None:
            stretch = _in_force(stretches, day)
            if stretch is None or stretch.state is None:
                return None
            return round(profile.evaluate(stretch.state, _instant(stretch, day)).composite, HISTORY_DECIMALS)

        def last_read(day: date) -> float | None:
            """The score of the latest day up to ``day`` whose state is known."""
            while (stretch := _in_force(stretches, day)) is not None and stretch.state is None:
                day = date.fromisoformat(stretch.day) - timedelta(days=1)
            if stretch is None:
                return legacy[-1].score if legacy else None  # the last point stored before
            return rounded(day)

        day = max(first_day, start)
        before = last_read(day - timedelta(days=1))
        while day <= last_day:
            stretch = _in_force(stretches, day)
            assert stretch is not None  # day >= start
            at_ms = _instant(stretch, day)
            if at_ms > now_ms:
                break
            score = rounded(day)
            if score is not None and score != before:
                derived.append(_point(stretch, day, at_ms, config))
            before = score if score is not None else before
            day += timedelta(days=1)
    first, last = first_day.isoformat(), last_day.isoformat()
    oldest_kept = now_ms - retention_days * MS_PER_DAY
    return [p for p in (*legacy, *derived) if first <= p.day <= last and p.at_ms > oldest_kept]


def _in_force(stretches: Sequence[Stretch], day: date) -> Stretch | None:
    key = day.isoformat()
    found = None
    for stretch in stretches:
        if stretch.day > key:
            break
        found = stretch
    return found


def _instant(stretch: Stretch, day: date) -> int:
    return stretch.at_ms + (day - date.fromisoformat(stretch.day)).days * MS_PER_DAY


def _point(stretch: Stretch, day: date, at_ms: int, config: ScoringConfig) -> HistoryPoint:
    assert stretch.state is not None  # gaps have no point
    evaluation = evaluate_contact(stretch.state, at_ms, config)
    return HistoryPoint(
        day=day.isoformat(),
        at_ms=at_ms,
        score=round(evaluation.score.composite, HISTORY_DECIMALS),
        band=evaluation.band.value,
        components={
            name: round(value, HISTORY_DECIMALS) for name, value in evaluation.score.components.items()
        },
    )
