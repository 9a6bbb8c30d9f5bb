"""The Linear profile: how much a Telegram user cares about one issue, as a function of time.

    frequency = min(1, 0.2 * interaction_count)              saturates at 5 interactions
    recency   = exp(-0.05 * days_since_last_interaction)      half-life ln 2 / 0.05 = 13.9 days
    idle      = 0.9 ** d,  d = whole days idle beyond 30      (0 while idle <= 30 days)
    score     = (0.4 * frequency + 0.6 * recency) * idle

Days are fractional (an hour is 1/24 day), so scores move smoothly instead of stepping at
midnight. The idle factor is the seed design's "engagements idle more than 30 days lose 10 %
per daily run", folded into the function itself: a read on any day gives the same value the
daily job would have produced, and without it the score never falls below 0.4 * 0.2 = 0.08,
so cleanup's "below 0.01" could never fire.

Known answers for the recency term: 1.0 at 0 days, 0.7047 at 7, 0.4966 at 14, 0.2231 at 30.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from engagement.domain.timefmt import to_ms

MS_PER_DAY = 86_400_000
SCORE_DECIMALS = 6
"""Decimals a Linear score is answered with. Nothing stores a Linear score: every read (and an
export) evaluates it from the aggregate at its own instant."""


@dataclass(frozen=True)
class LinearScore:
    score: float
    frequency: float
    recency: float
    idle_factor: float
    days_since_last_interaction: float


@dataclass(frozen=True)
class LinearProfile:
    frequency_weight: float = 0.4
    recency_weight: float = 0.6
    frequency_per_interaction: float = 0.2
    recency_rate_per_day: float = 0.05
    idle_threshold_days: int = 30
    idle_factor_per_day: float = 0.9

    name: ClassVar[str] = "linear"

    def evaluate(self, interaction_count: int, last_interaction_ms: int, at: datetime) -> LinearScore:
        """The score at instant ``at``. An ``at`` before the last interaction counts as 0 days idle."""
        days = max(0.0, (to_ms(at) - last_interaction_ms) / MS_PER_DAY)
        frequency = min(1.0, self.frequency_per_interaction * interaction_count)
        recency = math.exp(-self.recency_rate_per_day * days)
        idle_days = max(0, math.floor(days - self.idle_threshold_days))
        idle_factor = self.idle_factor_per_day**idle_days
        score = (self.frequency_weight * frequency + self.recency_weight * recency) * idle_factor
        return LinearScore(
            score=score,
            frequency=frequency,
            recency=recency,
            idle_factor=idle_factor,
            days_since_last_interaction=days,
        )


LINEAR = LinearProfile()
