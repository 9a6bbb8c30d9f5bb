"""Fire the topology's schedules on the runner's clock, starting each one's job as the rule does.

Every fire time in (last check, now] runs once, in time order: a clock advanced by ten days
runs a daily rule ten times, each with its own scheduled ``time`` (the run id the handlers
derive their idempotency from).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engagement.domain.clock import Clock
from engagement.domain.timefmt import rfc3339
from engagement.topology import TOPOLOGY, JobSpec, ScheduleSpec
from infra.local.jobs import JobRunner
from infra.local.schedules import ScheduleExpression, parse_schedule


@dataclass(frozen=True)
class Rule:
    spec: ScheduleSpec
    expression: ScheduleExpression
    job: JobSpec


@dataclass(frozen=True)
class Firing:
    schedule: str
    at: datetime
    result: Any

    def as_json(self) -> dict[str, Any]:
        return {"schedule": self.schedule, "at": rfc3339(self.at), "result": self.result}


class Scheduler:
    """Not thread-safe by itself: the runner calls it under its time lock."""

    def __init__(
        self,
        schedules: tuple[ScheduleSpec, ...],
        jobs: JobRunner,
        clock: Clock,
        log: Callable[[str], None],
    ) -> None:
        self._rules = [Rule(s, parse_schedule(s.expression), TOPOLOGY.job(s.job)) for s in schedules]
        self._jobs = jobs
        self._log = log
        self._created = clock.now()  # rate() schedules count from the rule's creation
        self.checked = self._created

    def due(self, until: datetime) -> list[tuple[datetime, Rule]]:
        """Every firing in (last check, ``until``], in time order (declaration order on ties)."""
        due = [
            (at, index, rule)
            for index, rule in enumerate(self._rules)
            for at in rule.expression.fire_times(self.checked, until, anchor=self._created)
        ]
        return [(at, rule) for at, _, rule in sorted(due, key=lambda entry: (entry[0], entry[1]))]

    def fire(self, rule: Rule, at: datetime) -> Firing:
        started = time.monotonic()
        try:
            result = self._jobs.run(rule.job, at)
        except Exception as exc:
            result = {"error": f"{type(exc).__name__}: {exc}"}
        took_ms = (time.monotonic() - started) * 1000
        self._log(f"{rule.spec.name} @ {rfc3339(at)} -> {_summary(result)} ({took_ms:.0f} ms)")
        self.checked = max(self.checked, at)
        return Firing(rule.spec.name, at, result)

    def next_fire_times(self) -> dict[str, datetime | None]:
        return {r.spec.name: r.expression.next_after(self.checked, anchor=self._created) for r in self._rules}


def _summary(result: Any) -> str:
    if isinstance(result, dict):
        return ", ".join(f"{k} {v}" for k, v in result.items() if k not in {"run", "run_at"} and v)
    return repr(result)
