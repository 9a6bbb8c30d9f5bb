"""The process environment the benchmarked functions see, in this process and in child processes.

Credentials are fake on purpose: nothing a benchmark starts can reach a real AWS account.
No endpoint variable is set: in-process benchmarks are served by moto's in-process backend,
and cold-start children never call AWS at all.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from engagement.topology import METRICS_NAMESPACE, SERVICE_NAME, TOPOLOGY
from infra.local.buses import bus_environment
from infra.local.tables import table_environment

REGION = "us-east-1"
API_KEY = "bench-key"

AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_SESSION_TOKEN": "bench",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    # botocore >= 1.44.4 routes Streams calls to account-id endpoints moto does not serve.
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
}

DEPLOYED_POWERTOOLS = {
    # What infra/cloud/functions.py gives every function: INFO logs and EMF metrics are part of
    # what a deployed request costs. Tracing stays off: it needs the X-Ray daemon of a real
    # Lambda sandbox (Powertools disables it outside Lambda in any case).
    "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
    "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "POWERTOOLS_TRACE_DISABLED": "true",
}

TEST_POWERTOOLS = {
    # As tests/conftest.py sets them. Import cost does not depend on these values.
    "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
    "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}

_INHERITED_PREFIXES = ("AWS_", "POWERTOOLS_")


def function_environment(powertools: Mapping[str, str], table_prefix: str) -> dict[str, str]:
    """Every variable a function of the topology reads, as a stack would set them."""
    return {
        **AWS_ENVIRONMENT,
        **powertools,
        TOPOLOGY.secret("api_keys").local_env: API_KEY,
        **table_environment(table_prefix),
        **bus_environment(table_prefix),
    }


def apply_to_this_process(variables: Mapping[str, str]) -> None:
    """Replace every AWS_* and POWERTOOLS_* variable of this process with ``variables``.

    An inherited ``AWS_ENDPOINT_URL_DYNAMODB`` (the Makefile exports none, a shell might)
    would send calls past moto's in-process backend, so inherited values are dropped.
    """
    for name in [name for name in os.environ if name.startswith(_INHERITED_PREFIXES)]:
        del os.environ[name]
    os.environ.update(variables)


def child_environment(variables: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without its AWS_* and POWERTOOLS_* variables, plus ``variables``."""
    kept = {name: value for name, value in os.environ.items() if not name.startswith(_INHERITED_PREFIXES)}
    return {**kept, **variables}
