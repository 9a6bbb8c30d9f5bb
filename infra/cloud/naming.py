"""Construct ids derived from topology names.

Logical ids of stateful resources must never change (a new id means CloudFormation replaces the
table), so they are derived from the topology's keys by one rule, kept here, and pinned by tests.
"""

from __future__ import annotations


def pascal(name: str) -> str:
    """``api_keys`` -> ``ApiKeys``: the style CDK construct ids use."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("_") if part)


def table_id(table_key: str) -> str:
    return f"{pascal(table_key)}Table"


def secret_id(secret_key: str) -> str:
    return f"{pascal(secret_key)}Secret"


def failure_queue_id(function_name: str) -> str:
    """The on-failure queue of the stream mapping that feeds ``function_name``."""
    return f"{pascal(function_name)}StreamFailureQueue"


def function_id(function_name: str) -> str:
    return f"{pascal(function_name)}Function"
