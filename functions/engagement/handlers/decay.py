"""Lambda entry point: the steps of the daily decay job (see ``handlers._jobs``).

Materializes, at the run's scheduled instant, every engagement's Linear score and every
contact's band and history point; publishes band changes.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from engagement import deps
from engagement.domain.maintenance import DecayPage
from engagement.domain.runs import RunId
from engagement.domain.upkeep import Upkeep
from engagement.handlers._jobs import PageProcessor, job
from engagement.observability import emit_metrics, logger

deps.init("decay", publishes=True, scores=True)  # settings and clients at init, not on a request


def _decay(run: RunId) -> PageProcessor:
    store = deps.store()
    upkeep = Upkeep(store.contacts, deps.publisher(), deps.scoring_with_models()[0], percentiles=True)
    return DecayPage(run_at=run.at, scores=store, history=store.contacts, upkeep=upkeep)


DECAY = job("decay", _decay)


@logger.inject_lambda_context(clear_state=True)
@emit_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return DECAY.handle(event, context)
