"""The stateful stack: tables, secrets and the stream's on-failure queue.

Kept apart from the functions so that redeploying, renaming or deleting code can never replace
or delete data. The stack has termination protection; tables are retained whatever the stage.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import CfnOutput, Duration, Environment, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from engagement.topology import SecretSpec, TableSpec, Topology
from infra.cloud.config import StageConfig
from infra.cloud.naming import failure_queue_id, secret_id, table_id

# DynamoDB keeps stream records for 24 h and the on-failure message only points at them, so the
# queue must keep a message at least that long; the SQS maximum leaves days for a redrive.
FAILURE_QUEUE_RETENTION = Duration.days(14)


@dataclass(frozen=True)
class StatefulResources:
    """What the service stack needs from the stateful one, keyed the way the topology names it."""

    tables: Mapping[str, dynamodb.ITableV2]
    """By ``TableSpec.key``."""
    secrets: Mapping[str, secretsmanager.ISecret]
    """By ``SecretSpec.key``."""
    failure_queues: Mapping[str, sqs.IQueue]
    """By the function name of the stream mapping the queue serves."""


class StatefulStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: StageConfig,
        topology: Topology,
        env: Environment | None = None,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            env=env,
            description=f"Engagement scoring ({stage.name}): tables, secrets, failure queue",
            termination_protection=True,
        )
        self.resources = StatefulResources(
            tables={spec.key: self._table(spec, stage) for spec in topology.tables},
            secrets={spec.key: self._secret(spec, stage) for spec in topology.secrets},
            failure_queues={
                mapping.function: self._failure_queue(mapping.function, stage)
                for mapping in topology.stream_mappings
            },
        )

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
        )
        CfnOutput(self, f"{table_id(spec.key)}Name", value=table.table_name, description=spec.env_var)
        return table

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
        # The ARN, never the value: operators read or rotate the value with the CLI.
        CfnOutput(self, f"{secret_id(spec.key)}Arn", value=secret.secret_arn, description=spec.description)
        return secret

    def _failure_queue(self, function_name: str, stage: StageConfig) -> sqs.Queue:
        return sqs.Queue(
            self,
            failure_queue_id(function_name),
            retention_period=FAILURE_QUEUE_RETENTION,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            removal_policy=stage.removal_policy,
        )
