"""Stage configuration comes from cdk.json's context, is validated, and -c flags override it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App, RemovalPolicy
from aws_cdk import aws_logs as logs

from engagement.topology import TOPOLOGY
from infra.cloud.config import CDK_JSON, STAGES, Throttle, parse_stages, stage_from_context
from infra.cloud.http_api import route_settings

CONTEXT: dict[str, Any] = json.loads(CDK_JSON.read_text(encoding="utf-8"))["context"]


def _stage(**changes: Any) -> dict[str, Any]:
    return {**CONTEXT["stages"]["dev"], **changes}


def test_cdk_json_declares_dev_and_prod() -> None:
    assert set(STAGES) == {"dev", "prod"}
    assert STAGES["dev"].log_retention == logs.RetentionDays.ONE_WEEK
    assert STAGES["prod"].log_retention == logs.RetentionDays.THREE_MONTHS
    assert STAGES["dev"].removal_policy == RemovalPolicy.DESTROY
    assert STAGES["prod"].removal_policy == RemovalPolicy.RETAIN
    assert STAGES["prod"].deletion_protection
    assert not STAGES["dev"].deletion_protection


def test_stage_defaults_to_dev_and_rejects_unknown_names() -> None:
    assert stage_from_context(App().node) == STAGES["dev"]
    assert stage_from_context(App(context={"stage": "prod"}).node).name == "prod"
    with pytest.raises(ValueError, match="unknown stage 'staging'"):
        stage_from_context(App(context={"stage": "staging"}).node)


def test_context_from_the_cli_wins_over_the_file() -> None:
    # The CDK CLI passes cdk.json's context (and -c values) to the app; that copy is used.
    stages = {"dev": _stage(throttle={"rate_limit": 5, "burst_limit": 10}, route_throttle=_small())}
    config = stage_from_context(App(context={"stages": stages}).node)
    assert config.throttle == Throttle(rate_limit=5, burst_limit=10)


def test_alarm_flags_override_the_stage() -> None:
    arn = "arn:aws:sns:us-east-1:123456789012:oncall"
    config = stage_from_context(App(context={"alarm_email": "a@example.com", "alarm_topic_arn": arn}).node)
    assert (config.alarm_email, config.alarm_topic_arn) == ("a@example.com", arn)
    with pytest.raises(ValueError, match="not an SNS topic ARN"):
        stage_from_context(App(context={"alarm_topic_arn": "arn:aws:sqs:us-east-1:123456789012:q"}).node)


def _small() -> dict[str, int]:
    return {"rate_limit": 1, "burst_limit": 2}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"log_retention": "FOREVER_AND_A_DAY"}, "log_retention"),
        ({"removal_policy": "shred"}, "removal_policy"),
        ({"deletion_protection": "yes"}, "deletion_protection"),
        ({"throttle": {"rate_limit": 5}}, "throttle"),
        ({"route_throttle": {"rate_limit": 1000, "burst_limit": 2}}, "exceeds the stage throttle"),
        ({"unexpected": 1}, "unknown settings unexpected"),
    ],
)
def test_invalid_stage_settings_fail_the_synth(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_stages({"dev": _stage(**changes)})


def test_route_overrides_apply_to_their_route_only() -> None:
    route = TOPOLOGY.routes[0]
    stage = parse_stages({"dev": _stage(route_throttle_overrides={route.route_key: _small()})})["dev"]
    settings = route_settings(TOPOLOGY.routes, stage)
    assert settings[route.route_key] == {"ThrottlingRateLimit": 1.0, "ThrottlingBurstLimit": 2}
    others = {key: value for key, value in settings.items() if key != route.route_key}
    assert all(value["ThrottlingRateLimit"] == stage.route_throttle.rate_limit for value in others.values())


def test_override_for_an_undeclared_route_fails() -> None:
    stage = parse_stages({"dev": _stage(route_throttle_overrides={"GET /nowhere": _small()})})["dev"]
    with pytest.raises(ValueError, match="undeclared routes GET /nowhere"):
        route_settings(TOPOLOGY.routes, stage)


def test_topic_publishers_are_service_principals_of_declared_topics() -> None:
    declared = {topic.key for topic in TOPOLOGY.topics}
    for stage in STAGES.values():
        assert set(stage.topic_publishers) <= declared
    with pytest.raises(ValueError, match="service principals"):
        parse_stages({"dev": _stage()}, {"x": ["arn:aws:iam::123456789012:root"]})


def test_an_upgrade_keeps_the_retired_indexes_for_one_deploy_only_when_asked() -> None:
    from engagement.topology import AGGREGATES, RETIRED_INDEXES
    from infra.cloud.stateful import table_indexes

    plain = stage_from_context(App().node)
    assert plain.keep_retired_indexes is False
    assert [i.name for i in table_indexes(AGGREGATES, plain)] == [i.name for i in AGGREGATES.indexes]
    for flag in ("true", True):
        upgrading = stage_from_context(App(context={"keep_retired_indexes": flag}).node)
        names = [i.name for i in table_indexes(AGGREGATES, upgrading)]
        assert names == [
            *(i.name for i in AGGREGATES.indexes),
            *(i.name for i in RETIRED_INDEXES["aggregates"]),
        ]
    # The retired index is the one a stack from before has; its replacement has another name.
    assert {i.name for i in RETIRED_INDEXES["aggregates"]} == {"due"}
    assert "due" not in {i.name for i in AGGREGATES.indexes}
    with pytest.raises(ValueError, match="keep_retired_indexes"):
        stage_from_context(App(context={"keep_retired_indexes": "yes"}).node)
