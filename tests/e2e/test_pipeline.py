"""The whole pipeline over real HTTP: the runner in a subprocess, a real moto server under it."""

from __future__ import annotations

import signal
from datetime import UTC, datetime, timedelta

import pytest

from .conftest import KEY, Runner, start_runner

pytestmark = pytest.mark.e2e


def test_the_ready_line_names_the_api_the_store_and_the_key(runner: Runner) -> None:
    assert runner.url.startswith("http://127.0.0.1:")
    assert "DynamoDB http://127.0.0.1:" in runner.ready_line
    assert "API key from ENGAGEMENT_API_KEYS" in runner.ready_line  # a chosen key is never printed
    assert KEY not in runner.ready_line


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


def test_a_chunked_request_body_arrives_whole(runner: Runner) -> None:
    import http.client
    import json as jsonlib

    body = jsonlib.dumps(
        {
            "events": [
                {
                    "user_id": "chunky",
                    "item_id": "AI-1",
                    "type": "query",
                    "occurred_at": datetime.now(UTC).isoformat(),
                }
            ]
        }
    ).encode()
    host, port = runner.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.putrequest("POST", "/v1/events")
    for name, value in (
        ("Content-Type", "application/json"),
        ("Authorization", f"Bearer {KEY}"),
        ("Transfer-Encoding", "chunked"),
    ):
        connection.putheader(name, value)
    connection.endheaders()
    for piece in (body[:10], body[10:]):
        connection.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
    connection.send(b"0\r\n\r\n")
    response = connection.getresponse()
    assert (response.status, jsonlib.loads(response.read())["accepted"]) == (202, 1)


def test_ctrl_c_stops_the_runner_cleanly() -> None:
    with start_runner() as own:
        own.process.send_signal(signal.SIGINT)
        assert own.process.wait(timeout=10) == 0
        assert own.logged("stopping")
