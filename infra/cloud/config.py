"""Per-stage settings, chosen at synth time from the ``stage`` context value.

Only what differs between stages lives here; what the system *is* (tables, functions, routes,
the stream mapping, schedules) lives in ``engagement.topology`` and is the same everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs
from constructs import Node

DEFAULT_STAGE = "dev"
STAGE_CONTEXT_KEY = "stage"
ALARM_EMAIL_CONTEXT_KEY = "alarm_email"


@dataclass(frozen=True, kw_only=True)
class StageConfig:
    name: str
    log_retention: logs.RetentionDays
    removal_policy: RemovalPolicy
    """For stateful resources that are not the source of truth (secrets, the failure queue, log
    groups). Tables are always retained: the event log is what everything is rebuilt from."""
    deletion_protection: bool
    """DynamoDB deletion protection: a second lock on top of RETAIN and termination protection."""
    throttle_rate_limit: int
    """Steady-state requests per second across the HTTP API's default stage."""
    throttle_burst_limit: int
    alarm_email: str | None = None
    """Where alarms go. Without it the alarms still exist (visible in the console), unwired."""
    event_retention_days: int | None = None
    """Days an event stays in the log before TTL removes it; None keeps the runtime's default."""


STAGES: dict[str, StageConfig] = {
    "dev": StageConfig(
        name="dev",
        log_retention=logs.RetentionDays.ONE_WEEK,
        removal_policy=RemovalPolicy.DESTROY,
        deletion_protection=False,
        throttle_rate_limit=50,
        throttle_burst_limit=100,
    ),
    "prod": StageConfig(
        name="prod",
        log_retention=logs.RetentionDays.THREE_MONTHS,
        removal_policy=RemovalPolicy.RETAIN,
        deletion_protection=True,
        throttle_rate_limit=500,
        throttle_burst_limit=1000,
    ),
}


def stage_from_context(node: Node) -> StageConfig:
    """The stage named by ``-c stage=...`` (default dev), with an optional ``-c alarm_email=...``.

    Read once, at the app's root, and handed to the stacks as a value: constructs never look up
    context themselves, so tests can build any stage without touching cdk.json.
    """
    name = node.try_get_context(STAGE_CONTEXT_KEY) or DEFAULT_STAGE
    if name not in STAGES:
        raise ValueError(f"unknown stage {name!r}; expected one of {', '.join(sorted(STAGES))}")
    config = STAGES[name]
    alarm_email = node.try_get_context(ALARM_EMAIL_CONTEXT_KEY)
    if alarm_email:
        config = replace(config, alarm_email=str(alarm_email))
    return config
