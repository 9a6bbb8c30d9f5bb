"""The DynamoDB adapter: the only module in the runtime that talks to DynamoDB.

Every write here is conditional, because every caller is retried somewhere: API clients and
webhook providers resend, Lambda replays stream batches, EventBridge re-invokes schedules.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from engagement.domain.aggregates import Aggregate, AggregateDelta, AggregateKey
from engagement.domain.errors import StoreError
from engagement.domain.event_types import SUPPRESSION_TYPES, EventType
from engagement.domain.timefmt import to_ms
from engagement.store.dedupe import DedupeRing
from engagement.store.items import (
    AGGREGATE_PROJECTION,
    COUNT_PREFIX,
    LAST_PREFIX,
    OPT_OUT_REASON,
    PAIR_SK_PREFIX,
    aggregate_from_item,
    aggregate_key_attrs,
    event_item,
    link_from_item,
    link_item,
)
from engagement.topology import AGGREGATES, EVENTS, LINKS, TOPOLOGY

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

    from engagement.domain.events import EngagementEvent
    from engagement.domain.links import Link

# Short timeouts and few attempts: API Gateway gives up after 29 s and providers retry anyway,
# so a slow store should surface as a 5xx quickly rather than hold the connection.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3},
    connect_timeout=2,
    read_timeout=5,
    tcp_keepalive=True,
)
RETRYABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
    }
)
CONDITION_FAILED = "ConditionalCheckFailedException"
FALLBACK_ATTEMPTS = 5
# One "NOT contains(...)" per event must fit DynamoDB's 4 KB expression limit.
MAX_EVENTS_PER_WRITE = 100
DEFAULT_RETENTION_DAYS = 400

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


@dataclass(frozen=True)
class ApplyResult:
    applied: int
    duplicates: int
    read_before_write: bool


class DynamoStore:
    def __init__(
        self,
        client: DynamoDBClient,
        *,
        events_table: str,
        aggregates_table: str,
        ring: DedupeRing,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        links_table: str = "",
    ) -> None:
        self._client = client
        self._events = events_table
        self._aggregates = aggregates_table
        self._links = links_table
        self._ring = ring
        self._retention_s = retention_days * 86_400

    @classmethod
    def from_environment(cls) -> DynamoStore:
        """Table names from the variables the topology names; endpoint and region from boto3's usual
        variables (``AWS_ENDPOINT_URL_DYNAMODB`` points it at the local runner)."""
        client: DynamoDBClient = boto3.client("dynamodb", config=CLIENT_CONFIG)
        return cls(
            client,
            events_table=os.environ.get(EVENTS.env_var, ""),
            aggregates_table=os.environ.get(AGGREGATES.env_var, ""),
            links_table=os.environ.get(LINKS.env_var, ""),
            ring=DedupeRing.for_mapping(TOPOLOGY.stream_mapping_for("scorer")),
            retention_days=int(os.environ.get("EVENT_RETENTION_DAYS", DEFAULT_RETENTION_DAYS)),
        )

    # ------------------------------------------------------------------ events

    def put_event(self, event: EngagementEvent, *, received_at: datetime) -> bool:
        """Store an event once. Returns False when its id is already stored (a duplicate)."""
        expires_at_s = to_ms(received_at) // 1000 + self._retention_s
        item = event_item(event, received_at=received_at, expires_at_s=expires_at_s)
        try:
            with _translating("storing an event"):
                self._client.put_item(
                    TableName=self._events,
                    Item=_serialize(item),
                    ConditionExpression="attribute_not_exists(pk)",
                )
        except _ConditionFailed:
            return False
        return True

    # ----------------------------------------------------------------- links

    def put_link(self, link: Link) -> bool:
        """Store a new link; False if its id is taken (the caller draws another)."""
        try:
            with _translating("storing a link"):
                self._client.put_item(
                    TableName=self._links,
                    Item=_serialize(link_item(link)),
                    ConditionExpression="attribute_not_exists(pk)",
                )
        except _ConditionFailed:
            return False
        return True

    def get_link(self, link_id: str) -> Link | None:
        with _translating("reading a link"):
            item = self._client.get_item(TableName=self._links, Key=_serialize({"pk": f"L#{link_id}"})).get(
                "Item"
            )
        return None if item is None else link_from_item(_deserialize(item))

    # ------------------------------------------------------------ aggregates

    def apply(self, delta: AggregateDelta) -> ApplyResult:
        """Add a delta to its aggregate exactly once, whatever was applied before.

        Fast path, one write: the condition says none of the delta's events was seen and the
        delta does not move ``first_ms`` earlier or ``last_ms`` later than a plain SET could
        express. When that fails (a redelivery, or an out-of-order event), read the item,
        drop the events it has already absorbed and write the rest under a version check.
        """
        if len(delta.events) > MAX_EVENTS_PER_WRITE:
            head = AggregateDelta(delta.key, delta.events[:MAX_EVENTS_PER_WRITE])
            tail = AggregateDelta(delta.key, delta.events[MAX_EVENTS_PER_WRITE:])
            first, rest = self.apply(head), self.apply(tail)
            return ApplyResult(
                applied=first.applied + rest.applied,
                duplicates=first.duplicates + rest.duplicates,
                read_before_write=first.read_before_write or rest.read_before_write,
            )
        if delta.tracks_suppression:
            # "Latest opt-out vs latest opt-in" needs a max per type, which one unconditional
            # expression cannot take; opt-outs are rare, so they take the read-then-write path.
            return self._apply_exactly(delta, self._read(delta.key))
        try:
            self._update(delta, exact=None)
            return ApplyResult(applied=len(delta.events), duplicates=0, read_before_write=False)
        except _ConditionFailed as refused:
            return self._apply_exactly(delta, refused.item)

    def _read(self, key: AggregateKey) -> dict[str, Any] | None:
        with _translating("reading an aggregate"):
            item = self._client.get_item(
                TableName=self._aggregates, Key=_serialize(aggregate_key_attrs(key)), ConsistentRead=True
            ).get("Item")
        return None if item is None else _deserialize(item)

    def _apply_exactly(self, delta: AggregateDelta, current: dict[str, Any] | None) -> ApplyResult:
        """The slow path: ``current`` is the item as the refused write saw it (DynamoDB returns it
        with the refusal, so no read is needed). Drop what it already absorbed, write the rest
        with exact bounds under its version; if another writer got there first, that refusal
        returns the newer item and we go again."""
        for _ in range(FALLBACK_ATTEMPTS):
            fresh = delta
            if current is not None:
                absorbed = {
                    e.event_id
                    for e in delta.events
                    if self._ring.token(e.event_id)
                    in current.get(self._ring.attribute(self._ring.slot(e)), ())
                }
                fresh = delta.without(absorbed)
            duplicates = len(delta.events) - len(fresh.events)
            if not fresh.events:
                return ApplyResult(applied=0, duplicates=duplicates, read_before_write=True)
            try:
                self._update(fresh, exact=_Exact.after(current, fresh))
                return ApplyResult(applied=len(fresh.events), duplicates=duplicates, read_before_write=True)
            except _ConditionFailed as refused:
                current = refused.item
        raise StoreError(f"aggregate {delta.key} kept changing under concurrent writes", retryable=True)

    def _update(self, delta: AggregateDelta, *, exact: _Exact | None) -> None:
        expr = _Expression()
        adds = [
            f"{expr.name(COUNT_PREFIX + event_type.value)} {expr.value(count)}"
            for event_type, count in delta.counts.items()
        ]
        if delta.value_sum:
            adds.append(f"{expr.name('vsum')} {expr.value(delta.value_sum)}")
        adds.append(f"{expr.name('ver')} {expr.value(1)}")

        tokens_by_slot: dict[int, set[bytes]] = {}
        for event in delta.events:
            tokens_by_slot.setdefault(self._ring.slot(event), set()).add(self._ring.token(event.event_id))
        unseen: list[str] = []
        for slot, tokens in sorted(tokens_by_slot.items()):
            attr = expr.name(self._ring.attribute(slot))
            adds.append(f"{attr} {expr.value(tokens)}")
            if exact is None:  # after a read, the version check already excludes seen events
                unseen.extend(f"NOT contains({attr}, {expr.value(token)})" for token in sorted(tokens))

        first, last = expr.name("first_ms"), expr.name("last_ms")
        sets = [f"{expr.name('uid')} = {expr.value(delta.key.user_id)}"]
        if delta.key.item_id is not None:
            sets.append(f"{expr.name('iid')} = {expr.value(delta.key.item_id)}")
        if exact is None:
            sets += [
                f"{first} = if_not_exists({first}, {expr.value(delta.first_ms)})",
                f"{last} = {expr.value(delta.last_ms)}",
            ]
            conditions = [
                f"(attribute_not_exists({last}) OR {last} <= {expr.value(delta.last_ms)})",
                f"(attribute_not_exists({first}) OR {first} <= {expr.value(delta.first_ms)})",
                *unseen,
            ]
        else:
            sets += [f"{first} = {expr.value(exact.first_ms)}", f"{last} = {expr.value(exact.last_ms)}"]
            sets += [
                f"{expr.name(LAST_PREFIX + t.value)} = {expr.value(ms)}"
                for t, ms in exact.last_by_type.items()
            ]
            if exact.opt_out_reason is not None:
                sets.append(f"{expr.name(OPT_OUT_REASON)} = {expr.value(exact.opt_out_reason)}")
            conditions = [
                "attribute_not_exists(pk)"
                if exact.version is None
                else f"{expr.name('ver')} = {expr.value(exact.version)}"
            ]

        update = f"ADD {', '.join(adds)} SET {', '.join(sets)}"
        stale = self._ring.stale_slot(delta.events)
        if stale is not None:
            update += f" REMOVE {expr.name(self._ring.attribute(stale))}"
        with _translating("updating an aggregate"):
            self._client.update_item(
                TableName=self._aggregates,
                Key=_serialize(aggregate_key_attrs(delta.key)),
                UpdateExpression=update,
                ConditionExpression=" AND ".join(conditions),
                ExpressionAttributeNames=expr.names,
                ExpressionAttributeValues=expr.values,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )

    def get_aggregate(self, key: AggregateKey) -> Aggregate | None:
        expr = _Expression()
        with _translating("reading an aggregate"):
            response = self._client.get_item(
                TableName=self._aggregates,
                Key=_serialize(aggregate_key_attrs(key)),
                ProjectionExpression=expr.projection(AGGREGATE_PROJECTION),
                ExpressionAttributeNames=expr.names,
            )
        item = response.get("Item")
        return None if item is None else aggregate_from_item(_deserialize(item))

    def list_pairs(self, user_id: str) -> list[Aggregate]:
        """Every (user, item) aggregate of one user."""
        expr = _Expression()
        condition = (
            f"{expr.name('pk')} = {expr.value(f'U#{user_id}')} "
            f"AND begins_with({expr.name('sk')}, {expr.value(PAIR_SK_PREFIX)})"
        )
        projection = expr.projection(AGGREGATE_PROJECTION)
        found: list[Aggregate] = []
        start: dict[str, Any] | None = None
        while True:
            kwargs: dict[str, Any] = {"ExclusiveStartKey": start} if start else {}
            with _translating("listing aggregates"):
                page = self._client.query(
                    TableName=self._aggregates,
                    KeyConditionExpression=condition,
                    ProjectionExpression=projection,
                    ExpressionAttributeNames=expr.names,
                    ExpressionAttributeValues=expr.values,
                    **kwargs,
                )
            found.extend(aggregate_from_item(_deserialize(item)) for item in page.get("Items", []))
            start = page.get("LastEvaluatedKey")
            if not start:
                return found

    def scan_pairs(self, page_size: int = 500) -> Iterator[tuple[Aggregate, int]]:
        """Every (user, item) aggregate with its version, page by page (maintenance jobs)."""
        expr = _Expression()
        projection = expr.projection([*AGGREGATE_PROJECTION, "ver"])
        start: dict[str, Any] | None = None
        while True:
            kwargs: dict[str, Any] = {"ExclusiveStartKey": start} if start else {}
            with _translating("scanning aggregates"):
                page = self._client.scan(
                    TableName=self._aggregates,
                    FilterExpression=f"begins_with({expr.name('sk')}, {expr.value(PAIR_SK_PREFIX)})",
                    ProjectionExpression=projection,
                    ExpressionAttributeNames=expr.names,
                    ExpressionAttributeValues=expr.values,
                    Limit=page_size,
                    **kwargs,
                )
            for raw in page.get("Items", []):
                item = _deserialize(raw)
                yield aggregate_from_item(item), int(item.get("ver", 0))
            start = page.get("LastEvaluatedKey")
            if not start:
                return

    def record_score(self, key: AggregateKey, *, score: float, at: datetime) -> bool:
        """Materialize a score for instant ``at``; a no-op if a run at or after ``at`` already did."""
        expr = _Expression()
        at_ms = expr.value(to_ms(at))
        score_at = expr.name("score_at_ms")
        try:
            with _translating("recording a score"):
                self._client.update_item(
                    TableName=self._aggregates,
                    Key=_serialize(aggregate_key_attrs(key)),
                    UpdateExpression=(
                        f"SET {expr.name('score')} = {expr.value(_decimal(score))}, {score_at} = {at_ms}"
                    ),
                    ConditionExpression=(
                        f"attribute_exists({expr.name('pk')}) "
                        f"AND (attribute_not_exists({score_at}) OR {score_at} < {at_ms})"
                    ),
                    ExpressionAttributeNames=expr.names,
                    ExpressionAttributeValues=expr.values,
                )
        except _ConditionFailed:
            return False
        return True

    def delete_aggregate(self, key: AggregateKey, *, version: int) -> bool:
        """Delete an aggregate unless an event reached it since it was read at ``version``."""
        expr = _Expression()
        try:
            with _translating("deleting an aggregate"):
                self._client.delete_item(
                    TableName=self._aggregates,
                    Key=_serialize(aggregate_key_attrs(key)),
                    ConditionExpression=f"{expr.name('ver')} = {expr.value(version)}",
                    ExpressionAttributeNames=expr.names,
                    ExpressionAttributeValues=expr.values,
                )
        except _ConditionFailed:
            return False
        return True


@dataclass(frozen=True)
class _Exact:
    """Values for a write made after reading the item: bounds computed, version pinned."""

    first_ms: int
    last_ms: int
    version: int | None
    last_by_type: dict[EventType, int]
    """Latest occurrence per suppression type, when this write moves it."""
    opt_out_reason: str | None

    @classmethod
    def after(cls, current: Mapping[str, Any] | None, fresh: AggregateDelta) -> _Exact:
        current = current or {}
        last_by_type: dict[EventType, int] = {}
        reason = None
        for event_type in SUPPRESSION_TYPES:
            latest = fresh.latest(event_type)
            stored = current.get(LAST_PREFIX + event_type.value)
            if latest is not None and (stored is None or latest.occurred_ms >= int(stored)):
                last_by_type[event_type] = latest.occurred_ms
                if event_type is EventType.OPTED_OUT:
                    reason = latest.detail or event_type.value
        return cls(
            first_ms=min(int(current.get("first_ms", fresh.first_ms)), fresh.first_ms),
            last_ms=max(int(current.get("last_ms", fresh.last_ms)), fresh.last_ms),
            version=int(current["ver"]) if "ver" in current else None,
            last_by_type=last_by_type,
            opt_out_reason=reason,
        )


class _Expression:
    """Placeholders for names and values, so no attribute ever collides with a reserved word."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, AttributeValueTypeDef] = {}

    def name(self, attribute: str) -> str:
        for placeholder, existing in self.names.items():
            if existing == attribute:
                return placeholder
        placeholder = f"#n{len(self.names)}"
        self.names[placeholder] = attribute
        return placeholder

    def value(self, value: Any) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = _serializer.serialize(value)
        return placeholder

    def projection(self, attributes: Sequence[str]) -> str:
        return ", ".join(self.name(attribute) for attribute in attributes)


def _decimal(value: float) -> Decimal:
    # boto3 refuses floats; repr() is the shortest string that round-trips exactly.
    return Decimal(repr(round(value, 12)))


def _serialize(item: Mapping[str, Any]) -> dict[str, AttributeValueTypeDef]:
    return {key: _serializer.serialize(value) for key, value in item.items()}


def _deserialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class _ConditionFailed(Exception):
    """A conditional write was refused; ``item`` is the item as it stood, when DynamoDB sent it."""

    def __init__(self, item: dict[str, Any] | None) -> None:
        super().__init__("condition failed")
        self.item = item


@contextmanager
def _translating(doing: str) -> Iterator[None]:
    """Every DynamoDB failure leaves this adapter as a StoreError (or a refused condition)."""
    try:
        yield
    except ClientError as exc:
        if _code(exc) == CONDITION_FAILED:
            item = exc.response.get("Item")
            raise _ConditionFailed(_deserialize(item) if isinstance(item, Mapping) else None) from exc
        raise _store_error(exc, doing) from exc
    except BotoCoreError as exc:
        raise _store_error(exc, doing) from exc


def _store_error(exc: Exception, doing: str) -> StoreError:
    if isinstance(exc, ClientError):
        code = _code(exc)
        return StoreError(f"DynamoDB {code} while {doing}", retryable=code in RETRYABLE_CODES)
    return StoreError(f"DynamoDB unreachable while {doing}: {type(exc).__name__}", retryable=True)
