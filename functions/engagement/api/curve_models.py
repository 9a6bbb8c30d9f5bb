"""Response model of ``GET /v1/users/{user_id}/curve``: a score function sampled over time."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from engagement.domain.curves import Curve, Sampling
from engagement.domain.timefmt import from_ms

CurveProfile = Literal["linear", "crm"]


class CurvePointOut(BaseModel):
    at: AwareDatetime
    score: float | None = Field(
        description="The score at `at` (Linear 0-1, CRM 0-100); 0 before `first_event` (nothing had "
        "happened); null from there to `known_from`, where the stored aggregate already holds events "
        "that had not happened yet"
    )


class CurveResponse(BaseModel):
    user_id: str
    item_id: str | None = Field(description="The item of a Linear curve; null for the contact's CRM curve")
    profile: CurveProfile
    from_at: AwareDatetime = Field(serialization_alias="from")
    to_at: AwareDatetime = Field(serialization_alias="to")
    step_seconds: float = Field(description="Time between two points")
    first_event: AwareDatetime = Field(description="The first event the aggregate holds")
    known_from: AwareDatetime = Field(
        description="The latest event the aggregate holds: the score function answers from here on. "
        "Points after the request time are the score if nothing new happens."
    )
    points: list[CurvePointOut] = Field(description="One per step from `from` to `to`, oldest first")

    @classmethod
    def of(
        cls, *, user_id: str, item_id: str | None, profile: CurveProfile, grid: Sampling, curve: Curve
    ) -> CurveResponse:
        return cls(
            user_id=user_id,
            item_id=item_id,
            profile=profile,
            from_at=_at(grid.from_ms),
            to_at=_at(grid.to_ms),
            step_seconds=grid.step_ms / 1000,
            first_event=_at(curve.first_event_ms),
            known_from=_at(curve.known_from_ms),
            points=[CurvePointOut(at=_at(p.at_ms), score=p.score) for p in curve.points],
        )


def _at(ms: int) -> datetime:
    return from_ms(ms)
