from __future__ import annotations

from decimal import Decimal

from engagement.domain.aggregates import AggregateKey, ObservedEvent, plan_batch
from engagement.domain.events import EventType


def observed(
    event_id: str,
    user: str,
    item: str,
    kind: EventType = EventType.QUERY,
    ms: int = 0,
    value: str | None = None,
) -> ObservedEvent:
    return ObservedEvent(
        event_id, user, item, kind, ms, None if value is None else Decimal(value), recorded_s=0
    )


def test_a_batch_becomes_one_delta_per_aggregate_touched() -> None:
    deltas = plan_batch(
        [
            observed("e1", "u1", "A", ms=10),
            observed("e2", "u1", "A", EventType.VIEW, ms=30),
            observed("e3", "u1", "B", ms=20),
            observed("e4", "u2", "A", ms=5),
        ]
    )
    by_key = {d.key: d for d in deltas}
    assert set(by_key) == {
        AggregateKey("u1", "A"),
        AggregateKey("u1", "B"),
        AggregateKey("u2", "A"),
        AggregateKey("u1"),
        AggregateKey("u2"),
    }
    pair = by_key[AggregateKey("u1", "A")]
    assert pair.counts == {EventType.QUERY: 1, EventType.VIEW: 1}
    assert (pair.first_ms, pair.last_ms) == (10, 30)
    user = by_key[AggregateKey("u1")]
    assert user.counts == {EventType.QUERY: 2, EventType.VIEW: 1}
    assert (user.first_ms, user.last_ms) == (10, 30)


def test_pairs_come_before_users_so_the_order_is_deterministic() -> None:
    deltas = plan_batch([observed("e1", "u1", "A"), observed("e2", "u2", "B")])
    assert [d.key.item_id is not None for d in deltas] == [True, True, False, False]


def test_an_event_id_repeated_within_a_batch_counts_once() -> None:
    deltas = plan_batch([observed("e1", "u1", "A"), observed("e1", "u1", "A")])
    assert all(len(d.events) == 1 for d in deltas)


def test_conversion_values_are_summed_exactly() -> None:
    deltas = plan_batch(
        [
            observed("e1", "u1", "C", EventType.CONVERTED, value="0.1"),
            observed("e2", "u1", "C", EventType.CONVERTED, value="0.2"),
        ]
    )
    assert deltas[0].value_sum == Decimal("0.3")


def test_without_drops_only_the_named_events() -> None:
    delta = plan_batch([observed("e1", "u1", "A", ms=1), observed("e2", "u1", "A", ms=2)])[0]
    rest = delta.without({"e1"})
    assert [e.event_id for e in rest.events] == ["e2"]
    assert rest.first_ms == 2
