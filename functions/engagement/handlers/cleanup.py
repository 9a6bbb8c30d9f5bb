"""Lambda entry point: the steps of the weekly cleanup job (see ``handlers._jobs``).

Deletes engagements scoring below 0.01 whose last interaction is at least 90 days old.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from engagement import deps
from engagement.domain.maintenance import CleanupPage
from engagement.domain.runs import RunId
from engagement.handlers._jobs import PageProcessor, job
from engagement.observability import emit_metrics, logger

deps.init("cleanup")  # settings and clients at init, not on a request


def _cleanup(run: RunId) -> PageProcessor:
    return CleanupPage(run_at=run.at, scores=deps.store())


CLEANUP = job("cleanup", _cleanup)


@logger.inject_lambda_context(clear_state=True)
@emit_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return CLEANUP.handle(event, context)
