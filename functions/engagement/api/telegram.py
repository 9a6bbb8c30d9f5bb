"""POST /webhooks/telegram: Telegram updates in, events stored, commands answered in the reply."""

from __future__ import annotations

import json
import os

from aws_lambda_powertools.event_handler import Response
from pydantic import ValidationError

from engagement import deps
from engagement.api.errors import JSON, error_response
from engagement.api.resolver import resolver_for
from engagement.domain import clock
from engagement.domain.ingestion import ingest
from engagement.observability import logger
from engagement.secrets import SecretUnavailable, secret_value
from engagement.topology import TELEGRAM_WEBHOOK
from engagement.webhooks import telegram
from engagement.webhooks.telegram_commands import answer

KEYS = telegram.IssueKeys(os.environ.get("TELEGRAM_ISSUE_KEY_PATTERN") or telegram.DEFAULT_ISSUE_KEY_PATTERN)
BOT_ID = os.environ.get("TELEGRAM_BOT_ID") or "bot"


def post_telegram_update() -> Response[str]:
    """Receive a Telegram bot update

    Authenticated by the `X-Telegram-Bot-Api-Secret-Token` header (the `secret_token` given to
    `setWebhook`), checked before the body is read. Messages, edits, channel posts and button
    presses become `query`, `mention` and `view` events for the issue keys they name; `/top`,
    `/score KEY` and `/stats` are answered with a `sendMessage` call in the response body.
    Other update types are acknowledged and ignored.
    """
    event = app.current_event
    refusal = _authenticate(event.headers)
    if refusal is not None:
        return refusal
    try:
        update = telegram.Update.model_validate(json.loads(event.decoded_body or ""))
    except ValueError as exc:  # malformed JSON, or JSON that is not an update
        logger.warning("telegram update refused: not a Telegram update", extra={"error": str(exc)[:300]})
        code = "invalid_update" if isinstance(exc, ValidationError) else "invalid_json"
        return error_response(400, code, "the body is not a Telegram Update object")

    now = clock.now()
    translation = telegram.translate(update, bot_id=BOT_ID, keys=KEYS, received_at=now)
    outcomes = ingest(translation.events, deps.store(), now) if translation.events else []
    reply = answer(translation.command, deps.store(), now, KEYS) if translation.command else None
    logger.info(
        "telegram update",
        extra={
            "update_id": update.update_id,
            "kind": translation.kind or "ignored",
            "events": len(outcomes),
            "accepted": sum(1 for o in outcomes if o.status == "accepted"),
            "command": translation.command.name if translation.command else None,
            "answered": reply is not None,
        },
    )
    if reply is None:
        return Response(status_code=200, content_type="text/plain", body="")
    return Response(status_code=200, content_type=JSON, body=json.dumps(reply, ensure_ascii=False))


def _authenticate(headers: dict[str, str]) -> Response[str] | None:
    try:
        secret = secret_value(TELEGRAM_WEBHOOK)
        if telegram.verify(headers, secret):
            return None
        if secret is None:
            logger.error(f"{TELEGRAM_WEBHOOK.local_env} is not configured; every Telegram update is refused")
        elif telegram.verify(headers, secret_value(TELEGRAM_WEBHOOK, refresh=True)):
            return None  # the secret was rotated since it was cached
    except SecretUnavailable as exc:
        logger.error("telegram secret unavailable", extra={"error": str(exc)})
        return error_response(503, "auth_unavailable", "the webhook secret could not be read; retry later")
    logger.warning("telegram update refused: missing or wrong secret token")
    return error_response(401, "unauthorized", "missing or wrong X-Telegram-Bot-Api-Secret-Token")


app = resolver_for("telegram", post_telegram_update)
