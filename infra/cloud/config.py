"""Per-stage settings, read at synth time from the ``stages`` block of ``cdk.json``'s context.

Only what differs between stages lives there; what the system *is* (tables, functions, routes,
the stream mapping, schedules) lives in ``engagement.topology`` and is the same everywhere.
Changing a throttle limit or a retention period is an edit to ``cdk.json``, not to code.

The CDK CLI hands ``cdk.json``'s context to the app; ``python -m infra.cloud.app`` and the
tests build an ``App`` without the CLI, so the same block is read from the file when the app's
context does not carry it. Either way one parser validates it, and a typo fails the synth.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs
from constructs import Node

from engagement import settings as function_settings

CDK_JSON = Path(__file__).resolve().parents[2] / "cdk.json"
DEFAULT_STAGE = "dev"
STAGE_CONTEXT_KEY = "stage"
STAGES_CONTEXT_KEY = "stages"
ALARM_EMAIL_CONTEXT_KEY = "alarm_email"
ALARM_TOPIC_ARN_CONTEXT_KEY = "alarm_topic_arn"
TOPIC_PUBLISHERS_CONTEXT_KEY = "topic_publishers"
KEEP_RETIRED_INDEXES_CONTEXT_KEY = "keep_retired_indexes"

_E = TypeVar("_E", logs.RetentionDays, RemovalPolicy)


@dataclass(frozen=True)
class Throttle:
    """An API Gateway token bucket: steady requests per second and the burst above it."""

    rate_limit: float
    burst_limit: int

    def within(self, ceiling: Throttle) -> bool:
        return self.rate_limit <= ceiling.rate_limit and self.burst_limit <= ceiling.burst_limit


@dataclass(frozen=True, kw_only=True)
class StageConfig:
    name: str
    log_retention: logs.RetentionDays
    removal_policy: RemovalPolicy
    """For stateful resources that are not the source of truth (secrets, queues, the alarm topic,
    log groups). Tables are always retained: the event log is what everything is rebuilt from."""
    deletion_protection: bool
    """DynamoDB deletion protection: a second lock on top of RETAIN and termination protection."""
    throttle: Throttle
    """The HTTP API stage's default: the ceiling for the whole API."""
    route_throttle: Throttle
    """Every topology route's own bucket, so one busy route (a webhook storm, a client loop)
    cannot use up the whole stage's budget and starve the others."""
    route_throttle_overrides: Mapping[str, Throttle] = field(default_factory=dict)
    """By route key (``"POST /v1/events"``); a key the topology does not declare fails the synth."""
    alarm_email: str | None = None
    """Subscribed to the alarm topic (a new one, unless ``alarm_topic_arn`` names one)."""
    alarm_topic_arn: str | None = None
    """An existing SNS topic for the alarms. With neither setting the alarms exist, unwired."""
    settings: Mapping[str, str] = field(default_factory=dict)
    """Function settings by variable (``EVENT_RETENTION_DAYS``, ``SEGMENT_BANDS``...), overriding
    the declaration's defaults for every function that reads them (``engagement.settings``);
    checked at synth time by the functions' own parser, so a typo fails the synth."""
    topic_publishers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """By ``TopicSpec.key``: the AWS service principals allowed to publish to the topic (an End
    User Messaging configuration set, say). Not per stage: read from the context's top level."""
    keep_retired_indexes: bool = False
    """Keep the indexes ``engagement.topology.RETIRED_INDEXES`` names: the first of the two
    deploys that upgrade a stack made before their replacement (``-c keep_retired_indexes=true``)."""


def stage_from_context(node: Node) -> StageConfig:
    """The stage named by ``-c stage=...`` (default dev), with ``-c alarm_email=...`` and
    ``-c alarm_topic_arn=...`` overriding what ``cdk.json`` says for that stage.

    Read once, at the app's root, and handed to the stacks as a value: constructs never look up
    context themselves, so tests can build any stage without touching cdk.json.
    """
    raw_stages = node.try_get_context(STAGES_CONTEXT_KEY)
    raw_publishers = node.try_get_context(TOPIC_PUBLISHERS_CONTEXT_KEY)
    stages = parse_stages(
        raw_stages if raw_stages is not None else _cdk_json_context().get(STAGES_CONTEXT_KEY),
        raw_publishers
        if raw_publishers is not None
        else _cdk_json_context().get(TOPIC_PUBLISHERS_CONTEXT_KEY),
    )
    name = node.try_get_context(STAGE_CONTEXT_KEY) or DEFAULT_STAGE
    if name not in stages:
        raise ValueError(f"unknown stage {name!r}; expected one of {', '.join(sorted(stages))}")
    config = stages[name]
    alarm_email = node.try_get_context(ALARM_EMAIL_CONTEXT_KEY)
    if alarm_email:
        config = replace(config, alarm_email=str(alarm_email))
    alarm_topic_arn = node.try_get_context(ALARM_TOPIC_ARN_CONTEXT_KEY)
    if alarm_topic_arn:
        config = replace(config, alarm_topic_arn=_topic_arn(str(alarm_topic_arn)))
    keep = node.try_get_context(KEEP_RETIRED_INDEXES_CONTEXT_KEY)
    if keep is not None:
        # On the command line (-c key=true) context values are strings.
        flag = {"true": True, "false": False}.get(keep, keep) if isinstance(keep, str) else keep
        config = replace(config, keep_retired_indexes=_bool(flag, KEEP_RETIRED_INDEXES_CONTEXT_KEY))
    return config


def parse_stages(raw: Any, raw_publishers: Any = None) -> dict[str, StageConfig]:
    if not isinstance(raw, Mapping) or not raw:
        raise ValueError(f"context {STAGES_CONTEXT_KEY!r} must map stage names to settings")
    publishers = _publishers(raw_publishers or {})
    return {
        str(name): replace(_parse_stage(str(name), settings), topic_publishers=publishers)
        for name, settings in raw.items()
    }


def _publishers(raw: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, Mapping) or not all(
        isinstance(principals, list)
        and all(isinstance(p, str) and p.endswith(".amazonaws.com") for p in principals)
        for principals in raw.values()
    ):
        raise ValueError(
            f"context {TOPIC_PUBLISHERS_CONTEXT_KEY!r} must map topic keys to lists of service principals"
        )
    return {str(key): tuple(principals) for key, principals in raw.items()}


_STAGE_KEYS = {
    "log_retention",
    "removal_policy",
    "deletion_protection",
    "throttle",
    "route_throttle",
    "route_throttle_overrides",
    "alarm_email",
    "alarm_topic_arn",
    "settings",
}


def _parse_stage(name: str, raw: Any) -> StageConfig:
    where = f"{STAGES_CONTEXT_KEY}.{name}"
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where} must be an object")
    unknown = set(raw) - _STAGE_KEYS
    if unknown:
        raise ValueError(f"{where}: unknown settings {', '.join(sorted(unknown))}")
    throttle = _throttle(raw["throttle"], f"{where}.throttle")
    route_throttle = _throttle(raw["route_throttle"], f"{where}.route_throttle")
    overrides = {
        str(key): _throttle(value, f"{where}.route_throttle_overrides[{key}]")
        for key, value in dict(raw.get("route_throttle_overrides") or {}).items()
    }
    # A route bucket larger than the stage's could never fill: the stage limit applies first.
    for label, route in [("route_throttle", route_throttle), *overrides.items()]:
        if not route.within(throttle):
            raise ValueError(f"{where}: {label} exceeds the stage throttle")
    overrides_of_settings = _settings(raw.get("settings") or {}, f"{where}.settings")
    return StageConfig(
        name=name,
        log_retention=_enum(logs.RetentionDays, raw["log_retention"], f"{where}.log_retention"),
        removal_policy=_enum(RemovalPolicy, str(raw["removal_policy"]).upper(), f"{where}.removal_policy"),
        deletion_protection=_bool(raw["deletion_protection"], f"{where}.deletion_protection"),
        throttle=throttle,
        route_throttle=route_throttle,
        route_throttle_overrides=overrides,
        alarm_email=str(raw["alarm_email"]) if raw.get("alarm_email") else None,
        alarm_topic_arn=_topic_arn(str(raw["alarm_topic_arn"])) if raw.get("alarm_topic_arn") else None,
        settings=overrides_of_settings,
    )


def _settings(raw: Any, where: str) -> dict[str, str]:
    if not isinstance(raw, Mapping) or not all(isinstance(v, str) for v in raw.values()):
        raise ValueError(f"{where} must map variables to strings")
    values = {str(k): str(v) for k, v in raw.items()}
    try:
        function_settings.validate_overrides(values)  # the functions would fail their cold start on it
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from exc
    return values


def _throttle(raw: Any, where: str) -> Throttle:
    if not isinstance(raw, Mapping) or set(raw) != {"rate_limit", "burst_limit"}:
        raise ValueError(f"{where} must be {{'rate_limit': ..., 'burst_limit': ...}}")
    throttle = Throttle(rate_limit=float(raw["rate_limit"]), burst_limit=int(raw["burst_limit"]))
    if throttle.rate_limit <= 0 or throttle.burst_limit <= 0:
        raise ValueError(f"{where}: limits must be positive")
    return throttle


def _enum(kind: type[_E], raw: Any, where: str) -> _E:
    try:
        return kind[str(raw)]
    except KeyError:
        raise ValueError(f"{where}: {raw!r} is not one of {', '.join(m.name for m in kind)}") from None


def _bool(raw: Any, where: str) -> bool:
    if not isinstance(raw, bool):
        raise ValueError(f"{where} must be true or false")
    return raw


def _topic_arn(arn: str) -> str:
    parts = arn.split(":")
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "sns" or not parts[5]:
        raise ValueError(f"alarm_topic_arn {arn!r} is not an SNS topic ARN")
    return arn


def _cdk_json_context() -> dict[str, Any]:
    context: dict[str, Any] = json.loads(CDK_JSON.read_text(encoding="utf-8")).get("context", {})
    return context


STAGES: dict[str, StageConfig] = parse_stages(
    _cdk_json_context().get(STAGES_CONTEXT_KEY), _cdk_json_context().get(TOPIC_PUBLISHERS_CONTEXT_KEY)
)
"""The stages as ``cdk.json`` declares them (tests compare the templates with these)."""
