"""Every credential goes through one gate: Secrets Manager in AWS, cached, refetched once when a
check fails (the secret may have been rotated), and never refetched on every bad request.

The same rule for a bearer API key, a Telegram secret token and a Twilio signature proves it is
one rule, not three copies of it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters

from engagement import secrets, settings
from engagement.topology import TOPOLOGY, SecretSpec
from tests.signers import twilio_form

from .api import Answer, call

FIXTURES = Path(__file__).parents[1] / "unit" / "fixtures" / "telegram"
STATUS = {"MessageSid": "SM1", "To": "+14155550100", "From": "+14155550199", "MessageStatus": "delivered"}


def _telegram(secret: str) -> Answer:
    body = json.loads((FIXTURES / "private_query.json").read_text())
    return call(
        "POST", "/webhooks/telegram", body, key=None, headers={"X-Telegram-Bot-Api-Secret-Token": secret}
    )


def _twilio(secret: str) -> Answer:
    body, headers = twilio_form("https://api.local/webhooks/twilio", STATUS, secret)
    content_type = headers.pop("Content-Type")
    return call("POST", "/webhooks/twilio", key=None, raw=body, content_type=content_type, headers=headers)


def _api(secret: str) -> Answer:
    return call("GET", "/v1/segments/hot", key=secret)


GATES: dict[str, tuple[SecretSpec, Callable[[str], Answer]]] = {
    "api key": (TOPOLOGY.secret("api_keys"), _api),
    "telegram": (TOPOLOGY.webhook("telegram").secret or TOPOLOGY.secret("api_keys"), _telegram),
    "twilio": (TOPOLOGY.webhook("twilio").secret or TOPOLOGY.secret("api_keys"), _twilio),
}


@pytest.fixture(params=list(GATES))
def gate(
    request: pytest.FixtureRequest,
    moto_endpoint: str,
    tables: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[str, Callable[[str], Answer]]]:
    spec, send = GATES[request.param]
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto_endpoint)
    monkeypatch.delenv(spec.local_env, raising=False)
    arn = boto3.client("secretsmanager").create_secret(Name=f"gate-{spec.key}", SecretString="first")["ARN"]
    monkeypatch.setenv(spec.arn_env, arn)
    settings.reset()
    monkeypatch.setattr(secrets, "_last_forced_refresh", {})
    parameters.clear_caches()
    yield arn, send
    parameters.clear_caches()
    settings.reset()


def test_a_rotated_secret_is_picked_up_without_a_deploy(gate: tuple[str, Callable[[str], Answer]]) -> None:
    arn, send = gate
    assert send("first").status == 200  # now cached
    boto3.client("secretsmanager").put_secret_value(SecretId=arn, SecretString="second")
    assert send("second").status == 200  # refused with the cached value, accepted after one refetch
    assert send("first").status == 401


def test_a_flood_of_bad_requests_refetches_the_secret_once(
    gate: tuple[str, Callable[[str], Answer]], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, send = gate
    forced: list[bool] = []
    real = parameters.get_secret

    def counting(name: str, **kwargs: object) -> object:
        forced.append(bool(kwargs.get("force_fetch")))
        return real(name, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(parameters, "get_secret", counting)
    for _ in range(5):
        assert send("guess").status == 401
    assert forced.count(True) == 1


def test_an_unreadable_secret_answers_503_so_the_caller_retries(
    gate: tuple[str, Callable[[str], Answer]], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, send = gate
    for spec, _send in GATES.values():
        monkeypatch.setenv(spec.arn_env, "arn:aws:secretsmanager:us-east-1:123456789012:secret:gone-AbCdEf")
    settings.reset()
    answer = send("first")
    assert (answer.status, answer.body["error"]) == (503, "auth_unavailable")


def test_an_unconfigured_secret_refuses_everything(
    tables: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for spec, _send in GATES.values():
        monkeypatch.delenv(spec.local_env, raising=False)
        monkeypatch.delenv(spec.arn_env, raising=False)
    settings.reset()
    for _spec, send in GATES.values():
        assert send("").status == 401
        assert send("anything").status == 401
    settings.reset()
