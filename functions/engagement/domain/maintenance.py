"""The scheduled jobs' work on one page: the daily run (contacts that are due) and the weekly
run's one-time sweep.

Scores are functions of time (design decision 4), so nothing is materialized for its own sake:
an engagement's score is evaluated by every read, and its end is its TTL (``domain.expiry``).
What a reader can see change without an event is a contact's band, its history points, and
(after events) its percentile bucket. History points are evaluated when read, from the states
the contact went through (``domain.history``); the band is stored, because the segments index
lists contacts by it and subscribers are told when it changes. Between events a contact's churn
risk only rises and its composite only falls, so its band changes at instants the score
function gives: each contact carries the next one (``due_ms``) in a sparse, sharded index, and
the daily run reads what is due and nothing else:

- a due contact is reconciled at the run's instant (``domain.upkeep``: percentile bucket, band,
  published band change); when events reached it since the run last saw it, its state is
  recorded as a history stretch from the run's day; then it is scheduled again: one write sets
  its next due instant, marks the stretch recorded and settles the published band change,
  guarded by the aggregate's version (an event that arrived since the read leaves the contact
  due for the next run, which sees it);
- a contact is never written by the run unless it was due, and leaves the due range once
  processed, so a repeated or resumed run finds nothing left to do.

The sweep runs once, for items written before expiries and due times were stored: it gives
each engagement its expiry and each contact a due time at the run, and writes nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from engagement.domain.aggregates import Aggregate, AggregateKey
from engagement.domain.bands import classify
from engagement.domain.contact import ContactState
from engagement.domain.contact_records import REVISIT_DAYS, BandTransition, ContactRecord, Stretch
from engagement.domain.crm import CrmProfile
from engagement.domain.decay import MS_PER_DAY
from engagement.domain.expiry import expires_at_s
from engagement.domain.history import planned_stretches
from engagement.domain.probabilities import contact_probabilities
from engagement.domain.runs import Tally
from engagement.domain.scoring_config import DEFAULT_SCORING_CONFIG, ScoringConfig
from engagement.domain.timefmt import to_ms
from engagement.domain.upkeep import Upkeep, evaluate_contact

MS_PER_HOUR = 3_600_000
DUE_HORIZON_MS = REVISIT_DAYS * MS_PER_DAY
"""How far ahead the next change is looked for. A contact whose band holds that long is looked
at again then, at the cost of one read (and its history stretch recorded again)."""


@dataclass(frozen=True)
class PairItem:
    """An engagement as the sweep scans it."""

    aggregate: Aggregate
    version: int


@dataclass(frozen=True)
class ContactItem:
    """A contact as the sweep scans it (``due_ms`` None: written before due times existed)."""

    record: ContactRecord
    due_ms: int | None


@dataclass(frozen=True)
class DueContact:
    """A contact as the daily run reads it from the due index."""

    record: ContactRecord
    version: int
    due_ms: int


MaintainedItem = PairItem | ContactItem | DueContact


def next_due_ms(
    state: ContactState, after_ms: int, band: str, config: ScoringConfig = DEFAULT_SCORING_CONFIG
) -> int:
    """The first instant after ``after_ms`` at which, with no new event, the contact's band is no
    longer ``band``; or the horizon.

    Once true it stays true (the composite only falls between events, churn risk only rises,
    and every band but the one a contact starts in is reached only downwards), so the instant
    is found by doubling steps and then bisection to the millisecond: a run at or after it sees
    the change, a run before it does not.
    """
    profile = CrmProfile(config.crm)

    def changed(at_ms: int) -> bool:
        score = profile.evaluate(state, at_ms)
        churn = contact_probabilities(state, at_ms, config.probabilities).churn_risk
        return classify(score, churn, config.bands).value != band

    horizon = after_ms + DUE_HORIZON_MS
    low, step = after_ms, MS_PER_HOUR
    high = min(after_ms + step, horizon)
    while not changed(high):
        if high >= horizon:
            return horizon
        low, step = high, step * 2
        high = min(high + step, horizon)
    while high - low > 1:
        middle = (low + high) // 2
        if changed(middle):
            high = middle
        else:
            low = middle
    return high


class Scheduler(Protocol):
    def schedule(
        self,
        user_id: str,
        *,
        version: int,
        due_ms: int,
        stretches: Sequence[Stretch],
        settle: BandTransition | None,
    ) -> bool:
        """Set the contact's next due instant, record ``stretches`` (its state at ``version``,
        and a gap before it) and settle ``settle`` (a band change just published), all or
        nothing, unless its aggregate is no longer at ``version`` (or is gone: erased). Returns
        whether it was written."""
        ...

    def settle_transition(self, transition: BandTransition) -> None: ...


@dataclass
class DuePage:
    """The daily run's work on a page of due contacts, at the run's scheduled instant."""

    run_at: datetime
    scheduler: Scheduler
    upkeep: Upkeep

    def __call__(self, items: Sequence[MaintainedItem], pace: Callable[[], None]) -> Tally:
        tally = Tally()
        due = [item for item in items if isinstance(item, DueContact)]
        tally.examined += len(items)
        if not due:
            return tally
        run_ms = to_ms(self.run_at)
        config = self.upkeep.config
        self.upkeep.pace = pace
        # A band change published here is settled by the write that schedules the contact.
        self.upkeep.settle_later = True
        report = self.upkeep.report
        before = (report.band_changes, report.published, report.percentile_moves)
        records = [item.record for item in due]
        evaluated = {r.state.user_id: evaluate_contact(r.state, run_ms, config) for r in records}
        self.upkeep.contacts(records, run_ms, evaluated)
        if report.failed:
            # The page is redone on retry: its contacts are still due (nothing below ran), and
            # every upkeep step is guarded by the derived state it moves. A published change
            # left pending is published again and dropped by subscribers (transition_id).
            raise next(iter(report.failed.values()))
        changes = report.band_changes - before[0]
        moves = report.percentile_moves - before[2]
        tally.band_changes += changes
        tally.percentile_moves += moves
        tally.written += changes + moves
        tally.published += report.published - before[1]
        for item in due:
            user = item.record.state.user_id
            settle = report.unsettled.pop(user, None)
            # Events reached the contact since a run last recorded its state (or none ever did,
            # or it is old): its history follows the state read now, from the first run after
            # they reached the scorer. Recorded with the schedule, under the version read, so a
            # run that lost a race to an event (or to an erasure) records nothing.
            stretches = planned_stretches(item.record, run_ms, revisit=True)
            band = evaluated[user].band.value
            due_ms = next_due_ms(item.record.state, run_ms, band, config)
            pace()
            if stretches:
                pace()
            if self.scheduler.schedule(
                user, version=item.version, due_ms=due_ms, stretches=stretches, settle=settle
            ):
                tally.scheduled += 1
                tally.stretches += sum(1 for s in stretches if s.state is not None)
                tally.written += 1 + len(stretches)
            else:
                tally.raced += 1  # an event arrived: the contact stays due for the next run
                if settle is not None:
                    pace()
                    self.scheduler.settle_transition(settle)
        return tally


class SweepStore(Protocol):
    def set_expiry(self, key: AggregateKey, *, expires_at: int) -> bool: ...
    def set_due(self, user_id: str, *, due_ms: int) -> bool: ...


@dataclass
class SweepPage:
    """The one-time sweep: what the scorer now writes with every event, for items written
    before it did. Each write is conditional on the attribute's absence, so a retried page, a
    repeated run or a scorer write in between leaves the newer value."""

    run_at: datetime
    store: SweepStore

    def __call__(self, items: Sequence[MaintainedItem], pace: Callable[[], None]) -> Tally:
        tally = Tally()
        run_ms = to_ms(self.run_at)
        for item in items:
            tally.examined += 1
            if isinstance(item, PairItem) and item.aggregate.expires_at is None:
                # Already past: TTL takes it from the run on (DynamoDB ignores TTL values more
                # than five years old, so an old instant would never be collected).
                expires_at = max(expires_at_s(item.aggregate.last_ms), -(-run_ms // 1000))
                pace()
                if self.store.set_expiry(item.aggregate.key, expires_at=expires_at):
                    tally.expiries += 1
                    tally.written += 1
                else:
                    tally.raced += 1
            elif isinstance(item, ContactItem) and item.due_ms is None:
                pace()
                if self.store.set_due(item.record.state.user_id, due_ms=run_ms):
                    tally.scheduled += 1
                    tally.written += 1
                else:
                    tally.raced += 1
            else:
                tally.unchanged += 1
        return tally
