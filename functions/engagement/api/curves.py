"""GET /v1/users/{user_id}/curve: one read of an aggregate, its score evaluated at many instants."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import AwareDatetime, BeforeValidator

from engagement import deps
from engagement.api.curve_models import CurveProfile, CurveResponse
from engagement.api.params import at_or_now
from engagement.api.person_state import absent
from engagement.domain.aggregates import AggregateKey
from engagement.domain.curves import MAX_POINTS, crm_curve, linear_curve, sampling
from engagement.domain.errors import FieldProblem, InvalidInput
from engagement.domain.timefmt import parse_rfc3339, to_ms

DEFAULT_SPAN = timedelta(days=30)
_SECONDS = re.compile(r"\d+(\.\d+)?")


def _instant(value: object) -> object:
    return parse_rfc3339(value) if isinstance(value, str) else value


def _duration(value: object) -> object:
    # A bare number is seconds; anything else goes to pydantic's ISO 8601 parser (PT6H, P1D),
    # which also refuses a number of seconds too large for a duration.
    if isinstance(value, str) and _SECONDS.fullmatch(value.strip()):
        try:
            return timedelta(seconds=float(value))
        except OverflowError:
            return value
    return value


ItemId = Annotated[str | None, Query(description="The item whose Linear score to sample (linear profile)")]
Profile = Annotated[
    CurveProfile,
    Query(description="linear: one (user, item) engagement, 0-1; crm: the contact's composite, 0-100"),
]
From = Annotated[
    AwareDatetime | None,
    BeforeValidator(_instant),
    Query(alias="from", description="First instant, RFC 3339 (default: 30 days before to)"),
]
To = Annotated[
    AwareDatetime | None,
    BeforeValidator(_instant),
    Query(alias="to", description="Last instant, RFC 3339 (default: now); later than now is the forecast"),
]
Step = Annotated[
    timedelta | None,
    BeforeValidator(_duration),
    Query(
        description=f"Time between points: an ISO 8601 duration (PT1H, P1D) or seconds; at least 1 s, "
        f"at most {MAX_POINTS} points in all (default: the range in 120 steps)"
    ),
]


def get_curve(
    user_id: str,
    *,
    item_id: ItemId = None,
    profile: Profile = "linear",
    from_at: From = None,
    to_at: To = None,
    step: Step = None,
) -> CurveResponse:
    """A score over time

    The Linear score of one engagement (`item_id`) or the contact's CRM composite, sampled from
    `from` to `to` every `step`: one read of the aggregate, then the score function at each
    instant. Instants after now are what the score becomes if nothing new happens. Before the
    aggregate's first event the score is 0; from then to its latest event it is null (the
    aggregate already counts events that had not happened yet). 404 when the user never engaged
    with the item (linear) or nothing was recorded for the contact (crm); 422 naming `step` when
    the curve would exceed 500 points.
    """
    last = to_at or at_or_now(None)
    first = from_at or last - DEFAULT_SPAN
    grid = sampling(to_ms(first), to_ms(last), None if step is None else step // timedelta(milliseconds=1))
    if profile == "linear":
        if not item_id:
            raise InvalidInput([FieldProblem("item_id", "is required by the linear profile")])
        aggregate = deps.store().get_aggregate(AggregateKey(user_id, item_id))
        if aggregate is None:
            raise absent(user_id, f"user {user_id} has no engagement with item {item_id}")
        curve = linear_curve(aggregate, grid)
    else:
        if item_id is not None:
            raise InvalidInput(
                [FieldProblem("item_id", "the crm profile scores the contact as a whole: leave item_id out")]
            )
        record = deps.store().contacts.get_contact(user_id)
        if record is None:
            raise absent(user_id, f"no engagement recorded for user {user_id}")
        curve = crm_curve(record.state, grid, deps.scoring_config().crm)
    return CurveResponse.of(user_id=user_id, item_id=item_id, profile=profile, grid=grid, curve=curve)
