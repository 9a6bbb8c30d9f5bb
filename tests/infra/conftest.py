"""Synthesize each stage once per session: jsii starts a Node process, so synthesis is the slow part.

Three variants cover the alarm wiring: dev with no topic (alarms unwired), prod creating a topic
for an address, and dev sending to an existing topic given by ARN.
"""

from __future__ import annotations

import json

import pytest

from infra.cloud.config import CDK_JSON
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


STAGE_SETTINGS = {"EVENT_RETENTION_DAYS": "30"}
"""What the existing-topic variant's stage overrides in cdk.json's ``settings`` block."""


@pytest.fixture(scope="session")
def existing_topic(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    stages = json.loads(CDK_JSON.read_text(encoding="utf-8"))["context"]["stages"]
    stages["dev"]["settings"] = STAGE_SETTINGS
    return synthesize(
        str(tmp_path_factory.mktemp("cdk-existing-topic")),
        {"alarm_topic_arn": EXISTING_TOPIC_ARN, "stages": stages},
    )


@pytest.fixture(params=VARIANTS)
def synthesized(request: pytest.FixtureRequest) -> Synthesized:
    """Each variant in turn."""
    found: Synthesized = request.getfixturevalue(request.param)
    return found
