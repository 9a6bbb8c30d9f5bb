"""GET /v1/overview: counters kept where changes happen, read back without a scan."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import boto3
import pytest

from engagement import deps
from engagement.domain.clock import ManualClock
from engagement.domain.timefmt import rfc3339
from infra.local.lambdas import load_functions
from infra.local.stream_records import LambdaRecord
from tests.conftest import NOW

from .api import call
from .helpers import run_job, stream_event, stream_records

pytestmark = pytest.mark.usefixtures("clock")


def ev(user: str, item: str, kind: str, minutes_ago: int = 60) -> dict[str, Any]:
    return {
        "user_id": user,
        "item_id": item,
        "type": kind,
        "occurred_at": rfc3339(NOW - timedelta(minutes=minutes_ago)),
    }


def accepted_at(records: list[LambdaRecord], hours_ago: float) -> list[LambdaRecord]:
    """The records as the stream delivers them when the log accepted the events ``hours_ago``."""
    created = int((NOW - timedelta(hours=hours_ago)).timestamp())
    return [{**r, "dynamodb": {**r["dynamodb"], "ApproximateCreationDateTime": created}} for r in records]


def post_and_score(
    tables: dict[str, str], *events: dict[str, Any], hours_ago: float = 0, times: int = 1
) -> None:
    seen = {r["dynamodb"]["SequenceNumber"] for r in stream_records(tables["events"])}
    assert call("POST", "/v1/events", {"events": list(events)}).status == 202
    fresh = [r for r in stream_records(tables["events"]) if r["dynamodb"]["SequenceNumber"] not in seen]
    for _ in range(times):
        answer = load_functions()["scorer"].invoke(stream_event(accepted_at(fresh, hours_ago)))
        assert answer == {"batchItemFailures": []}


def overview() -> Any:
    answer = call("GET", "/v1/overview")
    assert answer.status == 200, answer.body
    return answer.body


def test_accepted_events_are_counted_per_hour_once_whatever_is_redelivered(tables: dict[str, str]) -> None:
    post_and_score(tables, ev("u1", "AI-1", "query"), ev("u2", "AI-1", "view"), hours_ago=0, times=2)
    post_and_score(tables, ev("u1", "AI-2", "query", 300), hours_ago=5)
    post_and_score(tables, ev("u3", "AI-3", "query", 3000), hours_ago=50)  # before the window
    hours = overview()["accepted"]["hours"]
    assert len(hours) == 48
    assert hours[-1] == {"hour": "2026-11-20T12:00:00Z", "events": 2}
    assert hours[-6] == {"hour": "2026-11-20T07:00:00Z", "events": 1}
    assert sum(h["events"] for h in hours) == 3
    assert overview()["accepted"]["total"] == 3


def test_contacts_per_band_follow_every_recorded_band_change(tables: dict[str, str]) -> None:
    post_and_score(
        tables, ev("+15550000001", "spring", "delivered"), ev("+15550000002", "spring", "delivered")
    )
    before = {b["band"]: b["contacts"] for b in overview()["bands"]}
    assert sum(before.values()) == 2
    post_and_score(tables, ev("+15550000001", "spring", "opted_out", 30))
    after = {b["band"]: b["contacts"] for b in overview()["bands"]}
    assert after["suppressed"] == 1
    assert sum(after.values()) == 2
    listed = call("GET", "/v1/segments/suppressed").body["members"]
    assert [m["user_id"] for m in listed] == ["+15550000001"]


def test_campaigns_are_ranked_by_first_stage_reach(tables: dict[str, str]) -> None:
    post_and_score(
        tables,
        *(ev(f"+1555000000{n}", "big", "delivered") for n in range(3)),
        ev("+15550000001", "big", "clicked", 50),
        ev("+15550000001", "small", "delivered"),
        ev("+15550000001", "links-only", "clicked"),  # a funnel without its first stage: reach 0
        ev("42", "AI-1799", "query"),  # an issue, not a campaign
    )
    body = overview()
    assert [(c["item_id"], c["reached"], c["clicked"]) for c in body["campaigns"]] == [
        ("big", 3, 1),
        ("small", 1, 0),
        ("links-only", 0, 1),
    ]
    assert body["campaigns_known"] == 3


def test_the_latest_runs_are_what_the_jobs_recorded(tables: dict[str, str], clock: ManualClock) -> None:
    post_and_score(tables, ev("u1", "AI-1", "query"))
    assert overview()["runs"] == []
    run_at = NOW + timedelta(hours=12)
    clock.advance(timedelta(hours=13))
    summary = run_job("decay", run_at)
    runs = overview()["runs"]
    assert [r["job"] for r in runs] == ["decay"]
    decay = runs[0]
    assert decay["run"] == summary["run"] == "decay@2026-11-21T00:00:00Z"
    assert decay["scheduled_for"] == "2026-11-21T00:00:00Z"
    assert decay["complete"] is True
    assert (decay["examined"], decay["written"]) == (summary["examined"], summary["written"])
    run_job("decay", run_at - timedelta(days=1))  # an older run, run late, does not hide the newer one
    assert overview()["runs"][0]["run"] == "decay@2026-11-21T00:00:00Z"
    run_job("cleanup", run_at)
    assert [r["job"] for r in overview()["runs"]] == ["decay", "cleanup"]


def test_the_failure_queue_depth_is_read_from_its_queue(
    tables: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert overview()["failures"]["waiting"] is None  # no queue configured: unknown, not zero
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="test-scorer-stream-failures")["QueueUrl"]
    for n in range(2):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"batch": n}))
    monkeypatch.setenv("STREAM_FAILURE_QUEUE_URL", url)
    deps.reset()
    failures = overview()["failures"]
    assert (failures["waiting"], failures["in_flight"]) == (2, 0)


def test_the_overview_reads_without_scanning(tables: dict[str, str]) -> None:
    from .test_declared_actions import recording_calls

    post_and_score(tables, ev("+15550000001", "spring", "delivered"))
    with recording_calls() as calls:
        overview()
    operations = {op for ops in calls.values() for op in ops}
    assert "Scan" not in operations
    assert operations <= {"Query", "BatchGetItem"}
