"""The CDK app: ``python -m infra.cloud.app`` (or ``cdk synth -c stage=prod``).

Importing this module builds nothing; ``build`` puts both stacks of one stage into an app,
which is what ``main`` and the infra tests both call. ``main`` also attaches the cdk-nag
AwsSolutions checks, so every ``cdk synth``/``deploy`` fails on an unacknowledged finding; the
fine-grained template tests build without them and one dedicated test synthesizes with them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import App, Tags

from engagement.topology import SERVICE_NAME, TOPOLOGY, Topology
from infra.cloud.config import StageConfig, stage_from_context
from infra.cloud.nag import attach_checks
from infra.cloud.service import ServiceStack
from infra.cloud.stateful import StatefulStack

REPO_ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = REPO_ROOT / "functions"


@dataclass(frozen=True)
class EngagementStacks:
    stateful: StatefulStack
    service: ServiceStack


def build(app: App, stage: StageConfig, *, topology: Topology = TOPOLOGY) -> EngagementStacks:
    """Both stacks of one stage. Environment-agnostic on purpose: no lookups, so synthesis works
    offline and the account and Region come from the credentials used to deploy."""
    service_name = f"engagement-{stage.name}-service"
    stateful = StatefulStack(
        app,
        f"engagement-{stage.name}-stateful",
        stage=stage,
        topology=topology,
        service_stack_name=service_name,
    )
    service = ServiceStack(
        app,
        service_name,
        stage=stage,
        topology=topology,
        data=stateful.resources,
        functions_dir=FUNCTIONS_DIR,
    )
    for stack in (stateful, service):
        Tags.of(stack).add("service", SERVICE_NAME)
        Tags.of(stack).add("stage", stage.name)
    return EngagementStacks(stateful=stateful, service=service)


def checked_app(*, outdir: str | None = None, context: Mapping[str, Any] | None = None) -> App:
    """The app as ``cdk synth`` builds it: the stage from context, with the cdk-nag checks on."""
    app = App(outdir=outdir, context=dict(context) if context is not None else None)
    build(app, stage_from_context(app.node))
    attach_checks(app)
    return app


def main() -> None:
    # The CDK CLI passes its output directory in CDK_OUTDIR; run directly, write to ./cdk.out
    # like the CLI would instead of a temporary directory.
    outdir = None if os.environ.get("CDK_OUTDIR") else str(REPO_ROOT / "cdk.out")
    checked_app(outdir=outdir).synth()


if __name__ == "__main__":
    main()
