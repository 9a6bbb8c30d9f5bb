"""The Lambda side of an HTTP route: gate, resolve, and one access log line."""

from __future__ import annotations

import traceback
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.utilities.typing import LambdaContext

from engagement.api.errors import proxy_error
from engagement.api.gate import refuse
from engagement.observability import logger


def serve(app: APIGatewayHttpResolver, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # API Gateway's request id ties these logs to its access log line (a plain lookup: the
    # JMESPath correlation path costs more per request than the rest of the logging).
    logger.set_correlation_id(event.get("requestContext", {}).get("requestId"))
    event = _media_type_lowercased(event)
    try:
        response = refuse(event) or app.resolve(event, context)
    except Exception as exc:
        # A bug, not bad input (bad input is a 4xx before this). The exception's message and
        # traceback locals can quote the request (a phone number, message text): log its kind
        # and where it was raised, and answer 500 in the one error shape.
        logger.error("unhandled error", extra={"error": type(exc).__name__, "at": _where(exc)})
        return proxy_error(500, "internal_error", "the request failed; it was logged")
    # The stage's access log already records route, status and latency; never the raw path,
    # which can hold a phone number.
    logger.debug(
        "request", extra={"route": event.get("routeKey"), "status": int(response.get("statusCode", 0))}
    )
    return response


def _media_type_lowercased(event: dict[str, Any]) -> dict[str, Any]:
    """Media types are case-insensitive (RFC 9110): ``Application/JSON`` is JSON. Powertools
    compares them as written, and refused one with a body of its own; the gate and the resolver
    see it lowercased (parameters such as a charset are left as sent)."""
    headers = event.get("headers") or {}
    sent = headers.get("content-type")
    if not isinstance(sent, str):
        return event
    media, sep, parameters = sent.partition(";")
    lowered = media.strip().lower() + sep + parameters
    return event if lowered == sent else {**event, "headers": {**headers, "content-type": lowered}}


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    return f"{frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else "?"
