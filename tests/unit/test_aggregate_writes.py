"""The update a delta becomes: within DynamoDB's expression limits, and placeholders all used."""

from __future__ import annotations

import re

from engagement.domain.aggregates import AggregateDelta, AggregateKey, ObservedEvent
from engagement.domain.event_types import EventType
from engagement.store.aggregate_writes import MAX_EXPRESSION_CHARS, ExactBounds, update_request
from engagement.store.dedupe import WINDOW_S, DedupeRing
from engagement.store.dynamodb import MAX_EVENTS_PER_WRITE

TYPES = list(EventType)


def worst_case_delta() -> AggregateDelta:
    """The largest write the store makes: every event type, tokens in two slots, long ids."""
    events = tuple(
        ObservedEvent(
            event_id=f"{'x' * 60}-{n}",
            user_id="+14155550100",
            item_id="campaign",
            type=TYPES[n % len(TYPES)],
            occurred_ms=1_790_000_000_000 + n,
            value=None,
            recorded_s=1_790_000_000 + (WINDOW_S if n % 2 else 0),
            detail="STOP",
        )
        for n in range(MAX_EVENTS_PER_WRITE)
    )
    return AggregateDelta(AggregateKey("+14155550100"), events)


def used_placeholders(request: dict[str, object]) -> set[str]:
    text = f"{request['UpdateExpression']} {request['ConditionExpression']}"
    return set(re.findall(r"[#:][nv]\d+", text))


def test_the_largest_fast_write_fits_the_expression_limit() -> None:
    request = update_request(worst_case_delta(), exact=None, ring=DedupeRing())
    assert len(str(request["UpdateExpression"])) < MAX_EXPRESSION_CHARS
    assert len(str(request["ConditionExpression"])) < MAX_EXPRESSION_CHARS


def test_the_largest_exact_write_fits_the_expression_limit() -> None:
    delta = worst_case_delta()
    request = update_request(delta, exact=ExactBounds.after({"ver": 3}, delta), ring=DedupeRing())
    assert len(str(request["UpdateExpression"])) < MAX_EXPRESSION_CHARS
    ver = next(p for p, name in request["ExpressionAttributeNames"].items() if name == "ver")
    assert re.fullmatch(rf"{ver} = :v\d+", request["ConditionExpression"])  # the version check alone


def test_every_placeholder_is_used_on_both_paths() -> None:
    # DynamoDB refuses a request naming a placeholder its expressions do not use.
    delta = worst_case_delta()
    for exact in (None, ExactBounds.after({"ver": 1}, delta), ExactBounds.after(None, delta)):
        request = update_request(delta, exact=exact, ring=DedupeRing())
        declared = set(request["ExpressionAttributeNames"]) | set(request["ExpressionAttributeValues"])
        assert declared == used_placeholders(request)


def test_per_type_bounds_and_accumulators_go_on_the_contact_only() -> None:
    event = ObservedEvent("e1", "u1", "AI-1", EventType.QUERY, 1_790_000_000_000, None, 1_790_000_000)
    pair = update_request(AggregateDelta(AggregateKey("u1", "AI-1"), (event,)), exact=None, ring=DedupeRing())
    contact = update_request(AggregateDelta(AggregateKey("u1"), (event,)), exact=None, ring=DedupeRing())
    pair_names = set(pair["ExpressionAttributeNames"].values())
    contact_names = set(contact["ExpressionAttributeNames"].values())
    assert not any(name.startswith(("ft_", "lt_", "fd_")) for name in pair_names)
    assert {"ft_query", "lt_query"} <= contact_names
    assert any(name.startswith("fd_query_") for name in contact_names)
