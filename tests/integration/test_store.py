"""The DynamoDB adapter against a real DynamoDB API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import boto3
import pytest

from engagement import deps, settings
from engagement.domain.aggregates import AggregateDelta, AggregateKey, ObservedEvent
from engagement.domain.errors import StoreError
from engagement.domain.events import EventIn, EventType
from engagement.domain.expiry import expiry_ms
from engagement.domain.maintenance import ContactItem, PairItem
from engagement.store.dedupe import DedupeRing
from engagement.store.dynamodb import CLIENT_CONFIG, DynamoStore
from engagement.store.items import due_partition
from engagement.topology import TOPOLOGY

PAIR = AggregateKey("u1", "AI-1")
T0 = 1_790_000_000_000


def observed(
    event_id: str, ms: int, kind: EventType = EventType.QUERY, value: str | None = None
) -> ObservedEvent:
    return ObservedEvent(
        event_id, "u1", "AI-1", kind, ms, None if value is None else Decimal(value), 1_790_000_000
    )


def delta(*events: ObservedEvent) -> AggregateDelta:
    return AggregateDelta(PAIR, events)


def raw_item(tables: dict[str, str], key: AggregateKey) -> dict[str, object]:
    item = boto3.client("dynamodb").get_item(
        TableName=tables["aggregates"], Key={"pk": {"S": f"U#{key.user_id}"}, "sk": {"S": f"I#{key.item_id}"}}
    )["Item"]
    return dict(item)


def test_an_event_is_stored_once_with_its_retention(tables: dict[str, str]) -> None:
    store = deps.store()
    received = datetime(2026, 11, 20, tzinfo=UTC)
    event = EventIn(
        user_id="u1",
        item_id="AI-1",
        type=EventType.CONVERTED,
        occurred_at=received,
        value=Decimal("9.5"),
        metadata={"k": [1, 2.5]},
    ).resolve()
    assert store.put_event(event, received_at=received) is True
    assert store.put_event(event, received_at=received + timedelta(hours=1)) is False
    item = boto3.client("dynamodb").get_item(
        TableName=tables["events"], Key={"pk": {"S": f"E#{event.event_id}"}}
    )
    stored = item["Item"]
    assert stored["value"] == {"N": "9.5"}
    assert stored["metadata"] == {"S": '{"k":[1,2.5]}'}
    assert int(stored["expires_at"]["N"]) == int(received.timestamp()) + 400 * 86400


def test_in_order_deltas_take_one_write_each(tables: dict[str, str]) -> None:
    store = deps.store()
    first = store.apply(delta(observed("e1", T0), observed("e2", T0 + 5)))
    second = store.apply(delta(observed("e3", T0 + 10, EventType.VIEW)))
    assert not first.read_before_write
    assert not second.read_before_write
    aggregate = store.get_aggregate(PAIR)
    assert aggregate is not None
    assert aggregate.counts == {EventType.QUERY: 2, EventType.VIEW: 1}
    assert (aggregate.first_ms, aggregate.last_ms) == (T0, T0 + 10)


def test_a_late_older_event_moves_first_interaction_back(tables: dict[str, str]) -> None:
    store = deps.store()
    store.apply(delta(observed("e1", T0 + 100)))
    result = store.apply(delta(observed("e0", T0), observed("e2", T0 + 50)))
    assert result.applied == 2
    assert result.read_before_write
    aggregate = store.get_aggregate(PAIR)
    assert aggregate is not None
    assert (aggregate.first_ms, aggregate.last_ms, aggregate.interaction_count) == (T0, T0 + 100, 3)


def test_a_partly_seen_delta_applies_only_the_unseen_events(tables: dict[str, str]) -> None:
    store = deps.store()
    store.apply(
        delta(
            observed("e1", T0),
            observed("e2", T0 + 1, EventType.CONVERTED, "10"),
        )
    )
    result = store.apply(delta(observed("e2", T0 + 1, EventType.CONVERTED, "10"), observed("e3", T0 + 2)))
    assert (result.applied, result.duplicates) == (1, 1)
    aggregate = store.get_aggregate(PAIR)
    assert aggregate is not None
    assert aggregate.counts == {EventType.QUERY: 2, EventType.CONVERTED: 1}
    assert aggregate.value_sum == Decimal(10)


def test_a_fully_seen_delta_writes_nothing(tables: dict[str, str]) -> None:
    store = deps.store()
    store.apply(delta(observed("e1", T0)))
    before = raw_item(tables, PAIR)
    result = store.apply(delta(observed("e1", T0)))
    assert (result.applied, result.duplicates) == (0, 1)
    assert raw_item(tables, PAIR) == before  # not even the version moved


def test_more_events_than_one_expression_holds_are_split(tables: dict[str, str]) -> None:
    store = deps.store()
    result = store.apply(delta(*(observed(f"e{n}", T0 + n) for n in range(250))))
    assert result.applied == 250
    again = store.apply(delta(*(observed(f"e{n}", T0 + n) for n in range(240, 260))))
    assert (again.applied, again.duplicates) == (10, 10)
    aggregate = store.get_aggregate(PAIR)
    assert aggregate is not None
    assert aggregate.interaction_count == 260


def test_tokens_expire_from_the_ring_once_they_cannot_be_redelivered(tables: dict[str, str]) -> None:
    store = deps.store()
    window = DedupeRing.for_mapping(TOPOLOGY.stream_mapping_for("scorer")).window_s
    old = ObservedEvent("old", "u1", "AI-1", EventType.QUERY, T0, None, recorded_s=0)
    later = ObservedEvent("later", "u1", "AI-1", EventType.QUERY, T0 + 1, None, recorded_s=2 * window)
    store.apply(delta(old))
    store.apply(delta(later))
    seen = {k: v for k, v in raw_item(tables, PAIR).items() if k.startswith("seen")}
    assert seen == {"seen2": {"BS": [DedupeRing.token("later")]}}


def test_listing_and_a_parallel_scan_return_every_pair_once(tables: dict[str, str]) -> None:
    store = deps.store()
    for n in range(30):
        store.apply(AggregateDelta(AggregateKey("u1", f"I-{n}"), (observed(f"e{n}", T0 + n),)))
    store.apply(AggregateDelta(AggregateKey("u1"), (observed("e-user", T0),)))
    assert sorted(a.key.item_id or "" for a in store.list_pairs("u1")) == sorted(f"I-{n}" for n in range(30))
    scanned: list[object] = []
    for segment in range(3):
        cursor = None
        while True:
            page = store.scan_segment(segment, 3, cursor=cursor, limit=7)
            scanned += page.items
            if page.cursor is None:
                break
            cursor = page.cursor
    pairs = [item for item in scanned if isinstance(item, PairItem)]
    assert sorted(p.aggregate.key.item_id or "" for p in pairs) == sorted(f"I-{n}" for n in range(30))
    assert all(p.version == 1 for p in pairs)
    contacts = [i for i in scanned if isinstance(i, ContactItem)]
    assert [i.record.state.user_id for i in contacts] == ["u1"]
    assert all(i.due_ms is not None for i in contacts)


def test_every_write_sets_the_expiry_and_the_contact_due_time(tables: dict[str, str]) -> None:
    store = deps.store()
    store.apply(delta(observed("e1", T0)))
    store.apply(delta(observed("e0", T0 - 5_000)))  # out of order: the read-then-write path
    item = raw_item(tables, PAIR)
    assert int(item["expires_at"]["N"]) * 1000 == expiry_ms(T0)  # from the last interaction
    store.apply(delta(observed("e2", T0 + 86_400_000)))
    assert int(raw_item(tables, PAIR)["expires_at"]["N"]) * 1000 == expiry_ms(T0 + 86_400_000)
    store.apply(AggregateDelta(AggregateKey("u1"), (observed("e3", T0),)))
    contact = boto3.client("dynamodb").get_item(
        TableName=tables["aggregates"], Key={"pk": {"S": "U#u1"}, "sk": {"S": "#USER"}}
    )["Item"]
    assert contact["due_pk"]["S"] == due_partition("u1")
    assert "expires_at" not in contact  # contacts never expire


def test_an_unreachable_store_raises_a_retryable_error(tables: dict[str, str]) -> None:
    client = boto3.client(
        "dynamodb",
        endpoint_url="http://127.0.0.1:9",
        config=CLIENT_CONFIG.merge(
            boto3.session.Config(retries={"mode": "standard", "max_attempts": 1}, connect_timeout=0.2)
        ),
    )
    store = DynamoStore(
        client, events_table=tables["events"], aggregates_table=tables["aggregates"], ring=DedupeRing(3600)
    )
    event = EventIn(
        user_id="u1", item_id="AI-1", type=EventType.QUERY, occurred_at=datetime.now(UTC)
    ).resolve()
    with pytest.raises(StoreError) as raised:
        store.put_event(event, received_at=datetime.now(UTC))
    assert raised.value.retryable


class ConcurrentWriter:
    """Before each of the adapter's version-checked writes, another writer adds an event first."""

    def __init__(self, store: DynamoStore, rivals: int, tables: dict[str, str]) -> None:
        self.rivals, self.sent = rivals, 0
        self.other = DynamoStore(
            boto3.client("dynamodb"),
            events_table=tables["events"],
            aggregates_table=tables["aggregates"],
            ring=DedupeRing(),
        )
        store._client.meta.events.register("before-call.dynamodb.UpdateItem", self)

    def __call__(self, params: dict[str, object], **_: object) -> None:
        condition = str(params.get("ConditionExpression", ""))
        if "NOT contains" in condition or "<=" in condition or self.sent >= self.rivals:
            return  # a fast-path write, or no rivals left
        self.sent += 1
        self.other.apply(delta(observed(f"rival-{self.sent}", T0 + 1000 + self.sent)))


def test_a_write_that_loses_a_race_retries_on_the_newer_item(tables: dict[str, str]) -> None:
    store = DynamoStore.from_settings(settings.current())
    store.apply(delta(observed("e1", T0 + 100)))
    rival = ConcurrentWriter(store, rivals=2, tables=tables)
    result = store.apply(delta(observed("e0", T0), observed("e1", T0 + 100)))  # forces the exact path
    assert (result.applied, result.duplicates, rival.sent) == (1, 1, 2)
    aggregate = store.get_aggregate(PAIR)
    assert aggregate is not None
    assert aggregate.interaction_count == 4  # e1, e0 and both rivals, each once
    assert (aggregate.first_ms, aggregate.last_ms) == (T0, T0 + 1002)


def test_an_aggregate_that_never_stops_changing_fails_retryably(tables: dict[str, str]) -> None:
    store = DynamoStore.from_settings(settings.current())
    store.apply(delta(observed("e1", T0 + 100)))
    ConcurrentWriter(store, rivals=100, tables=tables)
    with pytest.raises(StoreError, match="kept changing") as raised:
        store.apply(delta(observed("e0", T0)))
    assert raised.value.retryable
