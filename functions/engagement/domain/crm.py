"""The CRM profile: how engaged one SMS/chat contact is, 0-100, as a function of time.

Five components, each 0-100 (days are fractional: ``ms / 86_400_000``):

    R  = 100 · exp(-d / recency_days)                   d = days since the last engagement
    F  = 100 · (1 - exp(-rate / rho))                    rate = n / max(min_span, days since first event)
    M  = min(100, points_per_decade · log10(1 + value))  value = total conversion value (≤ 0 → 0)
    TD = 100 · (1 - exp(-max(0, S) / κ))                 S = Σ_type w_type · Σ_e exp(-λ (at - t_e))
    D  = 100 · min(1, k / diversity_saturation)          k = distinct engagement types seen

    composite = Σ weight_c · c          (· (1 - suppression_penalty) while suppressed)

"Engagement" is the contact's own actions (``contact.ENGAGEMENT_TYPES``): R, F and D ignore
``delivered`` and ``bounced`` because the business's sends and the network's failures say nothing
about the contact (scoring-math notes §2.2 defects 3 and 5). ``n`` is the engagement count; the span
starts at the contact's first event of any kind, because a send is when the relationship starts and
a contact who ignored a year of sends before replying once is not a weekly replier.

TD is a *level*, not the source design's decay-weighted average (§2.2 defect 1): it falls as events
age, with the half-life of the stored forward-decay accumulators (14 days, λ = ln 2 / 14 per day),
and its type weights apply at read time, so changing them is retroactive without a rebuild.

Known answers with the defaults (30-day recency, rho = 1/7 per day, 25 points per decade, κ = 10,
saturation 3):

* R: 100 at 0 days, 79.19 at 7, 36.79 at 30, 4.98 at 90;
* F: one engagement per week (rate 1/7) → 63.21; 4 in the first 7 days → 98.17;
* M: $9 → 25, $99 → 50, $999 → 75, $9,999 → 100 (the source comment's "$1000+ = 100" is wrong);
* TD: one reply (w 4) today → 32.97; the same reply 14 days ago → 18.13; one conversion today → 63.21;
* D: 1 type → 33.33, 2 → 66.67, 3 or more → 100.

Suppression (an opt-out newer than any opt-in) multiplies the composite by 1 - 0.9 = 0.1 so a
suppressed contact sorts to the bottom but keeps its evidence; whether it may be messaged is the
caller's state check, never this number (§5.8).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from engagement.domain.contact import ENGAGEMENT_TYPES, ContactState
from engagement.domain.decay import MS_PER_DAY
from engagement.domain.event_types import EventType

_WEIGHT_SUM_TOLERANCE = 1e-9


@dataclass(frozen=True)
class CrmComponents:
    """One number per component, in a fixed order: values (0-100), weights or contributions."""

    recency: float
    frequency: float
    monetary: float
    time_decay: float
    diversity: float

    NAMES: ClassVar[tuple[str, ...]] = ("recency", "frequency", "monetary", "time_decay", "diversity")

    def items(self) -> tuple[tuple[str, float], ...]:
        """(name, number) pairs in the fixed order, so sums and listings are deterministic."""
        return tuple((name, float(getattr(self, name))) for name in self.NAMES)

    def total(self) -> float:
        return math.fsum(value for _, value in self.items())


DEFAULT_COMPONENT_WEIGHTS = CrmComponents(
    recency=0.30, frequency=0.25, monetary=0.20, time_decay=0.15, diversity=0.10
)

DEFAULT_TYPE_WEIGHTS: tuple[tuple[EventType, float], ...] = (
    (EventType.DELIVERED, 1.0),
    (EventType.OPENED, 2.0),
    (EventType.CLICKED, 3.0),
    (EventType.RESPONDED, 4.0),
    (EventType.CONVERTED, 10.0),
    (EventType.BOUNCED, 0.0),
    (EventType.OPTED_OUT, -5.0),
    (EventType.OPTED_IN, 0.0),
    (EventType.QUERY, 3.0),
    (EventType.MENTION, 2.0),
    (EventType.VIEW, 1.0),
)
"""TD multipliers. A tuple of pairs rather than a dict so :class:`CrmConfig` stays immutable and
hashable; a type missing from the tuple weighs 0."""


@dataclass(frozen=True)
class CrmConfig:
    weights: CrmComponents = DEFAULT_COMPONENT_WEIGHTS
    recency_days: float = 30.0
    """R's e-folding time: R falls to 1/e (36.8) after this many idle days (half-life 20.8 days)."""
    frequency_scale_per_day: float = 1 / 7
    """rho: the engagement rate (per day) at which F reaches 1 - 1/e (63.2)."""
    frequency_min_span_days: float = 7.0
    """Rates are measured over at least this many days, so two events on day one are not 'daily'."""
    monetary_points_per_decade: float = 25.0
    type_weights: tuple[tuple[EventType, float], ...] = DEFAULT_TYPE_WEIGHTS
    time_decay_scale: float = 10.0
    """κ: the decayed weighted sum at which TD reaches 1 - 1/e (63.2); one fresh conversion."""
    diversity_saturation: int = 3
    suppression_penalty: float = 0.9

    def __post_init__(self) -> None:
        for name, weight in self.weights.items():
            if not math.isfinite(weight) or weight < 0:
                raise ValueError(f"component weight {name} must be a non-negative number, got {weight}")
        total = self.weights.total()
        if abs(total - 1.0) > _WEIGHT_SUM_TOLERANCE:
            raise ValueError(f"component weights must sum to 1, got {total}")
        positive = {
            "recency_days": self.recency_days,
            "frequency_scale_per_day": self.frequency_scale_per_day,
            "frequency_min_span_days": self.frequency_min_span_days,
            "time_decay_scale": self.time_decay_scale,
        }
        for name, value in positive.items():
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"{name} must be a positive number, got {value}")
        if not math.isfinite(self.monetary_points_per_decade) or self.monetary_points_per_decade < 0:
            raise ValueError(
                f"monetary_points_per_decade must be non-negative, got {self.monetary_points_per_decade}"
            )
        if self.diversity_saturation < 1:
            raise ValueError(f"diversity_saturation must be at least 1, got {self.diversity_saturation}")
        if not 0.0 <= self.suppression_penalty <= 1.0:
            raise ValueError(f"suppression_penalty must be within [0, 1], got {self.suppression_penalty}")
        seen: set[EventType] = set()
        for event_type, weight in self.type_weights:
            if event_type in seen:
                raise ValueError(f"type weight for {event_type.value} is given twice")
            if not math.isfinite(weight):
                raise ValueError(f"type weight for {event_type.value} must be finite, got {weight}")
            seen.add(event_type)

    def type_weight(self, event_type: EventType) -> float:
        """The TD multiplier of a type; 0 for a type the configuration does not name."""
        return next((w for t, w in self.type_weights if t is event_type), 0.0)


DEFAULT_CRM_CONFIG = CrmConfig()


@dataclass(frozen=True)
class CrmScore:
    composite: float
    components: CrmComponents
    contributions: CrmComponents
    """weight · component; they sum to the composite before the suppression penalty."""
    suppressed: bool
    penalty_factor: float
    """1 - suppression_penalty while suppressed, else 1."""
    days_since_last_engagement: float | None
    """None when the contact has never engaged."""
    engagement_rate_per_day: float
    decayed_weighted_sum: float
    """S, TD's input; negative when opt-outs outweigh recent engagement."""
    at_ms: int


@dataclass(frozen=True)
class CrmProfile:
    config: CrmConfig = DEFAULT_CRM_CONFIG

    name: ClassVar[str] = "crm"

    def evaluate(self, state: ContactState, at_ms: int) -> CrmScore:
        """The score at instant ``at_ms`` (epoch ms), from the aggregate alone (formulas above).

        An ``at`` before the last engagement counts as 0 days since it (R = 100), as in the
        Linear profile; an ``at`` before the first event measures the rate over the minimum span.
        """
        cfg = self.config
        last = state.last_engagement_ms
        days_since = None if last is None else max(0.0, (at_ms - last) / MS_PER_DAY)
        recency = 0.0 if days_since is None else 100.0 * math.exp(-days_since / cfg.recency_days)

        span_days = max(cfg.frequency_min_span_days, (at_ms - state.first_ms) / MS_PER_DAY)
        rate = state.engagement_count / span_days
        frequency = 100.0 * (1.0 - math.exp(-rate / cfg.frequency_scale_per_day))

        value = float(state.value_sum)
        # Decades of value: a tenfold bigger spend earns the same 25 points, so one whale cannot
        # dominate; the cap is reached at $9,999 with the defaults.
        monetary = 0.0 if value <= 0 else min(100.0, cfg.monetary_points_per_decade * math.log10(1.0 + value))

        decayed = state.decayed_counts(at_ms)
        weighted_sum = math.fsum(cfg.type_weight(t) * decayed[t] for t in sorted(decayed))
        time_decay = 100.0 * (1.0 - math.exp(-max(0.0, weighted_sum) / cfg.time_decay_scale))

        distinct = sum(1 for t, n in state.counts.items() if t in ENGAGEMENT_TYPES and n > 0)
        diversity = 100.0 * min(1.0, distinct / cfg.diversity_saturation)

        components = CrmComponents(
            recency=recency,
            frequency=frequency,
            monetary=monetary,
            time_decay=time_decay,
            diversity=diversity,
        )
        w = cfg.weights
        contributions = CrmComponents(
            recency=w.recency * recency,
            frequency=w.frequency * frequency,
            monetary=w.monetary * monetary,
            time_decay=w.time_decay * time_decay,
            diversity=w.diversity * diversity,
        )
        since = state.suppressed_since_ms
        suppressed = since is not None and since <= at_ms
        penalty_factor = 1.0 - cfg.suppression_penalty if suppressed else 1.0
        # Weights sum to 1 only within 1e-9 and 0.3 * 100 is 30.000000000000004 in binary, so the
        # clamp keeps the documented [0, 100] range exact; it never moves the value by more than that.
        composite = min(100.0, contributions.total()) * penalty_factor
        return CrmScore(
            composite=composite,
            components=components,
            contributions=contributions,
            suppressed=suppressed,
            penalty_factor=penalty_factor,
            days_since_last_engagement=days_since,
            engagement_rate_per_day=rate,
            decayed_weighted_sum=weighted_sum,
            at_ms=at_ms,
        )


CRM = CrmProfile()


def engagement_level_key(state: ContactState, config: CrmConfig = DEFAULT_CRM_CONFIG) -> float | None:
    """A time-invariant key that orders contacts as the positive-weight engagement part of S does
    at any instant.

        S⁺(at) = Σ_{type ∈ ENGAGEMENT_TYPES, w > 0} w_type · Σ_e exp(-λ (at - t_e))
        key    = ln S⁺(origin) = ln Σ_k (Σ_{type: w > 0} w_type · A_{type,k}) · exp(-λ (origin - L_k))

    S⁺(at) = exp(key) · exp(-λ (at - origin)) and the second factor is common to every contact, so
    comparing keys compares S⁺ at every instant: a contact's key changes only when it has a new
    event, and a percentile histogram over keys stays exact for dormant contacts (notes §3.3, §4.2).
    Accumulators of different types share epochs, so they combine per epoch before the log.
    Negative weights (opt-outs) are left out: a sum with negative terms has no logarithm, and
    suppression is a state the caller filters on, not a rank. Deliveries and bounces are left out
    too, whatever their TD weight: they are what was sent to the contact (or failed to reach it),
    not what the contact did, so four unanswered messages must not outrank one reply. None when
    the contact has no positive-weight engagement.
    """
    combined: dict[int, float] = {}
    for event_type in sorted(state.decay_accumulators):
        weight = config.type_weight(event_type)
        if weight <= 0 or event_type not in ENGAGEMENT_TYPES:
            continue
        for epoch, accumulator in state.decay_accumulators[event_type].items():
            combined[epoch] = combined.get(epoch, 0.0) + weight * accumulator
    return state.decay.log_value_at_origin(combined)


PERCENTILE_BUCKET_WIDTH = math.log(1.05)


def percentile_bucket(key: float) -> int:
    """The histogram bucket of a level key: ``floor(key / ln 1.05)``.

    Resolution: two contacts whose levels differ by less than 5 % may share a bucket. The level of
    an idle contact falls by a factor exp(-λ Δt), so 5 % is ln 1.05 / λ of recency: at the 14-day
    half-life, ln 1.05 · 14 / ln 2 = 0.985 days (about 23.7 hours), roughly one day.
    """
    return math.floor(key / PERCENTILE_BUCKET_WIDTH)


NO_ENGAGEMENT_BUCKET = -(2**31)
"""The histogram's floor: contacts that were sent messages but never engaged. Counted, so an engaged
contact's percentile says how many it outranks among everyone reachable, and below every level a
real key can reach (that would need S⁺ at the origin below e^-100,000,000)."""


def ranked_bucket(state: ContactState, at_ms: int, config: CrmConfig = DEFAULT_CRM_CONFIG) -> int | None:
    """Where the contact is counted in the percentile histogram at ``at_ms``; None: not ranked.

    * suppressed (opted out, not back in): None. An opted-out contact is not a candidate for
      anything a rank is used for, and its old engagement would keep it above active contacts.
    * no engagement (only deliveries, bounces, opt-ins): :data:`NO_ENGAGEMENT_BUCKET`, below
      every engaged contact, all tied.
    * otherwise the bucket of :func:`engagement_level_key`.
    """
    since = state.suppressed_since_ms
    if since is not None and since <= at_ms:
        return None
    key = engagement_level_key(state, config)
    return NO_ENGAGEMENT_BUCKET if key is None else percentile_bucket(key)
