from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engagement.domain.clicks import click_event
from engagement.domain.links import is_preview, link_id_of, new_link, token_for

KEY = "link-signing-key"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def test_a_token_names_its_link_only_with_the_right_key() -> None:
    link = new_link(
        url="https://shop.example/p/1",
        user_id="+15550001111",
        campaign="spring",
        now=NOW,
        ttl=timedelta(days=90),
    )
    token = token_for(link.id, KEY)
    assert link_id_of(token, KEY) == link.id
    assert link_id_of(token, "another-key") is None
    assert "+1555" not in token  # opaque: no contact data in the URL


@pytest.mark.parametrize(
    "forged", ["", "abc", "x" * 16 + "." + "y" * 12, "../../etc", "A" * 16 + ".", "A" * 40]
)
def test_forged_or_malformed_tokens_name_nothing(forged: str) -> None:
    assert link_id_of(forged, KEY) is None


def test_a_tampered_token_is_refused() -> None:
    token = token_for("AAAAAAAAAAAAAAAA", KEY)
    tampered = ("B" + token[1:]) if token[0] != "B" else ("C" + token[1:])
    assert link_id_of(tampered, KEY) is None


@pytest.mark.parametrize(
    "agent",
    [
        "facebookexternalhit/1.1",
        "Slackbot-LinkExpanding 1.0",
        "WhatsApp/2.23.20.0",
        "TelegramBot (like TwitterBot)",
        "Mozilla/5.0 (compatible; Googlebot/2.1)",
        "Mozilla/5.0 ... Google-PageRenderer Google (+https://developers.google.com)",
        "Twitterbot/1.0",
        "Discordbot/2.0",
    ],
)
def test_link_previews_are_recognized(agent: str) -> None:
    assert is_preview(agent)


@pytest.mark.parametrize(
    "agent", [None, "", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"]
)
def test_people_are_not_previews(agent: str | None) -> None:
    assert not is_preview(agent)


def test_clicks_within_the_window_share_one_event_id() -> None:
    link = new_link(url="https://x.example", user_id="u", campaign="c", now=NOW, ttl=timedelta(days=1))
    window = timedelta(minutes=30)
    first = click_event(link, NOW.replace(minute=1), window)
    assert click_event(link, NOW.replace(minute=29), window).event_id == first.event_id
    assert click_event(link, NOW.replace(minute=31), window).event_id != first.event_id
    assert (first.type.value, first.user_id, first.item_id) == ("clicked", "u", "c")
