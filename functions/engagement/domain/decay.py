"""Forward decay: an exponentially decayed sum that is one ADD per event and exact at any time.

    value(t) = Σ_e exp(-λ (t - t_e)),   λ = ln 2 / half-life

is stored as accumulators ``A_k = Σ_{e in epoch k} round(U · exp(λ (t_e - L_k)))`` and
evaluated as

    value(t) = Σ_k (A_k / U) · exp(-λ (t - L_k))

[Cormode et al., "Forward Decay", ICDE 2009 §III-IV; scoring-math notes §3]. Weights are applied
at read time (per-type accumulators), so changing a weight is retroactive without a rebuild.

Why integers: each event's increment is rounded to an integer number of units (U = 10⁹ per
unit weight) before it is added, so an accumulator is an exact integer sum, identical whatever
the order of delivery, the batching or the replays (float sums would differ in their last
digits between two batchings). Why epochs: landmarks ``L_k`` start every ``EPOCH_DAYS`` from
2000-01-01, which bounds one increment by U · exp(λ · EPOCH_DAYS) ≈ 3.2e14 at a 14-day
half-life: below 2⁵³, so the rounding is exact in a double, and far inside DynamoDB's 38 digits
even summed over billions of events. A new epoch starts a new accumulator attribute, so nothing
is ever rescaled. Relative precision per event: 1e-9.

The half-life and the epoch length are part of the stored format: changing either means
rebuilding the accumulators from the event log.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from engagement.domain.timefmt import to_ms

MS_PER_DAY = 86_400_000
EPOCH_DAYS = 256
ORIGIN_MS = to_ms(datetime(2000, 1, 1, tzinfo=UTC))
UNITS = 10**9
"""Accumulator units per unit of weight."""


@dataclass(frozen=True)
class ForwardDecay:
    half_life_days: float = 14.0

    def __post_init__(self) -> None:
        if self.rate_per_ms * EPOCH_DAYS * MS_PER_DAY > math.log(2**53 / UNITS):
            raise ValueError("half-life too short for the epoch length: increments would lose precision")

    @property
    def rate_per_ms(self) -> float:
        return math.log(2) / (self.half_life_days * MS_PER_DAY)

    @staticmethod
    def epoch_of(t_ms: int) -> int:
        return (t_ms - ORIGIN_MS) // (EPOCH_DAYS * MS_PER_DAY)

    @staticmethod
    def landmark_ms(epoch: int) -> int:
        return ORIGIN_MS + epoch * EPOCH_DAYS * MS_PER_DAY

    def increment(self, t_ms: int) -> tuple[int, int]:
        """The epoch an event at ``t_ms`` belongs to, and the integer it adds to that accumulator."""
        epoch = self.epoch_of(t_ms)
        return epoch, round(UNITS * math.exp(self.rate_per_ms * (t_ms - self.landmark_ms(epoch))))

    def value_at(self, accumulators: Mapping[int, float], at_ms: int) -> float:
        """Σ exp(-λ (at - t_e)) over the events summed into ``accumulators`` (epoch -> A_k)."""
        return sum(
            a / UNITS * math.exp(-self.rate_per_ms * (at_ms - self.landmark_ms(k)))
            for k, a in accumulators.items()
        )

    def log_value_at_origin(self, accumulators: Mapping[int, float]) -> float | None:
        """ln of the value at the fixed origin: a time-invariant key that orders contacts exactly as
        their decayed values do at any instant (the common factor cancels). None when empty."""
        terms = [(math.log(a / UNITS), k) for k, a in accumulators.items() if a > 0]
        if not terms:
            return None
        logs = [log_a - self.rate_per_ms * (ORIGIN_MS - self.landmark_ms(k)) for log_a, k in terms]
        top = max(logs)
        return top + math.log(sum(math.exp(x - top) for x in logs))


TD_DECAY = ForwardDecay(half_life_days=14.0)
"""The decay every stored accumulator uses (the TD component's half-life)."""
