"""Lambda entry point: the events table's stream -> aggregates.

Records are decoded first, the whole batch is folded into one write per aggregate, and then
Powertools' batch processor reports each record's outcome: records whose decoding or whose
aggregate write failed come back in ``batchItemFailures`` and Lambda redelivers from the lowest
of them. Redelivered records that did reach an aggregate are filtered there, so the replay
changes nothing it should not.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from engagement import deps
from engagement.domain import clock
from engagement.domain.aggregates import ObservedEvent
from engagement.domain.erasure import drop_erased
from engagement.domain.scoring import BatchOutcome, score_batch
from engagement.domain.timefmt import to_ms
from engagement.domain.upkeep import Upkeep
from engagement.observability import emit_metrics, logger, metrics
from engagement.store.items import observed_event
from engagement.store.overview_counts import counting

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
deps.init("scorer", publishes=True, scores=True)  # settings and clients at init, not on a request


class StreamBatch:
    """The decoded batch: events to apply, and the records that could not be decoded."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.events: list[ObservedEvent] = []
        self._event_of: dict[str, str] = {}
        self._undecodable: dict[str, ValueError] = {}
        for raw in records:
            record = DynamoDBRecord(raw)
            if record.event_name is not DynamoDBRecordEventName.INSERT:
                continue  # the mapping filters these; TTL deletes and updates never count
            sequence = _sequence(record)
            try:
                event = observed_event(
                    record.dynamodb.new_image if record.dynamodb else {}, _recorded_s(record)
                )
            except ValueError as exc:
                self._undecodable[sequence] = exc
                continue
            self.events.append(event)
            self._event_of[sequence] = event.event_id

    def outcome_reporter(self, outcome: BatchOutcome) -> Any:
        """A Powertools record handler that raises for each record that must be retried."""

        def report(record: DynamoDBRecord) -> None:
            sequence = _sequence(record)
            if sequence in self._undecodable:
                raise self._undecodable[sequence]
            failure = outcome.failed.get(self._event_of.get(sequence, ""))
            if failure is not None:
                raise failure

        return report


def _sequence(record: DynamoDBRecord) -> str:
    return record.dynamodb.sequence_number if record.dynamodb and record.dynamodb.sequence_number else ""


def _recorded_s(record: DynamoDBRecord) -> int:
    created = record.dynamodb.approximate_creation_date_time if record.dynamodb else None
    if created is None:
        raise ValueError("stream record has no ApproximateCreationDateTime")
    return created


@logger.inject_lambda_context(clear_state=True)
@emit_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    batch = StreamBatch(event.get("Records", []))
    store = deps.store()
    # An erased person's events still in flight (or redelivered) are dropped, not scored: their
    # records succeed, so the stream moves on. A failed read fails the batch, which is retried.
    events, erased = drop_erased(batch.events, store.erasures_of(e.user_id for e in batch.events))
    upkeep = Upkeep(store.contacts, deps.publisher(), deps.scoring_with_models()[0])
    # Bands are evaluated as of now: the events just arrived, whatever their own timestamps.
    with counting(store, deps.overview_counts(), to_ms(clock.now())) as writer:  # the overview's gauges
        outcome = score_batch(events, writer, upkeep=upkeep, at_ms=to_ms(clock.now()))
    report = upkeep.report
    metrics.add_metric(name="EventsApplied", unit=MetricUnit.Count, value=outcome.applied)
    metrics.add_metric(name="DuplicatesFiltered", unit=MetricUnit.Count, value=outcome.duplicates)
    metrics.add_metric(name="AggregateWrites", unit=MetricUnit.Count, value=outcome.writes)
    metrics.add_metric(name="BandChanges", unit=MetricUnit.Count, value=report.band_changes)
    metrics.add_metric(name="FunnelUpdates", unit=MetricUnit.Count, value=report.funnel_updates)
    metrics.add_metric(name="ErasedDropped", unit=MetricUnit.Count, value=len(erased))
    logger.info(
        "batch scored",
        extra={
            "records": len(event.get("Records", [])),
            "applied": outcome.applied,
            "duplicates": outcome.duplicates,
            "erased": len(erased),
            "band_changes": report.band_changes,
            "published": report.published,
            "failed_events": len(outcome.failed),
        },
    )
    return process_partial_response(
        event=event, record_handler=batch.outcome_reporter(outcome), processor=processor, context=context
    )
