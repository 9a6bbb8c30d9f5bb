"""Click tracking: POST /v1/links makes a tracked link, GET /c/{token} follows it."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, HttpUrl, StrictInt

from engagement import deps
from engagement.api.errors import JSON
from engagement.api.resolver import resolver_for
from engagement.domain import clock
from engagement.domain.clicks import click_event
from engagement.domain.errors import StoreError
from engagement.domain.events import Identifier
from engagement.domain.ingestion import ingest
from engagement.domain.links import is_preview, link_id_of, new_link, token_for
from engagement.observability import logger, metrics
from engagement.secrets import SecretUnavailable, secret_value
from engagement.topology import LINK_SIGNING

MAX_TTL_DAYS = 365


class LinkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Annotated[HttpUrl, Field(description="Where the link leads (http or https)")]
    user_id: Identifier = Field(description="The contact the link is sent to (E.164 for SMS)")
    campaign: Identifier = Field(description="The campaign the click counts for")
    ttl_days: StrictInt | None = Field(
        default=None, ge=1, le=MAX_TTL_DAYS, description="Days the link works (default: LINK_TTL_DAYS, 90)"
    )


class LinkResponse(BaseModel):
    token: str
    url: str = Field(description="The tracked URL to put in the message")
    expires_at: AwareDatetime


def create_link(request: LinkRequest) -> Response[LinkResponse]:
    """Make a tracked link

    Returns an opaque, signed URL that redirects to `url` and records a `clicked` event for the
    contact and campaign. Link previews are redirected but not counted, and repeated clicks
    within a short window count once.
    """
    key = _signing_key()
    now = clock.now()
    ttl = timedelta(days=request.ttl_days or deps.settings().link_ttl_days)
    for _ in range(3):  # 96 random bits: a collision is all but impossible, but never silent
        link = new_link(
            url=str(request.url),
            user_id=request.user_id,
            campaign=request.campaign,
            now=now,
            ttl=ttl,
        )
        if deps.store().put_link(link):
            token = token_for(link.id, key)
            body = LinkResponse(token=token, url=f"{_base_url()}/c/{token}", expires_at=link.expires_at)
            return Response(status_code=201, content_type=JSON, body=body)
    raise StoreError("could not allocate a link id", retryable=True)


def follow_link(token: str) -> Response[str]:
    """Follow a tracked link

    Redirects (302) to the link's destination and records the click. An unknown, forged or
    expired token answers 404.
    """
    link_id = link_id_of(token, _signing_key())
    link = deps.store().get_link(link_id) if link_id else None
    now = clock.now()
    if link is None or link.expires_at <= now:
        raise NotFoundError("this link is unknown or has expired")
    user_agent = app.current_event.headers.get("user-agent")
    if not is_preview(user_agent):
        try:
            window = timedelta(minutes=deps.settings().click_window_minutes)
            ingest(
                [click_event(link, now, window)],
                deps.store(),
                now,
                receipt_window=deps.settings().receipt_window,
            )
        except StoreError as exc:
            # The person is waiting for the page: a lost click costs less than a broken link.
            logger.error("click not recorded", extra={"link": link.id, "error": str(exc)})
            metrics.add_metric(name="ClicksNotRecorded", unit=MetricUnit.Count, value=1)
    return Response(
        status_code=302,
        headers={"Location": link.url, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
        content_type="text/plain",
        body="",
    )


def _signing_key() -> str:
    try:
        key = secret_value(LINK_SIGNING)
    except SecretUnavailable as exc:
        raise StoreError(f"link signing key unavailable: {exc}", retryable=True) from exc
    if not key:
        raise StoreError(f"{LINK_SIGNING.local_env} is not configured", retryable=False)
    return key


def _base_url() -> str:
    """Where /c/ lives: PUBLIC_BASE_URL, or the domain and stage this request came through."""
    configured = deps.settings().public_base_url
    if configured:
        return configured
    event = app.current_event
    stage_prefix = event.raw_event.get("rawPath", "").removesuffix("/v1/links")
    return f"https://{event.request_context.domain_name}{stage_prefix}"


app = resolver_for("links", create_link, follow_link)
