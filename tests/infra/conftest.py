"""Synthesize each stage once per session: jsii starts a Node process, so synthesis is the slow part."""

from __future__ import annotations

import pytest

from tests.infra.synth import Synthesized, synthesize


@pytest.fixture(scope="session")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(str(tmp_path_factory.mktemp("cdk-dev")), {})


@pytest.fixture(scope="session")
def prod(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(
        str(tmp_path_factory.mktemp("cdk-prod")), {"stage": "prod", "alarm_email": "oncall@example.com"}
    )
