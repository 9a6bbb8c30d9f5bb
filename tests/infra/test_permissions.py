"""Each function's role reaches only the tables, streams, secrets and queues its spec names.

Computed from the AWS::IAM::Policy resources attached to each function's role, with every
resource followed back to the stateful resource it is, so a grant on the wrong table (or on
``*``) fails even when the action list looks right.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from engagement.topology import TOPOLOGY
from tests.infra.cfn import Ref, as_list, local_ref, logical_id, role_statements
from tests.infra.synth import Synthesized

READS = {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan"}
WRITES = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}
STREAM_READS = {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"}

SPECS = {spec.name: spec for spec in TOPOLOGY.functions}


def _grants(dev: Synthesized, function_name: str) -> dict[Ref | str, set[str]]:
    """Resource (a stateful ``Ref``, or the literal string) -> allowed actions."""
    function = dev.stacks.service.functions[function_name]
    props = dev.service.to_json()["Resources"][logical_id(function)]["Properties"]
    grants: dict[Ref | str, set[str]] = defaultdict(set)
    for statement in role_statements(dev.service, local_ref(props["Role"]).logical_id):
        assert statement["Effect"] == "Allow"
        actions = set(as_list(statement["Action"]))
        for resource in as_list(statement["Resource"]):
            refs = dev.exports.refs_in(resource)
            if isinstance(resource, str):
                grants[resource] |= actions
            else:
                assert refs, f"{function_name}: grant on a resource outside the stateful stack: {resource}"
                for ref in refs:
                    grants[ref] |= actions
    return grants


def _dynamodb_by_table(dev: Synthesized, function_name: str) -> dict[tuple[str, str], set[str]]:
    """(table key, "table" | "stream") -> DynamoDB actions granted on it."""
    table_of = {logical_id(table): key for key, table in dev.stacks.stateful.resources.tables.items()}
    found: dict[tuple[str, str], set[str]] = {}
    for resource, actions in _grants(dev, function_name).items():
        dynamodb = {action for action in actions if action.startswith("dynamodb:")}
        if not dynamodb:
            continue
        assert isinstance(resource, Ref), f"{function_name}: {sorted(dynamodb)} on {resource!r}"
        kind = "stream" if resource.attribute == "StreamArn" else "table"
        found.setdefault((table_of[resource.logical_id], kind), set()).update(dynamodb)
    return found


@pytest.mark.parametrize("name", SPECS)
def test_table_grants_are_exactly_the_actions_the_spec_names(dev: Synthesized, name: str) -> None:
    spec = SPECS[name]
    granted = _dynamodb_by_table(dev, name)
    assert {key for key, kind in granted if kind == "table"} == set(spec.tables)
    for key, actions in spec.tables.items():
        assert granted[(key, "table")] == {f"dynamodb:{action}" for action in actions}


@pytest.mark.parametrize("name", SPECS)
def test_only_stream_consumers_read_streams(dev: Synthesized, name: str) -> None:
    granted = _dynamodb_by_table(dev, name)
    streams = {key for key, kind in granted if kind == "stream"}
    assert streams == {m.table for m in TOPOLOGY.stream_mappings if m.function == name}
    for key in streams:
        assert granted[(key, "stream")] <= STREAM_READS | {"dynamodb:ListStreams"}
        assert granted[(key, "stream")] >= STREAM_READS


@pytest.mark.parametrize("name", SPECS)
def test_secret_and_queue_grants_follow_the_spec(dev: Synthesized, name: str) -> None:
    stateful = dev.stacks.stateful.resources
    grants = _grants(dev, name)

    def granted(service: str) -> set[str]:
        found = set()
        for resource, actions in grants.items():
            if any(action.startswith(f"{service}:") for action in actions):
                assert isinstance(resource, Ref), f"{name}: {service} on {resource!r}"
                found.add(resource.logical_id)
        return found

    secrets, queues = granted("secretsmanager"), granted("sqs")
    assert secrets == {logical_id(stateful.secrets[key]) for key in SPECS[name].secrets}
    assert queues == {
        logical_id(stateful.failure_queues[m.function])
        for m in TOPOLOGY.stream_mappings
        if m.function == name
    }


def test_query_cannot_write_anywhere(dev: Synthesized) -> None:
    actions = set().union(*_grants(dev, "query").values())
    assert not actions & WRITES


def test_ingest_cannot_touch_aggregates(dev: Synthesized) -> None:
    assert {key for key, _ in _dynamodb_by_table(dev, "ingest")} == {"events"}


def test_no_wildcard_grants_beyond_tracing(dev: Synthesized) -> None:
    for name in SPECS:
        wildcard = _grants(dev, name).get("*", set())
        assert wildcard <= {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}, name
