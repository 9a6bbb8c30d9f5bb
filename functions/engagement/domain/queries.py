"""Read models: scores evaluated at request time (or ``as_of``) from stored aggregates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from engagement.domain.aggregates import Aggregate, AggregateKey, Suppression
from engagement.domain.instants import evaluation_instant
from engagement.domain.linear import LINEAR, LinearProfile, LinearScore
from engagement.domain.ports import AggregateReader
from engagement.domain.timefmt import from_ms, to_ms

STATS_TOP_ITEMS = 5


@dataclass(frozen=True)
class ScoredEngagement:
    aggregate: Aggregate
    score: LinearScore

    @property
    def item_id(self) -> str:
        assert self.aggregate.key.item_id is not None
        return self.aggregate.key.item_id


@dataclass(frozen=True)
class UserStats:
    total_interactions: int
    unique_items: int
    avg_interactions_per_item: float
    most_engaged_items: list[ScoredEngagement]
    first_interaction_ms: int
    last_interaction_ms: int
    suppression: Suppression | None


def _scored(aggregate: Aggregate, at: datetime, profile: LinearProfile) -> ScoredEngagement:
    return ScoredEngagement(aggregate, profile.evaluate(aggregate.interaction_count, aggregate.last_ms, at))


def _ranked(aggregates: list[Aggregate], at: datetime, profile: LinearProfile) -> list[ScoredEngagement]:
    scored = [_scored(a, at, profile) for a in aggregates]
    # Highest score first; ties go to the more recent engagement, then to the item id, so the
    # order is total and a page never shuffles between two identical requests.
    scored.sort(key=lambda s: (-s.score.score, -s.aggregate.last_ms, s.item_id))
    return scored


def ranked_engagements(
    reader: AggregateReader,
    user_id: str,
    at: datetime,
    limit: int,
    profile: LinearProfile = LINEAR,
    *,
    explicit: bool = False,
) -> list[ScoredEngagement]:
    """The user's engagements by score at ``at`` (or, as every profile reads it, from the user's
    latest event on: see ``domain.instants``)."""
    pairs = reader.list_pairs(user_id)
    if pairs:
        at = _instant(at, max(p.last_ms for p in pairs), explicit=explicit)
    return _ranked(pairs, at, profile)[:limit]


def engagement(
    reader: AggregateReader,
    user_id: str,
    item_id: str,
    at: datetime,
    profile: LinearProfile = LINEAR,
    *,
    explicit: bool = False,
) -> ScoredEngagement | None:
    aggregate = reader.get_aggregate(AggregateKey(user_id, item_id))
    if aggregate is None:
        return None
    return _scored(aggregate, _instant(at, aggregate.last_ms, explicit=explicit), profile)


def _instant(at: datetime, latest_ms: int, *, explicit: bool) -> datetime:
    return from_ms(evaluation_instant(to_ms(at), latest_ms, explicit=explicit))


def user_stats(
    reader: AggregateReader,
    user_id: str,
    at: datetime,
    profile: LinearProfile = LINEAR,
    *,
    explicit: bool = False,
) -> UserStats | None:
    """Lifetime totals from the per-user aggregate; items from the current (user, item) aggregates.

    Engagements past their expiry (TTL: they scored out) are gone, so ``unique_items`` counts
    what is still engaged while ``total_interactions`` counts everything the user ever did.
    """
    user = reader.get_aggregate(AggregateKey(user_id))
    if user is None:
        return None
    at = _instant(at, user.last_ms, explicit=explicit)
    pairs = _ranked(reader.list_pairs(user_id), at, profile)
    in_items = sum(p.aggregate.interaction_count for p in pairs)
    return UserStats(
        total_interactions=user.interaction_count,
        unique_items=len(pairs),
        avg_interactions_per_item=in_items / len(pairs) if pairs else 0.0,
        most_engaged_items=pairs[:STATS_TOP_ITEMS],
        first_interaction_ms=user.first_ms,
        last_interaction_ms=user.last_ms,
        suppression=user.suppression,
    )
