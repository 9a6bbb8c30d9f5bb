"""How a delta becomes one ``UpdateItem``: the expression that adds it to its aggregate.

Everything added is commutative (counts, sums, forward-decay accumulators, dedupe tokens), so
the fast path needs no read. What is not commutative in a plain SET (earliest and latest
occurrence, overall and per type, and the opt-out keyword that goes with the latest opt-out)
is guarded by conditions instead: the fast write only goes through when the delta moves each
bound in the direction a SET can express, and otherwise the store reads the item and writes
exact bounds under the item's version (``ExactBounds``).

Per-type bounds and decay accumulators live on the per-user aggregate only: the contact
profile reads them, the (user, item) engagements do not need them and stay small.

The same write keeps maintenance free of scans, at no extra request: an engagement gets its
expiry (the TTL attribute, from the last interaction the write leaves), a contact becomes due
in the daily run (its percentile key and score moved, so a bucket move and a history point are
waiting; the run then schedules the next change the score function predicts).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engagement.domain.aggregates import AggregateDelta, ObservedEvent
from engagement.domain.decay import TD_DECAY
from engagement.domain.event_types import EventType
from engagement.domain.expiry import expires_at_s
from engagement.store.dedupe import DedupeRing
from engagement.store.items import (
    COUNT_PREFIX,
    DUE_MS,
    DUE_PK,
    EXPIRES_AT,
    FIRST_PREFIX,
    LAST_PREFIX,
    OPT_OUT_REASON,
    SEEN_MS,
    UNSEEN_MS,
    decay_attribute,
    due_partition,
)
from engagement.store.wire import Expression

DUE_NOW = 0
"""The due instant of a contact that new events reached: before any run."""
MAX_EXPRESSION_CHARS = 4096
"""DynamoDB's limit on each expression string."""


@dataclass(frozen=True)
class TypeBounds:
    first_ms: int
    last_ms: int


@dataclass(frozen=True)
class ExactBounds:
    """Values for a write made after reading the item: bounds computed, version pinned."""

    first_ms: int
    last_ms: int
    version: int | None
    by_type: dict[EventType, TypeBounds] = field(default_factory=dict)
    """Per-type bounds this write sets (per-user aggregates only)."""
    opt_out_reason: str | None = None
    """Set when this write carries the newest opt-out."""

    @classmethod
    def after(cls, current: Mapping[str, Any] | None, fresh: AggregateDelta) -> ExactBounds:
        current = current or {}
        by_type: dict[EventType, TypeBounds] = {}
        reason = None
        if fresh.key.item_id is None:
            for event_type, (first, last) in _type_bounds(fresh).items():
                stored_first = current.get(FIRST_PREFIX + event_type.value)
                stored_last = current.get(LAST_PREFIX + event_type.value)
                by_type[event_type] = TypeBounds(
                    first_ms=first if stored_first is None else min(int(stored_first), first),
                    last_ms=last if stored_last is None else max(int(stored_last), last),
                )
            latest = fresh.latest(EventType.OPTED_OUT)
            stored = current.get(LAST_PREFIX + EventType.OPTED_OUT.value)
            if latest is not None and (stored is None or latest.occurred_ms >= int(stored)):
                reason = _reason(latest)
        return cls(
            first_ms=min(int(current.get("first_ms", fresh.first_ms)), fresh.first_ms),
            last_ms=max(int(current.get("last_ms", fresh.last_ms)), fresh.last_ms),
            version=int(current["ver"]) if "ver" in current else None,
            by_type=by_type,
            opt_out_reason=reason,
        )


def update_request(delta: AggregateDelta, *, exact: ExactBounds | None, ring: DedupeRing) -> dict[str, Any]:
    """``UpdateExpression``, ``ConditionExpression`` and placeholders adding ``delta`` once.

    ``exact`` None builds the fast path (conditions on unseen tokens and on bounds); otherwise
    the write after a read (exact bounds, version condition).
    """
    expr = Expression()
    adds, unseen = _additions(expr, delta, ring, guarded=exact is None)
    sets = [f"{expr.name('uid')} = {expr.value(delta.key.user_id)}"]
    if delta.key.item_id is not None:
        sets.append(f"{expr.name('iid')} = {expr.value(delta.key.item_id)}")
    if exact is None:
        bound_sets, conditions = _guarded_bounds(expr, delta)
        sets += bound_sets
        conditions += unseen
        last_ms = delta.last_ms  # the guard above makes it the item's last interaction after the write
    else:
        sets += _exact_bounds(expr, exact)
        conditions = [
            "attribute_not_exists(pk)"
            if exact.version is None
            else f"{expr.name('ver')} = {expr.value(exact.version)}"
        ]
        last_ms = exact.last_ms
    if delta.key.item_id is not None:
        sets.append(f"{expr.name(EXPIRES_AT)} = {expr.value(expires_at_s(last_ms))}")
    else:
        # Due at the next daily run, whatever its instant: 0 sorts before every run (a
        # constant, not the events' time). And when the scorer first and last applied events no
        # run has recorded: the contact's history takes the new state from the first run after
        # them (``domain.history``). Those two say when, not what: how the batches were cut
        # moves them, and nothing that counts engagement reads them.
        first_unseen = expr.name(UNSEEN_MS)
        sets += [
            f"{expr.name(DUE_PK)} = {expr.value(due_partition(delta.key.user_id))}",
            f"{expr.name(DUE_MS)} = {expr.value(DUE_NOW)}",
            f"{first_unseen} = if_not_exists({first_unseen}, {expr.value(delta.first_seen_ms)})",
            f"{expr.name(SEEN_MS)} = {expr.value(delta.last_seen_ms)}",
        ]
    update = f"ADD {', '.join(adds)} SET {', '.join(sets)}"
    stale = ring.stale_slot(delta.events)
    if stale is not None:
        update += f" REMOVE {expr.name(ring.attribute(stale))}"
    return {"UpdateExpression": update, "ConditionExpression": " AND ".join(conditions), **expr.params()}


def _additions(
    expr: Expression, delta: AggregateDelta, ring: DedupeRing, *, guarded: bool
) -> tuple[list[str], list[str]]:
    """The ADD clauses (counts, sums, accumulators, tokens) and, when ``guarded``, a "not seen"
    condition per event (after a read, the version check already excludes seen events, and
    DynamoDB refuses placeholders an expression does not use)."""
    adds = [
        f"{expr.name(COUNT_PREFIX + event_type.value)} {expr.value(count)}"
        for event_type, count in delta.counts.items()
    ]
    if delta.value_sum:
        adds.append(f"{expr.name('vsum')} {expr.value(delta.value_sum)}")
    adds.append(f"{expr.name('ver')} {expr.value(1)}")
    if delta.key.item_id is None:
        adds += [
            f"{expr.name(decay_attribute(event_type, epoch))} {expr.value(increment)}"
            for (event_type, epoch), increment in _decay_increments(delta).items()
        ]
    tokens_by_slot: dict[int, set[bytes]] = {}
    for event in delta.events:
        tokens_by_slot.setdefault(ring.slot(event), set()).add(ring.token(event.event_id))
    unseen: list[str] = []
    for slot, tokens in sorted(tokens_by_slot.items()):
        attr = expr.name(ring.attribute(slot))
        adds.append(f"{attr} {expr.value(tokens)}")
        if guarded:
            unseen.extend(f"NOT contains({attr}, {expr.value(token)})" for token in sorted(tokens))
    return adds, unseen


def _guarded_bounds(expr: Expression, delta: AggregateDelta) -> tuple[list[str], list[str]]:
    """SETs for the bounds, valid only under the conditions returned with them: the delta
    extends each bound forward in time (or creates it)."""
    contact = delta.key.item_id is None
    bounds: dict[EventType | None, tuple[int, int]] = {None: (delta.first_ms, delta.last_ms)}
    if contact:
        bounds.update(_type_bounds(delta).items())
    sets: list[str] = []
    conditions: list[str] = []
    for event_type, (first_ms, last_ms) in bounds.items():
        first = expr.name("first_ms" if event_type is None else FIRST_PREFIX + event_type.value)
        last = expr.name("last_ms" if event_type is None else LAST_PREFIX + event_type.value)
        low, high = expr.value(first_ms), expr.value(last_ms)
        sets += [f"{first} = if_not_exists({first}, {low})", f"{last} = {high}"]
        conditions += [
            f"(attribute_not_exists({last}) OR {last} <= {high})",
            f"(attribute_not_exists({first}) OR {first} <= {low})",
        ]
    latest_opt_out = delta.latest(EventType.OPTED_OUT) if contact else None
    if latest_opt_out is not None:
        # The condition on lt_opted_out above guarantees this is the newest opt-out.
        sets.append(f"{expr.name(OPT_OUT_REASON)} = {expr.value(_reason(latest_opt_out))}")
    return sets, conditions


def _exact_bounds(expr: Expression, exact: ExactBounds) -> list[str]:
    sets = [
        f"{expr.name('first_ms')} = {expr.value(exact.first_ms)}",
        f"{expr.name('last_ms')} = {expr.value(exact.last_ms)}",
    ]
    for event_type, type_bounds in exact.by_type.items():
        sets += [
            f"{expr.name(FIRST_PREFIX + event_type.value)} = {expr.value(type_bounds.first_ms)}",
            f"{expr.name(LAST_PREFIX + event_type.value)} = {expr.value(type_bounds.last_ms)}",
        ]
    if exact.opt_out_reason is not None:
        sets.append(f"{expr.name(OPT_OUT_REASON)} = {expr.value(exact.opt_out_reason)}")
    return sets


def _type_bounds(delta: AggregateDelta) -> dict[EventType, tuple[int, int]]:
    bounds: dict[EventType, tuple[int, int]] = {}
    for event in delta.events:
        first, last = bounds.get(event.type, (event.occurred_ms, event.occurred_ms))
        bounds[event.type] = (min(first, event.occurred_ms), max(last, event.occurred_ms))
    return bounds


def _decay_increments(delta: AggregateDelta) -> dict[tuple[EventType, int], int]:
    increments: dict[tuple[EventType, int], int] = {}
    for event in delta.events:
        epoch, increment = TD_DECAY.increment(event.occurred_ms)
        key = (event.type, epoch)
        increments[key] = increments.get(key, 0) + increment
    return increments


def _reason(opt_out: ObservedEvent) -> str:
    return opt_out.detail or opt_out.type.value
