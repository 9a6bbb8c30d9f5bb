"""Keep the local system's data between runs in one JSON file.

Items are stored in DynamoDB's wire format, so a round trip is exact (numbers stay decimal
strings, sets stay sets). The runner's clock is saved too: data written after advancing the
clock a month must not look like it comes from the future on the next start.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engagement.domain.timefmt import parse_rfc3339, rfc3339

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

FORMAT_VERSION = 1
BATCH = 25  # BatchWriteItem's limit


def to_json_value(value: dict[str, Any]) -> dict[str, Any]:
    """One attribute value as DynamoDB's JSON wire format writes it: binary as base64 text."""
    ((kind, inner),) = value.items()
    if kind == "B":
        return {kind: base64.b64encode(inner).decode()}
    if kind == "BS":
        return {kind: [base64.b64encode(member).decode() for member in inner]}
    if kind == "M":
        return {kind: {k: to_json_value(v) for k, v in inner.items()}}
    if kind == "L":
        return {kind: [to_json_value(v) for v in inner]}
    return value


def from_json_value(value: dict[str, Any]) -> dict[str, Any]:
    ((kind, inner),) = value.items()
    if kind == "B":
        return {kind: base64.b64decode(inner)}
    if kind == "BS":
        return {kind: [base64.b64decode(member) for member in inner]}
    if kind == "M":
        return {kind: {k: from_json_value(v) for k, v in inner.items()}}
    if kind == "L":
        return {kind: [from_json_value(v) for v in inner]}
    return value


@dataclass(frozen=True)
class SavedState:
    now: datetime
    items: dict[str, list[dict[str, Any]]]
    """Table key (as in the topology) -> items in DynamoDB JSON."""

    def restore(self, client: DynamoDBClient, tables: dict[str, str]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for key, items in self.items.items():
            if key not in tables:
                continue  # a table the topology no longer declares
            for start in range(0, len(items), BATCH):
                requests: Any = [
                    {"PutRequest": {"Item": {k: from_json_value(v) for k, v in item.items()}}}
                    for item in items[start : start + BATCH]
                ]
                pending = {tables[key]: requests}
                while pending:
                    pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            counts[key] = len(items)
        return counts


class StateFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> SavedState | None:
        if not self.path.exists():
            return None
        data = json.loads(self.path.read_text())
        if data.get("version") != FORMAT_VERSION:
            raise ValueError(f"{self.path}: unsupported state format {data.get('version')!r}")
        return SavedState(now=parse_rfc3339(data["now"]), items=data["tables"])

    def save(self, client: DynamoDBClient, tables: dict[str, str], now: datetime) -> dict[str, int]:
        items: dict[str, list[dict[str, Any]]] = {}
        for key, name in tables.items():
            items[key] = [
                {k: to_json_value(dict(v)) for k, v in item.items()}
                for page in client.get_paginator("scan").paginate(TableName=name)
                for item in page["Items"]
            ]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".tmp")
        partial.write_text(json.dumps({"version": FORMAT_VERSION, "now": rfc3339(now), "tables": items}))
        os.replace(partial, self.path)  # never leave a half-written state behind
        return {key: len(found) for key, found in items.items()}
