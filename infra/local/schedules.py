"""EventBridge scheduled-rule expressions, evaluated exactly as AWS documents them.

Existing local tools convert ``cron(...)`` to five-field Unix cron and lose the year field, the
``?``/``L``/``W``/``#`` wildcards and AWS day-of-week numbering, or anchor ``rate(...)`` to clock
boundaries. The runner's virtual clock asks this module "which fire times lie in (start, end]?",
so advancing the clock by ten days fires a daily rule exactly ten times, at the right instants.

Everything is UTC: scheduled rules have no time-zone setting. Neither grammar can express more
than one firing a minute (cron has no seconds field, a seven-field cron is rejected, and the
smallest rate is ``rate(1 minute)``), which is the documented limit.
"""

from __future__ import annotations

import calendar
import dataclasses
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import count, takewhile
from typing import Literal

__all__ = [
    "CronExpression",
    "DaySelector",
    "RateExpression",
    "ScheduleExpression",
    "ScheduleSyntaxError",
    "parse_schedule",
]


class ScheduleSyntaxError(ValueError):
    """An expression EventBridge would refuse; the message names the field and the problem."""


class _Invalid(Exception):
    def __init__(self, field: str, problem: str) -> None:
        super().__init__(problem)
        self.field = field
        self.problem = problem


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # names[i] stands for low + i


_MINUTES = _Field("minutes", 0, 59)
_HOURS = _Field("hours", 0, 23)
_DAY_OF_MONTH = _Field("day-of-month", 1, 31)
_MONTH = _Field(
    "month", 1, 12, ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
)
# AWS numbers the week SUN=1 .. SAT=7 (as Quartz and java.util.Calendar do), where Unix cron uses
# SUN=0 .. SAT=6. Translating to Unix cron without remapping shifts every weekday rule by a day.
_DAY_OF_WEEK = _Field("day-of-week", 1, 7, ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))
_YEAR = _Field("year", 1970, 2199)

_ITEM = re.compile(r"(\*|[A-Z0-9]+)(?:-([A-Z0-9]+))?(?:/([0-9]+))?")


def _value(token: str, field: _Field) -> int:
    if token.isdigit():
        number = int(token)
    elif token in field.names:
        number = field.low + field.names.index(token)
    else:
        raise _Invalid(field.name, f"{token!r} is not a valid value")
    if not field.low <= number <= field.high:
        raise _Invalid(field.name, f"{number} is out of range {field.low}-{field.high}")
    return number


def _values(text: str, field: _Field) -> tuple[int, ...]:
    """Expand the ``, - * /`` grammar shared by every field into the sorted matching values."""
    if "?" in text:
        raise _Invalid(field.name, "? may only stand alone, in day-of-month or day-of-week")
    chosen: set[int] = set()
    for item in text.split(","):
        match = _ITEM.fullmatch(item)
        if match is None:
            raise _Invalid(field.name, f"cannot parse {item!r}")
        start, end, step = match.groups()
        if start == "*":
            if end is not None:
                raise _Invalid(field.name, f"{item!r}: * cannot start a range")
            low, high = field.low, field.high
        else:
            low = _value(start, field)
            # "a/n" means "from a to the end of the field, every n" (0/15 = 0, 15, 30, 45).
            high = _value(end, field) if end else (field.high if step else low)
        if low > high:
            raise _Invalid(field.name, f"range {item!r} runs backwards; list the values instead")
        increment = int(step) if step else 1
        if increment < 1:
            raise _Invalid(field.name, f"{item!r}: the increment must be at least 1")
        chosen.update(range(low, high + 1, increment))
    return tuple(sorted(chosen))


def _aws_weekday(year: int, month: int, day: int) -> int:
    """The AWS day-of-week number (SUN=1 .. SAT=7) of a date; Python counts MON=0 .. SUN=6."""
    return (date(year, month, day).weekday() + 1) % 7 + 1


def _nearest_weekday(year: int, month: int, day: int, last: int) -> int:
    """``W``: the Monday-Friday day closest to ``day`` without leaving the month."""
    weekday = _aws_weekday(year, month, day)
    if weekday == 7:  # Saturday: the Friday before, unless that is last month
        return day - 1 if day > 1 else day + 2
    if weekday == 1:  # Sunday: the Monday after, unless that is next month
        return day + 1 if day < last else day - 2
    return day


DayKind = Literal["days", "weekdays", "last", "last-weekday", "nearest-weekday", "last-of", "nth"]


@dataclass(frozen=True)
class DaySelector:
    """The days of a month on which a cron fires, from whichever day field is not ``?``.

    ``values`` holds days of the month for ``days`` and ``nearest-weekday`` and AWS weekday
    numbers for ``weekdays``, ``last-of`` (``5L``) and ``nth`` (``3#2``, with ``nth`` = 2).
    """

    kind: DayKind
    values: tuple[int, ...] = ()
    nth: int = 0

    def days_in(self, year: int, month: int) -> list[int]:
        last = calendar.monthrange(year, month)[1]
        if self.kind == "days":
            return [day for day in self.values if day <= last]
        if self.kind == "weekdays":
            return [d for d in range(1, last + 1) if _aws_weekday(year, month, d) in self.values]
        day = self._single_day(year, month, last)
        return [day] if day <= last else []

    def _single_day(self, year: int, month: int, last: int) -> int:
        """The one day the other kinds pick; a day past ``last`` means "not this month"."""
        match self.kind:
            case "last":
                return last
            case "last-weekday":
                return _nearest_weekday(year, month, last, last)
            case "nearest-weekday":  # "31W" is silent in a 30-day month, as plain "31" is
                day = self.values[0]
                return _nearest_weekday(year, month, day, last) if day <= last else day
            case "last-of":
                return last - (_aws_weekday(year, month, last) - self.values[0]) % 7
            case _:  # "nth": 5#5 is silent in a month with four Thursdays
                first = 1 + (self.values[0] - _aws_weekday(year, month, 1)) % 7
                return first + 7 * (self.nth - 1)


def _day_of_month(text: str) -> DaySelector:
    if text == "L":
        return DaySelector("last")
    if text == "LW":
        return DaySelector("last-weekday")
    if match := re.fullmatch(r"([0-9]+)W", text):
        return DaySelector("nearest-weekday", (_value(match[1], _DAY_OF_MONTH),))
    if "L" in text or "W" in text:
        raise _Invalid(_DAY_OF_MONTH.name, f"{text!r}: L and W must stand alone (L, LW or nW)")
    return DaySelector("days", _values(text, _DAY_OF_MONTH))


def _day_of_week(text: str) -> DaySelector:
    name = _DAY_OF_WEEK.name
    if "/" in text:  # the documented wildcards for this field are , - * ? L #
        raise _Invalid(name, f"{text!r}: / is not allowed in day-of-week")
    if text.count("#") > 1:
        raise _Invalid(name, f"{text!r}: only one # expression is allowed per field")
    if match := re.fullmatch(r"([A-Z0-9]+)#([0-9]+)", text):
        nth = int(match[2])
        if not 1 <= nth <= 5:
            raise _Invalid(name, f"{text!r}: the occurrence after # must be 1-5")
        return DaySelector("nth", (_value(match[1], _DAY_OF_WEEK),), nth)
    if "#" in text:
        raise _Invalid(name, f"{text!r}: a # expression must stand alone")
    if text == "L":  # "last day of the week": Saturday, since the week runs SUN=1 .. SAT=7
        return DaySelector("weekdays", (7,))
    if match := re.fullmatch(r"([A-Z0-9]+)L", text):
        return DaySelector("last-of", (_value(match[1], _DAY_OF_WEEK),))
    if "L" in text:
        raise _Invalid(name, f"{text!r}: L must stand alone (L or nL)")
    return DaySelector("weekdays", _values(text, _DAY_OF_WEEK))


def _days(day_of_month: str, day_of_week: str) -> DaySelector:
    """AWS lets exactly one day field choose days; the other must be ``?`` (``*`` in both is refused)."""
    field = _DAY_OF_WEEK.name
    if day_of_month == "?" and day_of_week == "?":
        raise _Invalid(field, "day-of-month and day-of-week are both ?; exactly one must be ?")
    if day_of_month == "*" and day_of_week == "*":
        raise _Invalid(field, "* in both day-of-month and day-of-week is not allowed; one must be ?")
    if day_of_month != "?" and day_of_week != "?":
        raise _Invalid(field, "both day-of-month and day-of-week are specified; one must be ?")
    return _day_of_week(day_of_week) if day_of_month == "?" else _day_of_month(day_of_month)


def _utc(instant: datetime, name: str) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got naive {instant.isoformat()}")
    return instant.astimezone(UTC)


class ScheduleExpression(ABC):
    """A parsed ``cron(...)`` or ``rate(...)``; every datetime in and out is aware, results are UTC."""

    expression: str

    def next_after(self, instant: datetime, *, anchor: datetime | None = None) -> datetime | None:
        """The first fire time strictly after ``instant``, or None if the schedule is exhausted.

        ``anchor`` is the rule's creation instant: required by rate schedules, ignored by cron.
        """
        return next(self._times_after(_utc(instant, "instant"), anchor), None)

    def fire_times(
        self, start: datetime, end: datetime, *, anchor: datetime | None = None
    ) -> Iterator[datetime]:
        """Every fire time t with start < t <= end, in order: what a clock moving from start to end
        passes over. Arguments are checked now, not when iteration begins."""
        until = _utc(end, "end")
        return takewhile(lambda t: t <= until, self._times_after(_utc(start, "start"), anchor))

    @abstractmethod
    def _times_after(self, instant: datetime, anchor: datetime | None) -> Iterator[datetime]:
        """All fire times strictly after the (UTC) ``instant``, in order."""


@dataclass(frozen=True)
class CronExpression(ScheduleExpression):
    """A cron rule with each field expanded to its values; repr shows only the expression."""

    expression: str
    minutes: tuple[int, ...] = dataclasses.field(repr=False)
    hours: tuple[int, ...] = dataclasses.field(repr=False)
    days: DaySelector = dataclasses.field(repr=False)
    months: tuple[int, ...] = dataclasses.field(repr=False)
    years: tuple[int, ...] = dataclasses.field(repr=False)

    def _times_after(self, instant: datetime, anchor: datetime | None) -> Iterator[datetime]:
        # Walk the fields from the year down, pruning every branch that ends before the first
        # candidate minute: sparse rules (29 February) cost a few steps per year, rules that can
        # never fire (31 February) stop when the year field ends, at 2199 at the latest.
        first = instant.replace(second=0, microsecond=0) + timedelta(minutes=1)
        floor = (first.year, first.month, first.day, first.hour, first.minute)
        for year in self.years:
            if year < floor[0]:
                continue
            for month in self.months:
                if (year, month) < floor[:2]:
                    continue
                for day in self.days.days_in(year, month):
                    if (year, month, day) < floor[:3]:
                        continue
                    for hour in self.hours:
                        if (year, month, day, hour) < floor[:4]:
                            continue
                        for minute in self.minutes:
                            if (year, month, day, hour, minute) >= floor:
                                yield datetime(year, month, day, hour, minute, tzinfo=UTC)


_RATE_UNITS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}


@dataclass(frozen=True)
class RateExpression(ScheduleExpression):
    """Fires every ``interval`` counted from the rule's creation, not from clock boundaries: a
    ``rate(5 minutes)`` created at 10:02:30 fires at 10:07:30, 10:12:30, ..."""

    expression: str
    interval: timedelta

    def _times_after(self, instant: datetime, anchor: datetime | None) -> Iterator[datetime]:
        if anchor is None:
            raise ValueError(f"{self.expression}: a rate schedule needs anchor= (its creation instant)")
        origin = _utc(anchor, "anchor")
        first = max(1, (instant - origin) // self.interval + 1)
        return (origin + n * self.interval for n in count(first))


def _cron(expression: str, body: str) -> CronExpression:
    fields = body.upper().split()
    if len(fields) != 6:
        raise _Invalid(
            "fields", f"expected 6 (minutes hours day-of-month month day-of-week year), got {len(fields)}"
        )
    minutes, hours, day_of_month, month, day_of_week, year = fields
    return CronExpression(
        expression=expression,
        minutes=_values(minutes, _MINUTES),
        hours=_values(hours, _HOURS),
        days=_days(day_of_month, day_of_week),
        months=_values(month, _MONTH),
        years=_values(year, _YEAR),
    )


def _rate(expression: str, body: str) -> RateExpression:
    parts = body.split()
    if len(parts) != 2:
        raise _Invalid("rate", "expected 'value unit', e.g. rate(5 minutes)")
    value, unit = parts
    if not re.fullmatch(r"[0-9]+", value) or int(value) < 1:
        raise _Invalid("value", f"{value!r} is not a positive integer")
    singular = unit.removesuffix("s")
    if singular not in _RATE_UNITS:
        raise _Invalid("unit", f"{unit!r} is not one of minute(s), hour(s), day(s)")
    if (int(value) == 1) != (unit == singular):
        wanted = singular if int(value) == 1 else f"{singular}s"
        raise _Invalid("unit", f"{value} needs {wanted!r}: the unit is singular exactly when the value is 1")
    return RateExpression(expression=expression, interval=int(value) * _RATE_UNITS[singular])


def parse_schedule(expression: str) -> ScheduleExpression:
    """Parse a scheduled rule's ``ScheduleExpression``; raise ScheduleSyntaxError where AWS would."""
    text = expression.strip()
    try:
        if match := re.fullmatch(r"cron\(([^()]*)\)", text):
            return _cron(text, match[1])
        if match := re.fullmatch(r"rate\(([^()]*)\)", text):
            return _rate(text, match[1])
    except _Invalid as invalid:
        raise ScheduleSyntaxError(f"{text}: {invalid.field}: {invalid.problem}") from None
    raise ScheduleSyntaxError(f"{expression!r}: expected cron(...) or rate(...)")
