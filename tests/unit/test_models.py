"""The service's side of the fit: contacts to sufficient statistics in whole days, the fit or the
prior by the minimum-sample rule, the stored record, and what answers use."""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import UTC, datetime

import pytest

from engagement.domain.aggregates import ObservedEvent
from engagement.domain.contact import ContactState
from engagement.domain.decay import MS_PER_DAY
from engagement.domain.event_types import EventType
from engagement.domain.fitting import fit_bgnbd
from engagement.domain.models import FitSample, ModelSet, apply_models, fit_models, in_use, prior_models
from engagement.domain.probabilities import CDNOW_BGNBD, BgNbdParams, ProbabilityConfig, contact_probabilities
from engagement.domain.scoring_config import DEFAULT_SCORING_CONFIG, from_environment
from engagement.domain.timefmt import to_ms

from .test_fitting import simulate_bgnbd

AT = to_ms(datetime(2026, 12, 6, 3, tzinfo=UTC))
CONFIG = ProbabilityConfig()


def state(*events: tuple[EventType, float]) -> ContactState:
    observed = [
        ObservedEvent(f"e{n}", "u", "i", kind, AT - round(days_ago * MS_PER_DAY), None, 0)
        for n, (kind, days_ago) in enumerate(events)
    ]
    found = ContactState.from_events("u", observed)
    assert found is not None
    return found


def test_a_contact_becomes_x_t_x_and_t_in_whole_days_from_its_first_engagement() -> None:
    sample = FitSample()
    # Deliveries before the first click do not start the history: the first engagement does.
    sample.add(
        state(
            (EventType.DELIVERED, 30),
            (EventType.CLICKED, 20.2),
            (EventType.CONVERTED, 10.4),
            (EventType.RESPONDED, 6.1),
        ),
        AT,
    )
    sample.add(state((EventType.DELIVERED, 3), (EventType.BOUNCED, 2)), AT)  # never engaged: no data
    sample.add(state((EventType.QUERY, 5)), AT)
    assert sample.bgnbd == Counter({(2, 14, 20): 1, (0, 0, 5): 1})
    assert sample.rates == Counter({(1, 3): 1, (0, 1): 1})
    assert sample.contacts == 2
    assert sample.earliest_ms == AT - round(20.2 * MS_PER_DAY)


def test_samples_merge_and_survive_their_stored_form() -> None:
    one, two = FitSample(), FitSample()
    one.add(state((EventType.CLICKED, 9), (EventType.CLICKED, 2)), AT)
    two.add(state((EventType.CLICKED, 12), (EventType.CLICKED, 5)), AT)
    two.add(state((EventType.CLICKED, 9), (EventType.CLICKED, 2)), AT)
    merged = FitSample.from_json(one.to_json()).merge(FitSample.from_json(two.to_json()))
    assert merged.bgnbd == Counter({(1, 7, 9): 2, (1, 7, 12): 1})
    assert merged.earliest_ms == AT - 12 * MS_PER_DAY
    assert FitSample.from_json(merged.to_json()) == merged


def sample_from(stats: list[tuple[int, float, float]]) -> FitSample:
    """Simulated (x, t_x, T) in weeks, stored as the job stores them: whole days."""
    sample = FitSample()
    for x, t_x, big_t in stats:
        sample.bgnbd[(x, round(t_x * 7), round(big_t * 7))] += 1
        sample.rates[(0, x + 1)] += 1
    return sample


def test_the_weekly_fit_recovers_known_parameters_through_day_rounded_statistics() -> None:
    """10,000 contacts simulated from parameters far from CDNOW's, stored in whole days: every
    estimate within 4 standard errors of the truth.

    The standard errors are the fit's own (observed information, checked against replicates in
    tests/unit/test_fitting.py): here about 2 % of r, 3 % of alpha, 8 % of a and 10 % of b, and
    the estimates land 0.3-1.4 of them away. Rounding to a day moves T and t_x by at most half a
    day against histories of 27 to 39 weeks, well inside that.
    """
    truth = BgNbdParams(r=0.8, alpha=6.0, a=0.6, b=3.5)
    sample = sample_from(simulate_bgnbd(truth, 10_000, seed=1206))
    sample.rates = Counter({(1, 4): 3000, (0, 4): 4000, (3, 6): 3000})  # overdispersed: a prior exists
    models = fit_models(sample, AT, CONFIG, min_contacts=500)
    bgnbd = models.bgnbd
    assert bgnbd.source == "fitted"
    assert bgnbd.version == "bgnbd@2026-12-06T03:00:00Z"
    assert bgnbd.sample_size == 10_000
    assert bgnbd.log_likelihood is not None
    errors = fit_bgnbd(
        {(x, t / 7, big_t / 7): n for (x, t, big_t), n in sample.bgnbd.items()}
    ).standard_errors
    assert errors is not None
    for name, max_relative_error in (("r", 0.04), ("alpha", 0.04), ("a", 0.15), ("b", 0.15)):
        true, se = getattr(truth, name), getattr(errors, name)
        assert se < max_relative_error * true, (name, se)
        assert abs(bgnbd.parameters[name] - true) < 4 * se, (name, bgnbd.parameters[name], true, se)
    assert bgnbd.parameters["time_unit_days"] == 7.0
    assert models.conversion.source == "fitted"
    assert models.conversion.version == "beta@2026-12-06T03:00:00Z"
    assert models.run_at_ms == AT


def test_below_the_minimum_sample_the_configured_prior_stays_with_the_reason() -> None:
    sample = sample_from(simulate_bgnbd(CDNOW_BGNBD, 800, seed=1))
    models = fit_models(sample, AT, CONFIG, min_contacts=500)
    qualifying = sum(n for (x, _, _), n in sample.bgnbd.items() if x >= 1)
    assert qualifying < 500
    assert models.bgnbd.source == "prior"
    assert models.bgnbd.version == "prior:cdnow-2005"
    assert models.bgnbd.parameters["r"] == CDNOW_BGNBD.r
    assert models.bgnbd.qualifying_contacts == qualifying
    assert models.bgnbd.sample_size == 800
    assert f"only {qualifying} of 800 contacts" in models.bgnbd.note
    assert models.conversion.source == "prior"
    # The same sample fits once the operator lowers the bar.
    assert fit_models(sample, AT, CONFIG, min_contacts=qualifying).bgnbd.source == "fitted"


def test_no_engaged_contact_at_all_keeps_both_priors() -> None:
    models = fit_models(FitSample(), AT, CONFIG, min_contacts=500)
    assert (models.bgnbd.source, models.conversion.source) == ("prior", "prior")
    assert models.bgnbd.sample_size == 0


def test_answers_use_the_fitted_models_and_name_them() -> None:
    sample = sample_from(simulate_bgnbd(BgNbdParams(r=0.8, alpha=6.0, a=0.6, b=3.5), 3000, seed=3))
    sample.rates = Counter({(1, 4): 900, (0, 4): 1200, (3, 6): 900})
    fitted = ModelSet.from_json(fit_models(sample, AT, CONFIG, min_contacts=500).to_json())
    config = apply_models(DEFAULT_SCORING_CONFIG, in_use(DEFAULT_SCORING_CONFIG, fitted))
    probabilities = config.probabilities
    assert probabilities.bgnbd.r == fitted.bgnbd.parameters["r"]
    assert probabilities.bgnbd_model == "bgnbd@2026-12-06T03:00:00Z"
    assert probabilities.conversion_prior_mean == fitted.conversion.parameters["mean"]
    assert probabilities.conversion_prior_model == "beta@2026-12-06T03:00:00Z"
    assert probabilities.horizon_days == CONFIG.horizon_days  # only the models change


def test_a_stored_fallback_uses_todays_configured_prior_not_the_one_it_stored() -> None:
    stored = fit_models(FitSample(), AT, CONFIG, min_contacts=500)
    operator = from_environment({"PREDICTION": "r=0.5,alpha=3"})
    listed = in_use(operator, stored)
    assert listed.bgnbd.version == "prior:configured"
    assert listed.bgnbd.parameters["r"] == 0.5
    assert listed.bgnbd.sample_size == 0  # what the fit saw is still reported
    assert apply_models(operator, listed) == operator


def test_before_any_fit_the_configured_priors_are_listed() -> None:
    models = prior_models(CONFIG)
    assert (models.bgnbd.version, models.conversion.version) == ("prior:cdnow-2005", "prior:default")
    assert in_use(DEFAULT_SCORING_CONFIG, None) == models
    assert apply_models(DEFAULT_SCORING_CONFIG, models) == DEFAULT_SCORING_CONFIG


@pytest.mark.parametrize("field", ["r", "alpha", "a", "b"])
def test_a_fitted_set_replaces_every_bgnbd_parameter(field: str) -> None:
    sample = sample_from(simulate_bgnbd(BgNbdParams(r=0.8, alpha=6.0, a=0.6, b=3.5), 3000, seed=3))
    fitted = fit_models(sample, AT, CONFIG, min_contacts=500)
    applied = apply_models(DEFAULT_SCORING_CONFIG, fitted).probabilities.bgnbd
    assert getattr(applied, field) == fitted.bgnbd.parameters[field]
    assert dataclasses.replace(applied) == applied


def test_every_probability_names_its_model_even_without_enough_data() -> None:
    engaged = state((EventType.CLICKED, 30), (EventType.RESPONDED, 9), (EventType.CONVERTED, 2))
    answers = contact_probabilities(engaged, AT, CONFIG)
    assert (answers.engagement.model, answers.churn_risk.model) == ("prior:cdnow-2005", "prior:cdnow-2005")
    assert answers.conversion.model == "prior:cdnow-2005+prior:default"
    thin = contact_probabilities(state((EventType.CLICKED, 3)), AT, CONFIG)
    assert thin.engagement.status == "insufficient_data"
    assert thin.engagement.model == "prior:cdnow-2005"
    operator = from_environment({"PREDICTION": "r=0.5,conversion_prior_mean=0.1"}).probabilities
    configured = contact_probabilities(engaged, AT, operator)
    assert configured.churn_risk.model == "prior:configured"
    assert configured.conversion.model == "prior:configured+prior:configured"
    assert from_environment({"PREDICTION": "horizon_days=14"}).probabilities.bgnbd_model == "prior:cdnow-2005"
