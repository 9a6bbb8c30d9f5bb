"""Score curves: a score function sampled at many instants from one read of its aggregate.

A score here is a function of the stored aggregate and a time (design decision 4), so a curve
costs one read and as many evaluations as it has points. The future part of a curve is the
score with no new events, which is exactly what the function gives at a later instant.

The past has one limit: an aggregate holds every event absorbed so far and cannot take events
back out, so it answers only from its latest event on (the sibling routes refuse an ``as_of``
before it for the same reason). Before its first event the answer is known too: nothing had
happened, and the score of nothing is 0. Instants in between are sampled as ``None`` rather
than answered wrongly; for contacts the daily history holds those days.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from engagement.domain.aggregates import Aggregate
from engagement.domain.contact import ContactState
from engagement.domain.crm import CrmConfig, CrmProfile
from engagement.domain.errors import FieldProblem, InvalidInput
from engagement.domain.linear import LINEAR, SCORE_DECIMALS, LinearProfile
from engagement.domain.timefmt import from_ms

MAX_POINTS = 500
"""Points one curve may have: enough for a chart a few screens wide, few enough that a request
stays a millisecond-scale computation whatever range and step it asks for."""
DEFAULT_INTERVALS = 120
"""Without a step, the range is cut into this many intervals (121 points)."""
MIN_STEP_MS = 1000
CRM_DECIMALS = 2
"""Points of the CRM composite, as ``/score`` answers them."""


@dataclass(frozen=True)
class Sampling:
    """The instants a curve is evaluated at: ``from_ms``, then every ``step_ms`` up to ``to_ms``."""

    from_ms: int
    to_ms: int
    step_ms: int

    @property
    def count(self) -> int:
        return (self.to_ms - self.from_ms) // self.step_ms + 1

    def instants(self) -> range:
        return range(self.from_ms, self.to_ms + 1, self.step_ms)


def sampling(from_ms: int, to_ms: int, step_ms: int | None) -> Sampling:
    """The sampling a request asks for, or ``InvalidInput`` naming the field to change."""
    if from_ms > to_ms:
        raise InvalidInput([FieldProblem("from", "is after to")])
    if step_ms is None:
        step_ms = max(MIN_STEP_MS, -(-(to_ms - from_ms) // DEFAULT_INTERVALS))
    if step_ms < MIN_STEP_MS:
        raise InvalidInput([FieldProblem("step", "must be at least one second")])
    chosen = Sampling(from_ms, to_ms, step_ms)
    if chosen.count > MAX_POINTS:
        raise InvalidInput(
            [
                FieldProblem(
                    "step",
                    f"samples {chosen.count} points between from and to; at most {MAX_POINTS}: "
                    "widen the step or narrow the range",
                )
            ]
        )
    return chosen


@dataclass(frozen=True)
class CurvePoint:
    at_ms: int
    score: float | None
    """0 before the aggregate's first event, None from there to its latest (see the module
    docstring)."""


@dataclass(frozen=True)
class Curve:
    first_event_ms: int
    """The aggregate's first event: before it the score is 0."""
    known_from_ms: int
    """The aggregate's latest event: the first instant its score function answers for."""
    points: tuple[CurvePoint, ...]


def _sampled(grid: Sampling, first: int, last: int, score: Callable[[int], float]) -> Curve:
    def at(instant: int) -> float | None:
        if instant < first:
            return 0.0
        return None if instant < last else score(instant)

    return Curve(
        first_event_ms=first,
        known_from_ms=last,
        points=tuple(CurvePoint(instant, at(instant)) for instant in grid.instants()),
    )


def linear_curve(aggregate: Aggregate, grid: Sampling, profile: LinearProfile = LINEAR) -> Curve:
    """The Linear score of one (user, item) engagement at every instant of ``grid``."""
    count, last = aggregate.interaction_count, aggregate.last_ms
    return _sampled(
        grid,
        aggregate.first_ms,
        last,
        lambda at: round(profile.evaluate(count, last, from_ms(at)).score, SCORE_DECIMALS),
    )


def crm_curve(state: ContactState, grid: Sampling, config: CrmConfig) -> Curve:
    """The CRM composite of one contact at every instant of ``grid``."""
    profile = CrmProfile(config)
    return _sampled(
        grid,
        state.first_ms,
        state.last_ms,
        lambda at: round(profile.evaluate(state, at).composite, CRM_DECIMALS),
    )
