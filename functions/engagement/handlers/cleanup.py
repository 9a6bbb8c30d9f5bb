"""Lambda entry point: the weekly cleanup run, deleting engagements that scored out."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from engagement import deps
from engagement.domain.maintenance import cleanup
from engagement.domain.timefmt import rfc3339
from engagement.handlers._schedule import scheduled_instant
from engagement.observability import emit_metrics, logger, metrics

deps.init()  # clients are built during init, not on the first request


@logger.inject_lambda_context(clear_state=True)
@emit_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    run_at = scheduled_instant(event)
    report = cleanup(deps.store(), run_at)
    metrics.add_metric(name="CleanupExamined", unit=MetricUnit.Count, value=report.examined)
    metrics.add_metric(name="CleanupDeleted", unit=MetricUnit.Count, value=report.deleted)
    summary = {"run_at": rfc3339(run_at), **asdict(report)}
    logger.info("cleanup run", extra=summary)
    return summary
