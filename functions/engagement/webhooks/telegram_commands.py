"""The bot's answers to /top, /score KEY, /stats and /help (or /start), returned in the webhook
response.

The Bot API lets a webhook answer with a method call in its response body, so the bot replies
without making a request of its own (and without holding a bot token at all).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from engagement.domain.ports import AggregateReader
from engagement.domain.queries import engagement, ranked_engagements, user_stats
from engagement.domain.timefmt import from_ms

if TYPE_CHECKING:
    from engagement.webhooks.telegram import Command, IssueKeys

TOP_ITEMS = 5

HELP = (
    "I keep track of the issues you talk about here.\n"
    "/top: your most engaged issues\n"
    "/score KEY: one issue's score, for example /score AI-1799\n"
    "/stats: your totals\n"
    "Mention an issue key (like AI-1799) in a message and it counts."
)


def send_message(chat_id: int, text: str) -> dict[str, Any]:
    return {"method": "sendMessage", "chat_id": chat_id, "text": text}


def answer(command: Command, reader: AggregateReader, at: datetime, keys: IssueKeys) -> dict[str, Any] | None:
    """The sendMessage call for a command this bot answers; None for any other command."""
    if command.name == "top":
        text = _top(command, reader, at)
    elif command.name == "score":
        text = _score(command, reader, at, keys)
    elif command.name == "stats":
        text = _stats(command, reader, at)
    elif command.name in ("help", "start"):
        text = HELP
    else:
        return None
    return send_message(command.chat_id, text)


def _top(command: Command, reader: AggregateReader, at: datetime) -> str:
    ranked = ranked_engagements(reader, command.user_id, at, TOP_ITEMS)
    if not ranked:
        return "No engagement recorded for you yet. Mention an issue key, like AI-1799."
    lines = [
        f"{n}. {s.item_id}: {s.score.score:.2f} ({_times(s.aggregate.interaction_count)})"
        for n, s in enumerate(ranked, start=1)
    ]
    return "Your top issues:\n" + "\n".join(lines)


def _score(command: Command, reader: AggregateReader, at: datetime, keys: IssueKeys) -> str:
    found = keys.find(command.argument)
    if not found:
        return "Usage: /score KEY, for example /score AI-1799"
    key = found[0]
    scored = engagement(reader, command.user_id, key, at)
    if scored is None:
        return f"No engagement with {key} recorded for you yet."
    s = scored.score
    last = from_ms(scored.aggregate.last_ms)
    return (
        f"{key}: score {s.score:.2f}\n"
        f"frequency {s.frequency:.2f} ({_times(scored.aggregate.interaction_count)})\n"
        f"recency {s.recency:.2f} (last {last:%Y-%m-%d %H:%M} UTC, "
        f"{s.days_since_last_interaction:.1f} days ago)\n"
        f"idle factor {s.idle_factor:.2f}"
    )


def _stats(command: Command, reader: AggregateReader, at: datetime) -> str:
    stats = user_stats(reader, command.user_id, at)
    if stats is None:
        return "No engagement recorded for you yet."
    top = ", ".join(s.item_id for s in stats.most_engaged_items) or "none"
    return (
        f"{_times(stats.total_interactions)} across {_count(stats.unique_items, 'issue')} "
        f"({stats.avg_interactions_per_item:.1f} per issue)\n"
        f"Most engaged: {top}\n"
        f"Last: {from_ms(stats.last_interaction_ms):%Y-%m-%d %H:%M} UTC"
    )


def _times(count: int) -> str:
    return _count(count, "interaction")


def _count(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' if count != 1 else ''}"
