"""Exactly-once effect on at-least-once delivery, through the real scorer and DynamoDB API.

Each scenario is compared with one clean pass over the same stream records: whatever Lambda
redelivers, the aggregates, and everything derived from them (percentile histogram, funnels,
bands), must come out identical.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import boto3
import pytest

from engagement import deps
from engagement.domain.aggregates import AggregateDelta, AggregateKey
from engagement.domain.erasure import Erasure
from engagement.domain.errors import StoreError
from engagement.store.dynamodb import ApplyResult, DynamoStore
from infra.local.lambdas import load_functions
from infra.local.stream_records import LambdaRecord, sequence_of

from .api import call
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

    def erasures_of(self, user_ids: Iterable[str]) -> dict[str, Erasure]:
        return self.real.erasures_of(user_ids)

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


# ---------------------------------------------------------------- erasure under redelivery
# A person erased while their events are on the stream, or while a batch holding them is half
# applied and waiting for Lambda's redelivery, must leave nothing: the store ends as if they had
# never existed, and everyone else's aggregates and the shared counters are exactly what a pass
# over everyone else's records alone would make.

ERASED = "user-1"


def user_of(record: LambdaRecord) -> str:
    return str(record["dynamodb"]["NewImage"]["user_id"]["S"])


@pytest.fixture
def without_erased(
    tables: dict[str, str], records: list[LambdaRecord]
) -> dict[tuple[str, str], dict[str, Any]]:
    """What the aggregates hold after one clean pass over everyone's records but the erased one's."""
    assert 10 < sum(1 for r in records if user_of(r) == ERASED) < len(records)
    assert score([r for r in records if user_of(r) != ERASED]) == {"batchItemFailures": []}
    expected = settled(aggregate_items(tables["aggregates"]))
    wipe(tables["aggregates"])
    return expected


def erase(user_id: str) -> dict[str, Any]:
    answer = call("DELETE", f"/v1/users/{user_id}")
    assert answer.status == 200, answer.body
    assert answer.body["status"] == "complete"
    body: dict[str, Any] = answer.body
    return body


ANONYMOUS = ("OVERVIEW#accepted", "OVERVIEW#campaigns")
"""Counts that name no one and are kept through an erasure (docs/privacy.md): events accepted per
hour, and the campaigns that ever had an engagement."""


def settled(items: dict[tuple[str, str], dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """The aggregates minus the anonymous counts. Shared counters with an erased person's
    contribution taken back hold zeros where the person alone had counted: a zero count is the
    same as none."""
    found = {}
    for key, stored in items.items():
        if key[0] in ANONYMOUS:
            continue
        item = stored
        if key[0].startswith(("FUNNEL#", "OVERVIEW#bands#")):
            item = {k: v for k, v in stored.items() if not (k.startswith("n_") and v == {"N": "0"})}
            if set(item) <= {"pk", "sk"}:
                continue
        found[key] = item
    return found


def nothing_of(user_id: str, tables: dict[str, str]) -> list[str]:
    """Every item, in any table, that still names the person (by key or attribute)."""
    client = boto3.client("dynamodb")
    left = []
    for table in tables.values():
        if table.startswith("http"):
            continue  # a bus tap's queue URL
        for page in client.get_paginator("scan").paginate(TableName=table):
            for item in page["Items"]:
                if user_id in repr(item):
                    left.append(f"{table}: {item.get('pk')}")
    return left


def test_a_person_erased_while_their_events_are_on_the_stream_leaves_nothing(
    tables: dict[str, str], records: list[LambdaRecord], without_erased: dict[tuple[str, str], dict[str, Any]]
) -> None:
    # Nothing of the person is scored yet: every one of their events is in flight.
    removed = erase(ERASED)["removed"]
    assert removed["events"] == sum(1 for r in records if user_of(r) == ERASED)

    assert score(records) == {"batchItemFailures": []}  # the in-flight batch arrives after the erasure
    assert settled(aggregate_items(tables["aggregates"])) == without_erased
    assert nothing_of(ERASED, tables) == []


def test_a_person_erased_between_a_failed_batch_and_its_redelivery_leaves_nothing(
    tables: dict[str, str],
    records: list[LambdaRecord],
    without_erased: dict[tuple[str, str], dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    middle = next(r for r in records[30:] if user_of(r) == ERASED)["dynamodb"]["NewImage"]
    flaky = FlakyStore(deps.store(), AggregateKey(middle["user_id"]["S"], middle["item_id"]["S"]))
    with monkeypatch.context() as patched:
        patched.setattr(deps, "store", lambda: flaky)
        first = score(records)
    assert first["batchItemFailures"], "the injected failure must be reported"
    # Half applied: the person's engagements before the failure are in the aggregates, with
    # their part of the funnels, the percentile histogram and the band counts.
    assert any(key[0] == f"U#{ERASED}" for key in aggregate_items(tables["aggregates"]))

    removed = erase(ERASED)["removed"]
    assert removed["contact"] == 1
    assert removed["engagements"] >= 1

    assert score(redelivery_after(records, first)) == {"batchItemFailures": []}
    assert settled(aggregate_items(tables["aggregates"])) == without_erased
    assert nothing_of(ERASED, tables) == []


def test_an_erasure_asked_twice_is_one_erasure(
    tables: dict[str, str], records: list[LambdaRecord], clean_pass: dict[tuple[str, str], dict[str, Any]]
) -> None:
    assert score(records) == {"batchItemFailures": []}
    first = erase(ERASED)
    again = erase(ERASED)
    assert again["erased_at"] == first["erased_at"]
    assert again["removed"] == first["removed"]
    assert score(records) == {"batchItemFailures": []}  # and a full replay brings nothing back
    assert nothing_of(ERASED, tables) == []
