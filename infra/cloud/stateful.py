"""The stateful stack: tables, secrets, the dead-letter queues and the alarm topic.

Kept apart from the functions so that redeploying, renaming or deleting code can never replace
or delete data. The stack has termination protection; tables are retained whatever the stage.
The alarm topic lives here too: an email subscription has to be confirmed by a person, and a
topic replaced with the service stack would silently drop that confirmation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import ArnFormat, CfnOutput, Duration, Environment, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from engagement.topology import (
    RETIRED_INDEXES,
    BusSpec,
    IndexSpec,
    SecretSpec,
    TableSpec,
    TopicSpec,
    Topology,
)
from infra.cloud.config import StageConfig
from infra.cloud.nag import acknowledge
from infra.cloud.naming import (
    ALARM_TOPIC_ID,
    SCHEDULE_DEAD_LETTER_QUEUE_ID,
    bus_id,
    failure_queue_id,
    schedule_rule_name,
    secret_id,
    table_id,
    topic_dead_letter_queue_id,
    topic_id,
)

# DynamoDB keeps stream records for 24 h and the on-failure message only points at them, so the
# queue must keep a message at least that long; the SQS maximum leaves days for a redrive.
FAILURE_QUEUE_RETENTION = Duration.days(14)
STREAM_RETENTION = Duration.hours(24)

ROTATION_REASON = (
    "Rotated by an operator, not a rotation Lambda: a new value has to reach the other side too "
    "(a client's bearer key, the webhook provider's registered secret) in the same step, which a "
    "rotation function cannot do. The functions read it through Powertools with a 5-minute cache "
    "and a forced refresh after a failed check, so put-secret-value takes effect without a deploy."
)

NEVER_ROTATED = {
    "erasure_key": (
        "Never rotated: erasure records are named by the HMAC of a person's id under this key. A new "
        "key would match none of them, and an erased person's earlier events would be stored again."
    ),
}


@dataclass(frozen=True)
class StatefulResources:
    """What the service stack needs from the stateful one, keyed the way the topology names it."""

    tables: Mapping[str, dynamodb.ITableV2]
    """By ``TableSpec.key``."""
    secrets: Mapping[str, secretsmanager.ISecret]
    """By ``SecretSpec.key``."""
    failure_queues: Mapping[str, sqs.IQueue]
    """By the function name of the stream mapping the queue serves."""
    topics: Mapping[str, sns.ITopic]
    """By ``TopicSpec.key``."""
    topic_dead_letters: Mapping[str, sqs.IQueue]
    """By ``TopicSpec.key``: what the subscribed function could not take (SNS redrive and the
    function's own on-failure destination), so a message is kept, never dropped."""
    schedule_dead_letters: sqs.IQueue | None
    """Events the schedules' rules could not deliver; None when the topology has no schedules."""
    alarm_topic: sns.ITopic | None
    """Where alarms go: created, imported by ARN, or None (alarms exist, unwired)."""
    buses: Mapping[str, events.IEventBus]
    """By ``BusSpec.key``."""


class StatefulStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: StageConfig,
        topology: Topology,
        service_stack_name: str,
        env: Environment | None = None,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            env=env,
            description=f"Engagement scoring ({stage.name}): tables, secrets, queues, topics",
            termination_protection=True,
        )
        self.resources = StatefulResources(
            tables={spec.key: self._table(spec, stage) for spec in topology.tables},
            secrets={spec.key: self._secret(spec, stage) for spec in topology.secrets},
            failure_queues={
                mapping.function: self._failure_queue(mapping.function, stage)
                for mapping in topology.stream_mappings
            },
            schedule_dead_letters=(
                self._schedule_dead_letters(
                    [schedule_rule_name(service_stack_name, spec.name) for spec in topology.schedules],
                    stage,
                )
                if topology.schedules
                else None
            ),
            topics={spec.key: self._topic(spec, stage) for spec in topology.topics},
            topic_dead_letters={spec.key: self._topic_dead_letters(spec, stage) for spec in topology.topics},
            alarm_topic=self._alarm_topic(stage),
            buses={spec.key: self._bus(spec) for spec in topology.buses},
        )
        unknown = set(stage.topic_publishers) - {spec.key for spec in topology.topics}
        if unknown:
            raise ValueError(f"topic_publishers name undeclared topics {', '.join(sorted(unknown))}")

    def _table(self, spec: TableSpec, stage: StageConfig) -> dynamodb.TableV2:
        table = dynamodb.TableV2(
            self,
            table_id(spec.key),
            partition_key=dynamodb.Attribute(name=spec.partition_key, type=dynamodb.AttributeType.STRING),
            sort_key=(
                dynamodb.Attribute(name=spec.sort_key, type=dynamodb.AttributeType.STRING)
                if spec.sort_key
                else None
            ),
            billing=dynamodb.Billing.on_demand(),
            dynamo_stream=dynamodb.StreamViewType[spec.stream] if spec.stream else None,
            time_to_live_attribute=spec.ttl_attribute,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            # The AWS managed key (aws/dynamodb) is visible in the account and auditable in
            # CloudTrail, and needs no key policy or kms: grants on the function roles.
            encryption=dynamodb.TableEncryptionV2.aws_managed_key(),
            deletion_protection=stage.deletion_protection,
            removal_policy=RemovalPolicy.RETAIN,
            global_secondary_indexes=[_index(index) for index in table_indexes(spec, stage)],
        )
        CfnOutput(self, f"{table_id(spec.key)}Name", value=table.table_name, description=spec.env_var)
        return table

    def _bus(self, spec: BusSpec) -> events.EventBus:
        # Here, not with the functions: integrations attach their own rules to the bus, and a
        # bus replaced with the service stack would silently drop them.
        bus = events.EventBus(self, bus_id(spec.key), description=spec.description)
        # An archive lets an integration that was down replay what it missed.
        bus.archive(
            f"{bus_id(spec.key)}Archive",
            description=f"Everything published on the {spec.key} bus, for replays",
            event_pattern=events.EventPattern(source=[spec.source]),
            retention=Duration.days(30),
        )
        CfnOutput(self, f"{bus_id(spec.key)}Name", value=bus.event_bus_name, description=spec.description)
        return bus

    def _secret(self, spec: SecretSpec, stage: StageConfig) -> secretsmanager.Secret:
        secret = secretsmanager.Secret(
            self,
            secret_id(spec.key),
            description=spec.description,
            # No punctuation: the value is a comma-separated key list, so a generated comma
            # would split the one generated key in two.
            generate_secret_string=secretsmanager.SecretStringGenerator(
                exclude_punctuation=True, password_length=48
            ),
            removal_policy=stage.removal_policy,
        )
        acknowledge(secret, "AwsSolutions-SMG4", NEVER_ROTATED.get(spec.key, ROTATION_REASON))
        # The ARN, never the value: operators read or rotate the value with the CLI.
        CfnOutput(self, f"{secret_id(spec.key)}Arn", value=secret.secret_arn, description=spec.description)
        return secret

    def _failure_queue(self, function_name: str, stage: StageConfig) -> sqs.Queue:
        queue = self._queue(failure_queue_id(function_name), stage)
        acknowledge(
            queue,
            "AwsSolutions-SQS3",
            "This queue is the end of the line: the stream mapping's on-failure destination, holding "
            "the metadata of batches given up, for an operator (alarmed at one message). A DLQ behind "
            "it would only move the same messages one queue further.",
        )
        return queue

    def _schedule_dead_letters(self, rule_names: list[str], stage: StageConfig) -> sqs.Queue:
        queue = self._queue(SCHEDULE_DEAD_LETTER_QUEUE_ID, stage)
        # Only the schedules' rules, named because the service stack's rule ARNs cannot be
        # referenced from here without a cycle (the service stack imports this queue).
        queue.add_to_resource_policy(
            iam.PolicyStatement(
                sid="ScheduleRulesDeliverFailures",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["sqs:SendMessage"],
                resources=[queue.queue_arn],
                conditions={
                    "ArnEquals": {
                        "aws:SourceArn": [
                            self.format_arn(service="events", resource="rule", resource_name=name)
                            for name in rule_names
                        ]
                    }
                },
            )
        )
        acknowledge(
            queue,
            "AwsSolutions-SQS3",
            "This queue is itself a dead-letter queue: the DeadLetterConfig of the schedules' "
            "EventBridge targets, which cdk-nag does not count as DLQ use (it looks for SQS redrive "
            "policies). Alarmed at one message.",
        )
        return queue

    def _topic(self, spec: TopicSpec, stage: StageConfig) -> sns.Topic:
        topic = sns.Topic(self, topic_id(spec.key), display_name=spec.description[:100], enforce_ssl=True)
        topic.apply_removal_policy(stage.removal_policy)
        # The topic policy (enforce_ssl) replaces SNS's default one, and an AWS service can publish
        # only if that policy names it: exactly the configured services, on behalf of this account.
        for principal in stage.topic_publishers.get(spec.key, ()):
            topic.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="".join(part.title() for part in principal.split(".")[0].split("-")) + "Publishes",
                    principals=[iam.ServicePrincipal(principal)],
                    actions=["sns:Publish"],
                    resources=[topic.topic_arn],
                    conditions={"StringEquals": {"aws:SourceAccount": self.account}},
                )
            )
        # The ARN is what the publisher (an End User Messaging configuration set) is pointed at.
        CfnOutput(self, f"{topic_id(spec.key)}Arn", value=topic.topic_arn, description=spec.description)
        return topic

    def _topic_dead_letters(self, spec: TopicSpec, stage: StageConfig) -> sqs.Queue:
        queue = self._queue(topic_dead_letter_queue_id(spec.key), stage)
        acknowledge(
            queue,
            "AwsSolutions-SQS3",
            f"This queue is itself a dead-letter queue: the redrive target of the {spec.key} topic's "
            "subscription and its function's on-failure destination, neither of which cdk-nag counts as "
            "DLQ use (it looks for SQS redrive policies). Alarmed at one message.",
        )
        return queue

    def _queue(self, construct_id: str, stage: StageConfig) -> sqs.Queue:
        return sqs.Queue(
            self,
            construct_id,
            retention_period=FAILURE_QUEUE_RETENTION,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            removal_policy=stage.removal_policy,
        )

    def _alarm_topic(self, stage: StageConfig) -> sns.ITopic | None:
        topic: sns.ITopic
        if stage.alarm_topic_arn:
            topic = sns.Topic.from_topic_arn(self, "ExistingAlarmTopic", stage.alarm_topic_arn)
        elif stage.alarm_email:
            topic = self._new_alarm_topic(stage)
        else:
            return None
        if stage.alarm_email:
            sns.Subscription(
                self,
                "AlarmEmail",
                topic=topic,
                protocol=sns.SubscriptionProtocol.EMAIL,
                endpoint=stage.alarm_email,
            )
        CfnOutput(self, "AlarmTopicArn", value=topic.topic_arn, description="SNS topic the alarms notify")
        return topic

    def _new_alarm_topic(self, stage: StageConfig) -> sns.Topic:
        # Unencrypted on purpose: alarm messages carry metric names and thresholds, no data, and
        # CloudWatch cannot publish to a topic under the AWS managed SNS key.
        topic = sns.Topic(
            self,
            ALARM_TOPIC_ID,
            display_name=f"Engagement scoring ({stage.name}) alarms",
            enforce_ssl=True,
        )
        topic.apply_removal_policy(stage.removal_policy)
        # enforce_ssl writes a topic policy, and a topic policy replaces SNS's default one, which
        # is what let CloudWatch publish: without this statement every alarm action would fail
        # with "not authorized to perform SNS:Publish". Only this account's alarms, in this Region.
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions={
                    "ArnLike": {
                        "aws:SourceArn": self.format_arn(
                            service="cloudwatch",
                            resource="alarm",
                            resource_name="*",
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                    },
                    "StringEquals": {"aws:SourceAccount": self.account},
                },
            )
        )
        return topic


def table_indexes(spec: TableSpec, stage: StageConfig) -> tuple[IndexSpec, ...]:
    """The table's indexes, with the retired ones while a stack is upgraded (``RETIRED_INDEXES``)."""
    retired = RETIRED_INDEXES.get(spec.key, ()) if stage.keep_retired_indexes else ()
    return (*spec.indexes, *retired)


def _index(spec: IndexSpec) -> dynamodb.GlobalSecondaryIndexPropsV2:
    def attribute(name: str) -> dynamodb.Attribute:
        kind = dynamodb.AttributeType.NUMBER if name in spec.number_keys else dynamodb.AttributeType.STRING
        return dynamodb.Attribute(name=name, type=kind)

    return dynamodb.GlobalSecondaryIndexPropsV2(
        index_name=spec.name,
        partition_key=attribute(spec.partition_key),
        sort_key=attribute(spec.sort_key),
        projection_type=dynamodb.ProjectionType[spec.projection],
        non_key_attributes=list(spec.projected) if spec.projection == "INCLUDE" else None,
    )
