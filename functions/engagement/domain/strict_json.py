"""JSON from people we do not trust: parsed once, bounded, and refused with a reason, never a crash.

Python's ``json`` accepts what this service must not: ``NaN`` and ``Infinity`` (then stored as
non-JSON text), numbers DynamoDB cannot hold (``1e-200`` passes validation and fails the write
after earlier events were stored), integers of thousands of digits (their conversion raises),
strings with lone surrogates (which no UTF-8 encoder can write), and nesting deep enough to
exhaust the parser's stack. :func:`parse` refuses each of them with a :class:`JsonRefused` that
says what and where (``events[2].value``), never repeating the value.

The limits are DynamoDB's (decision 7: validation refuses what the store would refuse): a number
has at most 38 significant digits and a magnitude between 1e-130 and 1e126, or is zero.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

MAX_DEPTH = 32
"""Objects and arrays nested deeper than this are refused: no request of this API needs more."""
MAX_NUMBER_CHARS = 64
"""A number literal longer than this cannot fit 38 digits and an exponent; it is refused before
any conversion (Python refuses integers over 4,300 digits with an exception of its own)."""
MAX_SIGNIFICANT_DIGITS = 38
SMALLEST = Decimal("1e-130")
LARGEST = Decimal("1e126")

NUMBER_RULE = "must be a finite number with at most 38 significant digits, between 1e-130 and 1e126 in size"


class JsonRefused(ValueError):
    """The body is not JSON this service accepts. ``code`` is the API error code; ``field`` the
    path of the offending value ("" for the body itself)."""

    def __init__(self, code: str, message: str, field: str = "") -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.code = code
        self.field = field
        self.reason = message


class _Number(Decimal):
    """A parsed JSON number with a fraction or exponent, kept exact until it has been checked."""


class _Integer(Decimal):
    """A parsed JSON integer literal, kept exact until it has been checked."""


def _number(text: str) -> Decimal:
    if len(text) > MAX_NUMBER_CHARS:
        return _Number("NaN")  # refused by the walk, with its path
    try:
        return _Number(text)
    except InvalidOperation:
        return _Number("NaN")


def _integer(text: str) -> Decimal:
    return _Integer(text) if len(text) <= MAX_NUMBER_CHARS else _Number("NaN")


def _constant(name: str) -> Decimal:
    return _Number("NaN")  # NaN, Infinity, -Infinity: refused by the walk, with its path


def fits_dynamodb(number: Decimal) -> bool:
    if not number.is_finite():
        return False
    if number.is_zero():
        return True
    # Counted as written, trailing zeros included (boto3's serializer refuses to drop even a zero;
    # normalize() would round to the default context's 28 digits).
    digits = "".join(map(str, number.as_tuple().digits)).lstrip("0")
    magnitude = abs(number)
    return len(digits) <= MAX_SIGNIFICANT_DIGITS and SMALLEST <= magnitude < LARGEST


def parse(body: bytes | str) -> Any:
    """The JSON value of ``body``, numbers as ``int`` or ``float``; raises :class:`JsonRefused`.

    Every number in it fits DynamoDB, every string is encodable as UTF-8, and nothing is nested
    deeper than ``MAX_DEPTH``.
    """
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise JsonRefused("invalid_encoding", "the body is not UTF-8 text") from None
    else:
        text = body
    try:
        value = json.loads(text, parse_float=_number, parse_int=_integer, parse_constant=_constant)
    except RecursionError:
        raise JsonRefused("invalid_json", f"the body is nested more than {MAX_DEPTH} levels deep") from None
    except ValueError:
        raise JsonRefused("invalid_json", "the body is not valid JSON") from None
    return _checked(value)


def _checked(root: Any) -> Any:
    """Walk the value without recursion (depth is what is being checked), converting numbers."""
    converted: dict[int, Any] = {}
    stack: list[tuple[Any, str, int, bool]] = [(root, "", 0, False)]
    while stack:
        node, path, depth, done = stack.pop()
        if isinstance(node, dict | list) and not done:
            if depth >= MAX_DEPTH:
                raise JsonRefused("invalid_json", f"the body is nested more than {MAX_DEPTH} levels deep")
            stack.append((node, path, depth, True))
            children = node.items() if isinstance(node, dict) else enumerate(node)
            for key, child in children:
                if isinstance(key, str):
                    _encodable(key, path or "body")
                stack.append((child, _join(path, key), depth + 1, False))
        elif isinstance(node, dict):
            converted[id(node)] = {key: _take(converted, child) for key, child in node.items()}
        elif isinstance(node, list):
            converted[id(node)] = [_take(converted, child) for child in node]
        elif isinstance(node, Decimal):
            if not fits_dynamodb(node):
                raise JsonRefused("validation_error", NUMBER_RULE, path or "body")
        elif isinstance(node, str):
            _encodable(node, path or "body")
    return _take(converted, root)


def _take(converted: dict[int, Any], node: Any) -> Any:
    if isinstance(node, dict | list):
        return converted.pop(id(node))
    if isinstance(node, _Integer):
        return int(node)
    if isinstance(node, Decimal):
        return float(node)
    return node


def _encodable(text: str, path: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise JsonRefused("validation_error", "must not contain unpaired surrogates", path) from None


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key
