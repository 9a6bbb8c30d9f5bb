"""The EventBridge adapter: publishes band changes on the topology's bus.

PutEvents is not all-or-nothing: it answers 200 with per-entry failures, so every entry's
result is checked and a partial failure raises, leaving the change pending for a retry.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from engagement.domain.contact_records import BandTransition
from engagement.domain.errors import StoreError
from engagement.topology import ENGAGEMENT_BUS

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef

    from engagement.settings import Settings

CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=5)
MAX_ENTRIES_PER_CALL = 10
BAND_CHANGED = "engagement.band_changed"


class BandPublisher:
    def __init__(self, client: EventBridgeClient, bus_name: str) -> None:
        self._client = client
        self._bus = bus_name

    @classmethod
    def from_settings(cls, settings: Settings) -> BandPublisher:
        client: EventBridgeClient = boto3.client("events", config=CLIENT_CONFIG)
        return cls(client, settings.buses.get(ENGAGEMENT_BUS.key, ""))

    def publish(self, transitions: Sequence[BandTransition]) -> None:
        """Put every transition on the bus; raises ``StoreError`` unless all were accepted."""
        if not self._bus:
            raise StoreError(
                f"{ENGAGEMENT_BUS.env_var} is not set: band changes cannot be published", retryable=False
            )
        for start in range(0, len(transitions), MAX_ENTRIES_PER_CALL):
            chunk = transitions[start : start + MAX_ENTRIES_PER_CALL]
            entries: list[PutEventsRequestEntryTypeDef] = [
                {
                    "EventBusName": self._bus,
                    "Source": ENGAGEMENT_BUS.source,
                    "DetailType": BAND_CHANGED,
                    "Detail": json.dumps(t.detail(), separators=(",", ":")),
                    "Resources": [],
                }
                for t in chunk
            ]
            try:
                response = self._client.put_events(Entries=entries)
            except (ClientError, BotoCoreError) as exc:
                reason = type(exc).__name__
                raise StoreError(f"EventBridge refused band changes: {reason}", retryable=True) from exc
            if response.get("FailedEntryCount", 0):
                codes = sorted({e.get("ErrorCode", "?") for e in response["Entries"] if e.get("ErrorCode")})
                raise StoreError(f"EventBridge failed some band changes: {', '.join(codes)}", retryable=True)
