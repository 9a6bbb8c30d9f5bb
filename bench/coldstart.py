"""Cold start: a fresh process importing a function's handler module, against a fresh process
that imports boto3 and creates a DynamoDB client.

Measured: wall time of each whole child process, from spawn to exit, with the same interpreter
and the same environment (fake credentials, region, table names, API keys, Powertools settings
as the tests use). The function side imports the module the topology names; the module builds
its DynamoDB client at import, as in a Lambda init phase. Nothing calls AWS.

Why the comparison is fair: both sides pay interpreter start-up, ``site``, boto3 and one
DynamoDB client, so the ratio is what the function's own imports and init add to the least a
Python function using DynamoDB must load. Bytecode is compiled first for our package as it is
for site-packages (pip compiles at install), so neither side compiles source while being
timed; children run with ``PYTHONDONTWRITEBYTECODE`` like a read-only deployment. Baseline and
function runs alternate (order flipped each round) and each side's median is taken.
"""

from __future__ import annotations

import importlib.util
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter

from bench.environment import TEST_POWERTOOLS, child_environment, function_environment
from bench.report import Row, Section
from engagement.topology import TOPOLOGY

ROUNDS = 7
WARMUP_ROUNDS = 2
TARGET = 1.3
BASELINE_CODE = "import boto3\nboto3.client('dynamodb')"
DEPENDENCIES = ("boto3", "botocore", "aws_lambda_powertools", "pydantic", "pydantic_core")


def package_dir() -> Path:
    """``functions/``: the directory the deployed asset is made of."""
    spec = importlib.util.find_spec("engagement")
    if spec is None or spec.origin is None:
        raise LookupError("the engagement package is not importable")
    return Path(spec.origin).parent.parent


def compile_package() -> Path:
    """Write bytecode for our package once, as a deployment would ship or its first run would."""
    directory = package_dir()
    env = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(directory)], env=env, check=True)
    return directory


def uncompiled_dependencies() -> list[str]:
    """Dependencies whose top module has no bytecode next to it (expected: none)."""
    missing: list[str] = []
    for name in DEPENDENCIES:
        spec = importlib.util.find_spec(name)
        origin = spec.origin if spec else None
        if origin is None or not Path(importlib.util.cache_from_source(origin)).exists():
            missing.append(name)
    return missing


def child_env() -> dict[str, str]:
    return {
        **child_environment(function_environment(TEST_POWERTOOLS, table_prefix="bench-coldstart")),
        "PYTHONDONTWRITEBYTECODE": "1",
    }


@dataclass(frozen=True)
class ProcessTiming:
    wall_s: float
    """Spawn to exit, measured by the parent: the figure the target applies to."""
    init_s: float
    """Measured inside the child around ``code`` alone: no interpreter start-up or teardown
    (a Lambda init phase never pays the teardown). Informational."""


def run_process(code: str, env: dict[str, str]) -> ProcessTiming:
    """Run ``python -c code`` in a fresh process; raises if the child fails."""
    timed = f"import time\n_started = time.perf_counter()\n{code}\nprint(time.perf_counter() - _started)"
    started = perf_counter()
    child = subprocess.run([sys.executable, "-c", timed], env=env, check=True, capture_output=True, text=True)
    wall = perf_counter() - started
    return ProcessTiming(wall_s=wall, init_s=float(child.stdout.split()[-1]))


def run() -> Section:
    directory = compile_package()
    missing = uncompiled_dependencies()
    env = child_env()
    functions = TOPOLOGY.functions
    baseline: dict[str, list[ProcessTiming]] = {spec.name: [] for spec in functions}
    function: dict[str, list[ProcessTiming]] = {spec.name: [] for spec in functions}

    for round_number in range(WARMUP_ROUNDS + ROUNDS):
        for spec in functions:
            sides = [(BASELINE_CODE, baseline[spec.name]), (f"import {spec.module}", function[spec.name])]
            for code, samples in sides if round_number % 2 == 0 else reversed(sides):
                timing = run_process(code, env)
                if round_number >= WARMUP_ROUNDS:
                    samples.append(timing)

    def median_ms(samples: list[ProcessTiming], *, init: bool = False) -> float:
        return statistics.median(t.init_s if init else t.wall_s for t in samples) * 1000

    rows = [
        Row(
            f"{spec.name} ({spec.module})",
            median_ms(function[spec.name]),
            median_ms(baseline[spec.name]),
            TARGET,
        )
        for spec in functions
    ]
    init_ratios = {
        spec.name: median_ms(function[spec.name], init=True) / median_ms(baseline[spec.name], init=True)
        for spec in functions
    }
    bytecode = (
        "site-packages bytecode present for " + ", ".join(DEPENDENCIES)
        if not missing
        else "WARNING: no bytecode found for "
        + ", ".join(missing)
        + " (their source is compiled in every run)"
    )
    return Section(
        key="coldstart",
        title="3. Cold start: fresh process importing the handler vs importing boto3 + one DynamoDB client"
        " (median per process)",
        measured_label="function",
        baseline_label="boto3 + client",
        unit="ms",
        decimals=0,
        rows=rows,
        notes=[
            f"{ROUNDS} runs per side and function after {WARMUP_ROUNDS} warm-up rounds, baseline and"
            " function alternating; wall time of each whole process, spawn to exit.",
            f"Bytecode: compileall ran on {directory.name}/ before measuring (as deployed); {bytecode}.",
            "Children: same interpreter, fake credentials, region, table and API-key variables,"
            " Powertools settings as in tests/conftest.py; no endpoint (nothing is called).",
            "Info, init phase alone (timed inside the child: imports and client, no interpreter start-up or"
            " teardown): ratio "
            + ", ".join(f"{name} {ratio:.2f}" for name, ratio in init_ratios.items())
            + ".",
        ],
        details={
            "rounds": ROUNDS,
            "warmup_rounds": WARMUP_ROUNDS,
            "baseline_code": BASELINE_CODE,
            "init_phase_ratio": {name: round(ratio, 3) for name, ratio in init_ratios.items()},
            "init_phase_median_ms": {
                spec.name: {
                    "function": round(median_ms(function[spec.name], init=True), 1),
                    "baseline": round(median_ms(baseline[spec.name], init=True), 1),
                }
                for spec in functions
            },
            "wall_samples_ms": {
                spec.name: {
                    "function": [round(t.wall_s * 1000, 1) for t in function[spec.name]],
                    "baseline": [round(t.wall_s * 1000, 1) for t in baseline[spec.name]],
                }
                for spec in functions
            },
        },
    )
