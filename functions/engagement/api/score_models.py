"""Response models of the score routes: the contract the OpenAPI document publishes."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, Field

from engagement.domain.linear import SCORE_DECIMALS
from engagement.domain.queries import ScoredEngagement, UserStats
from engagement.domain.timefmt import from_ms


def _round(score: float) -> float:
    return round(score, SCORE_DECIMALS)


class EngagementSummary(BaseModel):
    item_id: str
    score: float
    interaction_count: int
    last_interaction: AwareDatetime

    @classmethod
    def of(cls, scored: ScoredEngagement) -> EngagementSummary:
        return cls(
            item_id=scored.item_id,
            score=_round(scored.score.score),
            interaction_count=scored.aggregate.interaction_count,
            last_interaction=from_ms(scored.aggregate.last_ms),
        )


class EngagementList(BaseModel):
    user_id: str
    as_of: AwareDatetime
    profile: str
    engagements: list[EngagementSummary]


class ScoreComponents(BaseModel):
    frequency: float = Field(description="min(1, 0.2 * interaction_count)")
    recency: float = Field(description="exp(-0.05 * days since the last interaction)")
    idle_factor: float = Field(description="0.9 ** whole days idle beyond 30 (1 before that)")


class EngagementDetail(BaseModel):
    user_id: str
    item_id: str
    as_of: AwareDatetime
    profile: str
    score: float = Field(description="(0.4 * frequency + 0.6 * recency) * idle_factor")
    components: ScoreComponents
    interaction_count: int
    counts: dict[str, int] = Field(description="Interactions by event type")
    first_interaction: AwareDatetime
    last_interaction: AwareDatetime
    days_since_last_interaction: float

    @classmethod
    def of(cls, user_id: str, as_of: datetime, profile: str, scored: ScoredEngagement) -> EngagementDetail:
        aggregate, score = scored.aggregate, scored.score
        return cls(
            user_id=user_id,
            item_id=scored.item_id,
            as_of=as_of,
            profile=profile,
            score=_round(score.score),
            components=ScoreComponents(
                frequency=_round(score.frequency),
                recency=_round(score.recency),
                idle_factor=_round(score.idle_factor),
            ),
            interaction_count=aggregate.interaction_count,
            counts={t.value: n for t, n in sorted(aggregate.counts.items())},
            first_interaction=from_ms(aggregate.first_ms),
            last_interaction=from_ms(aggregate.last_ms),
            days_since_last_interaction=round(score.days_since_last_interaction, 4),
        )


class SuppressionOut(BaseModel):
    since: AwareDatetime = Field(description="When the contact opted out")
    reason: str | None = Field(description="The keyword or provider error code that opted them out")


class UserStatsResponse(BaseModel):
    user_id: str
    as_of: AwareDatetime
    total_interactions: int = Field(description="Every interaction ever recorded for the user")
    unique_items: int = Field(description="Items the user is currently engaged with")
    avg_interactions_per_item: float
    most_engaged_items: list[EngagementSummary]
    first_interaction: AwareDatetime
    last_interaction: AwareDatetime
    suppressed: SuppressionOut | None = Field(
        description="Present while the contact is opted out (until an opt-in): do not message them"
    )

    @classmethod
    def of(cls, user_id: str, as_of: datetime, stats: UserStats) -> UserStatsResponse:
        return cls(
            user_id=user_id,
            as_of=as_of,
            total_interactions=stats.total_interactions,
            unique_items=stats.unique_items,
            avg_interactions_per_item=round(stats.avg_interactions_per_item, 4),
            most_engaged_items=[EngagementSummary.of(s) for s in stats.most_engaged_items],
            first_interaction=from_ms(stats.first_interaction_ms),
            last_interaction=from_ms(stats.last_interaction_ms),
            suppressed=None
            if stats.suppression is None
            else SuppressionOut(since=from_ms(stats.suppression.since_ms), reason=stats.suppression.reason),
        )
