"""In AWS the API keys come from Secrets Manager (rotation, refetch and outage: test_webhook_gate)."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters

from engagement import secrets, settings
from engagement.topology import API_KEYS

from .api import call


@pytest.fixture
def secret_arn(moto_endpoint: str, tables: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto_endpoint)
    monkeypatch.delenv(API_KEYS.local_env)
    arn = boto3.client("secretsmanager").create_secret(Name="api-keys", SecretString="cloud-key")["ARN"]
    monkeypatch.setenv(API_KEYS.arn_env, arn)
    settings.reset()
    monkeypatch.setattr(secrets, "_last_forced_refresh", {})
    parameters.clear_caches()
    yield arn
    parameters.clear_caches()


def test_keys_are_read_from_the_secret(secret_arn: str) -> None:
    assert call("GET", "/v1/segments/hot", key="cloud-key").status == 200
    assert call("GET", "/v1/segments/hot", key="test-key-1").status == 401


def test_a_stray_key_variable_next_to_the_arn_does_not_bypass_the_secret(
    secret_arn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # In or out of Lambda: where the stack sets an ARN, only Secrets Manager counts.
    monkeypatch.setenv(API_KEYS.local_env, "stray-key")
    settings.reset()
    assert call("GET", "/v1/segments/hot", key="stray-key").status == 401
    assert call("GET", "/v1/segments/hot", key="cloud-key").status == 200
