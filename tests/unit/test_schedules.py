"""EventBridge schedule expressions: parsing, AWS day-of-week numbering, and exact fire times.

Calendar facts the expectations rely on (all UTC): 2026-11-20 is a Friday; 2026-08-15 a
Saturday; 2026-02-15 a Sunday; 2026-05-31 a Sunday; 2026-10-31 a Saturday; 2026-08-01 a Saturday.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest

from engagement.topology import TOPOLOGY, ScheduleSpec
from infra.local.schedules import (
    CronExpression,
    RateExpression,
    ScheduleSyntaxError,
    parse_schedule,
)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, *, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def fires(expression: str, start: datetime, end: datetime) -> list[datetime]:
    return list(parse_schedule(expression).fire_times(start, end))


# --- AWS documentation examples ------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        # cron(0 10 * * ? *): 10:00 every day; "after" is strict.
        ("cron(0 10 * * ? *)", utc(2026, 11, 20, 9, 59, second=59), utc(2026, 11, 20, 10)),
        ("cron(0 10 * * ? *)", utc(2026, 11, 20, 10), utc(2026, 11, 21, 10)),
        ("cron(15 12 * * ? *)", utc(2026, 11, 20, 12, 15), utc(2026, 11, 21, 12, 15)),
        ("cron(15 12 * * ? *)", utc(2026, 11, 20, 12, 14, second=30), utc(2026, 11, 20, 12, 15)),
        # 18:00 Monday to Friday: Friday evening skips the weekend.
        ("cron(0 18 ? * MON-FRI *)", utc(2026, 11, 20, 18), utc(2026, 11, 23, 18)),
        ("cron(0 18 ? * MON-FRI *)", utc(2026, 11, 19, 18), utc(2026, 11, 20, 18)),
        # 08:00 on the first of every month, across a year end.
        ("cron(0 8 1 * ? *)", utc(2026, 11, 20), utc(2026, 12, 1, 8)),
        ("cron(0 8 1 * ? *)", utc(2026, 12, 1, 8), utc(2027, 1, 1, 8)),
        ("cron(0/10 * ? * MON-FRI *)", utc(2026, 11, 20, 23, 55), utc(2026, 11, 23)),
        ("cron(0/5 8-17 ? * MON-FRI *)", utc(2026, 11, 20, 17, 55), utc(2026, 11, 23, 8)),
        ("cron(0/5 8-17 ? * MON-FRI *)", utc(2026, 11, 23, 8, 1), utc(2026, 11, 23, 8, 5)),
    ],
)
def test_documented_examples_next_fire_time(expression: str, after: datetime, expected: datetime) -> None:
    assert parse_schedule(expression).next_after(after) == expected


def test_every_fifteen_minutes_from_minute_zero() -> None:
    assert fires("cron(0/15 * * * ? *)", utc(2026, 11, 20, 10), utc(2026, 11, 20, 11)) == [
        utc(2026, 11, 20, 10, 15),
        utc(2026, 11, 20, 10, 30),
        utc(2026, 11, 20, 10, 45),
        utc(2026, 11, 20, 11),
    ]


def test_every_ten_minutes_on_weekdays_only() -> None:
    times = fires("cron(0/10 * ? * MON-FRI *)", utc(2026, 11, 20), utc(2026, 11, 23))
    # Friday 00:10 .. 23:50 (143), nothing at the weekend, Monday 00:00 (1).
    assert len(times) == 144
    assert {t.date() for t in times} == {utc(2026, 11, 20).date(), utc(2026, 11, 23).date()}


def test_every_five_minutes_in_office_hours() -> None:
    times = fires("cron(0/5 8-17 ? * MON-FRI *)", utc(2026, 11, 16), utc(2026, 11, 23))
    assert len(times) == 5 * 10 * 12  # five weekdays, hours 8..17, twelve a hour
    assert times[0] == utc(2026, 11, 16, 8)
    assert times[-1] == utc(2026, 11, 20, 17, 55)


def test_first_monday_of_the_month() -> None:
    assert fires("cron(0 9 ? * 2#1 *)", utc(2026, 1, 1), utc(2026, 5, 31)) == [
        utc(2026, 1, 5, 9),
        utc(2026, 2, 2, 9),
        utc(2026, 3, 2, 9),
        utc(2026, 4, 6, 9),
        utc(2026, 5, 4, 9),
    ]


def test_fifth_thursday_skips_months_without_one() -> None:
    assert fires("cron(0 0 ? * 5#5 *)", utc(2026, 1, 1), utc(2026, 6, 30)) == [
        utc(2026, 1, 29),
        utc(2026, 4, 30),
    ]


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (utc(2026, 1, 15), utc(2026, 1, 31)),
        (utc(2026, 2, 1), utc(2026, 2, 28)),
        (utc(2024, 2, 1), utc(2024, 2, 29)),
        (utc(2026, 4, 1), utc(2026, 4, 30)),
        (utc(2026, 1, 31), utc(2026, 2, 28)),
    ],
)
def test_last_day_of_month(after: datetime, expected: datetime) -> None:
    assert parse_schedule("cron(0 0 L * ? *)").next_after(after) == expected


def test_last_friday_of_the_month() -> None:
    assert fires("cron(0 0 ? * 6L *)", utc(2026, 1, 1), utc(2026, 5, 31)) == [
        utc(2026, 1, 30),
        utc(2026, 2, 27),
        utc(2026, 3, 27),
        utc(2026, 4, 24),
        utc(2026, 5, 29),
    ]


@pytest.mark.parametrize(
    ("month_start", "expected"),
    [
        (utc(2026, 8, 1), utc(2026, 8, 14)),  # the 15th is a Saturday: the Friday before
        (utc(2026, 2, 1), utc(2026, 2, 16)),  # the 15th is a Sunday: the Monday after
        (utc(2026, 5, 1), utc(2026, 5, 15)),  # the 15th is a Friday: the 15th itself
    ],
)
def test_nearest_weekday_to_the_fifteenth(month_start: datetime, expected: datetime) -> None:
    assert parse_schedule("cron(0 0 15W * ? *)").next_after(month_start) == expected


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        # 1 August 2026 is a Saturday: W does not go back into July, it moves to Monday the 3rd.
        ("cron(0 0 1W * ? *)", utc(2026, 7, 31, 12), utc(2026, 8, 3)),
        # 31 May 2026 is a Sunday: W does not go forward into June, it moves to Friday the 29th.
        ("cron(0 0 31W * ? *)", utc(2026, 5, 1), utc(2026, 5, 29)),
        # April has no 31st, so 31W is silent in April, like plain 31.
        ("cron(0 0 31W * ? *)", utc(2026, 4, 1), utc(2026, 5, 29)),
        ("cron(0 0 LW * ? *)", utc(2026, 5, 1), utc(2026, 5, 29)),  # last day a Sunday
        ("cron(0 0 LW * ? *)", utc(2026, 10, 1), utc(2026, 10, 30)),  # last day a Saturday
        ("cron(0 0 LW * ? *)", utc(2026, 8, 1), utc(2026, 8, 31)),  # last day a Monday
    ],
)
def test_weekday_wildcard_stays_inside_the_month(
    expression: str, after: datetime, expected: datetime
) -> None:
    assert parse_schedule(expression).next_after(after) == expected


# --- AWS day-of-week numbering: 1 = SUN .. 7 = SAT, not Unix 0 = SUN -----------------------


def test_sunday_by_number_and_by_name_are_the_same_schedule() -> None:
    by_name = fires("cron(0 2 ? * SUN *)", utc(2026, 11, 1), utc(2026, 11, 30, 23, 59))
    by_number = fires("cron(0 2 ? * 1 *)", utc(2026, 11, 1), utc(2026, 11, 30, 23, 59))
    assert by_name == by_number == [utc(2026, 11, day, 2) for day in (1, 8, 15, 22, 29)]


@pytest.mark.parametrize(
    ("day_of_week", "expected"),
    [
        ("1", utc(2026, 11, 22)),  # Sunday
        ("2", utc(2026, 11, 23)),  # Monday, which would be 1 in Unix cron
        ("6", utc(2026, 11, 27)),  # Friday
        ("7", utc(2026, 11, 21)),  # Saturday, which Unix cron writes as 6
        ("L", utc(2026, 11, 21)),  # "last day of the week" = Saturday
        ("sat", utc(2026, 11, 21)),
    ],
)
def test_day_of_week_numbers_follow_aws(day_of_week: str, expected: datetime) -> None:
    # 2026-11-20 is a Friday.
    assert parse_schedule(f"cron(0 0 ? * {day_of_week} *)").next_after(utc(2026, 11, 20, 12)) == expected


def test_unix_sunday_zero_is_rejected() -> None:
    with pytest.raises(ScheduleSyntaxError, match=r"day-of-week: 0 is out of range 1-7"):
        parse_schedule("cron(0 2 ? * 0 *)")


# --- This project's schedules --------------------------------------------------------------


def test_daily_decay_fires_exactly_ten_times_in_ten_days() -> None:
    times = fires("cron(0 0 * * ? *)", utc(2026, 11, 20, 12), utc(2026, 11, 30, 12))
    assert times == [utc(2026, 11, day) for day in range(21, 31)]


def test_fire_times_exclude_start_and_include_end() -> None:
    times = fires("cron(0 0 * * ? *)", utc(2026, 11, 20), utc(2026, 11, 30))
    assert times == [utc(2026, 11, day) for day in range(21, 31)]


def test_weekly_cleanup_fires_on_sundays_at_two() -> None:
    cleanup = parse_schedule("cron(0 2 ? * SUN *)")
    assert cleanup.next_after(utc(2026, 11, 20, 12)) == utc(2026, 11, 22, 2)
    assert cleanup.next_after(utc(2026, 11, 22, 2)) == utc(2026, 11, 29, 2)


@pytest.mark.parametrize("schedule", TOPOLOGY.schedules, ids=lambda spec: spec.name)
def test_every_topology_schedule_parses_as_cron(schedule: ScheduleSpec) -> None:
    assert isinstance(parse_schedule(schedule.expression), CronExpression)


# --- Fields, steps, names, years and leap years --------------------------------------------


@pytest.mark.parametrize(
    ("minutes", "expected"),
    [
        ("1/10", [1, 11, 21, 31, 41, 51]),
        ("10-50/10", [10, 20, 30, 40, 50]),
        ("*/20", [0, 20, 40]),
        ("5,7,5", [5, 7]),
        ("58-59", [58, 59]),
    ],
)
def test_minute_lists_ranges_and_steps(minutes: str, expected: list[int]) -> None:
    times = fires(f"cron({minutes} 10 * * ? *)", utc(2026, 11, 20, 9, 59), utc(2026, 11, 20, 10, 59))
    assert [t.minute for t in times] == expected


def test_names_are_case_insensitive() -> None:
    assert fires("cron(0 0 1 jan,Jul ? *)", utc(2026, 1, 1), utc(2027, 1, 1)) == [
        utc(2026, 7, 1),
        utc(2027, 1, 1),
    ]
    assert parse_schedule("cron(0 2 ? * sun *)").next_after(utc(2026, 11, 20)) == utc(2026, 11, 22, 2)


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("cron(0 12 1 1 ? 2027-2028)", utc(2026, 6, 1), utc(2027, 1, 1, 12)),
        ("cron(0 12 1 1 ? 2027-2028)", utc(2027, 1, 1, 12), utc(2028, 1, 1, 12)),
        ("cron(0 12 1 1 ? 2027-2028)", utc(2028, 1, 1, 12), None),
        ("cron(0 0 1 1 ? 2030/5)", utc(2030, 1, 1), utc(2035, 1, 1)),
        ("cron(0 0 * * ? 2025)", utc(2026, 1, 1), None),
        ("cron(0 0 1 1 ? *)", utc(2199, 1, 1), None),  # the year field ends at 2199
        ("cron(59 23 31 12 ? *)", utc(2199, 12, 31, 23, 58), utc(2199, 12, 31, 23, 59)),
    ],
)
def test_year_field_limits_fire_times(expression: str, after: datetime, expected: datetime | None) -> None:
    assert parse_schedule(expression).next_after(after) == expected


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (utc(2026, 1, 1), utc(2028, 2, 29)),
        (utc(2024, 2, 29), utc(2028, 2, 29)),
        (utc(2096, 3, 1), utc(2104, 2, 29)),  # 2100 is not a leap year
    ],
)
def test_leap_day(after: datetime, expected: datetime) -> None:
    assert parse_schedule("cron(0 0 29 2 ? *)").next_after(after) == expected


@pytest.mark.parametrize(
    "expression", ["cron(0 0 31 2 ? *)", "cron(0 0 30 2 ? *)", "cron(0 0 31 4,6,9,11 ? *)"]
)
def test_a_cron_that_can_never_fire_returns_none(expression: str) -> None:
    schedule = parse_schedule(expression)
    assert schedule.next_after(utc(1970, 1, 1)) is None
    assert list(schedule.fire_times(utc(2026, 1, 1), utc(2199, 12, 31))) == []


def test_every_minute_for_a_year() -> None:
    times = parse_schedule("cron(* * * * ? *)").fire_times(
        utc(2025, 12, 31, 23, 59), utc(2026, 12, 31, 23, 59)
    )
    count = 0
    previous = utc(2025, 12, 31, 23, 59)
    for t in times:
        assert t - previous == timedelta(minutes=1)
        previous, count = t, count + 1
    assert count == 365 * 24 * 60
    assert previous == utc(2026, 12, 31, 23, 59)


def test_fire_times_over_a_backwards_span_is_empty() -> None:
    assert fires("cron(* * * * ? *)", utc(2026, 11, 20, 12), utc(2026, 11, 20, 11)) == []


def test_other_offsets_are_converted_and_results_are_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    result = parse_schedule("cron(0 10 * * ? *)").next_after(datetime(2026, 11, 20, 11, 30, tzinfo=plus_two))
    assert result == utc(2026, 11, 20, 10)
    assert result is not None
    assert result.tzinfo is UTC


# --- rate() ---------------------------------------------------------------------------------


def test_rate_is_anchored_at_creation_not_at_clock_boundaries() -> None:
    created = utc(2026, 11, 20, 10, 2, second=30)
    first, second, third = (utc(2026, 11, 20, 10, minute, second=30) for minute in (7, 12, 17))
    rate = parse_schedule("rate(5 minutes)")
    assert rate.next_after(created, anchor=created) == first
    assert rate.next_after(first, anchor=created) == second
    assert rate.next_after(utc(2026, 11, 20, 10, 10), anchor=created) == second
    assert rate.next_after(utc(2026, 11, 20, 9), anchor=created) == first  # before creation
    assert list(rate.fire_times(created, utc(2026, 11, 20, 10, 20), anchor=created)) == [first, second, third]


def test_daily_rate_fires_ten_times_in_ten_days() -> None:
    created = utc(2026, 11, 20, 15, 45)
    times = list(
        parse_schedule("rate(1 day)").fire_times(created, created + timedelta(days=10), anchor=created)
    )
    assert times == [created + timedelta(days=n) for n in range(1, 11)]


@pytest.mark.parametrize(
    ("expression", "interval"),
    [
        ("rate(1 minute)", timedelta(minutes=1)),
        ("rate(15 minutes)", timedelta(minutes=15)),
        ("rate(1 hour)", timedelta(hours=1)),
        ("rate(2 hours)", timedelta(hours=2)),
        ("rate(1 day)", timedelta(days=1)),
        ("rate(3 days)", timedelta(days=3)),
    ],
)
def test_rate_units(expression: str, interval: timedelta) -> None:
    assert parse_schedule(expression) == RateExpression(expression=expression, interval=interval)


def test_rate_needs_its_creation_instant() -> None:
    with pytest.raises(ValueError, match="anchor"):
        parse_schedule("rate(5 minutes)").next_after(utc(2026, 11, 20))


# --- Rejections ------------------------------------------------------------------------------


def test_error_message_names_expression_field_and_problem() -> None:
    with pytest.raises(ScheduleSyntaxError) as caught:
        parse_schedule("cron(0 10 1 * MON *)")
    assert str(caught.value) == (
        "cron(0 10 1 * MON *): day-of-week: both day-of-month and day-of-week are specified; one must be ?"
    )
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("cron(0 10 * * ?)", r"fields: expected 6 .* got 5"),
        ("cron(0 0 10 * * ? *)", r"fields: expected 6 .* got 7"),  # a Quartz seconds field
        ("cron(0 10 ? * ? *)", r"day-of-week: .*both \?; exactly one must be \?"),
        ("cron(0 10 * * * *)", r"day-of-week: \* in both day-of-month and day-of-week"),
        ("cron(0 10 1 * MON *)", r"day-of-week: both day-of-month and day-of-week are specified"),
        ("cron(0 10 ? * 3#1,6#3 *)", r"day-of-week: .*only one # expression"),
        ("cron(0 10 ? * 3#1,5 *)", r"day-of-week: .*# expression must stand alone"),
        ("cron(0 10 ? * 3#6 *)", r"day-of-week: .*occurrence after # must be 1-5"),
        ("cron(0 10 ? * 2L,3 *)", r"day-of-week: .*L must stand alone"),
        ("cron(0 10 ? * MON/2 *)", r"day-of-week: .*/ is not allowed"),
        ("cron(0 10 ? * 8 *)", r"day-of-week: 8 is out of range 1-7"),
        ("cron(60 10 * * ? *)", r"minutes: 60 is out of range 0-59"),
        ("cron(0 24 * * ? *)", r"hours: 24 is out of range 0-23"),
        ("cron(0 0 32 * ? *)", r"day-of-month: 32 is out of range 1-31"),
        ("cron(0 0 0 * ? *)", r"day-of-month: 0 is out of range 1-31"),
        ("cron(0 0 32W * ? *)", r"day-of-month: 32 is out of range 1-31"),
        ("cron(0 0 15W,20 * ? *)", r"day-of-month: .*L and W must stand alone"),
        ("cron(0 0 L-2 * ? *)", r"day-of-month: .*L and W must stand alone"),
        ("cron(0 0 1 13 ? *)", r"month: 13 is out of range 1-12"),
        ("cron(0 0 1 MON ? *)", r"month: 'MON' is not a valid value"),
        ("cron(0 0 ? * JAN *)", r"day-of-week: 'JAN' is not a valid value"),
        ("cron(0 0 1 1 ? 1969)", r"year: 1969 is out of range 1970-2199"),
        ("cron(0 0 1 1 ? 2200)", r"year: 2200 is out of range 1970-2199"),
        ("cron(? 0 * * ? *)", r"minutes: \? may only stand alone"),
        ("cron(0 0 ?,1 * ? *)", r"day-of-month: \? may only stand alone"),
        ("cron(0 0 5-1 * ? *)", r"day-of-month: range '5-1' runs backwards"),
        ("cron(0/0 0 * * ? *)", r"minutes: .*increment must be at least 1"),
        ("cron(*-5 0 * * ? *)", r"minutes: .*\* cannot start a range"),
        ("cron(0 0 1,,2 * ? *)", r"day-of-month: cannot parse ''"),
        ("cron(0 0 1 1 ? 20x6)", r"year: '20X6' is not a valid value"),
        ("rate(1 hours)", r"unit: 1 needs 'hour'"),
        ("rate(5 hour)", r"unit: 5 needs 'hours'"),
        ("rate(1 minutes)", r"unit: 1 needs 'minute'"),
        ("rate(0 minutes)", r"value: '0' is not a positive integer"),
        ("rate(-5 minutes)", r"value: '-5' is not a positive integer"),
        ("rate(1.5 hours)", r"value: '1.5' is not a positive integer"),
        ("rate(30 seconds)", r"unit: 'seconds' is not one of"),
        ("rate(2 weeks)", r"unit: 'weeks' is not one of"),
        ("rate(5 Minutes)", r"unit: 'Minutes' is not one of"),  # units are lowercase, as documented
        ("rate(5)", r"rate: expected 'value unit'"),
        ("every(5 minutes)", r"expected cron\(\.\.\.\) or rate\(\.\.\.\)"),
        ("at(2026-11-20T10:00:00)", r"expected cron\(\.\.\.\) or rate\(\.\.\.\)"),
        ("0 10 * * ? *", r"expected cron\(\.\.\.\) or rate\(\.\.\.\)"),
        ("", r"expected cron\(\.\.\.\) or rate\(\.\.\.\)"),
    ],
)
def test_invalid_expressions_are_rejected(expression: str, message: str) -> None:
    with pytest.raises(ScheduleSyntaxError, match=message):
        parse_schedule(expression)


naive = datetime(2026, 11, 20, 10)  # deliberately naive


@pytest.mark.parametrize(
    "call",
    [
        lambda: parse_schedule("cron(0 0 * * ? *)").next_after(naive),
        lambda: parse_schedule("cron(0 0 * * ? *)").fire_times(naive, utc(2026, 11, 30)),
        lambda: parse_schedule("cron(0 0 * * ? *)").fire_times(utc(2026, 11, 1), naive),
        lambda: parse_schedule("rate(5 minutes)").next_after(naive, anchor=utc(2026, 11, 20)),
        lambda: parse_schedule("rate(5 minutes)").next_after(utc(2026, 11, 20), anchor=naive),
    ],
    ids=["cron-instant", "fire-times-start", "fire-times-end", "rate-instant", "rate-anchor"],
)
def test_naive_datetimes_are_rejected_when_called(call: Callable[[], object]) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        call()
