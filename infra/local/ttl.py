"""DynamoDB Time to Live on the runner's clock.

moto stores the TTL setting but never expires anything. This sweeper deletes items whose TTL
attribute (epoch seconds) has passed on the runner's clock, and marks the REMOVE records those
deletions produce with the service identity DynamoDB uses, so consumers can tell an expiry from
a user's delete exactly as they must in AWS (DynamoDB DG "Time to Live and DynamoDB Streams").
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engagement.domain.clock import Clock
from engagement.topology import TOPOLOGY
from infra.local.stream_records import LambdaRecord

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

TTL_IDENTITY = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
# DynamoDB ignores TTL values more than five years in the past (DDB DG "Enabling TTL").
MAX_PAST_S = 5 * 365 * 86_400


class TtlSweeper:
    def __init__(
        self, client: DynamoDBClient, tables: dict[str, str], clock: Clock, log: Callable[[str], None]
    ) -> None:
        self._client, self._clock, self._log = client, clock, log
        self._targets = [
            (tables[spec.key], spec.ttl_attribute, [k for k in (spec.partition_key, spec.sort_key) if k])
            for spec in TOPOLOGY.tables
            if spec.ttl_attribute
        ]
        self._expired: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def sweep(self) -> int:
        """Delete every item whose TTL has passed; returns how many."""
        now_s = int(self._clock.now().timestamp())
        total = 0
        for table, attribute, key_names in self._targets:
            values: dict[str, Any] = {":now": {"N": str(now_s)}, ":oldest": {"N": str(now_s - MAX_PAST_S)}}
            condition = "#ttl < :now AND #ttl > :oldest"
            deleted = 0
            for page in self._client.get_paginator("scan").paginate(
                TableName=table,
                FilterExpression=condition,
                ProjectionExpression=", ".join(f"#k{i}" for i in range(len(key_names))),
                ExpressionAttributeNames={
                    "#ttl": attribute,
                    **{f"#k{i}": k for i, k in enumerate(key_names)},
                },
                ExpressionAttributeValues=values,
            ):
                for key in page.get("Items", []):
                    with self._lock:
                        self._expired.add((table, _canonical(key)))
                    try:
                        self._client.delete_item(
                            TableName=table,
                            Key=key,
                            ConditionExpression=condition,
                            ExpressionAttributeNames={"#ttl": attribute},
                            ExpressionAttributeValues=values,
                        )
                        deleted += 1
                    except self._client.exceptions.ConditionalCheckFailedException:
                        with self._lock:  # rewritten with a later TTL in the meantime: not expired
                            self._expired.discard((table, _canonical(key)))
            if deleted:
                self._log(f"{deleted} expired items deleted from {table}")
            total += deleted
        return total

    def annotator(self, table: str) -> Callable[[LambdaRecord], LambdaRecord]:
        """A hook for the table's stream reader: REMOVE records of expiries get the service identity."""

        def annotate(record: LambdaRecord) -> LambdaRecord:
            if record.get("eventName") != "REMOVE":
                return record
            marker = (table, _canonical(record["dynamodb"].get("Keys", {})))
            with self._lock:
                if marker not in self._expired:
                    return record
                self._expired.discard(marker)
            return {**record, "userIdentity": dict(TTL_IDENTITY)}

        return annotate


def _canonical(key: dict[str, Any]) -> str:
    return json.dumps(key, sort_keys=True)
