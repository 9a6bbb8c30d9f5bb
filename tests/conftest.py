"""Shared test setup.

Environment first, at import time: Powertools and boto3 read it when handler modules are
imported, and handler modules are imported inside tests, after these values exist.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from engagement import settings

# Sealed: nothing the developer's shell exports reaches a test. Every variable a function or the
# runner could read is removed, then the suite's own values are set (.ci/run proves it by
# exporting junk for all of them).
RUNNER_VARIABLES = ("PORT", "DYNAMODB_PORT", "STATE_FILE", "FRESH", "LOG_LEVEL", "RECORD_TO")
for _name in [
    name
    for name in os.environ
    if name.startswith(("AWS_", "POWERTOOLS_", "CDK_"))
    or name in {v.name for v in settings.variables()}
    or name in RUNNER_VARIABLES
]:
    del os.environ[_name]
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        # botocore >= 1.44.4 routes Streams calls to account-id endpoints moto does not serve.
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "POWERTOOLS_SERVICE_NAME": "engagement",
        "POWERTOOLS_METRICS_NAMESPACE": "EngagementScoring",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "ENGAGEMENT_API_KEYS": "test-key-1,test-key-2",
        "ERASURE_HASH_KEY": "test-erasure-key",
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
    }
)
logging.getLogger("werkzeug").setLevel(logging.ERROR)

from engagement.domain import clock as process_clock  # noqa: E402
from engagement.domain.clock import ManualClock  # noqa: E402

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Iterator[ManualClock]:
    """A frozen process clock at NOW; tests advance it explicitly."""
    manual = ManualClock(NOW)
    previous = process_clock.install(manual)
    yield manual
    process_clock.install(previous)


@pytest.fixture(autouse=True)
def _settings_follow_the_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Functions parse their settings once (as in Lambda); a test that changes a variable with
    ``monkeypatch`` gets them parsed again, so no test sees another one's configuration."""
    for name in ("setenv", "delenv"):
        original = getattr(monkeypatch, name)

        def reparsing(*args: object, _original: object = original, **kwargs: object) -> None:
            _original(*args, **kwargs)  # type: ignore[operator]
            settings.reset()

        setattr(monkeypatch, name, reparsing)
    yield
    settings.reset()
