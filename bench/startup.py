"""Runner start-up: ``python -m infra.local`` until its ready line, against a bare moto server.

Measured: wall time from spawning the process to the line that says it serves, for the whole
local system (moto's DynamoDB with streams, tables from the topology, every handler imported,
the stream pump, the scheduler and the HTTP gateway) and for a process that only starts moto's
server. Same interpreter, free ports, no saved state; the sides alternate and medians are
taken. The issue's budget is two seconds after installation, so the second row compares the
runner with that budget directly.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
from pathlib import Path
from time import perf_counter

from bench.report import Row, Section

ROUNDS = 5
WARMUP_ROUNDS = 1
BUDGET_MS = 2000.0
ROOT = Path(__file__).resolve().parent.parent
BARE_MOTO = (
    "from moto.server import ThreadedMotoServer\n"
    "import sys\n"
    "server = ThreadedMotoServer(ip_address='127.0.0.1', port=int(sys.argv[1]), verbose=False)\n"
    "server.start()\n"
    "print('ready:', flush=True)\n"
    "sys.stdin.read()\n"
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _time_until_ready(command: list[str], env: dict[str, str]) -> float:
    started = perf_counter()
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    try:
        for line in process.stdout:
            if line.startswith("ready:"):
                return (perf_counter() - started) * 1000
        raise RuntimeError(f"{' '.join(command)} exited before it was ready")
    finally:
        process.terminate()
        process.wait(timeout=20)


def run() -> Section:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    env.update(STATE_FILE="off", NO_COLOR="1", ENGAGEMENT_API_KEYS="bench-key")
    runner: list[float] = []
    moto: list[float] = []
    for round_number in range(WARMUP_ROUNDS + ROUNDS):
        sides = [("runner", runner), ("moto", moto)]
        for side, samples in sides if round_number % 2 == 0 else reversed(sides):
            ports = {"PORT": str(_free_port()), "DYNAMODB_PORT": str(_free_port())}
            command = (
                [sys.executable, "-m", "infra.local"]
                if side == "runner"
                else [sys.executable, "-c", BARE_MOTO, ports["DYNAMODB_PORT"]]
            )
            timing = _time_until_ready(command, {**env, **ports})
            if round_number >= WARMUP_ROUNDS:
                samples.append(timing)
    runner_ms, moto_ms = statistics.median(runner), statistics.median(moto)
    return Section(
        key="startup",
        title="4. Local runner start-up: spawn to the ready line (median per process)",
        measured_label="runner",
        baseline_label="baseline",
        unit="ms",
        decimals=0,
        rows=[
            Row("runner vs a bare moto server", runner_ms, moto_ms, None),
            Row("runner vs the 2 s budget", runner_ms, BUDGET_MS, 1.0),
        ],
        notes=[
            f"{ROUNDS} starts per side after {WARMUP_ROUNDS} warm-up round, alternating;"
            " free ports, STATE_FILE=off.",
            "The runner's figure covers moto with streams, the topology's tables, every handler's init,"
            " the stream pump, the scheduler and the HTTP gateway.",
        ],
        details={"runner_ms": runner, "bare_moto_ms": moto},
    )
