"""Lambda entry point: DELETE /v1/users/{user_id} and its status (a person's erasure)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from engagement import deps
from engagement.api.http import serve
from engagement.api.privacy import app
from engagement.observability import logger

deps.init("privacy")  # settings and clients at init, not on a request


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return serve(app, event, context)
