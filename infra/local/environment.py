"""The process environment the runner's functions see, built from the settings declaration.

The runner runs every function in one process, so it sets the union of what each function
reads locally (``engagement.settings.variables_of(..., in_aws=False)``): table and bus names
pointed at this machine, secret values (never ARNs), Powertools' variables, and the plain
settings, where a value exported in the shell that started the runner wins (``PUBLIC_BASE_URL``
for a tunnel). Everything AWS- or resource-shaped that the shell carries is dropped first: a
stray ``AWS_PROFILE``, ``AWS_ENDPOINT_URL`` or secret ARN must never send a local function to a
real account or a dead endpoint.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping

from engagement import settings
from engagement.topology import TOPOLOGY
from infra.local.buses import bus_environment
from infra.local.lambdas import REGION
from infra.local.tables import table_environment

INHERITED_PREFIXES = ("AWS_", "POWERTOOLS_")
SHELL_WINS = frozenset({"setting", "secret_value"})
"""Origins of the variables a developer may set in the shell around ``make run``."""


def local_variables() -> dict[str, settings.Variable]:
    return {
        variable.name: variable
        for function in TOPOLOGY.functions
        for variable in settings.variables_of(function.name, in_aws=False)
    }


def function_environment(
    *,
    shell: Mapping[str, str],
    table_prefix: str,
    dynamodb_url: str,
    log_level: str,
    secrets: Mapping[str, str],
    public_base_url: str | None,
    failure_queues: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """What the stack would give every function, pointed at this machine. Credentials are fake
    on purpose: nothing the runner starts can reach a real AWS account. ``secrets`` are values
    by variable; ``public_base_url`` is the runner's own URL, unless the shell sets one;
    ``failure_queues`` the local stand-ins of the stream mappings' on-failure queues."""
    resources = {**table_environment(table_prefix), **bus_environment(table_prefix)}
    environment = {
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_SESSION_TOKEN": "local",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_url,
        "AWS_ENDPOINT_URL_DYNAMODB_STREAMS": dynamodb_url,
        # moto serves every service on the one port: the buses and their taps live there too.
        "AWS_ENDPOINT_URL_EVENTBRIDGE": dynamodb_url,
        "AWS_ENDPOINT_URL_SQS": dynamodb_url,
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    for name, variable in local_variables().items():
        if variable.origin in ("table", "bus"):
            environment[name] = resources[name]
        elif variable.origin == "queue":
            url = (failure_queues or {}).get(variable.resource or "")
            if url:  # without a queue the overview says the depth is unknown
                environment[name] = url
        elif variable.origin == "library":
            environment[name] = log_level if name == "POWERTOOLS_LOG_LEVEL" else variable.default or ""
        elif variable.origin == "secret_value":
            value = shell.get(name) or secrets.get(name)
            if value:
                environment[name] = value
        elif name in shell:
            environment[name] = shell[name]
        elif name == "PUBLIC_BASE_URL" and public_base_url:
            environment[name] = public_base_url
        else:
            environment[name] = variable.default or ""
    return environment


def apply(environment: Mapping[str, str], target: MutableMapping[str, str] = os.environ) -> None:
    """Replace what the shell gave this process with ``environment``: every AWS_* and POWERTOOLS_*
    variable and every declared variable goes first (secret ARNs included), then ours."""
    declared = {variable.name for variable in settings.variables()}
    for name in [n for n in target if n.startswith(INHERITED_PREFIXES) or n in declared]:
        del target[name]
    target.update(environment)
    settings.reset()
