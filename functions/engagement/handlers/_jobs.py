"""The steps of a scheduled job, shared by the decay and cleanup functions.

The orchestration (Step Functions in AWS, the runner locally) invokes the function with
``{"step": "plan", "time": ...}``, then ``{"step": "work", ...segment}`` until each segment says
it is done, then ``{"step": "finish", ...}``. Any other event is refused: the schedule starts
the state machine, never the function.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from engagement import deps
from engagement.domain import clock
from engagement.domain.maintenance import MaintainedItem
from engagement.domain.runs import (
    Checkpoint,
    Pacing,
    Process,
    RunId,
    Scanner,
    SegmentTask,
    Tally,
    plan,
    summarize,
    work_segment,
)
from engagement.domain.timefmt import rfc3339, to_ms
from engagement.handlers._schedule import scheduled_instant
from engagement.observability import logger, metrics
from engagement.store.overview_counts import note_run_finished, note_run_started
from engagement.topology import TOPOLOGY, JobSpec

STOP_MARGIN_S = 60.0
"""A work step stops taking pages this long before Lambda's timeout: one page plus its writes
fit easily, so an invocation always ends between two checkpoints."""

PageProcessor = Process[MaintainedItem]
PageSource = Scanner[MaintainedItem]


def _always(run: RunId) -> bool:
    return True


class Completion(Protocol):
    def __call__(self, run: RunId, now_ms: int) -> None: ...


class IncompleteRun(RuntimeError):
    """``finish`` found segments not done: the run failed (and the orchestration alarms)."""


@dataclass(frozen=True)
class Job:
    spec: JobSpec
    processor: Callable[[SegmentTask], PageProcessor]
    """Builds the page processor for a segment of a run (it needs the run's instant; the fit
    also the segment and where in it the work resumes)."""
    source: Callable[[RunId], PageSource]
    """Where a run's pages come from: a segment of the due index, or of a parallel scan."""
    needed: Callable[[RunId], bool] = _always
    """Whether the run has pages to work at all; when not, each segment is recorded done
    without a read of the table (the weekly run after its one-time sweep)."""
    completed: Completion | None = None
    """Called once when the run finishes complete (the sweep records that it happened)."""

    def handle(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        step = event.get("step")
        if step == "plan":
            return self.plan(self._run(event))
        if step == "work":
            return self.work(SegmentTask.from_event(event), context)
        if step == "finish":
            return self.finish(self._run(event))
        raise ValueError(f"unknown step {step!r}: expected plan, work or finish (start the state machine)")

    def _run(self, event: dict[str, Any]) -> RunId:
        return RunId(self.spec.name, to_ms(scheduled_instant(event)))

    def plan(self, run: RunId) -> dict[str, Any]:
        record = deps.runs().start(run, to_ms(clock.now()))
        if record.finished_ms is None:  # a finished run planned again (a repeat) writes nothing
            note_run_started(deps.overview_counts(), run, record.started_ms)
        return {
            "job": run.job,
            "time": rfc3339(run.at),
            "segments": [task.as_event() for task in plan(run, self.spec.segments)],
        }

    def work(self, task: SegmentTask, context: LambdaContext) -> dict[str, Any]:
        if not self.needed(task.run):
            runs = deps.runs()
            current = runs.load(task.run, task.segment)
            if current is None or not current.done:
                # A run cut short before another one finished the work: nothing is left to do.
                pages = 0 if current is None else current.pages + 1
                tally = Tally() if current is None else current.tally
                done = Checkpoint(cursor=None, pages=pages, done=True, tally=tally)
                runs.save(task.run, task.segment, done)
                current = runs.load(task.run, task.segment) or current
            return {**task.as_event(), "done": True, "pages": 0 if current is None else current.pages}
        budget = _Budget(context, self.spec.work_budget_s)
        checkpoint = work_segment(
            task,
            scanner=self.source(task.run),
            checkpoints=deps.runs(),
            process=self.processor(task),
            page_size=self.spec.page_size,
            pacing=Pacing.share(
                write_rate=self.spec.write_rate_per_s,
                read_rate=self.spec.read_rate_per_s,
                concurrency=self.spec.max_concurrency,
            ),
            time_left_s=budget.left,
        )
        return {**task.as_event(), "done": checkpoint.done, "pages": checkpoint.pages}

    def finish(self, run: RunId) -> dict[str, Any]:
        runs = deps.runs()
        now_ms = to_ms(clock.now())
        record = runs.start(run, now_ms)
        tally, complete = summarize(runs.all(run), self.spec.segments)
        if record.finished_ms is not None:
            # The same run again (EventBridge or a person re-sent it): it found everything done
            # and wrote nothing; its totals were reported when it first finished.
            summary = {"run": str(run), "run_at": rfc3339(run.at), "complete": complete, "repeat": True}
            logger.info(f"{run.job} run repeated", extra=summary)
            return summary
        if complete:
            runs.finished(run, now_ms)
            if self.completed is not None:
                self.completed(run, now_ms)
        duration_s = max(0.0, (now_ms - record.started_ms) / 1000)
        metrics.add_dimension(name="job", value=run.job)
        for name, value in (
            ("JobItemsExamined", tally.examined),
            ("JobItemsWritten", tally.written),
            ("JobItemsDeleted", tally.deleted),
            ("JobThrottles", tally.throttled),
        ):
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
        metrics.add_metric(name="JobDuration", unit=MetricUnit.Seconds, value=duration_s)
        metrics.add_metric(name="JobIncomplete", unit=MetricUnit.Count, value=0 if complete else 1)
        summary = {
            "run": str(run),
            "run_at": rfc3339(run.at),
            "complete": complete,
            "repeat": False,
            "duration_s": round(duration_s, 3),
            **tally.as_dict(),
        }
        logger.info(f"{run.job} run", extra=summary)
        note_run_finished(
            deps.overview_counts(), run, record.started_ms, now_ms, complete=complete, tally=tally
        )
        if not complete:
            raise IncompleteRun(f"{run}: not every segment is done; rerun the same scheduled time to resume")
        return summary


class _Budget:
    """Seconds this invocation may still start a page: its own budget, and Lambda's clock."""

    def __init__(self, context: LambdaContext, budget_s: int) -> None:
        self._context = context
        self._deadline_ms = context.get_remaining_time_in_millis() - budget_s * 1000

    def left(self) -> float:
        remaining_ms = self._context.get_remaining_time_in_millis()
        return min(remaining_ms - self._deadline_ms, remaining_ms - STOP_MARGIN_S * 1000) / 1000


def job(
    name: str,
    processor: Callable[[SegmentTask], PageProcessor],
    source: Callable[[RunId], PageSource],
    *,
    needed: Callable[[RunId], bool] = _always,
    completed: Completion | None = None,
) -> Job:
    return Job(TOPOLOGY.job(name), processor, source, needed, completed)
