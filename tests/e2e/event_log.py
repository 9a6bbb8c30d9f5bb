"""The event log as the source of truth, read back from a running runner's DynamoDB: every stored
event, and the aggregates recomputed from them with the domain's own pure fold, to compare
with the aggregates the scorer left (equal means every event was scored exactly once)."""

from __future__ import annotations

import json
import random
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer

from engagement.domain.aggregates import plan_batch
from engagement.store.items import USER_SK, aggregate_from_item, aggregate_key_attrs, observed_event

from .conftest import KEY

EVENTS = "engagement-events"
AGGREGATES = "engagement-aggregates"
Summary = tuple[dict[str, int], Decimal, int, int]
"""Counts by type, value sum, first and last occurrence (epoch ms): what an aggregate holds."""


def scan(dynamodb_url: str, table: str) -> list[dict[str, Any]]:
    client = boto3.client(
        "dynamodb",
        endpoint_url=dynamodb_url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    plain = TypeDeserializer()
    return [
        {k: plain.deserialize(v) for k, v in item.items()}
        for page in client.get_paginator("scan").paginate(TableName=table)
        for item in page["Items"]
    ]


def recomputed(events: list[dict[str, Any]]) -> dict[tuple[str, str], Summary]:
    """Every (user, item) and per-user aggregate, folded from the whole log in one pass."""
    summaries: dict[tuple[str, str], Summary] = {}
    for delta in plan_batch(observed_event(event, recorded_s=0) for event in events):
        key = aggregate_key_attrs(delta.key)
        counts = {t.value: n for t, n in delta.counts.items()}
        summaries[(key["pk"], key["sk"])] = (counts, delta.value_sum, delta.first_ms, delta.last_ms)
    return summaries


def stored(aggregates: list[dict[str, Any]]) -> dict[tuple[str, str], Summary]:
    summaries: dict[tuple[str, str], Summary] = {}
    for item in aggregates:
        pk, sk = str(item["pk"]), str(item["sk"])
        if not pk.startswith("U#") or not (sk == USER_SK or sk.startswith("I#")):
            continue  # funnels, percentiles and the like: derived, not what this compares
        aggregate = aggregate_from_item(item)
        counts = {t.value: n for t, n in aggregate.counts.items()}
        summaries[(pk, sk)] = (counts, aggregate.value_sum, aggregate.first_ms, aggregate.last_ms)
    return summaries


def mixed_events(prefix: str, count: int, *, seed: int, now: datetime | None = None) -> list[dict[str, Any]]:
    """Chat engagement on issue keys and SMS engagement on campaigns, phone numbers as users,
    from an hour before ``now`` (the runner's clock; default wall time)."""
    rng = random.Random(seed)
    start = (now or datetime.now(UTC)) - timedelta(hours=1)
    events: list[dict[str, Any]] = []
    for n in range(count):
        occurred = (start + timedelta(seconds=n)).isoformat()
        if n % 2:
            event: dict[str, Any] = {
                "event_id": f"{prefix}-{n}",
                "user_id": f"+1415555{rng.randrange(40):04d}",
                "item_id": f"campaign-{rng.randrange(4)}",
                "type": rng.choice(["delivered", "clicked", "responded", "converted", "opted_out"]),
                "occurred_at": occurred,
            }
            if event["type"] == "converted":
                event["value"] = rng.choice([5, 12.5])
        else:
            event = {
                "event_id": f"{prefix}-{n}",
                "user_id": str(rng.randrange(30)),
                "item_id": f"AI-{rng.randrange(12)}",
                "type": rng.choice(["query", "mention", "view"]),
                "occurred_at": occurred,
            }
        events.append(event)
    return events


@dataclass
class Load:
    """Client threads posting events until told to stop or the runner goes away."""

    url: str
    events: list[dict[str, Any]]
    threads: int = 6
    per_request: int = 3
    acknowledged: set[str] = field(default_factory=set)
    """Event ids a 2xx answer reported as stored (``accepted`` or ``duplicate``)."""
    _next: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _workers: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        self._workers = [threading.Thread(target=self._work, daemon=True) for _ in range(self.threads)]
        for worker in self._workers:
            worker.start()

    def stop(self) -> None:
        self._stop.set()
        self.finish()

    def finish(self) -> None:
        """Wait until every event was posted (or the runner went away)."""
        for worker in self._workers:
            worker.join(timeout=120)

    def count(self) -> int:
        with self._lock:
            return len(self.acknowledged)

    def _work(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                chunk = self.events[self._next : self._next + self.per_request]
                self._next += len(chunk)
            if not chunk:
                return
            request = urllib.request.Request(
                f"{self.url}/v1/events",
                data=json.dumps({"events": chunk}).encode(),
                method="POST",
                headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    body = json.loads(response.read())
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                return  # the runner is gone (or refused): nothing here was acknowledged
            stored_ids = [r["event_id"] for r in body["results"] if r["status"] in ("accepted", "duplicate")]
            with self._lock:
                self.acknowledged.update(stored_ids)
