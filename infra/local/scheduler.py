"""Fire the topology's schedules on the runner's clock, with EventBridge's scheduled event.

Every fire time in (last check, now] runs, in time order, once: a clock advanced by ten days
runs a daily rule ten times, each with its own scheduled ``time`` (the run id the handlers
derive their idempotency from).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engagement.domain.clock import Clock
from engagement.domain.timefmt import rfc3339
from engagement.topology import ScheduleSpec
from infra.local.lambdas import ACCOUNT, REGION, LocalFunction
from infra.local.schedules import ScheduleExpression, parse_schedule


def scheduled_event(spec: ScheduleSpec, at: datetime) -> dict[str, Any]:
    """The event a scheduled rule delivers to its target."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": rfc3339(at),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{spec.name}"],
        "detail": {},
    }


@dataclass
class _Rule:
    spec: ScheduleSpec
    expression: ScheduleExpression
    function: LocalFunction


@dataclass(frozen=True)
class Firing:
    spec: ScheduleSpec
    at: datetime
    result: Any


class Scheduler:
    def __init__(
        self,
        schedules: tuple[ScheduleSpec, ...],
        functions: dict[str, LocalFunction],
        clock: Clock,
        log: Callable[[str], None],
    ) -> None:
        self._rules = [_Rule(s, parse_schedule(s.expression), functions[s.function]) for s in schedules]
        self._clock = clock
        self._log = log
        self._created = clock.now()
        self._checked = self._created
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def next_fire_times(self) -> dict[str, datetime | None]:
        return {
            r.spec.name: r.expression.next_after(self._checked, anchor=self._created) for r in self._rules
        }

    def run_due(self, until: datetime | None = None) -> list[Firing]:
        """Run every firing in (last check, ``until``] in time order; ``until`` defaults to now."""
        with self._lock:
            end = until or self._clock.now()
            due = sorted(
                (
                    (at, index, rule)
                    for index, rule in enumerate(self._rules)
                    for at in rule.expression.fire_times(self._checked, end, anchor=self._created)
                ),
                key=lambda entry: (entry[0], entry[1]),
            )
            self._checked = max(self._checked, end)
            firings = []
            for at, _, rule in due:
                started = time.monotonic()
                try:
                    result = rule.function.invoke(scheduled_event(rule.spec, at))
                except Exception as exc:
                    result = {"error": f"{type(exc).__name__}: {exc}"}
                took_ms = (time.monotonic() - started) * 1000
                self._log(
                    f"schedule {rule.spec.name} @ {rfc3339(at)} -> {_summary(result)} ({took_ms:.0f} ms)"
                )
                firings.append(Firing(rule.spec, at, result))
            return firings

    def start(self, interval_s: float = 1.0) -> None:
        def loop() -> None:
            while not self._stop.wait(interval_s):
                self.run_due()

        self._thread = threading.Thread(target=loop, name="scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)


def _summary(result: Any) -> str:
    if isinstance(result, dict):
        return ", ".join(f"{k} {v}" for k, v in result.items() if k != "run_at")
    return repr(result)
