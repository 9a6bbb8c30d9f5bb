"""Read a table's DynamoDB stream and shape its records exactly as Lambda delivers them.

moto's GetRecords answers what DynamoDB Streams answers; Lambda adds ``eventSourceARN`` and
sends ``ApproximateCreationDateTime`` as epoch seconds, and Powertools' models rely on both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodbstreams import DynamoDBStreamsClient

LambdaRecord = dict[str, Any]


def shape_for_lambda(
    record: Mapping[str, Any], stream_arn: str, *, created_s: int | None = None
) -> LambdaRecord:
    """A GetRecords record (as boto3 parses it) in the shape of a Lambda stream event record.

    ``created_s`` overrides the creation time, for a runner whose clock is not the wall clock.
    """
    dynamodb = dict(record["dynamodb"])
    created = dynamodb.get("ApproximateCreationDateTime")
    if created_s is not None:
        dynamodb["ApproximateCreationDateTime"] = created_s
    elif isinstance(created, datetime):
        dynamodb["ApproximateCreationDateTime"] = int(created.timestamp())
    shaped: LambdaRecord = {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": record.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": record.get("awsRegion", "us-east-1"),
        "eventSourceARN": stream_arn,
        "dynamodb": dynamodb,
    }
    if "userIdentity" in record:
        shaped["userIdentity"] = record["userIdentity"]
    return shaped


def sequence_of(record: Mapping[str, Any]) -> int:
    """Sequence numbers are decimal strings; within a shard they order the records."""
    return int(record["dynamodb"]["SequenceNumber"])


def stream_arn(client: DynamoDBClient, table: str) -> str:
    arn = client.describe_table(TableName=table)["Table"].get("LatestStreamArn")
    if not arn:
        raise LookupError(f"table {table} has no stream")
    return arn


@dataclass
class ShardCursor:
    shard_id: str
    iterator: str | None
    next_sequence: int | None = None
    """The sequence number after the last record read (None: nothing read, start unknown)."""


@dataclass
class StreamReader:
    """Polls every shard of one stream, remembering where each one is (like a Lambda poller)."""

    client: DynamoDBStreamsClient
    arn: str
    starting_position: str = "TRIM_HORIZON"
    created_s: Callable[[datetime], int] | None = None
    """Maps a record's wall-clock creation time to the runner's clock (None: keep it)."""
    annotate: Callable[[LambdaRecord], LambdaRecord] | None = None
    """Adds what DynamoDB knows and moto does not (the TTL service identity on expiries)."""
    start_at: int | None = None
    """Start at this sequence number (a checkpoint kept across restarts) instead of the
    starting position."""
    _cursors: dict[str, ShardCursor] = field(default_factory=dict)

    def poll(self, limit: int = 1000) -> list[LambdaRecord]:
        """Every record that became available since the last poll, shard after shard."""
        return [record for records in self.poll_shards(limit).values() for record in records]

    def poll_shards(self, limit: int = 1000) -> dict[str, list[LambdaRecord]]:
        """New records per shard, each list in the shard's order."""
        self._discover_shards()
        found: dict[str, list[LambdaRecord]] = {}
        for cursor in self._cursors.values():
            records: list[LambdaRecord] = []
            while cursor.iterator and len(records) < limit:
                page = self.client.get_records(ShardIterator=cursor.iterator, Limit=limit - len(records))
                cursor.iterator = page.get("NextShardIterator")
                batch = page.get("Records", [])
                records.extend(self._shape(r) for r in batch)
                if batch:
                    cursor.next_sequence = int(batch[-1]["dynamodb"]["SequenceNumber"]) + 1
                if not batch:
                    break
            if records:
                found[cursor.shard_id] = records
        return found

    def next_sequence(self, shard_id: str) -> int | None:
        """Where reading the shard continues: every record before it has been read."""
        cursor = self._cursors.get(shard_id)
        return cursor.next_sequence if cursor else None

    def skip_to_end(self) -> int:
        """Move past every record available now (records of restored data are not news)."""
        skipped = 0
        while batch := self.poll_shards():
            skipped += sum(len(records) for records in batch.values())
        return skipped

    def _shape(self, record: Mapping[str, Any]) -> LambdaRecord:
        created = record["dynamodb"].get("ApproximateCreationDateTime")
        override = self.created_s(created) if self.created_s and isinstance(created, datetime) else None
        shaped = shape_for_lambda(record, self.arn, created_s=override)
        return self.annotate(shaped) if self.annotate else shaped

    def _discover_shards(self) -> None:
        description = self.client.describe_stream(StreamArn=self.arn)["StreamDescription"]
        for shard in description.get("Shards", []):
            shard_id = shard["ShardId"]
            if shard_id in self._cursors:
                continue
            if self.start_at is not None:
                iterator = self.client.get_shard_iterator(
                    StreamArn=self.arn,
                    ShardId=shard_id,
                    ShardIteratorType="AT_SEQUENCE_NUMBER",
                    SequenceNumber=str(self.start_at),
                )["ShardIterator"]
            else:
                iterator = self.client.get_shard_iterator(
                    StreamArn=self.arn,
                    ShardId=shard_id,
                    ShardIteratorType=self.starting_position,  # type: ignore[arg-type]
                )["ShardIterator"]
            self._cursors[shard_id] = ShardCursor(shard_id, iterator, self.start_at)
