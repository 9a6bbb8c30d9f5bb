"""cfn-lint on every synthesized template: zero errors (warnings are CDK's own noise, e.g. W3005)."""

from __future__ import annotations

from cfnlint.api import ManualArgs, lint_file

from tests.infra.synth import Synthesized

# The Regions the service is expected to run in; resource specs differ slightly per Region.
REGIONS = ["us-east-1", "eu-west-1"]


def test_templates_have_no_cfn_lint_errors(synthesized: Synthesized) -> None:
    templates = synthesized.templates()
    assert len(templates) == 2
    for template in templates:
        matches = lint_file(template, ManualArgs(regions=REGIONS))
        errors = [f"{m.rule.id} {m.path}: {m.message}" for m in matches if m.rule.id.startswith("E")]
        assert not errors, f"{template.name}:\n" + "\n".join(errors)
