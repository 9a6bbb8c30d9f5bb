"""A person's data: their events, an export of everything held about them, and their erasure.

GDPR articles 15 (access) and 17 (erasure), CCPA: the query function lists and exports (it only
reads), the privacy function erases (the only function with rights to delete a person's data).
See domain.erasure for the rules that keep an erasure from coming undone.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import AwareDatetime, BeforeValidator, JsonValue

from engagement import deps
from engagement.api.errors import JSON
from engagement.api.params import UserId, instant
from engagement.api.person_state import absent, erasure_of
from engagement.api.privacy_models import (
    ErasureResponse,
    EventsPageResponse,
    ExportResponse,
    StoredEventOut,
    plain,
)
from engagement.api.resolver import resolver_for
from engagement.domain import clock
from engagement.domain.erasure import erase
from engagement.domain.errors import FieldProblem, InvalidInput, StoreError
from engagement.domain.event_types import EventType
from engagement.domain.timefmt import from_ms, rfc3339, to_ms
from engagement.observability import logger
from engagement.store.person import InvalidEventsCursor

EXPORT_EVENTS_PAGE = 1_000
ERASE_BUDGET_S = 20.0
"""Time one DELETE spends removing data before it answers 202 (the function's timeout is 30 s)."""

Instant = Annotated[AwareDatetime | None, BeforeValidator(instant)]
From = Annotated[
    Instant, Query(alias="from", description="Events that occurred at or after this RFC 3339 instant")
]
To = Annotated[
    Instant, Query(alias="to", description="Events that occurred at or before this RFC 3339 instant")
]
Types = Annotated[
    str | None,
    Query(alias="type", description="Comma-separated event types to keep (query,view,clicked,...)"),
]
Cursor = Annotated[str | None, Query(description="The cursor of the previous page")]
Limit = Annotated[int, Query(ge=1, le=1000, description="Events per page")]


def list_events(
    user_id: UserId,
    *,
    from_at: From = None,
    to_at: To = None,
    type: Types = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> EventsPageResponse:
    """A person's events

    Every stored event of the person, newest first, a page at a time from an index (never a
    scan), with every field stored. 404 when nothing was ever recorded for the person; 410 when
    they were erased (and nothing was recorded since).
    """
    types = _types(type)
    if from_at is not None and to_at is not None and from_at > to_at:
        raise InvalidInput([FieldProblem("from", "is after to")])
    try:
        page = deps.store().person.events_page(
            user_id,
            from_ms=None if from_at is None else to_ms(from_at),
            to_ms=None if to_at is None else to_ms(to_at),
            types=types,
            cursor=cursor,
            limit=limit,
        )
    except InvalidEventsCursor as exc:
        raise InvalidInput([FieldProblem("cursor", str(exc))]) from exc
    # An empty page is "none match" for a person something is held about (an event the stream
    # has not scored yet, a tracked link), and 404 (or 410, erased) only when nothing is.
    if not page.events and cursor is None and not deps.store().person.holds_anything(user_id):
        raise absent(user_id, f"nothing is recorded for user {user_id}")
    return EventsPageResponse(
        user_id=user_id, events=[StoredEventOut.of(e) for e in page.events], cursor=page.cursor
    )


def export_person(user_id: UserId, cursor: Cursor = None) -> ExportResponse:
    """Everything held about a person

    One JSON document: the person's scores at the export's instant, every item stored about them
    (their contact and engagement aggregates, the states their score history is evaluated from,
    tracked links), an earlier erasure if any, and their events a page of 1,000 at a time (follow
    `events_cursor`; each page repeats the rest). 404 when nothing is held; 410 when they were
    erased and nothing was recorded since.
    """
    store = deps.store()
    now = clock.now()
    try:
        page = store.person.events_page(
            user_id, from_ms=None, to_ms=None, types=frozenset(), cursor=cursor, limit=EXPORT_EVENTS_PAGE
        )
    except InvalidEventsCursor as exc:
        raise InvalidInput([FieldProblem("cursor", str(exc))]) from exc
    aggregates = store.person.aggregates(user_id, now_ms=to_ms(now))
    history = store.person.history(user_id)
    links = store.person.links(user_id)
    erasure = erasure_of(user_id)
    if not (page.events or aggregates or history or links):
        raise absent(user_id, f"nothing is held about user {user_id}")
    return ExportResponse(
        user_id=user_id,
        exported_at=now,
        scores=_scores(user_id, now),
        stored={
            "aggregates": [_item(i) for i in aggregates],
            "history": [_item(i) for i in history],
            "links": [_item(i) for i in links],
        },
        erasure=None if erasure is None else ErasureResponse.of(erasure),
        events=[StoredEventOut.of(e) for e in page.events],
        events_cursor=page.cursor,
    )


def erase_person(user_id: UserId) -> Response[ErasureResponse]:
    """Erase a person

    Removes the person from every table and index (events, engagements, the contact, history,
    tracked links, segment entries) and takes their part out of shared counters (campaign
    funnels, the percentile histogram, band counts). A record under a keyed hash of the id (never
    the id) then drops any of their events that occurred before the erasure, wherever it turns up
    (in flight on the stream, redelivered, a late webhook); events that occur later are new data.
    A person who had opted out stays suppressed. 200 once the erasure is complete; 202 when there
    was more than one request could do (ask again: it resumes). Idempotent.
    """
    store = deps.store()
    hashed = store.person_hash(user_id)
    if hashed is None:
        raise StoreError("no erasure key is configured: erasure is unavailable", retryable=False)
    deadline = time.monotonic() + ERASE_BUDGET_S
    erasure = erase(
        user_id,
        hashed=hashed,
        records=store.erasures,
        person=store.person,
        now_ms=lambda: to_ms(clock.now()),
        has_time=lambda: time.monotonic() < deadline,
        wait=time.sleep,
    )
    # The audit line: the hash and what was removed, never the id.
    logger.info(
        "person erased" if erasure.status == "complete" else "person erasure in progress",
        extra={
            "person": hashed,
            "erased_at": rfc3339(from_ms(erasure.erased_at_ms)),
            "removed": dict(erasure.counts),
        },
    )
    if erasure.status == "complete":
        return Response(status_code=200, content_type=JSON, body=ErasureResponse.of(erasure))
    # Where to watch it (the DELETE itself resumes it): the path this request came in on.
    status_path = str(app.current_event.raw_event.get("rawPath", "")).rstrip("/") + "/erasure"
    headers = {"Location": status_path, "Retry-After": "1"}
    return Response(status_code=202, content_type=JSON, body=ErasureResponse.of(erasure), headers=headers)


def get_erasure(user_id: UserId) -> ErasureResponse:
    """The erasure of a person

    Where their erasure stands (`complete`, or `in_progress`: DELETE the user again to resume),
    what it removed, and any suppression it keeps. 404 when no erasure was ever asked for.
    """
    erasure = erasure_of(user_id)
    if erasure is None:
        raise NotFoundError(f"no erasure of user {user_id} was asked for")
    return ErasureResponse.of(erasure)


def _types(text: str | None) -> frozenset[EventType]:
    if not text:
        return frozenset()
    names = [name.strip() for name in text.split(",") if name.strip()]
    known = {t.value for t in EventType}
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise InvalidInput([FieldProblem("type", f"must be event types among {', '.join(sorted(known))}")])
    return frozenset(EventType(name) for name in names)


def _scores(user_id: str, now: datetime) -> dict[str, object]:
    """Scores are functions of the aggregates and a time: evaluated at the export's instant."""
    from engagement.domain.contact_queries import contact_score  # noqa: PLC0415 - the export's alone
    from engagement.domain.queries import ranked_engagements  # noqa: PLC0415

    store = deps.store()
    linear = {s.item_id: round(s.score.score, 6) for s in ranked_engagements(store, user_id, now, 1_000)}
    crm = contact_score(store.contacts, user_id, to_ms(now), explicit=False, config=deps.scoring_config())
    return {"linear": linear, "crm": None if crm is None else round(crm.evaluation.score.composite, 2)}


def _item(item: dict[str, object]) -> dict[str, JsonValue]:
    found = plain(item)
    assert isinstance(found, dict)
    return found


app = resolver_for("privacy", erase_person, get_erasure)
