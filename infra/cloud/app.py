"""The CDK app: ``python -m infra.cloud.app`` (or ``cdk synth -c stage=prod``).

Importing this module builds nothing; ``build`` puts both stacks of one stage into an app,
which is what ``main`` and the infra tests both call.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import App, Tags

from engagement.topology import SERVICE_NAME, TOPOLOGY, Topology
from infra.cloud.config import StageConfig, stage_from_context
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
    stateful = StatefulStack(app, f"engagement-{stage.name}-stateful", stage=stage, topology=topology)
    service = ServiceStack(
        app,
        f"engagement-{stage.name}-service",
        stage=stage,
        topology=topology,
        data=stateful.resources,
        functions_dir=FUNCTIONS_DIR,
    )
    for stack in (stateful, service):
        Tags.of(stack).add("service", SERVICE_NAME)
        Tags.of(stack).add("stage", stage.name)
    return EngagementStacks(stateful=stateful, service=service)


def main() -> None:
    # The CDK CLI passes its output directory in CDK_OUTDIR; run directly, write to ./cdk.out
    # like the CLI would instead of a temporary directory.
    outdir = None if os.environ.get("CDK_OUTDIR") else str(REPO_ROOT / "cdk.out")
    app = App(outdir=outdir)
    build(app, stage_from_context(app.node))
    app.synth()


if __name__ == "__main__":
    main()
