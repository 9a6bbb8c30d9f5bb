"""The probability models in use: configured priors, or fits on the deployment's own contacts.

Two models feed :func:`engagement.domain.probabilities.contact_probabilities`: BG/NBD (r, alpha,
a, b) for engagement and churn, and the Beta prior (mean, strength) that smooths each contact's
conversion rate. Until a fit replaces them they are priors: the published CDNOW fit and the
built-in conversion prior, or the numbers an operator set in ``PREDICTION``.

The weekly ``fit`` job (``handlers.fit``) pages through the contacts, reduces each to its
sufficient statistics (:class:`FitSample`), and fits both models (``domain.fitting``). Below the
minimum sample (``FIT_MIN_CONTACTS`` contacts with at least ``min_engagement_events`` engagement
events), or when a fit does not converge, the configured prior stays in use, and the stored
record says why. A :class:`ModelSet` is what is stored: both models with their parameters,
sample sizes, log-likelihoods, fit instant and data window.

A model is a function of the aggregates, and nothing else: fitting reads contacts and writes one
model item, never an event, so a model change alters answers (probabilities, churn bands) and
nothing stored from the past.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from engagement.domain.contact import ContactState
from engagement.domain.decay import MS_PER_DAY
from engagement.domain.event_types import EventType
from engagement.domain.probabilities import ProbabilityConfig
from engagement.domain.scoring_config import ScoringConfig
from engagement.domain.timefmt import from_ms, rfc3339

ModelKind = Literal["bgnbd", "conversion_prior"]
ModelSource = Literal["fitted", "prior"]


@dataclass(frozen=True)
class ModelInfo:
    """One model as stored and listed by ``GET /v1/models``."""

    kind: ModelKind
    version: str
    """What answers name: ``bgnbd@<fit instant>`` / ``beta@<fit instant>``, or ``prior:...``."""
    source: ModelSource
    parameters: Mapping[str, float]
    """BG/NBD: r, alpha, a, b (per ``time_unit_days``); conversion prior: mean, strength."""
    note: str
    """Why this model is in use, in a sentence an operator can act on."""
    sample_size: int | None = None
    """Contacts in the sample the last fit looked at (None: no fit has looked yet)."""
    qualifying_contacts: int | None = None
    """Of those, the contacts with enough engagement events to count toward the minimum."""
    log_likelihood: float | None = None
    """Of the sample at the fitted parameters (None for a prior)."""
    fitted_at_ms: int | None = None
    """The fit's instant (the weekly run's scheduled time); None for a prior never checked."""
    window_start_ms: int | None = None
    """The earliest first engagement in the sample: the data the fit saw span this to the fit."""

    def as_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "parameters": dict(self.parameters)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelInfo:
        return cls(**{**data, "parameters": {k: float(v) for k, v in data["parameters"].items()}})


@dataclass(frozen=True)
class ModelSet:
    bgnbd: ModelInfo
    conversion: ModelInfo
    run_at_ms: int | None = None
    """The fit run that produced this set; None for the configured priors before any run."""

    def to_json(self) -> str:
        return json.dumps(
            {
                "bgnbd": self.bgnbd.as_dict(),
                "conversion": self.conversion.as_dict(),
                "run_at_ms": self.run_at_ms,
            },
            separators=(",", ":"),
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> ModelSet:
        data = json.loads(text)
        return cls(
            bgnbd=ModelInfo.from_dict(data["bgnbd"]),
            conversion=ModelInfo.from_dict(data["conversion"]),
            run_at_ms=data.get("run_at_ms"),
        )


def bgnbd_prior(config: ProbabilityConfig, note: str, **checked: Any) -> ModelInfo:
    p = config.bgnbd
    return ModelInfo(
        kind="bgnbd",
        version=config.bgnbd_model,
        source="prior",
        parameters={"r": p.r, "alpha": p.alpha, "a": p.a, "b": p.b, "time_unit_days": p.time_unit_days},
        note=note,
        **checked,
    )


def conversion_prior(config: ProbabilityConfig, note: str, **checked: Any) -> ModelInfo:
    return ModelInfo(
        kind="conversion_prior",
        version=config.conversion_prior_model,
        source="prior",
        parameters={"mean": config.conversion_prior_mean, "strength": config.conversion_prior_strength},
        note=note,
        **checked,
    )


NO_FIT_YET = "configured prior: no weekly fit has run yet"


def prior_models(config: ProbabilityConfig) -> ModelSet:
    """The models in use before any fit: the configuration's priors."""
    return ModelSet(bgnbd_prior(config, NO_FIT_YET), conversion_prior(config, NO_FIT_YET))


def apply_models(config: ScoringConfig, models: ModelSet) -> ScoringConfig:
    """``config`` with the fitted models of ``models`` in place of its priors.

    A stored model whose source is "prior" is not applied: the configuration's prior is the one in
    use (an operator may have changed ``PREDICTION`` since the fit fell back to it).
    """
    probabilities = config.probabilities
    changes: dict[str, Any] = {}
    if models.bgnbd.source == "fitted":
        fitted = models.bgnbd.parameters
        changes["bgnbd"] = dataclasses.replace(
            probabilities.bgnbd, **{name: fitted[name] for name in ("r", "alpha", "a", "b", "time_unit_days")}
        )
        changes["bgnbd_model"] = models.bgnbd.version
    if models.conversion.source == "fitted":
        changes["conversion_prior_mean"] = models.conversion.parameters["mean"]
        changes["conversion_prior_strength"] = models.conversion.parameters["strength"]
        changes["conversion_prior_model"] = models.conversion.version
    if not changes:
        return config
    return dataclasses.replace(config, probabilities=dataclasses.replace(probabilities, **changes))


def in_use(config: ScoringConfig, stored: ModelSet | None) -> ModelSet:
    """What answers use: the stored fits where there are any, the configured priors elsewhere
    (with the stored record's note and sample sizes, so the listing says why)."""
    if stored is None:
        return prior_models(config.probabilities)
    probabilities = config.probabilities
    bgnbd = stored.bgnbd
    conversion = stored.conversion
    if bgnbd.source == "prior":
        bgnbd = _checked_prior(bgnbd_prior(probabilities, bgnbd.note), bgnbd)
    if conversion.source == "prior":
        conversion = _checked_prior(conversion_prior(probabilities, conversion.note), conversion)
    return ModelSet(bgnbd, conversion, stored.run_at_ms)


def _checked_prior(prior: ModelInfo, checked: ModelInfo) -> ModelInfo:
    return dataclasses.replace(
        prior,
        sample_size=checked.sample_size,
        qualifying_contacts=checked.qualifying_contacts,
        fitted_at_ms=checked.fitted_at_ms,
        window_start_ms=checked.window_start_ms,
    )


# --- the sample ---------------------------------------------------------------------------------


@dataclass
class FitSample:
    """Contacts reduced to what the fits read, grouped: contacts with equal statistics are one count.

    BG/NBD cells are (x, t_x, T) in whole days (x = engagement events - 1; t_x = last - first
    engagement; T = the fit instant - first engagement): rounding to a day moves a history of weeks
    by at most half a day, far below the fit's sampling error, and bounds the cells at (distinct
    x) x (days of history)² however many contacts there are. Rate cells are (conversions,
    engagement events), as ``smoothed_rate`` reads them. Contacts that never engaged carry no
    information about either model and are left out.
    """

    bgnbd: Counter[tuple[int, int, int]] = field(default_factory=Counter)
    rates: Counter[tuple[int, int]] = field(default_factory=Counter)
    earliest_ms: int | None = None
    """The earliest first engagement: where the data window starts."""

    def add(self, state: ContactState, at_ms: int) -> None:
        count = state.engagement_count
        first, last = state.first_engagement_ms, state.last_engagement_ms
        if count < 1 or first is None or last is None:
            return
        t_x = round((last - first) / MS_PER_DAY)
        # An event stored after the run's instant (the scan is not a snapshot) is read as "just
        # now": T never below t_x.
        age = max(t_x, round((at_ms - first) / MS_PER_DAY))
        self.bgnbd[(count - 1, t_x, age)] += 1
        self.rates[(state.counts.get(EventType.CONVERTED, 0), count)] += 1
        self.earliest_ms = first if self.earliest_ms is None else min(self.earliest_ms, first)

    def merge(self, other: FitSample) -> FitSample:
        self.bgnbd.update(other.bgnbd)
        self.rates.update(other.rates)
        if other.earliest_ms is not None:
            self.earliest_ms = (
                other.earliest_ms if self.earliest_ms is None else min(self.earliest_ms, other.earliest_ms)
            )
        return self

    @property
    def contacts(self) -> int:
        return sum(self.bgnbd.values())

    def to_json(self) -> str:
        return json.dumps(
            {
                "g": [[*cell, n] for cell, n in sorted(self.bgnbd.items())],
                "k": [[*cell, n] for cell, n in sorted(self.rates.items())],
                "e": self.earliest_ms,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> FitSample:
        data = json.loads(text)
        return cls(
            bgnbd=Counter({(int(x), int(t), int(a)): int(n) for x, t, a, n in data["g"]}),
            rates=Counter({(int(k), int(n)): int(c) for k, n, c in data["k"]}),
            earliest_ms=None if data.get("e") is None else int(data["e"]),
        )


# --- the fit ------------------------------------------------------------------------------------


def fit_models(sample: FitSample, at_ms: int, config: ProbabilityConfig, *, min_contacts: int) -> ModelSet:
    """Both models fitted on ``sample`` at ``at_ms``, or the configured prior where the sample is
    too small or the fit does not converge (the note says which)."""
    # Imported here: only the weekly job fits; the query, scorer and decay functions never load it.
    from engagement.domain.fitting import (  # noqa: PLC0415
        SampleRule,
        fit_or_keep_bgnbd,
        fit_or_keep_conversion_prior,
    )

    rule = SampleRule(min_contacts=min_contacts, min_events=config.min_engagement_events)
    unit = config.bgnbd.time_unit_days
    stats = {(x, t_x / unit, age / unit): n for (x, t_x, age), n in sample.bgnbd.items()}
    instant = rfc3339(from_ms(at_ms))
    checked = {"fitted_at_ms": at_ms, "window_start_ms": sample.earliest_ms}

    if stats:
        choice = fit_or_keep_bgnbd(stats, config.bgnbd, rule)
        bgnbd_checked = {
            **checked,
            "sample_size": choice.check.contacts,
            "qualifying_contacts": choice.check.qualifying_contacts,
        }
        if choice.source == "fitted" and choice.fit is not None:
            p = choice.params
            bgnbd = ModelInfo(
                kind="bgnbd",
                version=f"bgnbd@{instant}",
                source="fitted",
                parameters={
                    "r": p.r,
                    "alpha": p.alpha,
                    "a": p.a,
                    "b": p.b,
                    "time_unit_days": p.time_unit_days,
                },
                note=choice.reason,
                log_likelihood=choice.fit.log_likelihood,
                **bgnbd_checked,
            )
        else:
            bgnbd = bgnbd_prior(config, choice.reason, **bgnbd_checked)
        prior_choice = fit_or_keep_conversion_prior(dict(sample.rates), config, rule)
        rate_checked = {
            **checked,
            "sample_size": prior_choice.check.contacts,
            "qualifying_contacts": prior_choice.check.qualifying_contacts,
        }
        if prior_choice.source == "fitted" and prior_choice.fit is not None:
            conversion = ModelInfo(
                kind="conversion_prior",
                version=f"beta@{instant}",
                source="fitted",
                parameters={"mean": prior_choice.mean, "strength": prior_choice.strength},
                note=prior_choice.reason,
                log_likelihood=prior_choice.fit.log_likelihood,
                **rate_checked,
            )
        else:
            conversion = conversion_prior(config, prior_choice.reason, **rate_checked)
    else:
        empty = {**checked, "sample_size": 0, "qualifying_contacts": 0}
        note = f"no contact has engaged yet; a fit needs {min_contacts}, so the stored prior is kept"
        bgnbd = bgnbd_prior(config, note, **empty)
        conversion = conversion_prior(config, note, **empty)
    return ModelSet(bgnbd, conversion, at_ms)
