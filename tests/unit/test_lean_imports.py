"""Functions that parse no request carry no request-model machinery: pydantic alone costs about
50 ms of cold start, paid on every scorer, decay and cleanup container. A helper module that
imports an event model for one constant is enough to bring it in (it did, once)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from infra.local.environment import function_environment
from tests.sealed import child_environment

LEAN = ("scorer", "decay", "cleanup")


@pytest.mark.parametrize("function", LEAN)
def test_a_function_without_a_request_model_never_imports_pydantic(function: str) -> None:
    env = child_environment(
        **function_environment(
            shell={},
            table_prefix="lean",
            dynamodb_url="http://127.0.0.1:9",
            log_level="WARNING",
            secrets={},
            public_base_url=None,
        )
    )
    probe = (
        f"import sys, engagement.handlers.{function}; "
        "print(sorted(m for m in sys.modules if m.startswith('pydantic'))[:3])"
    )
    done = subprocess.run([sys.executable, "-c", probe], check=True, env=env, capture_output=True, text=True)
    assert done.stdout.strip() == "[]", done.stdout
