"""The probability models and the weekly fit's partial samples (part of the DynamoDB adapter).

Aggregates table, one partition, two items, each the model set as JSON (``domain.models``)::

    pk "MODEL#probabilities"   sk "current"    what answers use
                               sk "previous"   the set it replaced (kept for comparison and rollback)

Runs table, the fit run's partial samples, one item per scanned page, under the TTL that retires
the run's checkpoints::

    pk "FITSAMPLE#fit@<scheduled instant>"   sk "S<segment, 6 digits>#P<page, 9 digits>"   sample (JSON)

A page's sample is a put keyed by its position in the segment: a page redone after a crash
overwrites its own item, so nothing is counted twice, with no condition and no read.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engagement.domain.models import FitSample, ModelSet
from engagement.domain.runs import RunId
from engagement.store.runs import CHECKPOINT_RETENTION_S
from engagement.store.wire import ConditionFailed, Expression, deserialize, serialize, translating

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

MODEL_PK = "MODEL#probabilities"
CURRENT, PREVIOUS = "current", "previous"


class ModelStore:
    def __init__(
        self,
        client: DynamoDBClient,
        *,
        aggregates_table: str,
        runs_table: str = "",
        cache_s: float = 300.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._aggregates = aggregates_table
        self._runs = runs_table
        self._cache_s = cache_s
        self._monotonic = monotonic
        self._cached: tuple[float, ModelSet | None] | None = None

    # ------------------------------------------------------------------ models

    def current(self) -> ModelSet | None:
        """The stored model set, reused for ``cache_s``: a new fit reaches every warm container
        within that, and a busy one reads one small item per period, not one per request."""
        now = self._monotonic()
        if self._cached is not None and now - self._cached[0] < self._cache_s:
            return self._cached[1]
        found = self._get(CURRENT, consistent=False)
        self._cached = (now, found)
        return found

    def stored(self) -> tuple[ModelSet | None, ModelSet | None]:
        """(current, previous), read now (not from the cache)."""
        return self._get(CURRENT, consistent=True), self._get(PREVIOUS, consistent=True)

    def publish(self, models: ModelSet) -> bool:
        """Make ``models`` current and keep the set it replaces as previous, in one transaction.

        Only a newer run replaces the current set: a repeated or late finish of the same or an
        older run writes nothing (False), so the previous set stays the one before it.
        """
        if models.run_at_ms is None:
            raise ValueError("only a fit run's model set is stored")
        current = self._get(CURRENT, consistent=True)
        if current is not None and (current.run_at_ms or 0) >= models.run_at_ms:
            return False
        expr = Expression()
        # Nobody replaced the set read above meanwhile (a concurrent finish of another run).
        guard = (
            f"attribute_not_exists({expr.name('pk')})"
            if current is None
            else f"{expr.name('run_at_ms')} = {expr.value(current.run_at_ms or 0)}"
        )
        items: list[TransactWriteItemTypeDef] = [
            {
                "Put": {
                    "TableName": self._aggregates,
                    "Item": serialize(_item(CURRENT, models)),
                    "ConditionExpression": guard,
                    **expr.params(),  # type: ignore[typeddict-item]
                }
            }
        ]
        if current is not None:
            items.append(
                {"Put": {"TableName": self._aggregates, "Item": serialize(_item(PREVIOUS, current))}}
            )
        try:
            with translating("publishing a fitted model"):
                self._client.transact_write_items(TransactItems=items)
        except ConditionFailed:
            return False  # another finish of a run got there first
        self._cached = None
        return True

    def _get(self, sk: str, *, consistent: bool) -> ModelSet | None:
        with translating("reading the probability models"):
            item = self._client.get_item(
                TableName=self._aggregates,
                Key=serialize({"pk": MODEL_PK, "sk": sk}),
                ConsistentRead=consistent,
            ).get("Item")
        return None if item is None else ModelSet.from_json(str(deserialize(item)["models"]))

    # ----------------------------------------------------------------- samples

    def put_sample(self, run: RunId, segment: int, page: int, sample: FitSample, *, now_s: int) -> None:
        with translating("storing a fit sample"):
            self._client.put_item(
                TableName=self._runs,
                Item=serialize(
                    {
                        "pk": _sample_pk(run),
                        "sk": f"S{segment:06d}#P{page:09d}",
                        "sample": sample.to_json(),
                        "expires_at": now_s + CHECKPOINT_RETENTION_S,
                    }
                ),
            )

    def sample(self, run: RunId) -> FitSample:
        """Every page's sample of the run, merged as each page of the Query arrives: memory holds
        the merged cells (bounded by distinct histories), never all the pages' items at once
        (tens of thousands of them at millions of contacts)."""
        expr = Expression()
        request: dict[str, Any] = {
            "TableName": self._runs,
            "KeyConditionExpression": f"{expr.name('pk')} = {expr.value(_sample_pk(run))}",
            "ConsistentRead": True,
            **expr.params(),
        }
        merged = FitSample()
        start: dict[str, Any] | None = None
        while True:
            with translating("reading fit samples"):
                page = self._client.query(**({**request, "ExclusiveStartKey": start} if start else request))
            for raw in page.get("Items", []):
                merged.merge(FitSample.from_json(str(deserialize(raw)["sample"])))
            start = page.get("LastEvaluatedKey")
            if not start:
                return merged


def _item(sk: str, models: ModelSet) -> dict[str, object]:
    return {"pk": MODEL_PK, "sk": sk, "run_at_ms": models.run_at_ms or 0, "models": models.to_json()}


def _sample_pk(run: RunId) -> str:
    return f"FITSAMPLE#{run}"
