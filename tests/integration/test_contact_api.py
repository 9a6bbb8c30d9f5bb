"""The contact routes after real ingest and real scorer passes: score, history, segments, funnel,
and the band changes published on the bus."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import boto3
import pytest

from engagement import deps
from engagement.domain.clock import ManualClock
from engagement.domain.timefmt import rfc3339
from infra.local.buses import drain
from infra.local.lambdas import load_functions

from .api import call
from .helpers import run_job, stream_event, stream_records

CONTACT = "+14155550100"


def ev(kind: str, at: str, *, user: str = CONTACT, item: str = "spring", **extra: Any) -> dict[str, Any]:
    return {"user_id": user, "item_id": item, "type": kind, "occurred_at": at, **extra}


def ingest_and_score(tables: dict[str, str], *events: dict[str, Any]) -> None:
    assert call("POST", "/v1/events", {"events": list(events)}).status == 202
    records = stream_records(tables["events"])
    assert load_functions()["scorer"].invoke(stream_event(records)) == {"batchItemFailures": []}


def published(tables: dict[str, str]) -> list[dict[str, Any]]:
    return drain(boto3.client("sqs"), tables["bus:engagement"])


@pytest.fixture
def contact(tables: dict[str, str], clock: ManualClock) -> None:
    # NOW is 2026-11-20T12:00Z: a contact that engaged all week and converted yesterday.
    ingest_and_score(
        tables,
        ev("delivered", "2026-11-10T12:00:00Z"),
        ev("clicked", "2026-11-17T12:00:00Z", event_id="click-1"),
        ev("clicked", "2026-11-17T12:00:00Z", event_id="click-2"),
        ev("responded", "2026-11-18T12:00:00Z"),
        ev("converted", "2026-11-19T12:00:00Z", value="120"),
        ev("delivered", "2026-11-10T12:00:00Z", user="+14155550111"),
    )


def test_the_score_answers_with_components_probabilities_percentile_band_and_explanation(
    contact: None,
) -> None:
    answer = call("GET", f"/v1/users/{CONTACT}/score?profile=crm")
    assert answer.status == 200, answer.body
    body = answer.body
    assert body["profile"] == "crm"
    assert body["as_of"] == "2026-11-20T12:00:00Z"
    # The README's worked example: the same events, the same instant offsets.
    assert body["components"] == {
        "recency": 96.72,
        "frequency": 93.92,
        "monetary": 52.07,
        "time_decay": 84.92,
        "diversity": 100.0,
    }
    assert body["score"] == pytest.approx(85.65, abs=0.01)
    assert sum(body["contributions"].values()) == pytest.approx(body["score"], abs=0.03)
    assert body["band"] == "hot"
    assert body["segment"]["band"] == "hot"  # the scorer stored it as the events arrived
    assert body["suppressed"] is None
    assert body["probabilities"]["engagement"]["status"] == "ok"
    assert 0 < body["probabilities"]["engagement"]["value"] < 1
    assert body["probabilities"]["churn_risk"]["horizon_days"] is None
    assert "5%" in body["percentile"]["resolution"]
    assert body["explanation"]["sentence"].startswith("Score 86: ")
    assert body["explanation"]["top_events"][0]["type"] == "converted"
    assert body["counts"] == {"clicked": 2, "converted": 1, "delivered": 1, "responded": 1}


def test_a_contact_with_one_event_has_no_probabilities_but_a_score(contact: None) -> None:
    body = call("GET", "/v1/users/+14155550111/score").body
    for name in ("engagement", "conversion", "churn_risk"):
        assert body["probabilities"][name]["status"] == "insufficient_data"
        assert body["probabilities"][name]["value"] is None


def test_percentiles_rank_contacts_once_the_daily_run_has_counted_them(
    contact: None, clock: ManualClock
) -> None:
    assert call("GET", f"/v1/users/{CONTACT}/score").body["percentile"]["value"] is None
    run_job("decay", clock.now().replace(hour=0, minute=0) + timedelta(days=1))
    clock.advance(timedelta(days=1))
    deps.store().contacts._histogram = None  # a new minute's read, not the cached empty one
    # Two contacts ranked by engagement level: the engaged one above the one with a delivery.
    assert call("GET", f"/v1/users/{CONTACT}/score").body["percentile"]["value"] == 75.0
    assert call("GET", "/v1/users/+14155550111/score").body["percentile"]["value"] == 25.0


def test_the_score_falls_with_time_and_the_band_follows(contact: None) -> None:
    later = call("GET", f"/v1/users/{CONTACT}/score?as_of=2027-03-01T00:00:00Z").body
    # Recency and time decay fade; lifetime value and diversity stay (about 20 points here).
    assert later["components"]["recency"] < 4
    assert later["components"]["time_decay"] < 2
    assert later["score"] < 30
    assert later["band"] in {"cold", "churning"}
    assert later["segment"]["band"] == "hot"  # stored bands move when the daily run says so


def test_the_readme_example_ninety_days_on(contact: None) -> None:
    later = call("GET", f"/v1/users/{CONTACT}/score?as_of=2027-02-18T12:00:00Z").body
    assert later["components"] == {
        "recency": 4.82,
        "frequency": 24.42,
        "monetary": 52.07,
        "time_decay": 2.17,
        "diversity": 100.0,
    }
    assert later["score"] == pytest.approx(28.29, abs=0.01)
    assert later["band"] == "churning"
    assert later["probabilities"]["churn_risk"]["value"] >= 0.7


def test_as_of_before_the_latest_event_is_refused(contact: None) -> None:
    answer = call("GET", f"/v1/users/{CONTACT}/score?as_of=2026-11-18T00:00:00Z")
    assert answer.status == 422
    assert answer.body["details"][0]["field"] == "as_of"
    assert "2026-11-19T12:00:00Z" in answer.body["details"][0]["message"]


@pytest.mark.parametrize(("query", "field"), [("profile=linear", "profile"), ("as_of=yesterday", "as_of")])
def test_bad_score_parameters_name_the_field(contact: None, query: str, field: str) -> None:
    answer = call("GET", f"/v1/users/{CONTACT}/score?{query}")
    assert answer.status == 422
    assert answer.body["details"][0]["field"] == field


def test_an_unknown_contact_is_404(tables: dict[str, str]) -> None:
    answer = call("GET", "/v1/users/nobody/score")
    assert answer.status == 404
    assert answer.body["error"] == "not_found"


def test_an_opt_out_suppresses_at_once_and_publishes_the_band_change(
    tables: dict[str, str], contact: None, clock: ManualClock
) -> None:
    first = published(tables)
    assert {(e["detail"]["user_id"], e["detail"]["new_band"]) for e in first} == {
        (CONTACT, "hot"),
        ("+14155550111", "cold"),
    }
    clock.advance(timedelta(hours=1))
    ingest_and_score(tables, ev("opted_out", rfc3339(clock.now()), context="STOP"))
    body = call("GET", f"/v1/users/{CONTACT}/score").body
    assert body["band"] == "suppressed"
    assert body["segment"]["band"] == "suppressed"
    assert body["suppressed"]["reason"] == "STOP"
    assert body["score"] == pytest.approx(
        sum(body["contributions"].values()) * 0.1, abs=0.01
    )  # the 90 % penalty on top of suppression
    [change] = published(tables)
    assert change["source"] == "engagement.scoring"
    assert change["detail-type"] == "engagement.band_changed"
    detail = change["detail"]
    assert (detail["old_band"], detail["new_band"]) == ("hot", "suppressed")
    assert detail["old_score"] > 80 > detail["new_score"]
    assert detail["at"] == rfc3339(clock.now())
    assert detail["transition_id"] == f"{CONTACT}:{detail['transition_id'].split(':')[1]}:hot:suppressed"


def test_a_segment_lists_its_members_page_by_page(tables: dict[str, str], clock: ManualClock) -> None:
    users = [f"+1415555{n:04d}" for n in range(7)]
    ingest_and_score(tables, *(ev("delivered", "2026-11-20T11:00:00Z", user=u) for u in users))
    seen: list[str] = []
    cursor = ""
    while True:
        answer = call("GET", f"/v1/segments/cold?limit=3{cursor}")
        assert answer.status == 200, answer.body
        assert len(answer.body["members"]) <= 3
        seen += [m["user_id"] for m in answer.body["members"]]
        if answer.body["cursor"] is None:
            break
        cursor = f"&cursor={answer.body['cursor']}"
    assert sorted(seen) == users
    assert call("GET", "/v1/segments/hot").body["members"] == []


@pytest.mark.parametrize(
    ("target", "field"), [("/v1/segments/lukewarm", "band"), ("/v1/segments/hot?cursor=x", "cursor")]
)
def test_bad_segment_requests_name_the_field(tables: dict[str, str], target: str, field: str) -> None:
    answer = call("GET", target)
    assert answer.status == 422
    assert answer.body["details"][0]["field"] == field


def test_the_funnel_counts_each_contact_once_per_stage(tables: dict[str, str], contact: None) -> None:
    ingest_and_score(
        tables,
        ev("clicked", "2026-11-20T11:00:00Z"),  # this contact clicked again: still one contact
        ev("delivered", "2026-11-10T12:00:00Z", user="+14155550122"),
        ev("bounced", "2026-11-10T12:00:01Z", user="+14155550133"),
    )
    body = call("GET", "/v1/items/spring/funnel").body
    steps = {s["stage"]: s for s in body["steps"]}
    assert [s["stage"] for s in body["steps"]] == ["delivered", "clicked", "responded", "converted"]
    assert steps["delivered"]["contacts"] == 3
    assert steps["clicked"]["contacts"] == 1
    assert steps["clicked"]["rate_from_previous"] == pytest.approx(1 / 3, abs=1e-4)
    assert steps["converted"]["rate_from_first"] == pytest.approx(1 / 3, abs=1e-4)
    exits = {s["stage"]: s["contacts"] for s in body["exits"]}
    assert exits == {"opted_out": 0, "bounced": 1}
    assert call("GET", "/v1/items/nothing-sent/funnel").status == 404


def test_history_is_empty_until_the_daily_run_and_validates_its_range(contact: None) -> None:
    body = call("GET", f"/v1/users/{CONTACT}/history").body
    assert body["points"] == []
    assert (body["from"], body["to"]) == ("2026-08-22", "2026-11-20")
    answer = call("GET", f"/v1/users/{CONTACT}/history?from=2026-11-10&to=2026-11-01")
    assert answer.status == 422
    assert answer.body["details"][0]["field"] == "from"
