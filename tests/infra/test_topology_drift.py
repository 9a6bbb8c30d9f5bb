"""The synthesized service stack says exactly what engagement.topology says (design decision 1).

Each test compares the template with TOPOLOGY directly: adding a route, a mapping knob or a
schedule to the topology without it reaching the cloud (or the reverse) fails here.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

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
    machines = {name: logical_id(job.state_machine) for name, job in dev.stacks.service.jobs.items()}
    rules = resources(dev.service, "AWS::Events::Rule").values()
    declared = {
        (rule["Properties"]["ScheduleExpression"], rule["Properties"]["Description"]): [
            local_ref(target["Arn"]).logical_id for target in rule["Properties"]["Targets"]
        ]
        for rule in rules
    }
    assert declared == {
        (spec.expression, spec.description): [machines[spec.job]] for spec in TOPOLOGY.schedules
    }


def test_a_schedule_starts_its_job_with_the_scheduled_time(dev: Synthesized) -> None:
    for rule in resources(dev.service, "AWS::Events::Rule").values():
        (target,) = rule["Properties"]["Targets"]
        transformer = target["InputTransformer"]
        assert transformer["InputPathsMap"] == {"time": "$.time"}
        assert json.loads(transformer["InputTemplate"].replace("<time>", '"T"')) == {"time": "T"}


def _definition(dev: Synthesized, job: str) -> dict[str, Any]:
    """A state machine's definition, with each reference to a resource written ``<LogicalId.Attr>``."""
    machine = dev.service.to_json()["Resources"][logical_id(dev.stacks.service.jobs[job].state_machine)]
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    text = "".join(part if isinstance(part, str) else _reference(part) for part in parts)
    definition: dict[str, Any] = json.loads(text)
    return definition


def _reference(part: dict[str, Any]) -> str:
    if "Fn::GetAtt" in part:
        return "<{}.{}>".format(*part["Fn::GetAtt"])
    if "Ref" in part:
        return f"<{part['Ref']}>"
    raise AssertionError(f"unexpected token in a definition: {part!r}")


@pytest.mark.parametrize("job", [spec.name for spec in TOPOLOGY.jobs])
def test_each_job_runs_plan_segments_in_a_distributed_map_then_finish(dev: Synthesized, job: str) -> None:
    spec = TOPOLOGY.job(job)
    function = f"<{logical_id(dev.stacks.service.functions[spec.function])}.Arn>"
    definition = _definition(dev, job)
    states = definition["States"]
    plan = states[definition["StartAt"]]
    assert plan["Resource"] == function  # the direct integration: the step's output is the payload
    assert plan["Parameters"] == {"step": "plan", "time.$": "$.time"}
    segments = states[plan["Next"]]
    assert segments["Type"] == "Map"
    assert segments["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    assert segments["MaxConcurrency"] == spec.max_concurrency
    assert segments["ItemsPath"] == "$.segments"
    inner = segments["ItemProcessor"]["States"]
    work = inner[segments["ItemProcessor"]["StartAt"]]
    assert work["Resource"] == function
    assert "Parameters" not in work  # the segment task itself, then its own output on the next loop
    choice = inner[work["Next"]]
    assert choice["Default"] == segments["ItemProcessor"]["StartAt"]  # not done: work again
    finish = states[segments["Next"]]
    assert finish["Resource"] == function
    assert finish["Parameters"] == {"step": "finish", "job.$": "$.job", "time.$": "$.time"}
    for task in (plan, work, finish):
        (retry,) = task["Retry"]
        assert retry["ErrorEquals"] == ["States.ALL"]
        assert retry["MaxAttempts"] == spec.step_attempts - 1


def test_schedule_targets_retry_briefly(dev: Synthesized) -> None:
    for rule in resources(dev.service, "AWS::Events::Rule").values():
        (target,) = rule["Properties"]["Targets"]
        assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1
        assert 60 <= target["RetryPolicy"]["MaximumEventAgeInSeconds"] <= 24 * 3600
