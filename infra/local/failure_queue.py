"""The stream mapping's on-failure queue, locally: the runner's failure store mirrored into an SQS
queue on the moto server, where the query function reads its depth exactly as it reads the real
queue's in AWS (``GetQueueAttributes``, through the variable the topology names).

Why a mirror and not a special case: the overview's code path is then the same in both places,
and the AWS CLI can look at the queue like any other. The failure store stays the runner's
source of truth (``python -m infra.local failures``); the queue only receives what it receives.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Literal

import boto3

from engagement.topology import TOPOLOGY
from infra.local.lambdas import REGION
from infra.local.pump import FailureStore

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


def local_client(service: Literal["sqs"], endpoint: str) -> SQSClient:
    """A client of the local moto server, made before the functions' environment is applied (the
    queue's URL is part of that environment); fake credentials, as everywhere in the runner."""
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 - moto's, not a secret
    )


def queue_name(prefix: str, function: str) -> str:
    return f"{prefix}-{function}-stream-failures"


def create_failure_queues(sqs: SQSClient, prefix: str) -> dict[str, str]:
    """One queue per stream mapping, by its consumer function -> queue URL."""
    return {
        mapping.function: sqs.create_queue(QueueName=queue_name(prefix, mapping.function))["QueueUrl"]
        for mapping in TOPOLOGY.stream_mappings
    }


class MirroredFailureStore(FailureStore):
    """A failure store that also sends each message to the local queue, once one is attached."""

    def __init__(self) -> None:
        super().__init__()
        self._sqs: SQSClient | None = None
        self._url = ""

    def attach(self, sqs: SQSClient, url: str) -> None:
        self._sqs, self._url = sqs, url
        for message in self.messages():  # anything stored before the queue existed
            self._send(message)

    def add(self, message: dict[str, Any]) -> None:
        super().add(message)
        self._send(message)

    def _send(self, message: dict[str, Any]) -> None:
        if self._sqs is not None:
            self._sqs.send_message(QueueUrl=self._url, MessageBody=json.dumps(message, default=str))
