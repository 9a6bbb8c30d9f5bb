"""The stateful stack: tables as TOPOLOGY.tables says, kept whatever happens to the stack."""

from __future__ import annotations

from typing import Any

import pytest

from engagement.topology import TOPOLOGY
from tests.infra.cfn import logical_id
from tests.infra.synth import Synthesized

TABLES = {spec.key: spec for spec in TOPOLOGY.tables}

# A changed logical id makes CloudFormation create a new resource and delete the old one: for a
# table that is the event log, for the secret every client's key. Change these only on purpose.
PINNED_LOGICAL_IDS = {
    "AWS::DynamoDB::GlobalTable": {"EventsTableD24865E5", "AggregatesTable0F8EFB12"},
    "AWS::SecretsManager::Secret": {"ApiKeysSecret5A58C5CD", "TelegramWebhookSecret2F3DC73E"},
    "AWS::SQS::Queue": {"ScorerStreamFailureQueue186CD60D"},
}


def _table(synth: Synthesized, key: str) -> dict[str, Any]:
    table_id = logical_id(synth.stacks.stateful.resources.tables[key])
    resource: dict[str, Any] = synth.stateful.to_json()["Resources"][table_id]
    assert resource["Type"] == "AWS::DynamoDB::GlobalTable"
    return resource


def test_stateful_logical_ids_are_pinned(dev: Synthesized) -> None:
    for resource_type, pinned in PINNED_LOGICAL_IDS.items():
        assert set(dev.stateful.find_resources(resource_type)) == pinned, resource_type


def test_stateful_stack_is_termination_protected(dev: Synthesized, prod: Synthesized) -> None:
    assert dev.stacks.stateful.termination_protection
    assert prod.stacks.stateful.termination_protection


@pytest.mark.parametrize("key", TABLES)
def test_table_matches_its_spec(dev: Synthesized, key: str) -> None:
    spec = TABLES[key]
    table = _table(dev, key)
    props = table["Properties"]
    expected_keys = [{"AttributeName": spec.partition_key, "KeyType": "HASH"}]
    if spec.sort_key:
        expected_keys.append({"AttributeName": spec.sort_key, "KeyType": "RANGE"})
    assert props["KeySchema"] == expected_keys
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props.get("StreamSpecification", {}).get("StreamViewType") == spec.stream
    if spec.ttl_attribute:
        assert props["TimeToLiveSpecification"] == {"AttributeName": spec.ttl_attribute, "Enabled": True}
    else:
        assert "TimeToLiveSpecification" not in props
    assert props["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS"}
    (replica,) = props["Replicas"]
    assert replica["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


@pytest.mark.parametrize("key", TABLES)
def test_tables_are_retained_in_every_stage(dev: Synthesized, prod: Synthesized, key: str) -> None:
    for synth in (dev, prod):
        table = _table(synth, key)
        assert table["DeletionPolicy"] == "Retain"
        assert table["UpdateReplacePolicy"] == "Retain"


@pytest.mark.parametrize("key", TABLES)
def test_deletion_protection_only_in_prod(dev: Synthesized, prod: Synthesized, key: str) -> None:
    (dev_replica,) = _table(dev, key)["Properties"]["Replicas"]
    (prod_replica,) = _table(prod, key)["Properties"]["Replicas"]
    assert dev_replica["DeletionProtectionEnabled"] is False
    assert prod_replica["DeletionProtectionEnabled"] is True


def test_failure_queue_outlives_the_stream(dev: Synthesized) -> None:
    for mapping in TOPOLOGY.stream_mappings:
        queue = dev.stacks.stateful.resources.failure_queues[mapping.function]
        props = dev.stateful.to_json()["Resources"][logical_id(queue)]["Properties"]
        # Stream records live 24 h; the message only points at them, so it must last longer.
        assert props["MessageRetentionPeriod"] == 14 * 24 * 3600
        assert props["SqsManagedSseEnabled"] is True


def test_secrets_are_generated_not_written(dev: Synthesized) -> None:
    for spec in TOPOLOGY.secrets:
        secret = dev.stacks.stateful.resources.secrets[spec.key]
        props = dev.stateful.to_json()["Resources"][logical_id(secret)]["Properties"]
        assert props["Description"] == spec.description
        assert "SecretString" not in props
        # A comma would split the generated key into two keys (the value is a comma-separated list).
        assert props["GenerateSecretString"]["ExcludePunctuation"] is True


def test_secret_and_queue_are_retained_in_prod(prod: Synthesized) -> None:
    for resource_type in ("AWS::SecretsManager::Secret", "AWS::SQS::Queue"):
        for resource in prod.stateful.find_resources(resource_type).values():
            assert resource["DeletionPolicy"] == "Retain", resource_type
