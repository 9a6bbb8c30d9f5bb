"""RFC 3339 rendering and epoch-millisecond conversion, in one place so every output agrees."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2999, 12, 31, 23, 59, 59, tzinfo=UTC)
"""Instants this service accepts lie in [EPOCH, LATEST]: epoch milliseconds stay non-negative,
and evaluating a score some days past any accepted instant cannot leave datetime's range."""
RANGE_RULE = "must be between 1970-01-01T00:00:00Z and 2999-12-31T23:59:59Z"
_MS = timedelta(milliseconds=1)
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})", re.ASCII
)


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
    """Parse an RFC 3339 instant within [EPOCH, LATEST]; raises ``ValueError`` naming the rule.

    The offset is required because a local time is ambiguous. A ``+`` in a query string arrives
    as a space when the caller forgot to encode it, so a space before the offset is read as
    ``+``. Offsets can push a valid-looking text outside datetime's range
    (``0001-01-01T00:00:00+14:00``): that is the range rule, not a crash.
    """
    candidate = text.strip()
    head, tail = candidate[:19], candidate[19:]
    if " " in tail:
        candidate = head + tail.replace(" ", "+", 1)
    if not _RFC3339.fullmatch(candidate):
        raise ValueError("must be an RFC 3339 timestamp with an offset (for example 2026-01-01T00:00:00Z)")
    try:
        # fromisoformat keeps microseconds: drop any finer digits RFC 3339 allows.
        whole, dot, rest = candidate.partition(".")
        if dot:
            digits = rest[: len(rest) - len(rest.lstrip("0123456789"))]
            candidate = f"{whole}.{digits[:6]}{rest[len(digits) :]}"
        parsed = datetime.fromisoformat(candidate.replace("z", "Z").replace("t", "T"))
    except ValueError:
        raise ValueError("is not a valid date and time") from None
    try:
        instant = parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError(RANGE_RULE) from None
    if not EPOCH <= instant <= LATEST:
        raise ValueError(RANGE_RULE)
    return instant
