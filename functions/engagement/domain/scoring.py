"""Fold a stream batch into the aggregates, one write per aggregate touched."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from engagement.domain.aggregates import ObservedEvent, plan_batch
from engagement.domain.errors import StoreError
from engagement.domain.ports import AggregateWriter


@dataclass
class BatchOutcome:
    writes: int = 0
    applied: int = 0
    duplicates: int = 0
    failed: dict[str, StoreError] = field(default_factory=dict)
    """Event id -> why one of its aggregates could not be written; those records are retried."""


def score_batch(events: Sequence[ObservedEvent], writer: AggregateWriter) -> BatchOutcome:
    """Apply every event to its (user, item) and user aggregates.

    A failed aggregate fails every event that fed it, and only those. The retry replays them
    everywhere, and aggregates that did absorb them filter them out, so each aggregate ends up
    with each event exactly once.
    """
    outcome = BatchOutcome()
    for delta in plan_batch(events):
        try:
            result = writer.apply(delta)
        except StoreError as exc:
            outcome.failed.update({event.event_id: exc for event in delta.events})
            continue
        outcome.writes += 1
        outcome.applied += result.applied
        outcome.duplicates += result.duplicates
    return outcome
