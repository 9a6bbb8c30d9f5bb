"""The JSON reader for untrusted bodies: DynamoDB's number rule exactly, and refusals, not crashes."""

from __future__ import annotations

from decimal import Decimal

import pytest
from boto3.dynamodb.types import DYNAMODB_CONTEXT
from hypothesis import given
from hypothesis import strategies as st

from engagement.domain import strict_json


def _boto3_accepts(number: Decimal) -> bool:
    try:
        DYNAMODB_CONTEXT.create_decimal(number)
    except ArithmeticError:
        return False
    return number.is_finite()


@given(
    st.decimals(allow_nan=True, allow_infinity=True)
    | st.builds(lambda d, e: Decimal(f"{d}E{e}"), st.integers(-(10**45), 10**45), st.integers(-200, 200))
)
def test_the_number_rule_is_dynamodbs(number: Decimal) -> None:
    # Where boto3's serializer would refuse to write a number, the reader refuses to accept it
    # (and the reverse), so validation never lets through what the write would fail on.
    within_documented_range = number.is_zero() or (
        number.is_finite() and Decimal("1e-130") <= abs(number) < Decimal("1e126")
    )
    assert strict_json.fits_dynamodb(number) == (_boto3_accepts(number) and within_documented_range)


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        (b"\xff", "invalid_encoding", ""),
        (b"[" * 40 + b"]" * 40, "invalid_json", ""),
        (b"[" * 5000 + b"]" * 5000, "invalid_json", ""),
        (b'{"a": [1, {"b": NaN}]}', "validation_error", "a[1].b"),
        (b'{"a": Infinity}', "validation_error", "a"),
        (b'{"a": 1e-200}', "validation_error", "a"),
        (b'{"a": ' + b"9" * 5000 + b"}", "validation_error", "a"),
        (b'{"a": "\\ud800"}', "validation_error", "a"),
        (b'{"\\udfff": 1}', "validation_error", "body"),
        (b"{", "invalid_json", ""),
    ],
)
def test_refusals_say_what_and_where(body: bytes, code: str, field: str) -> None:
    with pytest.raises(strict_json.JsonRefused) as refused:
        strict_json.parse(body)
    assert (refused.value.code, refused.value.field) == (code, field)


def test_what_it_accepts_comes_back_as_plain_json() -> None:
    assert strict_json.parse(b'{"a": [1, 2.5, true, null, "x", {"b": -0.0}]}') == {
        "a": [1, 2.5, True, None, "x", {"b": -0.0}]
    }
    assert strict_json.parse(b"[" * 32 + b"]" * 32) is not None
