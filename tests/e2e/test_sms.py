"""SMS providers through the local runner over real HTTP: form bodies arrive base64-encoded, as
API Gateway delivers them, and are verified against the URL the provider called."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.signers import twilio_form

from .conftest import Runner, free_port, start_runner

pytestmark = pytest.mark.e2e
TOKEN = "e2e-twilio-token"


@pytest.fixture(scope="module")
def runner() -> Iterator[Runner]:
    port = free_port()
    # The public URL Twilio signs is the one it calls: here, the runner's own address.
    with start_runner(
        PORT=str(port), PUBLIC_BASE_URL=f"http://127.0.0.1:{port}", TWILIO_AUTH_TOKEN=TOKEN
    ) as started:
        yield started


def send(runner: Runner, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(f"{runner.url}{path}", data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def twilio(runner: Runner, fields: dict[str, str], token: str = TOKEN) -> tuple[int, str]:
    path = "/webhooks/twilio?campaign=spring"
    body, headers = twilio_form(f"{runner.url}{path}", fields, token)
    return send(runner, path, body, headers)


def stats(runner: Runner, contact: str) -> Any:
    return runner.wait_for(f"/v1/users/{contact.replace('+', '%2B')}/stats", lambda b: True)


def test_twilio_callbacks_become_engagement_and_stop_suppresses(runner: Runner) -> None:
    contact = "+14155550142"
    status = {
        "MessageSid": "SM900",
        "To": contact,
        "From": "+14155550199",
        "ToCity": "",
        "MessageStatus": "delivered",
    }
    assert twilio(runner, status, token="not-the-token")[0] == 401
    assert twilio(runner, status)[0] == 200
    assert twilio(runner, status)[0] == 200  # Twilio's retry
    inbound = {"MessageSid": "SM901", "From": contact, "To": "+14155550199", "Body": "STOP", "NumMedia": "0"}
    assert twilio(runner, inbound) == (200, '<?xml version="1.0" encoding="UTF-8"?><Response></Response>')

    body = runner.wait_for(
        f"/v1/users/{contact.replace('+', '%2B')}/stats", lambda b: b["total_interactions"] == 2
    )
    assert body["suppressed"]["reason"] == "STOP"
    detail = runner.request("GET", f"/v1/users/{contact.replace('+', '%2B')}/engagements/spring")[1]
    assert detail["counts"] == {"delivered": 1, "opted_out": 1}


def test_end_user_messaging_events_arrive_through_the_topic(runner: Runner) -> None:
    contact = "+14255550143"
    message = json.dumps(
        {
            "eventType": "TEXT_DELIVERED",
            "messageId": "eum-1",
            "destinationPhoneNumber": contact,
            "eventTimestamp": 1795000000000,
            "context": {"campaign": "autumn"},
        }
    ).encode()
    status, body = send(runner, "/_local/topics/sms_events", message, {"Content-Type": "application/json"})
    assert status == 200, body
    detail = runner.wait_for(f"/v1/users/{contact.replace('+', '%2B')}/engagements/autumn", lambda b: True)
    assert detail["counts"] == {"delivered": 1}
