"""Explanations: why a contact has the CRM score it has, from the evidence the score rests on.

Three parts, all deterministic for the same inputs:

* ``components``: each component's value (0-100), weight and contribution (weight · value) in
  points of the composite, largest contribution first;
* ``top_events``: the (up to three) recent events that contribute most to the score now. An
  event's share of the TD component is its own term of S,

      points_e = w_type · exp(-λ (at - t_e)) / S · TD contribution · penalty factor

  so the shares of all events sum to TD's contribution (in points of the displayed composite).
  Only positive contributions are listed; ties go to the more recent event, then the smaller id;
* ``sentence``: one plain sentence, e.g. "Score 72: replied twice and converted once this week;
  recency is high." (see :func:`explain`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from engagement.domain.aggregates import ObservedEvent
from engagement.domain.contact import ENGAGEMENT_TYPES, ContactState
from engagement.domain.crm import CrmConfig, CrmScore
from engagement.domain.decay import MS_PER_DAY
from engagement.domain.event_types import EventType
from engagement.domain.probabilities import ContactProbabilities, Probability
from engagement.domain.timefmt import from_ms

TOP_EVENTS = 3
WEEK_DAYS = 7
HIGH_RECENCY = 70.0
FADING_RECENCY = 30.0

# Verbs in a fixed order, so the sentence does not depend on the order events arrived in.
_VERBS: tuple[tuple[EventType, str], ...] = (
    (EventType.RESPONDED, "replied"),
    (EventType.CLICKED, "clicked"),
    (EventType.CONVERTED, "converted"),
    (EventType.QUERY, "asked about issues"),
    (EventType.MENTION, "mentioned issues"),
    (EventType.VIEW, "viewed issues"),
    (EventType.OPENED, "opened"),
)


@dataclass(frozen=True)
class ComponentPart:
    name: str
    value: float
    """0-100."""
    weight: float
    points: float
    """weight · value: what the component adds to the composite before any suppression penalty."""


@dataclass(frozen=True)
class EventContribution:
    event_id: str
    type: EventType
    item_id: str
    occurred_ms: int
    points: float
    """Points of the composite this event accounts for now, rounded to 0.1."""


@dataclass(frozen=True)
class Explanation:
    components: tuple[ComponentPart, ...]
    top_events: tuple[EventContribution, ...]
    sentence: str
    probability_notes: tuple[str, ...]
    """One line per probability: its value or why there is none, and what it rests on."""


def _whole(value: float) -> int:
    """Half up, not Python's round-half-to-even, so 72.5 reads as 73 like people expect."""
    return math.floor(value + 0.5)


def _times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def _join(phrases: Sequence[str]) -> str:
    if len(phrases) <= 1:
        return "".join(phrases)
    return f"{', '.join(phrases[:-1])} and {phrases[-1]}"


def _relevant(recent: Sequence[ObservedEvent], state: ContactState, at_ms: int) -> list[ObservedEvent]:
    """The contact's own events up to ``at``, each id once (a redelivered event is one event)."""
    unique: dict[str, ObservedEvent] = {}
    for event in recent:
        if event.user_id == state.user_id and event.occurred_ms <= at_ms:
            unique.setdefault(event.event_id, event)
    return sorted(unique.values(), key=lambda e: e.event_id)


def _top_events(
    events: Sequence[ObservedEvent], score: CrmScore, state: ContactState, config: CrmConfig
) -> tuple[EventContribution, ...]:
    total = score.decayed_weighted_sum
    td_points = score.contributions.time_decay * score.penalty_factor
    if total <= 0 or td_points <= 0:
        return ()
    rate = state.decay.rate_per_ms
    scored: list[tuple[float, ObservedEvent]] = []
    for event in events:
        weight = config.type_weight(event.type)
        points = weight * math.exp(-rate * (score.at_ms - event.occurred_ms)) / total * td_points
        if points > 0:
            scored.append((points, event))
    scored.sort(key=lambda pe: (-pe[0], -pe[1].occurred_ms, pe[1].event_id))
    return tuple(
        EventContribution(
            event_id=event.event_id,
            type=event.type,
            item_id=event.item_id,
            occurred_ms=event.occurred_ms,
            points=round(points, 1),
        )
        for points, event in scored[:TOP_EVENTS]
    )


def _activity(events: Sequence[ObservedEvent], score: CrmScore) -> str:
    week_start = score.at_ms - WEEK_DAYS * MS_PER_DAY
    counts: dict[EventType, int] = {}
    for event in events:
        if event.type in ENGAGEMENT_TYPES and event.occurred_ms >= week_start:
            counts[event.type] = counts.get(event.type, 0) + 1
    phrases = [f"{verb} {_times(counts[t])}" for t, verb in _VERBS if t in counts]
    if phrases:
        return f"{_join(phrases)} this week"
    days = math.floor(score.days_since_last_engagement or 0.0)
    if days == 0:
        return "last engaged today"
    return f"last engaged {days} day{'' if days == 1 else 's'} ago"


def _recency_level(recency: float) -> str:
    if recency >= HIGH_RECENCY:
        return "high"
    if recency >= FADING_RECENCY:
        return "fading"
    return "low"


def _sentence(score: CrmScore, state: ContactState, events: Sequence[ObservedEvent]) -> str:
    head = f"Score {_whole(score.composite)}"
    if score.suppressed:
        # The fold records the type's own name when the opt-out carried no keyword or error code;
        # "(opted_out)" after "opted out" would say nothing, so only a real reason is shown.
        known = state.opt_out_reason not in (None, "", EventType.OPTED_OUT.value)
        reason = f" ({state.opt_out_reason})" if known else ""
        since = state.suppressed_since_ms
        when = "" if since is None else f" on {from_ms(since).date().isoformat()}"
        return f"{head}: opted out{reason}{when}; not messageable."
    if state.last_engagement_ms is None:
        return f"{head}: no engagement yet."
    return f"{head}: {_activity(events, score)}; recency is {_recency_level(score.components.recency)}."


def _probability_note(label: str, probability: Probability) -> str:
    window = "" if probability.horizon_days is None else f" in the next {probability.horizon_days:g} days"
    if probability.status != "ok" or probability.value is None:
        return f"{label}{window}: insufficient data ({probability.basis})"
    return f"{label}{window}: {probability.value:.0%} ({probability.basis})"


def explain(
    score: CrmScore,
    state: ContactState,
    recent: Sequence[ObservedEvent],
    at_ms: int,
    config: CrmConfig,
    *,
    probabilities: ContactProbabilities | None = None,
) -> Explanation:
    """Explain ``score`` (the CRM profile's result for ``state`` at ``at_ms`` under ``config``).

    ``recent`` is whatever event history the caller has at hand (duplicates and other contacts'
    events are ignored, as are events after ``at``); ``top_events`` and the weekly counts are
    drawn from it, the rest from the score and the state. The sentence is, first match wins:

    * suppressed: "Score 3: opted out (STOP) on 2026-11-02; not messageable.";
    * never engaged: "Score 0: no engagement yet.";
    * otherwise "Score N: <activity>; recency is <high | fading | low>." where activity counts the
      engagement events of the last 7 days ("replied twice and converted once this week") or,
      with none, says when the contact last engaged ("last engaged 12 days ago"), and the recency
      level is R ≥ 70 high, ≥ 30 fading, else low.

    The score is shown rounded half up to a whole number.
    """
    if at_ms != score.at_ms:
        raise ValueError(f"score was computed at {score.at_ms}, explanation asked at {at_ms}")
    weights = dict(config.weights.items())
    values = dict(score.components.items())
    order = {name: i for i, name in enumerate(weights)}
    parts = sorted(
        (
            ComponentPart(name=name, value=values[name], weight=weights[name], points=points)
            for name, points in score.contributions.items()
        ),
        key=lambda part: (-part.points, order[part.name]),
    )
    events = _relevant(recent, state, at_ms)
    notes: tuple[str, ...] = ()
    if probabilities is not None:
        notes = (
            _probability_note("engagement", probabilities.engagement),
            _probability_note("conversion", probabilities.conversion),
            _probability_note("churn risk", probabilities.churn_risk),
        )
    return Explanation(
        components=tuple(parts),
        top_events=_top_events(events, score, state, config),
        sentence=_sentence(score, state, events),
        probability_notes=notes,
    )
