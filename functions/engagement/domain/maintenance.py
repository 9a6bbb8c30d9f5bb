"""The scheduled jobs' work on one page of items: decay (materialize) and cleanup (delete).

Both only apply what the score functions already say at the run's scheduled instant, so a
repeated, late or interrupted run never changes what the API answers, and an item whose stored
value would not change is not written:

- an engagement (user, item) gets its Linear score at the run instant, unless a run at or after
  that instant already wrote it, or the rounded value is what is stored;
- a contact gets its band (published when it changes), its percentile bucket (normally already
  right: the key does not move with time) and a history point for the run's day when its
  composite, to one decimal, differs from the last point.

Cleanup deletes engagements scoring below 0.01 whose last interaction is at least 90 days old.
Nothing else depends on an engagement item: a campaign's funnel counts are its history and stay,
raw events leave through the event log's TTL, and contacts are never deleted (an opt-out must
be honoured for as long as the number exists).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from engagement.domain.aggregates import Aggregate, AggregateKey
from engagement.domain.contact_records import ContactRecord, HistoryPoint
from engagement.domain.linear import LINEAR, SCORE_DECIMALS, LinearProfile
from engagement.domain.runs import Tally
from engagement.domain.timefmt import to_ms
from engagement.domain.upkeep import Upkeep, evaluate_contact

HISTORY_DECIMALS = 1
"""History keeps a point when the composite moved by at least 0.1 (in rounding): enough for a
chart, and a contact idle for months stops producing points once its score stops moving."""
CLEANUP_BELOW_SCORE = 0.01
CLEANUP_MIN_IDLE_DAYS = 90


@dataclass(frozen=True)
class PairItem:
    aggregate: Aggregate
    version: int


@dataclass(frozen=True)
class ContactItem:
    record: ContactRecord


MaintainedItem = PairItem | ContactItem


class ScoreWriter(Protocol):
    def record_score(self, key: AggregateKey, *, score: float, at: datetime) -> bool: ...
    def delete_aggregate(self, key: AggregateKey, *, version: int) -> bool: ...


class HistoryWriter(Protocol):
    def record_history(self, user_id: str, point: HistoryPoint) -> None: ...


@dataclass
class DecayPage:
    """Everything the decay job needs to process a page at the run's instant."""

    run_at: datetime
    scores: ScoreWriter
    history: HistoryWriter
    upkeep: Upkeep
    profile: LinearProfile = LINEAR

    def __call__(self, items: Sequence[MaintainedItem], pace: Callable[[], None]) -> Tally:
        tally = Tally()
        contacts: list[ContactRecord] = []
        for item in items:
            tally.examined += 1
            if isinstance(item, PairItem):
                self._materialize(item.aggregate, pace, tally)
            else:
                contacts.append(item.record)
        if contacts:
            self._contacts(contacts, pace, tally)
        return tally

    def _materialize(self, aggregate: Aggregate, pace: Callable[[], None], tally: Tally) -> None:
        run_ms = to_ms(self.run_at)
        if aggregate.materialized_at_ms is not None and aggregate.materialized_at_ms >= run_ms:
            tally.already_done += 1
            return
        score = round(
            self.profile.evaluate(aggregate.interaction_count, aggregate.last_ms, self.run_at).score,
            SCORE_DECIMALS,
        )
        stored = aggregate.materialized_score
        if stored is not None and round(stored, SCORE_DECIMALS) == score:
            tally.unchanged += 1
            return
        pace()
        if self.scores.record_score(aggregate.key, score=score, at=self.run_at):
            tally.written += 1
        else:
            tally.raced += 1

    def _contacts(self, records: list[ContactRecord], pace: Callable[[], None], tally: Tally) -> None:
        run_ms = to_ms(self.run_at)
        self.upkeep.pace = pace
        report = self.upkeep.report
        before = (report.band_changes, report.published, report.percentile_moves)
        evaluated = {r.state.user_id: evaluate_contact(r.state, run_ms, self.upkeep.config) for r in records}
        self.upkeep.contacts(records, run_ms, evaluated)
        if report.failed:
            # The page is redone on retry: every step above is idempotent at this instant.
            raise next(iter(report.failed.values()))
        changes = report.band_changes - before[0]
        moves = report.percentile_moves - before[2]
        tally.band_changes += changes
        tally.percentile_moves += moves
        tally.written += changes + moves
        tally.published += report.published - before[1]
        day = self.run_at.date().isoformat()
        for record in records:
            evaluation = evaluated[record.state.user_id]
            score = round(evaluation.score.composite, HISTORY_DECIMALS)
            mark = record.history
            if mark is not None and mark.day >= day:
                tally.already_done += 1
                continue
            if mark is not None and mark.score == score:
                tally.unchanged += 1
                continue
            point = HistoryPoint(
                day=day,
                at_ms=run_ms,
                score=score,
                band=evaluation.band.value,
                components={
                    name: round(value, HISTORY_DECIMALS)
                    for name, value in evaluation.score.components.items()
                },
            )
            pace()
            self.history.record_history(record.state.user_id, point)
            tally.history_points += 1
            tally.written += 1


@dataclass
class CleanupPage:
    run_at: datetime
    scores: ScoreWriter
    profile: LinearProfile = LINEAR

    def __call__(self, items: Sequence[MaintainedItem], pace: Callable[[], None]) -> Tally:
        tally = Tally()
        for item in items:
            tally.examined += 1
            if not isinstance(item, PairItem):
                continue  # contacts are kept: suppression state must outlive any score
            aggregate = item.aggregate
            score = self.profile.evaluate(aggregate.interaction_count, aggregate.last_ms, self.run_at)
            idle_days = score.days_since_last_interaction
            if score.score >= CLEANUP_BELOW_SCORE or idle_days < CLEANUP_MIN_IDLE_DAYS:
                tally.unchanged += 1
                continue
            pace()
            if self.scores.delete_aggregate(aggregate.key, version=item.version):
                tally.deleted += 1
                tally.written += 1
            else:
                tally.raced += 1
        return tally
