"""The daily and weekly runs on a real table: only due contacts are read, no engagement is ever
written, zero writes on a repeated run, catch-up after missed days, resumption mid-segment,
band changes and history points on the day they are due and not before, expiry by TTL, and the
one-time sweep."""

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
from engagement.domain.expiry import expiry_ms
from engagement.domain.linear import LINEAR
from engagement.domain.maintenance import DuePage, MaintainedItem
from engagement.domain.runs import Pacing, RunId, SegmentTask, Tally, work_segment
from engagement.domain.timefmt import rfc3339, to_ms
from engagement.domain.upkeep import Upkeep
from engagement.store.dynamodb import DueSource
from engagement.store.items import due_partition
from engagement.topology import TOPOLOGY
from infra.local.buses import drain
from infra.local.lambdas import load_functions
from infra.local.ttl import TtlSweeper

from .api import call
from .helpers import run_job

RUN = datetime(2026, 11, 21, tzinfo=UTC)
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


def engage(
    item: str, last: datetime, count: int = 1, *, user: str = "u1", kind: EventType = EventType.QUERY
) -> AggregateKey:
    key = AggregateKey(user, item)
    events = tuple(
        ObservedEvent(
            f"{user}-{item}-{to_ms(last)}-{n}-{kind.value}",
            user,
            item,
            kind,
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


def engaged_contact(user: str, at: datetime) -> None:
    """A contact that clicked, replied, bought and clicked again within four hours: hot, and
    then, with nothing new, churning once BG/NBD thinks it gone."""
    for n, kind in enumerate(("clicked", "responded", "converted", "clicked")):
        when = at - timedelta(hours=n)
        event = ObservedEvent(
            f"{user}-{n}", user, "spring", EventType(kind), to_ms(when), None, int(when.timestamp())
        )
        deps.store().apply(AggregateDelta(AggregateKey(user), (event,)))


def due_ms(user: str) -> int | None:
    item = raw(AggregateKey(user))
    return None if item is None or "due_ms" not in item else int(item["due_ms"]["N"])


def raw(key: AggregateKey) -> dict[str, Any] | None:
    sk = "#USER" if key.item_id is None else f"I#{key.item_id}"
    found: dict[str, Any] | None = (
        boto3.client("dynamodb")
        .get_item(
            TableName=deps.settings().table("aggregates"),
            Key={"pk": {"S": f"U#{key.user_id}"}, "sk": {"S": sk}},
        )
        .get("Item")
    )
    return found


def published(tables: dict[str, str]) -> list[dict[str, Any]]:
    return [e["detail"] for e in drain(boto3.client("sqs"), tables["bus:engagement"])]


@pytest.fixture(autouse=True)
def frozen(clock: ManualClock) -> ManualClock:
    clock.set(RUN + timedelta(minutes=5))  # the run starts a little after its scheduled time
    return clock


def test_a_quiet_day_writes_no_engagement_and_reads_only_due_contacts(tables: dict[str, str]) -> None:
    keys = [
        engage("AI-1", RUN - timedelta(days=7), count=2),
        engage("AI-2", RUN - timedelta(days=40), count=6),
        engage("AI-3", RUN - timedelta(hours=5)),
    ]
    with recording_writes() as writes:
        first = run_job("decay", RUN)
    assert first["complete"] is True
    assert first["examined"] == 1  # the contact the events made due; never an engagement
    assert not [w for table, w in writes if table == tables["aggregates"] and '"I#' in w]
    # Scores are what every read computes; nothing was materialized for them.
    for key in keys:
        item = raw(key)
        assert item is not None
        assert "score" not in item
        read = call("GET", f"/v1/users/u1/engagements/{key.item_id}?as_of=2026-11-21T00:00:00Z").body
        expected = LINEAR.evaluate(int(item["c_query"]["N"]), int(item["last_ms"]["N"]), RUN).score
        assert read["score"] == round(expected, 6)
    # The next day: the contact is read only if the score function said something changes by
    # then; engagements are never read or written.
    next_day = RUN + timedelta(days=1)
    due = due_ms("u1")
    assert due is not None
    with recording_writes() as later:
        quiet = run_job("decay", next_day)
    assert quiet["examined"] == (1 if due <= to_ms(next_day) else 0)
    assert not [w for table, w in later if table == tables["aggregates"] and '"I#' in w]


def test_the_same_run_again_writes_nothing(tables: dict[str, str]) -> None:
    engage("AI-1", RUN - timedelta(days=3))
    engage("AI-2", RUN - timedelta(days=40))
    first = run_job("decay", RUN)
    assert first["written"] >= 2  # the contact's history stretch and its next due time
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
    assert again["examined"] == 0  # the contact left the due range when the run scheduled it
    assert writes[tables["aggregates"]] == 0
    assert writes[tables["history"]] == 0


def test_a_band_changes_on_the_day_it_is_due_and_not_before(
    tables: dict[str, str], clock: ManualClock
) -> None:
    engaged_contact("c1", RUN - timedelta(days=2))
    run_job("decay", RUN)
    assert [(d["old_band"], d["new_band"]) for d in published(tables)] == [(None, "hot")]
    band, point = "hot", round(call("GET", f"/v1/users/c1/score?as_of={rfc3339(RUN)}").body["score"], 1)
    point_days = [RUN.date().isoformat()]
    changes = 0
    for n in range(1, 50):
        day = RUN + timedelta(days=n)
        read = call("GET", f"/v1/users/c1/score?as_of={rfc3339(day)}").body
        due = due_ms("c1")
        assert due is not None
        with counting_writes() as writes:
            summary = run_job("decay", day)
        band_due, point_due = read["band"] != band, round(read["score"], 1) != point
        # Read (and written) exactly on the days its band changes; a moving score costs nothing.
        assert summary["examined"] == (1 if band_due else 0), day
        assert (due <= to_ms(day)) == band_due, day
        assert writes[tables["history"]] == 0
        expected = [(band, read["band"], rfc3339(day))] if band_due else []
        assert [(d["old_band"], d["new_band"], d["at"]) for d in published(tables)] == expected
        if point_due:
            point_days.append(day.date().isoformat())
        changes += band_due
        band, point = read["band"], round(read["score"], 1) if point_due else point
    assert changes >= 1  # hot, then churning once BG/NBD thinks the contact gone
    assert len(point_days) >= 5
    # The history has a point on each day the score, to one decimal, moved since the last point:
    # what a run writing a point on those days left, evaluated instead of written.
    clock.set(RUN + timedelta(days=49, minutes=5))
    last = (RUN + timedelta(days=49)).date().isoformat()
    history = call("GET", f"/v1/users/c1/history?from={RUN.date().isoformat()}&to={last}").body
    assert [p["date"] for p in history["points"]] == point_days
    for p in history["points"]:
        read = call("GET", f"/v1/users/c1/score?as_of={p['date']}T00:00:00Z").body
        # The route shows the score to two decimals; the point rounds the exact one.
        assert abs(p["score"] - read["score"]) <= 0.05 + 1e-9
        assert p["band"] == read["band"]


def test_missed_days_are_caught_up_exactly_by_the_next_run(tables: dict[str, str]) -> None:
    engaged_contact("c1", RUN - timedelta(days=2))
    run_job("decay", RUN)
    published(tables)
    late = RUN + timedelta(days=60)  # every daily run in between missed
    summary = run_job("decay", late)
    assert summary["examined"] == 1
    changes = published(tables)
    assert [(d["old_band"], d["new_band"], d["at"]) for d in changes] == [
        ("hot", "churning", "2027-01-20T00:00:00Z")
    ]
    contact = deps.store().contacts.get_contact("c1")
    assert contact is not None
    assert contact.band is not None
    assert (contact.band.band, contact.band.since_ms) == ("churning", to_ms(late))


def test_a_new_event_makes_the_contact_due_and_moves_the_expiry(tables: dict[str, str]) -> None:
    key = engage("AI-1", RUN - timedelta(days=30))
    first_expiry = int(raw(key)["expires_at"]["N"])  # type: ignore[index]
    assert first_expiry * 1000 == expiry_ms(to_ms(RUN - timedelta(days=30)))
    run_job("decay", RUN)
    scheduled = due_ms("u1")
    assert scheduled is not None
    assert scheduled > to_ms(RUN)
    engage("AI-1", RUN + timedelta(hours=3))  # a new event
    assert (due_ms("u1") or 0) <= to_ms(RUN + timedelta(hours=3))  # due at the next run
    moved = int(raw(key)["expires_at"]["N"])  # type: ignore[index]
    assert moved * 1000 == expiry_ms(to_ms(RUN + timedelta(hours=3)))
    assert run_job("decay", RUN + timedelta(days=1))["examined"] == 1


class CrashAfter:
    """A page processor that fails after ``n`` items of the first page it sees: a Lambda dying
    mid-page (timeout, out of memory) with some of the page's writes done."""

    def __init__(self, inner: DuePage, n: int) -> None:
        self.inner, self.n, self.crashed = inner, n, False

    def __call__(self, items: Sequence[MaintainedItem], pace: Any) -> Tally:
        if not self.crashed:
            self.crashed = True
            self.inner(items[: self.n], pace)
            raise RuntimeError("the function died mid-page")
        return self.inner(items, pace)


def test_a_segment_interrupted_mid_page_resumes_and_writes_each_item_once(tables: dict[str, str]) -> None:
    users = [u for u in (f"user-{n}" for n in range(400)) if due_partition(u) == "D#0"][:12]
    assert len(users) == 12
    for n, user in enumerate(users):
        engage(f"AI-{n}", RUN - timedelta(days=n % 9), user=user)
    run = RunId("decay", to_ms(RUN))
    store = deps.store()
    page = DuePage(
        run_at=RUN,
        scheduler=store.contacts,
        upkeep=Upkeep(store.contacts, deps.publisher(), deps.scoring_config(), percentiles=True),
    )
    crashing = CrashAfter(page, n=2)
    task = SegmentTask(run, segment=0, segments=TOPOLOGY.job("decay").segments)
    checkpoints = deps.runs()
    pacing = Pacing.share(write_rate=10_000, read_rate=10_000, concurrency=1)

    def attempt(pages_allowed: int) -> Any:
        budget = iter(range(pages_allowed, -1, -1))
        return work_segment(
            task,
            scanner=DueSource(store, run.at_ms),
            checkpoints=checkpoints,
            process=crashing,
            page_size=5,
            pacing=pacing,
            time_left_s=lambda: next(budget),
        )

    with recording_writes() as writes:
        with pytest.raises(RuntimeError, match="mid-page"):
            attempt(10)
        assert checkpoints.load(run, 0) is None  # the crash came before the first checkpoint
        partial = attempt(1)  # out of time after a page: a checkpoint mid-segment
        assert not partial.done
        finished = attempt(1_000)
    assert finished.done
    contact_writes = [request for table, request in writes if table != tables["runs"] and '"U#' in request]
    # The two contacts finished before the crash left the due range: the retry never saw them,
    # no contact was written twice, and every contact got its stretch and its schedule once.
    assert len(contact_writes) == len(set(contact_writes))
    assert finished.tally.examined == 10
    points = boto3.client("dynamodb").scan(TableName=tables["history"])["Items"]
    assert sorted(p["pk"]["S"] for p in points) == sorted(f"U#{u}" for u in users)
    assert all((due_ms(u) or 0) > to_ms(RUN) for u in users)


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
    assert summary["examined"] == 1  # the contact, once; engagements are never read
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


def test_an_engagement_expires_on_the_day_its_score_crosses_the_rule(
    tables: dict[str, str], clock: ManualClock
) -> None:
    last = RUN - timedelta(days=89)
    key = engage("OLD", last, count=5)
    expiry = expiry_ms(to_ms(last))
    assert expiry == to_ms(last + timedelta(days=90))  # the 90-day floor decides (see domain.expiry)
    assert LINEAR.evaluate(5, to_ms(last), RUN + timedelta(days=1)).score < 0.01
    assert call("GET", "/v1/users/u1/engagements/OLD").status == 200
    clock.set(RUN + timedelta(days=1))  # the expiry instant itself: not yet past
    assert call("GET", "/v1/users/u1/engagements/OLD").status == 200
    clock.set(RUN + timedelta(days=1, seconds=1))  # still stored (TTL is lazy), gone to every read
    assert raw(key) is not None
    assert call("GET", "/v1/users/u1/engagements/OLD").status == 404
    assert call("GET", "/v1/users/u1/engagements").body["engagements"] == []
    exported = call("GET", "/v1/users/u1/export").body["stored"]["aggregates"]
    assert [a["sk"] for a in exported] == ["#USER"]
    # The runner's TTL emulation deletes it, as DynamoDB's TTL does: no scan of ours, no job.
    sweeper = TtlSweeper(boto3.client("dynamodb"), tables, clock, lambda _: None)
    assert sweeper.sweep() >= 1
    assert raw(key) is None
    assert deps.store().contacts.get_contact("u1") is not None  # contacts never expire


def test_a_new_event_before_the_expiry_keeps_the_engagement(
    tables: dict[str, str], clock: ManualClock
) -> None:
    key = engage("OLD", RUN - timedelta(days=89))
    engage("OLD", RUN - timedelta(hours=1))
    clock.set(RUN + timedelta(days=2))
    assert call("GET", "/v1/users/u1/engagements/OLD").body["interaction_count"] == 2
    TtlSweeper(boto3.client("dynamodb"), tables, clock, lambda _: None).sweep()
    assert raw(key) is not None


def test_the_weekly_run_sweeps_old_items_once_and_then_reads_no_aggregate(tables: dict[str, str]) -> None:
    key = engage("AI-1", RUN - timedelta(days=10))
    old = engage("AI-2", RUN - timedelta(days=200))
    client = boto3.client("dynamodb")
    aggregates = deps.settings().table("aggregates")
    # As items written before expiries and due times existed.
    for target, attributes in (
        (key, "expires_at"),
        (old, "expires_at"),
        (AggregateKey("u1"), "due_pk, due_ms"),
    ):
        sk = "#USER" if target.item_id is None else f"I#{target.item_id}"
        client.update_item(
            TableName=aggregates,
            Key={"pk": {"S": "U#u1"}, "sk": {"S": sk}},
            UpdateExpression=f"REMOVE {attributes}",
        )
    sweep = run_job("cleanup", RUN)
    assert (sweep["expiries"], sweep["scheduled"]) == (2, 1)
    assert int(raw(key)["expires_at"]["N"]) * 1000 == expiry_ms(to_ms(RUN - timedelta(days=10)))  # type: ignore[index]
    assert int(raw(old)["expires_at"]["N"]) == to_ms(RUN) // 1000  # long past: TTL takes it now
    assert due_ms("u1") == to_ms(RUN)
    assert run_job("decay", RUN + timedelta(days=1))["examined"] == 1
    with recording_writes() as writes:
        later = run_job("cleanup", RUN + timedelta(days=7))
    assert later["complete"] is True
    assert later["examined"] == 0
    assert {table for table, _ in writes} == {tables["runs"]}  # run records and checkpoints only


def test_the_decay_and_cleanup_functions_never_scan_in_steady_state(tables: dict[str, str]) -> None:
    engage("AI-1", RUN - timedelta(days=3))
    run_job("cleanup", RUN - timedelta(days=1))  # the one-time sweep
    scans: list[str] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name == "Scan":
            scans.append(str(params["TableName"]))

    events = deps.store().client.meta.events
    events.register("before-parameter-build.dynamodb", record)
    try:
        run_job("decay", RUN)
        run_job("decay", RUN + timedelta(days=1))
        run_job("cleanup", RUN + timedelta(days=6))
    finally:
        events.unregister("before-parameter-build.dynamodb", record)
    assert scans == []


def test_decay_moves_bands_publishes_the_change_and_keeps_a_daily_history(
    tables: dict[str, str], clock: ManualClock
) -> None:
    engaged_contact("c1", RUN - timedelta(days=2))
    run_job("decay", RUN)
    later = RUN + timedelta(days=60)
    run_job("decay", later)
    changes = published(tables)
    # Four engagements in a day, then two months of silence: BG/NBD says likely gone.
    assert [(d["old_band"], d["new_band"]) for d in changes] == [(None, "hot"), ("hot", "churning")]
    assert [d["at"] for d in changes] == ["2026-11-21T00:00:00Z", "2027-01-20T00:00:00Z"]
    # The history has a point for every day the score moved, missed runs or not: it is
    # evaluated, not written by the runs, from the first run after the events reached the log.
    clock.set(later + timedelta(minutes=5))
    history = call("GET", "/v1/users/c1/history?from=2026-11-01&to=2027-01-31").body["points"]
    first = RUN - timedelta(days=1)
    reads = {
        (first + timedelta(days=n)).date().isoformat(): call(
            "GET", f"/v1/users/c1/score?as_of={rfc3339(first + timedelta(days=n))}"
        ).body
        for n in range(62)
    }
    moved, before = [], None
    for day, read in reads.items():
        if round(read["score"], 1) != before:
            moved.append(day)
        before = round(read["score"], 1)
    assert [p["date"] for p in history] == moved
    assert moved[0] == "2026-11-20"
    for point in history:
        read = reads[point["date"]]
        assert abs(point["score"] - read["score"]) <= 0.05 + 1e-9  # what the API says then
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
    assert summary["examined"] == 0  # not even read: nothing about it is due
    assert writes[tables["history"]] == 0


def history_scores(user: str, first: str, last: str) -> dict[str, float]:
    body = call("GET", f"/v1/users/{user}/history?from={first}&to={last}").body
    return {p["date"]: p["score"] for p in body["points"]}


def test_days_after_new_events_follow_them_before_the_run_records_them_and_across_missed_runs(
    tables: dict[str, str], clock: ManualClock
) -> None:
    engaged_contact("c1", RUN - timedelta(days=2))
    for n in range(10):
        run_job("decay", RUN + timedelta(days=n))
    # Conversions on day 9 at 10:00; the runs of days 10 to 13 are missed.
    engage("spring", RUN + timedelta(days=9, hours=10), count=3, user="c1", kind=EventType.CONVERTED)
    clock.set(RUN + timedelta(days=14, minutes=5))  # day 14's run has not reached the contact yet
    truth = {
        (RUN + timedelta(days=n)).date().isoformat(): call(
            "GET", f"/v1/users/c1/score?as_of={rfc3339(RUN + timedelta(days=n))}"
        ).body["score"]
        for n in range(10, 15)
    }
    before = history_scores("c1", "2026-12-01", "2026-12-05")
    assert before  # the conversions move the score every day
    for day, score in before.items():
        assert abs(score - truth[day]) <= 0.05 + 1e-9, day
    run_job("decay", RUN + timedelta(days=14))
    assert history_scores("c1", "2026-12-01", "2026-12-05") == before  # the run records the same


def test_a_days_point_stays_when_its_run_is_repeated_after_a_later_event(
    tables: dict[str, str], clock: ManualClock
) -> None:
    engaged_contact("c1", RUN - timedelta(days=2))
    run_job("decay", RUN - timedelta(days=1))
    run_job("decay", RUN)
    clock.set(RUN + timedelta(hours=9))
    before = history_scores("c1", "2026-11-20", "2026-11-21")
    engage("spring", RUN + timedelta(hours=8), count=3, user="c1", kind=EventType.CONVERTED)
    runs = boto3.client("dynamodb")
    for item in runs.scan(TableName=tables["runs"])["Items"]:  # the run again, checkpoints gone
        runs.delete_item(TableName=tables["runs"], Key={"pk": item["pk"], "sk": item["sk"]})
    assert run_job("decay", RUN)["examined"] == 1
    assert history_scores("c1", "2026-11-20", "2026-11-21") == before
    # The conversions are in force from the next run.
    clock.set(RUN + timedelta(days=1, minutes=5))
    later = history_scores("c1", "2026-11-22", "2026-11-22")["2026-11-22"]
    read = call("GET", f"/v1/users/c1/score?as_of={rfc3339(RUN + timedelta(days=1))}").body["score"]
    assert abs(later - read) <= 0.05 + 1e-9
