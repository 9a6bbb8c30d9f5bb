"""Schemathesis against the running system: every operation of the OpenAPI document, generated
valid and invalid requests, five checks, a fixed seed. Any finding fails the suite.

The runner is started as ``make run`` starts it; the fuzzer reads the document the runner serves
(the committed one: test_openapi holds them equal) and authenticates with the runner's key.
Webhooks get only unsigned requests here (the fuzzer cannot sign them), which must be refused
with a documented 401; their signed hostile inputs are tests/integration/test_hostile_webhooks.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.sealed import child_environment

from .conftest import KEY, ROOT, Runner

SEED = 20261206
EXAMPLES_PER_OPERATION = 100
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
)


def test_the_contract_holds_under_fuzzing(runner: Runner, tmp_path: Path) -> None:
    report = tmp_path / "schemathesis.xml"
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("schemathesis")),
            "run",
            f"{runner.url}/v1/openapi.json",
            "--header",
            f"Authorization: Bearer {KEY}",
            "--checks",
            ",".join(CHECKS),
            "--seed",
            str(SEED),
            "--max-examples",
            str(EXAMPLES_PER_OPERATION),
            "--workers",
            "2",
            "--generation-database",
            "none",
            "--request-timeout",
            "30",
            "--no-color",
            "--report",
            "junit",
            "--report-junit-path",
            str(report),
        ],
        cwd=ROOT,
        env=child_environment(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    summary = result.stdout[-6000:]
    assert result.returncode == 0, summary
    tail = summary.split("SUMMARY")[-1]
    assert " passed" in tail, summary
    assert "failure" not in tail, summary
