"""POST (and for Vonage, GET) /webhooks/{provider}: SMS callbacks verified, mapped, stored.

The same steps for every provider, each provider's quirks in its own module:
1. rebuild the exact request (public URL, raw bytes) and verify it with the provider's secret
   (refetched once if it fails: the secret may have been rotated since it was cached);
2. read it into signals; 3. store their events once each; 4. acknowledge as the provider
expects. A store failure answers 5xx so the provider retries; nothing is acknowledged that was
not stored. Phone numbers appear in logs only masked.
"""

from __future__ import annotations

import os
import re

from aws_lambda_powertools.event_handler import Response

from engagement import deps
from engagement.api.errors import error_response
from engagement.api.resolver import resolver_for
from engagement.domain import clock
from engagement.domain.ingestion import ingest
from engagement.observability import logger
from engagement.secrets import SecretUnavailable, secret_value
from engagement.webhooks import plivo, telnyx, twilio, twilio_clicks, vonage
from engagement.webhooks.provider import MalformedCallback, SmsProvider, Verdict
from engagement.webhooks.request import WebhookRequest, from_api_gateway
from engagement.webhooks.sms import DEFAULT_CAMPAIGN, masked, to_events

# The campaign comes from the callback URL the operator registered (?campaign=spring-sale).
_CAMPAIGN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


def post_twilio() -> Response[str]:
    """Twilio status callback or inbound message

    Verified with `X-Twilio-Signature` over the public URL and the form parameters (or the
    `bodySHA256` query parameter for JSON bodies). Add `?campaign=<id>` to the registered URL to
    attribute the events to a campaign.
    """
    return _receive(twilio.PROVIDER)


def post_twilio_clicks() -> Response[str]:
    """Twilio Link Shortening click callback

    A contact followed a shortened link; counted once per message per 30 minutes, previews not
    at all. Verified like every Twilio webhook with a JSON body (`bodySHA256`).
    """
    return _receive(twilio_clicks.PROVIDER)


def get_vonage() -> Response[str]:
    """Vonage SMS API callback sent as GET (signed `sig` query parameters)"""
    return _receive(vonage.PROVIDER)


def post_vonage() -> Response[str]:
    """Vonage SMS API callback (signed `sig`) or Messages API webhook (signed JWT)"""
    return _receive(vonage.PROVIDER)


def post_telnyx() -> Response[str]:
    """Telnyx messaging webhook, verified with `telnyx-signature-ed25519` over timestamp and body"""
    return _receive(telnyx.PROVIDER)


def post_plivo() -> Response[str]:
    """Plivo message callback, verified with `X-Plivo-Signature-V3` (or V2)"""
    return _receive(plivo.PROVIDER)


def _receive(provider: SmsProvider) -> Response[str]:
    request = from_api_gateway(
        app.current_event.raw_event, public_base_url=os.environ.get("PUBLIC_BASE_URL") or None
    )
    now = clock.now()
    refusal = _verify(provider, request)
    if refusal is not None:
        return refusal
    try:
        signals = provider.parse(request, now)
    except MalformedCallback as exc:
        logger.warning(
            "sms callback refused: malformed", extra={"provider": provider.name, "error": str(exc)[:200]}
        )
        return error_response(
            400, "malformed_callback", f"not a {provider.name} callback this service understands"
        )
    campaign = _campaign(request)
    events = to_events(signals, campaign=campaign)
    outcomes = ingest(events, deps.store(), now) if events else []
    logger.info(
        "sms callback",
        extra={
            "provider": provider.name,
            "campaign": campaign,
            "signals": [
                {"outcome": s.outcome, "detail": s.detail, "contact": masked(s.contact)} for s in signals
            ],
            "accepted": sum(1 for o in outcomes if o.status == "accepted"),
            "duplicates": sum(1 for o in outcomes if o.status == "duplicate"),
        },
    )
    content_type, body = provider.acknowledgement
    return Response(status_code=200, content_type=content_type, body=body)


def _verify(provider: SmsProvider, request: WebhookRequest) -> Response[str] | None:
    try:
        secret = secret_value(provider.secret)
        if secret is None:
            logger.error(
                f"{provider.secret.local_env} is not configured; every {provider.name} callback is refused"
            )
            return error_response(401, "unauthorized", f"{provider.name} webhooks are not configured")
        verdict = provider.verify(request, secret, clock.now())
        if verdict is Verdict.INVALID:  # perhaps rotated since it was cached: look once more
            fresh = secret_value(provider.secret, refresh=True)
            if fresh is not None and fresh != secret:
                verdict = provider.verify(request, fresh, clock.now())
    except SecretUnavailable as exc:
        logger.error("webhook secret unavailable", extra={"provider": provider.name, "error": str(exc)})
        return error_response(503, "auth_unavailable", "the webhook secret could not be read; retry later")
    if verdict is Verdict.OK:
        return None
    logger.warning("sms callback refused", extra={"provider": provider.name, "verdict": verdict.value})
    if verdict is Verdict.STALE:
        return error_response(403, "stale_request", "the request's timestamp is outside the allowed window")
    if verdict is Verdict.MISSING and getattr(provider, "unsigned_status", 401) >= 500:
        # The provider's own advice for an unsigned callback: a 5xx makes it retry, signed.
        return error_response(503, "unsigned_request", f"{provider.name} sent the callback unsigned; retry")
    return error_response(401, "unauthorized", f"missing or invalid {provider.name} signature")


def _campaign(request: WebhookRequest) -> str:
    for key, value in request.query_params():
        if key == "campaign" and _CAMPAIGN.match(value):
            return value
    return DEFAULT_CAMPAIGN


app = resolver_for("sms", post_twilio, post_twilio_clicks, get_vonage, post_vonage, post_telnyx, post_plivo)
