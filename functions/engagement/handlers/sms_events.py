"""Lambda entry point: AWS End User Messaging SMS events, delivered by SNS."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes import SNSEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from engagement import deps
from engagement.domain import clock
from engagement.domain.ingestion import ingest
from engagement.observability import logger
from engagement.webhooks.aws_sms import parse_message
from engagement.webhooks.provider import MalformedCallback
from engagement.webhooks.sms import DEFAULT_CAMPAIGN, masked, to_events

deps.init()  # clients are built during init, not on the first request


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    """Store each message's events once. A store failure raises, so SNS's retry (and then the
    subscription's dead-letter queue) keeps the event; a malformed message is logged and
    dropped, because no retry could make it readable."""
    now = clock.now()
    stored = 0
    for record in SNSEvent(event).records:
        try:
            signals = parse_message(record.sns.message, now)
        except MalformedCallback as exc:
            logger.warning(
                "sms event dropped: malformed", extra={"message_id": record.sns.message_id, "error": str(exc)}
            )
            continue
        outcomes = ingest(to_events(signals, campaign=DEFAULT_CAMPAIGN), deps.store(), now)
        stored += sum(1 for o in outcomes if o.status == "accepted")
        logger.info(
            "sms event",
            extra={
                "signals": [
                    {"outcome": s.outcome, "detail": s.detail, "contact": masked(s.contact)} for s in signals
                ]
            },
        )
    return {"accepted": stored}
