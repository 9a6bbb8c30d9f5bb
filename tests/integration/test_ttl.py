"""TTL on the runner's clock: expiries are deleted and their REMOVE records carry the service identity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3

from engagement.domain.clock import ManualClock
from infra.local.stream_records import StreamReader, stream_arn
from infra.local.ttl import TTL_IDENTITY, TtlSweeper

NOW = datetime(2026, 11, 20, tzinfo=UTC)


def put(table: str, pk: str, expires_at: datetime) -> None:
    boto3.client("dynamodb").put_item(
        TableName=table, Item={"pk": {"S": pk}, "expires_at": {"N": str(int(expires_at.timestamp()))}}
    )


def test_expired_items_go_and_their_removal_is_marked_as_dynamodbs(tables: dict[str, str]) -> None:
    events = tables["events"]
    put(events, "E#old", NOW - timedelta(seconds=1))
    put(events, "E#fresh", NOW + timedelta(days=1))
    put(events, "E#ancient", NOW - timedelta(days=6 * 365))  # DynamoDB ignores TTLs over 5 years old
    put(events, "E#mine", NOW + timedelta(days=1))
    client = boto3.client("dynamodb")
    sweeper = TtlSweeper(client, tables, ManualClock(NOW), log=lambda _: None)
    reader = StreamReader(
        boto3.client("dynamodbstreams"), stream_arn(client, events), annotate=sweeper.annotator(events)
    )
    reader.poll()  # the four inserts

    assert sweeper.sweep() == 1
    client.delete_item(TableName=events, Key={"pk": {"S": "E#mine"}})  # a user's delete, not an expiry
    removals = {r["dynamodb"]["Keys"]["pk"]["S"]: r for r in reader.poll() if r["eventName"] == "REMOVE"}

    assert set(removals) == {"E#old", "E#mine"}
    assert removals["E#old"]["userIdentity"] == TTL_IDENTITY
    assert "userIdentity" not in removals["E#mine"]
    remaining = {item["pk"]["S"] for item in client.scan(TableName=events)["Items"]}
    assert remaining == {"E#fresh", "E#ancient"}


def test_an_item_rewritten_with_a_later_ttl_is_not_expired(tables: dict[str, str]) -> None:
    events = tables["events"]
    put(events, "E#renewed", NOW - timedelta(seconds=1))
    clock = ManualClock(NOW)
    sweeper = TtlSweeper(boto3.client("dynamodb"), tables, clock, log=lambda _: None)
    put(events, "E#renewed", NOW + timedelta(days=1))
    assert sweeper.sweep() == 0
    clock.advance(timedelta(days=2))
    assert sweeper.sweep() == 1
