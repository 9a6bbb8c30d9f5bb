"""Item layouts of both tables, and the conversions between items and domain objects.

Pure: works on plain Python values (the shapes boto3's TypeDeserializer and Powertools'
stream data classes produce), so the scorer can decode stream images without a client.

events table (stream on, TTL ``expires_at``)
    pk = "E#<event_id>"      one item per event; the conditional put makes event ids unique

aggregates table (no stream, so the scorer's own writes can never retrigger it)
    pk = "U#<user_id>"  sk = "I#<item_id>"   per (user, item) aggregate
    pk = "U#<user_id>"  sk = "#USER"         per-user aggregate
    c_<type>        count per event type
    vsum            sum of conversion values
    first_ms        earliest occurred_at (epoch ms)
    last_ms         latest occurred_at (epoch ms)
    ver             bumped by every write; guards the read-modify-write fallback
    seen0..seen3    dedupe tokens of recently applied events (see ``store.dedupe``)
  per-(user, item) aggregate only:
    expires_at      TTL (epoch seconds): when the cleanup rule holds with no further event
                    (``domain.expiry``); every write sets it again, reads treat it as gone after
  per-user aggregate only (the contact profile's inputs; see ``store.aggregate_writes``):
    ft_<type>, lt_<type>    earliest / latest occurrence of each event type (epoch ms); the latest
                    opt-out against the latest opt-in says whether the contact is suppressed
    opt_reason      the newest opt-out's keyword or error code
    due_pk, due_ms  the due index's keys: "D#<shard>" and the instant of the contact's next
                    observable change (``domain.maintenance``); the scorer sets it to 0 (due
                    at the next run), the daily run to what the score function says
    unseen_ms, unseen_last_ms  when the scorer first and last applied events the daily run has not
                    recorded (epoch ms; the first set if absent, the last always; both removed
                    by the run that records the contact's new history stretch:
                    ``domain.history``)
    fd_<type>_<epoch>   forward-decay accumulator of the type's events in that epoch
                    (``domain.decay``); weights are applied when read, never stored

links table (TTL ``expires_at``)
    pk = "L#<link id>"   url, user_id, campaign, created_at; expired links are refused on read
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from engagement.domain.aggregates import Aggregate, AggregateKey, ObservedEvent
from engagement.domain.contact import ContactState
from engagement.domain.event_types import SUPPRESSION_TYPES, EventType
from engagement.domain.links import Link
from engagement.domain.timefmt import from_ms, parse_rfc3339, rfc3339, to_ms
from engagement.topology import DUE_SHARDS

if TYPE_CHECKING:
    # Only ingest builds event items; the other functions never import pydantic through here.
    from engagement.domain.events import EngagementEvent

USER_SK = "#USER"
PAIR_SK_PREFIX = "I#"
COUNT_PREFIX = "c_"

# Attributes a read needs; the dedupe sets can be large and are never projected.
FIRST_PREFIX = "ft_"
LAST_PREFIX = "lt_"
DECAY_PREFIX = "fd_"
OPT_OUT_REASON = "opt_reason"
EXPIRES_AT = "expires_at"
DUE_PK, DUE_MS = "due_pk", "due_ms"
UNSEEN_MS, SEEN_MS = "unseen_ms", "unseen_last_ms"
AGGREGATE_PROJECTION = [
    "pk",
    "sk",
    "first_ms",
    "last_ms",
    "vsum",
    EXPIRES_AT,
    OPT_OUT_REASON,
    *(f"{COUNT_PREFIX}{t.value}" for t in EventType),
    *(f"{LAST_PREFIX}{t.value}" for t in sorted(SUPPRESSION_TYPES)),
]


def due_partition(user_id: str) -> str:
    """The due index's partition for a contact: one of ``DUE_SHARDS``, always the same one
    (blake2b: ``hash()`` is salted per process)."""
    digest = hashlib.blake2b(user_id.encode(), digest_size=4).digest()
    return f"D#{int.from_bytes(digest, 'big') % DUE_SHARDS}"


def due_shard_partition(shard: int) -> str:
    return f"D#{shard}"


def decay_attribute(event_type: EventType, epoch: int) -> str:
    return f"{DECAY_PREFIX}{event_type.value}_{epoch}"


def event_pk(event_id: str) -> str:
    return f"E#{event_id}"


def aggregate_key_attrs(key: AggregateKey) -> dict[str, str]:
    sk = USER_SK if key.item_id is None else f"{PAIR_SK_PREFIX}{key.item_id}"
    return {"pk": f"U#{key.user_id}", "sk": sk}


def link_item(link: Link) -> dict[str, Any]:
    return {
        "pk": f"L#{link.id}",
        "url": link.url,
        "user_id": link.user_id,
        "campaign": link.campaign,
        "created_at": rfc3339(link.created_at),
        "expires_at": to_ms(link.expires_at) // 1000,
    }


def link_from_item(item: Mapping[str, Any]) -> Link:
    return Link(
        id=str(item["pk"]).removeprefix("L#"),
        url=str(item["url"]),
        user_id=str(item["user_id"]),
        campaign=str(item["campaign"]),
        created_at=parse_rfc3339(str(item["created_at"])),
        expires_at=from_ms(int(item["expires_at"]) * 1000),
    )


def event_item(event: EngagementEvent, *, received_at: datetime, expires_at_s: int) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": event_pk(event.event_id),
        "event_id": event.event_id,
        "user_id": event.user_id,
        "item_id": event.item_id,
        "type": event.type.value,
        "occurred_at": rfc3339(event.occurred_at),
        "occurred_ms": to_ms(event.occurred_at),
        "source": event.source,
        "received_at": rfc3339(received_at),
        "expires_at": expires_at_s,
    }
    if event.value is not None:
        item["value"] = event.value
    if event.context is not None:
        item["context"] = event.context
    if event.metadata is not None:
        # Stored as JSON text: exact round trip, and DynamoDB never sees a float.
        item["metadata"] = json.dumps(event.metadata, separators=(",", ":"), ensure_ascii=False)
    return item


def observed_event(image: Mapping[str, Any], recorded_s: int) -> ObservedEvent:
    """Decode an events-table stream image. Raises ``ValueError`` on a malformed image."""
    try:
        value = image.get("value")
        return ObservedEvent(
            event_id=str(image["event_id"]),
            user_id=str(image["user_id"]),
            item_id=str(image["item_id"]),
            type=EventType(image["type"]),
            occurred_ms=int(image["occurred_ms"]),
            value=None if value is None else Decimal(value),
            recorded_s=recorded_s,
            detail=None if image.get("context") is None else str(image["context"]),
        )
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise ValueError(f"malformed event image: {exc!r}") from exc


def aggregate_from_item(item: Mapping[str, Any]) -> Aggregate:
    pk, sk = str(item["pk"]), str(item["sk"])
    item_id = None if sk == USER_SK else sk.removeprefix(PAIR_SK_PREFIX)
    counts = {
        t: int(item[f"{COUNT_PREFIX}{t.value}"])
        for t in EventType
        if int(item.get(f"{COUNT_PREFIX}{t.value}", 0)) > 0
    }
    expires_at = item.get(EXPIRES_AT)
    last_by_type = {
        t: int(item[f"{LAST_PREFIX}{t.value}"])
        for t in SUPPRESSION_TYPES
        if f"{LAST_PREFIX}{t.value}" in item
    }
    return Aggregate(
        key=AggregateKey(user_id=pk.removeprefix("U#"), item_id=item_id),
        counts=counts,
        value_sum=Decimal(item.get("vsum", 0)),
        first_ms=int(item["first_ms"]),
        last_ms=int(item["last_ms"]),
        expires_at=None if expires_at is None or item_id is None else int(expires_at),
        last_by_type=last_by_type or None,
        opt_out_reason=None if item.get(OPT_OUT_REASON) is None else str(item[OPT_OUT_REASON]),
    )


def contact_state_attributes(state: ContactState) -> dict[str, Any]:
    """The per-user aggregate's attributes that hold ``state``, keys included: what
    ``contact_state_from_item`` reads back as the same state (a history stretch stores them)."""
    item: dict[str, Any] = {
        "pk": f"U#{state.user_id}",
        "sk": USER_SK,
        "uid": state.user_id,
        "first_ms": state.first_ms,
        "last_ms": state.last_ms,
    }
    if state.value_sum:
        item["vsum"] = Decimal(state.value_sum)
    if state.opt_out_reason is not None:
        item[OPT_OUT_REASON] = state.opt_out_reason
    for event_type, count in state.counts.items():
        item[f"{COUNT_PREFIX}{event_type.value}"] = count
    for event_type, first in state.first_by_type.items():
        item[f"{FIRST_PREFIX}{event_type.value}"] = first
    for event_type, last in state.last_by_type.items():
        item[f"{LAST_PREFIX}{event_type.value}"] = last
    for event_type, epochs in state.decay_accumulators.items():
        for epoch, units in epochs.items():
            item[decay_attribute(event_type, epoch)] = int(units)
    return item


def contact_state_from_item(item: Mapping[str, Any]) -> ContactState:
    """The contact read model from a per-user aggregate item (any projection holding its
    counts, bounds and accumulators)."""
    counts: dict[EventType, int] = {}
    first_by_type: dict[EventType, int] = {}
    last_by_type: dict[EventType, int] = {}
    accumulators: dict[EventType, dict[int, int]] = {}
    for event_type in EventType:
        count = int(item.get(f"{COUNT_PREFIX}{event_type.value}", 0))
        if count > 0:
            counts[event_type] = count
        if (first := item.get(f"{FIRST_PREFIX}{event_type.value}")) is not None:
            first_by_type[event_type] = int(first)
        if (last := item.get(f"{LAST_PREFIX}{event_type.value}")) is not None:
            last_by_type[event_type] = int(last)
    for attribute, value in item.items():
        if attribute.startswith(DECAY_PREFIX):
            type_name, _, epoch = attribute.removeprefix(DECAY_PREFIX).rpartition("_")
            accumulators.setdefault(EventType(type_name), {})[int(epoch)] = int(value)
    return ContactState(
        user_id=str(item["pk"]).removeprefix("U#"),
        counts=counts,
        value_sum=Decimal(item.get("vsum", 0)),
        first_ms=int(item["first_ms"]),
        last_ms=int(item["last_ms"]),
        first_by_type=first_by_type,
        last_by_type=last_by_type,
        decay_accumulators=accumulators,
        opt_out_reason=None if item.get(OPT_OUT_REASON) is None else str(item[OPT_OUT_REASON]),
    )
