"""Decay and cleanup at scale: 200,000 engagements (and their 10,000 contacts) on a local table.

Measured, on the real job steps (``infra.local.jobs.JobRunner`` driving the decay and cleanup
functions exactly as the state machine does):

* write requests per changed item: on the day after the first run, the engagements whose
  stored score changed (compared before and after, by a client that is not counted) against the
  write requests sent for engagements (counted on the wire by ``bench.capacity``); target 1.0;
* writes on a repeated run: the same scheduled time again; target 0;
* items examined per second against a bare parallel scan of the same table (the same segments,
  page size and client, nothing done with the items): the job's time per item over the scan's,
  target at most 1/0.7, that is a throughput of at least 0.7 of the bare scan's;
* the projection to 100 million engagements, from the measured item sizes, changed fraction
  and writes per item, at DynamoDB on-demand prices.

Why it is fair: both sides run on moto's in-process backend with ``infra.local.moto_scale``
(moto's own Scan is quadratic in the table's size; the key index makes a page cost its own size,
as in DynamoDB), segments one after another as the local runner runs them. The job's pacing is lifted
for the measurement (its token buckets would otherwise set the time, by design); the
projection applies the configured rates instead.
"""

from __future__ import annotations

import importlib
import random
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from time import perf_counter
from typing import Any

import boto3
from boto3.dynamodb.types import TypeSerializer

from bench import backend
from bench.capacity import CapacityMeter, Tally, item_size
from bench.report import Row, Section
from engagement.domain.aggregates import ObservedEvent
from engagement.domain.contact import ContactState
from engagement.domain.event_types import EventType
from engagement.domain.timefmt import rfc3339, to_ms
from engagement.store.items import (
    COUNT_PREFIX,
    DECAY_PREFIX,
    FIRST_PREFIX,
    LAST_PREFIX,
    contact_state_from_item,
)
from engagement.topology import TOPOLOGY
from infra.local.jobs import JobRunner
from infra.local.lambdas import load_functions

ENGAGEMENTS = 200_000
CONTACTS = 10_000
SEED = 20261121
RUN_AT = datetime(2026, 11, 21, tzinfo=UTC)
MAX_IDLE_DAYS = 400
PROJECTED_ENGAGEMENTS = 100_000_000
# DynamoDB on-demand, Standard table class, us-east-1 (aws.amazon.com/dynamodb/pricing/on-demand,
# after the November 2024 reduction): per million request units.
PRICE_PER_MILLION_WRITES = 0.625
PRICE_PER_MILLION_READS = 0.125
# Lambda arm64, per GB-second (aws.amazon.com/lambda/pricing).
PRICE_PER_GB_SECOND = 0.0000133334
EXAMINED_TARGET = 1 / 0.7
_TYPES = (EventType.QUERY, EventType.VIEW, EventType.MENTION, EventType.DELIVERED, EventType.CLICKED)
_serializer = TypeSerializer()


def run() -> Section:
    backend.start()
    boto3.setup_default_session()
    session = boto3.DEFAULT_SESSION
    assert session is not None
    meter = CapacityMeter(session, sizes=False)  # requests by kind; item sizes come from _populate
    with meter.attached():
        tables = backend.fresh_tables("bench-maintenance")
        sizes = _populate(tables.aggregates)
        _lift_pacing()
        runner = JobRunner(load_functions(), log=lambda _: None)

        scan_s, scanned = _bare_scan(tables.aggregates)
        if scanned != ENGAGEMENTS + CONTACTS:
            raise RuntimeError(f"the bare scan saw {scanned} items")
        with backend.stdout_discarded():
            first_s, first, _ = _timed(lambda: _run(runner, "decay", RUN_AT), meter)
            _, repeat, _ = _timed(lambda: _run(runner, "decay", RUN_AT), meter)
            before = _scores(tables.aggregates)
            next_s, following, _ = _timed(lambda: _run(runner, "decay", RUN_AT + timedelta(days=1)), meter)
            after = _scores(tables.aggregates)
            cleanup_s, cleanup, _ = _timed(lambda: _run(runner, "cleanup", RUN_AT + timedelta(days=3)), meter)
            # What the first cleanup left, with the contacts' percentile buckets the runs created.
            rescan_s, remaining = _bare_scan(tables.aggregates)
            weekly_s, weekly, _ = _timed(lambda: _run(runner, "cleanup", RUN_AT + timedelta(days=10)), meter)

    items = ENGAGEMENTS + CONTACTS
    changed = sum(1 for key, score in after.items() if before.get(key) != score)
    engagement_writes = following.writes_by_kind.get("engagement", 0)
    first_writes = sum(first.writes_by_kind.values())
    repeat_writes = sum(repeat.writes_by_kind.values())
    projection = _projection(sizes, changed / ENGAGEMENTS, following.writes_by_kind)
    return Section(
        key="maintenance",
        title=f"6. Decay and cleanup at scale: {ENGAGEMENTS:,} engagements and {CONTACTS:,} contacts",
        measured_label="job",
        baseline_label="baseline",
        unit="",
        decimals=2,
        rows=[
            Row("next day's run: write requests per changed engagement", engagement_writes, changed, 1.0),
            Row("repeated run: writes, against the first run's", repeat_writes, first_writes, 0.0),
            Row(
                "next day's run: time per item examined vs bare parallel scan (us)",
                next_s / items * 1e6,
                scan_s / items * 1e6,
                EXAMINED_TARGET,
            ),
            Row(
                "first run: time per item examined vs bare parallel scan (us)",
                first_s / items * 1e6,
                scan_s / items * 1e6,
                None,
            ),
            Row(
                "next week's cleanup: time per item examined vs bare scan (us)",
                weekly_s / remaining * 1e6,
                rescan_s / remaining * 1e6,
                EXAMINED_TARGET,
            ),
            Row(
                "first cleanup: time per item examined vs bare parallel scan (us)",
                cleanup_s / items * 1e6,
                scan_s / items * 1e6,
                None,
            ),
        ],
        notes=[
            f"Table: {ENGAGEMENTS:,} (user, item) engagements over {CONTACTS:,} contacts, idle 0 to"
            f" {MAX_IDLE_DAYS} days at the first run (seed {SEED}); mean item {sizes['engagement']:.0f} bytes"
            f" (engagement) and {sizes['contact']:.0f} bytes (contact).",
            f"Bare parallel scan: {scan_s:.1f} s, {items / scan_s:,.0f} items/s. Next day's run:"
            f" {next_s:.1f} s, {items / next_s:,.0f} items examined/s"
            f" ({scan_s / next_s:.2f} of the bare scan's throughput; target at least 0.70).",
            f"First run (every engagement materialized, every contact banded): {first_s:.1f} s,"
            f" writes by kind {dict(sorted(first.writes_by_kind.items()))}.",
            "Repeated run (the same scheduled time): writes by kind"
            f" {dict(sorted(repeat.writes_by_kind.items()))}.",
            f"Next day: {changed:,} of {ENGAGEMENTS:,} engagements changed ({changed / ENGAGEMENTS:.1%}),"
            f" {engagement_writes:,} engagement write requests; all writes by kind"
            f" {dict(sorted(following.writes_by_kind.items()))}.",
            f"First cleanup ({cleanup_s:.1f} s): writes by kind"
            f" {dict(sorted(cleanup.writes_by_kind.items()))};"
            f" {remaining:,} items left. The next week's cleanup ({weekly_s:.1f} s, bare scan"
            f" {rescan_s:.1f} s, {rescan_s / weekly_s:.2f} of its throughput): writes by kind"
            f" {dict(sorted(weekly.writes_by_kind.items()))}.",
            *projection["notes"],
        ],
        details={
            "engagements": ENGAGEMENTS,
            "contacts": CONTACTS,
            "item_bytes": sizes,
            "seconds": {
                "bare_scan": scan_s,
                "first": first_s,
                "next_day": next_s,
                "cleanup": cleanup_s,
                "bare_scan_after_cleanup": rescan_s,
                "next_week_cleanup": weekly_s,
            },
            "changed_engagements": changed,
            "writes": {
                "first": first.writes_by_kind,
                "repeat": repeat.writes_by_kind,
                "next_day": following.writes_by_kind,
                "cleanup": cleanup.writes_by_kind,
                "next_week_cleanup": weekly.writes_by_kind,
            },
            "projection_100m": projection["figures"],
        },
    )


def _run(runner: JobRunner, job: str, at: datetime) -> dict[str, Any]:
    summary = runner.run(TOPOLOGY.job(job), at)
    if not summary.get("complete"):
        raise RuntimeError(f"{job} at {rfc3339(at)} did not complete: {summary}")
    return summary


def _timed(work: Callable[[], dict[str, Any]], meter: CapacityMeter) -> tuple[float, Tally, dict[str, Any]]:
    with meter.counting(_purpose) as tally:
        started = perf_counter()
        summary = work()
        elapsed = perf_counter() - started
    return elapsed, tally, summary


def _purpose(operation: str, params: Mapping[str, Any]) -> str:
    if operation == "TransactWriteItems":
        return "percentile"
    table = str(params.get("TableName", ""))
    if table.endswith("-runs"):
        return "checkpoint"
    if table.endswith("-history"):
        return "history"
    key = params.get("Key") or params.get("Item") or {}
    sk = str(key.get("sk", {}).get("S", ""))
    return "engagement" if sk.startswith("I#") else "contact"


def _lift_pacing() -> None:
    """Token buckets big enough never to wait: the measurement is of the work, not of the limit."""
    for name in ("decay", "cleanup"):
        module = importlib.import_module(f"engagement.handlers.{name}")
        job = getattr(module, name.upper())
        unpaced = replace(job.spec, write_rate_per_s=1e9, read_rate_per_s=1e9)
        setattr(module, name.upper(), replace(job, spec=unpaced))


def _bare_scan(table: str) -> tuple[float, int]:
    client = boto3.client("dynamodb")
    spec = TOPOLOGY.job("decay")
    started = perf_counter()
    seen = 0
    for segment in range(spec.segments):
        start: dict[str, Any] | None = None
        while True:
            extra: dict[str, Any] = {"ExclusiveStartKey": start} if start else {}
            page = client.scan(
                TableName=table,
                Segment=segment,
                TotalSegments=spec.segments,
                Limit=spec.page_size,
                ReturnConsumedCapacity="TOTAL",
                **extra,
            )
            seen += len(page["Items"])
            start = page.get("LastEvaluatedKey")
            if not start:
                break
    return perf_counter() - started, seen


def _scores(table: str) -> dict[str, Any]:
    client = boto3.session.Session().client("dynamodb")  # not counted: no hooks on this session
    found: dict[str, Any] = {}
    for page in client.get_paginator("scan").paginate(TableName=table):
        for item in page["Items"]:
            if item["sk"]["S"].startswith("I#"):
                found[item["pk"]["S"] + item["sk"]["S"]] = item.get("score", {}).get("N")
    return found


def _populate(table: str) -> dict[str, float]:
    """Engagements and contacts as the scorer leaves them, written in batches (not counted)."""
    rng = random.Random(SEED)
    client = boto3.session.Session().client("dynamodb")
    per_contact = ENGAGEMENTS // CONTACTS
    engagement_bytes = contact_bytes = 0
    batch: list[dict[str, Any]] = []

    def put(item: dict[str, Any]) -> int:
        wire = {name: _serializer.serialize(value) for name, value in item.items()}
        batch.append({"PutRequest": {"Item": wire}})
        if len(batch) == 25:
            _flush(client, table, batch)
        return item_size(wire)

    for c in range(CONTACTS):
        user = f"+1415{c:07d}"
        events: list[ObservedEvent] = []
        for e in range(per_contact):
            kind = rng.choice(_TYPES)
            last = to_ms(RUN_AT) - rng.randrange(0, MAX_IDLE_DAYS * 86_400_000)
            count = rng.randint(1, 8)
            engagement_bytes += put(
                {
                    "pk": f"U#{user}",
                    "sk": f"I#campaign-{e}",
                    "uid": user,
                    "iid": f"campaign-{e}",
                    f"{COUNT_PREFIX}{kind.value}": count,
                    "first_ms": last - count * 3_600_000,
                    "last_ms": last,
                    "ver": count,
                }
            )
            events += [
                ObservedEvent(f"{user}-{e}-{n}", user, f"campaign-{e}", kind, last - n * 3_600_000, None, 0)
                for n in range(count)
            ]
        state = ContactState.from_events(user, events)
        assert state is not None
        item = _contact_item(state)
        if contact_state_from_item(item) != state:  # the layout here must be the store's
            raise RuntimeError(f"the benchmark's contact item for {user} does not read back as its state")
        contact_bytes += put(item)
    if batch:
        _flush(client, table, batch)
    return {"engagement": engagement_bytes / ENGAGEMENTS, "contact": contact_bytes / CONTACTS}


def _contact_item(state: ContactState) -> dict[str, Any]:
    """The per-user aggregate the scorer would have written for these events."""
    item: dict[str, Any] = {
        "pk": f"U#{state.user_id}",
        "sk": "#USER",
        "uid": state.user_id,
        "first_ms": state.first_ms,
        "last_ms": state.last_ms,
        "ver": sum(state.counts.values()),
    }
    if state.value_sum:
        item["vsum"] = Decimal(state.value_sum)
    for event_type, count in state.counts.items():
        item[f"{COUNT_PREFIX}{event_type.value}"] = count
        item[f"{FIRST_PREFIX}{event_type.value}"] = state.first_by_type[event_type]
        item[f"{LAST_PREFIX}{event_type.value}"] = state.last_by_type[event_type]
    for event_type, epochs in state.decay_accumulators.items():
        for epoch, units in epochs.items():
            item[f"{DECAY_PREFIX}{event_type.value}_{epoch}"] = int(units)
    return item


def _flush(client: Any, table: str, batch: list[dict[str, Any]]) -> None:
    pending = {table: list(batch)}
    batch.clear()
    while pending:
        pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}


def _projection(
    sizes: Mapping[str, float], changed_fraction: float, writes: Mapping[str, int]
) -> dict[str, Any]:
    """A daily run over 100 million engagements (and contacts in the same proportion)."""
    spec = TOPOLOGY.job("decay")
    contacts = PROJECTED_ENGAGEMENTS * CONTACTS // ENGAGEMENTS
    table_bytes = PROJECTED_ENGAGEMENTS * sizes["engagement"] + contacts * sizes["contact"]
    # A Scan reads eventually consistent: half a unit per 4 KB of items read.
    read_units = table_bytes / 4096 / 2
    scale = PROJECTED_ENGAGEMENTS / ENGAGEMENTS
    write_units = sum(writes.values()) * scale  # items are under 1 KB: one unit per write
    read_hours = read_units / spec.read_rate_per_s / 3600
    write_hours = write_units / spec.write_rate_per_s / 3600
    hours = max(read_hours, write_hours)
    function_memory_gb = TOPOLOGY.function(spec.function).memory_mb / 1024
    lambda_gb_s = hours * 3600 * spec.max_concurrency * function_memory_gb
    cost = {
        "reads": read_units / 1e6 * PRICE_PER_MILLION_READS,
        "writes": write_units / 1e6 * PRICE_PER_MILLION_WRITES,
        "lambda": lambda_gb_s * PRICE_PER_GB_SECOND,
    }
    figures = {
        "engagements": PROJECTED_ENGAGEMENTS,
        "contacts": contacts,
        "table_gb": table_bytes / 1e9,
        "read_units": read_units,
        "write_units": write_units,
        "changed_fraction": changed_fraction,
        "hours_at_configured_rates": hours,
        "cost_usd": cost,
    }
    notes = [
        f"Projection, {PROJECTED_ENGAGEMENTS / 1e6:.0f} M engagements and {contacts / 1e6:.0f} M contacts"
        f" ({table_bytes / 1e9:.0f} GB): the scan reads {read_units / 1e6:.1f} M read units, the next-day"
        f" writes are {write_units / 1e6:.1f} M write units ({changed_fraction:.1%} of engagements"
        " changed, plus contacts' bands, buckets and history).",
        f"At the configured rates ({spec.read_rate_per_s:,.0f} read units/s and {spec.write_rate_per_s:,.0f}"
        f" writes/s for the whole run, {spec.max_concurrency} segments at a time) a run takes about"
        f" {hours:.1f} h (reading {read_hours:.1f} h, writing {write_hours:.1f} h, overlapped): raise"
        " write_rate_per_s and max_concurrency together to shorten it.",
        f"Cost per run at on-demand prices (us-east-1: ${PRICE_PER_MILLION_READS}/M read units,"
        f" ${PRICE_PER_MILLION_WRITES}/M write units, Lambda arm64 ${PRICE_PER_GB_SECOND}/GB-s):"
        f" reads ${cost['reads']:.2f} + writes ${cost['writes']:.2f} + Lambda ${cost['lambda']:.2f}"
        f" = ${sum(cost.values()):.2f}.",
    ]
    return {"figures": figures, "notes": notes}
