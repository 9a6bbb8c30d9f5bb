"""Scoring cost: DynamoDB items written per event by ingest plus scorer, against the floor.

The floor is what no design can go below: one write per event (the event log entry) plus one
write per distinct aggregate a stream batch touches (each event touches its (user, item)
aggregate and its user aggregate; folding a batch can merge events of one aggregate, nothing
can merge writes across batches). Batches are the topology's stream mapping batch size.

The path is the real one: events go through the ingest handler in requests of up to 100, the
events table's stream is read with the local runner's ``StreamReader`` and shaped as Lambda
delivers it, and the records reach the scorer handler in sequence order, a batch at a time.
Writes are counted on the wire by :mod:`bench.capacity`, so whatever the code does (fallback
reads, retries, refused conditional writes) is what gets counted.

Two scenarios, each on fresh tables: a clean pass (every batch once, the target), and a
redelivery pass where Lambda delivers every batch twice (informational: at-least-once delivery
makes this happen after partial failures and timeouts). Both must leave the same aggregates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3

from bench import backend
from bench.api_requests import accepted_count, post_events
from bench.capacity import CapacityMeter, Tally, item_size
from bench.report import Row, Section
from bench.workload import ZipfWorkload
from engagement.api.event_models import MAX_EVENTS_PER_REQUEST
from engagement.store.overview_counts import ACCEPTED_PK, BANDS_PK_PREFIX, CAMPAIGNS_PK
from engagement.topology import TOPOLOGY
from infra.local.stream_records import LambdaRecord, StreamReader, sequence_of, stream_arn

TARGET = 1.1
WORKLOAD = ZipfWorkload()
NO_FAILURES: dict[str, Any] = {"batchItemFailures": []}


@dataclass(frozen=True)
class ScenarioResult:
    name: str
    deliveries: int
    ingest: Tally
    scorer: Tally
    events: int
    batches: int
    aggregates_touched: int
    """Sum over batches of the distinct aggregates each batch touches."""
    aggregates: dict[tuple[str, str], dict[str, Any]]
    largest_aggregate_bytes: int

    @property
    def writes(self) -> int:
        return self.ingest.writes + self.scorer.writes

    def scorer_writes(self, *kinds: str) -> int:
        return sum(self.scorer.writes_by_kind.get(kind, 0) for kind in kinds)

    @property
    def aggregate_writes(self) -> int:
        """Event log entries and aggregate updates: what the floor is about."""
        return self.ingest.writes + self.scorer_writes(AGGREGATE)

    @property
    def per_batch_writes(self) -> int:
        """The same, plus the overview's hourly counters: the other write every batch makes."""
        return self.aggregate_writes + self.scorer_writes(HOURLY)

    @property
    def floor(self) -> int:
        return self.events + self.aggregates_touched

    @property
    def write_units(self) -> int:
        return self.ingest.write_units + self.scorer.write_units

    def as_json(self) -> dict[str, Any]:
        return {
            "deliveries_per_batch": self.deliveries,
            "events": self.events,
            "batches": self.batches,
            "writes": self.writes,
            "floor": self.floor,
            "aggregates_touched_per_batch_sum": self.aggregates_touched,
            "ingest": self.ingest.as_json(),
            "scorer": self.scorer.as_json(),
            "largest_aggregate_item_bytes": self.largest_aggregate_bytes,
        }


def run() -> Section:
    backend.start()
    meter = CapacityMeter(_default_session())
    with meter.attached():
        events = WORKLOAD.generate(end=datetime.now(UTC))
        clean = _scenario("clean", meter, events, deliveries=1)
        twice = _scenario("redelivery", meter, events, deliveries=2)
    if twice.aggregates != clean.aggregates:
        raise RuntimeError("delivering every batch twice left other aggregates than one clean pass")

    batch_size = TOPOLOGY.stream_mapping_for("scorer").batch_size
    return Section(
        key="scoring",
        title=(
            f"2. Scoring cost: DynamoDB items written (ingest + scorer), stream batch size {batch_size}"
            " (totals)"
        ),
        measured_label="writes",
        baseline_label="floor",
        unit="",
        decimals=0,
        rows=[
            Row(
                "events + aggregates + hourly counters, each batch once",
                clean.per_batch_writes,
                clean.floor,
                TARGET,
            ),
            Row("events + aggregates, each batch once", clean.aggregate_writes, clean.floor, None),
            Row("events + aggregates, each batch twice", twice.aggregate_writes, twice.floor, None),
            Row(
                "band changes: stored, settled (per change)",
                clean.scorer_writes(BAND, SETTLE),
                clean.scorer_writes(BAND),
                None,
            ),
            Row(
                "funnel: first stages of an engagement (per 2-item txn)",
                clean.scorer_writes(FUNNEL),
                clean.scorer.calls.get("TransactWriteItems", 0),
                None,
            ),
            Row(
                "overview: band counts, campaign listings (per band change)",
                clean.scorer_writes(BAND_COUNT, CAMPAIGN),
                clean.scorer_writes(BAND),
                None,
            ),
            Row("everything, each batch once", clean.writes, clean.floor, None),
            Row("everything, est. write units", clean.write_units, clean.floor, None),
        ],
        notes=[
            f"Workload: {WORKLOAD.describe()}; timestamps increasing; ingested through the handler in"
            f" requests of {MAX_EVENTS_PER_REQUEST}, {clean.batches} stream batches in sequence order.",
            f"Floor = {clean.events} event writes + {clean.aggregates_touched} aggregate writes (distinct"
            " aggregates touched, summed over batches; each event touches its (user, item) and its user"
            " aggregate).",
            *(_breakdown(result) for result in (clean, twice)),
            "Derived state costs per change, not per event: a band change is one write to store it"
            " pending and one to settle it once published (EventBridge PutEvents is not a DynamoDB"
            " write); the first time an engagement reaches funnel stages is one transaction of two"
            " items (billed twice each) that counts them exactly once. Percentile moves happen in the"
            " daily run, not here.",
            "The overview's gauges: an hourly counter per distinct hour of accepted events per batch"
            f" ({clean.scorer_writes(HOURLY)} writes, counted in the target row), one counter move per"
            f" band change ({clean.scorer_writes(BAND_COUNT)}) and one campaign listing per campaign whose"
            f" funnel a batch grows ({clean.scorer_writes(CAMPAIGN)}).",
            "Failed conditional writes still cost a write unit, so they are counted as writes.",
            "Write units: DynamoDB bills ceil(max(item size before, after) / 1 KB) per write; largest"
            f" aggregate item after the clean pass: {clean.largest_aggregate_bytes:,} bytes.",
            "Both scenarios left identical aggregates (counts, sums, first/last; write counter and"
            " dedupe sets excluded); the scorer answered no batchItemFailures for every delivery.",
        ],
        details={
            "workload": {
                "events": WORKLOAD.events,
                "users": WORKLOAD.users,
                "items": WORKLOAD.items,
                "zipf_exponent": WORKLOAD.exponent,
                "seed": WORKLOAD.seed,
            },
            "batch_size": batch_size,
            "clean": clean.as_json(),
            "redelivery": twice.as_json(),
        },
    )


def _breakdown(result: ScenarioResult) -> str:
    return (
        f"{result.name}: ingest {result.ingest.writes} writes (calls: {_calls(result.ingest)}), scorer"
        f" {result.scorer.writes} writes (calls: {_calls(result.scorer)}; {result.scorer.failed_conditions}"
        f" writes refused by their condition) = {result.writes / result.events:.3f} writes/event"
        f" (floor {result.floor / result.events:.3f}); est. {result.write_units:,} write units and"
        f" {result.scorer.read_units:g} read units."
    )


def _calls(tally: Tally) -> str:
    return ", ".join(f"{count} {operation}" for operation, count in sorted(tally.calls.items())) or "none"


def _default_session() -> boto3.Session:
    boto3.setup_default_session()
    session = boto3.DEFAULT_SESSION
    if session is None:
        raise RuntimeError("boto3 has no default session")
    return session


def _scenario(
    name: str, meter: CapacityMeter, events: list[dict[str, Any]], *, deliveries: int
) -> ScenarioResult:
    tables = backend.fresh_tables(f"bench-scoring-{name}")  # after the hooks: the new store client has them
    ingest = backend.load("ingest")
    scorer = backend.load("scorer")
    batch_size = TOPOLOGY.stream_mapping_for("scorer").batch_size

    with backend.stdout_discarded():
        with meter.counting() as ingest_tally:
            for start in range(0, len(events), MAX_EVENTS_PER_REQUEST):
                chunk = events[start : start + MAX_EVENTS_PER_REQUEST]
                stored = accepted_count(ingest.handler(post_events(chunk), ingest.context()))
                if stored != len(chunk):
                    raise RuntimeError(f"ingest stored {stored} of {len(chunk)} events")

        records = stream_records(tables.events)
        if len(records) != len(events):
            raise RuntimeError(f"the stream holds {len(records)} records for {len(events)} events")
        batches = [records[i : i + batch_size] for i in range(0, len(records), batch_size)]

        with meter.counting(_purpose) as scorer_tally:
            for batch in batches:
                for _ in range(deliveries):
                    response = scorer.handler({"Records": batch}, scorer.context())
                    if response != NO_FAILURES:
                        raise RuntimeError(f"the scorer reported failures: {response}")

    aggregates = _aggregate_items(tables.aggregates)
    return ScenarioResult(
        name=name,
        deliveries=deliveries,
        ingest=ingest_tally,
        scorer=scorer_tally,
        events=len(records),
        batches=len(batches),
        aggregates_touched=sum(_distinct_aggregates(batch) for batch in batches),
        # The hourly counters are keyed by when the scenario ran, so they cannot match between two
        # runs; their exactness under redelivery is tested (tests/integration/test_overview_api.py).
        aggregates={key: _effect(item) for key, item in aggregates.items() if key[0] != ACCEPTED_PK},
        largest_aggregate_bytes=max((item_size(item) for item in aggregates.values()), default=0),
    )


def stream_records(events_table: str) -> list[LambdaRecord]:
    """Every record of the table's stream, shaped as Lambda delivers them, in sequence order."""
    reader = StreamReader(boto3.client("dynamodbstreams"), stream_arn(boto3.client("dynamodb"), events_table))
    records: list[LambdaRecord] = []
    while polled := reader.poll():
        records.extend(polled)
    return sorted(records, key=sequence_of)


def _distinct_aggregates(batch: list[LambdaRecord]) -> int:
    images = [record["dynamodb"]["NewImage"] for record in batch]
    pairs = {(image["user_id"]["S"], image["item_id"]["S"]) for image in images}
    users = {user for user, _ in pairs}
    return len(pairs) + len(users)


def _aggregate_items(table: str) -> dict[tuple[str, str], dict[str, Any]]:
    client = boto3.session.Session().client("dynamodb")  # not counted: no hooks on this session
    items: dict[tuple[str, str], dict[str, Any]] = {}
    for page in client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        for item in page["Items"]:
            items[(item["pk"]["S"], item["sk"]["S"])] = dict(item)
    return items


AGGREGATE, BAND, SETTLE, FUNNEL, EVENT = "aggregate", "band", "settle", "funnel", "event"
HOURLY, BAND_COUNT, CAMPAIGN = "overview-hourly", "overview-band-count", "overview-campaign"
_OVERVIEW_KINDS = {ACCEPTED_PK: HOURLY, CAMPAIGNS_PK: CAMPAIGN}


def _purpose(operation: str, params: Mapping[str, Any]) -> str:
    """What a write is for, from its request: the scorer's aggregate updates ADD to ``ver``; the
    overview's counters are told by their partition."""
    if operation == "TransactWriteItems":
        return FUNNEL
    pk = str(params.get("Key", {}).get("pk", {}).get("S", ""))
    overview = BAND_COUNT if pk.startswith(BANDS_PK_PREFIX) else _OVERVIEW_KINDS.get(pk)
    if overview is not None:
        return overview
    names = set(params.get("ExpressionAttributeNames", {}).values())
    if "ver" in names:
        return AGGREGATE
    if "band" in names:
        return BAND
    if "pending" in names:
        return SETTLE
    return EVENT if operation == "PutItem" else "other"


PATH_DEPENDENT = frozenset({"ver", "band_since", "band_score", "since_ms", "unseen_ms", "unseen_last_ms"})
"""The write counter, when (on the wall clock) and at what score the band last changed, when
the campaign was first listed, and when the scorer first and last applied events no daily run
has recorded."""


def _effect(item: dict[str, Any]) -> dict[str, Any]:
    """What an aggregate says about engagement: without path-dependent attributes and dedupe tokens
    (and without a band counter's 0 for a band contacts only passed through)."""
    return {
        name: value
        for name, value in item.items()
        if name not in PATH_DEPENDENT
        and not name.startswith("seen")
        and not (name.startswith("n_") and value == {"N": "0"})
    }
