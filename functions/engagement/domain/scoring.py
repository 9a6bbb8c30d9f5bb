"""Fold a stream batch into the aggregates, one write per aggregate touched, then keep what is
derived from them (percentiles, bands, funnels) in step."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from engagement.domain.aggregates import ObservedEvent, plan_batch
from engagement.domain.contact_records import ContactRecord
from engagement.domain.errors import StoreError
from engagement.domain.ports import AggregateWriter
from engagement.domain.upkeep import Upkeep


@dataclass
class BatchOutcome:
    writes: int = 0
    applied: int = 0
    duplicates: int = 0
    failed: dict[str, StoreError] = field(default_factory=dict)
    """Event id -> why one of its aggregates could not be written; those records are retried."""


def score_batch(
    events: Sequence[ObservedEvent], writer: AggregateWriter, *, upkeep: Upkeep | None = None, at_ms: int = 0
) -> BatchOutcome:
    """Apply every event to its (user, item) and user aggregates; then, with ``upkeep``, reconcile
    each touched contact at ``at_ms`` and count new funnel stages.

    A failed aggregate fails every event that fed it, and only those. The retry replays them
    everywhere, and aggregates that did absorb them filter them out, so each aggregate ends up
    with each event exactly once. A failed upkeep fails the same way: the replay finds the
    aggregate already written, which still hands back the item, and the upkeep is redone.
    """
    outcome = BatchOutcome()
    contacts: dict[str, tuple[ContactRecord, tuple[str, ...]]] = {}
    for delta in plan_batch(events, applied_ms=at_ms or None):
        ids = tuple(event.event_id for event in delta.events)
        try:
            result = writer.apply(delta)
            if upkeep is not None and result.stages is not None:
                upkeep.count_funnel(result.stages)
        except StoreError as exc:
            outcome.failed.update(dict.fromkeys(ids, exc))
            continue
        outcome.writes += 1
        outcome.applied += result.applied
        outcome.duplicates += result.duplicates
        if result.contact is not None:
            contacts[result.contact.state.user_id] = (result.contact, ids)
    if upkeep is not None and contacts:
        upkeep.contacts((record for record, _ in contacts.values()), at_ms)
        for user, reason in upkeep.report.failed.items():
            outcome.failed.update(dict.fromkeys(contacts[user][1], reason))
    return outcome
