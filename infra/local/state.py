"""DynamoDB attribute values as JSON: binary as base64 text, so a round trip is exact.

(The state file itself, its journal and its format are ``infra.local.durable``.)
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass

FORMAT_VERSION = 1
BATCH = 25  # BatchWriteItem's limit


def to_json_value(value: dict[str, Any]) -> dict[str, Any]:
    """One attribute value as DynamoDB's JSON wire format writes it: binary as base64 text."""
    ((kind, inner),) = value.items()
    if kind == "B":
        return {kind: base64.b64encode(inner).decode()}
    if kind == "BS":
        return {kind: [base64.b64encode(member).decode() for member in inner]}
    if kind == "M":
        return {kind: {k: to_json_value(v) for k, v in inner.items()}}
    if kind == "L":
        return {kind: [to_json_value(v) for v in inner]}
    return value


def from_json_value(value: dict[str, Any]) -> dict[str, Any]:
    ((kind, inner),) = value.items()
    if kind == "B":
        return {kind: base64.b64decode(inner)}
    if kind == "BS":
        return {kind: [base64.b64decode(member) for member in inner]}
    if kind == "M":
        return {kind: {k: from_json_value(v) for k, v in inner.items()}}
    if kind == "L":
        return {kind: [from_json_value(v) for v in inner]}
    return value
