"""The service stack: functions, the HTTP API, the stream mapping, the schedules, alarms, dashboard.

Stateless: everything here can be destroyed and redeployed without losing data. It is built from
``engagement.topology`` alone plus the stateful resources it is handed, so a route, mapping
knob or schedule exists in the template only because the topology declares it.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import CfnOutput, Duration, Environment, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from engagement.topology import ScheduleSpec, StreamMappingSpec, TopicSpec, Topology
from infra.cloud.config import StageConfig
from infra.cloud.dashboard import ServiceDashboard
from infra.cloud.dependencies import layer_directory, pins
from infra.cloud.functions import ARCHITECTURE, RUNTIME, build_function, function_code, powertools_layer
from infra.cloud.http_api import EngagementHttpApi
from infra.cloud.jobs import JobStateMachine
from infra.cloud.monitoring import ServiceAlarms
from infra.cloud.naming import pascal, schedule_rule_name
from infra.cloud.signals import service_signals
from infra.cloud.stateful import StatefulResources

# Delivery knobs of the schedule targets (how EventBridge hands a run to Lambda), not of the
# system's shape, so they live here. The jobs are idempotent per scheduled instant, so a retry
# is safe; a run that could not start within the hour is left to the next one.
SCHEDULE_RETRY_ATTEMPTS = 2
SCHEDULE_MAX_EVENT_AGE = Duration.hours(1)


class ServiceStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: StageConfig,
        topology: Topology,
        data: StatefulResources,
        functions_dir: Path,
        env: Environment | None = None,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            env=env,
            description=f"Engagement scoring ({stage.name}): functions, HTTP API, stream, schedules, alarms",
        )
        code = function_code(functions_dir)
        layer = powertools_layer(self)
        self.dependency_layers: dict[tuple[str, ...], lambda_.LayerVersion] = {}
        self.functions: dict[str, lambda_.Function] = {
            spec.name: build_function(
                self,
                spec,
                topology=topology,
                data=data,
                code=code,
                layers=[layer, *self._dependency_layers(spec.packages)],
                stage=stage,
            )
            for spec in topology.functions
        }

        self.http_api = EngagementHttpApi(
            self, "HttpApi", topology=topology, functions=self.functions, stage=stage
        )
        CfnOutput(self, "ApiUrl", value=self.http_api.url, description="Base URL of the HTTP API")

        for mapping in topology.stream_mappings:
            self._add_stream_mapping(mapping, data)
        for topic in topology.topics:
            self._subscribe(topic, data)
        # Imported by ARN on purpose: handing the queue itself to the targets would make CDK add
        # each rule's ARN to the queue's policy in the stateful stack, a cross-stack cycle. That
        # policy names the rules itself (schedule_rule_name).
        dead_letters = (
            sqs.Queue.from_queue_arn(self, "ScheduleDeadLetters", data.schedule_dead_letters.queue_arn)
            if data.schedule_dead_letters is not None
            else None
        )
        self.jobs = {
            spec.name: JobStateMachine(
                self,
                f"{pascal(spec.name)}Job",
                spec=spec,
                function=self.functions[spec.function],
                stage=stage,
            )
            for spec in topology.jobs
        }
        self.rules = {spec.name: self._add_schedule(spec, dead_letters) for spec in topology.schedules}

        signals = service_signals(
            topology=topology,
            functions=self.functions,
            tables=data.tables,
            failure_queues=data.failure_queues,
            schedule_rules=self.rules,
            jobs={name: job.state_machine for name, job in self.jobs.items()},
            schedule_dead_letters=data.schedule_dead_letters,
            topic_dead_letters=data.topic_dead_letters,
            api=self.http_api.api,
        )
        self.alarms = ServiceAlarms(self, "Alarms", signals=signals, topic=data.alarm_topic)
        self.dashboard = ServiceDashboard(self, "Dashboard", signals=signals, alarms=self.alarms.by_signal)

    def _dependency_layers(self, packages: tuple[str, ...]) -> list[lambda_.LayerVersion]:
        """One layer per distinct package set, shared by the functions that declare it."""
        if not packages:
            return []
        key = tuple(sorted(set(packages)))
        if key not in self.dependency_layers:
            self.dependency_layers[key] = lambda_.LayerVersion(
                self,
                "Dependencies" + "".join(pascal(name) for name in key),
                code=lambda_.Code.from_asset(str(layer_directory(key))),
                compatible_runtimes=[RUNTIME],
                compatible_architectures=[ARCHITECTURE],
                description=f"Pinned for {RUNTIME.name} on {ARCHITECTURE.name}: {', '.join(pins(key))}",
            )
        return [self.dependency_layers[key]]

    def _add_stream_mapping(self, spec: StreamMappingSpec, data: StatefulResources) -> None:
        # The key is the record's own field name, verbatim: CDK does not translate it, and a
        # snake_case "event_name" would silently match nothing. ``or_`` of one name is ["INSERT"].
        event_filter = lambda_.FilterCriteria.filter({"eventName": lambda_.FilterRule.or_(*spec.event_names)})
        source = event_sources.DynamoEventSource(
            data.tables[spec.table],
            starting_position=lambda_.StartingPosition[spec.starting_position],
            batch_size=spec.batch_size,
            max_batching_window=Duration.seconds(spec.max_batching_window_s),
            retry_attempts=spec.retry_attempts,
            bisect_batch_on_error=spec.bisect_batch_on_error,
            max_record_age=Duration.seconds(spec.max_record_age_s),
            report_batch_item_failures=spec.report_batch_item_failures,
            on_failure=event_sources.SqsDlq(data.failure_queues[spec.function]),
            filters=[event_filter],
        )
        self.functions[spec.function].add_event_source(source)

    def _subscribe(self, spec: TopicSpec, data: StatefulResources) -> None:
        function = self.functions[spec.function]
        dead_letters = data.topic_dead_letters[spec.key]
        # SNS hands a message to Lambda as an asynchronous invoke: the subscription's redrive
        # policy keeps what SNS could not deliver, the function's on-failure destination keeps what
        # it failed on after Lambda's own retries. Without both, either kind would be dropped.
        data.topics[spec.key].add_subscription(
            subscriptions.LambdaSubscription(function, dead_letter_queue=dead_letters)
        )
        function.configure_async_invoke(on_failure=destinations.SqsDestination(dead_letters))

    def _add_schedule(self, spec: ScheduleSpec, dead_letters: sqs.IQueue | None) -> events.Rule:
        return events.Rule(
            self,
            f"{pascal(spec.name)}Schedule",
            rule_name=schedule_rule_name(self.stack_name, spec.name),
            description=spec.description,
            schedule=events.Schedule.expression(spec.expression),
            targets=[
                targets.SfnStateMachine(
                    self.jobs[spec.job].state_machine,
                    # The scheduled time is the run's identity: every retry carries the same one.
                    input=events.RuleTargetInput.from_object({"time": events.EventField.time}),
                    retry_attempts=SCHEDULE_RETRY_ATTEMPTS,
                    max_event_age=SCHEDULE_MAX_EVENT_AGE,
                    # A run EventBridge could not deliver is kept (and alarmed), not dropped.
                    dead_letter_queue=dead_letters,
                )
            ],
        )
