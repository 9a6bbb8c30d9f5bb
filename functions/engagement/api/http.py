"""The Lambda side of an HTTP route: gate, resolve, and one access log line."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.utilities.typing import LambdaContext

from engagement.api.gate import refuse
from engagement.observability import logger


def serve(app: APIGatewayHttpResolver, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response = refuse(event) or app.resolve(event, context)
    logger.info(
        "request",
        extra={
            "route": event.get("routeKey"),
            "path": event.get("rawPath"),
            "status": int(response.get("statusCode", 0)),
        },
    )
    return response
