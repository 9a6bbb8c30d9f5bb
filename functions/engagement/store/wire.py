"""DynamoDB's wire details, shared by the store's modules: expression placeholders, the type
codec, and how a failed call leaves the adapter (a ``StoreError``, or a refused condition)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from engagement.domain.errors import StoreError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, TransactWriteItemTypeDef

RETRYABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
    }
)
CONDITION_FAILED = "ConditionalCheckFailedException"
TRANSACTION_CANCELED = "TransactionCanceledException"

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class Expression:
    """Placeholders for names and values, so no attribute ever collides with a reserved word."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, AttributeValueTypeDef] = {}

    def name(self, attribute: str) -> str:
        for placeholder, existing in self.names.items():
            if existing == attribute:
                return placeholder
        placeholder = f"#n{len(self.names)}"
        self.names[placeholder] = attribute
        return placeholder

    def value(self, value: Any) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = _serializer.serialize(value)
        return placeholder

    def projection(self, attributes: Sequence[str]) -> str:
        return ", ".join(self.name(attribute) for attribute in attributes)

    def params(self) -> dict[str, Any]:
        """The placeholder maps, omitting an empty one (DynamoDB refuses empty maps)."""
        params: dict[str, Any] = {"ExpressionAttributeNames": self.names}
        if self.values:
            params["ExpressionAttributeValues"] = self.values
        return params


def counter_add(table: str, key: Mapping[str, str], steps: Mapping[str, int]) -> TransactWriteItemTypeDef:
    """A transaction action that adds each step to its counter (ADD creates a missing one at 0)."""
    expr = Expression()
    adds = ", ".join(f"{expr.name(name)} {expr.value(step)}" for name, step in steps.items())
    return {
        "Update": {
            "TableName": table,
            "Key": serialize(key),
            "UpdateExpression": f"ADD {adds}",
            **expr.params(),  # type: ignore[typeddict-item]
        }
    }


def to_decimal(value: float) -> Decimal:
    # boto3 refuses floats; repr() is the shortest string that round-trips exactly.
    return Decimal(repr(round(value, 12)))


def serialize(item: Mapping[str, Any]) -> dict[str, AttributeValueTypeDef]:
    return {key: _serializer.serialize(value) for key, value in item.items()}


def deserialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


def query_all(client: DynamoDBClient, doing: str, **request: Any) -> list[dict[str, Any]]:
    """Every item a Query matches, page after page, deserialized."""
    found: list[dict[str, Any]] = []
    start: dict[str, Any] | None = None
    while True:
        page_request = {**request, "ExclusiveStartKey": start} if start else request
        with translating(doing):
            page = client.query(**page_request)
        found += [deserialize(item) for item in page.get("Items", [])]
        start = page.get("LastEvaluatedKey")
        if not start:
            return found


BATCH_GET_KEYS = 100
"""DynamoDB's limit of keys per BatchGetItem call."""
BATCH_GET_ATTEMPTS = 5
BATCH_GET_BACKOFF_S = 0.025
"""Before asking again for unprocessed keys: 0.05, 0.1, 0.2, 0.4 s."""


def batch_get_all(
    client: DynamoDBClient,
    doing: str,
    keys: Mapping[str, Sequence[Mapping[str, Any]]],
    *,
    consistent: bool = False,
) -> dict[str, list[dict[str, Any]]]:
    """Every existing item among ``keys`` (table -> plain keys), deserialized, by table: 100 keys
    a call, unprocessed keys asked again (DynamoDB returns them under load rather than failing
    the call); still unprocessed after a few attempts, a retryable ``StoreError``."""
    pending = [(table, key) for table, table_keys in keys.items() for key in table_keys if table]
    found: dict[str, list[dict[str, Any]]] = {}
    for start in range(0, len(pending), BATCH_GET_KEYS):
        request: dict[str, Any] = {}
        for table, key in pending[start : start + BATCH_GET_KEYS]:
            entry = request.setdefault(table, {"Keys": [], "ConsistentRead": consistent})
            entry["Keys"].append(serialize(dict(key)))
        for attempt in range(BATCH_GET_ATTEMPTS):
            if attempt:
                time.sleep(BATCH_GET_BACKOFF_S * 2**attempt)  # they come back under load: ease off
            with translating(doing):
                answer = client.batch_get_item(RequestItems=request)
            for table, items in answer.get("Responses", {}).items():
                found.setdefault(table, []).extend(deserialize(item) for item in items)
            request = dict(answer.get("UnprocessedKeys") or {})
            if not request:
                break
        else:
            raise StoreError(f"{doing}: DynamoDB left keys unread (throttled)", retryable=True)
    return found


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class ConditionFailed(Exception):
    """A conditional write was refused. ``item`` is the item as it stood, when DynamoDB sent it;
    for a transaction, ``items`` holds one entry per transaction item (None where it passed)."""

    def __init__(self, item: dict[str, Any] | None, items: Sequence[dict[str, Any] | None] = ()) -> None:
        super().__init__("condition failed")
        self.item = item
        self.items = list(items)


def _cancellation(exc: ClientError) -> ConditionFailed | None:
    """A transaction refused by a condition (not by a conflict or throttle) as ConditionFailed."""
    reasons = exc.response.get("CancellationReasons", [])
    if not any(reason.get("Code") == "ConditionalCheckFailed" for reason in reasons):
        return None
    items = [
        deserialize(reason["Item"]) if isinstance(reason.get("Item"), Mapping) else None for reason in reasons
    ]
    return ConditionFailed(None, items)


@contextmanager
def translating(doing: str) -> Iterator[None]:
    """Every DynamoDB failure leaves the adapter as a StoreError (or a refused condition)."""
    try:
        yield
    except ClientError as exc:
        code = _code(exc)
        if code == CONDITION_FAILED:
            item = exc.response.get("Item")
            raise ConditionFailed(deserialize(item) if isinstance(item, Mapping) else None) from exc
        if code == TRANSACTION_CANCELED and (refused := _cancellation(exc)) is not None:
            raise refused from exc
        raise store_error(exc, doing) from exc
    except BotoCoreError as exc:
        raise store_error(exc, doing) from exc


def store_error(exc: Exception, doing: str) -> StoreError:
    if isinstance(exc, ClientError):
        code = _code(exc)
        return StoreError(f"DynamoDB {code} while {doing}", retryable=code in RETRYABLE_CODES)
    return StoreError(f"DynamoDB unreachable while {doing}: {type(exc).__name__}", retryable=True)
