"""Lambda entry point: the SMS providers' webhooks."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from engagement import deps
from engagement.api.http import serve
from engagement.api.sms import app
from engagement.observability import logger

deps.init("sms")  # settings and clients at init, not on a request


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return serve(app, event, context)
