"""Exactly-once effect on at-least-once delivery, through the real scorer and DynamoDB API.

Each scenario is compared with one clean pass over the same stream records: whatever Lambda
redelivers, the aggregates, and everything derived from them (percentile histogram, funnels,
bands), must come out identical.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from engagement import deps
from engagement.domain.aggregates import AggregateDelta, AggregateKey
from engagement.domain.errors import StoreError
from engagement.store.dynamodb import ApplyResult, DynamoStore
from infra.local.lambdas import load_functions
from infra.local.stream_records import LambdaRecord, sequence_of

from .helpers import aggregate_items, make_events, store_events, stream_event, stream_records, wipe

# A frozen clock: bands are evaluated "now", and the comparison with the clean pass covers them
# too (with the percentile histogram and the funnels), so "now" must be the same instant.
pytestmark = pytest.mark.usefixtures("clock")


def score(records: list[LambdaRecord]) -> dict[str, Any]:
    result: dict[str, Any] = load_functions()["scorer"].invoke(stream_event(records))
    return result


def redelivery_after(records: list[LambdaRecord], response: dict[str, Any]) -> list[LambdaRecord]:
    """What Lambda sends next: everything from the lowest failed sequence number on."""
    failed = [int(f["itemIdentifier"]) for f in response["batchItemFailures"]]
    return [r for r in records if sequence_of(r) >= min(failed)] if failed else []


@pytest.fixture
def records(tables: dict[str, str]) -> list[LambdaRecord]:
    store_events(deps.store(), make_events(60))
    found = stream_records(tables["events"])
    assert len(found) == 60
    return found


@pytest.fixture
def clean_pass(tables: dict[str, str], records: list[LambdaRecord]) -> dict[tuple[str, str], dict[str, Any]]:
    assert score(records) == {"batchItemFailures": []}
    expected = aggregate_items(tables["aggregates"])
    wipe(tables["aggregates"])
    return expected


def test_the_same_batch_delivered_twice_changes_nothing(
    tables: dict[str, str], records: list[LambdaRecord], clean_pass: dict[tuple[str, str], dict[str, Any]]
) -> None:
    assert score(records) == {"batchItemFailures": []}
    assert score(records) == {"batchItemFailures": []}
    assert aggregate_items(tables["aggregates"]) == clean_pass


def test_any_tail_replayed_in_any_batching_changes_nothing(
    tables: dict[str, str], records: list[LambdaRecord], clean_pass: dict[tuple[str, str], dict[str, Any]]
) -> None:
    # Bisected halves and checkpoint replays overlap arbitrarily: each slice below mixes
    # records already absorbed with records never seen, and together they cover all 60.
    for start, end in ((0, 20), (30, 45), (10, 35), (40, 60), (5, 55)):
        assert score(records[start:end]) == {"batchItemFailures": []}
    assert aggregate_items(tables["aggregates"]) == clean_pass


class FlakyStore:
    """The real store, except that the first write to one aggregate fails as a throttle would."""

    def __init__(self, real: DynamoStore, failing: AggregateKey) -> None:
        self.real, self.failing, self.failures = real, failing, 0
        self.contacts = real.contacts

    def apply(self, delta: AggregateDelta) -> ApplyResult:
        if delta.key == self.failing and self.failures == 0:
            self.failures += 1
            raise StoreError("DynamoDB ProvisionedThroughputExceededException (injected)", retryable=True)
        return self.real.apply(delta)


def test_a_failed_record_and_lambdas_redelivery_equal_one_clean_pass(
    tables: dict[str, str],
    records: list[LambdaRecord],
    clean_pass: dict[tuple[str, str], dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    middle = records[30]["dynamodb"]["NewImage"]
    flaky = FlakyStore(deps.store(), AggregateKey(middle["user_id"]["S"], middle["item_id"]["S"]))
    monkeypatch.setattr(deps, "store", lambda: flaky)

    first = score(records)
    assert first["batchItemFailures"], "the injected failure must be reported"
    failed = {f["itemIdentifier"] for f in first["batchItemFailures"]}
    failed_pairs = {
        (r["dynamodb"]["NewImage"]["user_id"]["S"], r["dynamodb"]["NewImage"]["item_id"]["S"])
        for r in records
        if r["dynamodb"]["SequenceNumber"] in failed
    }
    assert failed_pairs == {(flaky.failing.user_id, flaky.failing.item_id)}  # only that aggregate's records

    second = score(redelivery_after(records, first))
    assert second == {"batchItemFailures": []}
    assert aggregate_items(tables["aggregates"]) == clean_pass


def test_a_poison_record_fails_alone_and_the_rest_is_counted_once(tables: dict[str, str]) -> None:
    events = make_events(40, seed=11)
    store_events(deps.store(), events[:20])
    boto3.client("dynamodb").put_item(
        TableName=tables["events"], Item={"pk": {"S": "E#poison"}, "event_id": {"S": "poison"}}
    )
    store_events(deps.store(), events[20:])
    batch = stream_records(tables["events"])
    poison = next(r for r in batch if r["dynamodb"]["Keys"]["pk"]["S"] == "E#poison")
    refused = {"batchItemFailures": [{"itemIdentifier": poison["dynamodb"]["SequenceNumber"]}]}

    healthy = [r for r in batch if r is not poison]
    assert score(healthy) == {"batchItemFailures": []}
    expected = aggregate_items(tables["aggregates"])
    wipe(tables["aggregates"])

    first = score(batch)
    assert first == refused
    assert score(redelivery_after(batch, first)) == refused  # a poison record never heals
    assert aggregate_items(tables["aggregates"]) == expected


def test_records_other_than_inserts_are_ignored(tables: dict[str, str], records: list[LambdaRecord]) -> None:
    removal = {
        **records[0],
        "eventName": "REMOVE",
        "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
    }
    assert score([removal]) == {"batchItemFailures": []}
    assert aggregate_items(tables["aggregates"]) == {}
