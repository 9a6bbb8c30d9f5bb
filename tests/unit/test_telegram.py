"""The Telegram adapter against Telegram's published sample updates and realistic current ones."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from engagement.webhooks import telegram
from engagement.webhooks.telegram import IssueKeys, Update, translate, utf16_slice, verify

FIXTURES = Path(__file__).parent / "fixtures" / "telegram"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
KEYS = IssueKeys()


def load(name: str) -> dict[str, Any]:
    return dict(json.loads((FIXTURES / f"{name}.json").read_text()))


def translated(name: str) -> telegram.Translation:
    return translate(Update.model_validate(load(name)), bot_id="bot-1", keys=KEYS, received_at=NOW)


def summary(name: str) -> list[tuple[str, str, str]]:
    return [(e.type.value, e.user_id, e.item_id) for e in translated(name).events]


# ------------------------------------------------------------------ authentication


@pytest.mark.parametrize(
    ("headers", "secret", "ok"),
    [
        ({"x-telegram-bot-api-secret-token": "s3cret_-token"}, "s3cret_-token", True),
        ({"x-telegram-bot-api-secret-token": "wrong"}, "s3cret_-token", False),
        ({"x-telegram-bot-api-secret-token": "s3cret_-token "}, "s3cret_-token", False),
        ({}, "s3cret_-token", False),
        ({"x-telegram-bot-api-secret-token": ""}, "", False),  # unconfigured refuses everything
        ({"x-telegram-bot-api-secret-token": "anything"}, None, False),
    ],
)
def test_only_the_configured_secret_token_is_accepted(
    headers: dict[str, str], secret: str | None, ok: bool
) -> None:
    assert verify(headers, secret) is ok


# ------------------------------------------------------------------ parsing and mapping


@pytest.mark.parametrize("name", sorted(p.stem for p in FIXTURES.glob("*.json")))
def test_every_fixture_parses_tolerantly(name: str) -> None:
    result = translated(name)
    assert result.kind in (
        None,
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "callback_query",
    )


def test_a_private_message_is_a_query_per_key_in_order_with_64_bit_ids() -> None:
    assert summary("private_query") == [("query", "7012345678", "AI-1799"), ("query", "7012345678", "BE-42")]
    event = translated("private_query").events[0]
    assert event.occurred_at == datetime.fromtimestamp(load("private_query")["message"]["date"], UTC)
    assert event.source == "telegram"
    assert event.context == load("private_query")["message"]["text"][:200]


def test_a_group_message_is_a_mention_and_a_repeated_key_counts_once() -> None:
    assert summary("group_mention") == [
        ("mention", "6123456789", "AI-1799"),
        ("mention", "6123456789", "AI-1800"),
    ]


def test_an_edit_reuses_the_ids_of_keys_already_counted_and_adds_new_ones() -> None:
    original = {e.item_id: e.event_id for e in translated("group_mention").events}
    edited = {e.item_id: e.event_id for e in translated("group_edited").events}
    assert set(edited) == {"AI-1799", "AI-1800", "OPS-7"}
    assert edited["AI-1799"] == original["AI-1799"]
    assert edited["AI-1800"] == original["AI-1800"]
    assert edited["OPS-7"] not in original.values()


def test_channel_posts_are_mentions_by_the_channel() -> None:
    chat_id = str(load("channel_post")["channel_post"]["chat"]["id"])
    assert summary("channel_post") == [("mention", chat_id, "OPS-12")]
    assert (
        translated("edited_channel_post").events[0].event_id == translated("channel_post").events[0].event_id
    )


def test_keys_in_a_caption_count() -> None:
    assert [item for _, _, item in summary("photo_caption")] == ["AI-2001"]


def test_a_button_press_naming_a_key_is_a_view() -> None:
    user = str(load("callback_view")["callback_query"]["from"]["id"])
    assert summary("callback_view") == [("view", user, "AI-1799")]
    assert translated("callback_view").events[0].occurred_at == NOW
    assert translated("callback_no_key").events == []


def test_event_ids_are_stable_per_update_and_bot() -> None:
    first = [e.event_id for e in translated("private_query").events]
    assert first == [e.event_id for e in translated("private_query").events]
    other_bot = translate(
        Update.model_validate(load("private_query")), bot_id="bot-2", keys=KEYS, received_at=NOW
    )
    assert not set(first) & {e.event_id for e in other_bot.events}


@pytest.mark.parametrize("name", ["my_chat_member", "message_reaction", "official_inline_query"])
def test_other_update_types_are_ignored(name: str) -> None:
    result = translated(name)
    assert (result.kind, result.events, result.command) == (None, [], None)


def test_the_old_official_samples_are_understood() -> None:
    assert translated("official_text").kind == "message"  # chat without "type": a private chat
    assert translated("official_document").events == []  # no text at all
    assert translated("official_callback_query").events == []  # data names no key


# ------------------------------------------------------------------ commands


@pytest.mark.parametrize(
    ("name", "command", "argument"),
    [
        ("private_command_top", "top", ""),
        ("private_command_score", "score", "AI-1799"),
        ("private_command_stats", "stats", ""),
    ],
)
def test_commands_are_recognized_with_or_without_the_bot_username(
    name: str, command: str, argument: str
) -> None:
    found = translated(name).command
    assert found is not None
    assert (found.name, found.argument) == (command, argument)
    assert found.user_id == str(load(name)["message"]["from"]["id"])


def test_a_command_naming_a_key_is_also_a_query_for_it() -> None:
    assert summary("private_command_score") == [
        ("query", str(load("private_command_score")["message"]["from"]["id"]), "AI-1799")
    ]


def test_an_edited_command_is_not_answered_again() -> None:
    edited = {
        "update_id": 1,
        "edited_message": {**load("private_command_top")["message"], "edit_date": 1795000999},
    }
    assert translate(Update.model_validate(edited), bot_id="b", keys=KEYS, received_at=NOW).command is None


def test_entity_offsets_count_utf16_code_units() -> None:
    message = load("emoji_text")["message"]
    bold = next(e for e in message["entities"] if e["type"] == "bold")
    assert utf16_slice(message["text"], bold["offset"], bold["length"]) == "AI-77"
    assert [item for _, _, item in summary("emoji_text")] == ["AI-77"]


# ------------------------------------------------------------------ issue keys


@pytest.mark.parametrize(
    ("text", "keys"),
    [
        ("AI-1799 and BE-42, then AI-1799 again", ["AI-1799", "BE-42"]),
        ("(AI-1799).", ["AI-1799"]),
        ("1AI-1799 AI-179900 ai-1799 AI-1799-2 AI1799 _AI-1799", []),
        ("ABCDE-1 ABCD-123456", []),
        ("see OPS-7\nand XAI-12345", ["OPS-7", "XAI-12345"]),
    ],
)
def test_issue_keys_are_whole_words_in_order_each_once(text: str, keys: list[str]) -> None:
    assert IssueKeys().find(text) == keys


def test_the_key_pattern_is_configurable() -> None:
    assert IssueKeys(r"#\d+").find("fixes #12 and #7, not x#9") == ["#12", "#7"]
    assert IssueKeys(r"PROJ_\d+").find("PROJ_12 and PROJ_7") == ["PROJ_12", "PROJ_7"]


def test_an_anonymous_group_admin_counts_as_the_group_not_as_telegrams_placeholder_user() -> None:
    message = load("group_mention")["message"]
    anonymous = {
        **message,
        "from": {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"},
        "sender_chat": message["chat"],
    }
    result = translate(
        Update.model_validate({"update_id": 5, "message": anonymous}), bot_id="b", keys=KEYS, received_at=NOW
    )
    assert {e.user_id for e in result.events} == {str(message["chat"]["id"])}
