"""Reading synthesized templates: who references whom, across the two stacks.

The service stack sees stateful resources only as ``Fn::ImportValue`` of an export; these
helpers follow an import back to the stateful resource's logical id, so tests can say "this
policy statement is about the events table" instead of matching opaque export names.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from aws_cdk import CfnElement, Stack
from aws_cdk.assertions import Template
from constructs import IConstruct


def logical_id(construct: IConstruct) -> str:
    """The logical id of an L2 construct's CloudFormation resource."""
    child = construct.node.default_child
    assert isinstance(child, CfnElement), construct.node.path
    return Stack.of(construct).get_logical_id(child)


def resources(template: Template, resource_type: str) -> dict[str, Any]:
    return dict(template.find_resources(resource_type))


@dataclass(frozen=True)
class Ref:
    """A resolved reference to a resource: ``attribute`` is None for ``Ref``, else the ``GetAtt``."""

    logical_id: str
    attribute: str | None = None


class Exports:
    """The stateful stack's exports, by export name."""

    def __init__(self, stateful: Template, stateful_stack_name: str) -> None:
        self._by_name: dict[str, Ref] = {}
        for output_id, output in stateful.to_json().get("Outputs", {}).items():
            export = output.get("Export")
            if export is None:
                continue
            name = export["Name"]
            assert name == f"{stateful_stack_name}:{output_id}", name
            self._by_name[name] = _as_ref(output["Value"])

    def refs_in(self, value: Any) -> set[Ref]:
        """Every stateful resource ``value`` points at, through imports, joins and nesting."""
        return {self._by_name[name] for name in _imports(value)}

    def ref(self, value: Any) -> Ref:
        (found,) = self.refs_in(value)
        return found


def local_ref(value: Any) -> Ref:
    """A same-stack ``Ref``/``GetAtt``."""
    return _as_ref(value)


def _as_ref(value: Any) -> Ref:
    if isinstance(value, dict) and "Ref" in value:
        return Ref(value["Ref"])
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        target, attribute = value["Fn::GetAtt"]
        return Ref(target, attribute)
    raise AssertionError(f"not a Ref or GetAtt: {value!r}")


def _imports(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        if "Fn::ImportValue" in value:
            yield value["Fn::ImportValue"]
            return
        for nested in value.values():
            yield from _imports(nested)
    elif isinstance(value, list):
        for nested in value:
            yield from _imports(nested)


def as_list(value: Any) -> list[Any]:
    """IAM allows a single action or resource where a list is expected."""
    return value if isinstance(value, list) else [value]


def role_statements(template: Template, role_logical_id: str) -> list[dict[str, Any]]:
    """Every statement of every ``AWS::IAM::Policy`` attached to the role."""
    statements: list[dict[str, Any]] = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        roles = policy["Properties"].get("Roles", [])
        if {"Ref": role_logical_id} in roles:
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements
