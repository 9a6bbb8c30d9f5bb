"""The operational signals: one list, from which both the alarms and the dashboard are built.

Each signal is a metric with the line it must not cross and a sentence for whoever gets paged.
Derived from the topology and the built resources only (every function, table, stream mapping
and schedule that exists gets its signals), so a new function or schedule is watched without
an edit here, and the dashboard can never show something the alarms do not watch, or the reverse.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn

from engagement.topology import Topology
from infra.cloud.naming import pascal

PERIOD = Duration.minutes(5)
# The scorer is falling behind long before records age out into the failure queue.
ITERATOR_AGE_THRESHOLD = Duration.minutes(5)
# Percent of requests answered 5xx. A store failure answers 503 on purpose (the caller retries),
# so one bad five minutes is not a page; two out of three are.
API_5XX_RATE_PERCENT = 1.0
# p99 across every route. The functions answer in milliseconds when warm; a cold start is about a
# second, so only a sustained p99 above this means something is slow, not just starting.
API_P99_LATENCY = Duration.seconds(2)

AT_LEAST = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD

STREAM, API, FUNCTIONS, TABLES = "Stream", "API", "Functions", "DynamoDB"
TOPICS, SCHEDULES = "Topics", "Schedules"
GROUPS = (STREAM, API, FUNCTIONS, TABLES, TOPICS, SCHEDULES)
"""Dashboard rows, in order."""


@dataclass(frozen=True)
class Signal:
    key: str
    """Construct id of the alarm; unique."""
    group: str
    title: str
    metric: cloudwatch.IMetric
    threshold: float
    description: str
    """What it means and what to do: the alarm's description, read by whoever is paged."""
    comparison: cloudwatch.ComparisonOperator = AT_LEAST
    evaluation_periods: int = 1
    datapoints_to_alarm: int | None = None


def service_signals(
    *,
    topology: Topology,
    functions: Mapping[str, lambda_.IFunction],
    tables: Mapping[str, dynamodb.ITableV2],
    failure_queues: Mapping[str, sqs.IQueue],
    schedule_rules: Mapping[str, events.IRule],
    schedule_dead_letters: sqs.IQueue | None,
    topic_dead_letters: Mapping[str, sqs.IQueue],
    api: apigwv2.IHttpApi,
    jobs: Mapping[str, sfn.IStateMachine],
) -> list[Signal]:
    return [
        *_stream(topology, functions, failure_queues),
        *_api(api),
        *_functions(functions),
        *_tables(tables),
        *_topics(topology, topic_dead_letters),
        *_schedules(schedule_rules, schedule_dead_letters),
        *_jobs(jobs),
    ]


def _stream(
    topology: Topology, functions: Mapping[str, lambda_.IFunction], failure_queues: Mapping[str, sqs.IQueue]
) -> list[Signal]:
    signals = []
    for mapping in topology.stream_mappings:
        name = mapping.function
        signals.append(
            Signal(
                key=f"{pascal(name)}StreamFailures",
                group=STREAM,
                title=f"{name}: batches given up (on-failure queue)",
                metric=failure_queues[name].metric_approximate_number_of_messages_visible(
                    period=PERIOD, statistic="Maximum"
                ),
                threshold=1,
                description=(
                    f"{name}: a stream batch was given up. Its healthy records were applied; rebuild the "
                    "affected aggregates from the event log rather than replaying the range"
                ),
            )
        )
        signals.append(
            Signal(
                key=f"{pascal(name)}IteratorAge",
                group=STREAM,
                title=f"{name}: iterator age (max, ms)",
                metric=functions[name].metric("IteratorAge", period=PERIOD, statistic="Maximum"),
                threshold=ITERATOR_AGE_THRESHOLD.to_milliseconds(),
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=3,
                description=(
                    f"{name} is falling behind its {mapping.table} stream: records wait more than "
                    f"{ITERATOR_AGE_THRESHOLD.to_minutes()} minutes, and are given up after "
                    f"{mapping.max_record_age_s // 3600} h"
                ),
            )
        )
    return signals


def _api(api: apigwv2.IHttpApi) -> list[Signal]:
    rate = cloudwatch.MathExpression(
        expression="IF(requests > 0, 100 * errors / requests, 0)",
        using_metrics={
            "errors": api.metric_server_error(period=PERIOD, statistic="Sum"),
            "requests": api.metric_count(period=PERIOD, statistic="Sum"),
        },
        label="5xx (% of requests)",
        period=PERIOD,
    )
    return [
        Signal(
            key="Api5xxRate",
            group=API,
            title="HTTP API: 5xx (% of requests)",
            metric=rate,
            threshold=API_5XX_RATE_PERCENT,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            description=(
                f"{API_5XX_RATE_PERCENT:g}% or more of requests answered 5xx in two of the last three "
                "5-minute periods (store throttling or failures, function errors or timeouts)"
            ),
        ),
        Signal(
            key="ApiLatencyP99",
            group=API,
            title="HTTP API: latency p99 (ms)",
            metric=api.metric_latency(period=PERIOD, statistic="p99"),
            threshold=API_P99_LATENCY.to_milliseconds(),
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=3,
            description=(
                f"The API's p99 latency stayed above {API_P99_LATENCY.to_seconds()} s for 15 minutes: "
                "not cold starts, something is slow (DynamoDB, Secrets Manager, a function)"
            ),
        ),
    ]


def _functions(functions: Mapping[str, lambda_.IFunction]) -> list[Signal]:
    signals = []
    for name, function in functions.items():
        signals.append(
            Signal(
                key=f"{pascal(name)}Errors",
                group=FUNCTIONS,
                title=f"{name}: errors",
                metric=function.metric_errors(period=PERIOD, statistic="Sum"),
                threshold=1,
                description=f"{name} raised unhandled errors (see its log group)",
            )
        )
        signals.append(
            Signal(
                key=f"{pascal(name)}Throttles",
                group=FUNCTIONS,
                title=f"{name}: throttles",
                metric=function.metric_throttles(period=PERIOD, statistic="Sum"),
                threshold=1,
                description=(
                    f"Lambda refused to run {name} (account or function concurrency exhausted): API "
                    "callers got 429/5xx, stream batches and schedules are retried"
                ),
            )
        )
    return signals


def _tables(tables: Mapping[str, dynamodb.ITableV2]) -> list[Signal]:
    signals = []
    for key, table in tables.items():
        throttled = cloudwatch.MathExpression(
            expression="reads + writes",
            using_metrics={
                "reads": table.metric("ReadThrottleEvents", period=PERIOD, statistic="Sum"),
                "writes": table.metric("WriteThrottleEvents", period=PERIOD, statistic="Sum"),
            },
            label="throttled reads + writes",
            period=PERIOD,
        )
        signals.append(
            Signal(
                key=f"{pascal(key)}TableThrottles",
                group=TABLES,
                title=f"{key} table: throttle events",
                metric=throttled,
                threshold=1,
                description=(
                    f"DynamoDB throttled requests on the {key} table (a hot key or a burst above what "
                    "on-demand has absorbed before); the SDK retried, callers may have seen 503"
                ),
            )
        )
    return signals


def _topics(topology: Topology, dead_letters: Mapping[str, sqs.IQueue]) -> list[Signal]:
    return [
        Signal(
            key=f"{pascal(spec.key)}TopicDeadLetters",
            group=TOPICS,
            title=f"{spec.key} topic: messages not processed (dead-letter queue)",
            metric=dead_letters[spec.key].metric_approximate_number_of_messages_visible(
                period=PERIOD, statistic="Maximum"
            ),
            threshold=1,
            description=(
                f"A message on the {spec.key} topic was not processed by {spec.function} (SNS could "
                "not deliver it, or the function failed on it after Lambda's retries). It is kept in "
                "the dead-letter queue: fix the cause, then invoke the function with it"
            ),
        )
        for spec in topology.topics
    ]


def _schedules(rules: Mapping[str, events.IRule], dead_letters: sqs.IQueue | None) -> list[Signal]:
    signals = [
        Signal(
            key=f"{pascal(name)}ScheduleFailedInvocations",
            group=SCHEDULES,
            title=f"{name} schedule: failed invocations",
            metric=cloudwatch.Metric(
                namespace="AWS/Events",
                metric_name="FailedInvocations",
                dimensions_map={"RuleName": rule.rule_name},
                period=PERIOD,
                statistic="Sum",
            ),
            threshold=1,
            description=(
                f"EventBridge could not start the {name} job after its retries; the run's input is in "
                "the schedule dead-letter queue"
            ),
        )
        for name, rule in rules.items()
    ]
    if dead_letters is not None:
        signals.append(
            Signal(
                key="ScheduleDeadLetters",
                group=SCHEDULES,
                title="Schedule runs not delivered (dead-letter queue)",
                metric=dead_letters.metric_approximate_number_of_messages_visible(
                    period=PERIOD, statistic="Maximum"
                ),
                threshold=1,
                description=(
                    "A scheduled run was not delivered. Start the job's state machine with the message's "
                    'input, {"time": ...} (the time makes it the same run, so a repeat is harmless), '
                    "then delete the message"
                ),
            )
        )
    return signals


def _jobs(jobs: Mapping[str, sfn.IStateMachine]) -> list[Signal]:
    signals = []
    for name, machine in jobs.items():
        failed = cloudwatch.MathExpression(
            expression="failed + timedout + aborted",
            using_metrics={
                "failed": machine.metric_failed(period=PERIOD, statistic="Sum"),
                "timedout": machine.metric_timed_out(period=PERIOD, statistic="Sum"),
                "aborted": machine.metric_aborted(period=PERIOD, statistic="Sum"),
            },
            label=f"{name} runs failed",
            period=PERIOD,
        )
        signals.append(
            Signal(
                key=f"{pascal(name)}JobFailed",
                group=SCHEDULES,
                title=f"{name} job: failed runs",
                metric=failed,
                threshold=1,
                description=(
                    f"A {name} run failed, timed out or was aborted (a step out of retries, or a segment "
                    "not finished). Its checkpoints are kept: start the state machine again with the "
                    "failed execution's input (the scheduled time) and it resumes where it stopped"
                ),
            )
        )
    return signals
