"""Lambda entry point: the steps of the weekly fit of the probability models (see ``handlers._jobs``).

``work`` pages through the contacts like the daily run, reducing each page to grouped sufficient
statistics (``domain.models.FitSample``) stored as one item per page; ``finish`` merges them,
fits BG/NBD and the conversion prior (``domain.fitting``, pure Python: no numpy or scipy in any
function), and makes the result the current model set, the one it replaces the previous.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from engagement import deps
from engagement.domain import clock
from engagement.domain.maintenance import ContactItem, MaintainedItem
from engagement.domain.models import FitSample, ModelSet, fit_models
from engagement.domain.runs import RunId, SegmentTask, Tally
from engagement.domain.timefmt import to_ms
from engagement.handlers._jobs import Job, PageProcessor, PageSource
from engagement.observability import emit_metrics, logger
from engagement.topology import TOPOLOGY

deps.init("fit", scores=True)  # settings and clients at init, not on a request


class _SamplePages:
    """The work step's page processor: one sample item per page, keyed by the page's position in
    its segment, so a page redone after an interruption overwrites its own sample."""

    def __init__(self, task: SegmentTask, first_page: int) -> None:
        self._task = task
        self._page = first_page

    def __call__(self, items: Sequence[MaintainedItem], pace: Callable[[], None]) -> Tally:
        sample = FitSample()
        for item in items:
            if isinstance(item, ContactItem):
                sample.add(item.record.state, self._task.run.at_ms)
        pace()
        deps.models().put_sample(
            self._task.run, self._task.segment, self._page, sample, now_s=to_ms(clock.now()) // 1000
        )
        self._page += 1
        return Tally(examined=len(items), written=1)


def _sample_pages(task: SegmentTask) -> PageProcessor:
    checkpoint = deps.runs().load(task.run, task.segment)
    return _SamplePages(task, 0 if checkpoint is None else checkpoint.pages)


class FitJob(Job):
    def finish(self, run: RunId) -> dict[str, Any]:
        summary = super().finish(run)  # raises while a segment is not done: nothing is fitted
        published = fit_and_publish(run)
        return {**summary, "models": published}


def fit_and_publish(run: RunId) -> dict[str, Any]:
    """Fit on the run's sample and make it current, unless this run (or a later one) already did:
    a repeated finish refits nothing and never turns the current set into the previous one."""
    models = deps.models()
    current, _ = models.stored()
    if current is not None and (current.run_at_ms or 0) >= run.at_ms:
        return {"published": False, **_versions(current)}
    config = deps.scoring_config().probabilities
    fitted = fit_models(models.sample(run), run.at_ms, config, min_contacts=deps.settings().fit_min_contacts)
    published = models.publish(fitted)
    logger.info(
        "probability models",
        extra={
            "run": str(run),
            "published": published,
            **_versions(fitted),
            "bgnbd_note": fitted.bgnbd.note,
            "conversion_note": fitted.conversion.note,
            "sample_size": fitted.bgnbd.sample_size,
        },
    )
    return {"published": published, **_versions(fitted)}


def _versions(models: ModelSet) -> dict[str, str]:
    return {"bgnbd": models.bgnbd.version, "conversion_prior": models.conversion.version}


def _contacts(run: RunId) -> PageSource:
    """Every contact, a segment of a parallel scan at a time: the fit reads each once a week."""
    return deps.store()


FIT = FitJob(TOPOLOGY.job("fit"), _sample_pages, _contacts)


@logger.inject_lambda_context(clear_state=True)
@emit_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return FIT.handle(event, context)
