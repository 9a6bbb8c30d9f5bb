"""cdk-nag AwsSolutions on the app exactly as ``cdk synth`` builds it: zero unacknowledged
findings, and every acknowledgement specific, narrow and still needed.

The only test that synthesizes with the checks attached (an unacknowledged finding makes synthesis
raise, which would take every fine-grained template test down with it).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, CfnResource, Validations
from constructs import IConstruct

from infra.cloud.app import checked_app
from tests.infra.conftest import EXISTING_TOPIC_ARN, ONCALL_EMAIL

# What may be acknowledged at all. A new kind of finding is a decision for review, not something
# to wave through: it fails here until it is fixed or added with its reason in the code.
ACKNOWLEDGEABLE = {
    "AwsSolutions::AwsSolutions-APIG4",  # routes authorize in the function (bearer key, signature)
    "AwsSolutions::AwsSolutions-IAM5[Resource::*]",  # X-Ray has no resource-level permissions
    "AwsSolutions::AwsSolutions-L1",  # the runtime moves with the Powertools layer
    "AwsSolutions::AwsSolutions-SMG4",  # rotation needs the other side updated too
    "AwsSolutions::AwsSolutions-SQS3",  # these queues are themselves dead-letter queues
}
# The job state machines' own wildcards, by shape: the Lambda task's grant on the function's
# versions, and the distributed map's hold on the child executions it starts.
ACKNOWLEDGEABLE_SHAPES = (
    re.compile(r"AwsSolutions::AwsSolutions-IAM5\[Resource::<\w+Function\w+\.Arn>:\*\]"),
    re.compile(
        r"AwsSolutions::AwsSolutions-IAM5\[Resource::arn:<AWS::Partition>:states:<AWS::Region>:"
        r'<AWS::AccountId>:execution:\{"Fn::Select":\[6,\{"Fn::Split":\[":",\{"Ref":"\w+JobStateMachine\w+"'
        r"\}\]\}\]\}(/\*)?:\*\]"
    ),
)
MIN_REASON_LENGTH = 80


def _acknowledgeable(rule: str) -> bool:
    return rule in ACKNOWLEDGEABLE or any(shape.fullmatch(rule) for shape in ACKNOWLEDGEABLE_SHAPES)


CONTEXTS = {
    "dev": {},
    "prod": {"stage": "prod", "alarm_email": ONCALL_EMAIL},
    "existing_topic": {"alarm_topic_arn": EXISTING_TOPIC_ARN},
}


def _acknowledgements(app: App) -> dict[tuple[str, str], tuple[IConstruct, str]]:
    """(construct path, acknowledged id) -> (construct, reason), for every acknowledgement."""
    found = {}
    for construct in app.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                for rule, reason in dict(entry.data).items():
                    found[(construct.node.path, rule)] = (construct, str(reason))
    return found


def _is_one_resource(construct: IConstruct) -> bool:
    """A CloudFormation resource, or the L2 construct wrapping exactly one."""
    return isinstance(construct, CfnResource) or isinstance(construct.node.default_child, CfnResource)


def _report(outdir: Path) -> dict[str, Any]:
    (plugin,) = json.loads((outdir / "validation-report.json").read_text(encoding="utf-8"))["pluginReports"]
    report: dict[str, Any] = plugin
    return report


@pytest.mark.parametrize("variant", CONTEXTS)
def test_app_synthesizes_with_no_unacknowledged_finding(tmp_path: Path, variant: str) -> None:
    app = checked_app(outdir=str(tmp_path), context=CONTEXTS[variant])
    app.synth()  # raises on any unacknowledged finding

    report = _report(tmp_path)
    assert report["pluginName"] == "AwsSolutions"
    assert report["conclusion"] == "success"
    assert report["violations"] == []

    acknowledgements = _acknowledgements(app)
    assert acknowledgements
    for (path, rule), (construct, reason) in acknowledgements.items():
        assert _acknowledgeable(rule), (path, rule)
        assert len(reason.strip()) >= MIN_REASON_LENGTH, (path, rule, reason)
        # The narrowest scope: one resource, never a stack, the app or a group of resources.
        assert _is_one_resource(construct), (path, rule)

    used = {
        (finding["acknowledgedAt"], finding["acknowledgedId"]) for finding in report["suppressedViolations"]
    }
    stale = set(acknowledgements) - used
    assert not stale, f"acknowledged but never found (remove them): {sorted(stale)}"
