"""Count the DynamoDB writes (and reads) that clients actually send, with botocore event hooks.

The count comes from the calls on the wire, not from reading code: the hooks sit on boto3's
default session, so every DynamoDB client created after they are attached (the store's client
included) carries them. Counted as DynamoDB bills:

* ``PutItem``, ``UpdateItem``, ``DeleteItem``: one write each, whether the condition held or
  not: a conditional write that fails still consumes write capacity.
* ``BatchWriteItem``: one write per item processed (unprocessed items are not billed).
* ``TransactWriteItems``: two writes per item (transactions cost double).

Write units are also estimated from item sizes, because an item of 3 KB costs 3 units per
write: a single-item write costs ``ceil(max(size before, size after) / 1 KB)``, at least 1. Sizes
are read after each write by a separate client that is not counted, and remembered, so the size
before a write is the size after the previous one (only an item's first write reads it first).
A strongly consistent ``GetItem`` costs ``ceil(size / 4 KB)`` read units (half when eventually
consistent), at least 1.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3

if TYPE_CHECKING:
    from botocore.model import OperationModel
    from mypy_boto3_dynamodb import DynamoDBClient

SINGLE_ITEM_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem"})
CONDITION_FAILED = "ConditionalCheckFailedException"
WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096
_CONTEXT_KEY = "bench.capacity"


@dataclass
class Tally:
    """What the clients sent while counting was on."""

    writes: int = 0
    """Billed item writes: transactions count twice, failed conditional writes count."""
    write_units: int = 0
    """Estimated write capacity units, by item size."""
    failed_conditions: int = 0
    reads: int = 0
    read_units: float = 0.0
    calls: dict[str, int] = field(default_factory=dict)
    writes_by_kind: dict[str, int] = field(default_factory=dict)
    """Billed writes by what they are for, when counting with a classifier."""

    def as_json(self) -> dict[str, Any]:
        return {
            "writes": self.writes,
            "writes_by_kind": dict(sorted(self.writes_by_kind.items())),
            "write_units_estimated": self.write_units,
            "failed_conditional_writes": self.failed_conditions,
            "reads": self.reads,
            "read_units_estimated": self.read_units,
            "calls": dict(sorted(self.calls.items())),
        }


Classifier = Callable[[str, Mapping[str, Any]], str]
"""(operation, request parameters) -> what the write is for."""


def _unclassified(_operation: str, _params: Mapping[str, Any]) -> str:
    return "all"


@dataclass(frozen=True)
class _SingleWrite:
    table: str
    key: Mapping[str, Any]
    identity: tuple[str, str]
    size_before: int
    item: Mapping[str, Any] | None
    """The whole new item, for a PutItem."""
    kind: str


class CapacityMeter:
    """Hooks on one boto3 session that tally DynamoDB calls while :meth:`counting` is active."""

    def __init__(self, session: boto3.Session, *, sizes: bool = True) -> None:
        self._session = session
        self._measure_sizes = sizes
        """Off: requests are counted but write units are not (no probe reads around each write,
        which at scale would cost more than the writes being measured)."""
        # Reads item sizes around each write; its own session carries no hooks, so it is not counted.
        self._probe: DynamoDBClient = boto3.session.Session().client("dynamodb")
        self._key_names: dict[str, list[str]] = {}
        self._sizes: dict[tuple[str, str], int] = {}
        """Item size after the last counted write of each item, so only a first write needs a probe."""
        self._tally: Tally | None = None
        self._classify: Classifier = _unclassified

    @contextmanager
    def attached(self) -> Iterator[CapacityMeter]:
        """Hooks on for clients created inside the block (a client copies its session's hooks)."""
        events = self._session.events
        hooks: dict[str, Callable[..., None]] = {
            "before-parameter-build.dynamodb": self._before,
            "after-call.dynamodb": self._after,
        }
        for event, hook in hooks.items():
            events.register(event, hook, unique_id=f"{_CONTEXT_KEY}.{event}")  # unique ids are per emitter
        try:
            yield self
        finally:
            for event in hooks:
                events.unregister(event, unique_id=f"{_CONTEXT_KEY}.{event}")

    @contextmanager
    def counting(self, classify: Classifier | None = None) -> Iterator[Tally]:
        tally = Tally()
        self._tally = tally
        if classify is not None:
            self._classify = classify
        try:
            yield tally
        finally:
            self._tally = None
            self._classify = _unclassified

    def stored_size(self, table: str, key: Mapping[str, Any]) -> int:
        """The size of the item as stored now (0 when absent), read by the uncounted client."""
        item = self._probe.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
        return 0 if item is None else item_size(item)

    # ------------------------------------------------------------------ hooks

    def _before(
        self, params: dict[str, Any], model: OperationModel, context: dict[str, Any], **_: Any
    ) -> None:
        if self._tally is None:
            return
        operation = model.name
        if operation in SINGLE_ITEM_WRITES:
            table = str(params["TableName"])
            key = params.get("Key") or self._key_of(table, params["Item"])
            identity = (table, json.dumps(key, sort_keys=True, default=str))
            before = self._sizes.get(identity, 0)
            if self._measure_sizes and identity not in self._sizes:
                before = self.stored_size(table, key)
            kind = self._classify(operation, params)
            context[_CONTEXT_KEY] = _SingleWrite(table, key, identity, before, params.get("Item"), kind)
        elif operation in {"BatchWriteItem", "TransactWriteItems", "GetItem"}:
            context[_CONTEXT_KEY] = {**params, "_kind": self._classify(operation, params)}

    def _after(
        self, parsed: dict[str, Any], model: OperationModel, context: dict[str, Any], **_: Any
    ) -> None:
        tally = self._tally
        if tally is None:
            return
        operation = model.name
        tally.calls[operation] = tally.calls.get(operation, 0) + 1
        failed = parsed.get("Error", {}).get("Code")
        seen_before = context.get(_CONTEXT_KEY)
        if seen_before is None:
            return  # the call started before counting did
        if isinstance(seen_before, _SingleWrite):
            if failed not in (None, CONDITION_FAILED):
                return  # rejected before it was processed (validation, throttling): not billed
            tally.writes += 1
            tally.writes_by_kind[seen_before.kind] = tally.writes_by_kind.get(seen_before.kind, 0) + 1
            tally.failed_conditions += failed == CONDITION_FAILED
            if not self._measure_sizes:
                return
            after = self._size_after(operation, seen_before, refused=failed == CONDITION_FAILED)
            self._sizes[seen_before.identity] = after
            tally.write_units += _units(max(seen_before.size_before, after), WRITE_UNIT_BYTES)
        elif operation == "BatchWriteItem" and failed is None:
            self._count_batch(tally, seen_before, parsed)
        elif operation == "TransactWriteItems" and failed is None:
            kind = str(seen_before["_kind"])
            for action in seen_before["TransactItems"]:
                put = action.get("Put")
                size = item_size(put["Item"]) if put else WRITE_UNIT_BYTES
                tally.writes += 2
                tally.writes_by_kind[kind] = tally.writes_by_kind.get(kind, 0) + 2
                tally.write_units += 2 * _units(size, WRITE_UNIT_BYTES)
        elif operation == "GetItem" and failed is None:
            consistent = bool(seen_before.get("ConsistentRead"))
            item = parsed.get("Item")
            units = _units(0 if item is None else item_size(item), READ_UNIT_BYTES)
            tally.reads += 1
            tally.read_units += units if consistent else units / 2

    def _size_after(self, operation: str, write: _SingleWrite, *, refused: bool) -> int:
        if refused:
            return write.size_before
        if operation == "DeleteItem":
            return 0
        if operation == "PutItem" and write.item is not None:
            return item_size(write.item)
        return self.stored_size(write.table, write.key)

    @staticmethod
    def _count_batch(tally: Tally, params: Mapping[str, Any], parsed: Mapping[str, Any]) -> None:
        unprocessed = sum(len(requests) for requests in parsed.get("UnprocessedItems", {}).values())
        requests = [request for table in params["RequestItems"].values() for request in table]
        for request in requests:
            put = request.get("PutRequest")
            tally.write_units += _units(item_size(put["Item"]) if put else 0, WRITE_UNIT_BYTES)
        tally.writes += len(requests) - unprocessed

    def _key_of(self, table: str, item: Mapping[str, Any]) -> dict[str, Any]:
        if table not in self._key_names:
            schema = self._probe.describe_table(TableName=table)["Table"]["KeySchema"]
            self._key_names[table] = [element["AttributeName"] for element in schema]
        return {name: item[name] for name in self._key_names[table]}


_SCALAR_SIZE: dict[str, Callable[[Any], int]] = {
    "S": lambda text: len(str(text).encode()),
    "N": lambda text: _number_size(str(text)),
    "B": len,
    "BOOL": lambda _: 1,
    "NULL": lambda _: 1,
}


def item_size(item: Mapping[str, Any]) -> int:
    """An item's size as DynamoDB bills it: attribute names plus values, in bytes (approximate
    for numbers, which DynamoDB stores in about one byte per two significant digits)."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: Mapping[str, Any]) -> int:
    ((kind, payload),) = value.items()
    if kind in _SCALAR_SIZE:
        return _SCALAR_SIZE[kind](payload)
    if kind in {"SS", "NS", "BS"}:
        return sum(_SCALAR_SIZE[kind[0]](element) for element in payload)
    if kind == "L":
        return 3 + sum(1 + _value_size(element) for element in payload)
    if kind == "M":
        return 3 + sum(len(name.encode()) + 1 + _value_size(element) for name, element in payload.items())
    raise ValueError(f"unknown attribute type {kind}")


def _number_size(text: str) -> int:
    digits = text.lstrip("-").replace(".", "").lstrip("0").rstrip("0") or "0"
    return (len(digits) + 1) // 2 + 1


def _units(size: int, unit_bytes: int) -> int:
    return max(1, math.ceil(size / unit_bytes))
