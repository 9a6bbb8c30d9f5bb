"""Functions carry only the machinery they use: pydantic alone costs about 50 ms of cold start,
paid on every scorer, decay and cleanup container, and the contact-scoring modules (CRM profile,
probabilities, bands, upkeep) have no business in the functions that never score a contact. A
helper module that imports one of them for a constant or a data class is enough to bring it in
(it did, twice: an event model's constant, and the history stretch's data class in the store)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from infra.local.environment import function_environment
from tests.sealed import child_environment

LEAN = ("scorer", "decay", "cleanup")
NEVER_SCORING = ("ingest", "telegram", "sms", "sms_events", "links", "privacy", "console")
SCORING_MODULES = ("engagement.domain.crm", "engagement.domain.upkeep", "engagement.domain.history")


def imported(function: str, prefixes: tuple[str, ...]) -> str:
    """The modules among ``prefixes`` that importing the function's handler loads (its init)."""
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
        f"print(sorted(m for m in sys.modules if m.startswith({prefixes!r}))[:3])"
    )
    done = subprocess.run([sys.executable, "-c", probe], check=True, env=env, capture_output=True, text=True)
    return done.stdout.strip()


@pytest.mark.parametrize("function", LEAN)
def test_a_function_without_a_request_model_never_imports_pydantic(function: str) -> None:
    assert imported(function, ("pydantic",)) == "[]"


@pytest.mark.parametrize("function", NEVER_SCORING)
def test_a_function_that_never_scores_a_contact_never_imports_the_scoring_modules(function: str) -> None:
    assert imported(function, SCORING_MODULES) == "[]"
