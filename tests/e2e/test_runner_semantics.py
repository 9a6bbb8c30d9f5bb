"""The local runner behaves like AWS where it matters, proven over real HTTP.

One runner per module; each test uses its own user ids so tests do not see each other's data.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from engagement.domain.timefmt import parse_rfc3339

from .conftest import Runner, start_runner

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def runner() -> Iterator[Runner]:
    with start_runner(EVENT_RETENTION_DAYS="1") as started:
        yield started


def event(
    user: str, item: str = "AI-1", *, at: datetime | None = None, kind: str = "query"
) -> dict[str, Any]:
    return {
        "user_id": user,
        "item_id": item,
        "type": kind,
        "occurred_at": (at or datetime.now(UTC)).isoformat(),
    }


def dynamodb(runner: Runner) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=runner.dynamodb_url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def count_for(runner: Runner, user: str, item: str = "AI-1") -> int | None:
    status, body = runner.request("GET", f"/v1/users/{user}/engagements/{item}")
    return int(body["interaction_count"]) if status == 200 else None


def test_a_poison_record_reaches_the_failure_store_while_the_records_after_it_are_scored(
    runner: Runner,
) -> None:
    before = len(runner.control("GET", "failures")["failures"])
    runner.control("POST", "faults", {"fail_records": {"user_id": "poison-1"}})
    try:
        runner.post_events(event("before-1"), event("poison-1"), event("after-1"), event("after-2"))
        runner.control("POST", "settle")
    finally:
        runner.control("DELETE", "faults")
    [poisoned] = runner.control("GET", "failures")["failures"][before:]
    assert poisoned["requestContext"]["condition"] == "RetryAttemptsExhausted"
    # Checkpointed at the poison record: the discarded range is it and the two records after it.
    assert poisoned["DDBStreamBatchInfo"]["batchSize"] == 3
    assert (count_for(runner, "before-1"), count_for(runner, "after-1"), count_for(runner, "after-2")) == (
        1,
        1,
        1,
    )
    assert count_for(runner, "poison-1") is None
    assert runner.logged("RetryAttemptsExhausted")


def test_a_crashing_function_is_bisected_down_to_the_one_bad_record(runner: Runner) -> None:
    before = len(runner.control("GET", "failures")["failures"])
    runner.control("POST", "faults", {"fail_records": {"user_id": "crash-1", "mode": "error"}})
    try:
        runner.post_events(
            *(event(f"bisect-{n}") for n in range(3)),
            event("crash-1"),
            *(event(f"bisect-{n}") for n in range(3, 7)),
        )
        runner.control("POST", "settle")
    finally:
        runner.control("DELETE", "faults")
    failures = runner.control("GET", "failures")["failures"][before:]
    assert [f["DDBStreamBatchInfo"]["batchSize"] for f in failures] == [1]
    assert [count_for(runner, f"bisect-{n}") for n in range(7)] == [1] * 7
    assert runner.logged("bisecting")


def test_a_transient_failure_heals_and_counts_once(runner: Runner) -> None:
    runner.control("POST", "faults", {"fail_records": {"user_id": "flaky-1", "times": 2}})
    try:
        runner.post_events(event("flaky-1"), event("steady-1"))
        runner.control("POST", "settle")
    finally:
        runner.control("DELETE", "faults")
    assert (count_for(runner, "flaky-1"), count_for(runner, "steady-1")) == (1, 1)


def test_throttled_writes_are_retried_by_the_sdk_or_answered_with_a_503(runner: Runner) -> None:
    runner.control("POST", "settle")  # nothing else may write while throttles are armed
    runner.control("POST", "faults", {"throttle_writes": 1})
    status, body = runner.request("POST", "/v1/events", {"events": [event("throttle-1")]})
    assert (status, body["accepted"]) == (202, 1)  # one throttle: boto3's retry absorbs it
    assert runner.control("GET", "faults")["throttle_writes"] == 0
    runner.control("POST", "settle")

    runner.control("POST", "faults", {"throttle_writes": 50})
    try:
        status, body = runner.request("POST", "/v1/events", {"events": [event("throttle-2")]})
    finally:
        runner.control("DELETE", "faults")
    assert (status, body["error"]) == (503, "store_unavailable")
    status, body = runner.request("POST", "/v1/events", {"events": [event("throttle-2")]})
    assert (status, body["accepted"]) == (202, 1)  # the retry stores it: nothing was half-acknowledged
    assert runner.logged("throttled DynamoDB PutItem")


def test_advancing_the_clock_runs_decay_and_cleanup_once_each_at_their_instants(runner: Runner) -> None:
    now = parse_rfc3339(runner.control("GET", "status")["now"])
    runner.post_events(event("clock-1", at=now - timedelta(minutes=1)))  # not settled on purpose
    target = now.replace(hour=2, minute=30, second=0, microsecond=0) + timedelta(days=(6 - now.weekday()) % 7)
    if target <= now:
        target += timedelta(days=7)  # the next Sunday 02:30 strictly after now
    report = runner.control("POST", "clock", {"set": target.isoformat()})

    midnights = [
        datetime(d.year, d.month, d.day, tzinfo=UTC)
        for d in ((now + timedelta(days=n)).date() for n in range(1, 9))
    ]
    expected_decays = [m for m in midnights if now < m <= target]
    expected_cleanups = [
        m.replace(hour=2) for m in midnights if m.weekday() == 6 and now < m.replace(hour=2) <= target
    ]
    runs = [(r["schedule"], parse_rfc3339(r["at"])) for r in report["runs"]]
    assert [at for name, at in runs if name == "decay"] == expected_decays
    assert [at for name, at in runs if name == "cleanup"] == expected_cleanups == [target.replace(minute=0)]
    assert [at for _, at in runs] == sorted(at for _, at in runs)

    # The event was still in flight when the clock moved; it was scored before the runs, so the
    # engagement carries its expiry and the runs reconciled the contact: its next due instant is
    # past the last run's.
    table = runner.control("GET", "status")["tables"]["aggregates"]
    pair = dynamodb(runner).get_item(TableName=table, Key={"pk": {"S": "U#clock-1"}, "sk": {"S": "I#AI-1"}})
    assert "expires_at" in pair["Item"]
    contact = dynamodb(runner).get_item(TableName=table, Key={"pk": {"S": "U#clock-1"}, "sk": {"S": "#USER"}})
    assert int(contact["Item"]["due_ms"]["N"]) > int(expected_decays[-1].timestamp() * 1000)

    again = runner.control("POST", "clock", {"advance": "1m"})
    assert again["runs"] == []
    status, body = runner.request("POST", "/_local/clock", {"set": now.isoformat()}, key=None)
    assert status == 400
    assert "forward" in body["message"]


def test_expired_events_leave_through_ttl_without_uncounting(runner: Runner) -> None:
    runner.post_events(event("ttl-1"), event("ttl-1", "AI-2"))
    runner.control("POST", "settle")
    events_table = runner.control("GET", "status")["tables"]["events"]
    client = dynamodb(runner)

    def stored() -> int:
        return sum(
            1 for item in client.scan(TableName=events_table)["Items"] if item["user_id"]["S"] == "ttl-1"
        )

    assert stored() == 2
    report = runner.control("POST", "clock", {"advance": "2d"})
    assert report["expired"] >= 2
    assert stored() == 0
    assert (count_for(runner, "ttl-1"), count_for(runner, "ttl-1", "AI-2")) == (1, 1)
    assert runner.logged("expired items deleted")


def test_status_shows_the_stream_mapping_at_work(runner: Runner) -> None:
    runner.post_events(*(event(f"status-{n}") for n in range(100)))
    runner.post_events(*(event(f"status-{n}") for n in range(100, 150)))
    runner.control("POST", "settle")
    status = runner.control("GET", "status")
    [stream] = status["streams"]
    assert stream["pending"] == 0
    assert 0 < stream["largest_batch"] <= 100
    assert set(status["next_runs"]) == {"decay", "cleanup", "fit"}
