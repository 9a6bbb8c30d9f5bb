"""The store's contact side: percentile histogram, bands and segments, funnels, history, and a
contact's latest events. Part of the DynamoDB adapter (``DynamoStore.contacts``); the item
layouts are in ``store.contact_items``.

Moves that must stay consistent with the contact's aggregate (a percentile bucket, a funnel
stage) are transactions guarded by the derived attribute they update: a retried or concurrent
reconciliation finds the guard already moved and writes nothing, so nothing is counted twice.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from engagement.domain.aggregates import AggregateKey, ObservedEvent
from engagement.domain.contact_records import (
    BandTransition,
    ContactRecord,
    PairStages,
    SegmentMember,
    SegmentPage,
    StoredHistory,
    Stretch,
    stretch_expires_at_s,
)
from engagement.domain.decay import MS_PER_DAY
from engagement.domain.errors import StoreError
from engagement.domain.event_types import EventType
from engagement.settings import RETENTION_DAYS
from engagement.store.contact_items import (
    BAND,
    BAND_SCORE,
    BAND_SINCE,
    BUCKET,
    FUNNEL_COUNTED,
    FUNNEL_SHARDS,
    HISTORY_SK_PREFIX,
    PENDING,
    PERCENTILE_SHARDS,
    SEGMENT,
    SEGMENT_SHARDS,
    STRETCH_AT,
    STRETCH_SK_PREFIX,
    STRETCH_VERSION,
    contact_record_from_item,
    funnel_attribute,
    funnel_key,
    history_point_from_item,
    is_stretch_item,
    pair_stages_from_item,
    percentile_key,
    segment_member_from_item,
    segment_partition,
    shard_of,
    stretch_from_item,
    stretch_item,
)
from engagement.store.items import DUE_MS, DUE_PK, SEEN_MS, UNSEEN_MS, aggregate_key_attrs, due_partition
from engagement.store.wire import (
    ConditionFailed,
    Expression,
    counter_add,
    deserialize,
    query_all,
    serialize,
    to_decimal,
    translating,
)
from engagement.topology import EVENTS_BY_USER, SEGMENTS

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

RECONCILE_ATTEMPTS = 3
HISTOGRAM_CACHE_S = 60.0
"""How long a warm query function reuses the percentile histogram it read: a percentile may lag
the newest contacts by this much, and a score read costs one histogram read per minute, not
one per request."""


class ContactStore:
    def __init__(
        self,
        client: DynamoDBClient,
        *,
        aggregates_table: str,
        events_table: str,
        history_table: str = "",
        history_retention_days: int = RETENTION_DAYS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._aggregates = aggregates_table
        self._events = events_table
        self._history = history_table
        self._history_retention_ms = history_retention_days * MS_PER_DAY
        self._monotonic = monotonic
        self._histogram: tuple[float, dict[int, int]] | None = None

    # ------------------------------------------------------------------ contacts

    def get_contact(self, user_id: str) -> ContactRecord | None:
        with translating("reading a contact"):
            item = self._client.get_item(
                TableName=self._aggregates, Key=serialize(aggregate_key_attrs(AggregateKey(user_id)))
            ).get("Item")
        return None if item is None else contact_record_from_item(deserialize(item))

    def recent_events(self, user_id: str, *, until_ms: int, limit: int) -> list[ObservedEvent]:
        """The contact's latest events at or before ``until_ms``, newest first (the log's index)."""
        expr = Expression()
        condition = (
            f"{expr.name(EVENTS_BY_USER.partition_key)} = {expr.value(user_id)} "
            f"AND {expr.name(EVENTS_BY_USER.sort_key)} <= {expr.value(until_ms)}"
        )
        with translating("reading a contact's events"):
            page = self._client.query(
                TableName=self._events,
                IndexName=EVENTS_BY_USER.name,
                KeyConditionExpression=condition,
                ScanIndexForward=False,
                Limit=limit,
                **expr.params(),
            )
        events = []
        for raw in page.get("Items", []):
            item = deserialize(raw)
            value = item.get("value")
            events.append(
                ObservedEvent(
                    event_id=str(item["event_id"]),
                    user_id=user_id,
                    item_id=str(item["item_id"]),
                    type=EventType(item["type"]),
                    occurred_ms=int(item["occurred_ms"]),
                    value=None if value is None else Decimal(value),
                    recorded_s=0,
                    detail=None if item.get("context") is None else str(item["context"]),
                )
            )
        return events

    # ---------------------------------------------------------------- percentile

    def move_percentile(self, user_id: str, old: int | None, new: int | None) -> bool:
        """Count the contact in bucket ``new`` instead of ``old``, atomically with the ``pb``
        attribute that says where it is counted. False when ``pb`` is no longer ``old``."""
        expr = Expression()
        bucket = expr.name(BUCKET)
        guard = f"attribute_not_exists({bucket})" if old is None else f"{bucket} = {expr.value(old)}"
        update = f"SET {bucket} = {expr.value(new)}" if new is not None else f"REMOVE {bucket}"
        items: list[TransactWriteItemTypeDef] = [
            {
                "Update": {
                    "TableName": self._aggregates,
                    "Key": serialize(aggregate_key_attrs(AggregateKey(user_id))),
                    "UpdateExpression": update,
                    "ConditionExpression": f"attribute_exists({expr.name('pk')}) AND {guard}",
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    **expr.params(),  # type: ignore[typeddict-item]
                }
            }
        ]
        shard = shard_of(user_id, PERCENTILE_SHARDS)
        for bucket_id, step in ((new, 1), (old, -1)):
            if bucket_id is not None:
                items.append(counter_add(self._aggregates, percentile_key(shard, bucket_id), {"n": step}))
        return self._transact(items, "moving a percentile bucket")

    def percentile_histogram(self) -> dict[int, int]:
        """Contacts per bucket, summed over shards; reused for ``HISTOGRAM_CACHE_S``."""
        now = self._monotonic()
        if self._histogram is not None and now - self._histogram[0] < HISTOGRAM_CACHE_S:
            return self._histogram[1]
        histogram: dict[int, int] = {}
        for shard in range(PERCENTILE_SHARDS):
            for item in self._query_partition(f"PCT#{shard}", "reading the percentile histogram"):
                bucket = int(str(item["sk"]).removeprefix("B#"))
                histogram[bucket] = histogram.get(bucket, 0) + int(item.get("n", 0))
        self._histogram = (now, histogram)
        return histogram

    # --------------------------------------------------------------------- bands

    def change_band(self, transition: BandTransition) -> bool:
        """Store a band change and mark it pending publication, unless the stored band is no
        longer ``transition.old``, a newer evaluation got there first, or an earlier change
        still waits to be published (it must go out first, in order)."""
        expr = Expression()
        band, since, pending = expr.name(BAND), expr.name(BAND_SINCE), expr.name(PENDING)
        new = transition.new
        shard = shard_of(transition.user_id, SEGMENT_SHARDS)
        sets = [
            f"{band} = {expr.value(new.band)}",
            f"{expr.name(BAND_SCORE)} = {expr.value(to_decimal(new.score))}",
            f"{since} = {expr.value(new.since_ms)}",
            f"{expr.name(SEGMENT)} = {expr.value(segment_partition(new.band, shard))}",
            f"{pending} = {expr.value(transition.to_json())}",
        ]
        was = (
            f"attribute_not_exists({band})"
            if transition.old is None
            else f"{band} = {expr.value(transition.old.band)}"
        )
        condition = (
            f"attribute_exists({expr.name('pk')}) AND {was} AND attribute_not_exists({pending}) "
            f"AND (attribute_not_exists({since}) OR {since} <= {expr.value(new.since_ms)})"
        )
        changed = self._conditional_update(
            AggregateKey(transition.user_id), f"SET {', '.join(sets)}", condition, expr, "changing a band"
        )
        if changed:  # the overview's contacts per band follow every recorded change
            from engagement.store.overview_counts import count_band_change  # noqa: PLC0415 - band writers only

            count_band_change(self._client, self._aggregates, transition)
        return changed

    def settle_transition(self, transition: BandTransition) -> None:
        """Published: clear the pending mark (if it is still this transition's)."""
        expr = Expression()
        pending = expr.name(PENDING)
        self._conditional_update(
            AggregateKey(transition.user_id),
            f"REMOVE {pending}",
            f"{pending} = {expr.value(transition.to_json())}",
            expr,
            "settling a band change",
        )

    def segment_page(self, band: str, *, cursor: str | None, limit: int) -> SegmentPage:
        """One page of a band's members, shard after shard, in user id order within a shard.

        The cursor is opaque to callers: the shard and DynamoDB's LastEvaluatedKey.
        """
        shard, start = _decode_cursor(cursor)
        members: list[SegmentMember] = []
        while shard < SEGMENT_SHARDS and len(members) < limit:
            expr = Expression()
            kwargs: dict[str, Any] = {"ExclusiveStartKey": start} if start else {}
            with translating("listing a segment"):
                page = self._client.query(
                    TableName=self._aggregates,
                    IndexName=SEGMENTS.name,
                    KeyConditionExpression=(
                        f"{expr.name(SEGMENTS.partition_key)} = {expr.value(segment_partition(band, shard))}"
                    ),
                    Limit=limit - len(members),
                    **expr.params(),
                    **kwargs,
                )
            members += [segment_member_from_item(deserialize(item)) for item in page.get("Items", [])]
            start = page.get("LastEvaluatedKey")
            if not start:
                shard, start = shard + 1, None
        done = shard >= SEGMENT_SHARDS
        return SegmentPage(members=members, cursor=None if done else _encode_cursor(shard, start))

    # -------------------------------------------------------------------- funnel

    def count_funnel(self, stages: PairStages) -> None:
        """Add the engagement's uncounted stages to its campaign's funnel, exactly once: the same
        transaction records them in the engagement's ``fn`` set, guarded by their absence."""
        for _ in range(RECONCILE_ATTEMPTS):
            new = sorted(stages.uncounted)
            if not new:
                return
            expr = Expression()
            counted = expr.name(FUNNEL_COUNTED)
            absent = " AND ".join(f"NOT contains({counted}, {expr.value(s.value)})" for s in new)
            item_id = stages.key.item_id
            assert item_id is not None
            items: list[TransactWriteItemTypeDef] = [
                {
                    "Update": {
                        "TableName": self._aggregates,
                        "Key": serialize(aggregate_key_attrs(stages.key)),
                        "UpdateExpression": f"ADD {counted} {expr.value({s.value for s in new})}",
                        "ConditionExpression": f"attribute_exists({expr.name('pk')}) AND {absent}",
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                        **expr.params(),  # type: ignore[typeddict-item]
                    }
                },
                counter_add(
                    self._aggregates,
                    funnel_key(item_id, shard_of(stages.key.user_id, FUNNEL_SHARDS)),
                    {funnel_attribute(s): 1 for s in new},
                ),
            ]
            try:
                with translating("counting funnel stages"):
                    self._client.transact_write_items(TransactItems=items)
                return
            except ConditionFailed as refused:
                current = refused.items[0] if refused.items else None
                if current is None:
                    return  # the engagement is gone (cleanup): nothing left to count
                stages = pair_stages_from_item(current)
        raise StoreError(f"funnel of {stages.key} kept changing under concurrent writes", retryable=True)

    def funnel(self, item_id: str) -> dict[EventType, int]:
        """Contacts that reached each stage of a campaign, summed over shards."""
        totals: dict[EventType, int] = {}
        for item in self._query_partition(f"FUNNEL#{item_id}", "reading a funnel"):
            for attribute, value in item.items():
                if attribute.startswith("n_"):
                    stage = EventType(attribute.removeprefix("n_"))
                    totals[stage] = totals.get(stage, 0) + int(value)
        return totals

    # ------------------------------------------------------------------- history

    def schedule(
        self,
        user_id: str,
        *,
        version: int,
        due_ms: int,
        stretches: Sequence[Stretch],
        settle: BandTransition | None,
    ) -> bool:
        """Move the contact to its next due instant in the due index, settling the band change
        just published (if any) and recording ``stretches`` in the history table (if any: the
        contact then marks the version and start of the last, and its events are no longer
        unseen), all in one transaction. Refused when the aggregate is gone (erased) or an
        event reached it since it was read at ``version``: the scorer made it due again, and
        the next run reconciles it with that event."""
        expr = Expression()
        sets = [
            f"{expr.name(DUE_PK)} = {expr.value(due_partition(user_id))}",
            f"{expr.name(DUE_MS)} = {expr.value(due_ms)}",
        ]
        removes = []
        if stretches:
            sets += [
                f"{expr.name(STRETCH_VERSION)} = {expr.value(version)}",
                f"{expr.name(STRETCH_AT)} = {expr.value(stretches[-1].at_ms)}",
            ]
            removes += [expr.name(UNSEEN_MS), expr.name(SEEN_MS)]
        condition = f"attribute_exists({expr.name('pk')}) AND {expr.name('ver')} = {expr.value(version)}"
        if settle is not None:
            pending = expr.name(PENDING)
            removes.append(pending)
            condition += f" AND {pending} = {expr.value(settle.to_json())}"
        update = f"SET {', '.join(sets)}" + (f" REMOVE {', '.join(removes)}" if removes else "")
        key = AggregateKey(user_id)
        if not stretches:
            return self._conditional_update(key, update, condition, expr, "scheduling a contact")
        items: list[TransactWriteItemTypeDef] = [
            {
                "Update": {
                    "TableName": self._aggregates,
                    "Key": serialize(aggregate_key_attrs(key)),
                    "UpdateExpression": update,
                    "ConditionExpression": condition,
                    **expr.params(),  # type: ignore[typeddict-item]
                }
            },
        ]
        for stretch in stretches:
            expires_at_s = stretch_expires_at_s(stretch, self._history_retention_ms)
            items.append(
                {
                    "Put": {
                        "TableName": self._history,
                        "Item": serialize(stretch_item(user_id, stretch, expires_at_s)),
                    }
                }
            )
        return self._transact(items, "scheduling a contact and recording its history")

    def history(self, user_id: str, *, first_day: str, last_day: str) -> StoredHistory:
        """The stretches in force from the day before ``first_day`` to ``last_day`` (the one
        that started before it included), and any points stored before stretches existed."""
        partition = f"U#{user_id}"
        expr = Expression()
        low, high = expr.value(STRETCH_SK_PREFIX + first_day), expr.value(STRETCH_SK_PREFIX + last_day)
        in_range = query_all(
            self._client,
            "reading history",
            TableName=self._history,
            KeyConditionExpression=(
                f"{expr.name('pk')} = {expr.value(partition)} AND {expr.name('sk')} BETWEEN {low} AND {high}"
            ),
            **expr.params(),
        )
        expr = Expression()
        with translating("reading history"):
            earlier = self._client.query(
                TableName=self._history,
                KeyConditionExpression=(
                    f"{expr.name('pk')} = {expr.value(partition)} AND {expr.name('sk')} < "
                    f"{expr.value(STRETCH_SK_PREFIX + first_day)}"
                ),
                ScanIndexForward=False,
                Limit=1,  # the stretch in force the day before (stretches sort after points)
                **expr.params(),
            ).get("Items", [])
        stretches = [
            stretch_from_item(item)
            for item in (*(deserialize(i) for i in earlier), *in_range)
            if is_stretch_item(item)
        ]
        expr = Expression()
        low, high = expr.value(HISTORY_SK_PREFIX), expr.value(HISTORY_SK_PREFIX + last_day)
        legacy = query_all(
            self._client,
            "reading history",
            TableName=self._history,
            KeyConditionExpression=(
                f"{expr.name('pk')} = {expr.value(partition)} AND {expr.name('sk')} BETWEEN {low} AND {high}"
            ),
            **expr.params(),
        )
        return StoredHistory(stretches=stretches, legacy=[history_point_from_item(i) for i in legacy])

    # ------------------------------------------------------------------- helpers

    def _transact(self, items: Sequence[TransactWriteItemTypeDef], doing: str) -> bool:
        try:
            with translating(doing):
                self._client.transact_write_items(TransactItems=list(items))
        except ConditionFailed:
            return False
        return True

    def _conditional_update(
        self, key: AggregateKey, update: str, condition: str, expr: Expression, doing: str
    ) -> bool:
        try:
            with translating(doing):
                self._client.update_item(
                    TableName=self._aggregates,
                    Key=serialize(aggregate_key_attrs(key)),
                    UpdateExpression=update,
                    ConditionExpression=condition,
                    **expr.params(),
                )
        except ConditionFailed:
            return False
        return True

    def _query_partition(self, pk: str, doing: str) -> list[dict[str, Any]]:
        expr = Expression()
        condition = f"{expr.name('pk')} = {expr.value(pk)}"
        return query_all(
            self._client, doing, TableName=self._aggregates, KeyConditionExpression=condition, **expr.params()
        )


def _encode_cursor(shard: int, start: dict[str, Any] | None) -> str:
    raw = json.dumps({"s": shard, "k": start}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> tuple[int, dict[str, Any] | None]:
    if not cursor:
        return 0, None
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        shard = int(data["s"])
        start = data["k"]
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise InvalidCursor("cursor is not one this API returned") from exc
    if not 0 <= shard < SEGMENT_SHARDS or not (start is None or _is_start_key(start)):
        raise InvalidCursor("cursor is not one this API returned")
    return shard, start


_START_KEY = frozenset({"pk", "sk", SEGMENTS.partition_key, SEGMENTS.sort_key})


def _is_start_key(start: object) -> bool:
    """Exactly the key a page of the segments index ends on: the table's and the index's string
    keys. Anything else would reach DynamoDB as a request it refuses (a 5xx for a bad cursor)."""
    return (
        isinstance(start, dict)
        and set(start) == _START_KEY
        and all(
            isinstance(value, dict)
            and set(value) == {"S"}
            and isinstance(value["S"], str)
            and 0 < len(value["S"]) <= 1024
            for value in start.values()
        )
    )


class InvalidCursor(ValueError):
    """A segment cursor that this API did not produce (or that was altered)."""
