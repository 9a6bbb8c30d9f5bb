"""Lambda entry point: the steps of the weekly run (see ``handlers._jobs``).

Engagements leave through TTL (their expiry is written with every event), so this run only
keeps its run record and checkpoints, and does once what TTL cannot: the sweep that gives the
items written before expiries and due times existed theirs. It records that the sweep finished;
every later run reads that record and touches nothing else (no scan).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from engagement import deps
from engagement.domain.maintenance import SweepPage
from engagement.domain.runs import RunId, SegmentTask
from engagement.handlers._jobs import PageProcessor, PageSource, job
from engagement.observability import emit_metrics, logger
from engagement.store.runs import EXPIRY_AND_DUE_SWEEP as SWEEP

deps.init("cleanup")  # settings and clients at init, not on a request


def _sweep(task: SegmentTask) -> PageProcessor:
    return SweepPage(run_at=task.run.at, store=deps.store())


def _scan(run: RunId) -> PageSource:
    return deps.store()


def _sweep_needed(run: RunId) -> bool:
    return not deps.runs().swept(SWEEP)


def _swept(run: RunId, now_ms: int) -> None:
    runs = deps.runs()
    if not runs.swept(SWEEP):  # read first: a refused conditional put would still be billed
        runs.record_sweep(SWEEP, run, now_ms)


CLEANUP = job("cleanup", _sweep, _scan, needed=_sweep_needed, completed=_swept)


@logger.inject_lambda_context(clear_state=True)
@emit_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return CLEANUP.handle(event, context)
