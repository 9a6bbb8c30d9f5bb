"""Sampling a score function: the grid, its bound, and the instants an aggregate can answer for."""

from __future__ import annotations

from decimal import Decimal

import pytest

from engagement.domain.aggregates import Aggregate, AggregateKey
from engagement.domain.curves import MAX_POINTS, linear_curve, sampling
from engagement.domain.errors import InvalidInput
from engagement.domain.event_types import EventType
from engagement.domain.linear import LINEAR
from engagement.domain.timefmt import from_ms

DAY = 86_400_000


def test_the_grid_runs_from_from_to_to_inclusive_by_step() -> None:
    grid = sampling(0, 3 * DAY, DAY)
    assert list(grid.instants()) == [0, DAY, 2 * DAY, 3 * DAY]
    assert grid.count == 4


def test_a_step_that_does_not_divide_the_range_stops_before_to() -> None:
    assert list(sampling(0, 10_000, 3_000).instants()) == [0, 3_000, 6_000, 9_000]


def test_the_default_step_cuts_the_range_in_120() -> None:
    assert sampling(0, 120 * DAY, None).count == 121


def test_a_single_instant_is_one_point() -> None:
    assert sampling(DAY, DAY, None).count == 1


def test_the_bound_is_inclusive() -> None:
    assert sampling(0, (MAX_POINTS - 1) * 1000, 1000).count == MAX_POINTS
    with pytest.raises(InvalidInput) as refused:
        sampling(0, MAX_POINTS * 1000, 1000)
    assert refused.value.problems[0].field == "step"


def test_the_future_is_the_score_with_no_new_events() -> None:
    aggregate = Aggregate(AggregateKey("u", "AI-1"), {EventType.QUERY: 3}, Decimal(0), 0, 10 * DAY)
    curve = linear_curve(aggregate, sampling(9 * DAY, 60 * DAY, 7 * DAY))
    assert curve.known_from_ms == 10 * DAY
    assert curve.points[0].score is None  # the aggregate already counts a later event
    for point in curve.points[1:]:
        assert point.score == round(LINEAR.evaluate(3, 10 * DAY, from_ms(point.at_ms)).score, 6)
    scores = [p.score for p in curve.points[1:]]
    assert scores == sorted(scores, reverse=True)


def test_between_the_first_and_the_latest_event_the_aggregate_cannot_say() -> None:
    aggregate = Aggregate(AggregateKey("u", "AI-1"), {EventType.QUERY: 2}, Decimal(0), 2 * DAY, 4 * DAY)
    scores = [p.score for p in linear_curve(aggregate, sampling(DAY, 5 * DAY, DAY)).points]
    assert scores[:3] == [0.0, None, None]
    assert scores[3] is not None
    assert scores[4] is not None
