"""moto's DynamoDB, made to cost what DynamoDB costs: one fix shared by the local runner and
every benchmark, pinned to moto's own answers by ``tests/unit/test_moto_scale.py``.

Scan: moto answers every Scan page by sorting the whole table and walking it from the first item to
the ``ExclusiveStartKey`` (hashing each item's key to find its segment), so scanning a table
page by page is quadratic: at 200,000 items a full parallel scan takes minutes, and a benchmark
of a job that scans would measure moto, not the job. This module keeps, per table, the keys in
moto's own order with each key's segment, updated as items are put and deleted, and answers a
plain paged parallel Scan (no filter, projection or index: what the jobs and the baseline send)
from it by bisection, with moto's own item objects, page limit and 1 MB cap. Anything else goes
to moto's implementation untouched.

TransactWriteItems: moto keeps a deep copy of every table a transaction touches, whole, to roll
back with if an action fails: a transaction on a 200,000-item table copies 200,000 items, and
in the runner, which scores SMS events with transactions, that grew the process to 10 GB and
slowed each batch from 11 to 60 s. Here the copy is of the items the transaction names, and a
failed transaction puts back exactly those, and drops the stream records its applied actions
had emitted (moto's whole-table copy carried the stream shard, so they vanished there too):
DynamoDB's all-or-nothing, item and stream.

Query on a global secondary index: moto compares every item of the table with the index's key
values through its own typed comparisons, which at 200,000 items makes each page of a due-index
query cost seconds. Here the candidates are the items whose index partition key holds the asked
value (a plain comparison of stored strings), and moto's own query runs over those alone: its
sorting, paging, range conditions and answers are untouched.

Stream iterators: moto registers every shard iterator it hands out, one per GetRecords call,
and never forgets one; a poller at ten calls a second leaks about 2 GB a day. DynamoDB expires
an iterator 15 minutes after handing it out, and so does this.

Instance tracking: every moto model class keeps a list of every instance it ever made
(``instances_tracked``, for moto's server dashboard), and a DynamoDB ``Item`` is made for every
item read with a projection, every query result, every update's before-and-after: about a dozen
per scored event, never freed. That, not the data, grew the runner past 2.5 GB on 20,000 events.
The DynamoDB and Streams models here track nothing.
"""

from __future__ import annotations

import bisect
import copy
import time
from hashlib import md5
from typing import Any

from moto.core.model_instances import model_data
from moto.dynamodb import models as moto_models
from moto.dynamodb.comparisons import OpDefault
from moto.dynamodb.models import table as moto_table
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodbstreams import models as moto_streams

ITERATOR_LIFETIME_S = 15 * 60
"""DynamoDB Streams: "A shard iterator expires 15 minutes after it is returned to the requester"."""
_monotonic = time.monotonic  # a seam for the tests, which cannot wait 15 minutes

_original_scan = moto_table.Table.scan
_original_query = moto_table.Table.query
_original_put = moto_table.Table.put_item
_original_delete = moto_table.Table.delete_item
_original_transact = moto_models.DynamoDBBackend.transact_write_items
_original_iterator_init = moto_streams.ShardIterator.__init__
_original_get_records = moto_streams.DynamoDBStreamsBackend.get_records
_original_get_shard_iterator = moto_streams.DynamoDBStreamsBackend.get_shard_iterator
_indexes: dict[int, tuple[Any, list[tuple[str, str]]]] = {}
"""id(table) -> (the table, its (partition, sort) key values, sorted); built on its first scan.
The table is kept with its keys so a new table that reuses a dead one's id is not mistaken
for it."""


def _index_of(table: Any) -> list[tuple[str, str]] | None:
    entry = _indexes.get(id(table))
    return entry[1] if entry is not None and entry[0] is table else None


def _segment(partition: str, total: int) -> int:
    # Item.is_within_segment's rule: the first byte of an MD5 of the partition key's value.
    return md5(partition.encode("utf8"), usedforsecurity=False).digest()[0] % total


def _keys(table: Any) -> list[tuple[str, str]]:
    found = _index_of(table)
    if found is None:
        found = sorted(
            (str(hash_value.value), str(range_value.value))
            for hash_value, entries in table.items.items()
            for range_value in entries
        )
        _indexes[id(table)] = (table, found)
    return found


def _fast_scan(self: Any, *args: Any, **kwargs: Any) -> Any:
    names = (
        "filters",
        "limit",
        "exclusive_start_key",
        "filter_expression",
        "index_name",
        "consistent_read",
        "projection_expression",
        "segments",
    )
    call = dict(zip(names, args, strict=False)) | kwargs
    segments = call.get("segments", (None, None))
    # moto hands a no-op OpDefault when the request has no FilterExpression.
    no_filter = isinstance(call.get("filter_expression"), OpDefault | None)
    plain = no_filter and not any(
        call.get(name) for name in ("filters", "index_name", "projection_expression")
    )
    if not plain or self.range_key_attr is None or segments == (None, None):
        return _original_scan(self, *args, **kwargs)
    keys = _keys(self)
    segment, total = segments
    start = call.get("exclusive_start_key")
    position = 0
    if start:
        first = (
            str(next(iter(start[self.hash_key_attr].values()))),
            str(next(iter(start[self.range_key_attr].values()))),
        )
        position = bisect.bisect_right(keys, first)
    results: list[Any] = []
    size = 0
    last_key = None
    for partition, sort in keys[position:]:
        if _segment(partition, total) != segment:
            continue
        item = self.items[DynamoType({"S": partition})][DynamoType({"S": sort})]
        if len(results) == call["limit"] or size + item.size() > moto_table.RESULT_SIZE_LIMIT:
            last_key = self._get_last_evaluated_key(results[-1], None)
            break
        results.append(copy.deepcopy(item))
        size += item.size()
    return results, len(results), last_key


def _put_item(self: Any, item_attrs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
    item: Any = _original_put(self, item_attrs, *args, **kwargs)
    keys = _index_of(self)
    if keys is not None and self.range_key_attr is not None:
        key = (str(item.hash_key.value), str(item.range_key.value))
        at = bisect.bisect_left(keys, key)
        if at == len(keys) or keys[at] != key:
            keys.insert(at, key)
    return item


def _delete_item(self: Any, hash_key: Any, range_key: Any) -> Any:
    item = _original_delete(self, hash_key, range_key)
    keys = _index_of(self)
    if item is not None and keys is not None and range_key is not None:
        key = (str(hash_key.value), str(range_key.value))
        at = bisect.bisect_left(keys, key)
        if at < len(keys) and keys[at] == key:
            del keys[at]
    return item


class _TablesKept:
    """moto's ``copy`` inside its backend module, except that tables are not copied (see below)."""

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        return value if isinstance(value, moto_table.Table) else copy.deepcopy(value, memo)


def _transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> Any:
    saved = []
    for entry in transact_items:
        try:
            saved.append(_saved_item(self, entry))
        except Exception:  # noqa: S112 - a malformed action: moto's own code says what is wrong with it
            continue
    # Where each touched stream ended: records the failed transaction emitted are cut off again.
    streams = {
        id(table): (table.stream_shard, len(table.stream_shard.items) if table.stream_shard else 0)
        for table, *_ in saved
    }
    try:
        return _original_transact(self, transact_items)
    except Exception:
        for table, hash_value, range_value, item in reversed(saved):
            _restore(table, hash_value, range_value, item)
        for shard, length in streams.values():
            if shard is not None:
                del shard.items[length:]
        raise


def _saved_item(backend: Any, entry: dict[str, Any]) -> tuple[Any, Any, Any, Any]:
    operation, action = next(iter(entry.items()))
    table = backend.get_table(action["TableName"])
    key = action["Item"] if operation == "Put" else action["Key"]
    hash_value = DynamoType(key[table.hash_key_attr])
    range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
    return table, hash_value, range_value, copy.deepcopy(table.get_item(hash_value, range_value))


def _restore(table: Any, hash_value: Any, range_value: Any, item: Any) -> None:
    if range_value is None:
        if item is None:
            table.items.pop(hash_value, None)
        else:
            table.items[hash_value] = item
    elif item is None:
        table.items[hash_value].pop(range_value, None)
    else:
        table.items[hash_value][range_value] = item
    _indexes.pop(id(table), None)  # rebuilt on the next scan: rollbacks are rare


def _iterator_init(self: Any, *args: Any, **kwargs: Any) -> None:
    _original_iterator_init(self, *args, **kwargs)
    self.issued_at = _monotonic()


def _expire_iterators(backend: Any) -> None:
    """Forget iterators older than their lifetime. They are registered in the order they are
    issued, so the expired ones are the first entries of the backend's dict."""
    registered: dict[str, Any] = backend.shard_iterators
    oldest_kept = _monotonic() - ITERATOR_LIFETIME_S
    while registered:
        arn, iterator = next(iter(registered.items()))
        if getattr(iterator, "issued_at", oldest_kept) >= oldest_kept:
            break
        del registered[arn]


def _get_records(self: Any, iterator_arn: str, limit: int) -> Any:
    result = _original_get_records(self, iterator_arn, limit)
    _expire_iterators(self)
    return result


def _get_shard_iterator(self: Any, *args: Any, **kwargs: Any) -> Any:
    result = _original_get_shard_iterator(self, *args, **kwargs)
    _expire_iterators(self)
    return result


class _Candidates:
    """The table as one query sees it: every attribute its own, but only the candidate items
    (a view, so concurrent requests on the table see it whole)."""

    def __init__(self, table: Any, items: list[Any]) -> None:
        self._table, self._items = table, items

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)

    def all_items(self) -> list[Any]:
        return list(self._items)


def _index_query(self: Any, *args: Any, **kwargs: Any) -> Any:
    conditions = kwargs.get("hash_key_conditions")
    index_name = args[7] if len(args) > 7 else kwargs.get("index_name")  # moto passes it by position
    if not index_name or not conditions:
        return _original_query(self, *args, **kwargs)
    wanted = [(name, value.type, value.value) for name, value in conditions]
    candidates = []
    for entries in list(self.items.values()):
        for item in list(entries.values()) if self.range_key_attr else [entries]:
            attrs = item.attrs
            for name, kind, value in wanted:
                found = attrs.get(name)
                if found is None or found.type != kind or found.value != value:
                    break
            else:
                candidates.append(item)
    return _original_query(_Candidates(self, candidates), *args, **kwargs)  # type: ignore[arg-type]


_PATCHES: tuple[tuple[Any, str, Any, Any], ...] = (
    (moto_table.Table, "scan", _fast_scan, _original_scan),
    (moto_table.Table, "query", _index_query, _original_query),
    (moto_table.Table, "put_item", _put_item, _original_put),
    (moto_table.Table, "delete_item", _delete_item, _original_delete),
    (moto_models.DynamoDBBackend, "transact_write_items", _transact_write_items, _original_transact),
    (moto_models, "copy", _TablesKept, copy),
    (moto_streams.ShardIterator, "__init__", _iterator_init, _original_iterator_init),
    (moto_streams.DynamoDBStreamsBackend, "get_records", _get_records, _original_get_records),
    (
        moto_streams.DynamoDBStreamsBackend,
        "get_shard_iterator",
        _get_shard_iterator,
        _original_get_shard_iterator,
    ),
)


class _Untracked(list):  # type: ignore[type-arg]
    """An ``instances_tracked`` that keeps nothing: moto appends every instance it makes."""

    def append(self, instance: Any) -> None:
        return None


_UNTRACKED_SERVICES = ("dynamodb", "dynamodbstreams")


def _tracked_models() -> list[Any]:
    return [model for service in _UNTRACKED_SERVICES for model in model_data[service].values()]


def install() -> None:
    """Patch moto (idempotent). Everything else it does is untouched."""
    for owner, name, patched, _ in _PATCHES:
        setattr(owner, name, patched)
    for model in _tracked_models():
        model.instances_tracked = _Untracked()


def uninstall() -> None:
    """moto as it was (tests compare the two)."""
    for owner, name, _, original in _PATCHES:
        setattr(owner, name, original)
    for model in _tracked_models():
        model.instances_tracked = []
    _indexes.clear()
