"""cdk-nag v3: attaching the AwsSolutions checks, and acknowledging a finding where it arises.

Acknowledgements are made by the construct that creates the resource, on that resource only,
so the reason sits next to the code it excuses and a new resource of the same kind is checked
afresh. ``cdk_nag`` itself is imported only by ``attach_checks`` (its jsii assembly takes a
moment to load), so building the stacks for fine-grained tests does not pay for it.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Stage, Validations
from constructs import IConstruct

PACK = "AwsSolutions"


def attach_checks(stage: Stage) -> None:
    """Run the AwsSolutions pack on every synthesis of ``stage``; an unacknowledged finding then
    makes ``synth()`` raise (and ``cdk synth`` fail), with the report in the cloud assembly."""
    from cdk_nag import AwsSolutionsChecks  # noqa: PLC0415

    Validations.of(stage).add_plugins(AwsSolutionsChecks(stage, verbose=True))


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Accept finding ``rule`` (e.g. ``AwsSolutions-IAM5[Resource::*]``) on ``scope`` and below.

    aws-cdk-lib files an id without a ``Pack::`` prefix under ``Annotation::``, where the plugin
    never looks, so the prefix is added here rather than at every call site.
    """
    if not reason.strip():
        raise ValueError(f"acknowledging {rule} on {scope.node.path} needs a reason")
    if not rule.startswith(f"{PACK}-"):
        raise ValueError(f"{rule!r} is not an {PACK} rule id")
    Validations.of(scope).acknowledge(Acknowledgment(id=f"{PACK}::{rule}", reason=reason))
