"""The DynamoDB adapter: the only module in the runtime that talks to DynamoDB.

Every write here is conditional, because every caller is retried somewhere: API clients and
webhook providers resend, Lambda replays stream batches, EventBridge re-invokes schedules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from engagement.domain import clock
from engagement.domain.aggregates import Aggregate, AggregateDelta, AggregateKey
from engagement.domain.erasure import Erasure, person_hash
from engagement.domain.errors import StoreError
from engagement.domain.expiry import is_expired
from engagement.domain.timefmt import to_ms
from engagement.settings import RETENTION_DAYS
from engagement.store.aggregate_writes import ExactBounds, update_request
from engagement.store.contact_items import contact_record_from_item, is_contact_item, pair_stages_from_item
from engagement.store.contacts import ContactStore
from engagement.store.dedupe import DedupeRing
from engagement.store.erasures import ErasureStore
from engagement.store.items import (
    AGGREGATE_PROJECTION,
    DUE_MS,
    DUE_PK,
    EXPIRES_AT,
    PAIR_SK_PREFIX,
    aggregate_from_item,
    aggregate_key_attrs,
    due_partition,
    due_shard_partition,
    event_item,
    link_from_item,
    link_item,
)
from engagement.store.person import PersonStore
from engagement.store.wire import (
    ConditionFailed,
    Expression,
    batch_get_all,
    deserialize,
    query_all,
    serialize,
    translating,
)
from engagement.topology import DUE, TOPOLOGY

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from engagement.domain.contact_records import ContactRecord, PairStages
    from engagement.domain.events import EngagementEvent
    from engagement.domain.links import Link
    from engagement.domain.maintenance import MaintainedItem
    from engagement.domain.runs import ScanPage
    from engagement.settings import Settings

# Short timeouts and few attempts: API Gateway gives up after 29 s and providers retry anyway,
# so a slow store should surface as a 5xx quickly rather than hold the connection.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3},
    connect_timeout=2,
    read_timeout=5,
    tcp_keepalive=True,
)
FALLBACK_ATTEMPTS = 5
# One "NOT contains(...)" per event, plus two bounds per event type, must fit DynamoDB's 4 KB
# expression limit (a test builds the worst case).
MAX_EVENTS_PER_WRITE = 64


@dataclass(frozen=True)
class ApplyResult:
    applied: int
    duplicates: int
    read_before_write: bool
    item: dict[str, Any] | None
    """The aggregate as it stands after this write (or as found, when nothing was new)."""
    applied_ids: frozenset[str] = frozenset()
    """The events this write absorbed (the others were already in the aggregate)."""

    @property
    def contact(self) -> ContactRecord | None:
        """The contact, when this was a per-user aggregate: what its derived state follows from."""
        return contact_record_from_item(self.item) if self.item and is_contact_item(self.item) else None

    @property
    def stages(self) -> PairStages | None:
        """The engagement's funnel stages, when this was a (user, item) aggregate."""
        if not self.item or is_contact_item(self.item):
            return None
        return pair_stages_from_item(self.item)


class DynamoStore:
    def __init__(
        self,
        client: DynamoDBClient,
        *,
        events_table: str,
        aggregates_table: str,
        ring: DedupeRing,
        retention_days: int = RETENTION_DAYS,
        links_table: str = "",
        history_table: str = "",
        history_retention_days: int = RETENTION_DAYS,
        erasures_table: str = "",
        erasure_key: Callable[[], str | None] = lambda: None,
    ) -> None:
        self._client = client
        self._erasure_key = erasure_key
        self.erasures = ErasureStore(client, table=erasures_table)
        """Erasure records: who was forgotten, as of when, and any suppression they keep."""
        self.person = PersonStore(
            client,
            events_table=events_table,
            aggregates_table=aggregates_table,
            history_table=history_table,
            links_table=links_table,
        )
        """One person's data across every table: for listing, exporting and erasing it."""
        self._events = events_table
        self._aggregates = aggregates_table
        self._links = links_table
        self._ring = ring
        self._retention_s = retention_days * 86_400
        self.contacts = ContactStore(
            client,
            aggregates_table=aggregates_table,
            events_table=events_table,
            history_table=history_table,
            history_retention_days=history_retention_days,
        )
        """Percentiles, bands and segments, funnels, history: what is derived from the aggregates."""

    @property
    def client(self) -> DynamoDBClient:
        """The client, for the adapter's other facets (run checkpoints) to share."""
        return self._client

    @classmethod
    def from_settings(
        cls, settings: Settings, *, erasure_key: Callable[[], str | None] = lambda: None
    ) -> DynamoStore:
        """Table names and retention from the function's settings; endpoint and region from boto3's
        usual variables (``AWS_ENDPOINT_URL_DYNAMODB`` points it at the local runner).
        ``erasure_key`` gives the key erasure records are hashed with (a secret, read by the caller)."""
        client: DynamoDBClient = boto3.client("dynamodb", config=CLIENT_CONFIG)
        return cls(
            client,
            events_table=settings.table("events"),
            aggregates_table=settings.table("aggregates"),
            links_table=settings.table("links"),
            history_table=settings.table("history"),
            history_retention_days=settings.history_retention_days,
            ring=DedupeRing.for_mapping(TOPOLOGY.stream_mapping_for("scorer")),
            retention_days=settings.event_retention_days,
            erasures_table=settings.table("erasures"),
            erasure_key=erasure_key,
        )

    # ---------------------------------------------------------------- erasures

    def person_hash(self, user_id: str) -> str | None:
        """The name a person's erasure is recorded under; None when no key is configured."""
        key = self._erasure_key()
        return None if not key else person_hash(key, user_id)

    def erasures_of(self, user_ids: Iterable[str]) -> dict[str, Erasure]:
        """The erasures of these people, by user id (one consistent batched read). Without a key
        nobody can have been erased here, and nothing is read."""
        key = self._erasure_key()
        wanted = set(user_ids)
        if not key or not wanted or not self.erasures.configured:
            return {}
        by_hash = {person_hash(key, user_id): user_id for user_id in wanted}
        return {by_hash[h]: erasure for h, erasure in self.erasures.get_many(by_hash).items()}

    # ------------------------------------------------------------------ events

    def put_event(self, event: EngagementEvent, *, received_at: datetime) -> bool:
        """Store an event once. Returns False when its id is already stored (a duplicate)."""
        expires_at_s = to_ms(received_at) // 1000 + self._retention_s
        item = event_item(event, received_at=received_at, expires_at_s=expires_at_s)
        try:
            with translating("storing an event"):
                self._client.put_item(
                    TableName=self._events,
                    Item=serialize(item),
                    ConditionExpression="attribute_not_exists(pk)",
                )
        except ConditionFailed:
            return False
        return True

    # ----------------------------------------------------------------- links

    def put_link(self, link: Link) -> bool:
        """Store a new link; False if its id is taken (the caller draws another)."""
        try:
            with translating("storing a link"):
                self._client.put_item(
                    TableName=self._links,
                    Item=serialize(link_item(link)),
                    ConditionExpression="attribute_not_exists(pk)",
                )
        except ConditionFailed:
            return False
        return True

    def get_link(self, link_id: str) -> Link | None:
        with translating("reading a link"):
            item = self._client.get_item(TableName=self._links, Key=serialize({"pk": f"L#{link_id}"})).get(
                "Item"
            )
        return None if item is None else link_from_item(deserialize(item))

    # ------------------------------------------------------------ aggregates

    def apply(self, delta: AggregateDelta) -> ApplyResult:
        """Add a delta to its aggregate exactly once, whatever was applied before.

        Fast path, one write: the condition says none of the delta's events was seen and the
        delta moves no bound (first/last occurrence, overall and per type) in a direction a
        plain SET could not express. When that fails (a redelivery, or an out-of-order event),
        drop the events the item has already absorbed and write the rest with exact bounds under
        a version check. Either way the result carries the item as it now stands.
        """
        if len(delta.events) > MAX_EVENTS_PER_WRITE:
            head = replace(delta, events=delta.events[:MAX_EVENTS_PER_WRITE])
            tail = replace(delta, events=delta.events[MAX_EVENTS_PER_WRITE:])
            first, rest = self.apply(head), self.apply(tail)
            return ApplyResult(
                applied=first.applied + rest.applied,
                duplicates=first.duplicates + rest.duplicates,
                read_before_write=first.read_before_write or rest.read_before_write,
                item=rest.item,
                applied_ids=first.applied_ids | rest.applied_ids,
            )
        try:
            item = self._update(delta, exact=None)
            return ApplyResult(
                applied=len(delta.events),
                duplicates=0,
                read_before_write=False,
                item=item,
                applied_ids=frozenset(e.event_id for e in delta.events),
            )
        except ConditionFailed as refused:
            return self._apply_exactly(delta, refused.item)

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
                return ApplyResult(applied=0, duplicates=duplicates, read_before_write=True, item=current)
            try:
                item = self._update(fresh, exact=ExactBounds.after(current, fresh))
                return ApplyResult(
                    applied=len(fresh.events),
                    duplicates=duplicates,
                    read_before_write=True,
                    item=item,
                    applied_ids=frozenset(e.event_id for e in fresh.events),
                )
            except ConditionFailed as refused:
                current = refused.item
        raise StoreError(f"aggregate {delta.key} kept changing under concurrent writes", retryable=True)

    def _update(self, delta: AggregateDelta, *, exact: ExactBounds | None) -> dict[str, Any]:
        request = update_request(delta, exact=exact, ring=self._ring)
        with translating("updating an aggregate"):
            response = self._client.update_item(
                TableName=self._aggregates,
                Key=serialize(aggregate_key_attrs(delta.key)),
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                **request,
            )
        return deserialize(response.get("Attributes", {}))

    def get_aggregate(self, key: AggregateKey) -> Aggregate | None:
        expr = Expression()
        with translating("reading an aggregate"):
            response = self._client.get_item(
                TableName=self._aggregates,
                Key=serialize(aggregate_key_attrs(key)),
                ProjectionExpression=expr.projection(AGGREGATE_PROJECTION),
                ExpressionAttributeNames=expr.names,
            )
        item = response.get("Item")
        if item is None:
            return None
        aggregate = aggregate_from_item(deserialize(item))
        return None if self._expired(aggregate) else aggregate

    def _expired(self, aggregate: Aggregate) -> bool:
        """An engagement past its expiry is gone to every read: TTL deletes it lazily."""
        if aggregate.key.item_id is None:
            return False  # contacts never expire: an opt-out must be remembered
        return is_expired(aggregate.expires_at, aggregate.last_ms, to_ms(clock.now()))

    def list_pairs(self, user_id: str) -> list[Aggregate]:
        """Every (user, item) aggregate of one user that has not expired."""
        expr = Expression()
        condition = (
            f"{expr.name('pk')} = {expr.value(f'U#{user_id}')} "
            f"AND begins_with({expr.name('sk')}, {expr.value(PAIR_SK_PREFIX)})"
        )
        items = query_all(
            self._client,
            "listing aggregates",
            TableName=self._aggregates,
            KeyConditionExpression=condition,
            ProjectionExpression=expr.projection(AGGREGATE_PROJECTION),
            **expr.params(),
        )
        return [a for a in (aggregate_from_item(item) for item in items) if not self._expired(a)]

    def scan_segment(
        self, segment: int, segments: int, *, cursor: Mapping[str, Any] | None, limit: int
    ) -> ScanPage[MaintainedItem]:
        """One page of one segment of a parallel scan (the one-time sweep only): engagements with
        their versions, contacts with their due time, derived items skipped. No projection: a
        Scan is billed by the size of the items read, whatever it returns."""
        # Only the jobs scan: the other functions do not import the maintenance model.
        from engagement.domain.maintenance import ContactItem, PairItem  # noqa: PLC0415
        from engagement.domain.runs import ScanPage  # noqa: PLC0415

        kwargs: dict[str, Any] = {"ExclusiveStartKey": dict(cursor)} if cursor else {}
        with translating("scanning aggregates"):
            page = self._client.scan(
                TableName=self._aggregates,
                Segment=segment,
                TotalSegments=segments,
                Limit=limit,
                ReturnConsumedCapacity="TOTAL",
                **kwargs,
            )
        items: list[MaintainedItem] = []
        for raw in page.get("Items", []):
            item = deserialize(raw)
            sk = str(item.get("sk", ""))
            if sk.startswith(PAIR_SK_PREFIX):
                items.append(PairItem(aggregate_from_item(item), int(item.get("ver", 0))))
            elif is_contact_item(item):
                due = item.get(DUE_MS)
                items.append(ContactItem(contact_record_from_item(item), None if due is None else int(due)))
        return ScanPage(
            items=items,
            cursor=page.get("LastEvaluatedKey"),
            read_units=float(page.get("ConsumedCapacity", {}).get("CapacityUnits", 0.0)),
        )

    def due_contacts(
        self, shard: int, *, until_ms: int, cursor: Mapping[str, Any] | None, limit: int
    ) -> ScanPage[MaintainedItem]:
        """One page of the contacts in a due-index shard whose next change is at or before
        ``until_ms``: their keys from the index, the contacts from the table (eventually
        consistent, like the index; each write the run makes is guarded by the version read).
        A contact the table shows scheduled past ``until_ms`` was processed since the index was
        read, and is left out."""
        from engagement.domain.maintenance import DueContact  # noqa: PLC0415 - the jobs only
        from engagement.domain.runs import ScanPage  # noqa: PLC0415

        expr = Expression()
        condition = (
            f"{expr.name(DUE.partition_key)} = {expr.value(due_shard_partition(shard))} "
            f"AND {expr.name(DUE.sort_key)} <= {expr.value(until_ms)}"
        )
        kwargs: dict[str, Any] = {"ExclusiveStartKey": dict(cursor)} if cursor else {}
        with translating("reading due contacts"):
            page = self._client.query(
                TableName=self._aggregates,
                IndexName=DUE.name,
                KeyConditionExpression=condition,
                Limit=limit,
                ReturnConsumedCapacity="TOTAL",
                **expr.params(),
                **kwargs,
            )
        keys = [{"pk": k["pk"], "sk": k["sk"]} for k in (deserialize(raw) for raw in page.get("Items", []))]
        found = batch_get_all(self._client, "reading due contacts", {self._aggregates: keys})
        items: list[MaintainedItem] = []
        for item in sorted(found.get(self._aggregates, []), key=lambda i: str(i["pk"])):
            due = item.get(DUE_MS)
            if is_contact_item(item) and due is not None and int(due) <= until_ms:
                items.append(DueContact(contact_record_from_item(item), int(item.get("ver", 0)), int(due)))
        return ScanPage(
            items=items,
            cursor=page.get("LastEvaluatedKey"),
            read_units=float(page.get("ConsumedCapacity", {}).get("CapacityUnits", 0.0))
            # An eventually consistent read of an item under 4 KB (a contact is) is half a unit.
            + 0.5 * len(found.get(self._aggregates, [])),
        )

    def set_expiry(self, key: AggregateKey, *, expires_at: int) -> bool:
        """Give an engagement written before expiries were stored its expiry; a no-op when it has
        one (the scorer wrote it since) or is gone."""
        expr = Expression()
        attribute = expr.name(EXPIRES_AT)
        return self._set_if_absent(
            key, f"SET {attribute} = {expr.value(expires_at)}", attribute, expr, "setting an expiry"
        )

    def set_due(self, user_id: str, *, due_ms: int) -> bool:
        """Make a contact written before due times were stored due at ``due_ms``; a no-op when it
        has a due time already."""
        expr = Expression()
        attribute = expr.name(DUE_MS)
        partition = expr.value(due_partition(user_id))
        update = f"SET {expr.name(DUE_PK)} = {partition}, {attribute} = {expr.value(due_ms)}"
        return self._set_if_absent(AggregateKey(user_id), update, attribute, expr, "setting a due time")

    def _set_if_absent(
        self, key: AggregateKey, update: str, attribute: str, expr: Expression, doing: str
    ) -> bool:
        try:
            with translating(doing):
                self._client.update_item(
                    TableName=self._aggregates,
                    Key=serialize(aggregate_key_attrs(key)),
                    UpdateExpression=update,
                    ConditionExpression=(
                        f"attribute_exists({expr.name('pk')}) AND attribute_not_exists({attribute})"
                    ),
                    **expr.params(),
                )
        except ConditionFailed:
            return False
        return True


@dataclass(frozen=True)
class DueSource:
    """The daily run's pages: its segments are the due index's shards, and a page holds what is
    due by the run's instant (``Scanner`` for ``domain.runs.work_segment``)."""

    store: DynamoStore
    until_ms: int

    def scan_segment(
        self, segment: int, segments: int, *, cursor: Mapping[str, Any] | None, limit: int
    ) -> ScanPage[MaintainedItem]:
        return self.store.due_contacts(segment, until_ms=self.until_ms, cursor=cursor, limit=limit)
