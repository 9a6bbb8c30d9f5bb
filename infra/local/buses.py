"""The topology's EventBridge buses on the local moto server, with a tap to see what was published.

Each bus gets a rule matching everything from its source, delivering to an SQS queue: the same
path a subscriber's rule takes in AWS, and the queue is where the runner (``/_local/buses/<key>``)
and the tests read the published events from.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from engagement.topology import TOPOLOGY, BusSpec

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_sqs import SQSClient


def bus_name(spec: BusSpec, prefix: str) -> str:
    return f"{prefix}-{spec.key}"


def tap_name(spec: BusSpec, prefix: str) -> str:
    return f"{prefix}-{spec.key}-tap"


def bus_environment(prefix: str) -> dict[str, str]:
    """The variables publishing functions read their bus names from, as the stack would set them."""
    return {spec.env_var: bus_name(spec, prefix) for spec in TOPOLOGY.buses}


def create_buses(events: EventBridgeClient, sqs: SQSClient, prefix: str) -> dict[str, str]:
    """Create each bus, and a rule tapping everything it carries into a queue. Returns key -> queue URL."""
    taps: dict[str, str] = {}
    for spec in TOPOLOGY.buses:
        name = bus_name(spec, prefix)
        events.create_event_bus(Name=name)
        queue_url = sqs.create_queue(QueueName=tap_name(spec, prefix))["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        events.put_rule(
            Name=tap_name(spec, prefix),
            EventBusName=name,
            EventPattern=json.dumps({"source": [spec.source]}),
        )
        events.put_targets(
            Rule=tap_name(spec, prefix), EventBusName=name, Targets=[{"Id": "tap", "Arn": queue_arn}]
        )
        taps[spec.key] = queue_url
    return taps


def drain(sqs: SQSClient, queue_url: str) -> list[dict[str, Any]]:
    """Every event waiting in a tap, oldest first, removed from the queue."""
    found: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return found
        for message in messages:
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
