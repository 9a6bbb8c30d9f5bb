"""The benchmark's faster moto must answer exactly as moto does, or its figures measure fiction.

Every scenario runs twice on fresh in-process moto backends, once as moto is and once with
``bench.moto_scale`` installed, and the two transcripts must be equal: every Scan page's keys,
its ``LastEvaluatedKey`` and the table afterwards, including after a transaction that fails.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from moto import mock_aws

from bench import moto_scale

TABLE = "scale"
SEGMENTS = 4
PAGE = 7


@pytest.fixture(autouse=True)
def _in_process_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    # Other suites point boto3 at a moto server for the session; these clients must reach the
    # in-process mock instead.
    for name in [name for name in os.environ if name.startswith("AWS_ENDPOINT_URL")]:
        monkeypatch.delenv(name)


def _client() -> Any:
    return boto3.client(
        "dynamodb",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def _create(client: Any) -> None:
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def _put(client: Any, pk: str, sk: str, n: int) -> None:
    client.put_item(TableName=TABLE, Item={"pk": {"S": pk}, "sk": {"S": sk}, "n": {"N": str(n)}})


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _paged_scan(client: Any) -> list[Any]:
    """Every page of every segment: the keys in it and where it stopped."""
    pages: list[Any] = []
    for segment in range(SEGMENTS):
        start: dict[str, Any] | None = None
        while True:
            extra = {"ExclusiveStartKey": start} if start else {}
            page = client.scan(TableName=TABLE, Segment=segment, TotalSegments=SEGMENTS, Limit=PAGE, **extra)
            pages.append(
                (
                    segment,
                    [(item["pk"]["S"], item["sk"]["S"], item["n"]["N"]) for item in page["Items"]],
                    page.get("LastEvaluatedKey"),
                )
            )
            start = page.get("LastEvaluatedKey")
            if not start:
                break
    return pages


def _transcript(scenario: Callable[[Any], list[Any]], *, patched: bool) -> list[Any]:
    (moto_scale.install if patched else moto_scale.uninstall)()
    try:
        with mock_aws():
            client = _client()
            _create(client)
            return scenario(client)
    finally:
        moto_scale.uninstall()


def _puts_deletes_and_scans(client: Any) -> list[Any]:
    for n in range(150):
        _put(client, f"U#{n % 37}", f"I#{n:04d}", n)
    seen = [_paged_scan(client)]
    for n in range(150, 190):  # puts after the index exists, into old and new partitions
        _put(client, f"U#{n % 53}", f"I#{n:04d}", n)
    for n in range(0, 150, 4):
        client.delete_item(TableName=TABLE, Key=_key(f"U#{n % 37}", f"I#{n:04d}"))
    client.update_item(  # an update that creates its item
        TableName=TABLE,
        Key=_key("U#new", "I#9999"),
        UpdateExpression="SET n = :n",
        ExpressionAttributeValues={":n": {"N": "7"}},
    )
    seen.append(_paged_scan(client))
    return seen


def _failed_transaction(client: Any) -> list[Any]:
    _put(client, "U#a", "I#1", 1)
    _put(client, "U#b", "I#1", 1)
    _paged_scan(client)  # build the index first, so the rollback must repair it
    with pytest.raises(client.exceptions.TransactionCanceledException):
        client.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": TABLE,
                        "Key": _key("U#a", "I#1"),
                        "UpdateExpression": "SET n = :n",
                        "ExpressionAttributeValues": {":n": {"N": "2"}},
                    }
                },
                {"Put": {"TableName": TABLE, "Item": {**_key("U#c", "I#1"), "n": {"N": "3"}}}},
                {"Delete": {"TableName": TABLE, "Key": _key("U#b", "I#1")}},
                {
                    "ConditionCheck": {
                        "TableName": TABLE,
                        "Key": _key("U#missing", "I#1"),
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        )
    after_failure = _paged_scan(client)
    client.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": TABLE, "Item": {**_key("U#c", "I#1"), "n": {"N": "3"}}}},
            {"Delete": {"TableName": TABLE, "Key": _key("U#b", "I#1")}},
        ]
    )
    return [after_failure, _paged_scan(client)]


@pytest.mark.parametrize("scenario", [_puts_deletes_and_scans, _failed_transaction])
def test_the_patched_backend_answers_exactly_as_moto_does(scenario: Callable[[Any], list[Any]]) -> None:
    assert _transcript(scenario, patched=True) == _transcript(scenario, patched=False)


def test_a_failed_transaction_leaves_every_item_as_it_was() -> None:
    after_failure, after_success = _transcript(_failed_transaction, patched=True)

    def rows(pages: list[Any]) -> list[tuple[str, str, str]]:
        return sorted(row for _, page_rows, _ in pages for row in page_rows)

    assert rows(after_failure) == [("U#a", "I#1", "1"), ("U#b", "I#1", "1")]
    assert rows(after_success) == [("U#a", "I#1", "1"), ("U#c", "I#1", "3")]


def test_pages_respect_the_limit_and_cover_every_item_once() -> None:
    (first, second) = _transcript(_puts_deletes_and_scans, patched=True)
    for pages, expected in ((first, 150), (second, 190 - 38 + 1)):
        assert all(len(rows) <= PAGE for _, rows, _ in pages)
        keys = [(pk, sk) for _, rows, _ in pages for pk, sk, _ in rows]
        assert len(keys) == len(set(keys)) == expected
