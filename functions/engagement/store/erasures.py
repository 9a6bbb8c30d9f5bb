"""Erasure records, in the erasures table (part of the DynamoDB adapter).

    pk "<hex HMAC-SHA256 of the user id>"
    erased_at_ms      when it completed (in progress: when it began)
    status            in_progress | complete
    suppressed_ms, opt_reason   the latest opt-out known (absent: none)
    opted_in_ms       the latest opt-in known (absent: none)
    counts            what the erasure removed, by kind (a map of numbers)
    updated_ms

Every read is strongly consistent: a record written a moment ago must already stop the next
event, not a second later.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from engagement.domain.erasure import Erasure, Status
from engagement.store.wire import (
    ConditionFailed,
    Expression,
    batch_get_all,
    deserialize,
    serialize,
    translating,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def _erasure(item: Mapping[str, Any]) -> Erasure:
    suppressed = item.get("suppressed_ms")
    opted_in = item.get("opted_in_ms")
    status: Status = "complete" if item.get("status") == "complete" else "in_progress"
    return Erasure(
        hashed=str(item["pk"]),
        erased_at_ms=int(item["erased_at_ms"]),
        status=status,
        suppressed_since_ms=None if suppressed is None else int(suppressed),
        opt_out_reason=None if item.get("opt_reason") is None else str(item["opt_reason"]),
        opted_in_ms=None if opted_in is None else int(opted_in),
        counts={str(k): int(v) for k, v in dict(item.get("counts") or {}).items()},
        updated_ms=int(item.get("updated_ms", 0)),
    )


class ErasureStore:
    def __init__(self, client: DynamoDBClient, *, table: str) -> None:
        self._client = client
        self._table = table

    @property
    def configured(self) -> bool:
        """False in a function that is given no erasures table (it never checks one)."""
        return bool(self._table)

    def get(self, hashed: str) -> Erasure | None:
        with translating("reading an erasure"):
            item = self._client.get_item(
                TableName=self._table, Key=serialize({"pk": hashed}), ConsistentRead=True
            ).get("Item")
        return None if item is None else _erasure(deserialize(item))

    def get_many(self, hashes: Iterable[str]) -> dict[str, Erasure]:
        """The erasures among ``hashes``, by hash; one batched, consistent read per 100."""
        keys = [{"pk": h} for h in sorted(set(hashes))]
        found = batch_get_all(self._client, "reading erasures", {self._table: keys}, consistent=True)
        return {e.hashed: e for e in (_erasure(item) for item in found.get(self._table, []))}

    def begin(self, erasure: Erasure) -> bool:
        """Record a new erasure, before any data is removed: from this write on, the person's
        events are dropped wherever they turn up. Refused (False) while another is in progress,
        so two DELETEs at once make one erasure, not two that overwrite each other's counts."""
        expr = Expression()
        guard = (
            f"attribute_not_exists({expr.name('pk')}) OR {expr.name('status')} <> {expr.value('in_progress')}"
        )
        try:
            with translating("recording an erasure"):
                self._client.put_item(
                    TableName=self._table,
                    Item=serialize(_item(erasure)),
                    ConditionExpression=guard,
                    **expr.params(),
                )
        except ConditionFailed:
            return False
        return True

    def progress(self, erasure: Erasure) -> None:
        """Write where the erasure stands: its counts, the suppression it keeps, its status."""
        with translating("recording an erasure's progress"):
            self._client.put_item(TableName=self._table, Item=serialize(_item(erasure)))


def _item(erasure: Erasure) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": erasure.hashed,
        "erased_at_ms": erasure.erased_at_ms,
        "status": erasure.status,
        "counts": dict(erasure.counts),
        "updated_ms": erasure.updated_ms,
    }
    if erasure.suppressed_since_ms is not None:
        item["suppressed_ms"] = erasure.suppressed_since_ms
        if erasure.opt_out_reason is not None:
            item["opt_reason"] = erasure.opt_out_reason
    if erasure.opted_in_ms is not None:
        item["opted_in_ms"] = erasure.opted_in_ms
    return item
