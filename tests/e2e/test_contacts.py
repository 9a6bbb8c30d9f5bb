"""Contacts through the whole local system over real HTTP: events in, the CRM score out, band
changes on the bus as they happen, and the daily runs' history and bands as the clock moves."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from engagement.domain.timefmt import parse_rfc3339, rfc3339

from .conftest import Runner, start_runner

pytestmark = pytest.mark.e2e

CONTACT = "+14155550100"


@pytest.fixture(scope="module")
def runner() -> Iterator[Runner]:
    with start_runner() as started:
        yield started


def sms(kind: str, minutes_ago: int, now: Any, **extra: Any) -> dict[str, Any]:
    at = now - timedelta(minutes=minutes_ago)
    return {"user_id": CONTACT, "item_id": "spring", "type": kind, "occurred_at": rfc3339(at), **extra}


def test_a_contact_is_scored_banded_published_and_then_decays_day_by_day(runner: Runner) -> None:
    now = parse_rfc3339(runner.control("GET", "status")["now"])
    runner.post_events(
        sms("delivered", 60, now),
        sms("clicked", 50, now),
        sms("responded", 40, now),
        sms("converted", 30, now, value="49.90"),
    )
    runner.control("POST", "settle")

    status, score = runner.request("GET", f"/v1/users/{CONTACT}/score")
    assert status == 200, score
    assert score["band"] == score["segment"]["band"] == "hot"
    assert score["explanation"]["sentence"].startswith(f"Score {round(score['score'])}")
    published = runner.control("GET", "buses/engagement")["events"]
    assert [(e["detail"]["user_id"], e["detail"]["new_band"]) for e in published] == [(CONTACT, "hot")]

    status, funnel = runner.request("GET", "/v1/items/spring/funnel")
    assert status == 200
    assert [s["contacts"] for s in funnel["steps"]] == [1, 1, 1, 1]

    report = runner.control("POST", "clock", {"advance": "10d"})
    decays = [r for r in report["runs"] if r["schedule"] == "decay"]
    assert len(decays) == 10
    assert all(r["result"]["complete"] for r in decays)

    status, history = runner.request("GET", f"/v1/users/{CONTACT}/history")
    assert status == 200
    points = history["points"]
    assert len(points) == 10  # the score fell every day, so every run kept a point
    assert [p["score"] for p in points] == sorted((p["score"] for p in points), reverse=True)

    status, later = runner.request("GET", f"/v1/users/{CONTACT}/score")
    assert later["score"] < score["score"]
    status, segment = runner.request("GET", f"/v1/segments/{later['segment']['band']}")
    assert CONTACT in [m["user_id"] for m in segment["members"]]
    bands = [e["detail"]["new_band"] for e in runner.control("GET", "buses/engagement")["events"]]
    assert bands[-1] == later["segment"]["band"]
