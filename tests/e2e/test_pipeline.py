"""The whole pipeline over real HTTP: the runner in a subprocess, a real moto server under it."""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime, timedelta

import pytest

from .conftest import KEY, Runner

pytestmark = pytest.mark.e2e


def test_the_ready_line_names_the_api_the_store_and_the_key(runner: Runner) -> None:
    assert runner.url.startswith("http://127.0.0.1:")
    assert "DynamoDB http://127.0.0.1:" in runner.ready_line
    assert f"API key {KEY}" in runner.ready_line


def test_events_posted_over_http_are_scored_once(runner: Runner) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    events = [
        {
            "user_id": "4242",
            "item_id": "AI-1799",
            "type": "query",
            "occurred_at": (now - timedelta(hours=2)).isoformat(),
        },
        {
            "user_id": "4242",
            "item_id": "AI-1799",
            "type": "mention",
            "occurred_at": (now - timedelta(hours=1)).isoformat(),
        },
        {"user_id": "4242", "item_id": "AI-7", "type": "view", "occurred_at": now.isoformat()},
    ]
    status, body = runner.request("POST", "/v1/events", {"events": events})
    assert (status, body["accepted"]) == (202, 3)

    listing = runner.wait_for("/v1/users/4242/engagements", lambda b: len(b["engagements"]) == 2)
    counts = {e["item_id"]: e["interaction_count"] for e in listing["engagements"]}
    assert counts == {"AI-1799": 2, "AI-7": 1}

    # Redelivery: the provider resends the same request; nothing new is stored or counted.
    status, again = runner.request("POST", "/v1/events", {"events": events})
    assert (status, again["duplicates"]) == (202, 3)
    time.sleep(1.5)  # longer than the mapping's batching window
    detail = runner.wait_for("/v1/users/4242/engagements/AI-1799", lambda b: True)
    assert detail["interaction_count"] == 2
    assert detail["counts"] == {"mention": 1, "query": 1}

    stats = runner.wait_for("/v1/users/4242/stats", lambda b: b["total_interactions"] == 3)
    assert stats["unique_items"] == 2


def test_refusals_over_http(runner: Runner) -> None:
    assert runner.request("GET", "/v1/users/4242/stats", key=None)[0] == 401
    status, body = runner.request("POST", "/v1/events", {"events": [{"user_id": "x"}]})
    assert status == 422
    assert body["details"][0]["field"].startswith("events[0].")


def test_ctrl_c_stops_the_runner_cleanly(runner: Runner) -> None:
    runner.process.send_signal(signal.SIGINT)
    assert runner.process.wait(timeout=10) == 0
    assert runner.logged("stopping")
