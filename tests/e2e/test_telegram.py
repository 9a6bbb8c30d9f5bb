"""A Telegram bot's updates through the local runner, over real HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import Runner, start_runner

pytestmark = pytest.mark.e2e
FIXTURES = Path(__file__).parents[1] / "unit" / "fixtures" / "telegram"
SECRET = "e2e_telegram-secret"


@pytest.fixture(scope="module")
def runner() -> Iterator[Runner]:
    with start_runner(TELEGRAM_WEBHOOK_SECRET=SECRET) as started:
        yield started


def deliver(runner: Runner, name: str, *, secret: str | None = SECRET) -> tuple[int, str]:
    """POST an update exactly as Telegram does: JSON, the secret token header, no bearer key."""
    request = urllib.request.Request(
        f"{runner.url}/webhooks/telegram", data=(FIXTURES / f"{name}.json").read_bytes(), method="POST"
    )
    request.add_header("Content-Type", "application/json")
    if secret is not None:
        request.add_header("X-Telegram-Bot-Api-Secret-Token", secret)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def user_of(name: str) -> str:
    return str(json.loads((FIXTURES / f"{name}.json").read_text())["message"]["from"]["id"])


def test_updates_become_scored_engagement_and_top_comes_back_as_a_reply(runner: Runner) -> None:
    user = user_of("private_query")
    assert deliver(runner, "private_query", secret="wrong")[0] == 401
    assert runner.request("GET", f"/v1/users/{user}/engagements")[0] == 404  # nothing recorded

    assert deliver(runner, "private_query") == (200, "")
    assert deliver(runner, "private_query") == (200, "")  # Telegram's redelivery
    listing = runner.wait_for(f"/v1/users/{user}/engagements", lambda b: len(b["engagements"]) == 2)
    assert {(e["item_id"], e["interaction_count"]) for e in listing["engagements"]} == {
        ("AI-1799", 1),
        ("BE-42", 1),
    }

    status, body = deliver(runner, "private_command_top")
    reply: dict[str, Any] = json.loads(body)
    assert status == 200
    assert reply["method"] == "sendMessage"
    assert "AI-1799" in reply["text"]
    assert "BE-42" in reply["text"]
