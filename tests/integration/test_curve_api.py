"""GET /v1/users/{user_id}/curve: a score function sampled from one aggregate read."""

from __future__ import annotations

import math
from typing import Any

import pytest

from engagement.domain.curves import MAX_POINTS
from infra.local.lambdas import load_functions

from .api import call
from .helpers import stream_event, stream_records

USER = "+15551234567"


def ev(item: str, at: str, kind: str = "query", user: str = USER) -> dict[str, Any]:
    return {"user_id": user, "item_id": item, "type": kind, "occurred_at": at}


@pytest.fixture
def scored(tables: dict[str, str]) -> None:
    events = [
        ev("AI-1", "2026-11-01T00:00:00Z"),
        ev("AI-1", "2026-11-03T00:00:00Z", "mention"),
        ev("spring", "2026-11-02T00:00:00Z", "delivered"),
        ev("spring", "2026-11-04T00:00:00Z", "clicked"),
    ]
    assert call("POST", "/v1/events", {"events": events}).status == 202
    assert load_functions()["scorer"].invoke(stream_event(stream_records(tables["events"]))) == {
        "batchItemFailures": []
    }


def curve(query: str, user: str = "%2B15551234567") -> Any:
    return call("GET", f"/v1/users/{user}/curve?{query}")


def test_a_linear_curve_is_the_score_function_at_every_step(scored: None) -> None:
    answer = curve("item_id=AI-1&from=2026-11-03T00:00:00Z&to=2026-11-06T00:00:00Z&step=P1D")
    assert answer.status == 200, answer.body
    body = answer.body
    assert (body["user_id"], body["item_id"], body["profile"]) == (USER, "AI-1", "linear")
    assert (body["from"], body["to"], body["step_seconds"]) == (
        "2026-11-03T00:00:00Z",
        "2026-11-06T00:00:00Z",
        86400,
    )
    assert body["known_from"] == "2026-11-03T00:00:00Z"
    assert [p["at"] for p in body["points"]] == [f"2026-11-0{d}T00:00:00Z" for d in (3, 4, 5, 6)]
    expected = [round(0.4 * 0.4 + 0.6 * math.exp(-0.05 * d), 6) for d in range(4)]
    assert [p["score"] for p in body["points"]] == expected


def test_each_point_equals_the_engagement_route_at_that_instant(scored: None) -> None:
    body = curve("item_id=AI-1&from=2026-11-10T00:00:00Z&to=2027-01-10T00:00:00Z&step=P7D").body
    for point in body["points"]:
        single = call("GET", f"/v1/users/%2B15551234567/engagements/AI-1?as_of={point['at']}").body
        assert point["score"] == single["score"], point["at"]


def test_before_the_first_event_the_score_is_zero_and_until_the_latest_unknown(scored: None) -> None:
    body = curve("item_id=AI-1&from=2026-10-31T00:00:00Z&to=2026-11-04T00:00:00Z&step=P1D").body
    assert (body["first_event"], body["known_from"]) == ("2026-11-01T00:00:00Z", "2026-11-03T00:00:00Z")
    assert [p["score"] for p in body["points"]][:4] == [0.0, None, None, 1.0 * 0.4 * 0.4 + 0.6]


def test_a_crm_curve_matches_the_score_route(scored: None) -> None:
    body = curve("profile=crm&from=2026-11-04T00:00:00Z&to=2026-12-04T00:00:00Z&step=P10D").body
    assert (body["profile"], body["item_id"], body["known_from"]) == ("crm", None, "2026-11-04T00:00:00Z")
    assert len(body["points"]) == 4
    for point in body["points"]:
        single = call("GET", f"/v1/users/%2B15551234567/score?profile=crm&as_of={point['at']}").body
        assert point["score"] == single["score"], point["at"]
    scores = [p["score"] for p in body["points"]]
    assert scores == sorted(scores, reverse=True)  # nothing new happens: the score only fades


def test_without_a_range_the_curve_is_the_last_thirty_days_in_120_steps(scored: None) -> None:
    body = curve("item_id=AI-1").body
    assert len(body["points"]) == 121
    assert body["step_seconds"] == 30 * 86400 / 120


def test_a_step_in_seconds_is_accepted(scored: None) -> None:
    body = curve("item_id=AI-1&from=2026-11-03T00:00:00Z&to=2026-11-03T01:00:00Z&step=900").body
    assert len(body["points"]) == 5


def test_more_than_the_bound_of_points_is_a_422_naming_step(scored: None) -> None:
    answer = curve("item_id=AI-1&from=2026-11-03T00:00:00Z&to=2026-12-03T00:00:00Z&step=PT1H")
    assert answer.status == 422
    assert answer.body["details"][0]["field"] == "step"
    assert str(MAX_POINTS) in answer.body["details"][0]["message"]
    at_bound = f"from=2026-11-03T00:00:00Z&to=2026-11-03T00:{(MAX_POINTS - 1) // 60:02d}:00Z&step=60"
    assert curve(f"item_id=AI-1&{at_bound}").status == 200


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2026-11-03T00:00:00Z&to=2026-11-02T00:00:00Z&item_id=AI-1", "from"),
        ("item_id=AI-1&step=PT0S", "step"),
        ("item_id=AI-1&step=soon", "step"),
        ("item_id=AI-1&step=99999999999999999999", "step"),
        ("item_id=AI-1&from=yesterday", "from"),
        ("profile=linear", "item_id"),
        ("profile=crm&item_id=AI-1", "item_id"),
        ("profile=rfm&item_id=AI-1", "profile"),
    ],
)
def test_bad_parameters_are_422s_that_name_the_field(scored: None, query: str, field: str) -> None:
    answer = curve(query)
    assert answer.status == 422, answer.body
    assert field in {d["field"] for d in answer.body["details"]}


def test_unknown_users_and_items_are_404s_like_the_sibling_routes(scored: None) -> None:
    assert curve("item_id=AI-404").status == 404
    assert curve("item_id=AI-1", user="nobody").status == 404
    assert curve("profile=crm", user="nobody").status == 404
