"""Checks made on the raw API Gateway event, before the resolver parses anything.

Powertools runs request validation ahead of every middleware, so authentication happens here
instead: an unauthenticated caller learns nothing about the body it sent.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from typing import Any

from engagement import secrets
from engagement.api.errors import JSON, proxy_error
from engagement.domain import strict_json
from engagement.domain.errors import FieldProblem
from engagement.observability import logger
from engagement.secrets import SecretUnavailable
from engagement.topology import API_KEYS, TOPOLOGY

MAX_BODY_BYTES = 1024 * 1024
_ROUTES = {route.route_key: route for route in TOPOLOGY.routes}


def refuse(event: Mapping[str, Any]) -> dict[str, Any] | None:
    """An error response when the request must not reach the resolver, else None."""
    body = event.get("body") or ""
    # base64 inflates by 4/3; the limit is on the decoded size.
    size = len(body) * 3 // 4 if event.get("isBase64Encoded") else len(body.encode())
    if size > MAX_BODY_BYTES:
        return proxy_error(413, "body_too_large", f"the request body exceeds {MAX_BODY_BYTES} bytes")
    route = _ROUTES.get(str(event.get("routeKey")))
    headers = event.get("headers") or {}
    if route is None or not route.public:
        try:
            refusal = _authenticate(str(headers.get("authorization", "")))
        except SecretUnavailable as exc:
            # 503, not 401: the caller's key may be fine; the check could not run. Retry later.
            logger.error("API keys unavailable", extra={"error": str(exc)})
            return proxy_error(503, "auth_unavailable", "the API keys could not be checked; retry later")
        if refusal is not None:
            return refusal
    # A webhook checks its media type itself, after its credential: unauthenticated is a 401
    # whatever the request holds.
    if route is not None and route.accepts and body and route.webhook is None:
        media_type = str(headers.get("content-type", "")).split(";")[0].strip().lower()
        if media_type not in route.accepts:
            return proxy_error(
                415, "unsupported_media_type", f"send the body as {' or '.join(route.accepts)}"
            )
        if media_type == JSON:
            return _unreadable_json(event)
    return None


def _unreadable_json(event: Mapping[str, Any]) -> dict[str, Any] | None:
    """Refuse a JSON body that would fail the resolver or the store: not UTF-8, not JSON, too
    deep, a number DynamoDB cannot hold, NaN or Infinity. The resolver parses it again (the same
    text, now known to be safe); reading it twice costs less than a 5xx for a bad request."""
    raw = event.get("body") or ""
    try:
        body = (
            base64.b64decode(raw)
            if event.get("isBase64Encoded")
            else str(raw).encode("utf-8", "surrogatepass")
        )
        strict_json.parse(body)
    except binascii.Error:
        return proxy_error(400, "invalid_encoding", "the body is not valid base64")
    except strict_json.JsonRefused as refused:
        if refused.field:
            return proxy_error(
                422, refused.code, str(refused), problems=[FieldProblem(refused.field, refused.reason)]
            )
        return proxy_error(400, refused.code, refused.reason)
    return None


def _authenticate(authorization: str) -> dict[str, Any] | None:
    presented = _bearer(authorization)
    if presented is None:
        return _unauthorized("send Authorization: Bearer <api key>")
    matched = secrets.check(
        API_KEYS, lambda configured: _matches(presented, configured), passed=bool, retry=lambda ok: not ok
    )
    if matched:
        return None
    if matched is None:
        logger.error("no API keys are configured; every /v1 request is refused")
    return _unauthorized("the API key is not valid")


def _bearer(header: str) -> str | None:
    scheme, _, token = header.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def _matches(presented: str, configured: str) -> bool:
    keys = [key.strip() for key in configured.split(",") if key.strip()]
    # Compare against every key without stopping early, so timing says nothing about which matched.
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(presented.encode(), key.encode())
    return matched


def _unauthorized(message: str) -> dict[str, Any]:
    return proxy_error(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})
