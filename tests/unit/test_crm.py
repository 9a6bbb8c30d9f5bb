from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engagement.domain.aggregates import ObservedEvent
from engagement.domain.contact import ENGAGEMENT_TYPES, ContactState
from engagement.domain.crm import (
    CRM,
    DEFAULT_TYPE_WEIGHTS,
    NO_ENGAGEMENT_BUCKET,
    PERCENTILE_BUCKET_WIDTH,
    CrmComponents,
    CrmConfig,
    CrmProfile,
    CrmScore,
    engagement_level_key,
    percentile_bucket,
    ranked_bucket,
)
from engagement.domain.decay import MS_PER_DAY, ORIGIN_MS, TD_DECAY
from engagement.domain.event_types import EventType
from engagement.domain.timefmt import to_ms
from engagement.domain.upkeep import percentile_rank

AT = to_ms(datetime(2026, 3, 1, 12, tzinfo=UTC))
USER = "u1"
LAMBDA_PER_DAY = math.log(2) / 14
TWO_YEARS_MS = 730 * MS_PER_DAY
TD_PRECISION = 1e-8
"""Stored accumulators round each event to 1e-9 of its weight (domain.decay), so TD-derived numbers
match the hand-written sums to about that, not to the last float digit."""


def event(
    event_id: str,
    event_type: EventType,
    days_ago: float,
    value: Decimal | None = None,
    *,
    user: str = USER,
    detail: str | None = None,
) -> ObservedEvent:
    ms = AT - round(days_ago * MS_PER_DAY)
    return ObservedEvent(event_id, user, "item-1", event_type, ms, value, ms // 1000, detail)


def state_of(events: Sequence[ObservedEvent], user: str = USER) -> ContactState:
    state = ContactState.from_events(user, events)
    assert state is not None
    return state


def score_of(events: Sequence[ObservedEvent], at_ms: int = AT, config: CrmConfig | None = None) -> CrmScore:
    profile = CRM if config is None else CrmProfile(config)
    return profile.evaluate(state_of(events), at_ms)


def td(weighted_sum: float) -> float:
    return 100 * (1 - math.exp(-max(0.0, weighted_sum) / 10))


# --- recency ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("days", "expected"), [(0, 100.0), (7, 79.19), (30, 36.79), (90, 4.98)])
def test_recency_known_answers(days: float, expected: float) -> None:
    score = score_of([event("r", EventType.RESPONDED, days)])
    assert score.components.recency == pytest.approx(100 * math.exp(-days / 30), rel=1e-12)
    assert score.components.recency == pytest.approx(expected, abs=5e-3)
    assert score.days_since_last_engagement == pytest.approx(days)


def test_recency_is_measured_from_the_contacts_own_last_action_not_the_last_send() -> None:
    score = score_of([event("c", EventType.CLICKED, 10), event("d", EventType.DELIVERED, 1)])
    assert score.days_since_last_engagement == pytest.approx(10)
    assert score.components.recency == pytest.approx(100 * math.exp(-10 / 30))


def test_a_contact_that_never_engaged_has_zero_recency_and_no_days_since() -> None:
    score = score_of([event("d", EventType.DELIVERED, 1), event("b", EventType.BOUNCED, 2)])
    assert score.components.recency == 0.0
    assert score.days_since_last_engagement is None


def test_an_instant_before_the_last_engagement_counts_as_zero_days() -> None:
    score = score_of([event("r", EventType.RESPONDED, 0)], at_ms=AT - 3 * MS_PER_DAY)
    assert score.days_since_last_engagement == 0.0
    assert score.components.recency == 100.0


# --- frequency -------------------------------------------------------------------------------


def test_frequency_of_one_engagement_a_week_is_1_minus_1_over_e() -> None:
    # rate = 1 / max(7, 0) per day = rho, so F = 100 · (1 - e^-1) = 63.21
    score = score_of([event("r", EventType.RESPONDED, 0)])
    assert score.engagement_rate_per_day == pytest.approx(1 / 7)
    assert score.components.frequency == pytest.approx(63.21, abs=5e-3)


def test_frequency_counts_engagements_over_the_span_since_the_first_event_of_any_kind() -> None:
    # 3 engagements; first event (a send) 21 days ago: rate = 3/21 per day, F = 100 (1 - e^(-(3/21)·7))
    events = [
        event("d", EventType.DELIVERED, 21),
        event("c", EventType.CLICKED, 5),
        event("r", EventType.RESPONDED, 4),
        event("q", EventType.QUERY, 1),
    ]
    score = score_of(events)
    assert score.engagement_rate_per_day == pytest.approx(3 / 21)
    assert score.components.frequency == pytest.approx(100 * (1 - math.exp(-(3 / 21) * 7)), rel=1e-12)
    assert score.components.frequency == pytest.approx(63.21, abs=5e-3)


def test_four_engagements_in_the_first_week_are_measured_over_the_minimum_span() -> None:
    events = [event(f"r{i}", EventType.RESPONDED, 0.5 * i) for i in range(4)]
    score = score_of(events)
    assert score.engagement_rate_per_day == pytest.approx(4 / 7)
    assert score.components.frequency == pytest.approx(98.17, abs=5e-3)


def test_sends_and_bounces_do_not_count_as_the_contacts_frequency() -> None:
    events = [event(f"d{i}", EventType.DELIVERED, i) for i in range(10)] + [event("b", EventType.BOUNCED, 0)]
    score = score_of(events)
    assert score.engagement_rate_per_day == 0.0
    assert score.components.frequency == 0.0


# --- monetary --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("9", 25.0), ("99", 50.0), ("999", 75.0), ("9999", 100.0), ("99999", 100.0), ("120", 52.07)],
)
def test_monetary_earns_25_points_per_decade_of_value(value: str, expected: float) -> None:
    score = score_of([event("v", EventType.CONVERTED, 1, Decimal(value))])
    assert score.components.monetary == pytest.approx(min(100, 25 * math.log10(1 + float(value))), rel=1e-12)
    assert score.components.monetary == pytest.approx(expected, abs=5e-3)


@pytest.mark.parametrize("value", [None, "0", "-40"])
def test_monetary_is_zero_without_positive_value(value: str | None) -> None:
    score = score_of([event("v", EventType.CONVERTED, 1, None if value is None else Decimal(value))])
    assert score.components.monetary == 0.0


# --- time decay ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event_type", "days", "weighted_sum", "expected"),
    [
        (EventType.RESPONDED, 0, 4.0, 32.97),
        (EventType.RESPONDED, 14, 2.0, 18.13),  # one half-life: half the weight
        (EventType.CONVERTED, 0, 10.0, 63.21),  # S = κ: 1 - 1/e
        (EventType.DELIVERED, 28, 0.25, 2.47),
    ],
)
def test_time_decay_known_answers(
    event_type: EventType, days: float, weighted_sum: float, expected: float
) -> None:
    score = score_of([event("e", event_type, days)])
    assert score.decayed_weighted_sum == pytest.approx(weighted_sum, rel=TD_PRECISION)
    assert score.components.time_decay == pytest.approx(td(weighted_sum), rel=TD_PRECISION)
    assert score.components.time_decay == pytest.approx(expected, abs=5e-3)


def test_time_decay_weighs_each_type_and_decays_each_event() -> None:
    # S = 2 · 2^(-3/14) + 1 · 2^(-5/14) + 3 · 2^(-1/14) + 0 (bounced)
    events = [
        event("o", EventType.OPENED, 3),
        event("v", EventType.VIEW, 5),
        event("q", EventType.QUERY, 1),
        event("b", EventType.BOUNCED, 0),
    ]
    expected = 2 * 2 ** (-3 / 14) + 2 ** (-5 / 14) + 3 * 2 ** (-1 / 14)
    score = score_of(events)
    assert score.decayed_weighted_sum == pytest.approx(expected, rel=TD_PRECISION)
    assert score.components.time_decay == pytest.approx(td(expected), rel=TD_PRECISION)


def test_an_opt_out_makes_the_weighted_sum_negative_and_time_decay_zero() -> None:
    score = score_of([event("x", EventType.OPTED_OUT, 0), event("d", EventType.DELIVERED, 0)])
    assert score.decayed_weighted_sum == pytest.approx(-4.0)
    assert score.components.time_decay == 0.0


def test_type_weights_apply_at_read_time_so_a_change_is_retroactive() -> None:
    weights = tuple((t, 20.0 if t is EventType.CLICKED else w) for t, w in DEFAULT_TYPE_WEIGHTS)
    events = [event("c", EventType.CLICKED, 14)]
    assert score_of(events).decayed_weighted_sum == pytest.approx(1.5)
    assert score_of(events, config=CrmConfig(type_weights=weights)).decayed_weighted_sum == pytest.approx(
        10.0
    )


# --- diversity -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("types", "expected"),
    [
        ((EventType.CLICKED,), 100 / 3),
        ((EventType.CLICKED, EventType.CLICKED), 100 / 3),
        ((EventType.CLICKED, EventType.QUERY), 200 / 3),
        ((EventType.CLICKED, EventType.QUERY, EventType.VIEW), 100.0),
        ((EventType.CLICKED, EventType.QUERY, EventType.VIEW, EventType.OPENED), 100.0),
        ((EventType.DELIVERED, EventType.BOUNCED, EventType.OPTED_OUT, EventType.OPTED_IN), 0.0),
    ],
)
def test_diversity_counts_distinct_engagement_types_up_to_three(
    types: tuple[EventType, ...], expected: float
) -> None:
    score = score_of([event(f"e{i}", t, i) for i, t in enumerate(types)])
    assert score.components.diversity == pytest.approx(expected)


# --- composite -------------------------------------------------------------------------------

WORKED_EXAMPLE = [
    event("d1", EventType.DELIVERED, 10),
    event("c1", EventType.CLICKED, 3),
    event("c2", EventType.CLICKED, 3),
    event("r1", EventType.RESPONDED, 2),
    event("v1", EventType.CONVERTED, 1, Decimal(120)),
]


def test_worked_example_every_component_and_the_composite() -> None:
    # 1 delivered 10 days ago, 2 clicked 3 days ago, 1 responded 2 days ago, 1 converted ($120) 1 day ago.
    recency = 100 * math.exp(-1 / 30)  # last engagement 1 day ago
    frequency = 100 * (1 - math.exp(-(4 / 10) / (1 / 7)))  # 4 engagements over 10 days since the send
    monetary = 25 * math.log10(121)
    weighted = 1 * 2 ** (-10 / 14) + 3 * 2 * 2 ** (-3 / 14) + 4 * 2 ** (-2 / 14) + 10 * 2 ** (-1 / 14)
    time_decay = td(weighted)
    diversity = 100.0  # clicked, responded, converted
    composite = 0.30 * recency + 0.25 * frequency + 0.20 * monetary + 0.15 * time_decay + 0.10 * diversity

    score = score_of(WORKED_EXAMPLE)

    c = score.components
    assert (c.recency, c.frequency, c.monetary, c.time_decay, c.diversity) == pytest.approx(
        (recency, frequency, monetary, time_decay, diversity), rel=TD_PRECISION
    )
    assert (c.recency, c.frequency, c.monetary, c.time_decay, c.diversity) == pytest.approx(
        (96.72, 93.92, 52.07, 84.92, 100.0), abs=5e-3
    )
    assert score.decayed_weighted_sum == pytest.approx(18.9212, abs=5e-5)
    assert score.composite == pytest.approx(composite, rel=TD_PRECISION)
    assert score.composite == pytest.approx(85.65, abs=5e-3)
    assert not score.suppressed
    assert score.penalty_factor == 1.0


def test_contributions_are_weight_times_component_and_sum_to_the_composite() -> None:
    score = score_of(WORKED_EXAMPLE)
    weights = dict(CRM.config.weights.items())
    for name, value in score.components.items():
        assert getattr(score.contributions, name) == pytest.approx(weights[name] * value)
    assert score.contributions.total() == pytest.approx(score.composite, rel=1e-12)


def test_an_opt_out_suppresses_the_composite_to_ten_percent() -> None:
    events = [*WORKED_EXAMPLE, event("x", EventType.OPTED_OUT, 0.5, detail="STOP")]
    score = score_of(events)
    assert score.suppressed
    assert score.penalty_factor == pytest.approx(0.1)
    assert score.composite == pytest.approx(0.1 * score.contributions.total(), rel=1e-12)


def test_a_later_opt_in_lifts_suppression() -> None:
    events = [*WORKED_EXAMPLE, event("x", EventType.OPTED_OUT, 0.5), event("y", EventType.OPTED_IN, 0.25)]
    assert not score_of(events).suppressed


def test_an_opt_out_after_the_instant_does_not_suppress_it() -> None:
    events = [*WORKED_EXAMPLE, event("x", EventType.OPTED_OUT, 0.5)]
    assert not score_of(events, at_ms=AT - MS_PER_DAY).suppressed
    assert score_of(events, at_ms=AT).suppressed


# --- configuration ---------------------------------------------------------------------------


def test_component_weights_must_sum_to_one() -> None:
    with pytest.raises(ValueError, match="sum to 1"):
        CrmConfig(weights=CrmComponents(0.3, 0.3, 0.2, 0.15, 0.1))


def test_component_weights_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="component weight recency must be a non-negative"):
        CrmConfig(weights=CrmComponents(-0.1, 0.45, 0.3, 0.25, 0.1))


def test_a_type_weight_given_twice_is_rejected() -> None:
    with pytest.raises(ValueError, match="clicked is given twice"):
        CrmConfig(type_weights=((EventType.CLICKED, 1.0), (EventType.CLICKED, 2.0)))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("recency_days", 0.0, "recency_days must be a positive"),
        ("time_decay_scale", -1.0, "time_decay_scale must be a positive"),
        ("diversity_saturation", 0, "diversity_saturation must be at least 1"),
        ("suppression_penalty", 1.5, "suppression_penalty must be within"),
        ("monetary_points_per_decade", -1.0, "monetary_points_per_decade must be non-negative"),
    ],
)
def test_invalid_settings_are_rejected_with_their_name(field: str, value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(CrmConfig(), **{field: value})


def test_the_configuration_is_immutable_and_hashable() -> None:
    config = CrmConfig()
    assert hash(config) == hash(CrmConfig())
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.recency_days = 1.0  # type: ignore[misc]
    assert config.type_weight(EventType.CONVERTED) == 10.0
    assert CrmConfig(type_weights=()).type_weight(EventType.CONVERTED) == 0.0


# --- percentile key --------------------------------------------------------------------------


def positive_sum(state: ContactState, at_ms: int, config: CrmConfig = CRM.config) -> float:
    decayed = state.decayed_counts(at_ms)
    return math.fsum(max(0.0, config.type_weight(t)) * v for t, v in decayed.items() if t in ENGAGEMENT_TYPES)


def test_the_level_key_is_the_log_of_the_positive_sum_carried_back_to_the_origin() -> None:
    # S⁺(at) = exp(key) · exp(-λ (at - origin)), with the opt-out's negative weight left out, and
    # the delivery too: 2 · 3 · ½^(3/14) + 4 · ½^(2/14) + 10 · ½^(1/14) = 18.3116831.
    state = state_of([*WORKED_EXAMPLE, event("x", EventType.OPTED_OUT, 0.5)])
    key = engagement_level_key(state)
    assert key is not None
    days_since_origin = (AT - ORIGIN_MS) / MS_PER_DAY
    assert key - LAMBDA_PER_DAY * days_since_origin == pytest.approx(math.log(18.31168311), abs=1e-8)
    assert key - TD_DECAY.rate_per_ms * (AT - ORIGIN_MS) == pytest.approx(math.log(positive_sum(state, AT)))


def test_no_positive_weight_activity_has_no_level_key() -> None:
    state = state_of([event("x", EventType.OPTED_OUT, 1), event("b", EventType.BOUNCED, 2)])
    assert engagement_level_key(state) is None


def test_deliveries_and_bounces_never_make_a_level_key() -> None:
    # The case: four messages received, none answered. Sends are not engagement.
    state = state_of(
        [*(event(f"d{n}", EventType.DELIVERED, n) for n in range(4)), event("b", EventType.BOUNCED, 5)]
    )
    assert engagement_level_key(state) is None
    assert ranked_bucket(state, AT) == NO_ENGAGEMENT_BUCKET


def test_deliveries_do_not_raise_an_engaged_contacts_key() -> None:
    reply = [event("r", EventType.RESPONDED, 30)]
    with_sends = [*reply, *(event(f"d{n}", EventType.DELIVERED, n) for n in range(20))]
    assert engagement_level_key(state_of(with_sends)) == engagement_level_key(state_of(reply))


def test_a_contact_with_only_deliveries_ranks_below_any_engaged_contact() -> None:
    # Even a single view 300 days ago (the weakest engagement, decayed to ~4e-7) outranks them.
    deliveries = state_of([event(f"d{n}", EventType.DELIVERED, n) for n in range(4)], "sent")
    faint = state_of([event("v", EventType.VIEW, 300)], "faint")
    low, high = ranked_bucket(deliveries, AT), ranked_bucket(faint, AT)
    assert low is not None
    assert high is not None
    assert low < high
    assert percentile_rank(low, {low: 4, high: 1}) < percentile_rank(high, {low: 4, high: 1})  # type: ignore[operator]


def test_a_suppressed_contact_is_not_ranked_until_it_opts_back_in() -> None:
    engaged = [event("c", EventType.CONVERTED, 2, Decimal(50)), event("r", EventType.RESPONDED, 1)]
    opted_out = state_of([*engaged, event("x", EventType.OPTED_OUT, 0.5)])
    assert ranked_bucket(opted_out, AT) is None
    # Before the opt-out it was ranked (an as_of read of the past), and after an opt-in again.
    assert ranked_bucket(opted_out, AT - MS_PER_DAY) is not None
    back = state_of([*engaged, event("x", EventType.OPTED_OUT, 0.5), event("i", EventType.OPTED_IN, 0.2)])
    assert ranked_bucket(back, AT) == ranked_bucket(state_of(engaged), AT)


def test_the_same_event_a_day_later_moves_the_key_up_by_lambda_and_at_least_one_bucket() -> None:
    earlier = engagement_level_key(state_of([event("r", EventType.RESPONDED, 1)]))
    later = engagement_level_key(state_of([event("r", EventType.RESPONDED, 0)]))
    assert earlier is not None
    assert later is not None
    assert later - earlier == pytest.approx(LAMBDA_PER_DAY)
    # ln 1.05 / λ = 0.985 days: a full day of recency always crosses a bucket boundary
    days_per_bucket = PERCENTILE_BUCKET_WIDTH / LAMBDA_PER_DAY
    assert days_per_bucket == pytest.approx(0.985, abs=1e-3)
    assert percentile_bucket(later) - percentile_bucket(earlier) >= 1


@pytest.mark.parametrize(("key", "bucket"), [(0.0, 0), (0.048, 0), (0.049, 1), (-0.001, -1), (1.0, 20)])
def test_percentile_bucket_is_the_floor_of_the_key_over_ln_1_05(key: float, bucket: int) -> None:
    assert percentile_bucket(key) == bucket


# --- properties ------------------------------------------------------------------------------

cents = st.integers(min_value=0, max_value=1_000_000).map(lambda c: Decimal(c) / 100)


@st.composite
def histories(draw: st.DrawFn, user: str = USER, max_size: int = 25) -> list[ObservedEvent]:
    """1..max_size events of random types within the two years ending at AT."""
    size = draw(st.integers(min_value=1, max_value=max_size))
    events = []
    for i in range(size):
        event_type = draw(st.sampled_from(list(EventType)))
        ms = draw(st.integers(min_value=AT - TWO_YEARS_MS, max_value=AT))
        value = draw(st.none() | cents) if event_type is EventType.CONVERTED else None
        detail = "STOP" if event_type is EventType.OPTED_OUT else None
        events.append(
            ObservedEvent(f"{user}-e{i}", user, "item-1", event_type, ms, value, ms // 1000, detail)
        )
    return events


def assert_same_score(left: CrmScore, right: CrmScore) -> None:
    """Equal up to float summation order (accumulators add in arrival order)."""
    assert left.suppressed == right.suppressed
    assert left.at_ms == right.at_ms
    numbers = [
        (left.composite, right.composite),
        (left.engagement_rate_per_day, right.engagement_rate_per_day),
        (left.decayed_weighted_sum, right.decayed_weighted_sum),
        *zip((v for _, v in left.components.items()), (v for _, v in right.components.items()), strict=True),
    ]
    for a, b in numbers:
        assert a == pytest.approx(b, rel=1e-9, abs=1e-9)
    assert (left.days_since_last_engagement is None) == (right.days_since_last_engagement is None)


@settings(max_examples=200, deadline=None)
@given(histories(), st.integers(min_value=0, max_value=400 * MS_PER_DAY))
def test_every_component_and_the_composite_stay_within_0_and_100(
    events: list[ObservedEvent], later_ms: int
) -> None:
    score = score_of(events, at_ms=AT + later_ms)
    for _, value in score.components.items():
        assert 0.0 <= value <= 100.0
    assert 0.0 <= score.composite <= 100.0


@settings(max_examples=200, deadline=None)
@given(histories(), st.floats(min_value=0.0, max_value=1.0), cents)
def test_one_more_conversion_within_the_history_never_lowers_the_composite(
    events: list[ObservedEvent], position: float, value: Decimal
) -> None:
    # Within [first event, at] a conversion can only add: count (same span), value, a positive
    # TD term, maybe a type, maybe a later last engagement. Before the first event it may lower
    # the composite, on purpose: it lengthens the span, and the same engagements over a longer
    # history are a lower frequency.
    before = state_of(events)
    ms = before.first_ms + round(position * (AT - before.first_ms))
    extra = ObservedEvent("extra-conversion", USER, "item-1", EventType.CONVERTED, ms, value, ms // 1000)
    after = state_of([*events, extra])
    assert CRM.evaluate(after, AT).composite >= CRM.evaluate(before, AT).composite


@settings(max_examples=200, deadline=None)
@given(
    histories(),
    st.integers(min_value=-30 * MS_PER_DAY, max_value=400 * MS_PER_DAY),
    st.integers(min_value=0, max_value=400 * MS_PER_DAY),
)
def test_recency_never_rises_as_time_passes_without_events(
    events: list[ObservedEvent], offset_ms: int, step_ms: int
) -> None:
    state = state_of(events)
    first = CRM.evaluate(state, AT + offset_ms)
    second = CRM.evaluate(state, AT + offset_ms + step_ms)
    assert second.components.recency <= first.components.recency


@settings(max_examples=200, deadline=None)
@given(histories(), st.randoms(use_true_random=False), st.data())
def test_the_score_ignores_event_order_and_redelivered_duplicates(
    events: list[ObservedEvent], rng: random.Random, data: st.DataObject
) -> None:
    repeats = data.draw(st.lists(st.sampled_from(events), max_size=10))
    shuffled = [*events, *repeats]
    rng.shuffle(shuffled)
    assert_same_score(score_of(shuffled), score_of(events))


@settings(max_examples=200, deadline=None)
@given(histories())
def test_evaluating_the_same_events_twice_gives_identical_results(events: list[ObservedEvent]) -> None:
    assert score_of(events) == score_of(list(events))


@settings(max_examples=200, deadline=None)
@given(
    histories(user="a"),
    histories(user="b"),
    st.integers(min_value=0, max_value=60 * MS_PER_DAY),
    st.integers(min_value=0, max_value=3 * 365 * MS_PER_DAY),
)
def test_the_level_key_ranks_contacts_as_their_positive_sum_does_at_any_instant(
    events_a: list[ObservedEvent], events_b: list[ObservedEvent], first_offset: int, gap: int
) -> None:
    a, b = state_of(events_a, "a"), state_of(events_b, "b")
    key_a, key_b = engagement_level_key(a), engagement_level_key(b)
    for at_ms in (AT + first_offset, AT + first_offset + gap):
        sum_a, sum_b = positive_sum(a, at_ms), positive_sum(b, at_ms)
        if key_a is None or key_b is None:
            assert (sum_a == 0.0) == (key_a is None)
            assert (sum_b == 0.0) == (key_b is None)
            continue
        if abs(key_a - key_b) < 1e-9:
            assert sum_a == pytest.approx(sum_b, rel=1e-6)
        else:
            assert (key_a > key_b) == (sum_a > sum_b)


@settings(max_examples=200, deadline=None)
@given(histories(), st.integers(min_value=AT - TWO_YEARS_MS, max_value=AT))
def test_a_suppressed_contact_scores_exactly_ten_percent_of_the_same_contact_unsuppressed(
    events: list[ObservedEvent], opt_out_ms: int
) -> None:
    # Same events either way; only an opt-in at `at` (weight 0, not engagement) lifts the opt-out.
    history = [e for e in events if e.type is not EventType.OPTED_IN]
    opt_out = ObservedEvent("stop", USER, "item-1", EventType.OPTED_OUT, opt_out_ms, None, 0, "STOP")
    opt_in = ObservedEvent("start", USER, "item-1", EventType.OPTED_IN, AT, None, 0, None)
    suppressed = score_of([*history, opt_out])
    unsuppressed = score_of([*history, opt_out, opt_in])
    assert suppressed.suppressed
    assert not unsuppressed.suppressed
    assert suppressed.composite == unsuppressed.composite * (1 - 0.9)
    assert suppressed.composite == pytest.approx(0.1 * unsuppressed.composite, rel=1e-12, abs=1e-300)
