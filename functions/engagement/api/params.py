"""Query parameters shared by the score routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import AwareDatetime, BeforeValidator

from engagement.domain import clock
from engagement.domain.timefmt import parse_rfc3339


def _instant(value: object) -> object:
    return parse_rfc3339(value) if isinstance(value, str) else value


AsOf = Annotated[
    AwareDatetime | None,
    BeforeValidator(_instant),
    Query(description="Evaluate the score at this RFC 3339 instant instead of now"),
]


def at_or_now(as_of: datetime | None) -> datetime:
    return clock.now() if as_of is None else as_of
