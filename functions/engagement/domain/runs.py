"""Scheduled jobs at any size: runs cut into scan segments, worked page by page with checkpoints.

A run is identified by its job and scheduled instant (EventBridge's ``time``, the same on every
retry), never by the wall clock, so a repeated run finds its own checkpoints and a late run
computes the values for the instant it stands for. Work on a segment is a loop over pages of a
parallel scan: each page is processed (every item write idempotent at the run's instant), then
the checkpoint moves past it. An invocation stops between two pages when its time budget runs
out; the orchestration invokes it again and it resumes from the checkpoint, redoing at most the
page it was in (whose writes are no-ops the second time).

Pacing: reads and writes go through token buckets sized to the job's share of the table's
capacity, so a run over a hundred million items stretches out instead of throttling live
traffic.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from engagement.domain.errors import StoreError
from engagement.domain.timefmt import from_ms, parse_rfc3339, rfc3339, to_ms

_Item = TypeVar("_Item")

THROTTLE_BACKOFF_S = (0.2, 0.5, 1.0, 2.0, 5.0)
"""Pauses before retrying a page the store refused as throttled; then the invocation fails and
the orchestration's retry (with its own backoff) takes over from the checkpoint."""


@dataclass(frozen=True)
class RunId:
    job: str
    at_ms: int
    """The scheduled instant the run stands for."""

    @property
    def at(self) -> datetime:
        return from_ms(self.at_ms)

    @classmethod
    def of(cls, job: str, time: str) -> RunId:
        return cls(job, to_ms(parse_rfc3339(time)))

    def __str__(self) -> str:
        return f"{self.job}@{rfc3339(self.at)}"


@dataclass
class Tally:
    """What a run did, summed over pages, segments and invocations."""

    examined: int = 0
    written: int = 0
    """Item writes (a band, a percentile move, a history stretch, a schedule, an expiry)."""
    unchanged: int = 0
    """Items whose stored value already equals the function's: not written."""
    already_done: int = 0
    """Items this run (or a later one) already brought up to date."""
    deleted: int = 0
    raced: int = 0
    """Writes refused because an event reached the item between the read and the write."""
    stretches: int = 0
    """History stretches recorded: contacts the daily run saw for the first time since events."""
    scheduled: int = 0
    """Contacts given their next due instant."""
    expiries: int = 0
    """Engagements given their expiry by the one-time sweep (the scorer sets the others')."""
    percentile_moves: int = 0
    band_changes: int = 0
    published: int = 0
    throttled: int = 0
    pages: int = 0
    read_units: float = 0.0

    def add(self, other: Tally) -> Tally:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        return self

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Tally:
        tally = cls()
        for f in fields(cls):
            if f.name in data:
                setattr(tally, f.name, float(data[f.name]) if f.name == "read_units" else int(data[f.name]))
        return tally


@dataclass(frozen=True)
class SegmentTask:
    """What the orchestration hands each work step: which run, which segment of how many."""

    run: RunId
    segment: int
    segments: int

    def as_event(self) -> dict[str, Any]:
        return {
            "step": "work",
            "job": self.run.job,
            "time": rfc3339(self.run.at),
            "segment": self.segment,
            "segments": self.segments,
        }

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> SegmentTask:
        segment, segments = int(event["segment"]), int(event["segments"])
        if not 0 <= segment < segments:
            raise ValueError(f"segment {segment} is not within 0..{segments - 1}")
        return cls(RunId.of(str(event["job"]), str(event["time"])), segment, segments)


def plan(run: RunId, segments: int) -> list[SegmentTask]:
    return [SegmentTask(run, n, segments) for n in range(segments)]


@dataclass(frozen=True)
class Checkpoint:
    cursor: Mapping[str, Any] | None
    """Where the next page starts (DynamoDB's LastEvaluatedKey); None at the segment's start."""
    pages: int
    done: bool
    tally: Tally = field(default_factory=Tally)


class CheckpointStore(Protocol):
    def load(self, run: RunId, segment: int) -> Checkpoint | None: ...

    def save(self, run: RunId, segment: int, checkpoint: Checkpoint) -> bool:
        """Store unless a checkpoint with as many pages or more is stored (another invocation of
        the same segment got further: this one must stop). Returns whether it was stored."""
        ...

    def all(self, run: RunId) -> list[Checkpoint]: ...


@dataclass(frozen=True)
class ScanPage(Generic[_Item]):
    items: Sequence[_Item]
    cursor: Mapping[str, Any] | None
    read_units: float


class Scanner(Protocol[_Item]):
    def scan_segment(
        self, segment: int, segments: int, *, cursor: Mapping[str, Any] | None, limit: int
    ) -> ScanPage[_Item]: ...


class TokenBucket:
    """At most ``rate`` units per second on average, bursts up to one second's worth."""

    def __init__(
        self,
        rate: float,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self._monotonic, self._sleep = monotonic, sleep
        self._tokens = rate
        self._last = monotonic()

    def take(self, units: float = 1.0) -> None:
        """Wait until ``units`` are available (a debt larger than the burst waits it off)."""
        now = self._monotonic()
        self._tokens = min(self.rate, self._tokens + (now - self._last) * self.rate)
        self._last = now
        self._tokens -= units
        if self._tokens < 0:
            self._sleep(-self._tokens / self.rate)


@dataclass(frozen=True)
class Pacing:
    writes: TokenBucket
    reads: TokenBucket

    @classmethod
    def share(cls, *, write_rate: float, read_rate: float, concurrency: int) -> Pacing:
        """One worker's share of the job's rates (the segments run ``concurrency`` at a time)."""
        return cls(writes=TokenBucket(write_rate / concurrency), reads=TokenBucket(read_rate / concurrency))


Process = Callable[[Sequence[_Item], Callable[[], None]], Tally]
"""Processes one page; calls the given pace() before each write it makes."""


def work_segment(
    task: SegmentTask,
    *,
    scanner: Scanner[_Item],
    checkpoints: CheckpointStore,
    process: Process[_Item],
    page_size: int,
    pacing: Pacing,
    time_left_s: Callable[[], float],
    sleep: Callable[[float], None] = time.sleep,
) -> Checkpoint:
    """Work on the segment from its checkpoint until it is done or ``time_left_s`` says stop.

    Returns the checkpoint as it stands (``done`` tells the orchestration whether to come back).
    """
    checkpoint = checkpoints.load(task.run, task.segment) or Checkpoint(cursor=None, pages=0, done=False)
    while not checkpoint.done and time_left_s() > 0:
        page, throttled = _scan(scanner, task, checkpoint, page_size, sleep)
        pacing.reads.take(page.read_units)
        tally = process(page.items, pacing.writes.take)
        tally.pages, tally.read_units, tally.throttled = 1, page.read_units, tally.throttled + throttled
        following = Checkpoint(
            cursor=page.cursor,
            pages=checkpoint.pages + 1,
            done=page.cursor is None,
            tally=Tally().add(checkpoint.tally).add(tally),
        )
        if not checkpoints.save(task.run, task.segment, following):
            # Another invocation of this segment is ahead (an orchestration retry overlapping a
            # slow one): it owns the segment now.
            return checkpoints.load(task.run, task.segment) or following
        checkpoint = following
    return checkpoint


def _scan(
    scanner: Scanner[_Item],
    task: SegmentTask,
    checkpoint: Checkpoint,
    page_size: int,
    sleep: Callable[[float], None],
) -> tuple[ScanPage[_Item], int]:
    throttled = 0
    for pause in (*THROTTLE_BACKOFF_S, None):
        try:
            page = scanner.scan_segment(
                task.segment, task.segments, cursor=checkpoint.cursor, limit=page_size
            )
            return page, throttled
        except StoreError as exc:
            if not exc.retryable or pause is None:
                raise
            throttled += 1
            sleep(pause)
    raise AssertionError("unreachable")


def summarize(checkpoints: Sequence[Checkpoint], segments: int) -> tuple[Tally, bool]:
    """The run's tally, and whether every segment is done."""
    total = Tally()
    for checkpoint in checkpoints:
        total.add(checkpoint.tally)
    complete = len(checkpoints) == segments and all(c.done for c in checkpoints)
    return total, complete
