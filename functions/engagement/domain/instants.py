"""The instant a score is evaluated at, the same for every profile."""

from __future__ import annotations

from datetime import timedelta

from engagement.domain.errors import FieldProblem, InvalidInput
from engagement.domain.timefmt import from_ms, rfc3339

FUTURE_TOLERANCE = timedelta(minutes=5)
"""How far ahead of its receipt an event may be dated: a client's clock may run that fast.
(Here, not beside the event models: functions that never parse a request import it too.)"""


def evaluation_instant(at_ms: int, latest_ms: int, *, explicit: bool) -> int:
    """The instant a score is evaluated at: aggregates hold every event absorbed so far and cannot
    take events back out, so they answer from the latest event on. An explicit ``as_of`` before it
    is refused, naming it (the history has the earlier days); "now" before it (an event up to the
    ingest's 5-minute clock allowance in the future) is read as that event's instant. The same rule
    for the Linear and the CRM profile."""
    if at_ms >= latest_ms:
        return at_ms
    if explicit:
        raise InvalidInput(
            [
                FieldProblem(
                    "as_of",
                    f"precedes this user's latest event ({rfc3339(from_ms(latest_ms))}); scores are "
                    "evaluated from stored aggregates, which answer from then on (see /history)",
                )
            ]
        )
    return latest_ms
