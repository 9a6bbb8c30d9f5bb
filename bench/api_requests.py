"""API requests as the functions receive them: API Gateway payload 2.0 events
built by the local runner's ``build_event``, authenticated with a configured bearer key."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from bench.environment import API_KEY, REGION
from engagement.topology import TOPOLOGY
from infra.local.apigw import build_event, match_route

API_ID = "benchapi01"
DOMAIN = f"{API_ID}.execute-api.{REGION}.amazonaws.com"
PATH = "/v1/events"


def post_events(events: Sequence[Mapping[str, Any]], *, now: datetime | None = None) -> dict[str, Any]:
    """The Lambda event for one ``POST /v1/events`` carrying ``events``."""
    route = match_route(TOPOLOGY.routes, "POST", PATH)
    if route is None:
        raise LookupError(f"the topology has no route for POST {PATH}")
    body = json.dumps({"events": list(events)}, separators=(",", ":")).encode()
    return build_event(
        method="POST",
        raw_path=PATH,
        raw_query="",
        headers=[
            ("Content-Type", "application/json"),
            ("Authorization", f"Bearer {API_KEY}"),
            ("User-Agent", "engagement-bench/1"),
        ],
        body=body,
        source_ip="203.0.113.10",
        route=route,
        domain_name=DOMAIN,
        api_id=API_ID,
        now=now or datetime.now(UTC),
    )


def get_request(path: str, query: str = "", *, now: datetime | None = None) -> dict[str, Any]:
    """The Lambda event for one authenticated ``GET path?query``."""
    route = match_route(TOPOLOGY.routes, "GET", path)
    if route is None:
        raise LookupError(f"the topology has no route for GET {path}")
    return build_event(
        method="GET",
        raw_path=path,
        raw_query=query,
        headers=[("Authorization", f"Bearer {API_KEY}"), ("User-Agent", "engagement-bench/1")],
        body=b"",
        source_ip="203.0.113.10",
        route=route,
        domain_name=DOMAIN,
        api_id=API_ID,
        now=now or datetime.now(UTC),
    )


def accepted_count(response: Mapping[str, Any]) -> int:
    """Events the ingest function reports as stored; raises unless it answered 202."""
    if response.get("statusCode") != 202:
        raise RuntimeError(f"POST {PATH} answered {response.get('statusCode')}: {response.get('body')}")
    body = json.loads(str(response["body"]))
    return int(body["accepted"])
