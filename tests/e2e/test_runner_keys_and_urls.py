"""A newcomer's first hour with the runner: the keys it generates survive a restart (and FRESH=1),
links it makes open, and a provider's callback signed over the URL it actually called verifies,
with nothing configured."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.sealed import child_environment
from tests.signers import twilio_form

from .conftest import ROOT, Runner, free_port, start_runner

pytestmark = pytest.mark.e2e


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_: object, **__: object) -> None:
        return None


def _call(
    url: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def _key_from(runner: Runner) -> str:
    return runner.ready_line.split("API key ", 1)[1].strip()


def _make_link(runner: Runner, key: str) -> str:
    body = json.dumps({"url": "https://shop.example/spring", "user_id": "+15551234567", "campaign": "spring"})
    status, _, answer = _call(
        f"{runner.url}/v1/links",
        "POST",
        body.encode(),
        {"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    assert status == 201, answer
    return str(json.loads(answer)["url"])


def _keys_command(state: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "infra.local", "key"],
        cwd=ROOT,
        env=child_environment(STATE_FILE=str(state)),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return result.stdout.strip()


def test_generated_keys_and_links_survive_a_restart_and_fresh_keeps_the_keys(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    generated = {"ENGAGEMENT_API_KEYS": "", "STATE_FILE": str(state)}
    with start_runner(**generated) as first:
        key = _key_from(first)
        link = _make_link(first, key)
        assert link.startswith(f"{first.url}/c/")  # http://127.0.0.1:<PORT>, not https://127.0.0.1
        status, headers, _ = _call(link)
        assert (status, headers["Location"]) == (302, "https://shop.example/spring")
        printed = [line for line in first.output if "(generated;" in line]
        assert any(line.startswith(tuple("0123456789")) for line in printed)
        assert any("TWILIO_AUTH_TOKEN=" in line for line in printed)
    assert (tmp_path / "keys.json").stat().st_mode & 0o077 == 0  # its owner's only
    assert _keys_command(state) == key

    with start_runner(**generated) as second:
        assert key not in second.ready_line  # printed once, when generated
        assert f"API key in {tmp_path / 'keys.json'}" in second.ready_line
        assert not any("(generated;" in line for line in second.output)
        status, _, _ = _call(
            f"{second.url}/v1/users/42/engagements", headers={"Authorization": f"Bearer {key}"}
        )
        assert status != 401
        # The link was made on another port: the same token opens on this runner.
        token = link.rsplit("/c/", 1)[1]
        assert _call(f"{second.url}/c/{token}")[0] == 302

    with start_runner(**generated, FRESH="1") as fresh:
        assert any("starting clean (FRESH=1)" in line for line in fresh.output)
        assert (
            _call(f"{fresh.url}/v1/users/42/engagements", headers={"Authorization": f"Bearer {key}"})[0]
            != 401
        )
        assert _call(f"{fresh.url}/c/{token}")[0] == 404  # the data is gone, the keys are not


def test_a_twilio_callback_signed_over_the_url_it_called_is_accepted_with_nothing_configured() -> None:
    port = free_port()
    token = "twilio-token-for-this-test"
    with start_runner(PORT=str(port), TWILIO_AUTH_TOKEN=token):
        url = f"http://127.0.0.1:{port}/webhooks/twilio?campaign=spring"
        fields = {
            "MessageSid": "SM1",
            "To": "+14155550100",
            "From": "+14155550199",
            "MessageStatus": "delivered",
        }
        body, headers = twilio_form(url, fields, token)  # the official SDK's signature
        status, _, answer = _call(url, "POST", body, headers)
        assert status == 200, answer
        assert re.search(rb"<Response\s*/?>", answer)
