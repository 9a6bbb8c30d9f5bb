"""The runner's clock: wall time plus an offset that can be moved forward (or set).

Installed as the process clock, so handlers, the stream pump and the scheduler all agree on
"now"; advancing it by a day is how a developer sees tomorrow's decay run in a second.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


class RunnerClock:
    def __init__(self, start: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._offset = timedelta(0) if start is None else start.astimezone(UTC) - datetime.now(UTC)
        self.on_move: Callable[[datetime], None] | None = None
        """Called (outside the lock) after every advance or set, with the new "now": the runner
        makes it durable, so a restart never puts the clock back."""

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def from_wall(self, wall: datetime) -> datetime:
        """A wall-clock instant (as moto stamps stream records) on this clock."""
        with self._lock:
            return wall.astimezone(UTC) + self._offset

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += delta
            moved = datetime.now(UTC) + self._offset
        if self.on_move is not None:
            self.on_move(moved)
        return moved

    def set(self, instant: datetime) -> datetime:
        if instant.tzinfo is None:
            raise ValueError("instant must be timezone-aware")
        with self._lock:
            self._offset = instant.astimezone(UTC) - datetime.now(UTC)
        if self.on_move is not None:
            self.on_move(instant.astimezone(UTC))
        return instant.astimezone(UTC)
