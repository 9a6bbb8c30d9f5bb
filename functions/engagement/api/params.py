"""Query parameters shared by the score routes."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import AwareDatetime, BeforeValidator

from engagement.domain import clock
from engagement.domain.events import IDENTIFIER_PATTERN
from engagement.domain.timefmt import EPOCH, LATEST, parse_rfc3339


def instant(value: object) -> object:
    return parse_rfc3339(value) if isinstance(value, str) else value


AsOf = Annotated[
    AwareDatetime | None,
    BeforeValidator(instant),
    Query(description="Evaluate the score at this RFC 3339 instant instead of now"),
]


UserId = Annotated[
    str,
    Path(
        min_length=1, max_length=128, pattern=IDENTIFIER_PATTERN, description="A user id as events carry it"
    ),
]
ItemId = Annotated[
    str,
    Path(
        min_length=1, max_length=128, pattern=IDENTIFIER_PATTERN, description="An item id as events carry it"
    ),
]


FIRST_DAY = EPOCH.date()
LAST_DAY = LATEST.date()


def calendar_day(value: object) -> object:
    """``YYYY-MM-DD`` and only that: pydantic alone would read ``0`` as 1970-01-01."""
    if value is None:
        return None
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("must be a date written YYYY-MM-DD")
    if not FIRST_DAY.isoformat() <= value <= LAST_DAY.isoformat():
        raise ValueError(f"must be between {FIRST_DAY.isoformat()} and {LAST_DAY.isoformat()}")
    return value


def at_or_now(as_of: datetime | None) -> datetime:
    return clock.now() if as_of is None else as_of
