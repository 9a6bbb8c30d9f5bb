"""Helpers shared by integration tests: real events in, real stream records out."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from engagement.domain.events import EngagementEvent, EventIn, EventType
from engagement.store.dynamodb import DynamoStore
from engagement.topology import TOPOLOGY
from infra.local.jobs import JobRunner
from infra.local.lambdas import load_functions
from infra.local.stream_records import LambdaRecord, StreamReader, sequence_of, stream_arn

START = datetime(2026, 11, 1, tzinfo=UTC)


def make_events(count: int, *, seed: int = 7, users: int = 4, items: int = 6) -> list[EngagementEvent]:
    """Events over a few users and items with skewed popularity and some out-of-order times."""
    rng = random.Random(seed)
    # Opt-outs and opt-ins take the store's read-then-write path: the proofs cover it too.
    kinds = [
        EventType.QUERY,
        EventType.MENTION,
        EventType.VIEW,
        EventType.CLICKED,
        EventType.CONVERTED,
        EventType.OPTED_OUT,
        EventType.OPTED_IN,
    ]
    events = []
    for n in range(count):
        kind = rng.choice(kinds)
        occurred = START + timedelta(minutes=10 * n + rng.randint(-45, 45))
        events.append(
            EventIn(
                event_id=f"ev-{seed}-{n}",
                user_id=f"user-{min(int(rng.paretovariate(1.2)), users)}",
                item_id=f"ITEM-{min(int(rng.paretovariate(1.0)), items)}",
                type=kind,
                occurred_at=occurred,
                value=rng.choice([None, 5, 12.5]) if kind is EventType.CONVERTED else None,
                context=rng.choice(["STOP", "21610", None]) if kind is EventType.OPTED_OUT else None,
            ).resolve()
        )
    return events


def store_events(store: DynamoStore, events: list[EngagementEvent]) -> None:
    for event in events:
        assert store.put_event(event, received_at=START)


def stream_records(events_table: str) -> list[LambdaRecord]:
    """Every record of the events table's stream, shaped as Lambda delivers them, in order."""
    arn = stream_arn(boto3.client("dynamodb"), events_table)
    reader = StreamReader(boto3.client("dynamodbstreams"), arn)
    return sorted(reader.poll(), key=sequence_of)


def stream_event(records: list[LambdaRecord]) -> dict[str, Any]:
    return {"Records": records}


PATH_DEPENDENT = frozenset({"ver", "band_score", "unseen_ms", "unseen_last_ms"})
"""Attributes that record how the items got here, not what they hold: the write counter, the
score at the moment of the last band change (which depends on how the batches were cut), and
when the scorer first and last applied events the daily run has not seen."""


def aggregate_items(aggregates_table: str) -> dict[tuple[str, str], dict[str, Any]]:
    """Every aggregate item (and derived item), minus path-dependent attributes."""
    client = boto3.client("dynamodb")
    items: dict[tuple[str, str], dict[str, Any]] = {}
    for page in client.get_paginator("scan").paginate(TableName=aggregates_table):
        for item in page["Items"]:
            if item["pk"]["S"].startswith("PCT#") and item.get("n") == {"N": "0"}:
                continue  # a percentile bucket a contact passed through: empty is the same as absent
            # A band contacts passed through on the way (another batching evaluates them at other
            # moments): its count of 0 is the same as none.
            passed_through = item["pk"]["S"].startswith("OVERVIEW#bands#")
            # Sets have no order on the wire.
            normalized = {
                k: _sorted_sets(v)
                for k, v in item.items()
                if k not in PATH_DEPENDENT and not (passed_through and k.startswith("n_") and v == {"N": "0"})
            }
            items[(item["pk"]["S"], item["sk"]["S"])] = normalized
    return items


def _sorted_sets(value: dict[str, Any]) -> dict[str, Any]:
    return {kind: sorted(members) for kind, members in value.items()} if set(value) & {"SS", "BS"} else value


def wipe(table: str, keys: tuple[str, ...] = ("pk", "sk")) -> None:
    client = boto3.client("dynamodb")
    for page in client.get_paginator("scan").paginate(TableName=table):
        for item in page["Items"]:
            client.delete_item(TableName=table, Key={k: item[k] for k in keys})


def run_job(job: str, at: datetime) -> dict[str, Any]:
    """A scheduled job as its state machine runs it: plan, every segment until done, finish."""
    return JobRunner(load_functions(), log=lambda _: None).run(TOPOLOGY.job(job), at)
