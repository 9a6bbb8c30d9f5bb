from __future__ import annotations

import dataclasses
import math
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engagement.domain.aggregates import ObservedEvent
from engagement.domain.decay import MS_PER_DAY
from engagement.domain.event_types import EventType
from engagement.domain.probabilities import (
    CDNOW_BGNBD,
    BgNbdParams,
    ProbabilityConfig,
    contact_probabilities,
    expected_transactions,
    hyp2f1,
    p_alive,
    prob_any_event,
    smoothed_rate,
)
from tests.unit.test_crm import AT, WORKED_EXAMPLE, event, histories, state_of

WEEK_MS = 7 * MS_PER_DAY

# --- BG/NBD against lifetimes ------------------------------------------------------------------
#
# Reference numbers from lifetimes 0.11.3 (BetaGeoFitter.conditional_probability_alive and
# BetaGeoFitter.conditional_expected_number_of_purchases_up_to_time), in a scratch venv outside
# the repository (pip resolved Lifetimes 0.11.3, numpy 2.4.6, pandas 3.1.1, scipy 1.17.1,
# autograd 1.9.1 on Python 3.11.7; lifetimes 0.11.3 keeps the fit in `params_`, a pandas Series
# read by `_unload_params("r", "alpha", "a", "b")`):
#
#   python3 -m venv /tmp/lt && /tmp/lt/bin/pip install lifetimes
#   /tmp/lt/bin/python - <<'EOF'
#   import pandas as pd
#   from lifetimes import BetaGeoFitter
#   bgf = BetaGeoFitter()
#   bgf.params_ = pd.Series(dict(r=0.243, alpha=4.414, a=0.793, b=2.426))
#   for x, tx, T in [(2, 30.43, 38.86), (0, 0.0, 38.86), (10, 10.0, 38.9), (30, 38.0, 39.0),
#                    (2, 5.0, 38.9), (1, 0.0, 0.5), (5, 20.0, 25.0)]:
#       print(x, tx, T, repr(float(bgf.conditional_probability_alive(x, tx, T)[0])))
#       for t in (4.0, 39.0, 520.0):
#           print("  ", t, repr(float(bgf.conditional_expected_number_of_purchases_up_to_time(t, x, tx, T))))
#   EOF

LIFETIMES_P_ALIVE = [
    # (x, t_x, T) in weeks -> conditional_probability_alive
    (2, 30.43, 38.86, 0.726578570080673),
    (0, 0.0, 38.86, 1.0),
    (10, 10.0, 38.9, 0.00018364854233983785),
    (30, 38.0, 39.0, 0.9514226348291313),
    (2, 5.0, 38.9, 0.1234544921799783),
    (1, 0.0, 0.5, 0.7280582775245548),
    (5, 20.0, 25.0, 0.7531418940558069),
]

LIFETIMES_EXPECTED = [
    # (t, x, t_x, T) in weeks -> conditional_expected_number_of_purchases_up_to_time
    (4.0, 2, 30.43, 38.86, 0.14733443008415406),
    (39.0, 2, 30.43, 38.86, 1.226028174767135),
    (520.0, 2, 30.43, 38.86, 7.319313811711086),
    (4.0, 0, 0.0, 38.86, 0.02215262146648201),
    (39.0, 0, 0.0, 38.86, 0.19509805201125396),
    (520.0, 0, 0.0, 38.86, 1.4645477714482162),
    (4.0, 10, 10.0, 38.9, 0.00016855203428865553),
    (39.0, 10, 10.0, 38.9, 0.0013355080733823427),
    (520.0, 10, 10.0, 38.9, 0.0069698189010655295),
    (4.0, 30, 38.0, 39.0, 2.56448244435383),
    (39.0, 30, 38.0, 39.0, 19.977866024261452),
    (520.0, 30, 38.0, 39.0, 100.59747338085246),
    (4.0, 2, 5.0, 38.9, 0.025011284148171036),
    (39.0, 2, 5.0, 38.9, 0.2081534744287482),
    (4.0, 1, 0.0, 0.5, 0.6381291290400515),
    (39.0, 1, 0.0, 0.5, 3.5205679610174605),
    (520.0, 1, 0.0, 0.5, 12.251828943468526),  # z = 520 / 524.9: past the series' comfort zone
    (4.0, 5, 20.0, 25.0, 0.5162976306706173),
    (39.0, 5, 20.0, 25.0, 3.906432626815722),
]


@pytest.mark.parametrize(("x", "t_x", "T", "expected"), LIFETIMES_P_ALIVE)
def test_p_alive_matches_lifetimes(x: int, t_x: float, T: float, expected: float) -> None:
    assert p_alive(x, t_x, T, CDNOW_BGNBD) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(("t", "x", "t_x", "T", "expected"), LIFETIMES_EXPECTED)
def test_expected_transactions_match_lifetimes(
    t: float, x: int, t_x: float, T: float, expected: float
) -> None:
    assert expected_transactions(t, x, t_x, T, CDNOW_BGNBD) == pytest.approx(expected, rel=1e-6)


def test_p_alive_is_the_closed_form_written_out() -> None:
    # 1 / (1 + a/(b+x-1) · ((alpha+T)/(alpha+t_x))^(r+x)) with x = 2, t_x = 30.43, T = 38.86
    odds = 0.793 / (2.426 + 1) * ((4.414 + 38.86) / (4.414 + 30.43)) ** (0.243 + 2)
    assert p_alive(2, 30.43, 38.86) == pytest.approx(1 / (1 + odds), rel=1e-12)


def test_a_frequent_contact_gone_silent_is_almost_certainly_dead_and_a_recent_one_alive() -> None:
    assert p_alive(10, 10.0, 38.9) < 0.001
    assert p_alive(10, 38.5, 38.9) > 0.9


def test_p_alive_does_not_overflow_for_a_heavy_history() -> None:
    assert p_alive(5000, 1.0, 400.0) == 0.0
    assert p_alive(5000, 400.0, 400.0) == pytest.approx(1 / (1 + 0.793 / (2.426 + 4999)))


@pytest.mark.parametrize(
    ("x", "t_x", "T"), [(-1, 0.0, 1.0), (1, 2.0, 1.0), (1, -1.0, 1.0), (1, 0.0, math.inf)]
)
def test_an_impossible_history_is_rejected(x: int, t_x: float, T: float) -> None:
    with pytest.raises(ValueError, match=r"must be non-negative|t_x <= T"):
        p_alive(x, t_x, T)


def test_expected_transactions_is_zero_over_no_time_and_grows_with_the_window() -> None:
    assert expected_transactions(0.0, 2, 30.43, 38.86) == 0.0
    windows = [expected_transactions(t, 2, 30.43, 38.86) for t in (1.0, 4.0, 13.0, 39.0, 104.0)]
    assert windows == sorted(windows)
    assert windows[0] > 0


def test_expected_transactions_rejects_the_removable_singularity_at_a_equal_1() -> None:
    with pytest.raises(ValueError, match="a != 1"):
        expected_transactions(4.0, 2, 1.0, 2.0, BgNbdParams(a=1.0))


def test_prob_any_event_is_p_alive_times_the_gamma_poisson_chance_of_an_event() -> None:
    # notes §5.2: x=2, t_x=30.43, T=38.86, t=4 weeks: 0.73 · 0.18 ≈ 0.13
    no_event = ((4.414 + 38.86) / (4.414 + 38.86 + 4)) ** (0.243 + 2)
    expected = 0.726578570080673 * (1 - no_event)
    assert prob_any_event(4.0, 2, 30.43, 38.86) == pytest.approx(expected, rel=1e-9)
    assert prob_any_event(4.0, 2, 30.43, 38.86) == pytest.approx(0.1307, abs=5e-4)
    assert prob_any_event(0.0, 2, 30.43, 38.86) == 0.0


def test_bgnbd_parameters_must_be_positive() -> None:
    with pytest.raises(ValueError, match="parameter alpha must be a positive"):
        BgNbdParams(alpha=0.0)


# --- hyp2f1 ---------------------------------------------------------------------------------


@pytest.mark.parametrize("z", [0.0, 1e-6, 0.1, 0.5, 0.9, 0.95, 0.99, 0.999])
def test_hyp2f1_1_1_2_is_minus_log_1_minus_z_over_z(z: float) -> None:
    expected = 1.0 if z == 0 else -math.log1p(-z) / z
    assert hyp2f1(1, 1, 2, z) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("z", [0.3, 0.9, 0.97, 0.999])
def test_hyp2f1_with_b_equal_c_is_a_power_of_1_minus_z(z: float) -> None:
    # The connection formula's first coefficient has 1/Γ(c - b) = 1/Γ(0) = 0 above z = 0.9.
    assert hyp2f1(0.5, 2.3, 2.3, z) == pytest.approx((1 - z) ** -0.5, rel=1e-12)


@pytest.mark.parametrize("s", [0.2, 0.7, 0.96, 0.99, 0.9995])
def test_hyp2f1_half_half_three_halves_is_arcsin(s: float) -> None:
    assert hyp2f1(0.5, 0.5, 1.5, s * s) == pytest.approx(math.asin(s) / s, rel=1e-12)


def test_hyp2f1_with_a_negative_integer_parameter_is_a_polynomial() -> None:
    b, c, z = 2.5, 3.5, 0.99
    expected = 1 + (-2 * b / c) * z + (2 * b * (b + 1) / (c * (c + 1) * 2)) * z * z
    assert hyp2f1(-2, b, c, z) == pytest.approx(expected, rel=1e-14)


# mpmath 1.4.1 at 50 digits (mpmath.hyp2f1(a, b, c, z) in the same scratch venv, `pip install mpmath`).
MPMATH_HYP2F1 = [
    ((2.243, 4.426, 4.219, 0.4), 3.3455001100530906),  # BG/NBD, x = 2, direct form
    ((0.976, -0.207, 32.219, 0.47), 0.9970193256258274),  # the Euler-side form expected_transactions uses
    ((30.243, 32.426, 32.219, 0.47), 247261007.99351496),  # x = 30, direct terms grow: Euler form
    ((2.5, 1.5, 4.3, 0.97), 7.13897782553261),  # connection formula
    ((21.6, 30.3, 43.4, 0.905), 8452096475269.797),  # connection formula cancels: falls back
    ((1.27, 33.8, 8.29, 0.5), 6285.699445836198),  # Euler form cancels: falls back to direct
    ((-0.3, 0.7, -1.6, 0.6), 0.44081754954247193),  # negative c
    ((0.5, 0.5, 1.5, 0.999), 1.5399384391655189),
]


@pytest.mark.parametrize(("args", "expected"), MPMATH_HYP2F1)
def test_hyp2f1_matches_mpmath(args: tuple[float, float, float, float], expected: float) -> None:
    assert hyp2f1(*args) == pytest.approx(expected, rel=1e-11)


def test_hyp2f1_raises_rather_than_guess_when_no_form_converges() -> None:
    # c - a - b = 0 rules out the connection formula and the series needs ~370,000 terms.
    with pytest.raises(ArithmeticError, match="cannot be evaluated"):
        hyp2f1(1, 1, 2, 0.9999)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((1.0, 1.0, 2.0, 1.0), "0 <= z < 1"),
        ((1.0, 1.0, 2.0, -0.1), "0 <= z < 1"),
        ((1.0, 1.0, 0.0, 0.5), "non-positive integer"),
        ((1.0, 1.0, -2.0, 0.5), "non-positive integer"),
        ((math.nan, 1.0, 2.0, 0.5), "a must be finite"),
    ],
)
def test_hyp2f1_outside_its_domain_is_rejected(args: tuple[float, float, float, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        hyp2f1(*args)


# --- Beta-Binomial smoothing ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("k", "n", "expected"), [(1, 1, 0.095), (5, 20, 0.15), (20, 100, 0.175), (0, 0, 0.05), (0, 20, 0.025)]
)
def test_smoothed_rate_known_answers(k: int, n: int, expected: float) -> None:
    # (α₀ + k) / (α₀ + β₀ + n) with α₀ = 0.05 · 20 = 1, β₀ = 19
    assert smoothed_rate(k, n, 0.05, 20) == pytest.approx((1 + k) / (20 + n))
    assert smoothed_rate(k, n, 0.05, 20) == pytest.approx(expected, abs=5e-4)


@pytest.mark.parametrize(
    ("k", "n", "mean", "strength"), [(2, 1, 0.05, 20), (-1, 1, 0.05, 20), (0, 1, 0.0, 20), (0, 1, 0.5, 0)]
)
def test_smoothed_rate_rejects_impossible_inputs(k: int, n: int, mean: float, strength: float) -> None:
    with pytest.raises(ValueError, match=r"need 0 <= k <= n|prior_mean|prior_strength"):
        smoothed_rate(k, n, mean, strength)


# --- contact probabilities --------------------------------------------------------------------


def test_one_engagement_is_insufficient_data_for_every_probability() -> None:
    state = state_of([event("d", EventType.DELIVERED, 9), event("r", EventType.RESPONDED, 3)])
    result = contact_probabilities(state, AT)
    for probability in (result.engagement, result.conversion, result.churn_risk):
        assert probability.status == "insufficient_data"
        assert probability.value is None
        assert probability.basis == "needs at least 2 engagement events; has 1"
    assert result.engagement.horizon_days == 30.0
    assert result.churn_risk.horizon_days is None


def test_sends_alone_are_insufficient_data() -> None:
    state = state_of([event(f"d{i}", EventType.DELIVERED, i) for i in range(5)])
    assert contact_probabilities(state, AT).churn_risk.basis == "needs at least 2 engagement events; has 0"


def test_worked_example_probabilities_are_the_bgnbd_closed_forms_in_weeks() -> None:
    # Engagements: 2 clicks 3 days ago, a reply 2 days ago, a conversion 1 day ago (the send is not one).
    x, t_x, T, t = 3, 2 / 7, 3 / 7, 30 / 7
    result = contact_probabilities(state_of(WORKED_EXAMPLE), AT)

    assert result.engagement.status == "ok"
    assert result.engagement.value == pytest.approx(prob_any_event(t, x, t_x, T), rel=1e-12)
    assert result.churn_risk.value == pytest.approx(1 - p_alive(x, t_x, T), rel=1e-12)
    rate = (1 + 1) / (20 + 4)  # 1 conversion in 4 engagements, prior 0.05 · 20
    expected_conversion = 1 - math.exp(-rate * expected_transactions(t, x, t_x, T))
    assert result.conversion.value == pytest.approx(expected_conversion, rel=1e-12)
    assert (result.engagement.value, result.conversion.value, result.churn_risk.value) == pytest.approx(
        (0.7282, 0.1518, 0.1649), abs=5e-4
    )
    assert result.engagement.basis == "4 engagement events over 0.4 weeks"
    assert result.churn_risk.basis == "4 engagement events over 0.4 weeks; last 0.1 weeks ago"
    assert result.conversion.basis == (
        "1 conversion in 4 engagement events, smoothed rate 0.083; 1.98 engagements expected"
    )


def test_an_instant_before_the_last_engagement_is_read_as_just_after_it() -> None:
    state = state_of(WORKED_EXAMPLE)
    early = contact_probabilities(state, AT - 2 * MS_PER_DAY)
    just_after = contact_probabilities(state, AT - MS_PER_DAY)
    assert early == just_after
    assert early.churn_risk.value == pytest.approx(1 - p_alive(3, 2 / 7, 2 / 7))


def test_silence_raises_churn_risk_and_lowers_the_chance_of_engagement() -> None:
    state = state_of(WORKED_EXAMPLE)
    now = contact_probabilities(state, AT)
    later = contact_probabilities(state, AT + 26 * WEEK_MS)
    assert now.churn_risk.value is not None
    assert later.churn_risk.value is not None
    assert later.churn_risk.value > now.churn_risk.value
    assert now.engagement.value is not None
    assert later.engagement.value is not None
    assert later.engagement.value < now.engagement.value


def test_a_suppressed_contact_still_gets_behavioural_probabilities() -> None:
    state = state_of([*WORKED_EXAMPLE, event("x", EventType.OPTED_OUT, 0.5, detail="STOP")])
    result = contact_probabilities(state, AT)
    assert result == contact_probabilities(state_of(WORKED_EXAMPLE), AT)


def test_conversion_uses_the_configured_prior_and_horizon() -> None:
    config = ProbabilityConfig(horizon_days=7.0, conversion_prior_mean=0.5, conversion_prior_strength=2.0)
    result = contact_probabilities(state_of(WORKED_EXAMPLE), AT, config)
    rate = (1 + 1) / (2 + 4)
    assert result.conversion.horizon_days == 7.0
    assert result.conversion.value == pytest.approx(
        1 - math.exp(-rate * expected_transactions(1.0, 3, 2 / 7, 3 / 7)), rel=1e-12
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"horizon_days": 0.0}, "horizon_days"),
        ({"min_engagement_events": 0}, "min_engagement_events"),
        ({"conversion_prior_mean": 1.0}, "prior_mean"),
    ],
)
def test_invalid_probability_settings_are_rejected(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(ProbabilityConfig(), **kwargs)


@settings(max_examples=200, deadline=None)
@given(histories(), st.integers(min_value=0, max_value=400 * MS_PER_DAY))
def test_probabilities_are_within_0_and_1_or_explicitly_missing(
    events: list[ObservedEvent], later_ms: int
) -> None:
    state = state_of(events)
    result = contact_probabilities(state, AT + later_ms)
    for probability in (result.engagement, result.conversion, result.churn_risk):
        if state.engagement_count >= 2:
            assert probability.status == "ok"
            assert probability.value is not None
            assert 0.0 <= probability.value <= 1.0
        else:
            assert probability.status == "insufficient_data"
            assert probability.value is None


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=1, max_value=200),
    st.floats(min_value=0.0, max_value=1.0),
    st.floats(min_value=0.0, max_value=520.0),
    st.floats(min_value=0.0, max_value=520.0),
)
def test_expected_transactions_is_finite_and_non_negative_for_any_history(
    x: int, recency_share: float, T: float, t: float
) -> None:
    value = expected_transactions(t, x, recency_share * T, T)
    assert math.isfinite(value)
    assert value >= 0.0
    assert prob_any_event(t, x, recency_share * T, T) <= p_alive(x, recency_share * T, T)


def test_a_conversion_value_does_not_change_the_probabilities() -> None:
    cheap = [*WORKED_EXAMPLE[:-1], event("v1", EventType.CONVERTED, 1, Decimal(1))]
    assert contact_probabilities(state_of(cheap), AT) == contact_probabilities(state_of(WORKED_EXAMPLE), AT)
