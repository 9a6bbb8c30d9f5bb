from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engagement.domain.aggregates import ObservedEvent
from engagement.domain.crm import CRM
from engagement.domain.event_types import EventType
from engagement.domain.explain import Explanation, explain
from engagement.domain.probabilities import contact_probabilities
from engagement.domain.timefmt import to_ms
from tests.unit.test_crm import AT, WORKED_EXAMPLE, event, histories, state_of, td


def explained(
    events: Sequence[ObservedEvent], recent: Sequence[ObservedEvent] | None = None, at_ms: int = AT
) -> Explanation:
    state = state_of(events)
    score = CRM.evaluate(state, at_ms)
    return explain(score, state, events if recent is None else recent, at_ms, CRM.config)


# --- components ------------------------------------------------------------------------------


def test_components_are_listed_by_contribution_with_value_weight_and_points() -> None:
    parts = explained(WORKED_EXAMPLE).components
    assert [p.name for p in parts] == ["recency", "frequency", "time_decay", "monetary", "diversity"]
    assert [p.weight for p in parts] == [0.30, 0.25, 0.15, 0.20, 0.10]
    for part in parts:
        assert part.points == pytest.approx(part.weight * part.value)
    assert [round(p.points, 2) for p in parts] == [29.02, 23.48, 12.74, 10.41, 10.0]


# --- top events ------------------------------------------------------------------------------


def test_top_events_are_each_events_share_of_the_time_decay_points() -> None:
    # share_e = w_e · 2^(-age/14) / S, points = share_e · 0.15 · TD
    total = 1 * 2 ** (-10 / 14) + 3 * 2 * 2 ** (-3 / 14) + 4 * 2 ** (-2 / 14) + 10 * 2 ** (-1 / 14)
    td_points = 0.15 * td(total)
    top = explained(WORKED_EXAMPLE).top_events
    assert [(e.event_id, e.type) for e in top] == [
        ("v1", EventType.CONVERTED),
        ("r1", EventType.RESPONDED),
        ("c1", EventType.CLICKED),  # ties with c2 (same type, same instant): the smaller id
    ]
    assert top[0].points == round(10 * 2 ** (-1 / 14) / total * td_points, 1) == 6.4
    assert top[1].points == round(4 * 2 ** (-2 / 14) / total * td_points, 1) == 2.4
    assert top[2].points == round(3 * 2 ** (-3 / 14) / total * td_points, 1) == 1.7
    assert top[0].item_id == "item-1"
    assert top[0].occurred_ms == AT - 86_400_000


def test_the_shares_of_all_events_add_up_to_the_time_decay_contribution() -> None:
    events = [
        event("r", EventType.RESPONDED, 2),
        event("c", EventType.CLICKED, 5),
        event("q", EventType.QUERY, 9),
    ]
    result = explained(events)
    time_decay = next(p for p in result.components if p.name == "time_decay")
    assert sum(e.points for e in result.top_events) == pytest.approx(time_decay.points, abs=0.15)


def test_events_that_do_not_add_to_the_score_are_not_top_events() -> None:
    events = [
        event("c", EventType.CLICKED, 2),
        event("x", EventType.OPTED_OUT, 40),  # negative weight
        event("b", EventType.BOUNCED, 1),  # zero weight
    ]
    future = event("f", EventType.CONVERTED, -1)  # after the instant explained
    stranger = event("s", EventType.CONVERTED, 1, user="someone-else")
    result = explained(events, recent=[*events, future, stranger, events[0]])
    assert [e.event_id for e in result.top_events] == ["c"]


def test_a_contact_whose_opt_outs_outweigh_its_engagement_has_no_top_events() -> None:
    events = [event("c", EventType.CLICKED, 20), event("x", EventType.OPTED_OUT, 1)]
    assert explained(events).top_events == ()


def test_equal_contributions_are_ordered_by_event_id() -> None:
    events = [event("b", EventType.QUERY, 2), event("a", EventType.CLICKED, 2)]  # both weigh 3
    assert [e.event_id for e in explained(events).top_events] == ["a", "b"]


# --- sentence --------------------------------------------------------------------------------


def test_worked_example_sentence() -> None:
    assert explained(WORKED_EXAMPLE).sentence == (
        "Score 86: replied once, clicked twice and converted once this week; recency is high."
    )


def test_counts_beyond_two_are_written_as_n_times() -> None:
    events = [event(f"r{i}", EventType.RESPONDED, i) for i in range(3)]
    assert explained(events).sentence == "Score 67: replied 3 times this week; recency is high."


def test_every_engagement_type_has_its_verb_in_a_fixed_order() -> None:
    types = [
        EventType.OPENED,
        EventType.VIEW,
        EventType.MENTION,
        EventType.QUERY,
        EventType.CONVERTED,
        EventType.CLICKED,
        EventType.RESPONDED,
    ]
    events = [event(f"e{i}", t, 1 + i / 2) for i, t in enumerate(types)]
    sentence = explained(events).sentence
    assert sentence.split(": ", 1)[1] == (
        "replied once, clicked once, converted once, asked about issues once, mentioned issues once, "
        "viewed issues once and opened once this week; recency is high."
    )


def test_sends_do_not_count_as_activity_this_week() -> None:
    events = [event("r", EventType.RESPONDED, 12), event("d", EventType.DELIVERED, 1)]
    # R = 100 e^(-12/30) = 67.0: fading
    assert explained(events).sentence == "Score 39: last engaged 12 days ago; recency is fading."


def test_an_old_engagement_reads_as_low_recency() -> None:
    assert explained([event("r", EventType.RESPONDED, 40)]).sentence == (
        "Score 16: last engaged 40 days ago; recency is low."
    )


@pytest.mark.parametrize(("days", "phrase"), [(1.5, "last engaged 1 day ago"), (0.5, "last engaged today")])
def test_without_recent_events_the_sentence_says_when_the_contact_last_engaged(
    days: float, phrase: str
) -> None:
    sentence = explained([event("r", EventType.RESPONDED, days)], recent=[]).sentence
    assert sentence.split(": ", 1)[1] == f"{phrase}; recency is high."


def test_a_suppressed_contact_says_when_and_why_it_opted_out() -> None:
    at = to_ms(datetime(2026, 11, 5, tzinfo=UTC))
    reply = ObservedEvent(
        "r", "u1", "i", EventType.RESPONDED, to_ms(datetime(2026, 10, 30, 9, tzinfo=UTC)), None, 0
    )
    stop_ms = to_ms(datetime(2026, 11, 2, 18, tzinfo=UTC))
    stop = ObservedEvent("x", "u1", "i", EventType.OPTED_OUT, stop_ms, None, 0, "STOP")
    state = state_of([reply, stop])
    score = CRM.evaluate(state, at)
    assert score.composite == pytest.approx(4.40, abs=5e-3)
    assert explain(score, state, [reply, stop], at, CRM.config).sentence == (
        "Score 4: opted out (STOP) on 2026-11-02; not messageable."
    )


def test_an_opt_out_without_a_recorded_reason_still_reads_plainly() -> None:
    events = [event("r", EventType.RESPONDED, 3), event("x", EventType.OPTED_OUT, 1)]
    assert explained(events).sentence.endswith(": opted out on 2026-02-28; not messageable.")


@pytest.mark.parametrize(
    ("events", "sentence"),
    [
        ([event("b", EventType.BOUNCED, 0)], "Score 0: no engagement yet."),
        ([event("d", EventType.DELIVERED, 0)], "Score 1: no engagement yet."),  # 0.15 · TD(S = 1) = 1.43
    ],
)
def test_a_contact_that_never_engaged_says_so(events: list[ObservedEvent], sentence: str) -> None:
    assert explained(events).sentence == sentence


@pytest.mark.parametrize(
    ("composite", "shown"), [(72.5, "Score 73:"), (72.49, "Score 72:"), (85.65, "Score 86:")]
)
def test_the_score_is_shown_rounded_half_up(composite: float, shown: str) -> None:
    # round() would show 72 for 72.5 (half to even)
    state = state_of(WORKED_EXAMPLE)
    score = dataclasses.replace(CRM.evaluate(state, AT), composite=composite)
    assert explain(score, state, WORKED_EXAMPLE, AT, CRM.config).sentence.startswith(shown)


# --- probabilities and contract --------------------------------------------------------------


def test_probability_notes_state_value_horizon_and_basis() -> None:
    state = state_of(WORKED_EXAMPLE)
    score = CRM.evaluate(state, AT)
    probabilities = contact_probabilities(state, AT)
    notes = explain(
        score, state, WORKED_EXAMPLE, AT, CRM.config, probabilities=probabilities
    ).probability_notes
    assert notes == (
        "engagement in the next 30 days: 73% (4 engagement events over 0.4 weeks)",
        "conversion in the next 30 days: 15% "
        "(1 conversion in 4 engagement events, smoothed rate 0.083; 1.98 engagements expected)",
        "churn risk: 16% (4 engagement events over 0.4 weeks; last 0.1 weeks ago)",
    )
    assert explained(WORKED_EXAMPLE).probability_notes == ()


def test_missing_probabilities_say_why() -> None:
    events = [event("r", EventType.RESPONDED, 1)]
    state = state_of(events)
    notes = explain(
        CRM.evaluate(state, AT), state, events, AT, CRM.config, probabilities=contact_probabilities(state, AT)
    ).probability_notes
    assert notes[2] == "churn risk: insufficient data (needs at least 2 engagement events; has 1)"


def test_explaining_a_score_at_another_instant_is_refused() -> None:
    state = state_of(WORKED_EXAMPLE)
    with pytest.raises(ValueError, match="score was computed at"):
        explain(CRM.evaluate(state, AT), state, WORKED_EXAMPLE, AT + 1, CRM.config)


@settings(max_examples=200, deadline=None)
@given(histories(), st.randoms(use_true_random=False))
def test_the_explanation_does_not_depend_on_the_order_or_repetition_of_recent_events(
    events: list[ObservedEvent], rng: random.Random
) -> None:
    state = state_of(events)
    score = CRM.evaluate(state, AT)
    shuffled = [*events, *events[:3]]
    rng.shuffle(shuffled)
    assert explain(score, state, shuffled, AT, CRM.config) == explain(score, state, events, AT, CRM.config)


@settings(max_examples=200, deadline=None)
@given(histories())
def test_top_events_are_at_most_three_positive_and_sorted(events: list[ObservedEvent]) -> None:
    top = explained(events).top_events
    assert len(top) <= 3
    assert all(e.points >= 0 for e in top)
    assert [e.points for e in top] == sorted((e.points for e in top), reverse=True)


def test_conversion_value_does_not_change_an_events_share() -> None:
    cheap = [*WORKED_EXAMPLE[:-1], event("v1", EventType.CONVERTED, 1, Decimal(1))]
    assert explained(cheap).top_events == explained(WORKED_EXAMPLE).top_events
