"""GET /v1/users/... after real ingest and a real scorer pass."""

from __future__ import annotations

import math
from typing import Any

import pytest

from engagement.topology import TOPOLOGY
from infra.local.lambdas import load_functions

from .api import call
from .helpers import stream_event, stream_records

USER = "+15551234567"  # a phone number: the "+" must survive the URL path


def post(*events: dict[str, Any]) -> None:
    assert call("POST", "/v1/events", {"events": list(events)}).status == 202


def ev(item: str, at: str, kind: str = "query", user: str = USER) -> dict[str, Any]:
    return {"user_id": user, "item_id": item, "type": kind, "occurred_at": at}


@pytest.fixture
def scored(tables: dict[str, str]) -> None:
    post(
        ev("AI-1", "2026-11-01T00:00:00Z"),
        ev("AI-1", "2026-11-02T00:00:00Z", "mention"),
        ev("AI-1", "2026-11-03T00:00:00Z", "view"),
        ev("AI-2", "2026-11-10T00:00:00Z"),
        ev("AI-3", "2026-10-01T00:00:00Z"),
        ev("AI-9", "2026-11-10T00:00:00Z", user="someone-else"),
    )
    result = load_functions()["scorer"].invoke(stream_event(stream_records(tables["events"])))
    assert result == {"batchItemFailures": []}


def test_engagements_are_ordered_by_score_at_as_of(scored: None) -> None:
    answer = call("GET", "/v1/users/%2B15551234567/engagements?as_of=2026-11-10T00:00:00Z")
    assert answer.status == 200
    body = answer.body
    assert body["user_id"] == USER
    assert body["as_of"] == "2026-11-10T00:00:00Z"
    assert [e["item_id"] for e in body["engagements"]] == ["AI-2", "AI-1", "AI-3"]
    ai1 = body["engagements"][1]
    assert ai1["interaction_count"] == 3
    assert ai1["last_interaction"] == "2026-11-03T00:00:00Z"
    assert ai1["score"] == pytest.approx(0.4 * 0.6 + 0.6 * math.exp(-0.05 * 7), abs=1e-6)


def test_the_order_changes_with_time_because_scores_are_evaluated_when_asked(scored: None) -> None:
    # At the latest event the newest item leads; ten days on, the one engaged with more often.
    now = call("GET", f"/v1/users/{USER}/engagements?as_of=2026-11-10T00:00:00Z").body
    later = call("GET", f"/v1/users/{USER}/engagements?as_of=2026-11-20T00:00:00Z").body
    assert [e["item_id"] for e in now["engagements"]][:2] == ["AI-2", "AI-1"]
    assert [e["item_id"] for e in later["engagements"]][:2] == ["AI-1", "AI-2"]


@pytest.mark.parametrize(
    "path", ["engagements", "engagements/AI-1", "stats", "score"], ids=["list", "one", "stats", "crm"]
)
def test_an_as_of_before_the_latest_event_is_a_422_on_every_profile(scored: None, path: str) -> None:
    # Aggregates cannot take events back out: a score "as of" before events it already holds
    # would count interactions that had not happened yet (Linear once answered 0.84 for three).
    answer = call("GET", f"/v1/users/{USER}/{path}?as_of=2026-11-02T12:00:00Z")
    assert (answer.status, answer.body["details"][0]["field"]) == (422, "as_of")


def test_limit_caps_the_list(scored: None) -> None:
    answer = call("GET", f"/v1/users/{USER}/engagements?limit=2&as_of=2026-11-10T00:00:00Z")
    assert [e["item_id"] for e in answer.body["engagements"]] == ["AI-2", "AI-1"]


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=101", "limit=x", "as_of=yesterday", "as_of=2026-11-10T00:00:00"]
)
def test_bad_query_parameters_are_named(scored: None, query: str) -> None:
    answer = call("GET", f"/v1/users/{USER}/engagements?{query}")
    assert answer.status == 422
    assert answer.body["details"][0]["field"] == query.split("=", maxsplit=1)[0]


@pytest.mark.parametrize(
    "path", ["engagements", "engagements/AI-1", "stats", "score", "history", "events", "export"]
)
def test_an_unknown_user_is_a_404_on_every_route_about_one_user(tables: dict[str, str], path: str) -> None:
    answer = call("GET", f"/v1/users/nobody/{path}")
    assert (answer.status, answer.body["error"]) == (404, "not_found")


def test_one_engagement_shows_its_components_and_counts(scored: None) -> None:
    answer = call("GET", f"/v1/users/{USER}/engagements/AI-1?as_of=2026-11-10T00:00:00%2B00:00")
    assert answer.status == 200
    body = answer.body
    assert body["components"] == {
        "frequency": pytest.approx(0.6),
        "recency": pytest.approx(math.exp(-0.35), abs=1e-6),
        "idle_factor": 1.0,
    }
    assert body["score"] == pytest.approx(0.4 * 0.6 + 0.6 * math.exp(-0.35), abs=1e-6)
    assert body["counts"] == {"mention": 1, "query": 1, "view": 1}
    assert (body["first_interaction"], body["last_interaction"]) == (
        "2026-11-01T00:00:00Z",
        "2026-11-03T00:00:00Z",
    )
    assert body["days_since_last_interaction"] == 7.0


def test_a_month_later_the_score_has_decayed_without_any_job(scored: None) -> None:
    later = call("GET", f"/v1/users/{USER}/engagements/AI-1?as_of=2026-12-10T00:00:00Z").body
    assert later["components"]["idle_factor"] == pytest.approx(0.9**7)
    assert later["score"] < 0.2


def test_an_engagement_that_never_happened_is_a_404(scored: None) -> None:
    answer = call("GET", f"/v1/users/{USER}/engagements/AI-404")
    assert answer.status == 404
    assert answer.body["error"] == "not_found"
    assert "AI-404" in answer.body["message"]


def test_stats_summarize_the_user(scored: None) -> None:
    answer = call("GET", f"/v1/users/{USER}/stats?as_of=2026-11-10T00:00:00Z")
    assert answer.status == 200
    body = answer.body
    assert (body["total_interactions"], body["unique_items"]) == (5, 3)
    assert body["avg_interactions_per_item"] == pytest.approx(5 / 3, abs=1e-4)
    assert [i["item_id"] for i in body["most_engaged_items"]] == ["AI-2", "AI-1", "AI-3"]
    assert (body["first_interaction"], body["last_interaction"]) == (
        "2026-10-01T00:00:00Z",
        "2026-11-10T00:00:00Z",
    )


def test_stats_of_an_unknown_user_are_a_404(tables: dict[str, str]) -> None:
    assert call("GET", "/v1/users/nobody/stats").status == 404


@pytest.mark.parametrize("route", [r for r in TOPOLOGY.routes if not r.public], ids=lambda r: r.route_key)
def test_every_private_route_needs_a_key(tables: dict[str, str], route: Any) -> None:
    path = route.path.replace("{user_id}", "u").replace("{item_id}", "i")
    answer = call(route.method, path, key=None)
    assert (answer.status, answer.body["error"]) == (401, "unauthorized")


def test_an_unknown_route_is_a_404_like_api_gateway(tables: dict[str, str]) -> None:
    assert call("GET", "/v1/nothing").status == 404
    assert call("DELETE", "/v1/events").status == 404


def test_the_openapi_document_is_public_and_describes_every_route(tables: dict[str, str]) -> None:
    answer = call("GET", "/v1/openapi.json", key=None)
    assert answer.status == 200
    document = answer.body
    assert document["openapi"].startswith("3.")
    documented = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    assert documented == {(r.method, r.path) for r in TOPOLOGY.routes}
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert document["paths"]["/v1/events"]["post"]["security"] == [{"bearerAuth": []}]
    assert "202" in document["paths"]["/v1/events"]["post"]["responses"]
    assert "EventIn" in document["components"]["schemas"]


def suppression_after(tables: dict[str, str], *events: dict[str, Any]) -> Any:
    assert call("POST", "/v1/events", {"events": list(events)}).status == 202
    assert load_functions()["scorer"].invoke(stream_event(stream_records(tables["events"]))) == {
        "batchItemFailures": []
    }
    return call("GET", "/v1/users/%2B15550001111/stats").body["suppressed"]


def sms(kind: str, at: str, context: str | None = None) -> dict[str, Any]:
    event = {"user_id": "+15550001111", "item_id": "spring", "type": kind, "occurred_at": at}
    return {**event, "context": context} if context else event


def test_an_opt_out_suppresses_the_contact_with_its_time_and_reason(tables: dict[str, str]) -> None:
    suppressed = suppression_after(
        tables, sms("delivered", "2026-11-01T00:00:00Z"), sms("opted_out", "2026-11-02T00:00:00Z", "STOP")
    )
    assert suppressed == {"since": "2026-11-02T00:00:00Z", "reason": "STOP"}


def test_an_opt_in_lifts_the_suppression_and_a_later_opt_out_restores_it(tables: dict[str, str]) -> None:
    assert (
        suppression_after(
            tables,
            sms("opted_out", "2026-11-02T00:00:00Z", "STOP"),
            sms("opted_in", "2026-11-03T00:00:00Z", "START"),
        )
        is None
    )
    again = suppression_after(tables, sms("opted_out", "2026-11-05T00:00:00Z", "21610"))
    assert again == {"since": "2026-11-05T00:00:00Z", "reason": "21610"}


def test_a_late_old_opt_out_does_not_override_a_newer_opt_in(tables: dict[str, str]) -> None:
    assert suppression_after(tables, sms("opted_in", "2026-11-03T00:00:00Z", "START")) is None
    assert suppression_after(tables, sms("opted_out", "2026-11-01T00:00:00Z", "STOP")) is None
