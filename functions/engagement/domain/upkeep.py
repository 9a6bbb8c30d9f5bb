"""Keeping what is derived from a contact in step with its aggregate.

After the scorer writes an aggregate (and when the daily run visits it), the derived state is
reconciled with what the aggregate now says, at one instant:

- the percentile bucket the contact is counted in follows its engagement-level key (in the
  daily run: see ``Upkeep.percentiles``);
- its band follows its composite and churn risk; a change is stored as *pending* first and
  published on the bus after, then settled, so a crash between the two republishes instead of
  losing the change (subscribers deduplicate on ``transition_id``);
- a (contact, campaign) engagement's funnel stages are added to the campaign's funnel once.

Every step is guarded in the store by the derived attribute it moves, so a retry (the stream
replays a failed batch; the aggregate write is then a no-op that still returns the item) redoes
exactly what is missing and nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from engagement.domain.bands import Band, classify
from engagement.domain.contact import ContactState
from engagement.domain.contact_records import BandState, BandTransition, ContactRecord, PairStages
from engagement.domain.crm import CrmProfile, CrmScore, ranked_bucket
from engagement.domain.errors import StoreError
from engagement.domain.probabilities import ContactProbabilities, contact_probabilities
from engagement.domain.scoring_config import DEFAULT_SCORING_CONFIG, ScoringConfig

RECONCILE_ATTEMPTS = 3
BAND_SCORE_DECIMALS = 2


@dataclass(frozen=True)
class ContactEvaluation:
    score: CrmScore
    probabilities: ContactProbabilities
    band: Band
    bucket: int | None
    """Percentile bucket (``crm.ranked_bucket``); None while suppressed (not ranked)."""


def evaluate_contact(
    state: ContactState, at_ms: int, config: ScoringConfig = DEFAULT_SCORING_CONFIG
) -> ContactEvaluation:
    score = CrmProfile(config.crm).evaluate(state, at_ms)
    probabilities = contact_probabilities(state, at_ms, config.probabilities)
    return ContactEvaluation(
        score=score,
        probabilities=probabilities,
        band=classify(score, probabilities.churn_risk, config.bands),
        bucket=ranked_bucket(state, at_ms, config.crm),
    )


def percentile_rank(bucket: int | None, histogram: Mapping[int, int]) -> float | None:
    """Mid-rank percentile, 0-100: (contacts in lower buckets + half of the contact's own) / all.

    Exact to the bucket: contacts sharing a bucket are not ordered among themselves, so the
    answer is off by at most half that bucket's share. None when the contact is not ranked.
    """
    total = sum(histogram.values())
    if bucket is None or total <= 0:
        return None
    below = sum(n for b, n in histogram.items() if b < bucket)
    same = histogram.get(bucket, 0)
    return max(0.0, min(100.0, 100.0 * (below + 0.5 * same) / total))


def band_transition(
    record: ContactRecord, evaluation: ContactEvaluation, at_ms: int
) -> BandTransition | None:
    """The band change this evaluation calls for, if any. An evaluation older than the stored
    band's is ignored: the newer one stands."""
    current = record.band
    if current is not None and (current.band == evaluation.band.value or current.since_ms > at_ms):
        return None
    new = BandState(
        band=evaluation.band.value,
        score=round(evaluation.score.composite, BAND_SCORE_DECIMALS),
        since_ms=at_ms,
    )
    return BandTransition(record.state.user_id, current, new)


class UpkeepStore(Protocol):
    def get_contact(self, user_id: str) -> ContactRecord | None: ...
    def move_percentile(self, user_id: str, old: int | None, new: int | None) -> bool: ...
    def change_band(self, transition: BandTransition) -> bool: ...
    def settle_transition(self, transition: BandTransition) -> None: ...
    def count_funnel(self, stages: PairStages) -> None: ...


class Publisher(Protocol):
    def publish(self, transitions: Sequence[BandTransition]) -> None: ...


@dataclass
class UpkeepReport:
    percentile_moves: int = 0
    band_changes: int = 0
    published: int = 0
    funnel_updates: int = 0
    failed: dict[str, StoreError] = field(default_factory=dict)
    """User id -> why its upkeep did not finish (the caller makes it retry)."""
    unsettled: dict[str, BandTransition] = field(default_factory=dict)
    """Published band changes left for the caller to settle (``Upkeep.settle_later``)."""


def _unpaced() -> None:
    return None


@dataclass
class Upkeep:
    store: UpkeepStore
    publisher: Publisher
    config: ScoringConfig = DEFAULT_SCORING_CONFIG
    report: UpkeepReport = field(default_factory=UpkeepReport)
    pace: Callable[[], None] = _unpaced
    """Called before each write: the scheduled runs pace their writes, the scorer does not."""
    percentiles: bool = False
    """Move contacts between percentile buckets. The daily run does (once per contact whose key
    changed that day); the scorer does not: a move is a three-item transaction, and doing it on
    every batch would more than double the scorer's writes for a summary a day fresh enough."""
    settle_later: bool = False
    """Leave a published change pending, in ``report.unsettled``, for the caller's next write
    to the contact to settle (the daily run's schedule write): one write fewer per change. A
    contact whose next change waits on it is settled here, so that change can go out."""

    def count_funnel(self, stages: PairStages) -> None:
        if stages.uncounted:
            self.pace()
            self.store.count_funnel(stages)
            self.report.funnel_updates += 1

    def contacts(
        self,
        records: Iterable[ContactRecord],
        at_ms: int,
        evaluated: Mapping[str, ContactEvaluation] | None = None,
    ) -> None:
        """Reconcile each contact at ``at_ms``; failures land in ``report.failed``.

        ``evaluated`` holds evaluations the caller already made of these very records at
        ``at_ms`` (the daily run needs them for history too); a record read again is evaluated
        afresh.

        Two rounds: a contact whose earlier band change was still pending gets it published in
        the first round, and its new band (if any) in the second.
        """
        todo = list(records)
        for _ in range(2):
            pending: dict[str, BandTransition] = {}
            blocked: list[str] = []
            for record in todo:
                user = record.state.user_id
                try:
                    known = (evaluated or {}).get(user)
                    transition, waiting = self._reconcile(record, at_ms, known)
                except StoreError as exc:
                    self.report.failed[user] = exc
                    continue
                if transition is not None:
                    pending[user] = transition
                if waiting:
                    blocked.append(user)
            self._publish(pending, settle_now=set(blocked))
            todo = []
            for user in blocked:
                if user in self.report.failed:
                    continue
                try:
                    again = self.store.get_contact(user)
                except StoreError as exc:
                    self.report.failed[user] = exc
                    continue
                if again is not None:
                    todo.append(again)
            if not todo:
                return

    def _reconcile(
        self, record: ContactRecord, at_ms: int, known: ContactEvaluation | None = None
    ) -> tuple[BandTransition | None, bool]:
        """(the transition to publish, whether a band change waits for it)."""
        user = record.state.user_id
        for _ in range(RECONCILE_ATTEMPTS):
            evaluation = known or evaluate_contact(record.state, at_ms, self.config)
            known = None  # only for the record it was made from
            moved = True
            if self.percentiles and evaluation.bucket != record.bucket:
                self.pace()
                moved = self.store.move_percentile(user, record.bucket, evaluation.bucket)
                if moved:
                    self.report.percentile_moves += 1
            if record.pending is not None:
                # An earlier change is not confirmed published: it goes out first.
                waiting = band_transition(record, evaluation, at_ms) is not None
                if moved:
                    return record.pending, waiting
            else:
                transition = band_transition(record, evaluation, at_ms)
                changed = transition is None
                if transition is not None:
                    self.pace()
                    changed = self.store.change_band(transition)
                if transition is not None and changed:
                    self.report.band_changes += 1
                if moved and changed:
                    return transition, False
            # Someone else moved the contact since it was read: read it again and redo.
            fresh = self.store.get_contact(user)
            if fresh is None:
                return None, False
            record = fresh
        raise StoreError(f"contact {user} kept changing under concurrent upkeep", retryable=True)

    def _publish(self, pending: Mapping[str, BandTransition], settle_now: set[str]) -> None:
        if not pending:
            return
        try:
            self.publisher.publish(list(pending.values()))
        except StoreError as exc:
            for user in pending:
                self.report.failed[user] = exc
            return
        self.report.published += len(pending)
        for user, transition in pending.items():
            if self.settle_later and user not in settle_now:
                self.report.unsettled[user] = transition
                continue
            try:
                self.pace()
                self.store.settle_transition(transition)
            except StoreError as exc:
                # Published but still marked pending: the next pass publishes it again, which
                # subscribers drop by transition_id. Retrying now would do the same.
                self.report.failed[user] = exc
