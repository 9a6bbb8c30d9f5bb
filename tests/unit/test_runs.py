"""The run machinery: run identity, segment tasks, pacing, and the work loop's checkpoints."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from engagement.domain.errors import StoreError
from engagement.domain.runs import (
    Checkpoint,
    Pacing,
    RunId,
    ScanPage,
    SegmentTask,
    Tally,
    TokenBucket,
    plan,
    summarize,
    work_segment,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class ListScanner:
    """A segment of ``size`` numbered items, served ``limit`` at a time (cursor: next index)."""

    def __init__(self, size: int, *, throttle_first: int = 0) -> None:
        self.size, self.throttles_left, self.calls = size, throttle_first, 0

    def scan_segment(
        self, segment: int, segments: int, *, cursor: Mapping[str, Any] | None, limit: int
    ) -> ScanPage[int]:
        self.calls += 1
        if self.throttles_left:
            self.throttles_left -= 1
            raise StoreError("DynamoDB ProvisionedThroughputExceededException while scanning", retryable=True)
        start = int(cursor["next"]) if cursor else 0
        end = min(self.size, start + limit)
        return ScanPage(list(range(start, end)), None if end >= self.size else {"next": end}, read_units=2.0)


class MemoryCheckpoints:
    def __init__(self) -> None:
        self.saved: dict[tuple[str, int], Checkpoint] = {}

    def load(self, run: RunId, segment: int) -> Checkpoint | None:
        return self.saved.get((str(run), segment))

    def save(self, run: RunId, segment: int, checkpoint: Checkpoint) -> bool:
        stored = self.saved.get((str(run), segment))
        if stored is not None and stored.pages >= checkpoint.pages:
            return False
        self.saved[(str(run), segment)] = checkpoint
        return True

    def all(self, run: RunId) -> list[Checkpoint]:
        return [c for (r, _), c in self.saved.items() if r == str(run)]


RUN = RunId.of("decay", "2026-11-21T00:00:00Z")
TASK = SegmentTask(RUN, 0, 1)


def counting(items: Sequence[int], pace: Any) -> Tally:
    for _ in items:
        pace()
    return Tally(examined=len(items), written=len(items))


def unpaced() -> Pacing:
    clock = FakeClock()
    return Pacing(
        writes=TokenBucket(1e9, monotonic=clock.monotonic, sleep=clock.sleep),
        reads=TokenBucket(1e9, monotonic=clock.monotonic, sleep=clock.sleep),
    )


def work(scanner: ListScanner, checkpoints: MemoryCheckpoints, pages: int, **kwargs: Any) -> Checkpoint:
    budget = iter(range(pages, -1, -1))
    return work_segment(
        TASK,
        scanner=scanner,
        checkpoints=checkpoints,
        process=kwargs.pop("process", counting),
        page_size=10,
        pacing=kwargs.pop("pacing", unpaced()),
        time_left_s=lambda: next(budget),
        sleep=kwargs.pop("sleep", lambda _: None),
    )


def test_a_run_is_named_by_its_job_and_scheduled_instant() -> None:
    assert str(RUN) == "decay@2026-11-21T00:00:00Z"
    assert RunId.of("decay", "2026-11-21T01:00:00+01:00") == RUN  # the same instant, another offset


def test_a_task_round_trips_through_the_orchestrations_json() -> None:
    tasks = plan(RUN, 4)
    assert [t.segment for t in tasks] == [0, 1, 2, 3]
    assert SegmentTask.from_event(tasks[2].as_event()) == tasks[2]
    with pytest.raises(ValueError, match="not within"):
        SegmentTask.from_event({**tasks[0].as_event(), "segment": 4})


def test_work_stops_between_pages_and_resumes_where_it_stopped() -> None:
    scanner, checkpoints = ListScanner(35), MemoryCheckpoints()
    first = work(scanner, checkpoints, pages=2)
    assert (first.done, first.pages, first.tally.examined) == (False, 2, 20)
    second = work(scanner, checkpoints, pages=10)
    assert (second.done, second.pages, second.tally.examined) == (True, 4, 35)
    assert scanner.calls == 4  # no page read twice
    assert work(scanner, checkpoints, pages=10) == second  # done: nothing more is read
    assert scanner.calls == 4


def test_a_throttled_page_is_retried_with_backoff_and_counted() -> None:
    scanner, slept = ListScanner(5, throttle_first=2), []
    done = work(scanner, MemoryCheckpoints(), pages=5, sleep=slept.append)
    assert done.done
    assert done.tally.throttled == 2
    assert slept == [0.2, 0.5]


def test_persistent_throttling_fails_the_step_for_the_orchestration_to_retry() -> None:
    scanner, checkpoints = ListScanner(5, throttle_first=100), MemoryCheckpoints()
    with pytest.raises(StoreError):
        work(scanner, checkpoints, pages=5)
    assert checkpoints.load(RUN, 0) is None


def test_an_invocation_that_fell_behind_stops_instead_of_moving_the_checkpoint_back() -> None:
    scanner, checkpoints = ListScanner(50), MemoryCheckpoints()
    work(scanner, checkpoints, pages=3)
    checkpoints.saved[(str(RUN), 0)] = Checkpoint(cursor={"next": 40}, pages=9, done=False)  # a faster twin
    stale = MemoryCheckpoints()
    stale.saved = dict(checkpoints.saved)
    stale.saved[(str(RUN), 0)] = Checkpoint(cursor={"next": 30}, pages=3, done=False)

    class Racing(MemoryCheckpoints):
        def load(self, run: RunId, segment: int) -> Checkpoint | None:
            return stale.load(run, segment) if not hasattr(self, "loaded") else checkpoints.load(run, segment)

        def save(self, run: RunId, segment: int, checkpoint: Checkpoint) -> bool:
            self.loaded = True
            return checkpoints.save(run, segment, checkpoint)

    result = work(scanner, Racing(), pages=10)
    assert result.pages == 9  # it handed over to the one ahead
    assert checkpoints.load(RUN, 0) == Checkpoint(cursor={"next": 40}, pages=9, done=False)


def test_writes_are_paced_to_the_workers_share_of_the_rate() -> None:
    clock = FakeClock()
    pacing = Pacing(
        writes=TokenBucket(50, monotonic=clock.monotonic, sleep=clock.sleep),  # 200/s shared by 4
        reads=TokenBucket(1e9, monotonic=clock.monotonic, sleep=clock.sleep),
    )
    work(ListScanner(250), MemoryCheckpoints(), pages=100, pacing=pacing)
    # 250 writes at 50/s with a one-second burst: about (250 - 50) / 50 = 4 s of waiting.
    assert sum(clock.slept) == pytest.approx(4.0, abs=0.1)


def test_a_share_divides_the_jobs_rates_among_concurrent_segments() -> None:
    pacing = Pacing.share(write_rate=1000, read_rate=2000, concurrency=4)
    assert (pacing.writes.rate, pacing.reads.rate) == (250, 500)


def test_a_run_is_complete_when_every_segment_is_done() -> None:
    done = Checkpoint(cursor=None, pages=2, done=True, tally=Tally(examined=3, written=1))
    half = Checkpoint(cursor={"next": 1}, pages=1, done=False, tally=Tally(examined=2))
    total, complete = summarize([done, done], 2)
    assert (total.examined, total.written, complete) == (6, 2, True)
    assert summarize([done, half], 2)[1] is False
    assert summarize([done], 2)[1] is False  # a segment never started


def test_a_tally_survives_its_stored_form() -> None:
    tally = Tally(examined=5, written=2, read_units=1.5, throttled=1)
    assert Tally.from_dict({**tally.as_dict(), "unknown": 3}) == tally
