"""Checkpoints of the scheduled jobs, in the runs table (part of the DynamoDB adapter).

    pk "RUN#<job>@<scheduled instant>"   sk "SEG#<segment, 6 digits>"
    cursor   the scan's LastEvaluatedKey, as JSON of its wire form (None: from the start)
    pages    pages processed; a save only moves it forward
    done     the segment is finished
    tally    what the segment did so far (a map of counters)
    expires_at   TTL: a run's checkpoints outlive any retry of it, then go

    pk "SWEEP#<name>"  sk "DONE"   a one-time sweep finished (run, finished_ms); kept for good

The forward-only condition makes two overlapping invocations of one segment safe: the one that
falls behind finds its save refused and stops, and neither can move the checkpoint back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from engagement.domain.runs import Checkpoint, RunId, Tally
from engagement.store.wire import ConditionFailed, Expression, deserialize, query_all, serialize, translating

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

CHECKPOINT_RETENTION_S = 35 * 86_400
EXPIRY_AND_DUE_SWEEP = "expiry-and-due-v1"
"""The weekly run's one-time sweep: items written before expiries and due times existed."""


@dataclass(frozen=True)
class RunRecord:
    started_ms: int
    finished_ms: int | None


class RunStore:
    def __init__(self, client: DynamoDBClient, *, runs_table: str) -> None:
        self._client = client
        self._table = runs_table

    def start(self, run: RunId, now_ms: int) -> RunRecord:
        """Record when the run first started; a repeated plan reads the first record instead
        (a read first: a refused conditional put would still be billed as a write)."""
        key = {"pk": _pk(run), "sk": "RUN"}
        with translating("reading a run"):
            stored = self._client.get_item(
                TableName=self._table, Key=serialize(key), ConsistentRead=True
            ).get("Item")
        if stored is not None:
            found = deserialize(stored)
            finished = found.get("finished_ms")
            return RunRecord(int(found["started_ms"]), None if finished is None else int(finished))
        expr = Expression()
        item = {**key, "started_ms": now_ms, "expires_at": run.at_ms // 1000 + CHECKPOINT_RETENTION_S}
        try:
            with translating("starting a run"):
                self._client.put_item(
                    TableName=self._table,
                    Item=serialize(item),
                    ConditionExpression=f"attribute_not_exists({expr.name('pk')})",
                    **expr.params(),
                )
        except ConditionFailed:
            return self.start(run, now_ms)  # a concurrent plan won the race: read its time
        return RunRecord(now_ms, None)

    def finished(self, run: RunId, now_ms: int) -> bool:
        """Mark the run finished; False when it already was (a repeated finish)."""
        expr = Expression()
        finished = expr.name("finished_ms")
        try:
            with translating("finishing a run"):
                self._client.update_item(
                    TableName=self._table,
                    Key=serialize({"pk": _pk(run), "sk": "RUN"}),
                    UpdateExpression=f"SET {finished} = {expr.value(now_ms)}",
                    ConditionExpression=f"attribute_not_exists({finished})",
                    **expr.params(),
                )
        except ConditionFailed:
            return False
        return True

    def swept(self, name: str) -> bool:
        """Whether the one-time sweep ``name`` finished (a consistent read: a run planned right
        after the sweep's finish must not sweep again)."""
        with translating("reading a sweep record"):
            item = self._client.get_item(
                TableName=self._table, Key=serialize(_sweep_key(name)), ConsistentRead=True
            ).get("Item")
        return item is not None

    def record_sweep(self, name: str, run: RunId, now_ms: int) -> None:
        """Record that the sweep finished in ``run``; the first record stands."""
        expr = Expression()
        item = {**_sweep_key(name), "run": str(run), "finished_ms": now_ms}
        try:
            with translating("recording a sweep"):
                self._client.put_item(
                    TableName=self._table,
                    Item=serialize(item),
                    ConditionExpression=f"attribute_not_exists({expr.name('pk')})",
                    **expr.params(),
                )
        except ConditionFailed:
            return

    def load(self, run: RunId, segment: int) -> Checkpoint | None:
        with translating("reading a checkpoint"):
            item = self._client.get_item(
                TableName=self._table, Key=serialize(_key(run, segment)), ConsistentRead=True
            ).get("Item")
        return None if item is None else _checkpoint(deserialize(item))

    def save(self, run: RunId, segment: int, checkpoint: Checkpoint) -> bool:
        expr = Expression()
        item = {
            **_key(run, segment),
            "cursor": None if checkpoint.cursor is None else json.dumps(checkpoint.cursor, sort_keys=True),
            "pages": checkpoint.pages,
            "done": checkpoint.done,
            "tally": {k: Decimal(repr(v)) for k, v in checkpoint.tally.as_dict().items()},
            "expires_at": run.at_ms // 1000 + CHECKPOINT_RETENTION_S,
        }
        pages = expr.value(checkpoint.pages)
        condition = f"attribute_not_exists({expr.name('pk')}) OR {expr.name('pages')} < {pages}"
        try:
            with translating("saving a checkpoint"):
                self._client.put_item(
                    TableName=self._table,
                    Item=serialize(item),
                    ConditionExpression=condition,
                    **expr.params(),
                )
        except ConditionFailed:
            return False
        return True

    def all(self, run: RunId) -> list[Checkpoint]:
        expr = Expression()
        pk, sk = expr.name("pk"), expr.name("sk")
        condition = f"{pk} = {expr.value(_pk(run))} AND begins_with({sk}, {expr.value('SEG#')})"
        items = query_all(
            self._client,
            "reading checkpoints",
            TableName=self._table,
            KeyConditionExpression=condition,
            ConsistentRead=True,
            **expr.params(),
        )
        return [_checkpoint(item) for item in items]


def _pk(run: RunId) -> str:
    return f"RUN#{run}"


def _sweep_key(name: str) -> dict[str, str]:
    return {"pk": f"SWEEP#{name}", "sk": "DONE"}


def _key(run: RunId, segment: int) -> dict[str, str]:
    return {"pk": _pk(run), "sk": f"SEG#{segment:06d}"}


def _checkpoint(item: Mapping[str, Any]) -> Checkpoint:
    cursor = item.get("cursor")
    return Checkpoint(
        cursor=None if cursor is None else json.loads(str(cursor)),
        pages=int(item.get("pages", 0)),
        done=bool(item.get("done", False)),
        tally=Tally.from_dict(item.get("tally", {})),
    )
