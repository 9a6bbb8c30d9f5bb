"""The HTTP side of every webhook source: the API Gateway event in, the pipeline's reply out.

Webhook routes need no code of their own: ``resolver_for`` binds each topology route that names
a webhook to :func:`operation`, which rebuilds the request exactly as the provider sent it (the
public URL it signed, the raw bytes) and runs ``webhooks.receive``.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

from engagement import deps
from engagement.domain import clock
from engagement.topology import TOPOLOGY, RouteSpec
from engagement.webhooks.receive import receive
from engagement.webhooks.request import from_api_gateway
from engagement.webhooks.source import WebhookSource


def source_of(module: str) -> WebhookSource:
    source: WebhookSource = import_module(f"engagement.webhooks.{module}").SOURCE
    return source


def acknowledgement_types(module: str) -> tuple[str, ...]:
    return source_of(module).acknowledgement_types


def operation(route: RouteSpec, app: Callable[[], APIGatewayHttpResolver]) -> Callable[[], Response[str]]:
    """The route function for a webhook route: named after the route's operation, documented by
    its source (the OpenAPI document reads both)."""
    assert route.webhook is not None
    spec = TOPOLOGY.webhook(route.webhook)
    source = source_of(route.webhook)

    def serve() -> Response[str]:
        settings = deps.settings()
        request = from_api_gateway(app().current_event.raw_event, public_base_url=settings.public_base_url)
        reply = receive(
            source,
            request,
            secret=spec.secret,
            accepts=route.accepts,
            store=deps.store(),
            settings=settings,
            now=clock.now(),
        )
        return Response(status_code=reply.status, content_type=reply.content_type, body=reply.body)

    serve.__name__ = serve.__qualname__ = route.operation
    serve.__doc__ = f"{source.summary}\n\n{source.description}"
    return serve
