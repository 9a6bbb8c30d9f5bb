"""One Lambda function per ``FunctionSpec``: code, layer, environment, log group and grants.

Every function gets its own role (CDK's default) holding exactly the grants its spec names,
so the query function cannot write and ingest cannot read aggregates.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from engagement.topology import METRICS_NAMESPACE, SERVICE_NAME, FunctionSpec, Topology
from infra.cloud.config import StageConfig
from infra.cloud.naming import function_id, pascal
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

POWERTOOLS_ENVIRONMENT = {
    "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
    "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
    "POWERTOOLS_LOG_LEVEL": "INFO",
}

# Everything in functions/ that is not runtime code. The asset hash covers what is left, so
# editing a test or rebuilding metadata does not redeploy every function.
ASSET_EXCLUDES = ["**/__pycache__", "**/*.pyc", "**/*.egg-info", "**/.mypy_cache", "**/.pytest_cache"]


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
        environment=_environment(spec, topology=topology, data=data, stage=stage),
        tracing=lambda_.Tracing.ACTIVE,
        log_group=log_group,
    )
    for table_key, actions in spec.tables.items():
        # Exactly the actions the function calls, nothing a grant_*_data bundle adds.
        data.tables[table_key].grant(function, *(f"dynamodb:{action}" for action in actions))
    for secret_key in spec.secrets:
        data.secrets[secret_key].grant_read(function)
    return function


def _environment(
    spec: FunctionSpec, *, topology: Topology, data: StatefulResources, stage: StageConfig
) -> dict[str, str]:
    environment = {**POWERTOOLS_ENVIRONMENT, **spec.environment}
    for table_key in spec.tables:
        environment[topology.table(table_key).env_var] = data.tables[table_key].table_name
    for secret_key in spec.secrets:
        environment[topology.secret(secret_key).arn_env] = data.secrets[secret_key].secret_arn
    if stage.event_retention_days is not None:
        environment["EVENT_RETENTION_DAYS"] = str(stage.event_retention_days)
    return environment
