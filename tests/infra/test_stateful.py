"""The stateful stack: tables as TOPOLOGY.tables says, kept whatever happens to the stack; secrets,
queues and topics with the protection each needs."""

from __future__ import annotations

from typing import Any

import pytest

from engagement.topology import TOPOLOGY
from infra.cloud.config import STAGES
from infra.cloud.stateful import STREAM_RETENTION
from tests.infra.cfn import Ref, local_ref, logical_id
from tests.infra.synth import Synthesized

TABLES = {spec.key: spec for spec in TOPOLOGY.tables}

# A changed logical id makes CloudFormation create a new resource and delete the old one: for a
# table that is the event log, for the secret every client's key. Change these only on purpose.
# A new stateful resource fails these tests until it is pinned here too.
PINNED_LOGICAL_IDS = {
    "AWS::DynamoDB::GlobalTable": {
        "EventsTableD24865E5",
        "AggregatesTable0F8EFB12",
        "LinksTable3D7ED15B",
        "HistoryTable24A0CCCB",
        "RunsTable9D121A51",
        # Erasure records must outlive the data they erased: a new table would forget them all.
        "ErasuresTableBD23A317",
    },
    "AWS::SecretsManager::Secret": {
        "ApiKeysSecret5A58C5CD",
        "TelegramWebhookSecret2F3DC73E",
        "TwilioSecretA2B44BC3",
        "VonageSecret2D2D775D",
        "TelnyxSecretB3029E18",
        "PlivoSecret88DE477F",
        "LinkSigningSecret6FCDA02C",
        # The erasure key: a new one would no longer match any erasure record.
        "ErasureKeySecretDCF1C020",
    },
    "AWS::SQS::Queue": {
        "ScorerStreamFailureQueue186CD60D",
        "ScheduleDeadLetterQueue0D6B48D2",
        "SmsEventsTopicDeadLetterQueue91B5EC1C",
    },
    "AWS::SNS::Topic": {"SmsEventsTopic609DB9B5"},
    # Integrations attach their rules to the bus; the archive holds 30 days of its events.
    "AWS::Events::EventBus": {"EngagementEventBusBDB8F0D2"},
    "AWS::Events::Archive": {"EngagementEventBusEngagementEventBusArchiveD1F9AC03"},
}
# Only where the stage creates it (an alarm address and no existing topic): confirmed email
# subscriptions live on it.
PINNED_ALARM_TOPIC = "AlarmTopicD01E77F9"


def _table(synth: Synthesized, key: str) -> dict[str, Any]:
    table_id = logical_id(synth.stacks.stateful.resources.tables[key])
    resource: dict[str, Any] = synth.stateful.to_json()["Resources"][table_id]
    assert resource["Type"] == "AWS::DynamoDB::GlobalTable"
    return resource


def test_stateful_logical_ids_are_pinned(dev: Synthesized, prod: Synthesized) -> None:
    for resource_type, pinned in PINNED_LOGICAL_IDS.items():
        assert set(dev.stateful.find_resources(resource_type)) == pinned, resource_type
        extra = {PINNED_ALARM_TOPIC} if resource_type == "AWS::SNS::Topic" else set()
        assert set(prod.stateful.find_resources(resource_type)) == pinned | extra, resource_type


def test_every_stateful_resource_kind_is_pinned(dev: Synthesized) -> None:
    kinds = {resource["Type"] for resource in dev.stateful.to_json()["Resources"].values()}
    # Policies and subscriptions are attachments, recreated harmlessly; everything else holds state.
    attachments = {"AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy", "AWS::SNS::Subscription"}
    assert kinds - attachments == set(PINNED_LOGICAL_IDS)


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
    indexes = {index["IndexName"]: index for index in props.get("GlobalSecondaryIndexes", [])}
    assert set(indexes) == {index.name for index in spec.indexes}
    types = {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]}
    for index in spec.indexes:
        assert indexes[index.name]["KeySchema"] == [
            {"AttributeName": index.partition_key, "KeyType": "HASH"},
            {"AttributeName": index.sort_key, "KeyType": "RANGE"},
        ]
        assert indexes[index.name]["Projection"] == (
            {"ProjectionType": index.projection}
            if index.projection != "INCLUDE"
            else {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(index.projected)}
        )
        for attribute in (index.partition_key, index.sort_key):
            assert types[attribute] == ("N" if attribute in index.number_keys else "S")


def test_the_bus_is_stateful_and_archived(dev: Synthesized) -> None:
    for spec in TOPOLOGY.buses:
        bus = dev.stacks.stateful.resources.buses[spec.key]
        archives = dev.stateful.find_resources("AWS::Events::Archive")
        (archive,) = archives.values()
        assert local_ref(archive["Properties"]["SourceArn"]) == Ref(logical_id(bus), "Arn")
        assert archive["Properties"]["EventPattern"] == {"source": [spec.source]}


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
        # Stream records live 24 h; the message only points at them, so it must last longer,
        # and longer than the mapping lets a record age before giving it up.
        assert props["MessageRetentionPeriod"] > STREAM_RETENTION.to_seconds()
        assert props["MessageRetentionPeriod"] > mapping.max_record_age_s
        assert props["MessageRetentionPeriod"] == 14 * 24 * 3600


def _queues(synth: Synthesized) -> dict[str, Any]:
    return dict(synth.stateful.find_resources("AWS::SQS::Queue"))


def test_every_queue_is_encrypted_and_refuses_plain_http(dev: Synthesized) -> None:
    policies = dev.stateful.find_resources("AWS::SQS::QueuePolicy").values()
    for queue_id, queue in _queues(dev).items():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True, queue_id
        assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600, queue_id
        (policy,) = [p for p in policies if p["Properties"]["Queues"] == [{"Ref": queue_id}]]
        denies = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
        assert [s["Condition"] for s in denies] == [{"Bool": {"aws:SecureTransport": "false"}}], queue_id


def test_schedule_dead_letters_accept_exactly_the_schedule_rules(dev: Synthesized) -> None:
    queue = dev.stacks.stateful.resources.schedule_dead_letters
    assert queue is not None
    (policy,) = [
        p
        for p in dev.stateful.find_resources("AWS::SQS::QueuePolicy").values()
        if p["Properties"]["Queues"] == [{"Ref": logical_id(queue)}]
    ]
    (allow,) = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "events.amazonaws.com"}
    assert allow["Action"] == "sqs:SendMessage"
    allowed = {join["Fn::Join"][1][-1] for join in allow["Condition"]["ArnEquals"]["aws:SourceArn"]}
    rules = dev.service.find_resources("AWS::Events::Rule").values()
    assert allowed == {f":rule/{rule['Properties']['Name']}" for rule in rules}
    for rule in rules:
        (target,) = rule["Properties"]["Targets"]
        assert dev.exports.ref(target["DeadLetterConfig"]["Arn"]).logical_id == logical_id(queue)


@pytest.mark.parametrize("topic", [t.key for t in TOPOLOGY.topics])
def test_topics_deliver_to_their_function_and_keep_what_fails(dev: Synthesized, topic: str) -> None:
    spec = TOPOLOGY.topic(topic)
    stateful = dev.stacks.stateful.resources
    topic_id = logical_id(stateful.topics[topic])
    dead_letters_id = logical_id(stateful.topic_dead_letters[topic])
    function_id = logical_id(dev.stacks.service.functions[spec.function])
    (subscription,) = [
        s["Properties"]
        for s in dev.service.find_resources("AWS::SNS::Subscription").values()
        if dev.exports.ref(s["Properties"]["TopicArn"]).logical_id == topic_id
    ]
    assert subscription["Protocol"] == "lambda"
    assert subscription["Endpoint"] == {"Fn::GetAtt": [function_id, "Arn"]}
    assert dev.exports.ref(subscription["RedrivePolicy"]["deadLetterTargetArn"]).logical_id == dead_letters_id
    (invoke_config,) = [
        c["Properties"]
        for c in dev.service.find_resources("AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == {"Ref": function_id}
    ]
    destination = invoke_config["DestinationConfig"]["OnFailure"]["Destination"]
    assert dev.exports.ref(destination).logical_id == dead_letters_id


def test_topic_publishers_are_named_services_of_this_account(dev: Synthesized) -> None:
    stateful = dev.stacks.stateful.resources
    for key, topic in stateful.topics.items():
        (policy,) = [
            p["Properties"]["PolicyDocument"]["Statement"]
            for p in dev.stateful.find_resources("AWS::SNS::TopicPolicy").values()
            if p["Properties"]["Topics"] == [{"Ref": logical_id(topic)}]
        ]
        allowed = [s for s in policy if s["Effect"] == "Allow"]
        assert [s["Principal"] for s in allowed] == [
            {"Service": principal} for principal in STAGES["dev"].topic_publishers.get(key, ())
        ]
        for statement in allowed:
            assert statement["Action"] == "sns:Publish"
            assert statement["Condition"] == {
                "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
            }


def test_secrets_are_generated_not_written(dev: Synthesized) -> None:
    for spec in TOPOLOGY.secrets:
        secret = dev.stacks.stateful.resources.secrets[spec.key]
        props = dev.stateful.to_json()["Resources"][logical_id(secret)]["Properties"]
        assert props["Description"] == spec.description
        assert "SecretString" not in props
        # A comma would split the generated key into two keys (the value is a comma-separated list).
        assert props["GenerateSecretString"]["ExcludePunctuation"] is True


def test_secrets_queues_and_topics_are_retained_in_prod(prod: Synthesized) -> None:
    for resource_type in ("AWS::SecretsManager::Secret", "AWS::SQS::Queue", "AWS::SNS::Topic"):
        for resource in prod.stateful.find_resources(resource_type).values():
            assert resource["DeletionPolicy"] == "Retain", resource_type
