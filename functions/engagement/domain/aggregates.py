"""Aggregates: what the scorer maintains per (user, item) and per user, and how a batch folds in.

Every field is commutative (counts, sums, min, max), so the order in which events arrive does
not matter; only applying an event twice would, and the store filters duplicates.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal

from engagement.domain.event_types import SUPPRESSION_TYPES, EventType


@dataclass(frozen=True)
class AggregateKey:
    """``item_id`` None means the per-user aggregate."""

    user_id: str
    item_id: str | None = None


@dataclass(frozen=True)
class ObservedEvent:
    """An event as the scorer sees it on the stream.

    ``recorded_s`` is the stream record's creation time (epoch seconds). Lambda measures a
    record's age from it, so it bounds how long a redelivery can arrive after the first one.
    """

    event_id: str
    user_id: str
    item_id: str
    type: EventType
    occurred_ms: int
    value: Decimal | None
    recorded_s: int
    detail: str | None = None
    """The event's context: for an opt-out, the keyword or error code that caused it."""


@dataclass(frozen=True)
class AggregateDelta:
    """The contribution of some events to one aggregate."""

    key: AggregateKey
    events: tuple[ObservedEvent, ...]
    applied_ms: int | None = None
    """When the scorer applies it, on its clock (None: when its events reached the log). A
    contact keeps the earliest such instant since the daily run last recorded its state: its
    history takes the new state from the next run after it (``domain.history``)."""

    @property
    def counts(self) -> dict[EventType, int]:
        counts: dict[EventType, int] = {}
        for event in self.events:
            counts[event.type] = counts.get(event.type, 0) + 1
        return counts

    @property
    def value_sum(self) -> Decimal:
        return sum((e.value for e in self.events if e.value is not None), Decimal(0))

    @property
    def first_ms(self) -> int:
        return min(e.occurred_ms for e in self.events)

    @property
    def last_ms(self) -> int:
        return max(e.occurred_ms for e in self.events)

    @property
    def tracks_suppression(self) -> bool:
        return any(e.type in SUPPRESSION_TYPES for e in self.events)

    def latest(self, event_type: EventType) -> ObservedEvent | None:
        """The most recent event of a type (ties broken by id, so the choice is deterministic)."""
        found = [e for e in self.events if e.type is event_type]
        return max(found, key=lambda e: (e.occurred_ms, e.event_id)) if found else None

    def without(self, event_ids: set[str]) -> AggregateDelta:
        return replace(self, events=tuple(e for e in self.events if e.event_id not in event_ids))

    @property
    def first_seen_ms(self) -> int:
        """When the system held these events: the scorer's instant, or their first arrival."""
        if self.applied_ms is not None:
            return self.applied_ms
        return min(e.recorded_s for e in self.events) * 1000

    @property
    def last_seen_ms(self) -> int:
        """The scorer's instant, or their last arrival."""
        if self.applied_ms is not None:
            return self.applied_ms
        return max(e.recorded_s for e in self.events) * 1000


@dataclass(frozen=True)
class Aggregate:
    """The stored state of one aggregate, as read back for scoring."""

    key: AggregateKey
    counts: dict[EventType, int]
    value_sum: Decimal
    first_ms: int
    last_ms: int
    expires_at: int | None = None
    """(user, item) engagements: when the cleanup rule holds (epoch seconds, the TTL attribute;
    ``domain.expiry``). None on items written before expiries were stored."""
    last_by_type: dict[EventType, int] | None = None
    """Latest occurrence (epoch ms) of the suppression types, on the per-user aggregate."""
    opt_out_reason: str | None = None

    @property
    def interaction_count(self) -> int:
        return sum(self.counts.values())

    @property
    def suppression(self) -> Suppression | None:
        """Suppressed while the latest opt-out is newer than the latest opt-in."""
        last = self.last_by_type or {}
        opted_out = last.get(EventType.OPTED_OUT)
        if opted_out is None or opted_out <= last.get(EventType.OPTED_IN, -1):
            return None
        return Suppression(since_ms=opted_out, reason=self.opt_out_reason)


@dataclass(frozen=True)
class Suppression:
    since_ms: int
    reason: str | None


def plan_batch(events: Iterable[ObservedEvent], *, applied_ms: int | None = None) -> list[AggregateDelta]:
    """Fold a batch into one delta per aggregate touched: one write each, not one per event.

    Pair deltas come first, then user deltas, each in first-seen order, so a run is
    deterministic. An event id seen twice in one batch counts once.
    """
    pairs: dict[AggregateKey, list[ObservedEvent]] = {}
    users: dict[AggregateKey, list[ObservedEvent]] = {}
    seen: set[str] = set()
    for event in events:
        if event.event_id in seen:
            continue
        seen.add(event.event_id)
        pairs.setdefault(AggregateKey(event.user_id, event.item_id), []).append(event)
        users.setdefault(AggregateKey(event.user_id), []).append(event)
    return [AggregateDelta(key, tuple(group), applied_ms) for key, group in (*pairs.items(), *users.items())]
