"""Start the local runner exactly as ``make run`` does, in a subprocess on free ports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KEY = "e2e-key"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Runner:
    url: str
    process: subprocess.Popen[str]
    ready_line: str


@pytest.fixture(scope="module")
def runner() -> Iterator[Runner]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_", "ENGAGEMENT_"))}
    env.update(PORT=str(free_port()), DYNAMODB_PORT=str(free_port()), ENGAGEMENT_API_KEYS=KEY)
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.local"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    ready = ""
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        if line.startswith("ready:"):
            ready = line.strip()
            break
    if not ready:
        process.kill()
        pytest.fail(f"the runner did not become ready: {process.stdout.read()}")
    url = ready.split("API ", 1)[1].split()[0]
    yield Runner(url=url, process=process, ready_line=ready)
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)
