"""GET /v1/users/...: scores of one user, evaluated at request time or at ``as_of``."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Query

from engagement import deps
from engagement.api import openapi
from engagement.api.contacts import get_funnel, get_history, get_score, list_segment
from engagement.api.curves import get_curve
from engagement.api.models import list_models
from engagement.api.overview import get_overview
from engagement.api.params import AsOf, ItemId, UserId
from engagement.api.params import at_or_now as _at
from engagement.api.person_state import absent
from engagement.api.privacy import export_person, list_events
from engagement.api.resolver import resolver_for
from engagement.api.score_models import EngagementDetail, EngagementList, EngagementSummary, UserStatsResponse
from engagement.domain.linear import LINEAR
from engagement.domain.queries import engagement, ranked_engagements, user_stats

Limit = Annotated[int, Query(ge=1, le=100, description="How many items, highest score first")]


def list_engagements(user_id: UserId, limit: Limit = 10, as_of: AsOf = None) -> EngagementList:
    """The items a user engages with most

    Every (user, item) engagement of the user, scored at `as_of` (default: now) and ordered by
    score, highest first. 404 when nothing was ever recorded for the user (410: erased); 422 for
    an `as_of` before the user's latest event, as every score route answers.
    """
    at = _at(as_of)
    ranked = ranked_engagements(deps.store(), user_id, at, limit, explicit=as_of is not None)
    if not ranked and deps.store().contacts.get_contact(user_id) is None:
        raise absent(user_id, f"no engagement recorded for user {user_id}")
    return EngagementList(
        user_id=user_id,
        as_of=at,
        profile=LINEAR.name,
        engagements=[EngagementSummary.of(scored) for scored in ranked],
    )


def get_engagement(user_id: UserId, item_id: ItemId, as_of: AsOf = None) -> EngagementDetail:
    """One engagement with its score components

    The score, its components, counts by event type and the first and last interaction.
    404 when the user never engaged with the item (410: the user was erased); 422 for an
    `as_of` before the engagement's latest event.
    """
    at = _at(as_of)
    scored = engagement(deps.store(), user_id, item_id, at, explicit=as_of is not None)
    if scored is None:
        raise absent(user_id, f"user {user_id} has no engagement with item {item_id}")
    return EngagementDetail.of(user_id, at, LINEAR.name, scored)


def get_stats(user_id: UserId, as_of: AsOf = None) -> UserStatsResponse:
    """A user's engagement statistics

    Lifetime interaction totals, the items currently engaged with, and the five most engaged.
    404 when nothing was ever recorded for the user (410: erased); 422 for an `as_of` before
    the user's latest event.
    """
    at = _at(as_of)
    stats = user_stats(deps.store(), user_id, at, explicit=as_of is not None)
    if stats is None:
        raise absent(user_id, f"no engagement recorded for user {user_id}")
    return UserStatsResponse.of(user_id, at, stats)


def get_openapi() -> dict[str, Any]:
    """The OpenAPI document of the whole API"""
    return openapi.document()


app = resolver_for(
    "query",
    list_events,
    export_person,
    list_engagements,
    get_engagement,
    get_stats,
    get_score,
    get_history,
    list_segment,
    get_funnel,
    get_curve,
    get_overview,
    list_models,
    get_openapi,
)
