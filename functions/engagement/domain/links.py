"""Tracked links: an opaque signed token that redirects and records a click.

The token names a stored link (destination, contact, campaign), so the contact's phone number
never appears in the URL, and its signature lets a forged or mistyped token be refused without
a table read. Link previews (chat apps and social networks fetch a URL to render a card) are
redirected but not counted, and one person clicking twice within the window counts once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

_ID_BYTES = 12
_SIGNATURE_BYTES = 9
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{12}$")

# User agents that fetch a link to build a preview card rather than a person following it.
_PREVIEW_AGENTS = re.compile(
    r"facebookexternalhit|facebot|twitterbot|slackbot|slack-imgproxy|linkedinbot|whatsapp|telegrambot|discordbot"
    r"|skypeuripreview|googlebot|google-pagerenderer|google-inspectiontool|bingbot|applebot|redditbot|pinterest"
    r"|iframely|embedly|vkshare|mastodon|bitlybot|outlook-iOS-android|microsoftpreview"
    r"|yahoo! slurp|duckduckbot",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Link:
    id: str
    url: str
    user_id: str
    campaign: str
    created_at: datetime
    expires_at: datetime


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _signature(key: str, link_id: str) -> str:
    return _b64(hmac.new(key.encode(), link_id.encode(), hashlib.sha256).digest()[:_SIGNATURE_BYTES])


def new_link_id() -> str:
    return _b64(secrets.token_bytes(_ID_BYTES))


def token_for(link_id: str, key: str) -> str:
    return f"{link_id}.{_signature(key, link_id)}"


def link_id_of(token: str, key: str) -> str | None:
    """The link id a genuine token names; None for anything forged, truncated or malformed."""
    if not _TOKEN.match(token):
        return None
    link_id, signature = token.split(".")
    return link_id if hmac.compare_digest(signature, _signature(key, link_id)) else None


def is_preview(user_agent: str | None) -> bool:
    return bool(user_agent) and bool(_PREVIEW_AGENTS.search(user_agent or ""))


def new_link(*, url: str, user_id: str, campaign: str, now: datetime, ttl: timedelta) -> Link:
    return Link(
        id=new_link_id(), url=url, user_id=user_id, campaign=campaign, created_at=now, expires_at=now + ttl
    )
