"""Housekeeping that keeps a long-running runner's memory and start-up time bounded.

* Bus taps are drained every second into a bounded history. moto's SQS computes every queue
  attribute, counting all messages, on each SendMessage, so an undrained tap made every band-change
  publish cost as much as the events published before it (about half the scorer's time after a
  few thousand SMS events) and kept every one in memory.
* The journal is folded into a snapshot once its segment grows large (``DurableDynamoDB``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

BUS_HISTORY = 10_000
"""Band-change events kept per bus for ``/_local/buses/<key>`` (the newest)."""
EVERY_S = 1.0


class Upkeep:
    def __init__(self, tasks: list[Callable[[], None]], log: Callable[[str], None]) -> None:
        self._tasks = tasks
        self._log = log
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="upkeep", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(EVERY_S):
            for task in self._tasks:
                try:
                    task()
                except Exception as exc:
                    self._log(f"upkeep: {exc!r}")


def bus_drainer(
    keys: list[str], published: Callable[[str], list[dict[str, Any]]], limit: int = BUS_HISTORY
) -> Callable[[], None]:
    """A task moving what each bus carried from its tap into the runner's history, keeping the
    newest ``limit`` events of each."""

    def drain() -> None:
        for key in keys:
            seen = published(key)
            if len(seen) > limit:
                del seen[: len(seen) - limit]

    return drain
