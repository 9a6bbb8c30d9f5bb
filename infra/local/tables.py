"""Create the topology's tables on a DynamoDB endpoint (the local runner's moto server, tests)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from engagement.topology import TOPOLOGY, IndexSpec, TableSpec

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeDefinitionTypeDef, KeySchemaElementTypeDef


def table_name(spec: TableSpec, prefix: str) -> str:
    return f"{prefix}-{spec.key}"


def table_environment(prefix: str) -> dict[str, str]:
    """The variables a function reads its table names from, as the stack would set them."""
    return {spec.env_var: table_name(spec, prefix) for spec in TOPOLOGY.tables}


def create_tables(client: DynamoDBClient, prefix: str) -> dict[str, str]:
    """Create every table (stream and TTL as declared); returns table key -> physical name."""
    names: dict[str, str] = {}
    for spec in TOPOLOGY.tables:
        name = table_name(spec, prefix)
        keys: list[KeySchemaElementTypeDef] = [{"AttributeName": spec.partition_key, "KeyType": "HASH"}]
        attributes: list[AttributeDefinitionTypeDef] = [
            {"AttributeName": spec.partition_key, "AttributeType": "S"}
        ]
        if spec.sort_key:
            keys.append({"AttributeName": spec.sort_key, "KeyType": "RANGE"})
            attributes.append({"AttributeName": spec.sort_key, "AttributeType": "S"})
        options: dict[str, Any] = {}
        if spec.stream:
            options["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": spec.stream}
        if spec.indexes:
            options["GlobalSecondaryIndexes"] = [_index(index) for index in spec.indexes]
            declared = {a["AttributeName"] for a in attributes}
            for index in spec.indexes:
                for attribute in (index.partition_key, index.sort_key):
                    if attribute not in declared:
                        declared.add(attribute)
                        kind: Literal["N", "S"] = "N" if attribute in index.number_keys else "S"
                        attributes.append({"AttributeName": attribute, "AttributeType": kind})
        client.create_table(
            TableName=name,
            KeySchema=keys,
            AttributeDefinitions=attributes,
            BillingMode="PAY_PER_REQUEST",
            **options,
        )
        if spec.ttl_attribute:
            client.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute},
            )
        names[spec.key] = name
    return names


def _index(index: IndexSpec) -> dict[str, Any]:
    return {
        "IndexName": index.name,
        "KeySchema": [
            {"AttributeName": index.partition_key, "KeyType": "HASH"},
            {"AttributeName": index.sort_key, "KeyType": "RANGE"},
        ],
        "Projection": (
            {"ProjectionType": index.projection}
            if index.projection != "INCLUDE"
            else {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(index.projected)}
        ),
    }
