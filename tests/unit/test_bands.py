from __future__ import annotations

import pytest

from engagement.domain.bands import Band, BandThresholds, classify
from engagement.domain.crm import CrmComponents, CrmScore
from engagement.domain.probabilities import Probability

ZERO = CrmComponents(0.0, 0.0, 0.0, 0.0, 0.0)


def score(composite: float, *, suppressed: bool = False) -> CrmScore:
    return CrmScore(
        composite=composite,
        components=ZERO,
        contributions=ZERO,
        suppressed=suppressed,
        penalty_factor=0.1 if suppressed else 1.0,
        days_since_last_engagement=None,
        engagement_rate_per_day=0.0,
        decayed_weighted_sum=0.0,
        at_ms=0,
    )


def churn(value: float) -> Probability:
    return Probability("ok", value, None, "test")


UNKNOWN = Probability("insufficient_data", None, None, "needs at least 2 engagement events; has 1")


@pytest.mark.parametrize(
    ("composite", "band"),
    [
        (100.0, Band.HOT),
        (60.0, Band.HOT),
        (59.99, Band.WARM),
        (30.0, Band.WARM),
        (29.99, Band.COLD),
        (0.0, Band.COLD),
    ],
)
def test_bands_by_composite_include_their_lower_threshold(composite: float, band: Band) -> None:
    assert classify(score(composite), churn(0.1)) is band


def test_suppression_wins_over_everything() -> None:
    assert classify(score(9.5, suppressed=True), churn(0.99)) is Band.SUPPRESSED
    assert classify(score(9.5, suppressed=True), UNKNOWN) is Band.SUPPRESSED


@pytest.mark.parametrize("composite", [0.0, 30.0, 59.99])
def test_a_contact_below_hot_with_high_churn_risk_is_churning(composite: float) -> None:
    assert classify(score(composite), churn(0.7)) is Band.CHURNING


def test_a_hot_contact_is_not_churning_whatever_the_model_says() -> None:
    assert classify(score(60.0), churn(0.99)) is Band.HOT


def test_churn_risk_just_below_the_threshold_does_not_make_a_contact_churning() -> None:
    assert classify(score(40.0), churn(0.6999)) is Band.WARM


def test_unknown_churn_risk_never_makes_a_contact_churning() -> None:
    assert classify(score(10.0), UNKNOWN) is Band.COLD


def test_custom_thresholds_move_the_bands() -> None:
    thresholds = BandThresholds(hot=80.0, warm=50.0, churning_risk=0.5)
    assert classify(score(70.0), churn(0.1), thresholds) is Band.WARM
    assert classify(score(70.0), churn(0.5), thresholds) is Band.CHURNING
    assert classify(score(45.0), churn(0.1), thresholds) is Band.COLD


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hot": 30.0, "warm": 60.0}, "warm <= hot"),
        ({"hot": 101.0}, "warm <= hot <= 100"),
        ({"warm": -1.0}, "0 <= warm"),
        ({"churning_risk": 0.0}, "churning_risk"),
        ({"churning_risk": 1.5}, "churning_risk"),
    ],
)
def test_inconsistent_thresholds_are_rejected(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BandThresholds(**kwargs)


def test_band_values_are_their_names() -> None:
    assert [b.value for b in Band] == ["hot", "warm", "cold", "churning", "suppressed"]
