"""The fitting core: BG/NBD maximum likelihood, the Beta prior, the minimum-sample rule, and the
fit against lifetimes on CDNOW (the package ships the data, so no network is needed)."""

from __future__ import annotations

import csv
import dataclasses
import math
import random
from collections import Counter
from decimal import Decimal

import pytest

from bench.backtest import fit_lifetimes, lifetimes_dataset, load_purchase_days, split
from engagement.domain.fitting import (
    FittedBgNbd,
    SampleRule,
    beta_binomial_log_likelihood,
    bgnbd_log_likelihood,
    check_rate_sample,
    check_sample,
    digamma,
    fit_beta_prior,
    fit_bgnbd,
    fit_or_keep_bgnbd,
    fit_or_keep_conversion_prior,
    group_stats,
)
from engagement.domain.probabilities import CDNOW_BGNBD, BgNbdParams, ProbabilityConfig

EULER_GAMMA = 0.5772156649015329
PARAMS = ("r", "alpha", "a", "b")


# --- simulators ---------------------------------------------------------------------------------


def simulate_bgnbd(params: BgNbdParams, customers: int, seed: int) -> list[tuple[int, float, float]]:
    """(x, t_x, T) drawn from the BG/NBD story, customers born on one of 84 days as in CDNOW.

    Each customer draws a purchase rate λ ~ Gamma(r, scale 1/alpha) and a dropout probability
    p ~ Beta(a, b); purchases follow a Poisson process from the first one at time 0, and after each
    repeat purchase the customer drops out with probability p (Fader, Hardie & Lee 2005, §3).
    Observation ends 39 weeks after the first possible birth day, so T runs from 27 to 38.9 weeks.
    """
    rng = random.Random(seed)
    out = []
    for _ in range(customers):
        big_t = (272 - rng.randrange(84)) / 7
        rate = rng.gammavariate(params.r, 1 / params.alpha)
        dropout = rng.betavariate(params.a, params.b)
        t, x, t_x = 0.0, 0, 0.0
        while rate > 0:
            t += rng.expovariate(rate)
            if t > big_t:
                break
            x, t_x = x + 1, t
            if rng.random() < dropout:
                break
        out.append((x, t_x, big_t))
    return out


def simulate_rates(
    mean: float, strength: float, contacts: int, seed: int, trials: tuple[int, int]
) -> Counter:
    """((k, n), count): n uniform in ``trials``, each contact's rate from Beta(mean·s, (1-mean)·s)."""
    rng = random.Random(seed)
    counts: Counter[tuple[int, int]] = Counter()
    for _ in range(contacts):
        n = rng.randint(*trials)
        p = rng.betavariate(mean * strength, (1 - mean) * strength)
        counts[(sum(rng.random() < p for _ in range(n)), n)] += 1
    return counts


def direct_bgnbd_likelihood(
    x: int, t_x: float, big_t: float, r: float, alpha: float, a: float, b: float
) -> float:
    """Fader, Hardie & Lee (2005) eq. 6 term by term with Γ and B themselves (fine for small x)."""
    beta_fn = math.gamma(a) * math.gamma(b) / math.gamma(a + b)
    beta_x = math.gamma(a) * math.gamma(b + x) / math.gamma(a + b + x)
    common = math.gamma(r + x) * alpha**r / math.gamma(r)
    alive = beta_x / beta_fn * common / (alpha + big_t) ** (r + x)
    if x == 0:
        return alive
    beta_dead = math.gamma(a + 1) * math.gamma(b + x - 1) / math.gamma(a + b + x)
    return alive + beta_dead / beta_fn * common / (alpha + t_x) ** (r + x)


@pytest.fixture(scope="module")
def simulated() -> list[tuple[int, float, float]]:
    return simulate_bgnbd(CDNOW_BGNBD, 20_000, seed=20050401)


@pytest.fixture(scope="module")
def simulated_fit(simulated: list[tuple[int, float, float]]) -> FittedBgNbd:
    return fit_bgnbd(group_stats(simulated))


# --- special function and likelihood -----------------------------------------------------------


def test_digamma_known_values_and_lgamma_derivative():
    assert digamma(1.0) == pytest.approx(-EULER_GAMMA, rel=1e-14)
    assert digamma(0.5) == pytest.approx(-EULER_GAMMA - 2 * math.log(2), rel=1e-14)
    for x in (1e-6, 0.243, 0.793, 3.7, 12.0, 1e6):
        assert digamma(x + 1) - digamma(x) == pytest.approx(1 / x, rel=1e-12)
        h = 1e-5 * x
        numeric = (math.lgamma(x + h) - math.lgamma(x - h)) / (2 * h)
        assert digamma(x) == pytest.approx(numeric, rel=1e-7, abs=1e-7)
    with pytest.raises(ValueError, match="x > 0"):
        digamma(0.0)


def test_log_likelihood_is_fader_hardie_lee_equation_6():
    sample = {
        (0, 0.0, 38.86): 3,
        (2, 30.43, 38.86): 2,
        (1, 1.71, 38.86): 1,
        (7, 29.43, 35.0): 1,
        (1, 0.0, 0.5): 4,
    }
    for params in (CDNOW_BGNBD, BgNbdParams(r=2.0, alpha=9.0, a=3.0, b=0.7)):
        direct = sum(
            count * math.log(direct_bgnbd_likelihood(*stats, params.r, params.alpha, params.a, params.b))
            for stats, count in sample.items()
        )
        assert bgnbd_log_likelihood(params, sample) == pytest.approx(direct, rel=1e-12)


def test_log_likelihood_stays_finite_for_heavy_histories():
    """x = 2,000: each of the two terms of the likelihood is beyond a float's range (e^±10,000);
    the log-sum-exp is checked against the same sum taken in Decimal, whose exponent range is not."""
    r, alpha, a, b = CDNOW_BGNBD.r, CDNOW_BGNBD.alpha, CDNOW_BGNBD.a, CDNOW_BGNBD.b
    for x, t_x, big_t in ((2000, 38.0, 39.0), (2000, 1.0, 39.0), (300, 2.0, 39.0)):
        a1 = math.lgamma(r + x) - math.lgamma(r) + r * math.log(alpha)
        a2 = math.lgamma(a + b) + math.lgamma(b + x) - math.lgamma(b) - math.lgamma(a + b + x)
        a3 = -(r + x) * math.log(alpha + big_t)
        a4 = math.log(a) - math.log(b + x - 1) - (r + x) * math.log(alpha + t_x)
        assert max(abs(a1 + a3), abs(a1 + a4)) > 709  # e^that overflows a float
        exact = Decimal(a1 + a2) + (Decimal(a3).exp() + Decimal(a4).exp()).ln()
        value = bgnbd_log_likelihood(CDNOW_BGNBD, {(x, t_x, big_t): 1})
        assert math.isfinite(value)
        assert value == pytest.approx(float(exact), rel=1e-12)


# --- BG/NBD fit -----------------------------------------------------------------------------------


def test_fit_recovers_parameters_of_simulated_data(simulated_fit: FittedBgNbd, simulated):
    """20,000 customers simulated from the CDNOW parameters; every estimate within 4 standard errors.

    The tolerance is sampling error, not optimizer error: a different seed moves the estimates by
    about one standard error. The fit's own standard errors (observed information) were checked
    against the spread of 20 seeded replicates at 10,000 customers (empirical SD vs mean SE: r
    0.0065 vs 0.0060, alpha 0.19 vs 0.18, a 0.085 vs 0.088, b 0.35 vs 0.35), so 4 SE is a 4-sigma
    band: a miss has probability ~6e-5 per parameter with correct code, and the seed is fixed. The
    SEs themselves are bounded too (about 2 % of r and alpha, 7-10 % of a and b at this size),
    so an inflated SE cannot make the test pass.
    """
    fit = simulated_fit
    assert fit.converged, fit.message
    assert fit.customers == 20_000
    errors = fit.standard_errors
    assert errors is not None
    for name, max_relative_error in (("r", 0.03), ("alpha", 0.03), ("a", 0.12), ("b", 0.15)):
        true, estimate, se = getattr(CDNOW_BGNBD, name), getattr(fit.params, name), getattr(errors, name)
        assert se < max_relative_error * true, (name, se)
        assert abs(estimate - true) < 4 * se, (name, estimate, true, se)
    # The maximum likelihood estimate explains the sample at least as well as the truth.
    grouped = group_stats(simulated)
    assert fit.log_likelihood >= bgnbd_log_likelihood(CDNOW_BGNBD, grouped)
    assert fit.log_likelihood == pytest.approx(bgnbd_log_likelihood(fit.params, grouped), rel=1e-12)
    assert fit.log_likelihood_per_customer == pytest.approx(fit.log_likelihood / 20_000, rel=1e-12)


def test_fit_is_a_maximum_in_every_direction(simulated_fit: FittedBgNbd, simulated):
    grouped = group_stats(simulated)
    best = bgnbd_log_likelihood(simulated_fit.params, grouped)
    for name in PARAMS:
        for factor in (0.999, 1.001):
            moved = dataclasses.replace(
                simulated_fit.params, **{name: getattr(simulated_fit.params, name) * factor}
            )
            assert bgnbd_log_likelihood(moved, grouped) < best, (name, factor)


def test_grouped_fit_equals_ungrouped(simulated):
    customers = simulated[:4000]
    one_row_each = [(stats, 1) for stats in customers]
    grouped = group_stats(customers)
    assert sum(grouped.values()) == 4000
    assert len(grouped) < 0.8 * 4000  # customers without a repeat share one row per birth day
    ungrouped_fit = fit_bgnbd(one_row_each)
    grouped_fit = fit_bgnbd(grouped)
    assert (ungrouped_fit.groups, grouped_fit.groups) == (4000, len(grouped))
    assert ungrouped_fit.customers == grouped_fit.customers == 4000
    assert grouped_fit.converged
    assert ungrouped_fit.converged
    for name in PARAMS:
        assert getattr(grouped_fit.params, name) == pytest.approx(
            getattr(ungrouped_fit.params, name), rel=1e-6
        )
    assert grouped_fit.log_likelihood == pytest.approx(ungrouped_fit.log_likelihood, rel=1e-10)
    # Repeated keys in an iterable add up, as the mapping's counts do.
    halves = [(stats, count // 2) for stats, count in grouped.items()] + [
        (stats, count - count // 2) for stats, count in grouped.items()
    ]
    halves_fit = fit_bgnbd(halves)
    for name in PARAMS:
        assert getattr(halves_fit.params, name) == pytest.approx(getattr(grouped_fit.params, name), rel=1e-6)


def test_time_unit_changes_only_alpha(simulated):
    """Days instead of weeks: alpha scales by 7 and the log-likelihood moves by Σx·ln 7 (the λ^x density
    term), the other parameters are unchanged."""
    customers = simulated[:3000]
    weeks = fit_bgnbd(group_stats(customers))
    days = fit_bgnbd(group_stats((x, 7 * t_x, 7 * t) for x, t_x, t in customers), time_unit_days=1.0)
    assert days.params.time_unit_days == 1.0
    assert weeks.params.time_unit_days == 7.0
    assert days.params.alpha == pytest.approx(7 * weeks.params.alpha, rel=1e-6)
    for name in ("r", "a", "b"):
        assert getattr(days.params, name) == pytest.approx(getattr(weeks.params, name), rel=1e-6)
    repeats = sum(x for x, _, _ in customers)
    assert days.log_likelihood == pytest.approx(weeks.log_likelihood - repeats * math.log(7), rel=1e-10)


def test_group_stats_rounds_to_a_resolution():
    day = 1 / 7
    stats = [(1, 0.31, 0.32), (1, 0.29, 0.33), (0, 0.0, 10.01), (0, 0.0, 9.99)]
    grouped = group_stats(stats, resolution=day)
    assert sum(grouped.values()) == 4
    assert grouped[(1, 2 * day, 2 * day)] == 2
    assert all(t_x <= t for _, t_x, t in grouped)
    with pytest.raises(ValueError, match="resolution"):
        group_stats(stats, resolution=0.0)


def test_fit_without_repeat_events_does_not_converge():
    # Nobody came back: the rate shrinks toward 0 and (a, b) are not identified.
    fit = fit_bgnbd({(0, 0.0, 30.0): 400, (0, 0.0, 20.0): 300})
    assert not fit.converged
    assert "not identified" in fit.message or "bound" in fit.message


@pytest.mark.parametrize(
    ("stats", "message"),
    [
        ({(1, 5.0, 4.0): 1}, "t_x <= T"),
        ({(-1, 0.0, 4.0): 1}, "non-negative integer"),
        ({(1.0, 0.0, 4.0): 1}, "non-negative integer"),
        ({(1, 0.0, 4.0): -1}, "count"),
        ({(1, 0.0, 4.0): 0}, "no contacts"),
        ({}, "no contacts"),
    ],
)
def test_fit_refuses_invalid_statistics(stats, message):
    with pytest.raises(ValueError, match=message):
        fit_bgnbd(stats)


# --- minimum-sample rule --------------------------------------------------------------------------


def test_sample_rule_counts_contacts_with_two_engagement_events():
    # x = repeat events, so x >= 1 means at least two engagement events.
    below = {(0, 0.0, 30.0): 5000, (1, 3.0, 30.0): 300, (4, 20.0, 30.0): 199}
    check = check_sample(below)
    assert not check.qualifies
    assert (check.contacts, check.qualifying_contacts) == (5499, 499)
    assert "499 of 5499" in check.reason
    assert "needs 500" in check.reason
    at = {**below, (4, 20.0, 30.0): 200}
    assert check_sample(at).qualifies
    assert check_sample(at, SampleRule(min_contacts=200, min_events=5)).qualifying_contacts == 200
    assert not check_sample(at, SampleRule(min_contacts=201, min_events=5)).qualifies


def test_fit_or_keep_keeps_the_stored_prior_below_the_minimum(simulated):
    stored = BgNbdParams(r=0.5, alpha=3.0, a=1.2, b=4.0, time_unit_days=7.0)
    small = group_stats(simulated[:600])  # about 40 % of CDNOW-like contacts repeat: under 500
    choice = fit_or_keep_bgnbd(small, stored)
    assert choice.check.qualifying_contacts < 500
    assert (choice.source, choice.params, choice.fit) == ("stored", stored, None)
    assert "stored prior is kept" in choice.reason

    large = group_stats(simulated[:3000])
    choice = fit_or_keep_bgnbd(large, stored)
    assert choice.source == "fitted"
    assert choice.fit is not None
    assert choice.params == choice.fit.params == fit_bgnbd(large).params


def test_fit_or_keep_keeps_the_stored_prior_when_the_fit_fails():
    stored = CDNOW_BGNBD
    # Enough contacts with two events, but every one bought again at the very end of the window and
    # none dropped out: the dropout probability runs to 0, so (a, b) are not identified.
    sample = {(1, 30.0, 30.0): 600}
    choice = fit_or_keep_bgnbd(sample, stored)
    assert choice.check.qualifies
    assert choice.fit is not None
    assert not choice.fit.converged
    assert (choice.source, choice.params) == ("stored", stored)


# --- Beta prior -------------------------------------------------------------------------------------


def test_beta_binomial_log_likelihood_matches_the_direct_formula():
    sample = {(0, 3): 2, (1, 1): 1, (4, 10): 3}
    mean, strength = 0.2, 7.0
    a, b = mean * strength, (1 - mean) * strength

    def beta_fn(x: float, y: float) -> float:
        return math.gamma(x) * math.gamma(y) / math.gamma(x + y)

    direct = sum(
        c * math.log(math.comb(n, k) * beta_fn(k + a, n - k + b) / beta_fn(a, b))
        for (k, n), c in sample.items()
    )
    assert beta_binomial_log_likelihood(mean, strength, sample) == pytest.approx(direct, rel=1e-12)


def test_beta_prior_maximum_likelihood_recovers_a_known_prior():
    """5,000 contacts with 1-60 trials each, rates from Beta(2, 23) (mean 0.08, strength 25).

    Tolerances are 4 sampling standard deviations, measured over 30 seeded replicates: the mean's
    SD is 0.0009 and the strength's 1.0 (4 %), so the bands are ±0.004 and ±4.5 pseudo-trials.
    """
    sample = simulate_rates(0.08, 25.0, 5000, seed=7, trials=(1, 60))
    fit = fit_beta_prior(sample)
    assert fit.method == "ml"
    assert fit.converged
    assert not fit.at_strength_bound
    assert fit.contacts == 5000
    assert fit.mean == pytest.approx(0.08, abs=0.004)
    assert fit.strength == pytest.approx(25.0, abs=4.5)
    assert fit.alpha == pytest.approx(fit.mean * fit.strength)
    assert fit.beta == pytest.approx((1 - fit.mean) * fit.strength)
    # The maximum: better than the truth and than the moments estimate on the same sample.
    assert fit.log_likelihood >= beta_binomial_log_likelihood(0.08, 25.0, sample)
    assert fit.log_likelihood >= fit_beta_prior(sample, method="moments").log_likelihood
    # It drops into the configuration that smooths conversion rates.
    config = dataclasses.replace(
        ProbabilityConfig(), conversion_prior_mean=fit.mean, conversion_prior_strength=fit.strength
    )
    assert config.conversion_prior_strength == fit.strength


def test_beta_prior_moments_recover_a_known_prior_with_equal_trials():
    """Method of moments with the binomial correction, 5,000 contacts of 20 trials each (where it is
    nearly as good as ML: over 30 replicates the strength's SD is 1.27, against 1.20 for ML; with
    n ranging over 1-60 it is 4.7, which is why ML is the default). Bands are 4 SD."""
    sample = simulate_rates(0.08, 25.0, 5000, seed=11, trials=(20, 20))
    fit = fit_beta_prior(sample, method="moments")
    assert fit.method == "moments"
    assert fit.iterations == 0
    assert fit.mean == pytest.approx(0.08, abs=0.0045)
    assert fit.strength == pytest.approx(25.0, abs=5.1)


def test_beta_prior_moments_closed_form():
    # Rates 0/2, 2/2, 1/4, 3/4: pooled mean 6/12 = 0.5; s² = Σ(p - 0.5)² / 3 = (0.25 + 0.25 + 0.0625
    # + 0.0625) / 3; h = mean(1/n) = 0.375; rho = (s² / 0.25 - h) / (1 - h); strength = 1/rho - 1.
    sample = {(0, 2): 1, (2, 2): 1, (1, 4): 1, (3, 4): 1}
    spread = (0.25 + 0.25 + 0.0625 + 0.0625) / 3
    rho = (spread / 0.25 - 0.375) / (1 - 0.375)
    fit = fit_beta_prior(sample, method="moments")
    assert fit.mean == pytest.approx(0.5)
    assert fit.strength == pytest.approx(1 / rho - 1)


def test_beta_prior_without_overdispersion_is_at_its_bound():
    # Every contact converts at exactly the same rate: only binomial noise separates them.
    sample = simulate_rates(0.1, 1e9, 3000, seed=3, trials=(5, 30))
    for method in ("ml", "moments"):
        fit = fit_beta_prior(sample, method=method, max_strength=1e5)
        pooled = sum(k * c for (k, _), c in sample.items()) / sum(n * c for (_, n), c in sample.items())
        assert fit.at_strength_bound, method
        assert (fit.mean, fit.strength) == (pytest.approx(pooled), 1e5)


@pytest.mark.parametrize(
    ("sample", "message"),
    [
        ({(0, 5): 10, (0, 3): 4}, "mean inside"),
        ({(5, 5): 10}, "mean inside"),
        ({(0, 0): 10}, "no contact has a trial"),
        ({(3, 2): 1}, "k <= n"),
    ],
)
def test_beta_prior_refuses_samples_without_a_prior(sample, message):
    with pytest.raises(ValueError, match=message):
        fit_beta_prior(sample)


def test_conversion_prior_fallback():
    stored = ProbabilityConfig()
    sample = simulate_rates(0.08, 25.0, 1000, seed=5, trials=(1, 3))
    check = check_rate_sample(sample)
    assert check.qualifying_contacts == sum(c for (_, n), c in sample.items() if n >= 2)
    choice = fit_or_keep_conversion_prior(
        sample, stored, SampleRule(min_contacts=check.qualifying_contacts + 1)
    )
    assert (choice.source, choice.mean, choice.strength, choice.fit) == (
        "stored",
        stored.conversion_prior_mean,
        stored.conversion_prior_strength,
        None,
    )
    choice = fit_or_keep_conversion_prior(sample, stored, SampleRule(min_contacts=check.qualifying_contacts))
    assert choice.source == "fitted"
    assert choice.fit is not None
    assert (choice.mean, choice.strength) == (choice.fit.mean, choice.fit.strength)
    # No conversion at all: nothing to fit, the stored prior stays.
    none_converted = {(0, 4): 600}
    choice = fit_or_keep_conversion_prior(none_converted, stored)
    assert choice.source == "stored"
    assert "mean inside" in choice.reason


# --- against lifetimes on CDNOW ---------------------------------------------------------------------


def test_cdnow_fit_matches_lifetimes():
    """The Fader-Hardie-Lee cohort split at 1997-09-30, fitted by both; the split must reproduce
    lifetimes' published summary, and the fits must agree far inside the backtest's 1 % target."""
    customers = split(load_purchase_days())
    with lifetimes_dataset("cdnow_customers_summary.csv").open(encoding="ascii") as handle:
        summary = {int(row["ID"]): row for row in csv.DictReader(handle)}
    assert len(customers) == len(summary) == 2357
    for cohort_id, customer in enumerate(customers, start=1):
        row = summary[cohort_id]
        assert customer.x == int(row["frequency"])
        assert abs(customer.t_x - float(row["recency"])) <= 0.005
        assert abs(customer.T - float(row["T"])) <= 0.005

    grouped = group_stats(c.stats for c in customers)
    ours = fit_bgnbd(grouped)
    theirs = fit_lifetimes(customers)
    assert ours.converged
    for name in PARAMS:
        assert getattr(ours.params, name) == pytest.approx(getattr(theirs.params, name), rel=1e-4)
    # Both maximize the same function (lifetimes' own evaluation agrees with ours at its optimum),
    # and ours is not below lifetimes' optimum on it.
    assert bgnbd_log_likelihood(theirs.params, grouped) == pytest.approx(theirs.own_log_likelihood, rel=1e-12)
    assert ours.log_likelihood >= bgnbd_log_likelihood(theirs.params, grouped) - 1e-6
    assert ours.log_likelihood == pytest.approx(-9582.43, abs=0.01)  # the paper's -9,582.4
    assert ours.standard_errors is not None
    for name in PARAMS:
        assert getattr(ours.standard_errors, name) == pytest.approx(theirs.standard_errors[name], rel=0.01)
