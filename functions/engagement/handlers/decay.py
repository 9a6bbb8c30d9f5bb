"""Lambda entry point: the steps of the daily run (see ``handlers._jobs``).

Reads the contacts whose band change is due at the run's scheduled instant, or whose new events
it has not seen, from the due index (no scan): reconciles their band (publishing changes) and
percentile bucket, records the state their history is evaluated from when it changed, and
schedules their next change. Engagements and history points are never written: they are
evaluated by every read, and an engagement's end is its TTL.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from engagement import deps
from engagement.domain.maintenance import DuePage
from engagement.domain.runs import RunId, SegmentTask
from engagement.domain.upkeep import Upkeep
from engagement.handlers._jobs import PageProcessor, PageSource, job
from engagement.observability import emit_metrics, logger
from engagement.store.dynamodb import DueSource

deps.init("decay", publishes=True, scores=True)  # settings and clients at init, not on a request


def _source(run: RunId) -> PageSource:
    return DueSource(deps.store(), run.at_ms)


def _decay(task: SegmentTask) -> PageProcessor:
    run, store = task.run, deps.store()
    upkeep = Upkeep(store.contacts, deps.publisher(), deps.scoring_with_models()[0], percentiles=True)
    return DuePage(run_at=run.at, scheduler=store.contacts, upkeep=upkeep)


DECAY = job("decay", _decay, _source)


@logger.inject_lambda_context(clear_state=True)
@emit_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return DECAY.handle(event, context)
