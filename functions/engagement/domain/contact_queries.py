"""Read models of contacts and campaigns: the CRM score with everything around it, history,
segments and funnels. Pure: the store is a port."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from engagement.domain.aggregates import ObservedEvent
from engagement.domain.contact_records import FUNNEL_STAGES, ContactRecord
from engagement.domain.event_types import EventType
from engagement.domain.explain import Explanation, explain
from engagement.domain.instants import evaluation_instant
from engagement.domain.scoring_config import DEFAULT_SCORING_CONFIG, ScoringConfig
from engagement.domain.upkeep import ContactEvaluation, evaluate_contact, percentile_rank

RECENT_EVENTS = 100
"""Events read for an explanation: the latest of them carry nearly all of TD (an event 100
events back in a busy contact's history contributes little at a 14-day half-life)."""

FUNNEL_STEPS = (EventType.DELIVERED, EventType.CLICKED, EventType.RESPONDED, EventType.CONVERTED)
FUNNEL_EXITS = (EventType.OPTED_OUT, EventType.BOUNCED)


class ContactReader(Protocol):
    def get_contact(self, user_id: str) -> ContactRecord | None: ...
    def recent_events(self, user_id: str, *, until_ms: int, limit: int) -> list[ObservedEvent]: ...
    def percentile_histogram(self) -> dict[int, int]: ...


@dataclass(frozen=True)
class ContactScore:
    record: ContactRecord
    at_ms: int
    evaluation: ContactEvaluation
    percentile: float | None
    explanation: Explanation


def contact_score(
    reader: ContactReader,
    user_id: str,
    at_ms: int,
    *,
    explicit: bool,
    config: ScoringConfig = DEFAULT_SCORING_CONFIG,
) -> ContactScore | None:
    """The contact's CRM score at ``at_ms`` with probabilities, percentile, band and explanation.

    Aggregates hold every event absorbed so far and cannot take events back out, so they answer
    for instants from the latest event on. An explicit ``as_of`` before it is refused (the
    history has the earlier days); "now" before it (an event up to the ingest's 5-minute clock
    allowance in the future) is read as that event's instant.
    """
    record = reader.get_contact(user_id)
    if record is None:
        return None
    at_ms = evaluation_instant(at_ms, record.state.last_ms, explicit=explicit)
    evaluation = evaluate_contact(record.state, at_ms, config)
    recent = reader.recent_events(user_id, until_ms=at_ms, limit=RECENT_EVENTS)
    return ContactScore(
        record=record,
        at_ms=at_ms,
        evaluation=evaluation,
        percentile=percentile_rank(evaluation.bucket, reader.percentile_histogram()),
        explanation=explain(
            evaluation.score,
            record.state,
            recent,
            at_ms,
            config.crm,
            probabilities=evaluation.probabilities,
        ),
    )


@dataclass(frozen=True)
class FunnelStep:
    stage: EventType
    contacts: int
    rate_from_previous: float | None
    """contacts / the previous step's contacts; None when that is 0. It can exceed 1 when an
    earlier step goes unreported (a provider without delivery receipts)."""
    rate_from_first: float | None


@dataclass(frozen=True)
class Funnel:
    item_id: str
    steps: tuple[FunnelStep, ...]
    exits: tuple[FunnelStep, ...]
    """Opted out and bounced, as shares of the delivered."""


class FunnelReader(Protocol):
    def funnel(self, item_id: str) -> dict[EventType, int]: ...


def campaign_funnel(reader: FunnelReader, item_id: str) -> Funnel | None:
    """Contacts reaching each stage of a campaign (each counted once per stage), and the rates.
    None when no contact reached any stage."""
    counts = reader.funnel(item_id)
    if not any(counts.get(stage, 0) for stage in FUNNEL_STAGES):
        return None
    return Funnel(item_id=item_id, steps=_steps(counts), exits=_exits(counts))


def _rate(count: int, base: int) -> float | None:
    return None if base <= 0 else round(count / base, 4)


def _steps(counts: Mapping[EventType, int]) -> tuple[FunnelStep, ...]:
    first = counts.get(FUNNEL_STEPS[0], 0)
    steps = []
    previous: int | None = None
    for stage in FUNNEL_STEPS:
        n = counts.get(stage, 0)
        steps.append(
            FunnelStep(
                stage=stage,
                contacts=n,
                rate_from_previous=None if previous is None else _rate(n, previous),
                rate_from_first=_rate(n, first),
            )
        )
        previous = n
    return tuple(steps)


def _exits(counts: Mapping[EventType, int]) -> tuple[FunnelStep, ...]:
    delivered = counts.get(EventType.DELIVERED, 0)
    return tuple(
        FunnelStep(
            stage=stage,
            contacts=counts.get(stage, 0),
            rate_from_previous=_rate(counts.get(stage, 0), delivered),
            rate_from_first=_rate(counts.get(stage, 0), delivered),
        )
        for stage in FUNNEL_EXITS
    )
