"""Start the local runner exactly as ``make run`` does, in a subprocess on free ports."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.sealed import child_environment

ROOT = Path(__file__).resolve().parents[2]
KEY = "e2e-key"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Runner:
    url: str
    dynamodb_url: str
    process: subprocess.Popen[str]
    ready_line: str
    output: list[str] = field(default_factory=list)

    def request(self, method: str, path: str, body: Any = None, *, key: str | None = KEY) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.url}{path}", data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if key is not None:
            req.add_header("Authorization", f"Bearer {key}")
        try:
            with urllib.request.urlopen(req, timeout=60) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def control(self, method: str, name: str, body: Any = None) -> Any:
        status, answer = self.request(method, f"/_local/{name}", body, key=None)
        assert status == 200, answer
        return answer

    def post_events(self, *events: dict[str, Any]) -> dict[str, Any]:
        status, body = self.request("POST", "/v1/events", {"events": list(events)})
        assert status == 202, body
        return dict(body)

    def wait_for(self, path: str, done: Callable[[Any], bool], timeout_s: float = 15) -> Any:
        deadline = time.monotonic() + timeout_s
        while True:
            status, body = self.request("GET", path)
            if status == 200 and done(body):
                return body
            if time.monotonic() > deadline:
                pytest.fail(f"{path} never reached the expected state; last answer {status} {body}")
            time.sleep(0.2)

    def logged(self, text: str) -> bool:
        return any(text in line for line in list(self.output))

    def stop(self, signum: int = signal.SIGINT) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        return self.process.wait(timeout=60)

    def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is flushed or saved on the way out."""
        self.process.kill()
        self.process.wait(timeout=20)


def sealed_environment(tmp: Path, **overrides: str) -> dict[str, str]:
    """A subprocess environment built from an allowlist (tests/sealed.py), never a copy of
    ``os.environ``."""
    env = child_environment(
        PORT=str(free_port()),
        DYNAMODB_PORT=str(free_port()),
        ENGAGEMENT_API_KEYS=KEY,
        STATE_FILE="off",  # tests never touch the developer's .local/state.json
        RUNNER_FILE=str(tmp / "runner.json"),  # nor announce themselves in the developer's .local/
        NO_COLOR="1",
    )
    env.update(overrides)
    return env


@contextlib.contextmanager
def start_runner(**env_overrides: str) -> Iterator[Runner]:
    with (
        tempfile.TemporaryDirectory(prefix="runner-") as tmp,
        _started(sealed_environment(Path(tmp), **env_overrides)) as runner,
    ):
        yield runner


@contextlib.contextmanager
def _started(env: dict[str, str]) -> Iterator[Runner]:
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.local"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    output: list[str] = []
    ready = ""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        output.append(line.rstrip())
        if line.startswith("ready:"):
            ready = line.strip()
            break
    if not ready:
        process.kill()
        pytest.fail("the runner did not become ready:\n" + "\n".join(output) + process.stdout.read())

    def collect() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line.rstrip())

    threading.Thread(target=collect, daemon=True).start()
    runner = Runner(
        url=ready.split("API ", 1)[1].split()[0],
        dynamodb_url=ready.split("DynamoDB ", 1)[1].split()[0],
        process=process,
        ready_line=ready,
        output=output,
    )
    try:
        yield runner
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture(scope="module")
def runner() -> Iterator[Runner]:
    with start_runner() as started:
        yield started
