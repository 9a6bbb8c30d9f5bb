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


def bus_id(bus_key: str) -> str:
    return f"{pascal(bus_key)}EventBus"


def topic_id(topic_key: str) -> str:
    return f"{pascal(topic_key)}Topic"


def topic_dead_letter_queue_id(topic_key: str) -> str:
    """Messages the topic's subscribed function could not take (SNS delivery or the function)."""
    return f"{pascal(topic_key)}TopicDeadLetterQueue"


SCHEDULE_DEAD_LETTER_QUEUE_ID = "ScheduleDeadLetterQueue"
"""Events the schedules' rules could not deliver to their functions (one queue for all rules)."""
ALARM_TOPIC_ID = "AlarmTopic"
MAX_RULE_NAME_LENGTH = 64


def schedule_rule_name(stack_name: str, schedule_name: str) -> str:
    """The physical name of a schedule's EventBridge rule.

    Named, not generated, because the stateful stack's dead-letter queue policy must name the
    rules allowed to write to it, and it cannot reference the service stack's rules without a
    dependency cycle. A rule's name changes only with the stack or schedule name, and replacing
    a rule loses nothing.
    """
    name = f"{stack_name}-{schedule_name}"
    if len(name) > MAX_RULE_NAME_LENGTH:
        raise ValueError(f"rule name {name!r} is longer than EventBridge's {MAX_RULE_NAME_LENGTH} characters")
    return name
