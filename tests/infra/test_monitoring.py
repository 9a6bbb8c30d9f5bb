"""Alarms on every signal the issue names, per resource the topology declares; their wiring to the
alarm topic in each configuration; and a dashboard showing exactly the alarmed signals."""

from __future__ import annotations

from typing import Any

import pytest

from engagement.topology import TOPOLOGY
from tests.infra.cfn import local_ref, logical_id, resources
from tests.infra.conftest import EXISTING_TOPIC_ARN, ONCALL_EMAIL
from tests.infra.synth import Synthesized

Metric = tuple[str, str, str, str]
"""(namespace, metric name, statistic, the resource its dimension points at)."""


def _target(synth: Synthesized, value: Any) -> str:
    """A dimension value as the logical id (or literal name) of what it names."""
    if isinstance(value, str):
        return value
    refs = synth.exports.refs_in(value)
    if refs:
        (ref,) = refs
        return ref.logical_id
    return local_ref(value).logical_id


def _stat(
    synth: Synthesized, namespace: str, name: str, dimensions: list[dict[str, Any]], stat: str
) -> Metric:
    values = [_target(synth, d["Value"]) for d in dimensions]
    return (namespace, name, stat, values[0] if len(values) == 1 else repr(sorted(values)))


def _metrics(synth: Synthesized, props: dict[str, Any]) -> set[Metric]:
    """Every metric an alarm reads, directly or through a math expression."""
    if "MetricName" in props:
        stat = props.get("Statistic") or props["ExtendedStatistic"]
        return {_stat(synth, props["Namespace"], props["MetricName"], props.get("Dimensions", []), stat)}
    found = set()
    for query in props["Metrics"]:
        if "MetricStat" in query:
            metric = query["MetricStat"]["Metric"]
            found.add(
                _stat(
                    synth,
                    metric["Namespace"],
                    metric["MetricName"],
                    metric.get("Dimensions", []),
                    query["MetricStat"]["Stat"],
                )
            )
    return found


def _alarms(synth: Synthesized) -> dict[str, dict[str, Any]]:
    return {
        key: alarm["Properties"] for key, alarm in resources(synth.service, "AWS::CloudWatch::Alarm").items()
    }


def _all_metrics(synth: Synthesized) -> set[Metric]:
    return set().union(*(_metrics(synth, props) for props in _alarms(synth).values()))


def test_stream_consumers_are_watched(dev: Synthesized) -> None:
    metrics = _all_metrics(dev)
    stateful = dev.stacks.stateful.resources
    for mapping in TOPOLOGY.stream_mappings:
        function_id = logical_id(dev.stacks.service.functions[mapping.function])
        queue_id = logical_id(stateful.failure_queues[mapping.function])
        assert ("AWS/Lambda", "IteratorAge", "Maximum", function_id) in metrics
        assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", queue_id) in metrics


def test_every_function_is_watched_for_errors_and_throttles(dev: Synthesized) -> None:
    metrics = _all_metrics(dev)
    for name, function in dev.stacks.service.functions.items():
        for metric_name in ("Errors", "Throttles"):
            assert ("AWS/Lambda", metric_name, "Sum", logical_id(function)) in metrics, (name, metric_name)


def test_api_5xx_rate_and_p99_latency_are_watched(dev: Synthesized) -> None:
    api_id = logical_id(dev.stacks.service.http_api.api)
    alarms = _alarms(dev).values()
    (rate,) = [
        a
        for a in alarms
        if "Metrics" in a and any("errors / requests" in m.get("Expression", "") for m in a["Metrics"])
    ]
    assert _metrics(dev, rate) == {
        ("AWS/ApiGateway", "5xx", "Sum", api_id),
        ("AWS/ApiGateway", "Count", "Sum", api_id),
    }
    assert ("AWS/ApiGateway", "Latency", "p99", api_id) in _all_metrics(dev)


def test_every_table_is_watched_for_throttles(dev: Synthesized) -> None:
    metrics = _all_metrics(dev)
    for key, table in dev.stacks.stateful.resources.tables.items():
        for metric_name in ("ReadThrottleEvents", "WriteThrottleEvents"):
            assert ("AWS/DynamoDB", metric_name, "Sum", logical_id(table)) in metrics, (key, metric_name)


def test_every_schedule_and_dead_letter_queue_is_watched(dev: Synthesized) -> None:
    metrics = _all_metrics(dev)
    for spec in TOPOLOGY.schedules:
        # The rule's Ref is its name, the metric's RuleName dimension.
        rule_id = logical_id(dev.stacks.service.rules[spec.name])
        assert ("AWS/Events", "FailedInvocations", "Sum", rule_id) in metrics
    stateful = dev.stacks.stateful.resources
    queues = [stateful.schedule_dead_letters, *stateful.topic_dead_letters.values()]
    for queue in queues:
        assert queue is not None
        assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", logical_id(queue)) in metrics


def test_every_job_alarms_on_a_failed_timed_out_or_aborted_run(dev: Synthesized) -> None:
    metrics = _all_metrics(dev)
    for name, job in dev.stacks.service.jobs.items():
        machine_id = logical_id(job.state_machine)
        for metric_name in ("ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"):
            assert ("AWS/States", metric_name, "Sum", machine_id) in metrics, (name, metric_name)


def test_every_alarm_explains_itself_and_ignores_missing_data(synthesized: Synthesized) -> None:
    for key, props in _alarms(synthesized).items():
        assert len(props.get("AlarmDescription", "")) > 20, key
        assert props["TreatMissingData"] == "notBreaching", key


def test_alarms_are_unwired_without_a_topic(dev: Synthesized) -> None:
    for key, props in _alarms(dev).items():
        assert "AlarmActions" not in props, key
        assert "OKActions" not in props, key
    assert "AlarmTopicArn" not in dev.stateful.to_json().get("Outputs", {})


def test_an_address_gets_a_new_topic_in_the_stateful_stack(prod: Synthesized) -> None:
    topic = prod.stacks.stateful.resources.alarm_topic
    assert topic is not None
    topic_id = logical_id(topic)
    (subscription,) = [
        s["Properties"]
        for s in prod.stateful.find_resources("AWS::SNS::Subscription").values()
        if s["Properties"]["TopicArn"] == {"Ref": topic_id}
    ]
    assert (subscription["Protocol"], subscription["Endpoint"]) == ("email", ONCALL_EMAIL)
    for key, props in _alarms(prod).items():
        for actions in ("AlarmActions", "OKActions"):
            (action,) = props[actions]
            assert prod.exports.ref(action).logical_id == topic_id, key


def test_alarm_topic_lets_cloudwatch_publish_over_tls_only(prod: Synthesized) -> None:
    topic = prod.stacks.stateful.resources.alarm_topic
    assert topic is not None
    (policy,) = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in prod.stateful.find_resources("AWS::SNS::TopicPolicy").values()
        if p["Properties"]["Topics"] == [{"Ref": logical_id(topic)}]
    ]
    allow = [s for s in policy if s["Effect"] == "Allow"]
    deny = [s for s in policy if s["Effect"] == "Deny"]
    assert [s["Principal"] for s in allow] == [{"Service": "cloudwatch.amazonaws.com"}]
    assert allow[0]["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert [s["Condition"] for s in deny] == [{"Bool": {"aws:SecureTransport": "false"}}]


def test_an_existing_topic_is_used_as_is(existing_topic: Synthesized) -> None:
    for key, props in _alarms(existing_topic).items():
        assert props["AlarmActions"] == [EXISTING_TOPIC_ARN], key
        assert props["OKActions"] == [EXISTING_TOPIC_ARN], key
    topics = set(existing_topic.stateful.find_resources("AWS::SNS::Topic"))
    assert topics == {logical_id(t) for t in existing_topic.stacks.stateful.resources.topics.values()}
    assert not existing_topic.stateful.find_resources("AWS::SNS::Subscription")


def _alarm_refs(value: Any) -> set[str]:
    if isinstance(value, dict):
        if "Fn::GetAtt" in value and value["Fn::GetAtt"][1] == "Arn":
            return {value["Fn::GetAtt"][0]}
        return set().union(*(_alarm_refs(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_alarm_refs(v) for v in value)) if value else set()
    return set()


@pytest.mark.parametrize("variant", ["dev", "prod"])
def test_dashboard_shows_exactly_the_alarmed_signals(
    dev: Synthesized, prod: Synthesized, variant: str
) -> None:
    synth = {"dev": dev, "prod": prod}[variant]
    (dashboard,) = synth.service.find_resources("AWS::CloudWatch::Dashboard").values()
    stack_name = synth.stacks.service.stack_name
    assert dashboard["Properties"]["DashboardName"] == {
        "Fn::Join": ["", [f"{stack_name}-", {"Ref": "AWS::Region"}]]
    }
    shown = _alarm_refs(dashboard["Properties"]["DashboardBody"])
    assert shown == set(_alarms(synth))
