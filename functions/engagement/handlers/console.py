"""Lambda entry point: the console's pages and files, and the API's Swagger UI (``api.console``).

No table, no secret, no client: the console's data calls go to the other functions' routes with
the operator's key. Nothing else imports this module, so the console adds nothing to the cold
start of any other function.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from engagement import settings
from engagement.api.console import app, trailing_slash
from engagement.api.http import serve
from engagement.observability import logger

settings.current("console")  # a bad setting fails the init, as in every function


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return trailing_slash(event) or serve(app, event, context)
