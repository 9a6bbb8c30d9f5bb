"""Reading the overview: its counters and records (``store.overview_counts`` has the layouts),
the campaigns' funnels, and the stream's failure queue. Part of the AWS adapter.

One request costs a handful of calls whatever the table holds: a Query for the last hours, one
BatchGetItem for the band counters and the latest runs, a Query of the campaign registry and
BatchGetItems of the registered campaigns' funnel counters (a hundred keys, 25 campaigns, per
call), and one SQS GetQueueAttributes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from engagement.domain.event_types import EventType
from engagement.domain.overview import CampaignReach, QueueDepth, RunSummary
from engagement.store.contact_items import FUNNEL_SHARDS, funnel_key
from engagement.store.overview_counts import (
    ACCEPTED_PK,
    BAND_SHARDS,
    CAMPAIGN_SK_PREFIX,
    CAMPAIGNS_PK,
    band_key,
    hour_from_sk,
    hour_sk,
    latest_run_key,
)
from engagement.store.wire import Expression, batch_get_all, query_all

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sqs import SQSClient

JOBS = ("decay", "cleanup", "fit")


class OverviewReader:
    def __init__(self, client: DynamoDBClient, *, aggregates_table: str, runs_table: str) -> None:
        self._client = client
        self._aggregates = aggregates_table
        self._runs = runs_table

    def accepted(self, first_hour_ms: int, last_hour_ms: int) -> dict[int, int]:
        """Events accepted per hour (hour start in epoch ms), for the hours counted in the range."""
        expr = Expression()
        condition = (
            f"{expr.name('pk')} = {expr.value(ACCEPTED_PK)} AND {expr.name('sk')} "
            f"BETWEEN {expr.value(hour_sk(first_hour_ms))} AND {expr.value(hour_sk(last_hour_ms))}"
        )
        items = query_all(
            self._client,
            "reading accepted events per hour",
            TableName=self._aggregates,
            KeyConditionExpression=condition,
            **expr.params(),
        )
        return {hour_from_sk(str(item["sk"])): int(item.get("n", 0)) for item in items}

    def bands_and_runs(self) -> tuple[list[dict[str, int]], list[RunSummary]]:
        """The band counters (one mapping of band -> count per shard) and each job's latest run."""
        band_keys = [band_key(shard) for shard in range(BAND_SHARDS)]
        run_keys = [latest_run_key(job) for job in JOBS]
        found = self._batch_get({self._aggregates: band_keys, self._runs: run_keys})
        counters = [
            {str(k).removeprefix("n_"): int(v) for k, v in item.items() if str(k).startswith("n_")}
            for item in found.get(self._aggregates, [])
        ]
        runs = [_run(item) for item in found.get(self._runs, [])]
        return counters, sorted(runs, key=lambda run: JOBS.index(run.job))

    def campaigns(self) -> list[CampaignReach]:
        """Every registered campaign with its funnel counts, summed over shards."""
        expr = Expression()
        registry = query_all(
            self._client,
            "reading the campaign registry",
            TableName=self._aggregates,
            KeyConditionExpression=f"{expr.name('pk')} = {expr.value(CAMPAIGNS_PK)}",
            **expr.params(),
        )
        ids = [str(item["sk"]).removeprefix(CAMPAIGN_SK_PREFIX) for item in registry]
        keys = [funnel_key(item_id, shard) for item_id in ids for shard in range(FUNNEL_SHARDS)]
        stages: dict[str, dict[EventType, int]] = {item_id: {} for item_id in ids}
        for item in self._batch_get({self._aggregates: keys}).get(self._aggregates, []):
            totals = stages.get(str(item["pk"]).removeprefix("FUNNEL#"))
            if totals is None:
                continue
            for attribute, value in item.items():
                if str(attribute).startswith("n_"):
                    stage = EventType(str(attribute).removeprefix("n_"))
                    totals[stage] = totals.get(stage, 0) + int(value)
        return [CampaignReach(item_id, stages[item_id]) for item_id in ids]

    def _batch_get(self, keys: Mapping[str, Sequence[dict[str, str]]]) -> dict[str, list[dict[str, Any]]]:
        return batch_get_all(self._client, "reading the overview", keys)


def _run(item: Mapping[str, Any]) -> RunSummary:
    finished = item.get("finished_ms")
    complete = item.get("complete")
    return RunSummary(
        job=str(item["pk"]).removeprefix("LATEST#"),
        run=str(item["run"]),
        scheduled_ms=int(item["at_ms"]),
        started_ms=int(item["started_ms"]),
        finished_ms=None if finished is None else int(finished),
        complete=None if complete is None else bool(complete),
        tally={str(k): float(v) for k, v in dict(item.get("tally") or {}).items()},
    )


@cache
def _sqs() -> SQSClient:
    # Created on the first overview, not at init: no other route of the function needs SQS.
    client: SQSClient = boto3.client("sqs")
    return client


def failure_queue_depth(url: str | None) -> QueueDepth:
    """How many given-up stream batches wait in the on-failure queue (and how many are being read)."""
    if not url:
        return QueueDepth(None, None, "the failure queue is not configured for this function")
    try:
        attributes = _sqs().get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
    except (BotoCoreError, ClientError) as exc:  # a gauge that cannot be read is reported, not raised
        return QueueDepth(None, None, f"the failure queue could not be read ({type(exc).__name__})")
    return QueueDepth(
        waiting=int(attributes.get("ApproximateNumberOfMessages", 0)),
        in_flight=int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
        detail="the stream mapping's on-failure queue (SQS ApproximateNumberOfMessages)",
    )
