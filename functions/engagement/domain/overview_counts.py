"""What the overview counts where changes happen (the write side of ``domain.overview``).

Kept apart from the read side so the scorer and the jobs, which count, import nothing the
overview's reader needs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from engagement.domain.aggregates import ObservedEvent

MS_PER_HOUR = 3_600_000


def hour_of(epoch_s: int) -> int:
    """The hour (epoch ms at its start) an instant in epoch seconds falls in."""
    return epoch_s * 1000 // MS_PER_HOUR * MS_PER_HOUR


def accepted_per_hour(events: Iterable[ObservedEvent]) -> dict[int, int]:
    """Newly absorbed events by the hour the log accepted them (the stream record's creation
    time, which is when ingest's conditional write stored the event)."""
    counts: dict[int, int] = {}
    for event in events:
        hour = hour_of(event.recorded_s)
        counts[hour] = counts.get(hour, 0) + 1
    return counts


@dataclass(frozen=True)
class BandMove:
    """A contact left ``old`` (None: it had no band yet) for ``new`` (None: it is gone, erased)."""

    user_id: str
    old: str | None
    new: str | None


def band_steps(move: BandMove) -> dict[str, int]:
    """Counter steps by band: +1 where the contact went, -1 where it was."""
    if move.old == move.new:
        return {}
    steps = {} if move.new is None else {move.new: 1}
    if move.old is not None:
        steps[move.old] = -1
    return steps
