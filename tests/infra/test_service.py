"""Stage configuration reaching the service stack: API throttling and logs, alarms and their wiring."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App

from infra.cloud.config import STAGES, stage_from_context
from tests.infra.cfn import local_ref, logical_id
from tests.infra.synth import Synthesized


def test_stage_defaults_to_dev_and_rejects_unknown_names() -> None:
    assert stage_from_context(App().node) == STAGES["dev"]
    assert stage_from_context(App(context={"stage": "prod"}).node).name == "prod"
    with pytest.raises(ValueError, match="unknown stage 'staging'"):
        stage_from_context(App(context={"stage": "staging"}).node)


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_default_stage_is_throttled_per_stage(dev: Synthesized, prod: Synthesized, stage: str) -> None:
    synth = {"dev": dev, "prod": prod}[stage]
    (api_stage,) = synth.service.find_resources("AWS::ApiGatewayV2::Stage").values()
    props = api_stage["Properties"]
    assert props["StageName"] == "$default"
    assert props["AutoDeploy"] is True
    assert props["DefaultRouteSettings"] == {
        "ThrottlingRateLimit": STAGES[stage].throttle_rate_limit,
        "ThrottlingBurstLimit": STAGES[stage].throttle_burst_limit,
    }


def test_access_logs_are_json_in_their_own_group(dev: Synthesized) -> None:
    (api_stage,) = dev.service.find_resources("AWS::ApiGatewayV2::Stage").values()
    settings = api_stage["Properties"]["AccessLogSettings"]
    fields = json.loads(settings["Format"])
    assert fields["requestId"] == "$context.requestId"
    assert fields["routeKey"] == "$context.routeKey"
    destination = local_ref(settings["DestinationArn"])
    assert destination.logical_id == logical_id(dev.stacks.service.http_api.access_logs)


def test_api_url_is_an_output(dev: Synthesized) -> None:
    outputs = dev.service.find_outputs("ApiUrl")
    assert len(outputs) == 1


def test_failure_queue_and_stream_lag_are_alarmed(dev: Synthesized) -> None:
    alarms = dev.service.find_resources("AWS::CloudWatch::Alarm").values()
    metrics = {(a["Properties"]["Namespace"], a["Properties"]["MetricName"]) for a in alarms}
    assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible") in metrics
    assert ("AWS/Lambda", "IteratorAge") in metrics


def test_alarms_notify_only_when_an_address_is_configured(dev: Synthesized, prod: Synthesized) -> None:
    assert not dev.service.find_resources("AWS::SNS::Subscription")
    assert all(
        "AlarmActions" not in alarm["Properties"]
        for alarm in dev.service.find_resources("AWS::CloudWatch::Alarm").values()
    )

    (subscription,) = prod.service.find_resources("AWS::SNS::Subscription").values()
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == "oncall@example.com"
    (topic_id,) = prod.service.find_resources("AWS::SNS::Topic")
    for alarm in prod.service.find_resources("AWS::CloudWatch::Alarm").values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]
