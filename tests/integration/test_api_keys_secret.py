"""In AWS the API keys come from Secrets Manager: cached, and refreshed when a key fails."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters

from engagement import secrets
from engagement.topology import API_KEYS

from .api import call


@pytest.fixture
def secret_arn(moto_endpoint: str, tables: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto_endpoint)
    monkeypatch.delenv(API_KEYS.local_env)
    arn = boto3.client("secretsmanager").create_secret(Name="api-keys", SecretString="cloud-key")["ARN"]
    monkeypatch.setenv(API_KEYS.arn_env, arn)
    monkeypatch.setattr(secrets, "_last_forced_refresh", {})
    parameters.clear_caches()
    yield arn
    parameters.clear_caches()


def test_keys_are_read_from_the_secret(secret_arn: str) -> None:
    assert call("GET", "/v1/users/u/engagements", key="cloud-key").status == 200
    assert call("GET", "/v1/users/u/engagements", key="test-key-1").status == 401


def test_a_rotated_key_works_without_a_deploy_and_the_old_one_stops(secret_arn: str) -> None:
    assert call("GET", "/v1/users/u/engagements", key="cloud-key").status == 200  # now cached
    boto3.client("secretsmanager").put_secret_value(SecretId=secret_arn, SecretString="rotated-key")
    assert call("GET", "/v1/users/u/engagements", key="rotated-key").status == 200  # refetched on failure
    assert call("GET", "/v1/users/u/engagements", key="cloud-key").status == 401


def test_failed_checks_do_not_refetch_the_secret_on_every_request(
    secret_arn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fetches: list[bool] = []
    real = parameters.get_secret

    def counting(name: str, **kwargs: object) -> object:
        fetches.append(bool(kwargs.get("force_fetch")))
        return real(name, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(parameters, "get_secret", counting)
    for _ in range(5):
        assert call("GET", "/v1/users/u/engagements", key="guess").status == 401
    assert fetches.count(True) == 1  # one forced refresh, then the interval holds


def test_an_unreadable_secret_answers_503_not_401(secret_arn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        API_KEYS.arn_env, "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf"
    )
    answer = call("GET", "/v1/users/u/engagements", key="cloud-key")
    assert (answer.status, answer.body["error"]) == (503, "auth_unavailable")


def test_in_lambda_a_stray_key_variable_does_not_bypass_the_secret(
    secret_arn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "query")
    monkeypatch.setenv(API_KEYS.local_env, "stray-key")
    assert call("GET", "/v1/users/u/engagements", key="stray-key").status == 401
    assert call("GET", "/v1/users/u/engagements", key="cloud-key").status == 200
