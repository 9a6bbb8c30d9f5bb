"""One JSON error shape for every refusal, and the mapping from exceptions to statuses.

    {"error": "<code>", "message": "<one sentence>", "details": [{"field": ..., "message": ...}]}

Callers branch on ``error``; people read ``message``; ``details`` names each bad field the way
the caller wrote it (``events[2].occurred_at``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from engagement.api.error_body import error_body
from engagement.api.person_state import PersonErased
from engagement.domain.errors import FieldProblem, InvalidInput, StoreError
from engagement.domain.timefmt import from_ms, rfc3339
from engagement.observability import logger

JSON = "application/json"


def error_response(
    status: int, code: str, message: str, problems: Sequence[FieldProblem] = ()
) -> Response[str]:
    return Response(status_code=status, content_type=JSON, body=error_body(code, message, problems))


def proxy_error(
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    problems: Sequence[FieldProblem] = (),
) -> dict[str, Any]:
    """An API Gateway proxy response, for refusals made before the resolver runs."""
    return {
        "statusCode": status,
        "headers": {"Content-Type": JSON, **(headers or {})},
        "body": error_body(code, message, problems),
        "isBase64Encoded": False,
    }


def field_name(loc: Sequence[str | int]) -> str:
    """("body", "events", 0, "occurred_at") -> "events[0].occurred_at"; ("query", "limit") -> "limit"."""
    parts = list(loc[1:]) if loc and loc[0] in ("body", "query", "path", "header") else list(loc)
    name = ""
    for part in parts:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "body"


def _problem(error: dict[str, Any]) -> FieldProblem:
    message = str(error.get("msg", "is invalid")).removeprefix("Value error, ")
    return FieldProblem(field=field_name(error.get("loc", ())), message=message)


def _invalid_request(exc: RequestValidationError) -> Response[str]:
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(400, "invalid_json", "the request body is not valid JSON")
    if any(e.get("type") == "missing" and tuple(e.get("loc", ())) == ("body",) for e in errors):
        return error_response(400, "missing_body", "the request needs a JSON body")
    problems = [_problem(e) for e in errors]
    summary = "; ".join(f"{p.field}: {p.message}" for p in problems[:3])
    return error_response(422, "validation_error", summary, problems)


def _invalid_input(exc: InvalidInput) -> Response[str]:
    return error_response(422, "validation_error", str(exc), exc.problems)


def _not_found(exc: NotFoundError) -> Response[str]:
    # Powertools raises a bare NotFoundError for an unknown route; routes raise it with a message.
    return error_response(404, "not_found", str(exc.msg) if exc.msg else "no such route")


def _store_failed(exc: StoreError) -> Response[str]:
    # 5xx on purpose: the caller (or the webhook provider) retries, and nothing was acknowledged.
    logger.error("store failure", extra={"error": str(exc), "retryable": exc.retryable})
    status, code = (503, "store_unavailable") if exc.retryable else (500, "store_error")
    return error_response(status, code, "the event store could not complete the request; retry later")


def _erased(exc: PersonErased) -> Response[str]:
    erasure = exc.erasure
    suppressed = (
        None
        if not erasure.suppressed or erasure.suppressed_since_ms is None
        else {"since": rfc3339(from_ms(erasure.suppressed_since_ms)), "reason": erasure.opt_out_reason}
    )
    body = {
        "error": "erased",
        "message": (
            "the user was erased; nothing is recorded since"
            + ("; they stay opted out: do not message them" if suppressed else "")
        ),
        "erased_at": rfc3339(from_ms(erasure.erased_at_ms)),
        "suppressed": suppressed,
        "band": "suppressed" if suppressed else None,
    }
    return Response(status_code=410, content_type=JSON, body=json.dumps(body))


def install_error_handlers(app: APIGatewayHttpResolver) -> None:
    app.exception_handler(RequestValidationError)(_invalid_request)
    app.exception_handler(InvalidInput)(_invalid_input)
    app.exception_handler(NotFoundError)(_not_found)
    app.exception_handler(PersonErased)(_erased)
    app.exception_handler(StoreError)(_store_failed)
