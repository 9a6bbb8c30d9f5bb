"""One Lambda function per ``FunctionSpec``: code, layer, environment, log group, role and grants.

Every function gets its own role holding exactly the grants its spec names, so the query
function cannot write and ingest cannot read aggregates. The role is ours rather than CDK's
default, which attaches AWSLambdaBasicExecutionRole (create any log group, write to every log
stream in the account): here a function may write only to its own log group.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from engagement import settings
from engagement.topology import FunctionSpec, Topology
from infra.cloud.config import StageConfig
from infra.cloud.nag import acknowledge
from infra.cloud.naming import function_id, pascal
from infra.cloud.packaging import ASSET_EXCLUDES
from infra.cloud.stateful import StatefulResources

RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.ARM_64

# Powertools and pydantic come from the official layer, so the asset is only our package. The
# version must match the one the tests run against (pyproject pins it; a test checks this).
POWERTOOLS_VERSION = "3.37.0"
# The layer is built per Python version and architecture; derive both from the function's.
POWERTOOLS_LAYER_PARAMETER = (
    f"/aws/service/powertools/python/{ARCHITECTURE.name}/{RUNTIME.name}/{POWERTOOLS_VERSION}"
)

# Re-exported: the asset's exclude list lives in the CDK-free packaging module (bench reads it).
__all__ = ["ASSET_EXCLUDES", "build_function", "function_code", "powertools_layer"]

TRACING_WILDCARD_REASON = (
    "Active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level "
    "permissions, so they can only be granted on '*'; every other statement names its resource."
)
RUNTIME_PIN_REASON = (
    f"{RUNTIME.name} is pinned together with the Powertools layer, which is built per Python version "
    "(POWERTOOLS_LAYER_PARAMETER, with pydantic_core compiled for it): a runtime upgrade is a "
    "deliberate change of both, not something a CDK release should make."
)


def function_code(functions_dir: Path) -> lambda_.Code:
    """The shared asset: the ``functions/`` directory as it is, no Docker, no bundling."""
    return lambda_.Code.from_asset(str(functions_dir), exclude=ASSET_EXCLUDES)


def powertools_layer(scope: Construct) -> lambda_.ILayerVersion:
    """The official public layer, its ARN read from the public SSM parameter at deploy time.

    ``value_for_string_parameter`` becomes a CloudFormation parameter, so synthesis stays
    offline and the ARN resolves to the deploying Region's copy of the layer.
    """
    arn = ssm.StringParameter.value_for_string_parameter(scope, POWERTOOLS_LAYER_PARAMETER)
    return lambda_.LayerVersion.from_layer_version_arn(scope, "PowertoolsLayer", arn)


def build_function(
    scope: Construct,
    spec: FunctionSpec,
    *,
    topology: Topology,
    data: StatefulResources,
    code: lambda_.Code,
    layers: Sequence[lambda_.ILayerVersion],
    stage: StageConfig,
) -> lambda_.Function:
    name = pascal(spec.name)
    # An explicit log group, so retention and removal are ours and not Lambda's implicit
    # never-expiring /aws/lambda/<name> group.
    log_group = logs.LogGroup(
        scope, f"{name}Logs", retention=stage.log_retention, removal_policy=stage.removal_policy
    )
    role = iam.Role(
        scope,
        f"{name}Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=f"{spec.name}: its own log group and exactly what its FunctionSpec names",
    )
    # Streams and events only, in the one group the function logs to (it exists already, so
    # logs:CreateLogGroup is not needed either).
    log_group.grant_write(role)
    function = lambda_.Function(
        scope,
        function_id(spec.name),
        runtime=RUNTIME,
        architecture=ARCHITECTURE,
        code=code,
        handler=spec.handler,
        layers=list(layers),
        memory_size=spec.memory_mb,
        timeout=Duration.seconds(spec.timeout_s),
        description=spec.description,
        environment=_environment(spec, data=data, stage=stage),
        tracing=lambda_.Tracing.ACTIVE,
        log_group=log_group,
        role=role,
    )
    for table_key, actions in spec.tables.items():
        # Exactly the actions the function calls, on the table alone: Table.grant would add
        # "index/*" for a table with indexes, and a function reads only the indexes it names.
        table = data.tables[table_key]
        if actions:
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=[f"dynamodb:{action}" for action in actions], resources=[table.table_arn]
                )
            )
        indexes = spec.indexes.get(table_key, ())
        if indexes:
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["dynamodb:Query"],
                    resources=[f"{table.table_arn}/index/{index}" for index in indexes],
                )
            )
    for secret_key in spec.secrets:
        # GetSecretValue is the one call Powertools makes; grant_read would add DescribeSecret.
        # The secrets use the AWS managed key, whose policy lets the account's principals decrypt
        # through Secrets Manager, so no kms: statement is needed.
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["secretsmanager:GetSecretValue"], resources=[data.secrets[secret_key].secret_arn]
            )
        )
    for consumer in spec.failure_queues:
        # The depth of a stream's failure queue, nothing else of it (no receive, no delete).
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["sqs:GetQueueAttributes"], resources=[data.failure_queues[consumer].queue_arn]
            )
        )
    for bus in topology.buses:
        if spec.name in bus.publishers:
            data.buses[bus.key].grant_put_events_to(function)
    _acknowledge(function, role)
    return function


def _acknowledge(function: lambda_.Function, role: iam.Role) -> None:
    acknowledge(function, "AwsSolutions-L1", RUNTIME_PIN_REASON)
    # The role's default policy exists by now: tracing and the log grant both wrote to it.
    policy = role.node.find_child("DefaultPolicy")
    acknowledge(policy, "AwsSolutions-IAM5[Resource::*]", TRACING_WILDCARD_REASON)


def _environment(spec: FunctionSpec, *, data: StatefulResources, stage: StageConfig) -> dict[str, str]:
    """Exactly the variables the settings declaration says the function reads in AWS."""
    environment: dict[str, str] = {}
    for variable in settings.variables_of(spec.name, in_aws=True):
        key = variable.resource or ""
        if variable.origin == "setting":
            value = stage.settings.get(variable.name, variable.default or "")
        elif variable.origin == "library":
            value = variable.default or ""
        elif variable.origin == "table":
            value = data.tables[key].table_name
        elif variable.origin == "bus":
            value = data.buses[key].event_bus_name
        elif variable.origin == "queue":
            value = data.failure_queues[key].queue_url
        elif variable.origin == "secret_arn":
            value = data.secrets[key].secret_arn
        else:
            raise ValueError(f"{variable.name}: a {variable.origin} variable is never set in AWS")
        environment[variable.name] = value
    return environment
