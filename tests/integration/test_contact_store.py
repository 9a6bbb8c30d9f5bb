"""The store's contact side against a real DynamoDB API: the contact read model, percentile
moves, bands and segments, funnels, history and the events index."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from decimal import Decimal

import boto3
import pytest

from engagement import deps
from engagement.domain.aggregates import AggregateDelta, AggregateKey, ObservedEvent
from engagement.domain.contact import ContactState
from engagement.domain.contact_records import BandState, BandTransition, PairStages, Stretch
from engagement.domain.event_types import EventType
from engagement.domain.events import EventIn
from engagement.domain.timefmt import to_ms
from engagement.store.contact_items import SEGMENT_SHARDS, shard_of
from engagement.store.contacts import InvalidCursor

T0 = to_ms(datetime(2026, 11, 1, tzinfo=UTC))
DAY = 86_400_000
TYPES = list(EventType)


def event(n: int, ms: int, kind: EventType, *, user: str = "c1", item: str = "spring") -> ObservedEvent:
    value = Decimal(n % 7 + 1) if kind is EventType.CONVERTED else None
    detail = "STOP" if kind is EventType.OPTED_OUT else None
    return ObservedEvent(f"e{n}", user, item, kind, ms, value, T0 // 1000 + n, detail)


def random_events(seed: int, count: int) -> list[ObservedEvent]:
    rng = random.Random(seed)
    return [event(n, T0 + rng.randrange(0, 60 * DAY), rng.choice(TYPES)) for n in range(count)]


@pytest.mark.parametrize("seed", range(6))
def test_the_stored_contact_equals_the_reference_fold_whatever_the_order_batching_and_replays(
    tables: dict[str, str], seed: int
) -> None:
    events = random_events(seed, 40)
    rng = random.Random(seed)
    shuffled = events[:]
    rng.shuffle(shuffled)
    store = deps.store()
    position = 0
    while position < len(shuffled):
        size = rng.randint(1, 9)
        batch = shuffled[position : position + size]
        replayed = rng.sample(shuffled[:position], min(position, rng.randint(0, 3)))
        store.apply(AggregateDelta(AggregateKey("c1"), tuple(batch + replayed)))
        position += size
    record = store.contacts.get_contact("c1")
    assert record is not None
    # Integer accumulators make this exact: no tolerance, whatever the path each write took.
    assert record.state == ContactState.from_events("c1", events)


def test_apply_returns_the_contact_as_it_now_stands(tables: dict[str, str]) -> None:
    store = deps.store()
    first = store.apply(AggregateDelta(AggregateKey("c1"), (event(1, T0, EventType.CLICKED),)))
    again = store.apply(AggregateDelta(AggregateKey("c1"), (event(1, T0, EventType.CLICKED),)))
    assert first.contact is not None
    assert first.stages is None
    assert first.contact.state.counts == {EventType.CLICKED: 1}
    assert again.applied == 0
    assert again.contact == first.contact


def test_a_pair_write_reports_its_funnel_stages(tables: dict[str, str]) -> None:
    result = deps.store().apply(
        AggregateDelta(
            AggregateKey("c1", "spring"),
            (event(1, T0, EventType.DELIVERED), event(2, T0 + 1, EventType.QUERY)),
        )
    )
    assert result.stages == PairStages(
        AggregateKey("c1", "spring"), reached=frozenset({EventType.DELIVERED}), counted=frozenset()
    )


def test_an_opt_out_keeps_the_newest_keyword_through_either_path(tables: dict[str, str]) -> None:
    store = deps.store()
    key = AggregateKey("c1")
    late = ObservedEvent("o2", "c1", "x", EventType.OPTED_OUT, T0 + 10, None, 1, "QUIT")
    early = ObservedEvent("o1", "c1", "x", EventType.OPTED_OUT, T0 + 5, None, 1, "STOP")
    store.apply(AggregateDelta(key, (late,)))
    result = store.apply(AggregateDelta(key, (early,)))  # older: must not replace the keyword
    assert result.read_before_write
    record = store.contacts.get_contact("c1")
    assert record is not None
    assert record.state.opt_out_reason == "QUIT"
    assert record.state.suppressed_since_ms == T0 + 10


def seed_contact(user: str) -> None:
    deps.store().apply(AggregateDelta(AggregateKey(user), (event(1, T0, EventType.CLICKED, user=user),)))


def test_a_percentile_move_is_guarded_by_where_the_contact_is_counted(tables: dict[str, str]) -> None:
    contacts = deps.store().contacts
    for user in ("a", "b", "c"):
        seed_contact(user)
    assert contacts.move_percentile("a", None, 10)
    assert contacts.move_percentile("b", None, 10)
    assert contacts.move_percentile("c", None, 12)
    assert contacts.move_percentile("a", 10, 11)
    assert not contacts.move_percentile("a", 10, 11)  # a retry of the same move: already done
    assert not contacts.move_percentile("b", None, 13)  # stale: b is counted in 10
    record = contacts.get_contact("a")
    assert record is not None
    assert record.bucket == 11
    assert contacts.percentile_histogram() == {10: 1, 11: 1, 12: 1}


def test_the_histogram_is_reused_for_a_minute(tables: dict[str, str]) -> None:
    contacts = deps.store().contacts
    now = [100.0]
    contacts._monotonic = lambda: now[0]
    seed_contact("a")
    assert contacts.percentile_histogram() == {}
    contacts.move_percentile("a", None, 5)
    assert contacts.percentile_histogram() == {}
    now[0] += 61
    assert contacts.percentile_histogram() == {5: 1}


def test_no_percentile_move_for_a_contact_that_does_not_exist(tables: dict[str, str]) -> None:
    contacts = deps.store().contacts
    assert not contacts.move_percentile("ghost", None, 3)
    assert contacts.percentile_histogram() == {}


def transition(user: str, old: BandState | None, band: str, since: int) -> BandTransition:
    return BandTransition(user, old, BandState(band, 50.0, since))


def test_a_band_change_waits_for_the_previous_one_to_be_published(tables: dict[str, str]) -> None:
    contacts = deps.store().contacts
    seed_contact("a")
    warm = transition("a", None, "warm", T0)
    assert contacts.change_band(warm)
    hot = transition("a", warm.new, "hot", T0 + DAY)
    assert not contacts.change_band(hot)  # warm is still pending
    record = contacts.get_contact("a")
    assert record is not None
    assert record.pending == warm
    assert record.band == warm.new
    contacts.settle_transition(warm)
    assert contacts.change_band(hot)
    assert not contacts.change_band(transition("a", warm.new, "cold", T0 + 2 * DAY))  # stale "old"
    contacts.settle_transition(hot)
    older = transition("a", hot.new, "cold", T0)  # an evaluation older than the stored one
    assert not contacts.change_band(older)
    record = contacts.get_contact("a")
    assert record is not None
    assert record.band == hot.new
    assert record.pending is None


def test_a_segment_pages_through_every_shard_without_repeats(tables: dict[str, str]) -> None:
    contacts = deps.store().contacts
    users = [f"u{n:02d}" for n in range(23)]
    assert len({shard_of(u, SEGMENT_SHARDS) for u in users}) == SEGMENT_SHARDS
    for user in users:
        seed_contact(user)
        contacts.change_band(transition(user, None, "hot", T0))
    seed_contact("cold-one")
    contacts.change_band(transition("cold-one", None, "cold", T0))
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = contacts.segment_page("hot", cursor=cursor, limit=5)
        assert len(page.members) <= 5
        seen += [m.user_id for m in page.members]
        pages += 1
        cursor = page.cursor
        if cursor is None:
            break
    assert sorted(seen) == users
    assert pages >= 5


@pytest.mark.parametrize("cursor", ["not-base64!", "eyJzIjo5OSwiayI6bnVsbH0", "e30"])
def test_a_forged_cursor_is_refused(tables: dict[str, str], cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        deps.store().contacts.segment_page("hot", cursor=cursor, limit=5)


def test_funnel_stages_count_once_per_engagement(tables: dict[str, str]) -> None:
    store = deps.store()
    for user in ("a", "b"):
        store.apply(
            AggregateDelta(
                AggregateKey(user, "spring"),
                (
                    event(1, T0, EventType.DELIVERED, user=user),
                    event(2, T0 + 1, EventType.CLICKED, user=user),
                ),
            )
        )
    result = store.apply(
        AggregateDelta(AggregateKey("a", "spring"), (event(3, T0 + 2, EventType.CLICKED, user="a"),))
    )
    assert result.stages is not None
    store.contacts.count_funnel(result.stages)
    store.contacts.count_funnel(result.stages)  # a retry with the stale view: nothing new
    b = store.apply(
        AggregateDelta(AggregateKey("b", "spring"), (event(4, T0 + 3, EventType.CONVERTED, user="b"),))
    )
    assert b.stages is not None
    store.contacts.count_funnel(b.stages)
    assert store.contacts.funnel("spring") == {
        EventType.DELIVERED: 2,
        EventType.CLICKED: 2,
        EventType.CONVERTED: 1,
    }


def test_history_stretches_read_back_with_the_one_in_force_before_the_range(tables: dict[str, str]) -> None:
    contacts = deps.store().contacts
    seed_contact("a")
    states = {
        day: ContactState.from_events(
            "a", [event(n, T0 + n * DAY, EventType.CLICKED, user="a") for n in range(k)]
        )
        for k, day in ((1, "2026-11-01"), (2, "2026-11-03"), (3, "2026-11-09"))
    }
    for day, state in states.items():
        assert state is not None
        stretch = Stretch(day, to_ms(datetime.fromisoformat(day).replace(tzinfo=UTC)), state)
        for _ in range(2):  # a retried run records the same stretch again
            assert contacts.schedule(
                "a", version=version_of("a"), due_ms=T0, stretches=[stretch], settle=None
            )
    legacy = {"pk": {"S": "U#a"}, "sk": {"S": "H#2026-10-30"}, "at_ms": {"N": str(T0 - 2 * DAY)}}
    legacy |= {"score": {"N": "0.5"}, "band": {"S": "warm"}, "components": {"S": "{}"}}
    boto3.client("dynamodb").put_item(TableName=tables["history"], Item=legacy)
    stored = contacts.history("a", first_day="2026-11-05", last_day="2026-11-30")
    # The stretch in force on the day before the range (from the 3rd), and the one in it.
    assert [(s.day, s.state) for s in stored.stretches] == [
        ("2026-11-03", states["2026-11-03"]),
        ("2026-11-09", states["2026-11-09"]),
    ]
    assert [(p.day, p.score, p.band) for p in stored.legacy] == [("2026-10-30", 0.5, "warm")]
    assert contacts.history("a", first_day="2026-10-01", last_day="2026-10-31").stretches == []


def test_scheduling_records_the_stretches_and_settles_the_published_change_all_or_nothing(
    tables: dict[str, str],
) -> None:
    contacts = deps.store().contacts
    seed_contact("a")
    transition = BandTransition("a", None, BandState("hot", 0.9, T0))
    assert contacts.change_band(transition)
    version = version_of("a")
    seeded = contacts.get_contact("a")
    assert seeded is not None
    assert seeded.unseen_ms == T0 + 1000  # when its event reached the log (recorded_s)
    gap, stretch = Stretch("2026-11-02", T0 + DAY, None), Stretch("2026-11-03", T0 + 2 * DAY, seeded.state)
    assert contacts.schedule(
        "a", version=version, due_ms=T0 + DAY, stretches=[gap, stretch], settle=transition
    )
    record = contacts.get_contact("a")
    assert record is not None
    assert (record.stretch_version, record.stretch_at_ms, record.pending) == (version, T0 + 2 * DAY, None)
    assert (record.unseen_ms, record.seen_ms) == (None, None)  # the events are in the recorded stretch
    assert not record.has_unrecorded_state
    stored = contacts.history("a", first_day="2026-11-01", last_day="2026-11-30").stretches
    assert [(s.day, s.state) for s in stored] == [("2026-11-02", None), ("2026-11-03", seeded.state)]
    # Refused once an event reached the aggregate since it was read, and then nothing of it is
    # written: not the schedule, not the stretch.
    deps.store().apply(AggregateDelta(AggregateKey("a"), (event(2, T0 + DAY, EventType.QUERY, user="a"),)))
    late = Stretch("2026-11-04", T0 + 3 * DAY, seeded.state)
    assert not contacts.schedule("a", version=version, due_ms=T0 + 5 * DAY, stretches=[late], settle=None)
    record = contacts.get_contact("a")
    assert record is not None
    assert (record.stretch_version, record.stretch_at_ms) == (version, T0 + 2 * DAY)
    assert record.has_unrecorded_state
    assert (record.unseen_ms, record.seen_ms) == (T0 + 2000, T0 + 2000)  # that event's arrival
    assert len(contacts.history("a", first_day="2026-11-01", last_day="2026-11-30").stretches) == 2
    # Nor when the contact is gone (erased between the run's read and its write).
    boto3.client("dynamodb").delete_item(
        TableName=tables["aggregates"], Key={"pk": {"S": "U#a"}, "sk": {"S": "#USER"}}
    )
    assert not contacts.schedule("a", version=version + 1, due_ms=T0, stretches=[late], settle=None)
    assert len(contacts.history("a", first_day="2026-11-01", last_day="2026-11-30").stretches) == 2


def version_of(user: str) -> int:
    item = boto3.client("dynamodb").get_item(
        TableName=deps.settings().table("aggregates"), Key={"pk": {"S": f"U#{user}"}, "sk": {"S": "#USER"}}
    )["Item"]
    return int(item["ver"]["N"])


def test_a_contacts_latest_events_come_from_the_log_index(tables: dict[str, str]) -> None:
    store = deps.store()
    received = datetime(2026, 11, 20, tzinfo=UTC)
    for n in range(5):
        store.put_event(
            EventIn(
                user_id="c1",
                item_id=f"camp-{n}",
                type=EventType.CLICKED,
                occurred_at=datetime(2026, 11, 10 + n, tzinfo=UTC),
            ).resolve(),
            received_at=received,
        )
    store.put_event(
        EventIn(user_id="c2", item_id="x", type=EventType.CLICKED, occurred_at=received).resolve(),
        received_at=received,
    )
    until = to_ms(datetime(2026, 11, 13, tzinfo=UTC))
    latest = store.contacts.recent_events("c1", until_ms=until, limit=2)
    assert [e.item_id for e in latest] == ["camp-3", "camp-2"]
    assert all(e.user_id == "c1" and e.type is EventType.CLICKED for e in latest)


def test_nothing_is_written_for_a_contact_that_is_not_there(tables: dict[str, str]) -> None:
    contacts = deps.store().contacts
    assert not contacts.change_band(transition("ghost", None, "hot", T0))
    scan = boto3.client("dynamodb").scan(TableName=tables["aggregates"])
    assert scan["Items"] == []
