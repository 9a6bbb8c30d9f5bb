"""The Lambda side of an HTTP route: gate, resolve, and one access log line."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.utilities.typing import LambdaContext

from engagement.api.gate import refuse
from engagement.observability import logger


def serve(app: APIGatewayHttpResolver, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # API Gateway's request id ties these logs to its access log line (a plain lookup: the
    # JMESPath correlation path costs more per request than the rest of the logging).
    logger.set_correlation_id(event.get("requestContext", {}).get("requestId"))
    response = refuse(event) or app.resolve(event, context)
    # The stage's access log already records route, status and latency for every request.
    logger.debug(
        "request",
        extra={
            "route": event.get("routeKey"),
            "path": event.get("rawPath"),
            "status": int(response.get("statusCode", 0)),
        },
    )
    return response
