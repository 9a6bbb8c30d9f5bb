"""The overview's counters and records, written where the changes they follow happen.

Item layouts (aggregates table unless said otherwise)::

    accepted events per hour   pk "OVERVIEW#accepted"       sk "H#<YYYY-MM-DDTHH>"   n
    contacts per band          pk "OVERVIEW#bands#<shard>"  sk "#"                   n_<band>
    campaign registry          pk "OVERVIEW#campaigns"      sk "C#<item_id>"         since_ms
    latest run (runs table)    pk "LATEST#<job>"            sk "RUN"                 run, at_ms, started_ms,
                                                                          finished_ms, complete, tally

No sort key of these starts with a pair's ``I#`` or is the contact's ``#USER``, so the jobs'
scans skip them like the funnel and percentile counters. Band counters are sharded like the
segments (a decay run moves many contacts at once); the hourly counter is not: it takes one
write per stream batch, far below a partition's limit.

Every write here follows a change already stored (an event absorbed, a band recorded, a run
planned or finished) and is a gauge, not the record of that change: a failure is logged and
dropped, never allowed to fail or retry what it follows (see ``domain.overview``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from engagement.domain.aggregates import AggregateDelta
from engagement.domain.errors import StoreError
from engagement.domain.overview_counts import BandMove, accepted_per_hour, band_steps
from engagement.domain.timefmt import from_ms
from engagement.observability import logger
from engagement.store.contact_items import SEGMENT_SHARDS, shard_of
from engagement.store.wire import ConditionFailed, Expression, serialize, translating

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from engagement.domain.aggregates import ObservedEvent
    from engagement.domain.contact_records import BandTransition
    from engagement.domain.runs import RunId, Tally
    from engagement.store.dynamodb import ApplyResult, DynamoStore

ACCEPTED_PK = "OVERVIEW#accepted"
CAMPAIGNS_PK = "OVERVIEW#campaigns"
BANDS_PK_PREFIX = "OVERVIEW#bands#"
BANDS_SK = "#"
BAND_SHARDS = SEGMENT_SHARDS
HOUR_SK_PREFIX = "H#"
CAMPAIGN_SK_PREFIX = "C#"
LATEST_RUN_SK = "RUN"


def hour_sk(hour_ms: int) -> str:
    return HOUR_SK_PREFIX + from_ms(hour_ms).strftime("%Y-%m-%dT%H")


def hour_from_sk(sk: str) -> int:
    at = datetime.strptime(sk.removeprefix(HOUR_SK_PREFIX), "%Y-%m-%dT%H").replace(tzinfo=UTC)
    return int(at.timestamp()) * 1000


def band_key(shard: int) -> dict[str, str]:
    return {"pk": f"{BANDS_PK_PREFIX}{shard}", "sk": BANDS_SK}


def latest_run_key(job: str) -> dict[str, str]:
    return {"pk": f"LATEST#{job}", "sk": LATEST_RUN_SK}


@contextmanager
def _gauge(doing: str) -> Iterator[None]:
    try:
        yield
    except StoreError as exc:
        logger.warning("overview counter not written", extra={"doing": doing, "error": str(exc)})


class OverviewCounts:
    """Writes of the overview's counters, for the scorer, the band store and the jobs."""

    def __init__(self, client: DynamoDBClient, *, aggregates_table: str, runs_table: str = "") -> None:
        self._client = client
        self._aggregates = aggregates_table
        self._runs = runs_table

    def count_accepted(self, counts: Mapping[int, int]) -> None:
        """Add events to their hours' counters: one write per distinct hour."""
        for hour, n in sorted(counts.items()):
            with _gauge("counting accepted events"):
                self._add({"pk": ACCEPTED_PK, "sk": hour_sk(hour)}, {"n": n}, "counting accepted events")

    def move_band(self, move: BandMove) -> None:
        """Move a contact between band counters (one write, on the contact's shard)."""
        steps = {f"n_{band}": step for band, step in band_steps(move).items()}
        if not steps:
            return
        with _gauge("moving a band count"):
            self._add(band_key(shard_of(move.user_id, BAND_SHARDS)), steps, "moving a band count")

    def register_campaign(self, item_id: str, now_ms: int) -> None:
        """List a campaign (idempotent: a listed campaign keeps its first ``since_ms``)."""
        expr = Expression()
        since = expr.name("since_ms")
        with _gauge("registering a campaign"), translating("registering a campaign"):
            self._client.update_item(
                TableName=self._aggregates,
                Key=serialize({"pk": CAMPAIGNS_PK, "sk": CAMPAIGN_SK_PREFIX + item_id}),
                UpdateExpression=f"SET {since} = if_not_exists({since}, {expr.value(now_ms)})",
                **expr.params(),
            )

    def note_run(self, job: str, record: Mapping[str, Any]) -> None:
        """Record a job's run as its latest, unless a later scheduled run is recorded already
        (a retried old run must not hide a newer one; the same run may update itself)."""
        expr = Expression()
        at = expr.name("at_ms")
        item = {**latest_run_key(job), **{k: _number(v) for k, v in record.items() if v is not None}}
        condition = f"attribute_not_exists({expr.name('pk')}) OR {at} <= {expr.value(record['at_ms'])}"
        with _gauge("recording the latest run"):
            try:
                with translating("recording the latest run"):
                    self._client.put_item(
                        TableName=self._runs,
                        Item=serialize(item),
                        ConditionExpression=condition,
                        **expr.params(),
                    )
            except ConditionFailed:
                return

    def _add(self, key: dict[str, str], steps: Mapping[str, int], doing: str) -> None:
        expr = Expression()
        adds = ", ".join(f"{expr.name(name)} {expr.value(step)}" for name, step in steps.items())
        with translating(doing):
            self._client.update_item(
                TableName=self._aggregates,
                Key=serialize(key),
                UpdateExpression=f"ADD {adds}",
                **expr.params(),
            )


def _number(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, Mapping):
        return {k: _number(v) for k, v in value.items()}
    return value


class CountingWriter:
    """The store as the scorer's batch sees it, noting what the overview counts from each write:
    the events a per-user aggregate newly absorbed (its dedupe has already dropped redeliveries)
    and the campaigns whose funnel grows in this batch.

    A campaign is listed when one of its funnel counters is about to grow, once per batch; a
    listing lost to a failed write is made again by the campaign's next funnel change. No cache
    in the environment: the registry follows the table, whatever happened to it since."""

    def __init__(self, store: DynamoStore, counts: OverviewCounts) -> None:
        self._store = store
        self._counts = counts
        self.absorbed: list[ObservedEvent] = []
        self.campaigns: set[str] = set()

    def apply(self, delta: AggregateDelta) -> ApplyResult:
        result = self._store.apply(delta)
        if delta.key.item_id is None:
            self.absorbed += [e for e in delta.events if e.event_id in result.applied_ids]
        elif (stages := result.stages) is not None and stages.uncounted:
            self.campaigns.add(delta.key.item_id)
        return result

    def flush(self, now_ms: int) -> None:
        self._counts.count_accepted(accepted_per_hour(self.absorbed))
        for campaign in sorted(self.campaigns):
            self._counts.register_campaign(campaign, now_ms)


@contextmanager
def counting(store: DynamoStore, counts: OverviewCounts, now_ms: int) -> Iterator[CountingWriter]:
    """The scorer's one hook: score the batch through the yielded writer; whatever it absorbed
    is counted when the block ends, even if it ends with an error (what was absorbed stays)."""
    writer = CountingWriter(store, counts)
    try:
        yield writer
    finally:
        writer.flush(now_ms)


def band_move(transition: BandTransition) -> BandMove:
    return BandMove(
        transition.user_id, None if transition.old is None else transition.old.band, transition.new.band
    )


def count_band_change(client: DynamoDBClient, aggregates_table: str, transition: BandTransition) -> None:
    """The band store's hook, after it recorded ``transition``: move the contact's band count."""
    OverviewCounts(client, aggregates_table=aggregates_table).move_band(band_move(transition))


def count_band_erased(client: DynamoDBClient, aggregates_table: str, user_id: str, band: str) -> None:
    """For erasing a person: their stored band no longer counts (call it after the contact item
    holding ``band`` is deleted, once; without it the count keeps an erased contact)."""
    OverviewCounts(client, aggregates_table=aggregates_table).move_band(BandMove(user_id, band, None))


def note_run_started(counts: OverviewCounts, run: RunId, started_ms: int) -> None:
    """A job's hook when it plans a run: this run is its latest, not finished yet."""
    counts.note_run(run.job, {"run": str(run), "at_ms": run.at_ms, "started_ms": started_ms})


def note_run_finished(
    counts: OverviewCounts, run: RunId, started_ms: int, finished_ms: int, *, complete: bool, tally: Tally
) -> None:
    """A job's hook when it finishes a run (complete or not): what the run did."""
    counts.note_run(
        run.job,
        {
            "run": str(run),
            "at_ms": run.at_ms,
            "started_ms": started_ms,
            "finished_ms": finished_ms,
            "complete": complete,
            "tally": tally.as_dict(),
        },
    )
