"""Lambda entry point: AWS End User Messaging SMS events, delivered by SNS.

The same pipeline as every HTTP webhook (``webhooks.receive``), with SNS as the transport: it
authenticated the delivery with IAM, so there is no signature to check.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes import SNSEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from engagement import deps
from engagement.domain import clock
from engagement.observability import logger
from engagement.topology import TOPOLOGY
from engagement.webhooks.aws_sms import SOURCE
from engagement.webhooks.receive import receive
from engagement.webhooks.request import WebhookRequest

SPEC = TOPOLOGY.webhook("aws_sms")
deps.init("sms_events")  # settings and clients at init, not on a request


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    """Store each message's events once. A store failure raises, so SNS's retry (and then the
    subscription's dead-letter queue) keeps the event; a malformed message is logged (by the
    pipeline) and dropped, because no retry could make it readable."""
    accepted = 0
    for record in SNSEvent(event).records:
        request = WebhookRequest(
            method="POST",
            url=record.sns.topic_arn,
            headers={"content-type": "application/json"},
            body=record.sns.message.encode("utf-8"),
            query="",
        )
        reply = receive(
            SOURCE, request, secret=SPEC.secret, store=deps.store(), settings=deps.settings(), now=clock.now()
        )
        accepted += reply.tally.accepted
    return {"accepted": accepted}
