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
