"""The process clock.

Domain code never calls ``datetime.now()``: it asks this module, so tests and the local runner
can freeze or advance time and a score read "a month later" is a parameter, not a wait.
In Lambda the installed clock is the system clock.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to; safe to share between threads."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("instant must be timezone-aware")
        with self._lock:
            self._now = instant.astimezone(UTC)

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now += delta
            return self._now


_installed: Clock = SystemClock()


def now() -> datetime:
    return _installed.now()


def install(clock: Clock) -> Clock:
    """Replace the process clock; returns the previous one so callers can restore it."""
    global _installed
    previous, _installed = _installed, clock
    return previous
