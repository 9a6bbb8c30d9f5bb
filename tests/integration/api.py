"""Call the HTTP routes in-process exactly as the runner's gateway does: route match, a
payload 2.0 event, the real handler, API Gateway's response rules."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from engagement.domain.clock import SystemClock
from engagement.topology import TOPOLOGY
from infra.local.gateway import Gateway, Request
from infra.local.lambdas import load_functions

KEY = "test-key-1"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any


def call(
    method: str,
    target: str,
    body: Any = None,
    *,
    key: str | None = KEY,
    content_type: str = "application/json",
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    path, _, query = target.partition("?")
    sent = [("Host", "api.local"), ("User-Agent", "pytest"), *(headers or {}).items()]
    if key is not None:
        sent.append(("Authorization", f"Bearer {key}"))
    payload = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
    if payload:
        sent.append(("Content-Type", content_type))
    gateway = Gateway(TOPOLOGY.routes, functions=load_functions(), clock=SystemClock(), log=lambda _: None)
    response = gateway.handle(
        Request(method=method, path=path, query=query, headers=sent, body=payload, source_ip="198.51.100.7"),
        domain_name="api.local",
    )
    text = response.body.decode()
    answer_headers = {k.lower(): v for k, v in response.headers}
    is_json = "json" in answer_headers.get("content-type", "")
    return Answer(
        status=response.status, headers=answer_headers, body=json.loads(text) if text and is_json else text
    )
