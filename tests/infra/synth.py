"""One synthesized stage: both stacks, their templates, the stateful stack's exports, the assembly."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import App
from aws_cdk.assertions import Template

from infra.cloud.app import EngagementStacks, build
from infra.cloud.config import stage_from_context
from tests.infra.cfn import Exports


@dataclass(frozen=True)
class Synthesized:
    stacks: EngagementStacks
    stateful: Template
    service: Template
    exports: Exports
    outdir: Path
    """The cloud assembly: templates and staged assets, as ``cdk synth`` writes them."""

    def templates(self) -> list[Path]:
        return sorted(self.outdir.glob("*.template.json"))


def synthesize(outdir: str, context: dict[str, str]) -> Synthesized:
    # Context as the CLI passes it, so the stage is read the way `cdk synth -c ...` reads it.
    app = App(outdir=outdir, context=context)
    stacks = build(app, stage_from_context(app.node))
    # Template.from_stack synthesizes the whole app into outdir (templates and assets).
    stateful = Template.from_stack(stacks.stateful)
    return Synthesized(
        stacks=stacks,
        stateful=stateful,
        service=Template.from_stack(stacks.service),
        exports=Exports(stateful, stacks.stateful.stack_name),
        outdir=Path(outdir),
    )
