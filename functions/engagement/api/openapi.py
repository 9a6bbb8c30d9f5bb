"""The OpenAPI 3.1 document of the whole HTTP API: merged from every function's resolver, then
told the whole truth about what each operation can answer.

Powertools generates each operation's parameters, request body and success schema from the
route functions. What it cannot know is added here, from the topology: every refusal the gate
and the error handlers can give (one error schema for all of them), a redirect's 302, and what
a webhook acknowledges with. ``docs/openapi.json`` is this document, committed; a test fails when
they differ, so every contract change is reviewed (``python -m engagement.api.openapi``).

Route modules are imported only when the document is first asked for, so serving it costs the
query function nothing at cold start.
"""

from __future__ import annotations

import json
import sys
from functools import cache
from importlib import import_module
from typing import Any

from engagement.api.resolver import BEARER_SCHEME
from engagement.topology import TOPOLOGY, RouteSpec

TITLE = "Engagement scoring API"
VERSION = "1.0.0"
DESCRIPTION = (
    "Engagement events in, scores out. Scores are evaluated at request time from stored "
    "aggregates, so a read long after the last event is still right. Routes under /v1 need "
    "`Authorization: Bearer <api key>`, except this document; webhooks are verified with each "
    "provider's own signature or token; tracked links are public."
)
# Which module holds each HTTP function's routes.
ROUTE_MODULES = {
    "ingest": "engagement.api.events",
    "query": "engagement.api.users",
    "telegram": "engagement.api.telegram",
    "sms": "engagement.api.sms",
    "links": "engagement.api.links",
    "console": "engagement.api.console",
    "privacy": "engagement.api.privacy",
}
ERROR = "Error"
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": (
        "Every refusal. `error` is a stable code to branch on, `message` one sentence for people, "
        "`details` names each bad field the way the request wrote it. Answers made before any "
        "function runs (an unknown route, a body over 10 MB) carry `message` alone, as API "
        "Gateway writes them."
    ),
    "required": ["message"],
    "properties": {
        "error": {"type": "string", "examples": ["validation_error"]},
        "message": {"type": "string"},
        "details": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
JSON = "application/json"


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {JSON: {"schema": {"$ref": f"#/components/schemas/{ERROR}"}}},
    }


def _refusals(route: RouteSpec, operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every non-2xx status the route can answer to a request, and why."""
    found: dict[str, dict[str, Any]] = {}
    if route.webhook is not None:
        found["400"] = _error("A verified request whose body is not a callback this service understands")
        found["401"] = _error("The request is not signed (or not with the configured secret)")
        found["403"] = _error("Signed, but outside the provider's replay window")
    else:
        if route.accepts:
            found["400"] = _error("The body is not UTF-8 JSON this service reads (not JSON, nested too deep)")
        if not route.public:
            found["401"] = _error("Missing or invalid `Authorization: Bearer <api key>`")
    if "{" in route.path:
        # API Gateway refuses a path it cannot decode before any function runs.
        found.setdefault("400", _error("The path cannot be decoded"))
    # Any route can be missed: a trailing slash, a path parameter that splits the path.
    found["404"] = _error(
        f"Not found: {route.not_found}, or no route matches the path"
        if route.not_found
        else "No route matches the path"
    )
    if route.path.startswith("/v1/users/{user_id}/") and route.operation != "get_erasure":
        found["410"] = _error("The user was erased and nothing is recorded since (with any suppression kept)")
    # Any request can carry a body, even a GET; over the limit it is refused before it is read.
    found["413"] = _error("The body exceeds 1 MiB")
    if route.accepts:
        found["415"] = _error(f"The body is not {' or '.join(route.accepts)}")
    if operation.get("parameters") or operation.get("requestBody"):
        found["422"] = _error("A parameter or field breaks a rule; `details` names each")
    # A defect, not the request: answered in the error shape and logged by kind, never as a stack.
    found["500"] = _error("An internal error; the request can be retried, and the error was logged")
    if route.operation != "get_openapi":
        found["503"] = _error("The event store or the secret store is unavailable: retry later")
    return found


def _success(route: RouteSpec, generated: dict[str, Any]) -> dict[str, Any]:
    if route.status == 302:
        return {
            "description": "Redirect to the link's destination",
            "headers": {"Location": {"schema": {"type": "string", "format": "uri"}}},
        }
    if route.produces:
        return {
            "description": generated.get("description", "Successful Response"),
            "content": {
                media: {"schema": {"type": "object" if media == JSON else "string"}}
                for media in route.produces
            },
        }
    if route.webhook is None:
        return generated
    from engagement.api.webhooks import acknowledgement_types  # noqa: PLC0415 - sources load here only

    return {
        "description": "Acknowledged in the provider's format, once the events are stored",
        "content": {media: {"schema": {"type": "string"}} for media in acknowledgement_types(route.webhook)},
    }


@cache
def document() -> dict[str, Any]:
    # Imported here, not at module level: only a request for the document pays for them.
    from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge  # noqa: PLC0415
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer  # noqa: PLC0415

    # Powertools needs the scheme to resolve each route's security; _truthful writes it as the
    # specification wants it (Powertools' model dumps null fields the validator refuses).
    schemes: dict[str, Any] = {BEARER_SCHEME: HTTPBearer()}
    merge = OpenAPIMerge(
        title=TITLE, version=VERSION, description=DESCRIPTION, security_schemes=schemes, on_conflict="error"
    )
    for function in sorted({route.function for route in TOPOLOGY.routes}):
        app = import_module(ROUTE_MODULES[function]).app
        schema = app.get_openapi_schema(title=TITLE, version=VERSION, security_schemes=schemes)
        merge.add_schema(schema.model_dump(mode="json", by_alias=True, exclude_none=True))
    merged = merge.get_openapi_schema()
    raw: dict[str, Any] = json.loads(json.dumps(merged, default=_dumped))
    return _truthful(raw)


def _dumped(model: Any) -> Any:
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def _truthful(raw: dict[str, Any]) -> dict[str, Any]:
    routes = {(route.path, route.method.lower()): route for route in TOPOLOGY.routes}
    for path, item in raw["paths"].items():
        for method, operation in item.items():
            route = routes[(path, method)]
            generated = operation.get("responses", {}).get(str(route.status), {})
            if route.webhook is not None and route.accepts:
                # The provider's own format, read only once its signature verifies.
                operation["requestBody"] = {
                    "required": False,
                    "content": {media: {"schema": {"type": "object"}} for media in route.accepts},
                }
            operation["responses"] = {
                str(route.status): _success(route, generated),
                **{
                    str(status): {**_success(route, generated), "description": "Accepted: not finished yet"}
                    for status in route.also
                },
                **_refusals(route, operation),
            }
    components = raw.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        schemas.pop(unused, None)
    schemas[ERROR] = ERROR_SCHEMA
    components["securitySchemes"] = {BEARER_SCHEME: {"type": "http", "scheme": "bearer"}}
    return raw


def text() -> str:
    """The document as committed in ``docs/openapi.json``."""
    return json.dumps(document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(text())
