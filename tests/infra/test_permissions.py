"""Each function's role reaches only the tables, streams, secrets, queues and logs its spec implies.

Computed from the AWS::IAM::Policy resources attached to each function's role, with every
resource followed back to the resource it is (a stateful one through its export, or one of the
service stack's own), so a grant on the wrong table (or on ``*``) fails even when the action
list looks right. ``test_every_grant_is_one_the_spec_implies`` is the whole proof: it derives
every (resource, action) a function needs from the topology and requires the role to hold
exactly that set, nothing more.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import pytest

from engagement.topology import TOPOLOGY
from tests.infra.cfn import Ref, as_list, local_ref, logical_id, role_statements
from tests.infra.synth import Synthesized

READS = {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan"}
WRITES = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}
STREAM_READS = {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"}
LIST_STREAMS = "dynamodb:ListStreams"
# What CDK's queue binding grants for an on-failure destination: send, plus metadata of that queue.
QUEUE_SEND = {"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"}
# What a function watching a failure queue may do with it: read its depth, nothing more.
QUEUE_DEPTH = {"sqs:GetQueueAttributes"}
LOG_WRITES = {"logs:CreateLogStream", "logs:PutLogEvents"}
TRACING = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}

SPECS = {spec.name: spec for spec in TOPOLOGY.functions}


@dataclass(frozen=True)
class Local:
    """A resource of the service stack itself."""

    logical_id: str


@dataclass(frozen=True)
class Index:
    """One global secondary index of a stateful table."""

    table: Ref
    name: str


Resource = Ref | Local | Index | str


def _index_of(resource: Any, refs: set[Ref]) -> Index | None:
    """``{"Fn::Join": ["", [<table arn>, "/index/<name>"]]}`` as the index it names."""
    parts = resource.get("Fn::Join", [None, []])[1] if isinstance(resource, dict) else []
    suffix = parts[-1] if parts and isinstance(parts[-1], str) else ""
    if not suffix.startswith("/index/") or len(refs) != 1:
        return None
    assert "*" not in suffix, f"an index wildcard: {suffix}"
    return Index(next(iter(refs)), suffix.removeprefix("/index/"))


def _props(dev: Synthesized, function_name: str) -> dict[str, Any]:
    function = dev.stacks.service.functions[function_name]
    props: dict[str, Any] = dev.service.to_json()["Resources"][logical_id(function)]["Properties"]
    return props


def _grants(dev: Synthesized, function_name: str) -> dict[Resource, set[str]]:
    """Resource -> allowed actions, over every statement of the function's role."""
    grants: dict[Resource, set[str]] = defaultdict(set)
    for statement in role_statements(dev.service, local_ref(_props(dev, function_name)["Role"]).logical_id):
        assert statement["Effect"] == "Allow"
        assert "NotAction" not in statement
        assert "NotResource" not in statement
        actions = set(as_list(statement["Action"]))
        assert not any("*" in action for action in actions), f"{function_name}: wildcard action {actions}"
        for resource in as_list(statement["Resource"]):
            if isinstance(resource, str):
                grants[resource] |= actions
                continue
            refs = dev.exports.refs_in(resource)
            index = _index_of(resource, refs)
            if index is not None:
                grants[index] |= actions
            elif refs:
                for ref in refs:
                    grants[ref] |= actions
            else:
                grants[Local(local_ref(resource).logical_id)] |= actions
    return grants


def _expected(dev: Synthesized, function_name: str) -> dict[Resource, set[str]]:
    """Every grant the topology implies for the function, and nothing else."""
    spec = SPECS[function_name]
    stateful = dev.stacks.stateful.resources
    expected: dict[Resource, set[str]] = defaultdict(set)
    for key, actions in spec.tables.items():
        if actions:
            expected[Ref(logical_id(stateful.tables[key]), "Arn")] |= {f"dynamodb:{a}" for a in actions}
    for key, indexes in spec.indexes.items():
        for index in indexes:
            expected[Index(Ref(logical_id(stateful.tables[key]), "Arn"), index)] |= {"dynamodb:Query"}
    for bus in TOPOLOGY.buses:
        if function_name in bus.publishers:
            expected[Ref(logical_id(stateful.buses[bus.key]), "Arn")] |= {"events:PutEvents"}
    for key in spec.secrets:
        expected[Ref(logical_id(stateful.secrets[key]))] |= {"secretsmanager:GetSecretValue"}
    for consumer in spec.failure_queues:
        expected[Ref(logical_id(stateful.failure_queues[consumer]), "Arn")] |= QUEUE_DEPTH
    for mapping in TOPOLOGY.stream_mappings:
        if mapping.function == function_name:
            stream = Ref(logical_id(stateful.tables[mapping.table]), "StreamArn")
            expected[stream] |= STREAM_READS | {LIST_STREAMS}
            expected[Ref(logical_id(stateful.failure_queues[function_name]), "Arn")] |= QUEUE_SEND
    for topic in TOPOLOGY.topics:
        if topic.function == function_name:
            expected[Ref(logical_id(stateful.topic_dead_letters[topic.key]), "Arn")] |= QUEUE_SEND
    log_group = local_ref(_props(dev, function_name)["LoggingConfig"]["LogGroup"]).logical_id
    expected[Local(log_group)] |= LOG_WRITES
    expected["*"] |= TRACING
    return dict(expected)


@pytest.mark.parametrize("name", SPECS)
def test_every_grant_is_one_the_spec_implies(dev: Synthesized, name: str) -> None:
    assert dict(_grants(dev, name)) == _expected(dev, name)


def _dynamodb_by_table(dev: Synthesized, function_name: str) -> dict[tuple[str, str], set[str]]:
    """(table key, "table" | "stream" | "index:<name>") -> DynamoDB actions granted on it."""
    table_of = {logical_id(table): key for key, table in dev.stacks.stateful.resources.tables.items()}
    found: dict[tuple[str, str], set[str]] = {}
    for resource, actions in _grants(dev, function_name).items():
        dynamodb = {action for action in actions if action.startswith("dynamodb:")}
        if not dynamodb:
            continue
        if isinstance(resource, Index):
            found.setdefault((table_of[resource.table.logical_id], f"index:{resource.name}"), set()).update(
                dynamodb
            )
            continue
        assert isinstance(resource, Ref), f"{function_name}: {sorted(dynamodb)} on {resource!r}"
        kind = "stream" if resource.attribute == "StreamArn" else "table"
        found.setdefault((table_of[resource.logical_id], kind), set()).update(dynamodb)
    return found


@pytest.mark.parametrize("name", SPECS)
def test_table_grants_are_exactly_the_actions_the_spec_names(dev: Synthesized, name: str) -> None:
    spec = SPECS[name]
    granted = _dynamodb_by_table(dev, name)
    assert {key for key, kind in granted if kind == "table"} == {k for k, a in spec.tables.items() if a}
    for key, actions in spec.tables.items():
        assert granted.get((key, "table"), set()) == {f"dynamodb:{action}" for action in actions}
    indexes = {(key, f"index:{index}") for key, names in spec.indexes.items() for index in names}
    assert {(key, kind) for key, kind in granted if kind.startswith("index:")} == indexes
    assert all(granted[index] == {"dynamodb:Query"} for index in indexes)


@pytest.mark.parametrize("name", SPECS)
def test_only_stream_consumers_read_streams(dev: Synthesized, name: str) -> None:
    granted = _dynamodb_by_table(dev, name)
    streams = {key for key, kind in granted if kind == "stream"}
    assert streams == {m.table for m in TOPOLOGY.stream_mappings if m.function == name}
    for key in streams:
        assert granted[(key, "stream")] == STREAM_READS | {LIST_STREAMS}


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

    assert granted("secretsmanager") == {logical_id(stateful.secrets[key]) for key in SPECS[name].secrets}
    assert granted("sqs") == {
        logical_id(stateful.failure_queues[m.function])
        for m in TOPOLOGY.stream_mappings
        if m.function == name
    } | {logical_id(stateful.topic_dead_letters[t.key]) for t in TOPOLOGY.topics if t.function == name} | {
        logical_id(stateful.failure_queues[consumer]) for consumer in SPECS[name].failure_queues
    }


@pytest.mark.parametrize("name", [spec.name for spec in TOPOLOGY.functions if spec.failure_queues])
def test_a_function_watching_a_failure_queue_can_only_read_its_depth(dev: Synthesized, name: str) -> None:
    stateful = dev.stacks.stateful.resources
    for consumer in SPECS[name].failure_queues:
        queue = Ref(logical_id(stateful.failure_queues[consumer]), "Arn")
        assert _grants(dev, name)[queue] == QUEUE_DEPTH


@pytest.mark.parametrize("name", SPECS)
def test_function_writes_only_its_own_logs(dev: Synthesized, name: str) -> None:
    log_group = local_ref(_props(dev, name)["LoggingConfig"]["LogGroup"]).logical_id
    logs = {
        resource: actions
        for resource, actions in _grants(dev, name).items()
        if any(action.startswith("logs:") for action in actions)
    }
    assert logs == {Local(log_group): LOG_WRITES}


def test_roles_carry_no_managed_policies(dev: Synthesized) -> None:
    # AWSLambdaBasicExecutionRole would let every function write to every log group.
    for name in SPECS:
        role_id = local_ref(_props(dev, name)["Role"]).logical_id
        role = dev.service.to_json()["Resources"][role_id]["Properties"]
        assert "ManagedPolicyArns" not in role, name
        assert role["AssumeRolePolicyDocument"]["Statement"] == [
            {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}
        ]


def test_query_cannot_write_anywhere(dev: Synthesized) -> None:
    actions = set().union(*_grants(dev, "query").values())
    assert not actions & WRITES


def test_ingest_cannot_touch_aggregates(dev: Synthesized) -> None:
    # The events it stores, and the erasure records it checks them against: nothing else.
    grants = _dynamodb_by_table(dev, "ingest")
    assert {key for key, _ in grants} == {"events", "erasures"}
    assert grants[("erasures", "table")] == {"dynamodb:BatchGetItem"}


def test_no_wildcard_grants_beyond_tracing(dev: Synthesized) -> None:
    for name in SPECS:
        wildcard = _grants(dev, name).get("*", set())
        assert wildcard <= TRACING, name
