"""RFC 3339 rendering and epoch-millisecond conversion, in one place so every output agrees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def to_ms(instant: datetime) -> int:
    """Whole milliseconds since the epoch (floor), exact for any aware datetime."""
    return (instant - EPOCH) // _MS


def from_ms(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)


def rfc3339(instant: datetime) -> str:
    """UTC with a ``Z`` suffix; fractional seconds only when present."""
    text = instant.astimezone(UTC).isoformat()
    return text.removesuffix("+00:00") + "Z"


def parse_rfc3339(text: str) -> datetime:
    """Parse an RFC 3339 instant; the offset is required because a local time is ambiguous.

    A ``+`` in a query string arrives as a space when the caller forgot to encode it, so a
    space before the offset is read as ``+``.
    """
    candidate = text.strip()
    head, tail = candidate[:19], candidate[19:]
    if " " in tail:
        candidate = head + tail.replace(" ", "+", 1)
    parsed = datetime.fromisoformat(candidate.replace("z", "Z"))
    if parsed.tzinfo is None:
        raise ValueError("timestamp must include a UTC offset (for example 2026-01-01T00:00:00Z)")
    return parsed.astimezone(UTC)
