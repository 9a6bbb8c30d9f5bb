"""One path for every webhook source: verify, translate, store, acknowledge.

The HTTP routes (``api.webhooks``) and the SNS-delivered End User Messaging events
(``handlers.sms_events``) both call :func:`receive`; what differs is only how a :class:`Reply`
becomes an answer. See ``webhooks.source`` for the steps and why they come in this order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from engagement import secrets
from engagement.api.error_body import error_body
from engagement.domain.errors import InvalidInput
from engagement.domain.ingestion import Tally, ingest
from engagement.observability import logger
from engagement.webhooks.request import WebhookRequest
from engagement.webhooks.source import MalformedCallback, Verdict, WebhookSource

if TYPE_CHECKING:
    from engagement.domain.ports import EventStore
    from engagement.settings import Settings
    from engagement.topology import SecretSpec


@dataclass(frozen=True)
class Reply:
    status: int
    content_type: str
    body: str
    error: str | None = None
    """The error code of a refusal (``unauthorized``, ``malformed_callback``...), None on success."""
    tally: Tally = field(default_factory=Tally)


def receive(
    source: WebhookSource,
    request: WebhookRequest,
    *,
    secret: SecretSpec | None,
    accepts: tuple[str, ...] = (),
    store: EventStore,
    settings: Settings,
    now: datetime,
) -> Reply:
    """Run one request through the pipeline. ``secret`` None means the transport authenticated
    it (SNS with IAM). A store failure raises ``StoreError``: the caller answers 5xx."""
    if secret is not None:
        refusal = _verify(source, request, secret, now)
        if refusal is not None:
            return refusal
    if accepts and request.body and request.method == "POST" and request.media_type not in accepts:
        return _error(415, "unsupported_media_type", f"send the body as {' or '.join(accepts)}")
    try:
        translation = source.translate(request, now, settings)
        tally = (
            Tally.of(ingest(translation.events, store, now, receipt_window=settings.receipt_window))
            if translation.events
            else Tally()
        )
    except MalformedCallback as exc:
        logger.warning("webhook refused: malformed", extra={"source": source.name, "error": str(exc)})
        return _error(400, exc.code, f"not a {source.name} callback this service understands: {exc}")
    except (ValueError, ArithmeticError, InvalidInput) as exc:
        # A verified request whose values no event can hold (a field out of range, a number the
        # store cannot write). Its message may quote the request, so only its kind is logged.
        logger.warning(
            "webhook refused: unreadable", extra={"source": source.name, "error": type(exc).__name__}
        )
        return _error(400, "malformed_callback", f"a value in this {source.name} callback is out of range")
    ack = source.acknowledge(translation, store, now, settings)
    logger.info(
        "webhook received",
        extra={
            "source": source.name,
            **translation.log,
            "accepted": tally.accepted,
            "duplicates": tally.duplicates,
            "erased": tally.erased,
        },
    )
    return Reply(200, ack.content_type, ack.body, tally=tally)


def _verify(
    source: WebhookSource, request: WebhookRequest, secret: SecretSpec, now: datetime
) -> Reply | None:
    try:
        verdict = secrets.check(
            secret,
            lambda value: _verified(source, request, value, now),
            passed=lambda v: v is Verdict.OK,
            retry=lambda v: v is Verdict.INVALID,
        )
    except secrets.SecretUnavailable as exc:
        logger.error("webhook secret unavailable", extra={"source": source.name, "error": str(exc)})
        return _error(503, "auth_unavailable", "the webhook secret could not be read; retry later")
    if verdict is Verdict.OK:
        return None
    if verdict is None:
        logger.error(f"{secret.local_env} is not configured; every {source.name} request is refused")
        return _error(401, "unauthorized", f"{source.name} webhooks are not configured")
    logger.warning("webhook refused", extra={"source": source.name, "verdict": verdict.value})
    if verdict is Verdict.STALE:
        return _error(403, "stale_request", "the request's timestamp is outside the allowed window")
    return _error(401, "unauthorized", f"missing or invalid {source.credential}")


def _verified(source: WebhookSource, request: WebhookRequest, secret: str, now: datetime) -> Verdict:
    """A check that cannot be completed is a check that failed: whatever an unauthenticated
    body holds (a lone surrogate, a number no parser takes), the answer is a 401, never a 5xx."""
    try:
        return source.verify(request, secret, now)
    except Exception as exc:
        kind = type(exc).__name__
        logger.warning("webhook refused: unverifiable", extra={"source": source.name, "error": kind})
        return Verdict.INVALID


def _error(status: int, code: str, message: str) -> Reply:
    return Reply(status, "application/json", error_body(code, message), error=code)
