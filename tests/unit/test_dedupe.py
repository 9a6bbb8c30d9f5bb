"""The dedupe ring must never forget an event while Lambda may still redeliver it."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from engagement.domain.aggregates import ObservedEvent
from engagement.domain.events import EventType
from engagement.store.dedupe import CLOCK_MARGIN_S, SLOTS, WINDOW_S, DedupeRing
from engagement.topology import TOPOLOGY

MAPPING = TOPOLOGY.stream_mapping_for("scorer")


def observed(event_id: str, recorded_s: int) -> ObservedEvent:
    return ObservedEvent(event_id, "u", "i", EventType.QUERY, 0, None, recorded_s)


def test_the_window_outlasts_the_mappings_maximum_record_age() -> None:
    assert DedupeRing.for_mapping(MAPPING).window_s >= MAPPING.max_record_age_s + CLOCK_MARGIN_S


def test_a_mapping_that_keeps_records_longer_than_the_window_is_refused() -> None:
    longer = replace(MAPPING, max_record_age_s=WINDOW_S)
    with pytest.raises(ValueError, match="dedupe window"):
        DedupeRing.for_mapping(longer)


def test_tokens_are_short_and_distinct() -> None:
    tokens = {DedupeRing.token(f"ev_{n}") for n in range(100_000)}
    assert len(tokens) == 100_000
    assert all(len(t) == 8 for t in tokens)


def test_a_write_never_clears_a_slot_it_writes_to() -> None:
    ring = DedupeRing(window_s=100)
    events = [observed("a", 0), observed("b", 250)]  # windows 0 and 2: the stale slot of window 2 is 0
    assert ring.stale_slot(events) is None


@pytest.mark.parametrize("seed", range(20))
def test_simulated_redeliveries_are_always_caught_and_fresh_events_never_refused(seed: int) -> None:
    """Model the item's slots and Lambda's rule (a record older than the maximum age is never
    delivered), replay random batches from several lagging shards, and check every decision."""
    rng = random.Random(seed)
    max_age = MAPPING.max_record_age_s
    ring = DedupeRing.for_mapping(MAPPING)
    slots: dict[int, set[str]] = {s: set() for s in range(SLOTS)}
    applied: dict[str, int] = {}  # event id -> recorded_s
    now, next_id = 0, 0
    for _ in range(400):
        now += rng.randint(0, max_age // 3)
        batch: list[ObservedEvent] = []
        for _ in range(rng.randint(1, 6)):
            next_id += 1
            batch.append(observed(f"e{next_id}", now - rng.randint(0, max_age)))  # a lagging shard
        deliverable = [(e, t) for e, t in applied.items() if now - t <= max_age]
        batch += [
            observed(e, t) for e, t in rng.sample(deliverable, min(len(deliverable), rng.randint(0, 4)))
        ]

        seen = {e.event_id for e in batch if ring.token(e.event_id) in slots[ring.slot(e)]}
        assert seen == {e.event_id for e in batch if e.event_id in applied}
        fresh = [e for e in batch if e.event_id not in seen]
        if not fresh:
            continue
        for event in fresh:
            slots[ring.slot(event)].add(ring.token(event.event_id))
            applied[event.event_id] = event.recorded_s
        stale = ring.stale_slot(fresh)
        if stale is not None:
            slots[stale].clear()
