"""Every DynamoDB call a function makes is one its topology entry declares (and so one the stack
grants): the runtime half of least privilege, next to the IAM assertions on the template."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from engagement import deps
from engagement.domain.clock import ManualClock
from engagement.topology import TOPOLOGY
from infra.local.lambdas import load_functions
from infra.local.topics import sns_event

from .api import call
from .helpers import run_job, stream_event, stream_records

TELEGRAM = Path(__file__).parents[1] / "unit" / "fixtures" / "telegram"


TRANSACTION_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


@contextmanager
def recording_calls() -> Iterator[dict[str, set[str]]]:
    """Table name -> DynamoDB operations called on it while the block runs."""
    calls: dict[str, set[str]] = defaultdict(set)

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name == "TransactWriteItems":
            # IAM authorizes a transaction item by item, as the single-item action it performs.
            for entry in params["TransactItems"]:
                ((kind, request),) = entry.items()
                calls[str(request["TableName"])].add(TRANSACTION_ACTIONS[kind])
            return
        if model.name == "BatchGetItem":  # authorized per table it reads
            for table in params["RequestItems"]:
                calls[str(table)].add(model.name)
            return
        if "IndexName" in params:  # granted on the index's own ARN, not the table's
            calls[str(params["TableName"])].add(f"{model.name}@{params['IndexName']}")
            return
        calls[str(params.get("TableName"))].add(model.name)

    events = deps.store()._client.meta.events
    events.register("before-parameter-build.dynamodb", record)
    try:
        yield calls
    finally:
        events.unregister("before-parameter-build.dynamodb", record)


def assert_declared(function: str, calls: dict[str, set[str]], tables: dict[str, str]) -> None:
    spec = TOPOLOGY.function(function)
    key_of = {name: key for key, name in tables.items()}
    if not spec.tables:
        assert not calls, f"{function} declares no table but called {dict(calls)}"
        return
    assert calls, f"{function} made no DynamoDB call: the scenario exercises nothing"
    for table, operations in calls.items():
        assert table in key_of, f"{function} called {sorted(operations)} on an unknown table {table}"
        key = key_of[table]
        allowed = set(spec.tables.get(key, ())) | {f"Query@{i}" for i in spec.indexes.get(key, ())}
        assert operations <= allowed, (function, table, operations)


SCENARIOS: dict[str, Callable[[dict[str, str], ManualClock], None]] = {}


def scenario(function: str) -> Callable[[Callable[[dict[str, str], ManualClock], None]], Any]:
    def register(run: Callable[[dict[str, str], ManualClock], None]) -> Any:
        SCENARIOS[function] = run
        return run

    return register


def _events(n: int = 3) -> list[dict[str, Any]]:
    return [
        {"user_id": "u1", "item_id": f"AI-{i}", "type": "query", "occurred_at": "2026-11-20T10:00:00Z"}
        for i in range(n)
    ]


@scenario("ingest")
def _ingest(tables: dict[str, str], clock: ManualClock) -> None:
    call("POST", "/v1/events", {"events": _events()})
    call("POST", "/v1/events", {"events": _events()})  # duplicates


@scenario("query")
def _query(tables: dict[str, str], clock: ManualClock) -> None:
    for path in (
        "/v1/users/u1/engagements",
        "/v1/users/u1/engagements/AI-1",
        "/v1/users/u1/stats",
        "/v1/users/u1/score",
        "/v1/users/u1/history",
        "/v1/segments/cold",
        "/v1/items/AI-1/funnel",
        "/v1/users/u1/curve?item_id=AI-1",
        "/v1/users/u1/curve?profile=crm",
        "/v1/users/u1/events",
        "/v1/users/u1/export",
        "/v1/users/erased-before/stats",  # an unknown user: is it an erased one?
        "/v1/overview",
        "/v1/models",
    ):
        assert call("GET", path).status in {200, 404}, path
    call("GET", "/v1/openapi.json", key=None)


@scenario("privacy")
def _privacy(tables: dict[str, str], clock: ManualClock) -> None:
    assert call("DELETE", "/v1/users/u1").status == 200
    assert call("DELETE", "/v1/users/u1").status == 200  # idempotent
    assert call("GET", "/v1/users/u1/erasure").status == 200


@scenario("console")
def _console(tables: dict[str, str], clock: ManualClock) -> None:
    for path in ("/console", "/console/app.js", "/docs", "/docs/swagger-ui.min.css"):
        assert call("GET", path, key=None).status == 200, path


@scenario("telegram")
def _telegram(tables: dict[str, str], clock: ManualClock) -> None:
    for name in ("private_query", "private_command_top", "private_command_score", "private_command_stats"):
        body = json.loads((TELEGRAM / f"{name}.json").read_text())
        call("POST", "/webhooks/telegram", body, key=None, headers={"X-Telegram-Bot-Api-Secret-Token": "tg"})


def twilio_form(fields: dict[str, str], *, query: str = "campaign=spring") -> tuple[bytes, dict[str, str]]:
    """A form callback signed the way Twilio signs it, for the URL the gateway rebuilds."""
    from urllib.parse import urlencode

    from twilio.request_validator import RequestValidator

    url = f"https://api.local/webhooks/twilio?{query}"
    signature = RequestValidator("twilio-token").compute_signature(url, fields)
    return urlencode(fields).encode(), {"X-Twilio-Signature": signature}


@scenario("sms")
def _sms(tables: dict[str, str], clock: ManualClock) -> None:
    for fields in (
        {"MessageSid": "SM1", "MessageStatus": "delivered", "To": "+14155550100", "From": "+14155550199"},
        {"MessageSid": "SM2", "From": "+14155550100", "To": "+14155550199", "Body": "STOP"},
    ):
        body, headers = twilio_form(fields)
        answer = call(
            "POST",
            "/webhooks/twilio?campaign=spring",
            key=None,
            raw=body,
            content_type="application/x-www-form-urlencoded",
            headers=headers,
        )
        assert answer.status == 200, answer.body


@scenario("sms_events")
def _sms_events(tables: dict[str, str], clock: ManualClock) -> None:
    message = json.dumps(
        {
            "eventType": "TEXT_DELIVERED",
            "messageId": "m-1",
            "destinationPhoneNumber": "+14155550100",
            "eventTimestamp": 1795000000000,
        }
    )
    load_functions()["sms_events"].invoke(sns_event("sms_events", message, clock.now()))


@scenario("links")
def _links(tables: dict[str, str], clock: ManualClock) -> None:
    token = call("POST", "/v1/links", {"url": "https://x.example", "user_id": "u1", "campaign": "c"}).body[
        "token"
    ]
    assert call("GET", f"/c/{token}", key=None, headers={"User-Agent": "Mozilla/5.0"}).status == 302


def _new_sms_events() -> None:
    """Before the scorer's scenario: new funnel stages, a percentile move and a band change."""
    sms = [
        {"user_id": "u1", "item_id": "AI-1", "type": kind, "occurred_at": "2026-11-20T11:00:00Z"}
        for kind in ("delivered", "clicked", "opted_out")
    ]
    assert call("POST", "/v1/events", {"events": sms}).status == 202


PREPARE: dict[str, Callable[[], None]] = {"scorer": _new_sms_events}


@scenario("scorer")
def _scorer(tables: dict[str, str], clock: ManualClock) -> None:
    records = stream_records(tables["events"])
    load_functions()["scorer"].invoke(stream_event(records))
    load_functions()["scorer"].invoke(stream_event(records))  # a redelivery: refused writes


@scenario("decay")
def _decay(tables: dict[str, str], clock: ManualClock) -> None:
    run_job("decay", clock.now() + timedelta(days=1))  # plan, every segment, finish


@scenario("cleanup")
def _cleanup(tables: dict[str, str], clock: ManualClock) -> None:
    run_job("cleanup", clock.now() + timedelta(days=200))


@scenario("fit")
def _fit(tables: dict[str, str], clock: ManualClock) -> None:
    run_job("fit", clock.now() + timedelta(days=1))
    run_job("fit", clock.now() + timedelta(days=8))  # a second fit: the first becomes the previous
    run_job("fit", clock.now() + timedelta(days=8))  # a repeat: reads, writes nothing new


def test_every_function_has_a_scenario() -> None:
    assert set(SCENARIOS) == {f.name for f in TOPOLOGY.functions}


@pytest.mark.parametrize("function", sorted(SCENARIOS))
def test_a_function_calls_only_the_actions_it_declares(
    function: str, tables: dict[str, str], clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "tg")
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "twilio-token")
    monkeypatch.setenv("LINK_SIGNING_KEY", "link-key")
    call("POST", "/v1/events", {"events": _events()})  # something to read, score, decay and clean
    load_functions()["scorer"].invoke(stream_event(stream_records(tables["events"])))
    PREPARE.get(function, lambda: None)()
    with recording_calls() as calls:
        SCENARIOS[function](tables, clock)
    assert_declared(function, calls, tables)
