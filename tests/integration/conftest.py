"""Integration tests run against a real DynamoDB API: moto's server on a free local port."""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer

from infra.local.buses import bus_environment, create_buses
from infra.local.tables import create_tables, table_environment

PREFIX = "test"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    variables = [
        f"AWS_ENDPOINT_URL_{service}" for service in ("DYNAMODB", "DYNAMODB_STREAMS", "EVENTBRIDGE", "SQS")
    ]
    saved = {k: os.environ.get(k) for k in variables}
    for variable in variables:
        os.environ[variable] = endpoint
    yield endpoint
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def tables(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Fresh tables for every test, named and wired exactly as the runner does it."""
    request = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
    urllib.request.urlopen(request).close()
    names = create_tables(boto3.client("dynamodb"), PREFIX)
    taps = create_buses(boto3.client("events"), boto3.client("sqs"), PREFIX)
    for variable, name in {**table_environment(PREFIX), **bus_environment(PREFIX)}.items():
        monkeypatch.setenv(variable, name)
    from engagement import deps

    deps.reset()
    return {**names, **{f"bus:{key}": url for key, url in taps.items()}}
