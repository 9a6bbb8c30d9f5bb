"""The whole pipeline over real HTTP: the runner in a subprocess, a real moto server under it."""

from __future__ import annotations

import json
import signal
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from .conftest import KEY, Runner

pytestmark = pytest.mark.e2e


def request(
    runner: Runner, method: str, path: str, body: Any = None, *, key: str | None = KEY
) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"{runner.url}{path}", data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if key is not None:
        req.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def wait_for(runner: Runner, path: str, done: Any, timeout_s: float = 15) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        status, body = request(runner, "GET", path)
        if status == 200 and done(body):
            return body
        if time.monotonic() > deadline:
            pytest.fail(f"{path} never reached the expected state; last answer {status} {body}")
        time.sleep(0.2)


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
    status, body = request(runner, "POST", "/v1/events", {"events": events})
    assert (status, body["accepted"]) == (202, 3)

    listing = wait_for(runner, "/v1/users/4242/engagements", lambda b: len(b["engagements"]) == 2)
    counts = {e["item_id"]: e["interaction_count"] for e in listing["engagements"]}
    assert counts == {"AI-1799": 2, "AI-7": 1}

    # Redelivery: the provider resends the same request; nothing new is stored or counted.
    status, again = request(runner, "POST", "/v1/events", {"events": events})
    assert (status, again["duplicates"]) == (202, 3)
    time.sleep(1.5)  # longer than the mapping's batching window
    detail = wait_for(runner, "/v1/users/4242/engagements/AI-1799", lambda b: True)
    assert detail["interaction_count"] == 2
    assert detail["counts"] == {"mention": 1, "query": 1}

    stats = wait_for(runner, "/v1/users/4242/stats", lambda b: b["total_interactions"] == 3)
    assert stats["unique_items"] == 2


def test_refusals_over_http(runner: Runner) -> None:
    assert request(runner, "GET", "/v1/users/4242/stats", key=None)[0] == 401
    status, body = request(runner, "POST", "/v1/events", {"events": [{"user_id": "x"}]})
    assert status == 422
    assert body["details"][0]["field"].startswith("events[0].")


def test_ctrl_c_stops_the_runner_cleanly(runner: Runner) -> None:
    runner.process.send_signal(signal.SIGINT)
    assert runner.process.wait(timeout=10) == 0
