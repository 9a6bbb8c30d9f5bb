"""Ingest: the POST /v1/events handler against a bare ``put_item`` of the same item.

Measured: wall time of one call of ``engagement.handlers.ingest.handler`` with a real API
Gateway payload 2.0 event (one event, valid bearer key), from the call to its return; against
wall time of one ``put_item`` of an item with the same attributes and the same
``attribute_not_exists(pk)`` condition, made with a client of the same configuration.

Why the comparison is fair: both sides write to the same moto in-process table (same stream,
same TTL setting), so both pay the same store cost, and the ratio isolates what the handler adds
on top of the one write it must make: authentication, routing, validation, event-id and item
building, logging and metrics. Every call writes a new event (distinct ids, so no call is a
cheap duplicate). The request events and the bare items are built before timing: API Gateway
builds the former. The two sides alternate (A,B then B,A) so drift in the machine, or in the
table's size, reaches both; medians drop the pauses of a noisy 2-core machine.
"""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta
from time import perf_counter
from typing import TYPE_CHECKING, Any

import boto3

from bench import backend
from bench.api_requests import accepted_count, post_events
from bench.report import Row, Section
from bench.sampling import alternate, quartiles
from engagement.domain.timefmt import rfc3339, to_ms
from engagement.store.dynamodb import CLIENT_CONFIG

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

WARMUP = 50
ITERATIONS = 500
TARGET = 1.3
RETENTION = timedelta(days=400)


def _event_body(event_id: str, n: int, occurred_at: datetime) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "user_id": f"user-{n % 97:03d}",
        "item_id": f"AI-{n % 31:04d}",
        "type": "view",
        "occurred_at": rfc3339(occurred_at),
    }


def _bare_item(
    event_id: str, n: int, occurred_at: datetime, received_at: datetime
) -> dict[str, AttributeValueTypeDef]:
    """The attributes the store writes for the same event, in DynamoDB's wire format."""
    body = _event_body(event_id, n, occurred_at)
    return {
        "pk": {"S": f"E#{event_id}"},
        "event_id": {"S": event_id},
        "user_id": {"S": body["user_id"]},
        "item_id": {"S": body["item_id"]},
        "type": {"S": body["type"]},
        "occurred_at": {"S": body["occurred_at"]},
        "occurred_ms": {"N": str(to_ms(occurred_at))},
        "source": {"S": "api"},
        "received_at": {"S": rfc3339(received_at)},
        "expires_at": {"N": str(to_ms(received_at + RETENTION) // 1000)},
    }


def run() -> Section:
    tables = backend.fresh_tables("bench-ingest")
    ingest = backend.load("ingest")
    client = boto3.client("dynamodb", config=CLIENT_CONFIG)

    now = datetime.now(UTC)
    occurred_at = now - timedelta(minutes=1)
    total = WARMUP + ITERATIONS
    # Same length ids on both sides, so both items have the same size.
    requests = [post_events([_event_body(f"ev-h-{n:06d}", n, occurred_at)], now=now) for n in range(total)]
    items = [_bare_item(f"ev-b-{n:06d}", n, occurred_at, now) for n in range(total)]

    def call_handler(n: int) -> float:
        context = ingest.context()
        started = perf_counter()
        response = ingest.handler(requests[n], context)
        elapsed = perf_counter() - started
        if accepted_count(response) != 1:
            raise RuntimeError(f"the ingest handler did not store event {n}: {response.get('body')}")
        return elapsed

    def call_bare(n: int) -> float:
        started = perf_counter()
        client.put_item(
            TableName=tables.events, Item=items[n], ConditionExpression="attribute_not_exists(pk)"
        )
        return perf_counter() - started

    with backend.stdout_discarded():
        handler_us, bare_us = alternate(call_handler, call_bare, warmup=WARMUP, iterations=ITERATIONS)
    section = Section(
        key="ingest",
        title="1. Ingest: POST /v1/events handler vs bare put_item, one event per call (median per call)",
        measured_label="handler",
        baseline_label="bare put_item",
        unit="us",
        decimals=0,
        rows=[
            Row(
                "POST /v1/events, 1 event",
                statistics.median(handler_us),
                statistics.median(bare_us),
                TARGET,
            )
        ],
        notes=[
            f"{ITERATIONS} calls per side after {WARMUP} warm-up calls, alternating A,B / B,A;"
            " every call stores a new event id.",
            "Both sides write to the same moto in-process table with the same client configuration"
            " and condition; the ratio is what the handler adds to the one write it must make.",
            "Powertools as deployed (INFO logs, EMF metrics) with stdout sent to /dev/null;"
            " X-Ray tracing off (no daemon outside Lambda).",
        ],
        details={
            "iterations_per_side": ITERATIONS,
            "warmup_per_side": WARMUP,
            "handler_us_quartiles": quartiles(handler_us),
            "bare_us_quartiles": quartiles(bare_us),
        },
    )
    return section
