"""POST /v1/events: the generic events API."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.metrics import MetricUnit

from engagement import deps
from engagement.api.errors import JSON
from engagement.api.event_models import IngestRequest, IngestResponse
from engagement.api.resolver import resolver_for
from engagement.domain import clock
from engagement.domain.ingestion import ingest
from engagement.observability import metrics


def post_events(request: IngestRequest) -> Response[IngestResponse]:
    """Record engagement events

    Stores 1 to 100 events with one conditional write each. An event whose `event_id` is
    already stored is reported as `duplicate` and not stored again; without an `event_id` the
    id is derived from the content, so an exact resend is a duplicate. If any event is
    invalid, nothing is stored and the answer is 422 naming the event index and field.
    """
    outcome = IngestResponse.of(
        ingest(request.events, deps.store(), clock.now(), receipt_window=deps.settings().receipt_window)
    )
    metrics.add_metric(name="EventsAccepted", unit=MetricUnit.Count, value=outcome.accepted)
    metrics.add_metric(name="EventsDuplicate", unit=MetricUnit.Count, value=outcome.duplicates)
    return Response(status_code=202, content_type=JSON, body=outcome)


app = resolver_for("ingest", post_events)
