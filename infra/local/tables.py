"""Create the topology's tables on a DynamoDB endpoint (the local runner's moto server, tests)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engagement.topology import TOPOLOGY, TableSpec

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
        if spec.stream:
            client.create_table(
                TableName=name,
                KeySchema=keys,
                AttributeDefinitions=attributes,
                BillingMode="PAY_PER_REQUEST",
                StreamSpecification={"StreamEnabled": True, "StreamViewType": spec.stream},
            )
        else:
            client.create_table(
                TableName=name, KeySchema=keys, AttributeDefinitions=attributes, BillingMode="PAY_PER_REQUEST"
            )
        if spec.ttl_attribute:
            client.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute},
            )
        names[spec.key] = name
    return names
