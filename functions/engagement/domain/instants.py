"""The instant a score is evaluated at, the same for every profile."""

from __future__ import annotations

from engagement.domain.errors import FieldProblem, InvalidInput
from engagement.domain.timefmt import from_ms, rfc3339


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
