"""Maintenance at scale: 200,000 engagements and 10,000 contacts, one quiet day and one day after
a campaign, through the real job steps (``infra.local.jobs.JobRunner`` driving the daily and
weekly functions exactly as their state machines do).

Scenario:

1. the weekly run's one-time sweep (the only full scan), on a table a fortieth the size written
   as the previous version left it (no expiry, no due time): its cost is one write per item;
2. the main table as the scorer and the daily runs now leave it (engagements idle 0 to 400 days
   with their expiry; contacts banded, in their percentile bucket, with their history stretch
   and next due instant, from the same domain functions), and a quiet day: the next daily run;
3. a campaign: 3,000 contacts get an SMS that day (some click, reply or buy), scored through the
   scorer's own domain code (``domain.scoring.score_batch``: aggregates, bands at event time,
   funnels; the scoring benchmark counts that cost), then the next daily run;
4. the next weekly run, the quiet day's run repeated, and the day's TTL expiries.

Measured on the wire by botocore hooks on the functions' session, for each run:

* items read (every item a Query, Scan, GetItem or BatchGetItem returned from the aggregates
  table; the due index's entries, keys only, are counted in read units) against items due
  (contacts whose due instant is at or before the run, counted before the run by a client that
  is not counted); target at most 1.1;
* items written (every item a write request names; a transaction's items each count once)
  against observable changes (band changes, percentile moves, and the history points that
  appear that day: evaluated from the stored stretches by the benchmark, for every contact,
  with the API's own function; for the sweep, the expiries and due times it sets); target at
  most 1.1;
* full scans per run: Scan requests on the aggregates table, in units of the whole table;
  target 0 (the one-time sweep is one, and is reported as such);
* the projection to 100 million engagements and 5 million contacts a day, in read units, write
  units (the tables', the due and segments indexes') and dollars at on-demand prices,
  with the arithmetic; target at most $1.00 for a quiet day, against the previous design's
  $30.58 (README, measured with the previous version of this benchmark).

Why it is fair: both sides are counted from the same runs; "due" is what the score function
scheduled, counted independently of the run; moto's Scan and transactions are made to cost
what DynamoDB's do (``infra.local.moto_scale``). Pacing is lifted (the token buckets would set
the time, by design); the projection applies the configured rates instead.
"""

from __future__ import annotations

import importlib
import math
import random
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from time import perf_counter
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from bench import backend
from bench.capacity import item_size
from bench.report import Row, Section
from engagement import deps
from engagement.domain.aggregates import ObservedEvent
from engagement.domain.contact import ContactState
from engagement.domain.contact_records import StoredHistory, Stretch, stretch_day
from engagement.domain.decay import MS_PER_DAY
from engagement.domain.event_types import EventType
from engagement.domain.expiry import expires_at_s
from engagement.domain.history import history_points
from engagement.domain.maintenance import next_due_ms
from engagement.domain.runs import RunId
from engagement.domain.scoring import score_batch
from engagement.domain.timefmt import rfc3339, to_ms
from engagement.domain.upkeep import Upkeep, evaluate_contact
from engagement.store.contact_items import (
    BAND,
    BAND_SCORE,
    BAND_SINCE,
    BUCKET,
    PERCENTILE_SHARDS,
    SEGMENT,
    SEGMENT_SHARDS,
    STRETCH_AT,
    STRETCH_VERSION,
    is_stretch_item,
    percentile_key,
    segment_partition,
    shard_of,
    stretch_from_item,
    stretch_item,
)
from engagement.store.items import (
    COUNT_PREFIX,
    DUE_MS,
    DUE_PK,
    contact_state_attributes,
    contact_state_from_item,
    due_partition,
)
from engagement.store.runs import EXPIRY_AND_DUE_SWEEP
from engagement.topology import DUE, DUE_SHARDS, TOPOLOGY
from infra.local.buses import bus_name
from infra.local.jobs import JobRunner
from infra.local.lambdas import load_functions

ENGAGEMENTS = 200_000
CONTACTS = 10_000
CAMPAIGN_CONTACTS = 3_000
SEED = 20261121
RUN_AT = datetime(2026, 11, 21, tzinfo=UTC)
"""The quiet day's run (a Saturday); the sweep runs the Sunday before, the first run after it
the next midnight, the campaign on the quiet day, its run the midnight after."""
SWEEP_AT = RUN_AT - timedelta(days=6, hours=-2)
LAST_RUN_AT = RUN_AT - timedelta(days=1)
"""The daily run before the quiet day: the table starts as it left it."""
SWEEP_SAMPLE = 40
MAX_IDLE_DAYS = 400
PROJECTED_ENGAGEMENTS = 100_000_000
PROJECTED_CONTACTS = 5_000_000
PROJECTED_ITEMS = PROJECTED_ENGAGEMENTS + PROJECTED_CONTACTS
# DynamoDB on-demand, Standard table class, us-east-1 (aws.amazon.com/dynamodb/pricing/on-demand,
# after the November 2024 reduction): per million request units.
PRICE_PER_MILLION_WRITES = 0.625
PRICE_PER_MILLION_READS = 0.125
# Lambda arm64, per GB-second (aws.amazon.com/lambda/pricing).
PRICE_PER_GB_SECOND = 0.0000133334
OLD_DAILY = {"dollars": 30.58, "write_units": 44.8e6, "read_units": 1.6e6, "hours": 12.4}
"""The previous design's daily run at this size (README, before this change)."""
QUIET_DAY_DOLLARS_TARGET = 1.00
RATIO_TARGET = 1.1
_TYPES = (EventType.QUERY, EventType.VIEW, EventType.MENTION, EventType.DELIVERED, EventType.CLICKED)
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


@dataclass
class Wire:
    """What the functions' clients sent and got while a run was counted."""

    items_read: int = 0
    read_units: float = 0.0
    scans: int = 0
    """Scan requests on the aggregates table."""
    scanned: int = 0
    items_written: dict[str, int] = field(default_factory=dict)
    """Items named by write requests, by kind (transaction items once each)."""
    write_units: float = 0.0
    """Billed units on the tables: a unit per KB of a put item, one for an update (contacts are
    under 1 KB), a transaction's items twice."""
    index_write_units: float = 0.0
    """The indexes' units: a write that moves a contact's due instant deletes and puts its entry
    in the due index (2; keys only, so no other write touches it), one that moves its band does
    the same in the segments index (2; it projects only the band's attributes)."""

    @property
    def written(self) -> int:
        return sum(v for k, v in self.items_written.items() if k != "checkpoint")


class Counter:
    """botocore hooks on the default session (every function's client is created from it)."""

    def __init__(self, aggregates: str) -> None:
        self._aggregates = aggregates
        self.wire: Wire | None = None

    @contextmanager
    def attached(self) -> Iterator[Counter]:
        events = boto3.DEFAULT_SESSION.events  # type: ignore[union-attr]
        events.register("before-parameter-build.dynamodb", self._before, unique_id="bench.maintenance.before")
        events.register("after-call.dynamodb", self._after, unique_id="bench.maintenance.after")
        try:
            yield self
        finally:
            events.unregister("before-parameter-build.dynamodb", unique_id="bench.maintenance.before")
            events.unregister("after-call.dynamodb", unique_id="bench.maintenance.after")

    @contextmanager
    def counting(self) -> Iterator[Wire]:
        self.wire = Wire()
        try:
            yield self.wire
        finally:
            self.wire = None

    def _before(self, params: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["bench.maintenance"] = params

    def _after(self, parsed: Mapping[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        wire, params = self.wire, context.get("bench.maintenance")
        if wire is None or params is None:
            return
        failed = parsed.get("Error", {}).get("Code")
        if failed not in (None, "ConditionalCheckFailedException"):
            return
        operation = model.name
        if operation in ("Query", "Scan") and params.get("TableName") == self._aggregates:
            items = parsed.get("Items", [])
            wire.read_units += math.ceil(sum(item_size(i) for i in items) / 4096) * 0.5
            if params.get("IndexName") is None:  # an index's entries are keys, not items
                wire.items_read += len(items)
            if operation == "Scan":
                wire.scans += 1
                wire.scanned += len(items)
        elif operation == "GetItem" and params.get("TableName") == self._aggregates:
            item = parsed.get("Item")
            wire.items_read += item is not None
            units = math.ceil((0 if item is None else item_size(item)) / 4096) or 1
            wire.read_units += units if params.get("ConsistentRead") else units / 2
        elif operation == "BatchGetItem":
            for item in parsed.get("Responses", {}).get(self._aggregates, []):
                wire.items_read += 1
                wire.read_units += math.ceil(item_size(item) / 4096) * 0.5
        elif operation in ("PutItem", "UpdateItem", "DeleteItem"):
            self._written(wire, params, billed=1)
        elif operation == "TransactWriteItems" and failed is None:
            for action in params["TransactItems"]:
                ((_, request),) = action.items()
                self._written(wire, request, billed=2)

    def _written(self, wire: Wire, request: Mapping[str, Any], *, billed: int) -> None:
        kind = _kind(request)
        wire.items_written[kind] = wire.items_written.get(kind, 0) + 1
        item = request.get("Item")
        wire.write_units += billed * (math.ceil(item_size(item) / 1024) if item else 1)
        names = set(request.get("ExpressionAttributeNames", {}).values())
        wire.index_write_units += 2 * (DUE_MS in names) + 2 * (SEGMENT in names)


def _kind(request: Mapping[str, Any]) -> str:
    table = str(request.get("TableName", ""))
    if table.endswith("-runs"):
        return "checkpoint"
    if table.endswith("-history"):
        return "stretch"
    key = request.get("Key") or request.get("Item") or {}
    pk, sk = str(key.get("pk", {}).get("S", "")), str(key.get("sk", {}).get("S", ""))
    if sk.startswith("I#"):
        return "engagement"
    if sk == "#USER":
        return "schedule" if DUE_MS in str(request.get("ExpressionAttributeNames", {})) else "contact"
    return "counter:" + pk.split("#", maxsplit=1)[0]


@dataclass(frozen=True)
class Day:
    """One run, counted."""

    name: str
    seconds: float
    summary: dict[str, Any]
    wire: Wire
    due: int
    points: int = 0
    """History points that appear on the run's day (evaluated, never written)."""

    @property
    def observable(self) -> int:
        s = self.summary
        return int(
            s.get("band_changes", 0)
            + self.points
            + s.get("percentile_moves", 0)
            + s.get("expiries", 0)
            + (s.get("scheduled", 0) if self.name == "sweep" else 0)
        )


def run() -> Section:
    backend.start()
    boto3.setup_default_session()
    # The one-time sweep, on a table a fortieth the size in the previous version's format (its
    # cost is per item: one write for each item that lacks an expiry or a due time).
    sample = backend.fresh_tables("bench-maintenance-sweep")
    _untap_buses("bench-maintenance-sweep")
    counter = Counter(sample.aggregates)
    with counter.attached():
        _populate(sample.aggregates, ENGAGEMENTS // SWEEP_SAMPLE, CONTACTS // SWEEP_SAMPLE, steady=False)
        _lift_pacing()
        runner = JobRunner(load_functions(), log=lambda _: None)
        with backend.stdout_discarded():
            sweep = _day(runner, counter, "cleanup", SWEEP_AT, "sweep")
    tables = backend.fresh_tables("bench-maintenance")
    _untap_buses("bench-maintenance")
    counter = Counter(tables.aggregates)
    with counter.attached():
        sizes = _populate(tables.aggregates, ENGAGEMENTS, CONTACTS, steady=True)
        runner = JobRunner(load_functions(), log=lambda _: None)
        with backend.stdout_discarded():
            quiet = _day(runner, counter, "decay", RUN_AT, "quiet")
            repeat = _day(runner, counter, "decay", RUN_AT, "repeat")
            campaign_events = _campaign()
            after = _day(runner, counter, "decay", RUN_AT + timedelta(days=1), "campaign")
            _swept_already()
            weekly = _day(runner, counter, "cleanup", SWEEP_AT + timedelta(days=7), "weekly")
    expiring = _expiring(tables.aggregates, RUN_AT - timedelta(days=1), RUN_AT)
    projection = {day.name: _projection(day) for day in (quiet, after)}
    rows: list[Row] = []
    for day, label in ((quiet, "quiet day"), (after, "day after the campaign")):
        rows += [
            Row(f"{label}: items read vs items due", day.wire.items_read, max(1, day.due), RATIO_TARGET),
            Row(
                f"{label}: items written vs observable changes",
                day.wire.written,
                max(1, day.observable),
                RATIO_TARGET,
            ),
            Row(f"{label}: full scans per run vs one", day.wire.scanned / _table_items(), 1.0, 0.0),
        ]
    rows += [
        Row(
            "quiet day at 100 M / 5 M: dollars vs the previous design's daily run",
            projection["quiet"]["dollars"],
            OLD_DAILY["dollars"],
            QUIET_DAY_DOLLARS_TARGET / OLD_DAILY["dollars"],
        ),
        Row(
            "day after the campaign at 100 M / 5 M: dollars vs the previous design's",
            projection["campaign"]["dollars"],
            OLD_DAILY["dollars"],
            None,
        ),
        Row(
            "quiet day repeated: items written vs the first run's",
            repeat.wire.written,
            quiet.wire.written,
            0.0,
        ),
        Row(
            "weekly run after the sweep: aggregate items read and written vs one",
            weekly.wire.items_read + weekly.wire.written,
            1.0,
            0.0,
        ),
        Row(
            "one-time sweep: items written vs expiries and due times set",
            sweep.wire.written,
            max(1, sweep.observable),
            RATIO_TARGET,
        ),
    ]
    notes = [
        f"Table: {ENGAGEMENTS:,} (user, item) engagements over {CONTACTS:,} contacts, idle 0 to"
        f" {MAX_IDLE_DAYS} days (seed {SEED}); mean item {sizes['engagement']:.0f} bytes (engagement),"
        f" {sizes['contact']:.0f} bytes (contact, as the sweep found it).",
        *(_day_note(day) for day in (sweep, quiet, repeat, after, weekly)),
        f"Quiet day: {quiet.wire.written / max(1, quiet.summary.get('band_changes', 0)):.2f} items"
        " written per band change (the band with its pending mark, the overview's band count, and"
        f" the schedule that settles it); its {quiet.points:,} history points cost no write: the"
        " history route evaluates them from the stretch each contact's last events left.",
        f"Campaign: {campaign_events:,} events to {CAMPAIGN_CONTACTS:,} contacts on the quiet day, scored"
        " through domain.scoring.score_batch (not counted here: the scoring benchmark's cost).",
        f"Engagements expiring on the quiet day through TTL: {expiring:,}, for 0 writes and 0 reads"
        " (TTL deletes are free); every read treats them as gone from their instant.",
        f"The sweep ran on a table of {ENGAGEMENTS // SWEEP_SAMPLE:,} engagements and"
        f" {CONTACTS // SWEEP_SAMPLE:,} contacts in the previous format (one write per item lacking an"
        f" expiry or a due time; at 100 M / 5 M, once: {PROJECTED_ITEMS / 1e6:.0f} M"
        f" write units, ${PROJECTED_ITEMS / 1e6 * PRICE_PER_MILLION_WRITES:.2f}, plus"
        " one scan). The main table starts as the daily runs leave it: every contact banded, counted"
        " in its percentile bucket, with its history stretch and its next due instant.",
        *(line for name in ("quiet", "campaign") for line in projection[name]["notes"]),
        f"The previous design's daily run at this size: {OLD_DAILY['read_units'] / 1e6:.1f} M read units,"
        f" {OLD_DAILY['write_units'] / 1e6:.1f} M write units, {OLD_DAILY['hours']:.1f} h,"
        f" ${OLD_DAILY['dollars']:.2f} (it rewrote a third of the engagements every day).",
    ]
    return Section(
        key="maintenance",
        title=f"6. Maintenance at scale: {ENGAGEMENTS:,} engagements and {CONTACTS:,} contacts",
        measured_label="measured",
        baseline_label="against",
        unit="",
        decimals=2,
        rows=rows,
        notes=notes,
        details={
            "engagements": ENGAGEMENTS,
            "contacts": CONTACTS,
            "item_bytes": sizes,
            "days": {
                day.name: {
                    "seconds": day.seconds,
                    "due": day.due,
                    "observable": day.observable,
                    "items_read": day.wire.items_read,
                    "read_units": day.wire.read_units,
                    "items_written": day.wire.items_written,
                    "write_units": day.wire.write_units,
                    "index_write_units": day.wire.index_write_units,
                    "scans": day.wire.scans,
                    "summary": {k: v for k, v in day.summary.items() if isinstance(v, int | float)},
                }
                for day in (sweep, quiet, repeat, after, weekly)
            },
            "expiring_on_quiet_day": expiring,
            "projection": {name: figures["figures"] for name, figures in projection.items()},
        },
    )


def _untap_buses(prefix: str) -> None:
    """Band changes are still published (to the bus), but not copied into the test tap's queue:
    moto's SQS looks at every queued message on each send, which at ten thousand unread band
    changes would measure moto. The tap is for tests that read what was published."""
    events = boto3.client("events")
    for spec in TOPOLOGY.buses:
        name = bus_name(spec, prefix)
        for rule in events.list_rules(EventBusName=name)["Rules"]:
            events.remove_targets(Rule=rule["Name"], EventBusName=name, Ids=["tap"])


def _table_items() -> int:
    return ENGAGEMENTS + CONTACTS


def _day(runner: JobRunner, counter: Counter, job: str, at: datetime, name: str) -> Day:
    due = _due(at) if job == "decay" else 0
    with counter.counting() as wire:
        started = perf_counter()
        summary = _run(runner, job, at)
        seconds = perf_counter() - started
    points = _points_on(at) if job == "decay" and not summary.get("repeat") else 0
    return Day(name, seconds, summary, wire, due, points)


def _points_on(at: datetime) -> int:
    """The history points that appear on ``at``'s day, over every contact: what the history
    route answers for that day, from what the store holds (read by a client that is not
    counted), with the route's own function."""
    client = boto3.session.Session().client("dynamodb")
    stretches: dict[str, list[Stretch]] = {}
    for page in client.get_paginator("scan").paginate(TableName=deps.settings().table("history")):
        for raw in page["Items"]:
            item = {name: _deserializer.deserialize(value) for name, value in raw.items()}
            if is_stretch_item(item):
                stretches.setdefault(str(item["pk"]), []).append(stretch_from_item(item))
    day, config = at.date(), deps.scoring_with_models()[0]
    retention = deps.settings().history_retention_days
    return sum(
        len(
            history_points(
                StoredHistory(found),
                first_day=day,
                last_day=day,
                now_ms=to_ms(at),
                retention_days=retention,
                config=config,
            )
        )
        for found in stretches.values()
    )


def _day_note(day: Day) -> str:
    s, w = day.summary, day.wire
    if s.get("repeat"):
        return f"{day.name}: the same scheduled time again ({day.seconds:.1f} s); writes {w.items_written}."
    return (
        f"{day.name} ({day.seconds:.1f} s): due {day.due:,}, read {w.items_read:,} ({w.read_units:,.1f} read"
        f" units, {w.scans} Scan pages); band changes {s.get('band_changes', 0):,}, history points"
        f" {day.points:,} (evaluated), stretches recorded {s.get('stretches', 0):,}, percentile moves"
        f" {s.get('percentile_moves', 0):,}, expiries set"
        f" {s.get('expiries', 0):,}, scheduled {s.get('scheduled', 0):,}; items written by kind"
        f" {dict(sorted(w.items_written.items()))}."
    )


def _run(runner: JobRunner, job: str, at: datetime) -> dict[str, Any]:
    summary = runner.run(TOPOLOGY.job(job), at)
    if not summary.get("complete"):
        raise RuntimeError(f"{job} at {rfc3339(at)} did not complete: {summary}")
    return summary


def _due(at: datetime) -> int:
    """Contacts due by ``at``, counted from the due index by a client that is not counted (its
    session has no hooks)."""
    client = boto3.session.Session().client("dynamodb")
    due = 0
    for shard in range(DUE_SHARDS):
        for page in client.get_paginator("query").paginate(
            TableName=deps.settings().table("aggregates"),
            IndexName=DUE.name,
            KeyConditionExpression="due_pk = :p AND due_ms <= :t",
            ExpressionAttributeValues={":p": {"S": f"D#{shard}"}, ":t": {"N": str(to_ms(at))}},
            Select="COUNT",
        ):
            due += int(page["Count"])
    return due


def _expiring(table: str, after: datetime, until: datetime) -> int:
    client = boto3.session.Session().client("dynamodb")
    low, high = to_ms(after) // 1000, to_ms(until) // 1000
    found = 0
    for page in client.get_paginator("scan").paginate(TableName=table, ProjectionExpression="expires_at"):
        for item in page["Items"]:
            if "expires_at" in item and low < int(item["expires_at"]["N"]) <= high:
                found += 1
    return found


def _lift_pacing() -> None:
    """Token buckets big enough never to wait: the measurement is of the work, not of the limit."""
    for name in ("decay", "cleanup"):
        module = importlib.import_module(f"engagement.handlers.{name}")
        job = getattr(module, name.upper())
        unpaced = replace(job.spec, write_rate_per_s=1e9, read_rate_per_s=1e9)
        setattr(module, name.upper(), replace(job, spec=unpaced))


def _campaign() -> int:
    """A campaign on the quiet day: an SMS to half the contacts, some of whom click, reply or buy."""
    rng = random.Random(SEED + 1)
    sent_at = to_ms(RUN_AT + timedelta(hours=10))
    events: list[ObservedEvent] = []
    for c in rng.sample(range(CONTACTS), CAMPAIGN_CONTACTS):
        user = f"+1415{c:07d}"
        kinds = [EventType.DELIVERED]
        if rng.random() < 0.2:
            kinds.append(EventType.CLICKED)
        if rng.random() < 0.05:
            kinds.append(EventType.RESPONDED)
        if rng.random() < 0.02:
            kinds.append(EventType.CONVERTED)
        for n, kind in enumerate(kinds):
            at = sent_at + n * 600_000
            value = Decimal(25) if kind is EventType.CONVERTED else None
            events.append(
                ObservedEvent(f"{user}-winter-{n}", user, "winter-sale", kind, at, value, at // 1000)
            )
    store = deps.store()
    upkeep = Upkeep(store.contacts, deps.publisher(), deps.scoring_config())
    batch = TOPOLOGY.stream_mapping_for("scorer").batch_size
    with backend.stdout_discarded():
        for start in range(0, len(events), batch):
            outcome = score_batch(
                events[start : start + batch], store, upkeep=upkeep, at_ms=sent_at + 3_600_000
            )
            if outcome.failed:
                raise RuntimeError(f"the campaign's scoring failed: {next(iter(outcome.failed.values()))}")
    return len(events)


def _populate(table: str, engagements: int, contacts: int, *, steady: bool) -> dict[str, float]:
    """Engagements and contacts, written in batches (not counted): ``steady`` as the scorer and
    the daily runs leave them now, otherwise as the previous version left them (no expiry, no
    band, no due time)."""
    rng = random.Random(SEED)
    client = boto3.session.Session().client("dynamodb")
    per_contact = engagements // contacts
    engagement_bytes = contact_bytes = 0
    batch: list[dict[str, Any]] = []
    stretches: list[dict[str, Any]] = []
    histogram: dict[tuple[int, int], int] = {}
    config = deps.scoring_config()
    last_run_ms = to_ms(LAST_RUN_AT)

    def put(item: dict[str, Any]) -> int:
        wire = _wire(item)
        batch.append({"PutRequest": {"Item": wire}})
        if len(batch) == 25:
            _flush(client, table, batch)
        return item_size(wire)

    for c in range(contacts):
        user = f"+1415{c:07d}"
        events: list[ObservedEvent] = []
        for e in range(per_contact):
            kind = rng.choice(_TYPES)
            last = to_ms(SWEEP_AT) - rng.randrange(0, MAX_IDLE_DAYS * 86_400_000)
            count = rng.randint(1, 8)
            engagement = {
                "pk": f"U#{user}",
                "sk": f"I#campaign-{e}",
                "uid": user,
                "iid": f"campaign-{e}",
                f"{COUNT_PREFIX}{kind.value}": count,
                "first_ms": last - count * 3_600_000,
                "last_ms": last,
                "ver": count,
            }
            if steady:
                engagement["expires_at"] = expires_at_s(last)
            engagement_bytes += put(engagement)
            events += [
                ObservedEvent(f"{user}-{e}-{n}", user, f"campaign-{e}", kind, last - n * 3_600_000, None, 0)
                for n in range(count)
            ]
        state = ContactState.from_events(user, events)
        assert state is not None
        item = _contact_item(state)
        if contact_state_from_item(item) != state:  # the layout here must be the store's
            raise RuntimeError(f"the benchmark's contact item for {user} does not read back as its state")
        if steady:
            evaluation = evaluate_contact(state, last_run_ms, config)
            band = evaluation.band.value
            # The first run after the contact's last event recorded its state.
            seen_ms = (state.last_ms // MS_PER_DAY + 1) * MS_PER_DAY
            stretch = Stretch(day=stretch_day(seen_ms), at_ms=seen_ms, state=state)
            stretches.append(stretch_item(user, stretch, expires_at_s=2**31))
            item.update(
                {
                    BAND: band,
                    BAND_SCORE: Decimal(str(round(evaluation.score.composite, 2))),
                    BAND_SINCE: last_run_ms,
                    SEGMENT: segment_partition(band, shard_of(user, SEGMENT_SHARDS)),
                    STRETCH_VERSION: item["ver"],
                    STRETCH_AT: seen_ms,
                    DUE_PK: due_partition(user),
                    DUE_MS: next_due_ms(state, last_run_ms, band, config),
                }
            )
            if evaluation.bucket is not None:
                item[BUCKET] = evaluation.bucket
                where = (shard_of(user, PERCENTILE_SHARDS), evaluation.bucket)
                histogram[where] = histogram.get(where, 0) + 1
        contact_bytes += put(item)
    for (shard, bucket), n in histogram.items():
        put({**percentile_key(shard, bucket), "n": n})
    if batch:
        _flush(client, table, batch)
    history = deps.settings().table("history")
    for start in range(0, len(stretches), 25):
        _flush(client, history, [{"PutRequest": {"Item": _wire(i)}} for i in stretches[start : start + 25]])
    return {"engagement": engagement_bytes / engagements, "contact": contact_bytes / contacts}


def _swept_already() -> None:
    """The main table starts after the sweep: its record is what the sample's run wrote."""
    deps.runs().record_sweep(EXPIRY_AND_DUE_SWEEP, RunId("cleanup", to_ms(SWEEP_AT)), to_ms(SWEEP_AT))


def _contact_item(state: ContactState) -> dict[str, Any]:
    """The per-user aggregate the scorer would have written for these events."""
    return {**contact_state_attributes(state), "ver": sum(state.counts.values())}


def _wire(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _serializer.serialize(value) for name, value in item.items()}


def _flush(client: Any, table: str, batch: list[dict[str, Any]]) -> None:
    pending = {table: list(batch)}
    batch.clear()
    while pending:
        pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}


def _projection(day: Day) -> dict[str, Any]:
    """The run at 100 million engagements and 5 million contacts: everything it does scales with
    the contacts (engagements cost nothing), so the measured figures scale by their ratio."""
    spec = TOPOLOGY.job("decay")
    scale = PROJECTED_CONTACTS / CONTACTS
    wire = day.wire
    read_units = wire.read_units * scale
    table_writes = (wire.write_units - wire.items_written.get("checkpoint", 0)) * scale
    index_writes = wire.index_write_units * scale
    write_units = table_writes + index_writes
    read_hours = read_units / spec.read_rate_per_s / 3600
    write_hours = (table_writes + 0) / spec.write_rate_per_s / 3600  # the pacing counts table writes
    hours = max(read_hours, write_hours)
    function_memory_gb = TOPOLOGY.function(spec.function).memory_mb / 1024
    lambda_gb_s = hours * 3600 * spec.max_concurrency * function_memory_gb
    cost: Callable[[float, float], float] = lambda units, price: units / 1e6 * price  # noqa: E731
    dollars = {
        "reads": cost(read_units, PRICE_PER_MILLION_READS),
        "writes": cost(write_units, PRICE_PER_MILLION_WRITES),
        "lambda": lambda_gb_s * PRICE_PER_GB_SECOND,
    }
    total = sum(dollars.values())
    figures = {
        "read_units": read_units,
        "table_write_units": table_writes,
        "index_write_units": index_writes,
        "hours_at_configured_rates": hours,
        "dollars": dollars,
        "total_dollars": total,
    }
    notes = [
        f"Projection, {day.name} run at {PROJECTED_ENGAGEMENTS / 1e6:.0f} M engagements and"
        f" {PROJECTED_CONTACTS / 1e6:.0f} M contacts (x{scale:,.0f} the measured contacts' work; engagements"
        f" cost nothing): reads {wire.read_units:,.1f} x {scale:,.0f} = {read_units / 1e6:.3f} M read units;"
        f" writes ({wire.write_units - wire.items_written.get('checkpoint', 0):,.0f} table units +"
        f" {wire.index_write_units:,.0f} index units: due and segments) x {scale:,.0f} ="
        f" {write_units / 1e6:.3f} M write units;"
        f" {hours * 60:.1f} min at the configured {spec.read_rate_per_s:,.0f} read units/s and"
        f" {spec.write_rate_per_s:,.0f} writes/s.",
        f"Cost: reads {read_units / 1e6:.3f} M x ${PRICE_PER_MILLION_READS}/M = ${dollars['reads']:.3f};"
        f" writes {write_units / 1e6:.3f} M x ${PRICE_PER_MILLION_WRITES}/M = ${dollars['writes']:.3f};"
        f" Lambda {lambda_gb_s:,.0f} GB-s x ${PRICE_PER_GB_SECOND} = ${dollars['lambda']:.3f};"
        f" total ${total:.2f} per run.",
    ]
    return {"figures": figures, "notes": notes, "dollars": total}
