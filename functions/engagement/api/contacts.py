"""Contact routes: the CRM score, its daily history, segments (bands) and campaign funnels."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BeforeValidator

from engagement import deps
from engagement.api.contact_models import (
    ContactScoreResponse,
    FunnelResponse,
    HistoryPointOut,
    HistoryResponse,
    SegmentResponse,
)
from engagement.api.params import FIRST_DAY, AsOf, ItemId, UserId, at_or_now, calendar_day
from engagement.api.person_state import absent
from engagement.domain.bands import Band
from engagement.domain.contact_queries import campaign_funnel, contact_score
from engagement.domain.contact_records import StoredHistory
from engagement.domain.errors import FieldProblem, InvalidInput
from engagement.domain.history import history_points, latest_run_at, planned_stretches
from engagement.domain.timefmt import to_ms
from engagement.store.contacts import InvalidCursor

HISTORY_DEFAULT_DAYS = 90

Profile = Annotated[Literal["crm"], Query(description="The contact profile (per-item scores: /engagements)")]
FromDate = Annotated[
    date | None,
    BeforeValidator(calendar_day),
    Query(alias="from", description="First day, YYYY-MM-DD (default: 90 days before to)"),
]
ToDate = Annotated[
    date | None,
    BeforeValidator(calendar_day),
    Query(alias="to", description="Last day, YYYY-MM-DD (default: today, UTC)"),
]
Cursor = Annotated[str | None, Query(description="The cursor of the previous page")]
PageSize = Annotated[int, Query(ge=1, le=500, description="Members per page")]


def get_score(user_id: UserId, profile: Profile = "crm", as_of: AsOf = None) -> ContactScoreResponse:
    """A contact's score, explained

    The composite (0-100) and its five components, the probabilities of engaging, converting
    and churning (or `insufficient_data`), the percentile among all contacts, the band, the
    suppression state and a plain explanation, evaluated at `as_of` (default: now). 404 when
    nothing was recorded for the contact; 422 for an `as_of` before the contact's latest event.
    """
    found = contact_score(
        deps.store().contacts,
        user_id,
        to_ms(at_or_now(as_of)),
        explicit=as_of is not None,
        config=deps.scoring_with_models()[0],
    )
    if found is None:
        raise absent(user_id, f"no engagement recorded for user {user_id}")
    return ContactScoreResponse.of(found)


def get_history(user_id: UserId, from_date: FromDate = None, to_date: ToDate = None) -> HistoryResponse:
    """A contact's score history

    One point per day on which the contact's score, to one decimal, changed since the day
    before, as read at that day's run (00:00 UTC): oldest first, for the days from `from` to
    `to` (at most `HISTORY_RETENTION_DAYS`, 400 by default; a point is kept that long). Points
    are evaluated from the states the contact went through, with the models in use now. 404
    when nothing was ever recorded for the contact (410: erased).
    """
    last = to_date or at_or_now(None).date()
    first = from_date or max(FIRST_DAY, last - timedelta(days=HISTORY_DEFAULT_DAYS))
    if first > last:
        raise InvalidInput([FieldProblem("from", f"is after to ({last.isoformat()})")])
    # No point outlives the history's retention, so a longer range could only look empty.
    longest = deps.settings().history_retention_days
    if (last - first).days > longest:
        raise InvalidInput([FieldProblem("from", f"the range may span at most {longest} days")])
    contacts = deps.store().contacts
    now_ms = to_ms(at_or_now(None))
    contact = contacts.get_contact(user_id)
    stored = contacts.history(user_id, first_day=first.isoformat(), last_day=last.isoformat())
    if contact is not None:
        # Events no daily run has recorded yet are read from the contact, as the run will record
        # them (nothing when it has).
        pending = planned_stretches(contact, latest_run_at(now_ms))
        stored = StoredHistory([*stored.stretches, *pending], stored.legacy)
    points = history_points(
        stored,
        first_day=first,
        last_day=last,
        now_ms=now_ms,
        retention_days=longest,
        config=deps.scoring_with_models()[0],
    )
    if not points and contact is None:
        raise absent(user_id, f"no engagement recorded for user {user_id}")
    return HistoryResponse(
        user_id=user_id, from_date=first, to_date=last, points=[HistoryPointOut.of(p) for p in points]
    )


def list_segment(band: Band, cursor: Cursor = None, limit: PageSize = 100) -> SegmentResponse:
    """The contacts in a band

    Contacts currently in `band` (hot, warm, cold, churning, suppressed), a page at a time: pass
    the returned `cursor` to get the next page, until it is null. Read from an index, never a
    table scan. Bands are updated as events arrive and by the daily run.
    """
    try:
        page = deps.store().contacts.segment_page(band.value, cursor=cursor, limit=limit)
    except InvalidCursor as exc:
        raise InvalidInput([FieldProblem("cursor", str(exc))]) from exc
    return SegmentResponse.of(band, page)


def get_funnel(item_id: ItemId) -> FunnelResponse:
    """A campaign's funnel

    How many contacts were delivered, clicked, responded, converted, opted out and bounced
    (each contact counted once per stage), with the conversion rate between steps. Maintained
    as events arrive. 404 when no contact reached any stage.
    """
    funnel = campaign_funnel(deps.store().contacts, item_id)
    if funnel is None:
        raise NotFoundError(f"no funnel recorded for item {item_id}")
    return FunnelResponse.of(funnel)
