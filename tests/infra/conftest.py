"""Synthesize each stage once per session: jsii starts a Node process, so synthesis is the slow part.

Three variants cover the alarm wiring: dev with no topic (alarms unwired), prod creating a topic
for an address, and dev sending to an existing topic given by ARN.
"""

from __future__ import annotations

import pytest

from tests.infra.synth import Synthesized, synthesize

ONCALL_EMAIL = "oncall@example.com"
EXISTING_TOPIC_ARN = "arn:aws:sns:eu-west-1:123456789012:oncall"
VARIANTS = ("dev", "prod", "existing_topic")
"""Fixture names of every synthesized variant, for tests that hold for all of them."""


@pytest.fixture(scope="session")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(str(tmp_path_factory.mktemp("cdk-dev")), {})


@pytest.fixture(scope="session")
def prod(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(
        str(tmp_path_factory.mktemp("cdk-prod")), {"stage": "prod", "alarm_email": ONCALL_EMAIL}
    )


@pytest.fixture(scope="session")
def existing_topic(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(
        str(tmp_path_factory.mktemp("cdk-existing-topic")), {"alarm_topic_arn": EXISTING_TOPIC_ARN}
    )


@pytest.fixture(params=VARIANTS)
def synthesized(request: pytest.FixtureRequest) -> Synthesized:
    """Each variant in turn."""
    found: Synthesized = request.getfixturevalue(request.param)
    return found
