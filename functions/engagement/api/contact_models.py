"""Response models of the contact routes (CRM score, history, segments, funnels)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from engagement.domain.bands import Band
from engagement.domain.contact_queries import ContactScore, Funnel, FunnelStep
from engagement.domain.contact_records import HistoryPoint, SegmentPage
from engagement.domain.crm import NO_ENGAGEMENT_BUCKET, CrmComponents
from engagement.domain.probabilities import Probability
from engagement.domain.timefmt import from_ms

PERCENTILE_RESOLUTION = (
    "Rank of the contact's time-decayed engagement level (what the contact did: clicks, replies, "
    "conversions, chat events; deliveries and bounces do not count) among all contacts not opted "
    "out, from a log-bucket "
    "histogram with buckets 5% wide (about one day of recency at the 14-day half-life): exact to "
    "the bucket, off by at most half the contacts sharing it. The contact's own level is live; "
    "the others' are as of the last daily run (the levels' order does not change with time alone)."
)


def _points(value: float) -> float:
    return round(value, 2)


class Components(BaseModel):
    recency: float = Field(description="R = 100 · exp(-days since the last engagement / 30)")
    frequency: float = Field(description="F = 100 · (1 - exp(-engagements per day / (1/7)))")
    monetary: float = Field(description="M = min(100, 25 · log10(1 + conversion value))")
    time_decay: float = Field(description="TD = 100 · (1 - exp(-S / 10)), S = decayed weighted events")
    diversity: float = Field(description="D = 100 · min(1, distinct engagement types / 3)")

    @classmethod
    def of(cls, components: CrmComponents) -> Components:
        return cls(**{name: _points(value) for name, value in components.items()})


class ProbabilityOut(BaseModel):
    status: str = Field(description="ok, or insufficient_data when the contact has too few events")
    value: float | None = Field(description="In [0, 1] when status is ok")
    horizon_days: float | None = Field(description="The window it is about; null for a state now")
    basis: str = Field(description="What the number rests on, or why there is none")
    model: str = Field(
        description=(
            "The model version it is computed with, as GET /v1/models lists them: bgnbd@<fit instant> "
            "(fitted on this deployment's contacts) or prior:cdnow-2005 / prior:configured; a "
            "conversion names both models it rests on, <bgnbd>+<conversion prior>"
        ),
        examples=["bgnbd@2026-12-06T03:00:00Z", "prior:cdnow-2005+prior:default"],
    )

    @classmethod
    def of(cls, probability: Probability) -> ProbabilityOut:
        value = None if probability.value is None else round(probability.value, 4)
        return cls(
            status=probability.status,
            value=value,
            horizon_days=probability.horizon_days,
            basis=probability.basis,
            model=probability.model,
        )


class Probabilities(BaseModel):
    engagement: ProbabilityOut = Field(description="Some engagement in the next 30 days (BG/NBD)")
    conversion: ProbabilityOut = Field(
        description="A conversion in the next 30 days (rate smoothed toward the population's)"
    )
    churn_risk: ProbabilityOut = Field(description="1 - P(still active), BG/NBD")


PercentileStatus = Literal["ranked", "no_engagement", "suppressed", "pending"]
_PERCENTILE_REASONS: dict[str, str | None] = {
    "ranked": None,
    "no_engagement": "no click, reply, conversion or chat event yet: tied below every engaged contact",
    "suppressed": "opted out: suppressed contacts are not ranked among the others",
    "pending": "not counted yet: contacts are ranked by the daily run",
}


class PercentileOut(BaseModel):
    value: float | None = Field(
        description="0-100; null while suppressed (opted out) or before the daily run counted anyone"
    )
    status: PercentileStatus = Field(
        description=(
            "ranked; no_engagement (only deliveries or bounces: ranked at the floor, below every engaged "
            "contact); suppressed (opted out: not ranked, value null); pending (value null)"
        )
    )
    reason: str | None = Field(description="Why the value is null or at the floor; null when ranked")
    resolution: str = PERCENTILE_RESOLUTION

    @classmethod
    def of(cls, found: ContactScore) -> PercentileOut:
        bucket = found.evaluation.bucket
        value = None if found.percentile is None else round(found.percentile, 1)
        status: PercentileStatus
        if bucket is None:
            status = "suppressed"
        elif value is None:
            status = "pending"
        elif bucket == NO_ENGAGEMENT_BUCKET:
            status = "no_engagement"
        else:
            status = "ranked"
        return cls(value=value, status=status, reason=_PERCENTILE_REASONS[status])


class SegmentOut(BaseModel):
    band: Band | None = Field(description="The band the contact is listed under in /v1/segments")
    since: AwareDatetime | None


class SuppressionInfo(BaseModel):
    since: AwareDatetime
    reason: str | None = Field(description="The keyword or provider error code that opted them out")


class ComponentPartOut(BaseModel):
    name: str
    value: float
    weight: float
    points: float = Field(description="weight · value: points of the composite before any penalty")


class EventOut(BaseModel):
    event_id: str
    type: str
    item_id: str
    occurred_at: AwareDatetime
    points: float = Field(description="Points of the composite this event accounts for now")


class ExplanationOut(BaseModel):
    sentence: str
    components: list[ComponentPartOut] = Field(description="Largest contribution first")
    top_events: list[EventOut] = Field(description="The recent events that move the score most")
    probability_notes: list[str]


class ContactScoreResponse(BaseModel):
    user_id: str
    profile: str
    as_of: AwareDatetime
    score: float = Field(description="0.30 R + 0.25 F + 0.20 M + 0.15 TD + 0.10 D; times 0.1 while opted out")
    components: Components
    contributions: Components = Field(description="weight · component, in points of the score")
    probabilities: Probabilities
    percentile: PercentileOut
    band: Band = Field(description="The band at as_of: hot, warm, cold, churning or suppressed")
    segment: SegmentOut
    suppressed: SuppressionInfo | None = Field(description="Present while the contact is opted out")
    explanation: ExplanationOut
    counts: dict[str, int] = Field(description="Events by type")
    first_event: AwareDatetime
    last_event: AwareDatetime

    @classmethod
    def of(cls, found: ContactScore) -> ContactScoreResponse:
        state, evaluation, record = found.record.state, found.evaluation, found.record
        score, probabilities = evaluation.score, evaluation.probabilities
        explanation = found.explanation
        suppressed_since = state.suppressed_since_ms
        return cls(
            user_id=state.user_id,
            profile="crm",
            as_of=from_ms(found.at_ms),
            score=_points(score.composite),
            components=Components.of(score.components),
            contributions=Components.of(score.contributions),
            probabilities=Probabilities(
                engagement=ProbabilityOut.of(probabilities.engagement),
                conversion=ProbabilityOut.of(probabilities.conversion),
                churn_risk=ProbabilityOut.of(probabilities.churn_risk),
            ),
            percentile=PercentileOut.of(found),
            band=evaluation.band,
            segment=SegmentOut(
                band=None if record.band is None else Band(record.band.band),
                since=None if record.band is None else from_ms(record.band.since_ms),
            ),
            suppressed=None
            if suppressed_since is None
            else SuppressionInfo(since=from_ms(suppressed_since), reason=state.opt_out_reason),
            explanation=ExplanationOut(
                sentence=explanation.sentence,
                components=[
                    ComponentPartOut(
                        name=p.name, value=_points(p.value), weight=p.weight, points=_points(p.points)
                    )
                    for p in explanation.components
                ],
                top_events=[
                    EventOut(
                        event_id=e.event_id,
                        type=e.type.value,
                        item_id=e.item_id,
                        occurred_at=from_ms(e.occurred_ms),
                        points=e.points,
                    )
                    for e in explanation.top_events
                ],
                probability_notes=list(explanation.probability_notes),
            ),
            counts={t.value: n for t, n in sorted(state.counts.items())},
            first_event=from_ms(state.first_ms),
            last_event=from_ms(state.last_ms),
        )


class HistoryPointOut(BaseModel):
    date: date
    score: float
    band: Band
    components: dict[str, float]

    @classmethod
    def of(cls, point: HistoryPoint) -> HistoryPointOut:
        return cls(
            date=date.fromisoformat(point.day),
            score=point.score,
            band=Band(point.band),
            components=dict(point.components),
        )


class HistoryResponse(BaseModel):
    user_id: str
    from_date: date = Field(serialization_alias="from")
    to_date: date = Field(serialization_alias="to")
    points: list[HistoryPointOut] = Field(
        description="One per day whose score (to one decimal) differs from the day before's, oldest first"
    )


class SegmentMemberOut(BaseModel):
    user_id: str
    score: float = Field(description="The score that put the contact in the band")
    since: AwareDatetime


class SegmentResponse(BaseModel):
    band: Band
    members: list[SegmentMemberOut]
    cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last one")

    @classmethod
    def of(cls, band: Band, page: SegmentPage) -> SegmentResponse:
        return cls(
            band=band,
            members=[
                SegmentMemberOut(user_id=m.user_id, score=m.score, since=from_ms(m.since_ms))
                for m in page.members
            ],
            cursor=page.cursor,
        )


class FunnelStepOut(BaseModel):
    stage: str
    contacts: int = Field(description="Contacts that reached the stage (each counted once)")
    rate_from_previous: float | None = Field(
        description="contacts / the previous step's; can exceed 1 when an earlier step goes unreported"
    )
    rate_from_first: float | None = Field(description="contacts / delivered")

    @classmethod
    def of(cls, step: FunnelStep) -> FunnelStepOut:
        return cls(
            stage=step.stage.value,
            contacts=step.contacts,
            rate_from_previous=step.rate_from_previous,
            rate_from_first=step.rate_from_first,
        )


class FunnelResponse(BaseModel):
    item_id: str
    steps: list[FunnelStepOut] = Field(description="delivered → clicked → responded → converted")
    exits: list[FunnelStepOut] = Field(description="opted out and bounced, as shares of the delivered")

    @classmethod
    def of(cls, funnel: Funnel) -> FunnelResponse:
        return cls(
            item_id=funnel.item_id,
            steps=[FunnelStepOut.of(s) for s in funnel.steps],
            exits=[FunnelStepOut.of(s) for s in funnel.exits],
        )
