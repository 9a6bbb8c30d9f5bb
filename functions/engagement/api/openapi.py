"""The OpenAPI document of the whole HTTP API, merged from every function's resolver.

Route modules are imported only when the document is first asked for, so serving it costs
the query function nothing at cold start.
"""

from __future__ import annotations

from functools import cache
from importlib import import_module
from typing import Any

from engagement.api.resolver import BEARER_SCHEME
from engagement.topology import TOPOLOGY

TITLE = "Engagement scoring API"
VERSION = "1.0.0"
DESCRIPTION = (
    "Engagement events in, scores out. Scores are evaluated at request time from stored "
    "aggregates, so a read long after the last event is still right. Every route except this "
    "document needs `Authorization: Bearer <api key>`."
)
# Which module holds each HTTP function's routes.
ROUTE_MODULES = {
    "ingest": "engagement.api.events",
    "query": "engagement.api.users",
    "telegram": "engagement.api.telegram",
    "sms": "engagement.api.sms",
    "links": "engagement.api.links",
    "console": "engagement.api.console",
}


@cache
def document() -> dict[str, Any]:
    # Imported here, not at module level: only a request for the document pays for them.
    from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge  # noqa: PLC0415
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer  # noqa: PLC0415

    merge = OpenAPIMerge(
        title=TITLE,
        version=VERSION,
        description=DESCRIPTION,
        security_schemes={BEARER_SCHEME: HTTPBearer()},
        on_conflict="error",
    )
    functions = sorted({route.function for route in TOPOLOGY.routes})
    for function in functions:
        app = import_module(ROUTE_MODULES[function]).app
        schema = app.get_openapi_schema(
            title=TITLE, version=VERSION, security_schemes={BEARER_SCHEME: HTTPBearer()}
        )
        merge.add_schema(schema.model_dump(mode="json", by_alias=True, exclude_none=True))
    return merge.get_openapi_schema()
