"""The synthesized service stack says exactly what engagement.topology says (design decision 1).

Each test compares the template with TOPOLOGY directly: adding a route, a mapping knob or a
schedule to the topology without it reaching the cloud (or the reverse) fails here.
"""

from __future__ import annotations

import json

from engagement.topology import TOPOLOGY
from tests.infra.cfn import local_ref, logical_id, resources
from tests.infra.synth import Synthesized


def _function_ids(dev: Synthesized) -> dict[str, str]:
    """Function name -> logical id of its AWS::Lambda::Function."""
    return {name: logical_id(fn) for name, fn in dev.stacks.service.functions.items()}


def _function_of_integration(dev: Synthesized) -> dict[str, str]:
    """Integration logical id -> logical id of the function it invokes."""
    found = {}
    for integration_id, integration in resources(dev.service, "AWS::ApiGatewayV2::Integration").items():
        props = integration["Properties"]
        assert props["IntegrationType"] == "AWS_PROXY"
        assert props["PayloadFormatVersion"] == "2.0"
        target = local_ref(props["IntegrationUri"])
        assert target.attribute == "Arn"
        found[integration_id] = target.logical_id
    return found


def test_routes_are_exactly_the_topology_routes(dev: Synthesized) -> None:
    routes = resources(dev.service, "AWS::ApiGatewayV2::Route").values()
    route_keys = [route["Properties"]["RouteKey"] for route in routes]
    assert sorted(route_keys) == sorted(r.route_key for r in TOPOLOGY.routes)


def test_each_route_invokes_its_declared_function(dev: Synthesized) -> None:
    function_ids = _function_ids(dev)
    function_of_integration = _function_of_integration(dev)
    routed_to = {}
    for route in resources(dev.service, "AWS::ApiGatewayV2::Route").values():
        separator, parts = route["Properties"]["Target"]["Fn::Join"]
        prefix, integration = parts
        assert (separator, prefix) == ("", "integrations/")
        routed_to[route["Properties"]["RouteKey"]] = function_of_integration[
            local_ref(integration).logical_id
        ]
    assert routed_to == {r.route_key: function_ids[r.function] for r in TOPOLOGY.routes}


def test_one_integration_per_routed_function(dev: Synthesized) -> None:
    integrated = sorted(_function_of_integration(dev).values())
    function_ids = _function_ids(dev)
    assert integrated == sorted({function_ids[r.function] for r in TOPOLOGY.routes})


def test_stream_mappings_match_the_topology(dev: Synthesized) -> None:
    mappings = list(resources(dev.service, "AWS::Lambda::EventSourceMapping").values())
    assert len(mappings) == len(TOPOLOGY.stream_mappings)
    function_ids = _function_ids(dev)
    by_function = {local_ref(m["Properties"]["FunctionName"]).logical_id: m["Properties"] for m in mappings}
    stateful = dev.stacks.stateful

    for spec in TOPOLOGY.stream_mappings:
        props = by_function[function_ids[spec.function]]
        assert props["BatchSize"] == spec.batch_size
        assert props["MaximumBatchingWindowInSeconds"] == spec.max_batching_window_s
        assert props["StartingPosition"] == spec.starting_position
        assert props["MaximumRetryAttempts"] == spec.retry_attempts
        assert props["BisectBatchOnFunctionError"] is spec.bisect_batch_on_error
        assert props["MaximumRecordAgeInSeconds"] == spec.max_record_age_s
        expected_types = ["ReportBatchItemFailures"] if spec.report_batch_item_failures else None
        assert props.get("FunctionResponseTypes") == expected_types
        # Keys verbatim ("eventName", not "event_name"): a wrong key silently matches nothing.
        (only_filter,) = props["FilterCriteria"]["Filters"]
        assert json.loads(only_filter["Pattern"]) == {"eventName": list(spec.event_names)}

        source = dev.exports.ref(props["EventSourceArn"])
        assert source.logical_id == logical_id(stateful.resources.tables[spec.table])
        assert source.attribute == "StreamArn"
        on_failure = dev.exports.ref(props["DestinationConfig"]["OnFailure"]["Destination"])
        assert on_failure.logical_id == logical_id(stateful.resources.failure_queues[spec.function])
        assert on_failure.attribute == "Arn"


def test_schedules_match_the_topology(dev: Synthesized) -> None:
    function_ids = _function_ids(dev)
    rules = resources(dev.service, "AWS::Events::Rule").values()
    declared = {
        (rule["Properties"]["ScheduleExpression"], rule["Properties"]["Description"]): [
            local_ref(target["Arn"]).logical_id for target in rule["Properties"]["Targets"]
        ]
        for rule in rules
    }
    assert declared == {
        (spec.expression, spec.description): [function_ids[spec.function]] for spec in TOPOLOGY.schedules
    }


def test_schedule_targets_retry_briefly(dev: Synthesized) -> None:
    for rule in resources(dev.service, "AWS::Events::Rule").values():
        (target,) = rule["Properties"]["Targets"]
        assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1
        assert 60 <= target["RetryPolicy"]["MaximumEventAgeInSeconds"] <= 24 * 3600
