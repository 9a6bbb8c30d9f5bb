"""The runner's and the benchmarks' faster moto must answer exactly as moto does, or the runner
is not DynamoDB and the benchmark figures measure fiction.

Every scenario runs twice on fresh in-process moto backends, once as moto is and once with
``infra.local.moto_scale`` installed, and the two transcripts must be equal: every Scan page's
keys, its ``LastEvaluatedKey``, the table and its stream afterwards, including after a
transaction that fails. Then what the patch is for: a transaction copies the items it names,
not the table, and stream iterators expire.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.models.dynamo_type import Item

from infra.local import moto_scale

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
        # The runner's events table streams: what a transaction does to the stream is pinned too.
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )


def _streams() -> Any:
    return boto3.client(
        "dynamodbstreams",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def _stream(client: Any) -> list[Any]:
    """Every record of the table's stream, read from a fresh iterator (moto's own rollback swaps
    the table object, which strands iterators issued before it): what DynamoDB decides, without
    the random event ids and wall-clock stamps."""
    streams = _streams()
    arn = client.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    return [
        (
            record["eventName"],
            record["dynamodb"]["SequenceNumber"],
            record["dynamodb"]["Keys"],
            record["dynamodb"].get("NewImage"),
            record["dynamodb"].get("OldImage"),
        )
        for record in records
    ]


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
    seen.append(_stream(client))
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
    stream_after_failure = _stream(client)
    client.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": TABLE, "Item": {**_key("U#c", "I#1"), "n": {"N": "3"}}}},
            {"Delete": {"TableName": TABLE, "Key": _key("U#b", "I#1")}},
        ]
    )
    return [after_failure, _paged_scan(client), stream_after_failure, _stream(client)]


def _transaction_naming_a_missing_table(client: Any) -> list[Any]:
    """An action moto cannot even look up, after one it has applied: the applied one is undone."""
    _put(client, "U#a", "I#1", 1)
    with pytest.raises(client.exceptions.ClientError):
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": {**_key("U#d", "I#1"), "n": {"N": "4"}}}},
                {"Put": {"TableName": "no-such-table", "Item": {**_key("U#e", "I#1")}}},
            ]
        )
    return [_paged_scan(client), _stream(client)]


def _index_queries(client: Any) -> list[Any]:
    """Paged queries of a sparse global secondary index with a number sort key (the due index's
    shape), after puts, updates that move items in and out of it, and deletes."""
    client.create_table(
        TableName="scale-gsi",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "due_pk", "AttributeType": "S"},
            {"AttributeName": "due_ms", "AttributeType": "N"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "due",
                "KeySchema": [
                    {"AttributeName": "due_pk", "KeyType": "HASH"},
                    {"AttributeName": "due_ms", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    for n in range(120):
        item = {"pk": {"S": f"U#{n}"}, "sk": {"S": "#USER"}, "n": {"N": str(n)}}
        if n % 5:  # sparse: some items carry no index keys
            item |= {"due_pk": {"S": f"D#{n % 3}"}, "due_ms": {"N": str((n * 7919) % 500)}}
        client.put_item(TableName="scale-gsi", Item=item)
    for n in range(0, 120, 7):
        client.update_item(
            TableName="scale-gsi",
            Key=_key(f"U#{n}", "#USER"),
            UpdateExpression="SET due_pk = :p, due_ms = :t",
            ExpressionAttributeValues={":p": {"S": "D#1"}, ":t": {"N": "0"}},
        )
    for n in range(3, 120, 11):
        client.delete_item(TableName="scale-gsi", Key=_key(f"U#{n}", "#USER"))
    pages: list[Any] = []
    for shard in range(3):
        start: dict[str, Any] | None = None
        while True:
            extra = {"ExclusiveStartKey": start} if start else {}
            page = client.query(
                TableName="scale-gsi",
                IndexName="due",
                KeyConditionExpression="due_pk = :p AND due_ms <= :t",
                ExpressionAttributeValues={":p": {"S": f"D#{shard}"}, ":t": {"N": "300"}},
                Limit=PAGE,
                **extra,
            )
            pages.append((shard, page["Items"], page.get("LastEvaluatedKey")))
            start = page.get("LastEvaluatedKey")
            if not start:
                break
    return pages


@pytest.mark.parametrize(
    "scenario",
    [_puts_deletes_and_scans, _failed_transaction, _transaction_naming_a_missing_table, _index_queries],
)
def test_the_patched_backend_answers_exactly_as_moto_does(scenario: Callable[[Any], list[Any]]) -> None:
    assert _transcript(scenario, patched=True) == _transcript(scenario, patched=False)


def test_a_failed_transaction_leaves_every_item_and_the_stream_as_they_were() -> None:
    after_failure, after_success, stream_after_failure, stream_after_success = _transcript(
        _failed_transaction, patched=True
    )
    assert [(name, keys["pk"]["S"]) for name, _, keys, _, _ in stream_after_failure] == [
        ("INSERT", "U#a"),
        ("INSERT", "U#b"),
    ]
    assert [(name, keys["pk"]["S"]) for name, _, keys, _, _ in stream_after_success[2:]] == [
        ("INSERT", "U#c"),
        ("REMOVE", "U#b"),
    ]

    def rows(pages: list[Any]) -> list[tuple[str, str, str]]:
        return sorted(row for _, page_rows, _ in pages for row in page_rows)

    assert rows(after_failure) == [("U#a", "I#1", "1"), ("U#b", "I#1", "1")]
    assert rows(after_success) == [("U#a", "I#1", "1"), ("U#c", "I#1", "3")]


def test_pages_respect_the_limit_and_cover_every_item_once() -> None:
    (first, second, _) = _transcript(_puts_deletes_and_scans, patched=True)
    for pages, expected in ((first, 150), (second, 190 - 38 + 1)):
        assert all(len(rows) <= PAGE for _, rows, _ in pages)
        keys = [(pk, sk) for _, rows, _ in pages for pk, sk, _ in rows]
        assert len(keys) == len(set(keys)) == expected


def _items_copied_by_one_transaction(*, patched: bool, table_size: int) -> int:
    copies = 0
    original = Item.__deepcopy__

    def counting(self: Item, memo: dict[int, Any]) -> Item:
        nonlocal copies
        copies += 1
        return original(self, memo)

    def scenario(client: Any) -> list[Any]:
        for n in range(table_size):
            _put(client, f"U#{n}", "I#1", n)
        Item.__deepcopy__ = counting  # type: ignore[method-assign]
        try:
            client.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": TABLE, "Item": {**_key("U#new", "I#1"), "n": {"N": "1"}}}},
                    {
                        "Update": {
                            "TableName": TABLE,
                            "Key": _key("U#1", "I#1"),
                            "UpdateExpression": "ADD n :one",
                            "ExpressionAttributeValues": {":one": {"N": "1"}},
                        }
                    },
                ]
            )
        finally:
            Item.__deepcopy__ = original  # type: ignore[method-assign]
        return []

    _transcript(scenario, patched=patched)
    return copies


def test_a_transaction_copies_the_items_it_names_not_the_table() -> None:
    """What took the runner to 10 GB: moto copies every touched table, whole, per transaction."""
    assert _items_copied_by_one_transaction(patched=False, table_size=300) >= 300
    assert _items_copied_by_one_transaction(patched=True, table_size=300) <= 2


def test_stream_iterators_expire_instead_of_piling_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """A poller asks for a new iterator with every call; moto kept all of them, forever."""
    now = [0.0]
    monkeypatch.setattr(moto_scale, "_monotonic", lambda: now[0])

    def registered_after_polls(*, patched: bool) -> int:
        counts: list[int] = []

        def scenario(client: Any) -> list[Any]:
            from moto.dynamodbstreams.models import dynamodbstreams_backends

            _put(client, "U#a", "I#1", 1)
            streams = _streams()
            arn = client.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
            shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
            iterator = streams.get_shard_iterator(
                StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            seen = 0
            for _ in range(50):  # a poll a minute: each call hands back the iterator for the next
                now[0] += 60
                page = streams.get_records(ShardIterator=iterator)
                seen += len(page["Records"])
                iterator = page["NextShardIterator"]
            assert seen == 1  # every record once, and the iterator in hand always works
            counts.append(len(dynamodbstreams_backends["123456789012"]["us-east-1"].shard_iterators))
            return []

        _transcript(scenario, patched=patched)
        return counts[0]

    assert registered_after_polls(patched=False) > 50  # moto keeps every one
    assert registered_after_polls(patched=True) <= 16  # the last 15 minutes' worth


def test_items_made_for_reads_and_updates_are_freed() -> None:
    """moto keeps every model instance it makes for its dashboard: a dozen items per scored
    event, never freed, 2.5 GB in a runner that had scored 20,000 events."""
    import gc

    def alive_after_traffic(*, patched: bool) -> int:
        counts: list[int] = []

        def scenario(client: Any) -> list[Any]:
            _put(client, "U#a", "I#1", 1)
            gc.collect()
            before = sum(1 for o in gc.get_objects() if isinstance(o, Item))
            for _ in range(100):
                client.update_item(
                    TableName=TABLE,
                    Key={"pk": {"S": "U#a"}, "sk": {"S": "I#1"}},
                    UpdateExpression="ADD n :one",
                    ExpressionAttributeValues={":one": {"N": "1"}},
                )
                client.query(
                    TableName=TABLE,
                    KeyConditionExpression="pk = :p",
                    ExpressionAttributeValues={":p": {"S": "U#a"}},
                    ProjectionExpression="sk",
                )
            gc.collect()
            counts.append(sum(1 for o in gc.get_objects() if isinstance(o, Item)) - before)
            return []

        _transcript(scenario, patched=patched)
        return counts[0]

    assert alive_after_traffic(patched=False) >= 300  # three per update and query, kept forever
    assert alive_after_traffic(patched=True) <= 2


def test_deep_copies_elsewhere_still_copy_tables() -> None:
    """Only moto's transaction code sees tables kept instead of copied."""
    assert copy.deepcopy([1, [2]]) == [1, [2]]
