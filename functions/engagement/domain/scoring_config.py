"""The contact profile's configuration, read from the environment the topology declares.

Every function that evaluates contacts (scorer, decay, query) gets the same five variables, so a
band the scorer assigns is the band the API reports. Each is a comma-separated ``name=number``
list; names left out keep their default, an unknown name or a bad number fails the cold start
(a typo must not silently score with defaults).

    SCORE_WEIGHTS       recency, frequency, monetary, time_decay, diversity (sum to 1)
    SCORE_TYPE_WEIGHTS  TD multiplier per event type (delivered, clicked, converted, ...)
    SCORE_CURVES        recency_days, frequency_per_day, frequency_min_span_days,
                        monetary_points_per_decade, time_decay_scale, diversity_saturation,
                        suppression_penalty
    SEGMENT_BANDS       hot, warm (composite thresholds), churning_risk
    PREDICTION          horizon_days, min_engagement_events, conversion_prior_mean,
                        conversion_prior_strength, r, alpha, a, b (BG/NBD, per week)

TD's half-life (14 days) is not among them: it is part of the stored accumulators
(``domain.decay``), so changing it means a rebuild, not a deploy.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engagement.domain.bands import DEFAULT_BAND_THRESHOLDS, BandThresholds
from engagement.domain.crm import DEFAULT_CRM_CONFIG, CrmComponents, CrmConfig
from engagement.domain.event_types import EventType
from engagement.domain.probabilities import (
    CONFIGURED_PRIOR_MODEL,
    DEFAULT_PROBABILITY_CONFIG,
    BgNbdParams,
    ProbabilityConfig,
)

VARIABLES = ("SCORE_WEIGHTS", "SCORE_TYPE_WEIGHTS", "SCORE_CURVES", "SEGMENT_BANDS", "PREDICTION")

_CURVES = {
    "recency_days": "recency_days",
    "frequency_per_day": "frequency_scale_per_day",
    "frequency_min_span_days": "frequency_min_span_days",
    "monetary_points_per_decade": "monetary_points_per_decade",
    "time_decay_scale": "time_decay_scale",
    "diversity_saturation": "diversity_saturation",
    "suppression_penalty": "suppression_penalty",
}
_PREDICTION = ("horizon_days", "min_engagement_events", "conversion_prior_mean", "conversion_prior_strength")
_BGNBD = ("r", "alpha", "a", "b")


@dataclass(frozen=True)
class ScoringConfig:
    crm: CrmConfig = DEFAULT_CRM_CONFIG
    probabilities: ProbabilityConfig = DEFAULT_PROBABILITY_CONFIG
    bands: BandThresholds = field(default=DEFAULT_BAND_THRESHOLDS)


DEFAULT_SCORING_CONFIG = ScoringConfig()


class ConfigError(ValueError):
    """A scoring variable that cannot be read; the message names the variable and the entry."""


def from_environment(env: Mapping[str, str]) -> ScoringConfig:
    weights = _pairs(env, "SCORE_WEIGHTS", CrmComponents.NAMES)
    types = _pairs(env, "SCORE_TYPE_WEIGHTS", tuple(t.value for t in EventType))
    curves = _pairs(env, "SCORE_CURVES", tuple(_CURVES))
    bands = _pairs(env, "SEGMENT_BANDS", ("hot", "warm", "churning_risk"))
    prediction = _pairs(env, "PREDICTION", _PREDICTION + _BGNBD)
    try:
        base = DEFAULT_CRM_CONFIG
        type_weights = dict(base.type_weights) | {EventType(k): v for k, v in types.items()}
        # Any: dataclasses.replace checks each keyword's type, and these are chosen at run time.
        curve_overrides: dict[str, Any] = {
            _CURVES[k]: _integral(k, v) if k == "diversity_saturation" else v for k, v in curves.items()
        }
        crm = dataclasses.replace(
            base,
            weights=dataclasses.replace(base.weights, **weights),
            type_weights=tuple(type_weights.items()),
            **curve_overrides,
        )
        bgnbd = dataclasses.replace(BgNbdParams(), **{k: v for k, v in prediction.items() if k in _BGNBD})
        prediction_overrides: dict[str, Any] = {
            k: _integral(k, v) if k == "min_engagement_events" else v
            for k, v in prediction.items()
            if k in _PREDICTION
        }
        # An operator's own numbers are a prior too, but not the published one: answers say so.
        if bgnbd != DEFAULT_PROBABILITY_CONFIG.bgnbd:
            prediction_overrides["bgnbd_model"] = CONFIGURED_PRIOR_MODEL
        if {"conversion_prior_mean", "conversion_prior_strength"} & prediction.keys():
            prediction_overrides["conversion_prior_model"] = CONFIGURED_PRIOR_MODEL
        probabilities = dataclasses.replace(DEFAULT_PROBABILITY_CONFIG, bgnbd=bgnbd, **prediction_overrides)
        thresholds = dataclasses.replace(DEFAULT_BAND_THRESHOLDS, **bands)
    except ValueError as exc:
        raise ConfigError(f"scoring configuration: {exc}") from exc
    return ScoringConfig(crm=crm, probabilities=probabilities, bands=thresholds)


def _pairs(env: Mapping[str, str], variable: str, names: tuple[str, ...]) -> dict[str, float]:
    values: dict[str, float] = {}
    for entry in filter(None, (part.strip() for part in env.get(variable, "").split(","))):
        name, sep, raw = entry.partition("=")
        name = name.strip()
        if not sep or name not in names:
            raise ConfigError(f"{variable}: {entry!r} is not one of {', '.join(names)} = number")
        try:
            number = float(raw)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise ConfigError(f"{variable}: {name} must be a number, got {raw.strip()!r}")
        values[name] = number
    return values


def _integral(name: str, value: float) -> int:
    if value != int(value):
        raise ConfigError(f"{name} must be a whole number, got {value}")
    return int(value)
