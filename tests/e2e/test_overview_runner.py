"""The overview against the runner: its failure store is the queue the query function reads,
and the runs it shows are the ones the clock started."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from .conftest import Runner, start_runner

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def runner() -> Iterator[Runner]:
    with start_runner() as started:
        yield started


def event(user: str) -> dict[str, Any]:
    return {"user_id": user, "item_id": "AI-1", "type": "query", "occurred_at": datetime.now(UTC).isoformat()}


def overview(runner: Runner) -> Any:
    status, body = runner.request("GET", "/v1/overview")
    assert status == 200, body
    return body


def test_a_batch_given_up_shows_as_a_failure_waiting(runner: Runner) -> None:
    assert overview(runner)["failures"]["waiting"] == 0
    runner.control("POST", "faults", {"fail_records": {"user_id": "poison-1"}})
    try:
        runner.post_events(event("healthy-1"), event("poison-1"))
        runner.control("POST", "settle")
    finally:
        runner.control("DELETE", "faults")
    stored = len(runner.control("GET", "failures")["failures"])
    assert stored == 1
    assert overview(runner)["failures"]["waiting"] == stored


def test_the_runs_the_clock_starts_are_the_latest_runs(runner: Runner) -> None:
    runner.post_events(event("u-runs"))
    advanced = runner.control("POST", "clock", {"advance": "1d"})
    [decay] = [run for run in advanced["runs"] if run["schedule"] == "decay"]
    shown = {run["job"]: run for run in overview(runner)["runs"]}
    assert shown["decay"]["scheduled_for"] == decay["at"]
    assert shown["decay"]["complete"] is True
    assert shown["decay"]["examined"] >= 1
