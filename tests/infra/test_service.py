"""Stage configuration reaching the service stack: API throttling (stage and route) and access logs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from engagement.topology import TOPOLOGY
from infra.cloud.config import STAGES
from tests.infra.cfn import local_ref, logical_id, resources
from tests.infra.synth import Synthesized


def _stage(synth: Synthesized) -> dict[str, Any]:
    (api_stage,) = synth.service.find_resources("AWS::ApiGatewayV2::Stage").values()
    found: dict[str, Any] = api_stage
    return found


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_default_stage_is_throttled_per_stage(dev: Synthesized, prod: Synthesized, stage: str) -> None:
    props = _stage({"dev": dev, "prod": prod}[stage])["Properties"]
    assert props["StageName"] == "$default"
    assert props["AutoDeploy"] is True
    assert props["DefaultRouteSettings"] == {
        "ThrottlingRateLimit": STAGES[stage].throttle.rate_limit,
        "ThrottlingBurstLimit": STAGES[stage].throttle.burst_limit,
    }


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_every_route_has_its_own_throttle(dev: Synthesized, prod: Synthesized, stage: str) -> None:
    props = _stage({"dev": dev, "prod": prod}[stage])["Properties"]
    config = STAGES[stage]
    expected = {}
    for route in TOPOLOGY.routes:
        throttle = config.route_throttle_overrides.get(route.route_key, config.route_throttle)
        expected[route.route_key] = {
            "ThrottlingRateLimit": throttle.rate_limit,
            "ThrottlingBurstLimit": throttle.burst_limit,
        }
        # A route's bucket bigger than the stage's would be meaningless.
        assert throttle.within(config.throttle), route.route_key
    assert props["RouteSettings"] == expected


def test_stage_waits_for_the_routes_its_settings_name(dev: Synthesized) -> None:
    # CloudFormation rejects RouteSettings for a route key that does not exist yet.
    depends_on = set(_stage(dev).get("DependsOn", []))
    routes = set(resources(dev.service, "AWS::ApiGatewayV2::Route"))
    assert routes <= depends_on


def test_access_logs_are_json_in_their_own_group(dev: Synthesized) -> None:
    settings = _stage(dev)["Properties"]["AccessLogSettings"]
    fields = json.loads(settings["Format"])
    assert fields["requestId"] == "$context.requestId"
    assert fields["routeKey"] == "$context.routeKey"
    assert fields["status"] == "$context.status"
    destination = local_ref(settings["DestinationArn"])
    assert destination.logical_id == logical_id(dev.stacks.service.http_api.access_logs)


def test_access_logs_carry_no_paths_headers_or_credentials(dev: Synthesized) -> None:
    # Paths hold user ids (phone numbers for SMS) and webhook tokens; headers hold bearer keys.
    fields = json.loads(_stage(dev)["Properties"]["AccessLogSettings"]["Format"])
    variables = " ".join(fields.values()).lower()
    for forbidden in ("path", "header", "authorizer", "querystring", "body", "token"):
        assert forbidden not in variables, forbidden


def test_api_log_group_has_stage_retention(dev: Synthesized, prod: Synthesized) -> None:
    for synth, days in ((dev, 7), (prod, 90)):
        group = synth.service.to_json()["Resources"][logical_id(synth.stacks.service.http_api.access_logs)]
        assert group["Properties"]["RetentionInDays"] == days


def test_api_url_is_an_output(dev: Synthesized) -> None:
    outputs = dev.service.find_outputs("ApiUrl")
    assert len(outputs) == 1
