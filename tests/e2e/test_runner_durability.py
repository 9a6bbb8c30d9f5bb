"""What the runner acknowledged, it keeps: kill -9 in the middle of a load, a stop in the middle
of a backlog, and a restart on the same state. Every event that got a 2xx is stored, and every
stored event is scored exactly once: the aggregates equal a recomputation from the event log."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engagement.domain.timefmt import rfc3339

from .conftest import ROOT, Runner, free_port, sealed_environment, start_runner
from .event_log import AGGREGATES, EVENTS, Load, mixed_events, recomputed, scan, stored

pytestmark = pytest.mark.e2e


def assert_every_event_scored_once(runner: Runner, acknowledged: set[str]) -> None:
    runner.control("POST", "settle")
    assert runner.control("GET", "status")["pending_stream_records"] == 0
    events = scan(runner.dynamodb_url, EVENTS)
    assert acknowledged <= {e["event_id"] for e in events}, "an acknowledged event was lost"
    expected = recomputed(events)
    found = stored(scan(runner.dynamodb_url, AGGREGATES))
    assert found.keys() == expected.keys()
    mismatched = {key: (found[key], expected[key]) for key in expected if found[key] != expected[key]}
    assert mismatched == {}, "scored more or less than once"


def wait_until(condition: object, what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"never happened: {what}")
        time.sleep(0.05)


def test_kill_9_under_load_loses_no_acknowledged_event_and_scores_each_once(tmp_path: Path) -> None:
    state = str(tmp_path / "state.json")
    with start_runner(STATE_FILE=state) as runner:
        load = Load(runner.url, mixed_events("kill", 3000, seed=9))
        load.start()

        def scoring_under_way() -> bool:
            streams = runner.control("GET", "status")["streams"][0]
            return bool(load.count() >= 200 and streams["invocations"] >= 2)

        wait_until(scoring_under_way, "a few hundred events acknowledged and batches scored")
        runner.kill()  # while clients are still posting and the scorer works through a backlog
        load.stop()
        acknowledged = set(load.acknowledged)

    with start_runner(STATE_FILE=state) as runner:
        assert runner.logged("journal entries replayed")
        assert_every_event_scored_once(runner, acknowledged)
        assert len(acknowledged) >= 200


@pytest.mark.parametrize("clock", ["wall time", "two days behind"])
def test_a_stop_during_a_backlog_keeps_it_and_scores_it_after_the_restart(tmp_path: Path, clock: str) -> None:
    """Restarted without START_AT, a clock set in the past resumes at wall time: the days it
    jumps were downtime, not age, so the backlog is not older than the mapping's six hours."""
    state = str(tmp_path / "state.json")
    start = datetime.now(UTC) - timedelta(days=2 if clock == "two days behind" else 0)
    behind = {"START_AT": rfc3339(start)} if clock == "two days behind" else {}
    with start_runner(STATE_FILE=state, **behind) as runner:
        runner.control("POST", "faults", {"stream_delay_ms": 1000})  # a slow scorer: a backlog builds
        load = Load(runner.url, mixed_events("term", 400, seed=4, now=start), threads=4, per_request=5)
        load.start()
        load.finish()  # every request answered
        acknowledged = set(load.acknowledged)
        assert len(acknowledged) == 400
        assert runner.control("GET", "status")["pending_stream_records"] > 0
        assert runner.stop(signal.SIGTERM) == 0
        assert runner.logged("stream records not yet scored are kept for the next start")
        assert not runner.logged("lost")

    with start_runner(STATE_FILE=state) as runner:
        assert runner.logged("stored before the stop are scored now")
        assert_every_event_scored_once(runner, acknowledged)
        assert runner.control("GET", "status")["streams"][0]["discarded_records"] == 0


def test_status_answers_while_a_batch_is_scoring() -> None:
    delay_ms = 3000
    with start_runner() as runner:
        runner.control("POST", "faults", {"stream_delay_ms": delay_ms})  # the batch holds the pump
        runner.post_events(*mixed_events("status", 3, seed=1))
        wait_until(
            lambda: runner.control("GET", "status")["streams"][0]["in_flight"] > 0, "a batch in flight"
        )
        for _ in range(5):
            started = time.monotonic()
            status = runner.control("GET", "status")
            took_ms = (time.monotonic() - started) * 1000
            assert status["streams"][0]["in_flight"] == 3  # answered during that very batch
            assert took_ms < delay_ms / 10  # not held behind it
        runner.control("DELETE", "faults")


def test_companion_commands_find_the_runner_that_announced_itself(tmp_path: Path) -> None:
    announced = tmp_path / "runner.json"

    def status_command() -> subprocess.CompletedProcess[str]:
        # Another PORT on purpose: the announcement, not the default port, must lead the way.
        env = sealed_environment(tmp_path, RUNNER_FILE=str(announced), PORT=str(free_port()))
        return subprocess.run(
            [sys.executable, "-m", "infra.local", "status"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    with start_runner(RUNNER_FILE=str(announced)) as runner:
        assert json.loads(announced.read_text())["url"] == runner.url
        found = status_command()
        assert found.returncode == 0, found.stderr
        assert json.loads(found.stdout)["api"] == runner.url
        assert runner.stop() == 0
    assert not announced.exists()
    gone = status_command()
    assert gone.returncode == 1
    assert "no runner at" in gone.stderr
