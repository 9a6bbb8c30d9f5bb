"""What the runner keeps: recorded requests that replay exactly, and data across restarts."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.sealed import child_environment

from .conftest import ROOT, start_runner

pytestmark = pytest.mark.e2e


def event(user: str, item: str = "AI-1") -> dict[str, Any]:
    return {"user_id": user, "item_id": item, "type": "query", "occurred_at": datetime.now(UTC).isoformat()}


def replay(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "infra.local", "replay", *args],
        cwd=ROOT,
        env=child_environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_recorded_requests_replay_byte_for_byte(tmp_path: Path) -> None:
    recording = tmp_path / "requests.jsonl"
    with start_runner(RECORD_TO=str(recording)) as runner:
        first = runner.post_events(event("rec-1"), event("rec-2"))
        runner.request("GET", "/v1/users/rec-1/stats")
        runner.control("GET", "status")  # control calls are not recorded
        lines = [json.loads(line) for line in recording.read_text().splitlines()]
        assert [(r["method"], r["path"]) for r in lines] == [
            ("POST", "/v1/events"),
            ("GET", "/v1/users/rec-1/stats"),
        ]

        result = replay(str(recording), "--to", runner.url)
        assert result.returncode == 0, result.stderr
        assert "POST /v1/events -> 202" in result.stdout
        # The same bytes again: the same derived ids, so both events are duplicates.
        runner.control("POST", "settle")
        assert runner.request("GET", "/v1/users/rec-1/engagements/AI-1")[1]["interaction_count"] == 1
        assert first["accepted"] == 2

        refused = replay(str(recording), "--to", runner.url, "--api-key", "not-the-key")
        assert "-> 401" in refused.stdout


def test_data_survives_a_restart_and_fresh_starts_clean(tmp_path: Path) -> None:
    state = str(tmp_path / "state.json")
    with start_runner(STATE_FILE=state) as runner:
        assert runner.logged("state: starting clean")
        runner.post_events(event("keep-1"), event("keep-1", "AI-2"))
        runner.control("POST", "settle")
        assert runner.stop() == 0
        assert runner.logged("state: saved")

    with start_runner(STATE_FILE=state) as runner:
        assert runner.logged("state: restored")
        runner.control("POST", "settle")
        status, body = runner.request("GET", "/v1/users/keep-1/stats")
        assert status == 200
        assert (body["total_interactions"], body["unique_items"]) == (2, 2)  # restored, not re-scored
        again = runner.post_events(event("keep-1"))
        assert again["accepted"] == 1

    with start_runner(STATE_FILE=state, FRESH="1") as runner:
        assert runner.logged("state: starting clean (FRESH=1)")
        assert runner.request("GET", "/v1/users/keep-1/stats")[0] == 404
