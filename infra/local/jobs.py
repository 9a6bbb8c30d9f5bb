"""The scheduled jobs' orchestration, run locally: the same steps the state machine runs.

plan -> work on every segment until it says done (the distributed map) -> finish. Each step
is the real function invoked with the same event the state machine sends, retried the same
number of times on an error. Segments run one after another: a local function is one execution
environment, so parallel invocations would queue anyway.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from engagement.domain.timefmt import rfc3339
from engagement.topology import JobSpec
from infra.local.lambdas import LocalFunction

MAX_WORK_STEPS = 100_000
"""A segment that neither finishes nor fails within this many steps is a bug, not a big table."""


class JobRunner:
    def __init__(self, functions: dict[str, LocalFunction], log: Callable[[str], None]) -> None:
        self._functions = functions
        self._log = log

    def run(self, spec: JobSpec, at: datetime) -> dict[str, Any]:
        """Run one execution for the scheduled instant ``at`` (the state machine's input is the
        rule's ``{"time": ...}``); returns the finish step's summary."""
        function = self._functions[spec.function]
        planned = self._step(spec, function, {"step": "plan", "time": rfc3339(at)})
        for segment in planned["segments"]:
            for _ in range(MAX_WORK_STEPS):
                if self._step(spec, function, segment)["done"]:
                    break
            else:
                raise RuntimeError(f"{spec.name}: segment {segment['segment']} never finished")
        result: dict[str, Any] = self._step(
            spec, function, {"step": "finish", "job": planned["job"], "time": planned["time"]}
        )
        return result

    def _step(self, spec: JobSpec, function: LocalFunction, event: dict[str, Any]) -> dict[str, Any]:
        for attempt in range(1, spec.step_attempts + 1):
            try:
                result: dict[str, Any] = function.invoke(event)
                return result
            except Exception as exc:
                if attempt == spec.step_attempts:
                    raise
                self._log(f"{spec.name} {event['step']} failed ({type(exc).__name__}: {exc}); retrying")
        raise AssertionError("unreachable")
