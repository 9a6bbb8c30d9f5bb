"""One person's data across every table: a page of their events, what an export holds, and the
erasure pass that removes it (part of the DynamoDB adapter).

Everything is found through a key or an index, never a scan: events through the events table's
``by-user`` index, engagements and the contact under ``U#<user_id>`` in the aggregates table,
history under the same key in the history table, tracked links through the links table's
``by-user`` index.

Erasure removes, for what occurred (or was made) before the erasure instant:

* events: deleted; one from an SMS webhook becomes a **tombstone** instead (``pk``, ``erased``,
  ``expires_at``) when its id is derived from the provider's message id: nothing personal is
  left, the person's index entry is gone, and a provider resending the callback after the
  erasure (timed at receipt, so no erasure rule knows it is the person's) meets the id as a
  duplicate;
* engagements (with their funnel stages taken back from the campaign's counters) and the contact
  (with its percentile bucket and band count taken back): each deleted in one transaction with
  the counter updates, guarded by what was read, so a retry never takes a contribution back twice;
* history points and tracked links.

Each pass does what fits its budget and says whether it finished; passes are idempotent, so an
erasure is resumed by asking again.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engagement.domain.contact import ContactState
from engagement.domain.erasure import ErasePass
from engagement.domain.event_types import SMS_SOURCE_PREFIX, EventType
from engagement.domain.expiry import is_expired
from engagement.domain.ids import is_stable_id
from engagement.domain.timefmt import from_ms, rfc3339
from engagement.store.contact_items import (
    BAND,
    BUCKET,
    FUNNEL_COUNTED,
    FUNNEL_SHARDS,
    PERCENTILE_SHARDS,
    funnel_attribute,
    funnel_key,
    is_stretch_item,
    percentile_key,
    shard_of,
)
from engagement.store.items import EXPIRES_AT, PAIR_SK_PREFIX, USER_SK, contact_state_from_item
from engagement.store.overview_counts import BAND_SHARDS, band_key
from engagement.store.wire import (
    ConditionFailed,
    Expression,
    counter_add,
    deserialize,
    query_all,
    serialize,
    translating,
)
from engagement.topology import EVENTS_BY_USER, LINKS_BY_USER

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

ERASED = "erased"
GUARDED_ATTEMPTS = 3


MAX_EVENT_KEY_BYTES = 2048
"""DynamoDB's limit for a partition key: a longer one in a cursor is refused by the service."""
MAX_INSTANT_DIGITS = 16
"""Epoch milliseconds stay under 2^53, 16 digits."""


class InvalidEventsCursor(ValueError):
    """A cursor this API did not return (or one for another person)."""


@dataclass(frozen=True)
class EventsPage:
    events: list[dict[str, Any]]
    cursor: str | None


class PersonStore:
    def __init__(
        self,
        client: DynamoDBClient,
        *,
        events_table: str,
        aggregates_table: str,
        history_table: str,
        links_table: str,
    ) -> None:
        self._client = client
        self._events = events_table
        self._aggregates = aggregates_table
        self._history = history_table
        self._links = links_table

    # ------------------------------------------------------------------- reading

    def events_page(
        self,
        user_id: str,
        *,
        from_ms: int | None,
        to_ms: int | None,
        types: frozenset[EventType],
        cursor: str | None,
        limit: int,
    ) -> EventsPage:
        """The person's events, newest first, one page of the index (filtered by type)."""
        expr = Expression()
        condition = f"{expr.name(EVENTS_BY_USER.partition_key)} = {expr.value(user_id)}"
        if from_ms is not None or to_ms is not None:
            occurred = expr.name(
                EVENTS_BY_USER.sort_key
            )  # named only when used: DynamoDB refuses unused names
            low = expr.value(0 if from_ms is None else from_ms)
            high = expr.value(2**53 if to_ms is None else to_ms)
            condition += f" AND {occurred} BETWEEN {low} AND {high}"
        request: dict[str, Any] = {
            "TableName": self._events,
            "IndexName": EVENTS_BY_USER.name,
            "KeyConditionExpression": condition,
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if types:
            request["FilterExpression"] = (
                f"{expr.name('type')} IN ({', '.join(expr.value(t.value) for t in sorted(types))})"
            )
        start = _decode_cursor(cursor, user_id)
        if start is not None:
            # DynamoDB refuses a start key outside the key condition (a cursor reused with other
            # bounds): that is the client's mistake, so a 422, not the store's 500.
            at = int(start[EVENTS_BY_USER.sort_key]["N"])
            if not (from_ms or 0) <= at <= (2**53 if to_ms is None else to_ms):
                raise InvalidEventsCursor("cursor lies outside from/to: it belongs to other bounds")
            request["ExclusiveStartKey"] = start
        with translating("reading a person's events"):
            page = self._client.query(**request, **expr.params())
        events = [stored_event(deserialize(raw)) for raw in page.get("Items", [])]
        last = page.get("LastEvaluatedKey")
        return EventsPage(events=events, cursor=None if not last else _encode_cursor(last))

    def aggregates(self, user_id: str, *, now_ms: int) -> list[dict[str, Any]]:
        """The contact and every engagement not expired at ``now_ms``, as stored (minus the
        dedupe bookkeeping). An engagement past its expiry is gone to every read, as TTL is
        about to make it; the erasure still deletes it if it is there."""
        items = self._partition(self._aggregates, f"U#{user_id}", "reading a person's aggregates")
        return [
            {k: v for k, v in item.items() if not k.startswith("seen")}
            for item in items
            if not _expired_pair(item, now_ms)
        ]

    def holds_anything(self, user_id: str) -> bool:
        """Whether any item of the person is stored: one key read per table or index."""
        probes = (
            (self._events, EVENTS_BY_USER.name, EVENTS_BY_USER.partition_key, user_id),
            (self._aggregates, None, "pk", f"U#{user_id}"),
            (self._history, None, "pk", f"U#{user_id}"),
            (self._links, LINKS_BY_USER.name, LINKS_BY_USER.partition_key, user_id),
        )
        for table, index, key, value in probes:
            expr = Expression()
            request: dict[str, Any] = {
                "TableName": table,
                "KeyConditionExpression": f"{expr.name(key)} = {expr.value(value)}",
                "Limit": 1,
                **expr.params(),
            }
            if index is not None:
                request["IndexName"] = index
            with translating("looking for a person's data"):
                if self._client.query(**request).get("Items"):
                    return True
        return False

    def contact_state(self, user_id: str) -> ContactState | None:
        """The contact as stored, for what an erasure keeps of it (its opt-out)."""
        expr = Expression()
        pk, sk = expr.name("pk"), expr.name("sk")
        found = query_all(
            self._client,
            "reading a contact",
            TableName=self._aggregates,
            KeyConditionExpression=f"{pk} = {expr.value(f'U#{user_id}')} AND {sk} = {expr.value(USER_SK)}",
            **expr.params(),
        )
        return contact_state_from_item(found[0]) if found else None

    def history(self, user_id: str) -> list[dict[str, Any]]:
        return self._partition(self._history, f"U#{user_id}", "reading a person's history")

    def links(self, user_id: str) -> list[dict[str, Any]]:
        expr = Expression()
        return query_all(
            self._client,
            "reading a person's links",
            TableName=self._links,
            IndexName=LINKS_BY_USER.name,
            KeyConditionExpression=f"{expr.name(LINKS_BY_USER.partition_key)} = {expr.value(user_id)}",
            **expr.params(),
        )

    # ------------------------------------------------------------------- erasing

    def erase_pass(self, user_id: str, *, before_ms: int, has_time: Callable[[], bool]) -> ErasePass:
        """Remove what the person has that began before ``before_ms``, while ``has_time()``;
        ``done`` when nothing of it is left."""
        progress = ErasePass()
        steps = (self._erase_events, self._erase_aggregates, self._erase_history, self._erase_links)
        for step in steps:
            if not step(user_id, before_ms, progress, has_time):
                return progress
        progress.done = True
        return progress

    def _erase_events(
        self, user_id: str, before_ms: int, progress: ErasePass, has_time: Callable[[], bool]
    ) -> bool:
        expr = Expression()
        condition = (
            f"{expr.name(EVENTS_BY_USER.partition_key)} = {expr.value(user_id)} "
            f"AND {expr.name(EVENTS_BY_USER.sort_key)} < {expr.value(before_ms)}"
        )
        start: dict[str, Any] | None = None
        while True:
            request: dict[str, Any] = {
                "TableName": self._events,
                "IndexName": EVENTS_BY_USER.name,
                "KeyConditionExpression": condition,
                "ProjectionExpression": expr.projection(
                    ("pk", "event_id", "source", "expires_at", "type", "occurred_ms", "context")
                ),
                **expr.params(),
            }
            if start:
                request["ExclusiveStartKey"] = start
            with translating("finding a person's events"):
                page = self._client.query(**request)
            for raw in page.get("Items", []):
                if not has_time():
                    return False
                event = deserialize(raw)
                self._erase_event(event)
                progress.add("events")
                context = event.get("context")
                progress.saw(
                    str(event.get("type")),
                    int(event.get("occurred_ms", 0)),
                    None if context is None else str(context),
                )
            start = page.get("LastEvaluatedKey")
            if not start:
                return True

    def _erase_event(self, item: Mapping[str, Any]) -> None:
        """Delete the event, or overwrite it with a tombstone when a provider may send it again
        timed at receipt (after the erasure, so no erasure rule would know it for the person's):
        the id stays taken and the resend is a duplicate. Only an id derived from the provider's
        message id is kept that way: it holds nothing of the person (a client's own id might)."""
        source, event_id = str(item.get("source", "")), str(item.get("event_id", ""))
        provider = source.removeprefix(SMS_SOURCE_PREFIX)
        key = {"pk": item["pk"]}
        with translating("erasing an event"):
            if source.startswith(SMS_SOURCE_PREFIX) and is_stable_id(event_id, provider):
                tombstone: dict[str, Any] = {**key, ERASED: True}
                if item.get("expires_at") is not None:
                    tombstone["expires_at"] = item["expires_at"]  # it goes when the event would have
                self._client.put_item(TableName=self._events, Item=serialize(tombstone))
            else:
                self._client.delete_item(TableName=self._events, Key=serialize(key))

    def _erase_aggregates(
        self, user_id: str, before_ms: int, progress: ErasePass, has_time: Callable[[], bool]
    ) -> bool:
        for item in self._partition(self._aggregates, f"U#{user_id}", "finding a person's aggregates"):
            if not has_time():
                return False
            sk = str(item["sk"])
            if sk != USER_SK and not sk.startswith(PAIR_SK_PREFIX):
                continue
            if int(item.get("first_ms", 0)) >= before_ms:
                continue  # only what happened after the erasure: the person's new data
            kind = "contact" if sk == USER_SK else "engagements"
            if self._delete_guarded(user_id, item, before_ms):
                progress.add(kind)
        return True

    def _delete_guarded(self, user_id: str, item: dict[str, Any], before_ms: int) -> bool:
        """Delete one aggregate with its counters' contributions, in one transaction guarded by
        the attributes those contributions were read from; reread and retry if they moved."""
        current: dict[str, Any] | None = item
        for _ in range(GUARDED_ATTEMPTS):
            if current is None or int(current.get("first_ms", 0)) >= before_ms:
                return False
            try:
                with translating("erasing an aggregate"):
                    self._client.transact_write_items(
                        TransactItems=self._deletion(user_id, current, before_ms)
                    )
                return True
            except ConditionFailed as refused:
                current = refused.items[0] if refused.items else None
        from engagement.domain.errors import StoreError  # noqa: PLC0415

        raise StoreError("an aggregate kept changing while it was being erased", retryable=True)

    def _deletion(
        self, user_id: str, item: Mapping[str, Any], before_ms: int
    ) -> list[TransactWriteItemTypeDef]:
        expr = Expression()
        guards = [
            f"attribute_exists({expr.name('pk')})",
            f"{expr.name('first_ms')} < {expr.value(before_ms)}",
        ]
        counters: list[TransactWriteItemTypeDef] = []
        if str(item["sk"]) == USER_SK:
            bucket, band = item.get(BUCKET), item.get(BAND)
            guards.append(_equals_or_absent(expr, BUCKET, bucket))
            guards.append(_equals_or_absent(expr, BAND, band))
            if bucket is not None:
                key = percentile_key(shard_of(user_id, PERCENTILE_SHARDS), int(bucket))
                counters.append(counter_add(self._aggregates, key, {"n": -1}))
            if band is not None:
                band_counts = band_key(shard_of(user_id, BAND_SHARDS))
                counters.append(counter_add(self._aggregates, band_counts, {f"n_{band}": -1}))
        else:
            stages = sorted(str(s) for s in item.get(FUNNEL_COUNTED, ()))
            counted = expr.name(FUNNEL_COUNTED)
            # Stages only ever grow, so the same size means the same set.
            guards.append(
                f"size({counted}) = {expr.value(len(stages))}"
                if stages
                else f"attribute_not_exists({counted})"
            )
            if stages:
                item_id = str(item["sk"]).removeprefix(PAIR_SK_PREFIX)
                key = funnel_key(item_id, shard_of(user_id, FUNNEL_SHARDS))
                steps = {funnel_attribute(EventType(s)): -1 for s in stages}
                counters.append(counter_add(self._aggregates, key, steps))
        deletion: TransactWriteItemTypeDef = {
            "Delete": {
                "TableName": self._aggregates,
                "Key": serialize({"pk": item["pk"], "sk": item["sk"]}),
                "ConditionExpression": " AND ".join(guards),
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                **expr.params(),  # type: ignore[typeddict-item]
            }
        }
        return [deletion, *counters]

    def _erase_history(
        self, user_id: str, before_ms: int, progress: ErasePass, has_time: Callable[[], bool]
    ) -> bool:
        last_day = from_ms(before_ms).date().isoformat()
        for item in self._partition(self._history, f"U#{user_id}", "finding a person's history"):
            if not has_time():
                return False
            # What came after the erasure's instant stays: a stretch whose state began after it
            # (a person who came back), a point stored by a run after it.
            began = item.get("first_ms") if is_stretch_item(item) else None
            if began is not None:
                if int(began) >= before_ms:
                    continue
            elif str(item["sk"]).partition("#")[2] > last_day:  # a point, or a gap
                continue
            with translating("erasing a history item"):
                self._client.delete_item(
                    TableName=self._history, Key=serialize({"pk": item["pk"], "sk": item["sk"]})
                )
            progress.add("history")
        return True

    def _erase_links(
        self, user_id: str, before_ms: int, progress: ErasePass, has_time: Callable[[], bool]
    ) -> bool:
        before = rfc3339(from_ms(before_ms))
        for item in self.links(user_id):
            if not has_time():
                return False
            if str(item.get(LINKS_BY_USER.sort_key, "")) >= before:
                continue  # made after the erasure: the person's new data
            with translating("erasing a link"):
                self._client.delete_item(TableName=self._links, Key=serialize({"pk": item["pk"]}))
            progress.add("links")
        return True

    def _partition(self, table: str, pk: str, doing: str) -> list[dict[str, Any]]:
        expr = Expression()
        return query_all(
            self._client,
            doing,
            TableName=table,
            KeyConditionExpression=f"{expr.name('pk')} = {expr.value(pk)}",
            **expr.params(),
        )


def _equals_or_absent(expr: Expression, attribute: str, value: Any) -> str:
    name = expr.name(attribute)
    return f"attribute_not_exists({name})" if value is None else f"{name} = {expr.value(value)}"


def stored_event(item: Mapping[str, Any]) -> dict[str, Any]:
    """An event as the API shows it: the fields a client sent, plus when it was received."""
    metadata = item.get("metadata")
    value = item.get("value")
    return {
        "event_id": str(item["event_id"]),
        "type": str(item["type"]),
        "item_id": str(item["item_id"]),
        "occurred_at": str(item["occurred_at"]),
        "value": None if value is None else value,
        "context": None if item.get("context") is None else str(item["context"]),
        "source": str(item.get("source", "api")),
        "received_at": None if item.get("received_at") is None else str(item["received_at"]),
        "metadata": None if metadata is None else json.loads(str(metadata)),
    }


def _encode_cursor(last: Mapping[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(last, separators=(",", ":")).encode()).decode().rstrip("=")


def _expired_pair(item: Mapping[str, Any], now_ms: int) -> bool:
    if not str(item.get("sk", "")).startswith(PAIR_SK_PREFIX):
        return False
    expires_at = item.get(EXPIRES_AT)
    return is_expired(None if expires_at is None else int(expires_at), int(item["last_ms"]), now_ms)


def _decode_cursor(cursor: str | None, user_id: str) -> dict[str, Any] | None:
    """The page's start key, when it is exactly one this API returned for this person."""
    if not cursor:
        return None
    try:
        start = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error) as exc:
        raise InvalidEventsCursor("cursor is not one this API returned") from exc
    keys = {"pk", EVENTS_BY_USER.partition_key, EVENTS_BY_USER.sort_key}
    if not isinstance(start, dict) or set(start) != keys:
        raise InvalidEventsCursor("cursor is not one this API returned")
    pk, user, occurred = start["pk"], start[EVENTS_BY_USER.partition_key], start[EVENTS_BY_USER.sort_key]
    valid = (
        isinstance(pk, dict)
        and set(pk) == {"S"}
        and isinstance(pk["S"], str)
        and pk["S"].startswith("E#")
        and len(pk["S"].encode()) <= MAX_EVENT_KEY_BYTES
        and user == {"S": user_id}
        and isinstance(occurred, dict)
        and set(occurred) == {"N"}
        and isinstance(occurred["N"], str)
        # ASCII digits only ("²" is a digit to str.isdigit), and no more than an instant needs.
        and occurred["N"].isascii()
        and occurred["N"].isdigit()
        and len(occurred["N"]) <= MAX_INSTANT_DIGITS
    )
    if not valid:
        raise InvalidEventsCursor("cursor is not one this API returned")
    return dict(start)
