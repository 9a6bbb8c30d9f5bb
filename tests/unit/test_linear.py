from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from engagement.domain.linear import LINEAR
from engagement.domain.timefmt import to_ms

LAST = datetime(2026, 1, 1, tzinfo=UTC)


def at_days(days: float) -> datetime:
    return LAST + timedelta(days=days)


@pytest.mark.parametrize(("days", "recency"), [(0, 1.0), (7, 0.705), (14, 0.497), (30, 0.223)])
def test_recency_known_answers(days: float, recency: float) -> None:
    assert LINEAR.evaluate(1, to_ms(LAST), at_days(days)).recency == pytest.approx(recency, abs=5e-4)


@pytest.mark.parametrize(("count", "frequency"), [(1, 0.2), (3, 0.6), (5, 1.0), (50, 1.0)])
def test_frequency_saturates_at_five_interactions(count: int, frequency: float) -> None:
    assert LINEAR.evaluate(count, to_ms(LAST), LAST).frequency == pytest.approx(frequency)


def test_score_combines_the_terms_with_their_weights() -> None:
    result = LINEAR.evaluate(2, to_ms(LAST), at_days(7))
    assert result.score == pytest.approx(0.4 * 0.4 + 0.6 * math.exp(-0.35))
    assert result.idle_factor == 1.0


def test_a_fresh_engagement_with_five_interactions_scores_one() -> None:
    assert LINEAR.evaluate(5, to_ms(LAST), LAST).score == pytest.approx(1.0)


@pytest.mark.parametrize(("days", "idle"), [(30, 1.0), (30.99, 1.0), (31, 0.9), (32.5, 0.81), (40, 0.9**10)])
def test_idle_factor_loses_ten_percent_per_whole_day_beyond_thirty(days: float, idle: float) -> None:
    assert LINEAR.evaluate(1, to_ms(LAST), at_days(days)).idle_factor == pytest.approx(idle)


def test_recency_is_continuous_within_a_day() -> None:
    morning = LINEAR.evaluate(1, to_ms(LAST), at_days(1.25)).score
    evening = LINEAR.evaluate(1, to_ms(LAST), at_days(1.75)).score
    assert morning > evening


def test_as_of_before_the_last_interaction_counts_as_no_idle_time() -> None:
    result = LINEAR.evaluate(1, to_ms(LAST), at_days(-3))
    assert result.recency == 1.0
    assert result.days_since_last_interaction == 0.0


def test_ninety_idle_days_take_any_engagement_below_the_cleanup_threshold() -> None:
    assert LINEAR.evaluate(500, to_ms(LAST), at_days(90)).score < 0.01
    assert LINEAR.evaluate(500, to_ms(LAST), at_days(60)).score > 0.01
