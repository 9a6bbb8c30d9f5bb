"""Decay and cleanup on a real table: exact agreement with read-time scores, zero writes on a
repeated run, catch-up after missed days, resumption mid-segment, and the cleanup rules."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from engagement import deps
from engagement.domain.aggregates import AggregateDelta, AggregateKey, ObservedEvent
from engagement.domain.clock import ManualClock
from engagement.domain.events import EventType
from engagement.domain.linear import LINEAR
from engagement.domain.maintenance import DecayPage, MaintainedItem
from engagement.domain.runs import Pacing, RunId, SegmentTask, Tally, work_segment
from engagement.domain.timefmt import rfc3339, to_ms
from engagement.domain.upkeep import Upkeep
from engagement.topology import TOPOLOGY
from infra.local.buses import drain
from infra.local.lambdas import load_functions

from .api import call
from .helpers import run_job

RUN = datetime(2026, 11, 21, tzinfo=UTC)
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


def engage(item: str, last: datetime, count: int = 1, *, user: str = "u1") -> AggregateKey:
    key = AggregateKey(user, item)
    events = tuple(
        ObservedEvent(
            f"{user}-{item}-{to_ms(last)}-{n}",
            user,
            item,
            EventType.QUERY,
            to_ms(last),
            None,
            int(last.timestamp()),
        )
        for n in range(count)
    )
    deps.store().apply(AggregateDelta(key, events))
    deps.store().apply(AggregateDelta(AggregateKey(user), events))
    return key


@contextmanager
def counting_writes() -> Iterator[Counter[str]]:
    """DynamoDB write requests per table while the block runs (the store's client, shared by
    every function in this process)."""
    counts: Counter[str] = Counter()
    with recording_writes() as writes:
        yield counts
        counts.update(table for table, _ in writes)


@contextmanager
def recording_writes() -> Iterator[list[tuple[str, str]]]:
    """(table, the request's content) of every DynamoDB write request while the block runs."""
    writes: list[tuple[str, str]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name == "TransactWriteItems":
            for entry in params["TransactItems"]:
                ((_, request),) = entry.items()
                writes.append((str(request["TableName"]), json.dumps(request, sort_keys=True, default=str)))
        elif model.name in WRITES:
            writes.append((str(params["TableName"]), json.dumps(params, sort_keys=True, default=str)))

    events = deps.store().client.meta.events
    events.register("before-parameter-build.dynamodb", record)
    try:
        yield writes
    finally:
        events.unregister("before-parameter-build.dynamodb", record)


def materialized(key: AggregateKey) -> tuple[float | None, int | None]:
    aggregate = deps.store().get_aggregate(key)
    assert aggregate is not None
    return aggregate.materialized_score, aggregate.materialized_at_ms


@pytest.fixture(autouse=True)
def frozen(clock: ManualClock) -> ManualClock:
    clock.set(RUN + timedelta(minutes=5))  # the run starts a little after its scheduled time
    return clock


def test_decay_writes_exactly_what_the_api_reads_at_the_scheduled_instant(tables: dict[str, str]) -> None:
    keys = [
        engage("AI-1", RUN - timedelta(days=7), count=2),
        engage("AI-2", RUN - timedelta(days=40), count=6),  # idle beyond 30: the 0.9 factor applies
        engage("AI-3", RUN - timedelta(hours=5)),
    ]
    summary = run_job("decay", RUN)
    assert summary["complete"] is True
    assert summary["run_at"] == "2026-11-21T00:00:00Z"
    for key in keys:
        score, at_ms = materialized(key)
        read = call("GET", f"/v1/users/u1/engagements/{key.item_id}?as_of=2026-11-21T00:00:00Z").body
        assert score == read["score"]
        assert at_ms == to_ms(RUN)
    idle = call("GET", "/v1/users/u1/engagements/AI-2?as_of=2026-11-21T00:00:00Z").body
    assert idle["components"]["idle_factor"] == pytest.approx(0.9**10, abs=1e-6)


def test_the_same_run_again_writes_nothing(tables: dict[str, str]) -> None:
    engage("AI-1", RUN - timedelta(days=3))
    engage("AI-2", RUN - timedelta(days=40))
    first = run_job("decay", RUN)
    assert first["written"] >= 3  # two engagements and the contact's history point
    with counting_writes() as writes:
        again = run_job("decay", RUN)
    assert again["repeat"] is True
    assert sum(writes.values()) == 0


def test_the_same_run_writes_nothing_even_after_its_checkpoints_expired(tables: dict[str, str]) -> None:
    engage("AI-1", RUN - timedelta(days=3))
    run_job("decay", RUN)
    runs = boto3.client("dynamodb")
    for item in runs.scan(TableName=tables["runs"])["Items"]:
        runs.delete_item(TableName=tables["runs"], Key={"pk": item["pk"], "sk": item["sk"]})
    with counting_writes() as writes:
        again = run_job("decay", RUN)
    assert again["already_done"] == 2  # the engagement and the contact, each done at this instant
    assert writes[tables["aggregates"]] == 0
    assert writes[tables["history"]] == 0


def test_missed_days_are_caught_up_exactly_by_the_next_run(tables: dict[str, str]) -> None:
    key = engage("AI-1", RUN - timedelta(days=35), count=3)
    run_job("decay", RUN)
    late = RUN + timedelta(days=3)  # the runs of days 1 and 2 never happened
    run_job("decay", late)
    score, at_ms = materialized(key)
    expected = LINEAR.evaluate(3, to_ms(RUN - timedelta(days=35)), late)
    assert at_ms == to_ms(late)
    assert score == round(expected.score, 6)
    assert expected.idle_factor == pytest.approx(0.9**8)  # 38 days idle: all eight days applied


def test_a_later_run_rewrites_only_what_changed(tables: dict[str, str]) -> None:
    engage("GONE", RUN - timedelta(days=400))  # decayed to 0.000000 at any later instant
    engage("LIVE", RUN - timedelta(days=2))
    run_job("decay", RUN)
    later = run_job("decay", RUN + timedelta(days=1))
    assert later["unchanged"] >= 1  # GONE: the same rounded value, not written
    gone = deps.store().get_aggregate(AggregateKey("u1", "GONE"))
    assert gone is not None
    assert gone.materialized_at_ms == to_ms(RUN)  # untouched by the later run


class CrashAfter:
    """A page processor that fails after ``n`` items of the first page it sees: a Lambda dying
    mid-page (timeout, out of memory) with some of the page's writes done."""

    def __init__(self, inner: DecayPage, n: int) -> None:
        self.inner, self.n, self.crashed = inner, n, False

    def __call__(self, items: Sequence[MaintainedItem], pace: Any) -> Tally:
        if not self.crashed:
            self.crashed = True
            self.inner(items[: self.n], pace)
            raise RuntimeError("the function died mid-page")
        return self.inner(items, pace)


def test_a_segment_interrupted_mid_page_resumes_and_writes_each_item_once(tables: dict[str, str]) -> None:
    for n in range(40):
        engage(f"AI-{n}", RUN - timedelta(days=n % 9), user=f"user-{n % 4}")
    run = RunId("decay", to_ms(RUN))
    store = deps.store()
    page = DecayPage(
        run_at=RUN,
        scores=store,
        history=store.contacts,
        upkeep=Upkeep(store.contacts, deps.publisher(), deps.scoring_config(), percentiles=True),
    )
    crashing = CrashAfter(page, n=5)
    task = SegmentTask(run, segment=0, segments=1)
    checkpoints = deps.runs()
    pacing = Pacing.share(write_rate=10_000, read_rate=10_000, concurrency=1)

    def attempt(pages_allowed: int) -> Any:
        budget = iter(range(pages_allowed, -1, -1))
        return work_segment(
            task,
            scanner=store,
            checkpoints=checkpoints,
            process=crashing,
            page_size=7,
            pacing=pacing,
            time_left_s=lambda: next(budget),
        )

    with recording_writes() as writes:
        with pytest.raises(RuntimeError, match="mid-page"):
            attempt(10)
        assert checkpoints.load(run, 0) is None  # the crash came before the first checkpoint
        partial = attempt(2)  # out of time after two pages: a checkpoint mid-segment
        assert not partial.done
        assert partial.pages == 2
        finished = attempt(1_000)
    assert finished.done
    data = [request for table, request in writes if table != tables["runs"]]
    # The crashed page's first five items were written before the crash and found already done
    # on the retry: no write was ever sent twice, and every engagement got its score once.
    assert len(data) == len(set(data))
    assert finished.tally.already_done == 5
    assert finished.tally.examined == 44  # 40 engagements and 4 contacts, each once
    for n in range(40):
        assert materialized(AggregateKey(f"user-{n % 4}", f"AI-{n}"))[1] == to_ms(RUN)
    points = boto3.client("dynamodb").scan(TableName=tables["history"])["Items"]
    assert sorted(p["pk"]["S"] for p in points) == [f"U#user-{n}" for n in range(4)]


def test_the_steps_run_as_the_state_machine_runs_them(tables: dict[str, str]) -> None:
    for n in range(12):
        engage(f"AI-{n}", RUN - timedelta(days=n))
    decay = load_functions()["decay"]
    planned = decay.invoke({"step": "plan", "time": "2026-11-21T00:00:00Z"})
    assert len(planned["segments"]) == TOPOLOGY.job("decay").segments
    # The distributed map runs segments in any order, some twice (a retried step).
    for event in [*reversed(planned["segments"]), planned["segments"][3]]:
        result = decay.invoke(event)
        assert result["done"] is True
    summary = decay.invoke({"step": "finish", "job": "decay", "time": planned["time"]})
    assert summary["complete"] is True
    assert summary["examined"] == 13  # twelve engagements and the contact, once each
    assert summary["percentile_moves"] == 1  # the contact enters its first bucket


def test_an_event_without_a_step_is_refused_and_writes_nothing(tables: dict[str, str]) -> None:
    engage("AI-1", RUN - timedelta(days=40))
    decay = load_functions()["decay"]
    with pytest.raises(ValueError, match="unknown step None"):
        decay.invoke({"detail-type": "Scheduled Event", "time": "2026-11-21T00:00:00Z"})
    assert boto3.client("dynamodb").scan(TableName=tables["runs"])["Items"] == []


def test_finishing_a_run_with_a_segment_not_done_fails_it(tables: dict[str, str]) -> None:
    engage("AI-1", RUN)
    decay = load_functions()["decay"]
    planned = decay.invoke({"step": "plan", "time": "2026-11-21T00:00:00Z"})
    for event in planned["segments"][1:]:
        decay.invoke(event)
    with pytest.raises(RuntimeError, match="not every segment is done"):
        decay.invoke({"step": "finish", "job": "decay", "time": planned["time"]})


def test_cleanup_deletes_only_what_scored_out_after_ninety_idle_days(tables: dict[str, str]) -> None:
    gone = engage("OLD", RUN - timedelta(days=91), count=5)
    recent = engage("NEW", RUN - timedelta(days=2))
    borderline = engage("MID", RUN - timedelta(days=60), count=5)  # idle but still above 0.01
    report = run_job("cleanup", RUN)
    assert (report["examined"], report["deleted"]) == (4, 1)  # three engagements and the contact
    store = deps.store()
    assert store.get_aggregate(gone) is None
    assert store.get_aggregate(recent) is not None
    assert store.get_aggregate(borderline) is not None
    assert store.contacts.get_contact("u1") is not None  # contacts are never cleaned up


def test_below_the_threshold_but_not_yet_ninety_days_idle_is_kept(tables: dict[str, str]) -> None:
    kept = engage("FADED", RUN - timedelta(days=85))  # score well under 0.01 by now
    score = LINEAR.evaluate(1, to_ms(RUN - timedelta(days=85)), RUN).score
    assert score < 0.01
    assert run_job("cleanup", RUN)["deleted"] == 0
    assert deps.store().get_aggregate(kept) is not None


def test_cleanup_again_deletes_nothing(tables: dict[str, str]) -> None:
    engage("OLD", RUN - timedelta(days=120))
    assert run_job("cleanup", RUN)["deleted"] == 1
    with counting_writes() as writes:
        assert run_job("cleanup", RUN + timedelta(days=7))["deleted"] == 0
    assert writes[tables["aggregates"]] == 0


def test_an_engagement_touched_during_cleanup_is_kept(tables: dict[str, str]) -> None:
    key = engage("OLD", RUN - timedelta(days=120))
    read_at_version = 1  # what the cleanup's scan saw
    engage("OLD", RUN - timedelta(days=1))  # an event lands between the scan and the delete
    assert deps.store().delete_aggregate(key, version=read_at_version) is False
    assert deps.store().get_aggregate(key) is not None


def test_decay_moves_bands_publishes_the_change_and_keeps_a_daily_history(tables: dict[str, str]) -> None:
    for n, kind in enumerate(("clicked", "responded", "converted", "clicked")):
        at = RUN - timedelta(days=2, hours=n)
        event = ObservedEvent(f"c-{n}", "c1", "spring", EventType(kind), to_ms(at), None, int(at.timestamp()))
        deps.store().apply(AggregateDelta(AggregateKey("c1"), (event,)))
    run_job("decay", RUN)
    later = RUN + timedelta(days=60)
    run_job("decay", later)
    published = [e["detail"] for e in drain(boto3.client("sqs"), tables["bus:engagement"])]
    # Four engagements in a day, then two months of silence: BG/NBD says likely gone.
    assert [(d["old_band"], d["new_band"]) for d in published] == [(None, "hot"), ("hot", "churning")]
    assert [d["at"] for d in published] == ["2026-11-21T00:00:00Z", "2027-01-20T00:00:00Z"]
    history = call("GET", "/v1/users/c1/history?from=2026-11-01&to=2027-01-31").body["points"]
    assert [p["date"] for p in history] == ["2026-11-21", "2027-01-20"]
    for point, at in zip(history, (RUN, later), strict=True):
        read = call("GET", f"/v1/users/c1/score?as_of={rfc3339(at)}").body
        assert point["score"] == round(read["score"], 1)  # what the API says at that instant
        assert point["band"] == read["band"]
    contact = deps.store().contacts.get_contact("c1")
    assert contact is not None
    assert contact.band is not None
    assert (contact.band.band, contact.band.since_ms) == ("churning", to_ms(later))


def test_a_contact_whose_score_stopped_moving_gets_no_new_point(tables: dict[str, str]) -> None:
    at = RUN - timedelta(days=400)
    event = ObservedEvent("d-1", "c2", "spring", EventType.DELIVERED, to_ms(at), None, int(at.timestamp()))
    deps.store().apply(AggregateDelta(AggregateKey("c2"), (event,)))
    run_job("decay", RUN)
    with counting_writes() as writes:
        summary = run_job("decay", RUN + timedelta(days=1))
    assert summary["history_points"] == 0
    assert writes[tables["history"]] == 0
