"""Lambda entry point: POST /v1/events."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from engagement import deps
from engagement.api.events import app
from engagement.api.http import serve
from engagement.observability import emit_metrics, logger

deps.init("ingest")  # settings and clients at init, not on a request


@logger.inject_lambda_context(clear_state=True)
@emit_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return serve(app, event, context)
