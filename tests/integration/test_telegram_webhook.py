"""POST /webhooks/telegram through the gateway, the real handler and a real DynamoDB API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from engagement.domain.clock import ManualClock
from infra.local.lambdas import load_functions

from .api import Answer, call
from .helpers import stream_event, stream_records

FIXTURES = Path(__file__).parents[1] / "unit" / "fixtures" / "telegram"
SECRET = "tg_secret-Token_1"


@pytest.fixture(autouse=True)
def telegram_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", SECRET)


def update(name: str) -> dict[str, Any]:
    return dict(json.loads((FIXTURES / f"{name}.json").read_text()))


def post(body: Any, *, secret: str | None = SECRET, **kwargs: Any) -> Answer:
    headers = {} if secret is None else {"X-Telegram-Bot-Api-Secret-Token": secret}
    return call("POST", "/webhooks/telegram", body, key=None, headers=headers, **kwargs)


def stored(tables: dict[str, str]) -> list[dict[str, Any]]:
    return boto3.client("dynamodb").scan(TableName=tables["events"])["Items"]


def score_stream(tables: dict[str, str]) -> None:
    result = load_functions()["scorer"].invoke(stream_event(stream_records(tables["events"])))
    assert result == {"batchItemFailures": []}


def test_a_message_with_two_keys_stores_two_query_events(tables: dict[str, str], clock: ManualClock) -> None:
    answer = post(update("private_query"))
    assert (answer.status, answer.body) == (200, "")
    items = stored(tables)
    assert sorted((i["item_id"]["S"], i["type"]["S"], i["user_id"]["S"]) for i in items) == [
        ("AI-1799", "query", "7012345678"),
        ("BE-42", "query", "7012345678"),
    ]
    assert {i["source"]["S"] for i in items} == {"telegram"}


def test_a_redelivered_update_stores_nothing_new(tables: dict[str, str], clock: ManualClock) -> None:
    assert post(update("group_mention")).status == 200
    assert post(update("group_mention")).status == 200
    assert len(stored(tables)) == 2
    assert post(update("group_edited")).status == 200  # adds OPS-7 only
    assert sorted(i["item_id"]["S"] for i in stored(tables)) == ["AI-1799", "AI-1800", "OPS-7"]


@pytest.mark.parametrize("secret", [None, "wrong", ""])
def test_a_missing_or_wrong_secret_is_refused_before_the_body_is_read(
    tables: dict[str, str], secret: str | None
) -> None:
    answer = post(update("private_query"), secret=secret)
    assert (answer.status, answer.body["error"]) == (401, "unauthorized")
    assert stored(tables) == []
    assert post(b"not even json", secret=secret, raw=b"{").status == 401  # never parsed


def test_without_a_configured_secret_every_update_is_refused(
    tables: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TELEGRAM_WEBHOOK_SECRET")
    assert post(update("private_query"), secret="").status == 401
    assert post(update("private_query")).status == 401
    assert stored(tables) == []


def test_malformed_bodies_are_clear_4xx_and_store_nothing(tables: dict[str, str]) -> None:
    assert (post(None, raw=b'{"update_id": ').status, stored(tables)) == (400, [])
    answer = post({"hello": "world"})
    assert (answer.status, answer.body["error"]) == (400, "invalid_update")
    assert post(None, raw=b"update_id=1", content_type="application/x-www-form-urlencoded").status == 415
    assert post(None, raw=b'{"x": "' + b"y" * (1024 * 1024) + b'"}').status == 413
    assert stored(tables) == []


@pytest.mark.parametrize(
    "name", ["my_chat_member", "official_inline_query", "callback_no_key", "official_document"]
)
def test_updates_without_usable_content_are_acknowledged_and_store_nothing(
    tables: dict[str, str], name: str
) -> None:
    assert (post(update(name)).status, stored(tables)) == (200, [])


def test_top_is_answered_in_the_response_with_the_senders_scores(
    tables: dict[str, str], clock: ManualClock
) -> None:
    post(update("private_query"))
    score_stream(tables)
    answer = post(update("private_command_top"))
    assert answer.status == 200
    reply = answer.body
    chat = update("private_command_top")["message"]["chat"]["id"]
    assert (reply["method"], reply["chat_id"]) == ("sendMessage", chat)
    assert "1. AI-1799" in reply["text"]
    assert "2. BE-42" in reply["text"]


def test_score_and_stats_are_answered(tables: dict[str, str], clock: ManualClock) -> None:
    post(update("private_query"))
    score_stream(tables)
    score = post(update("private_command_score")).body
    assert score["text"].startswith("AI-1799: score ")
    assert "frequency" in score["text"]
    stats = post(update("private_command_stats")).body
    assert "across 2 issues" in stats["text"]


def command(text: str, update_id: int) -> dict[str, Any]:
    """The stats fixture's private chat, with another command typed."""
    body = update("private_command_stats")
    body["update_id"] = update_id
    body["message"]["text"] = text
    body["message"]["entities"][0]["length"] = len(text)
    return body


def test_help_and_start_say_what_the_bot_answers(tables: dict[str, str], clock: ManualClock) -> None:
    for n, text in enumerate(("/help", "/start")):
        reply = post(command(text, 900000100 + n)).body
        assert reply["method"] == "sendMessage"
        assert all(c in reply["text"] for c in ("/top", "/score KEY", "/stats")), reply["text"]
    assert stored(tables) == []


def test_stats_counts_one_issue_in_the_singular(tables: dict[str, str], clock: ManualClock) -> None:
    one_key = command("what about AI-1799?", 900000200)
    del one_key["message"]["entities"]
    post(one_key)
    score_stream(tables)
    text = post(command("/stats", 900000201)).body["text"]
    assert text.startswith("1 interaction across 1 issue (1.0 per issue)"), text


def test_a_store_outage_is_a_503_so_telegram_retries(
    tables: dict[str, str], clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:9")
    from engagement import deps

    deps.reset()
    assert post(update("private_query")).status == 503
