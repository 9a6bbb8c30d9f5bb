"""A contact's score history, evaluated when read from the states it went through.

Between two events a contact's state does not change, so its daily history points follow from
that state and the run instants (design decision 4). What the store keeps is one *stretch* per
state the daily run saw: the contact's state as the first run after its events read it, in
force from the first run after those events reached the log, until the next stretch. Writing a
point every day a score moved cost the daily run two writes per moving contact (the point and
the contact's next due time): nine tenths of a quiet day's bill, for values a read can compute.
Until the run records a contact's new state, a read evaluates the days after its events from
the contact itself (``pending_stretch``).

A point is the reading of day D's run (its instant, 00:00 UTC): the score to one decimal, the
band and the components, from the stretch in force on D. It exists when that score differs
from the previous day's (or there was no previous day), which is what a run writing "a point
when the score moved by 0.1 since the last one" produced: between events the score only falls,
so the last written point always equals the previous day's rounded score. Points are kept
``retention`` after their day, like the stored ones were (TTL).

Points stored before stretches existed (``legacy``) are served as they are, for the days before
the first stretch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from engagement.domain.contact import ContactState
from engagement.domain.contact_records import ContactRecord, HistoryPoint
from engagement.domain.crm import CrmProfile
from engagement.domain.scoring_config import DEFAULT_SCORING_CONFIG, ScoringConfig
from engagement.domain.timefmt import from_ms
from engagement.domain.upkeep import evaluate_contact

HISTORY_DECIMALS = 1
"""A point when the composite moved by at least 0.1 (in rounding): enough for a chart, and a
contact idle for months stops producing points once its score stops moving."""
MS_PER_DAY = 86_400_000
DAILY_RUN_MS_OF_DAY = 0
"""The daily run's time of day (its schedule: 00:00 UTC; a test holds the topology to it)."""
SETTLE_SEARCH_MS = 100 * 365 * MS_PER_DAY
"""How far ahead a stretch's last point is looked for: its score's rounding has settled long
before (the slowest component, frequency, falls like 1 / days since the first event)."""


@dataclass(frozen=True)
class Stretch:
    """The state a daily run saw for a contact, in force from ``day`` until the next stretch."""

    day: str
    """The run's UTC date, YYYY-MM-DD."""
    at_ms: int
    """The run's scheduled instant; the same time of day every day after."""
    state: ContactState


@dataclass(frozen=True)
class StoredHistory:
    """What a history read returns from the store: the stretches that cover the range (the
    last one starting before it included) and any legacy points in it."""

    stretches: Sequence[Stretch]
    legacy: Sequence[HistoryPoint] = ()


def stretch_expires_at_s(
    stretch: Stretch, retention_ms: int, config: ScoringConfig = DEFAULT_SCORING_CONFIG
) -> int:
    """When TTL may delete a stretch: its last possible point plus the retention."""
    return (settled_ms(stretch, config) + MS_PER_DAY + retention_ms) // 1000


def settled_ms(stretch: Stretch, config: ScoringConfig = DEFAULT_SCORING_CONFIG) -> int:
    """The first instant from which the stretch's score, to one decimal, no longer changes: no
    point after it. The composite only falls between events, so its rounding does too, and the
    instant is found by bisection against its value far ahead."""
    profile = CrmProfile(config.crm)

    def rounded(at_ms: int) -> float:
        return round(profile.evaluate(stretch.state, at_ms).composite, HISTORY_DECIMALS)

    low, high = stretch.at_ms, stretch.at_ms + SETTLE_SEARCH_MS
    final = rounded(high)
    if rounded(low) == final:
        return low
    while high - low > 1:
        middle = (low + high) // 2
        if rounded(middle) == final:
            high = middle
        else:
            low = middle
    return high


def first_run_after(instant_ms: int, run_ms: int) -> int:
    """The earliest daily run instant strictly after ``instant_ms`` (``run_ms``: any run)."""
    return run_ms - MS_PER_DAY * ((run_ms - instant_ms - 1) // MS_PER_DAY)


def latest_run_at(now_ms: int) -> int:
    """The latest daily run instant at or before ``now_ms``."""
    return now_ms - (now_ms - DAILY_RUN_MS_OF_DAY) % MS_PER_DAY


def new_stretch_start(record: ContactRecord, run_ms: int) -> int:
    """Where a stretch of the contact's current state starts, recorded by the run at ``run_ms``
    (or imagined by a read, the latest run's): the first run after its unseen events reached the
    log and after the latest stretch. Earlier than ``run_ms`` when runs were missed; the next
    run's when the events arrived after this run's instant (the run reads them, but its day's
    reading was due before they came), so a day never has two states."""
    after = max(
        -1 if record.unseen_ms is None else record.unseen_ms,
        -1 if record.stretch_at_ms is None else record.stretch_at_ms,
    )
    return run_ms if after < 0 else first_run_after(after, run_ms)


def pending_stretch(record: ContactRecord, now_ms: int) -> Stretch | None:
    """The contact's current state as the stretch its next run will record, when it has one to
    record: so the days after its latest events are read from them before that run."""
    if not record.has_unrecorded_state:
        return None
    at_ms = new_stretch_start(record, latest_run_at(now_ms))
    return Stretch(day=stretch_day(at_ms), at_ms=at_ms, state=record.state)


def stretch_day(at_ms: int) -> str:
    return from_ms(at_ms).date().isoformat()


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
    stretches = sorted(stored.stretches, key=lambda s: s.day)
    derived: list[HistoryPoint] = []
    start = date.fromisoformat(stretches[0].day) if stretches else None
    legacy = [p for p in stored.legacy if start is None or p.day < start.isoformat()]
    if start is not None:
        profile = CrmProfile(config.crm)

        def rounded(day: date) -> float | None:
            stretch = _in_force(stretches, day)
            if stretch is None:
                return None
            return round(profile.evaluate(stretch.state, _instant(stretch, day)).composite, HISTORY_DECIMALS)

        day = max(first_day, start)
        before = rounded(day - timedelta(days=1))
        if before is None and day == start and legacy:
            before = legacy[-1].score  # the last point written before stretches existed
        while day <= last_day:
            stretch = _in_force(stretches, day)
            assert stretch is not None  # day >= start
            at_ms = _instant(stretch, day)
            if at_ms > now_ms:
                break
            score = rounded(day)
            if score is not None and score != before:
                derived.append(_point(stretch, day, at_ms, config))
            before = score
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
