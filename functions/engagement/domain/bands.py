"""Bands: one label per contact from its CRM score and churn risk.

Rules, first match wins:

1. ``suppressed`` when the contact has opted out (``score.suppressed``): whatever else is true, it
   may not be messaged, and a campaign reading "hot" must never reach it.
2. ``churning`` when churn risk is known (status ok) and ≥ ``churning_risk`` *and* the composite is
   below ``hot``: a contact who scores hot right now is engaged by definition, whatever a
   population model says about its silence, so "churning" is reserved for the ones at risk.
3. ``hot`` when composite ≥ ``hot``; 4. ``warm`` when composite ≥ ``warm``; 5. ``cold`` otherwise.

An ``insufficient_data`` churn risk never makes a contact churning: no evidence is not evidence
of churn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from engagement.domain.crm import CrmScore
from engagement.domain.probabilities import Probability


class Band(StrEnum):
    HOT = "hot"
    WARM = "warm"
    COLD = "cold"
    CHURNING = "churning"
    SUPPRESSED = "suppressed"


@dataclass(frozen=True)
class BandThresholds:
    hot: float = 60.0
    """Composite at or above which a contact is hot."""
    warm: float = 30.0
    """Composite at or above which a contact is warm."""
    churning_risk: float = 0.7
    """Churn risk at or above which a contact that is not hot is churning."""

    def __post_init__(self) -> None:
        if not (
            math.isfinite(self.warm) and math.isfinite(self.hot) and 0.0 <= self.warm <= self.hot <= 100.0
        ):
            raise ValueError(f"need 0 <= warm <= hot <= 100, got warm = {self.warm}, hot = {self.hot}")
        if not 0.0 < self.churning_risk <= 1.0:
            raise ValueError(f"churning_risk must be within (0, 1], got {self.churning_risk}")


DEFAULT_BAND_THRESHOLDS = BandThresholds()


def classify(
    score: CrmScore, churn: Probability, thresholds: BandThresholds = DEFAULT_BAND_THRESHOLDS
) -> Band:
    """The band of a contact, by the rule order in the module docstring."""
    if score.suppressed:
        return Band.SUPPRESSED
    at_risk = churn.status == "ok" and churn.value is not None and churn.value >= thresholds.churning_risk
    if at_risk and score.composite < thresholds.hot:
        return Band.CHURNING
    if score.composite >= thresholds.hot:
        return Band.HOT
    if score.composite >= thresholds.warm:
        return Band.WARM
    return Band.COLD
