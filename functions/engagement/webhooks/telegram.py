"""Telegram Bot API webhooks: verify the secret token, read an update, turn it into events.

Telegram POSTs one ``Update`` per request, with the ``secret_token`` given to ``setWebhook``
in ``X-Telegram-Bot-Api-Secret-Token`` (there is no signature over the body), and retries until
it gets a 2xx. So: verify the header before touching the body, derive every event id from
Telegram's own ids, and answer 2xx for anything understood or deliberately ignored.

Mapping (one event per issue key named, per update):

    message / edited_message in a private chat, or starting with a bot command   query
    message / edited_message in a group or supergroup                            mention
    channel_post / edited_channel_post (user_id: the channel's chat id)           mention
    callback_query whose data names an issue key                                  view

An edit reuses the ids of its message (chat id + message id + key), so a key the original
already counted is a duplicate and only keys the edit adds are new. The Bot API has no view
count; a button press (callback query) is the closest signal a bot receives.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from engagement.domain import strict_json
from engagement.domain.event_types import EventType
from engagement.domain.events import EventIn, stable_id
from engagement.domain.timefmt import LATEST
from engagement.webhooks import source
from engagement.webhooks.request import WebhookRequest
from engagement.webhooks.source import Acknowledgement, MalformedCallback, Verdict
from engagement.webhooks.telegram_commands import answer

if TYPE_CHECKING:
    from engagement.domain.ports import AggregateReader
    from engagement.settings import Settings

SECRET_HEADER = "x-telegram-bot-api-secret-token"  # noqa: S105 - a header name, not a secret
DEFAULT_ISSUE_KEY_PATTERN = r"[A-Z]{1,4}-\d{1,5}"
EVENT_SOURCE = "telegram"
LATEST_EPOCH_S = int(LATEST.timestamp())
PRIVATE = "private"


def verify(headers: Mapping[str, str], secret: str | None) -> bool:
    """True only when a secret is configured and the header carries exactly it (constant time)."""
    presented = headers.get(SECRET_HEADER)
    if not secret or presented is None:
        return False
    return hmac.compare_digest(presented.encode(), secret.encode())


class _Lenient(BaseModel):
    # Telegram adds fields over time; only what is read here is validated.
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class User(_Lenient):
    id: int  # up to 52 significant bits: Python ints keep them exact
    is_bot: bool = False
    username: str | None = None


class Chat(_Lenient):
    id: int
    type: str | None = None  # absent in Telegram's old published samples

    def kind(self) -> str:
        """The chat type; old samples omit it, and there a positive id is a private chat."""
        return self.type or (PRIVATE if self.id > 0 else "group")


class Entity(_Lenient):
    type: str
    offset: int  # in UTF-16 code units
    length: int


class Message(_Lenient):
    message_id: int
    sender: User | None = Field(default=None, alias="from")
    sender_chat: Chat | None = None
    chat: Chat
    # Epoch seconds; bounded so a hostile date is a 400 naming the field, not a crash.
    date: int = Field(ge=0, le=LATEST_EPOCH_S)
    edit_date: int | None = Field(default=None, ge=0, le=LATEST_EPOCH_S)
    text: str | None = None
    entities: list[Entity] = Field(default_factory=list)
    caption: str | None = None
    caption_entities: list[Entity] = Field(default_factory=list)

    @property
    def body(self) -> str:
        return self.text or self.caption or ""

    @property
    def body_entities(self) -> list[Entity]:
        return self.entities if self.text else self.caption_entities

    def command(self) -> tuple[str, str] | None:
        """``("score", "AI-1799")`` for ``/score@bot AI-1799``: a bot command that opens the message."""
        opening = next((e for e in self.body_entities if e.type == "bot_command" and e.offset == 0), None)
        if opening is None:
            return None
        word = utf16_slice(self.body, opening.offset, opening.length)
        rest = utf16_slice(self.body, opening.offset + opening.length, None)
        return word.lstrip("/").split("@", 1)[0].lower(), rest.strip()


class CallbackQuery(_Lenient):
    id: str
    sender: User = Field(alias="from")
    message: Message | None = None
    data: str | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _text_id(cls, value: object) -> object:
        return str(value) if isinstance(value, int) else value  # a number in the old samples


class Update(_Lenient):
    update_id: int
    message: Message | None = None
    edited_message: Message | None = None
    channel_post: Message | None = None
    edited_channel_post: Message | None = None
    callback_query: CallbackQuery | None = None

    @property
    def kind(self) -> str | None:
        for name in ("message", "edited_message", "channel_post", "edited_channel_post", "callback_query"):
            if getattr(self, name) is not None:
                return name
        return None


@dataclass(frozen=True)
class Command:
    name: str
    argument: str
    chat_id: int
    user_id: str


@dataclass(frozen=True)
class Translation:
    kind: str | None
    """Which update field carried the content; None for update types this service ignores."""
    events: list[EventIn]
    command: Command | None = None


@cache
def issue_keys(pattern: str) -> IssueKeys:
    """Compiled once per pattern, not per update."""
    return IssueKeys(pattern)


class IssueKeys:
    """Finds issue keys as whole words, in order of appearance, each once."""

    def __init__(self, pattern: str = DEFAULT_ISSUE_KEY_PATTERN) -> None:
        self.pattern = pattern
        # Not preceded or followed by a word character or a hyphen: "XAI-1799" and "AI-17990"
        # are not "AI-1799".
        # ASCII: "AI-١٢" (Arabic-Indic digits) is not the issue AI-12, and ids are ASCII.
        self._regex = re.compile(rf"(?<![\w-])(?:{pattern})(?![\w-])", re.ASCII)

    def find(self, *texts: str | None) -> list[str]:
        found: dict[str, None] = {}
        for text in texts:
            for match in self._regex.finditer(text or ""):
                found.setdefault(match.group(0))
        return list(found)


def translate(update: Update, *, bot_id: str, keys: IssueKeys, received_at: datetime) -> Translation:
    kind = update.kind
    if kind == "callback_query":
        assert update.callback_query is not None
        return _callback(update.callback_query, bot_id=bot_id, keys=keys, received_at=received_at)
    message: Message | None = getattr(update, kind) if kind else None
    if message is None:
        return Translation(kind=None, events=[])
    channel = kind in ("channel_post", "edited_channel_post")
    user = str(_author(message))
    opening_command = message.command()
    private = message.chat.kind() == PRIVATE
    event_type = EventType.QUERY if (private or opening_command) and not channel else EventType.MENTION
    # Nothing happened after it was received: a date ahead of our clock is Telegram's clock skew.
    occurred_at = min(datetime.fromtimestamp(message.edit_date or message.date, UTC), received_at)
    events = [
        EventIn(
            event_id=stable_id("tg", bot_id, message.chat.id, message.message_id, key),
            user_id=user,
            item_id=key,
            type=event_type,
            occurred_at=occurred_at,
            context=message.body or None,
            source=EVENT_SOURCE,
            metadata=_metadata(update, message),
        )
        for key in keys.find(message.body)
    ]
    command = None
    if opening_command and kind == "message":  # an edit never re-runs a command
        command = Command(opening_command[0], opening_command[1], message.chat.id, user)
    return Translation(kind=kind, events=events, command=command)


def _author(message: Message) -> int:
    """Who engaged: a chat posting as itself (a channel, an anonymous group admin) is the chat;
    otherwise the user who sent the message."""
    if message.sender_chat is not None:
        return message.sender_chat.id
    return message.sender.id if message.sender is not None else message.chat.id


def _callback(query: CallbackQuery, *, bot_id: str, keys: IssueKeys, received_at: datetime) -> Translation:
    events = [
        EventIn(
            event_id=stable_id("tg", bot_id, "callback", query.id, key),
            user_id=str(query.sender.id),
            item_id=key,
            type=EventType.VIEW,
            occurred_at=received_at,  # a callback query carries no time of its own
            context=query.data,
            source=EVENT_SOURCE,
        )
        for key in keys.find(query.data)
    ]
    return Translation(kind="callback_query", events=events)


def _metadata(update: Update, message: Message) -> dict[str, Any]:
    return {
        "update_id": update.update_id,
        "chat_id": message.chat.id,
        "chat_type": message.chat.kind(),
        "message_id": message.message_id,
    }


def utf16_slice(text: str, offset: int, length: int | None) -> str:
    """Telegram counts entity offsets in UTF-16 code units, so emoji count twice."""
    encoded = text.encode("utf-16-le")
    end = None if length is None else 2 * (offset + length)
    return encoded[2 * offset : end].decode("utf-16-le")


class TelegramSource:
    """Telegram as a webhook source (``webhooks.source.WebhookSource``)."""

    name = "telegram"
    summary = "Receive a Telegram bot update"
    description = (
        "Authenticated by the `X-Telegram-Bot-Api-Secret-Token` header (the `secret_token` given to "
        "`setWebhook`), checked before the body is read. Messages, edits, channel posts and button "
        "presses become `query`, `mention` and `view` events for the issue keys they name; `/top`, "
        "`/score KEY`, `/stats` and `/help` are answered with a `sendMessage` call in the response "
        "body. Other update types are acknowledged and ignored."
    )
    credential = "X-Telegram-Bot-Api-Secret-Token"
    acknowledgement_types = ("text/plain", "application/json")  # empty, or a bot reply

    def verify(self, request: WebhookRequest, secret: str, now: datetime) -> Verdict:
        if request.header(SECRET_HEADER) is None:
            return Verdict.MISSING
        return Verdict.OK if verify(request.headers, secret) else Verdict.INVALID

    def translate(self, request: WebhookRequest, now: datetime, settings: Settings) -> source.Translation:
        try:
            document = strict_json.parse(request.body)
        except strict_json.JsonRefused as exc:
            raise MalformedCallback(
                f"the body is not JSON this service reads: {exc.reason}", code="invalid_json"
            ) from exc
        try:
            update = Update.model_validate(document)
        except ValidationError as exc:
            # Only where the problem is: pydantic's own message quotes the input (message text).
            where = sorted({".".join(map(str, e["loc"])) for e in exc.errors()})
            raise MalformedCallback(
                f"the body is not a Telegram Update object ({', '.join(where[:5]) or 'body'})",
                code="invalid_update",
            ) from exc
        keys = issue_keys(settings.telegram_issue_key_pattern)
        found = translate(update, bot_id=settings.telegram_bot_id, keys=keys, received_at=now)
        return source.Translation(
            events=found.events,
            log={
                "update_id": update.update_id,
                "kind": found.kind or "ignored",
                "command": found.command.name if found.command else None,
            },
            command=found.command,
        )

    def acknowledge(
        self, translation: source.Translation, reader: AggregateReader, now: datetime, settings: Settings
    ) -> Acknowledgement:
        command = translation.command
        reply = None
        if isinstance(command, Command):
            reply = answer(command, reader, now, issue_keys(settings.telegram_issue_key_pattern))
        if reply is None:
            return Acknowledgement("text/plain", "")
        return Acknowledgement("application/json", json.dumps(reply, ensure_ascii=False))


SOURCE = TelegramSource()
