"""Build a function's HTTP resolver from the topology, so every route is declared exactly once.

A route module defines plain functions; ``resolver_for("query", list_engagements, ...)`` binds
each one to the topology route whose ``operation`` names it. Webhook routes are bound to their
source (``api.webhooks``) without any code. A route without a function, or a function without a
route, fails at import time rather than as a 404 in production.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from engagement.api.errors import install_error_handlers
from engagement.topology import TOPOLOGY

BEARER_SCHEME = "bearerAuth"


def powertools_rule(path: str) -> str:
    """API Gateway's ``{name}`` path parameters are written ``<name>`` in Powertools."""
    return path.replace("{", "<").replace("}", ">")


def resolver_for(function: str, *operations: Callable[..., Any]) -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver(enable_validation=True)
    install_error_handlers(app)
    routes = [route for route in TOPOLOGY.routes if route.function == function]
    by_name = {operation.__name__: operation for operation in operations}
    if any(route.webhook for route in routes):
        from engagement.api import webhooks  # noqa: PLC0415 - only webhook functions load sources

        by_name |= {r.operation: webhooks.operation(r, lambda: app) for r in routes if r.webhook}
    missing = {route.operation for route in routes} - by_name.keys()
    unrouted = by_name.keys() - {route.operation for route in routes}
    if missing or unrouted:
        raise LookupError(f"{function}: operations without code {missing}, code without routes {unrouted}")
    for route in routes:
        operation = by_name[route.operation]
        doc = inspect.getdoc(operation) or ""
        summary, _, description = doc.partition("\n\n")
        app.route(
            powertools_rule(route.path),
            route.method,
            summary=summary or None,
            description=description or None,
            operation_id=route.operation,
            status_code=route.status,
            security=None if route.public else [{BEARER_SCHEME: []}],
            tags=[route.tag],
        )(operation)
    return app
