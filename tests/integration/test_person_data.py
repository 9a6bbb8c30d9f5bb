"""A person's data over HTTP: their events, their export, their erasure, and what an erasure keeps
from coming back (a late provider callback, a replay, a returning opted-out number).

The exactly-once proofs of erasure (in flight on the stream, between a failed batch and its
redelivery) are in test_exactly_once.py.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import unquote

import boto3
import pytest

from engagement.api import privacy
from engagement.domain.clock import ManualClock
from engagement.domain.erasure import person_hash
from engagement.observability import logger
from infra.local.lambdas import load_functions
from tests.conftest import NOW
from tests.signers import twilio_form

from .api import Answer, call
from .helpers import run_job, stream_event, stream_records

PHONE = "+14155550100"
PATH = "/v1/users/%2B14155550100"
OTHER = "+14155550111"

pytestmark = pytest.mark.usefixtures("clock")


@pytest.fixture(autouse=True)
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "twilio-token")
    monkeypatch.setenv("LINK_SIGNING_KEY", "test-link-key")


class Stream:
    """The scorer fed every record the events table's stream has not delivered yet."""

    def __init__(self, tables: dict[str, str]) -> None:
        self.table, self.seen = tables["events"], set[str]()

    def score(self) -> None:
        fresh = [r for r in stream_records(self.table) if r["dynamodb"]["SequenceNumber"] not in self.seen]
        self.seen |= {r["dynamodb"]["SequenceNumber"] for r in fresh}
        assert load_functions()["scorer"].invoke(stream_event(fresh)) == {"batchItemFailures": []}


@pytest.fixture
def logged() -> Iterator[list[logging.LogRecord]]:
    """Every record the functions log at INFO and above while the test runs."""
    kept: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            kept.append(record)

    functions_logger = logging.getLogger(logger.name)
    level, handler = functions_logger.level, Keep(logging.INFO)
    functions_logger.setLevel(logging.INFO)
    functions_logger.addHandler(handler)
    yield kept
    functions_logger.removeHandler(handler)
    functions_logger.setLevel(level)


@pytest.fixture
def stream(tables: dict[str, str]) -> Stream:
    return Stream(tables)


def ev(kind: str, hours_ago: float, item: str = "spring", user: str = PHONE, **extra: Any) -> dict[str, Any]:
    at = (NOW - timedelta(hours=hours_ago)).isoformat().replace("+00:00", "Z")
    return {"user_id": user, "item_id": item, "type": kind, "occurred_at": at, **extra}


def post(*events: dict[str, Any]) -> dict[str, Any]:
    answer = call("POST", "/v1/events", {"events": list(events)})
    assert answer.status == 202, answer.body
    body: dict[str, Any] = answer.body
    return body


def twilio(fields: dict[str, str]) -> Answer:
    target = "/webhooks/twilio?campaign=spring"
    body, headers = twilio_form(f"https://api.local{target}", fields, "twilio-token")
    content_type = headers.pop("Content-Type")
    return call("POST", target, key=None, raw=body, content_type=content_type, headers=headers)


def status_callback(sid: str, status: str, to: str = PHONE, **extra: str) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "MessageStatus": status,
        "To": to,
        "From": "+14155550199",
        "AccountSid": "AC1",
        **extra,
    }


def events_of(tables: dict[str, str], user_id: str) -> list[dict[str, Any]]:
    items = boto3.client("dynamodb").scan(TableName=tables["events"])["Items"]
    return [i for i in items if i.get("user_id", {}).get("S") == user_id]


def everything_naming(tables: dict[str, str], text: str) -> list[str]:
    client = boto3.client("dynamodb")
    found = []
    for table in tables.values():
        if table.startswith("http"):
            continue
        for page in client.get_paginator("scan").paginate(TableName=table):
            found += [f"{table}: {item['pk']}" for item in page["Items"] if text in repr(item)]
    return found


@pytest.fixture
def person(tables: dict[str, str], stream: Stream, clock: ManualClock) -> Iterator[None]:
    """A number with a campaign's whole funnel, a tracked link, history points, and a neighbour."""
    post(
        ev("delivered", 50),
        ev("clicked", 49),
        ev("converted", 48, value=12.5),
        ev("responded", 30, context="Is it still on sale?"),
        ev("delivered", 20, item="summer"),
        ev("delivered", 40, user=OTHER),
        ev("clicked", 39, user=OTHER),
    )
    assert (
        call(
            "POST", "/v1/links", {"url": "https://shop.example/p/1", "user_id": PHONE, "campaign": "spring"}
        ).status
        == 201
    )
    stream.score()
    clock.advance(timedelta(hours=13))  # the daily run writes a history point per contact
    run_job("decay", NOW + timedelta(hours=12))
    clock.advance(timedelta(minutes=5))
    return


# ------------------------------------------------------------------------------- listing


def test_a_persons_events_are_listed_newest_first_with_every_stored_field(person: None) -> None:
    answer = call("GET", f"{PATH}/events")
    assert answer.status == 200
    body = answer.body
    assert body["user_id"] == PHONE
    assert body["cursor"] is None
    assert [(e["type"], e["item_id"]) for e in body["events"]] == [
        ("delivered", "summer"),
        ("responded", "spring"),
        ("converted", "spring"),
        ("clicked", "spring"),
        ("delivered", "spring"),
    ]
    responded = body["events"][1]
    assert responded["context"] == "Is it still on sale?"
    assert responded["source"] == "api"
    assert responded["received_at"] == "2026-11-20T12:00:00Z"
    assert body["events"][2]["value"] == 12.5


def test_events_come_a_page_at_a_time_and_filter_by_time_and_type(person: None) -> None:
    seen, cursor = [], None
    while True:
        page = call("GET", f"{PATH}/events?limit=2" + (f"&cursor={cursor}" if cursor else "")).body
        seen += [e["event_id"] for e in page["events"]]
        cursor = page["cursor"]
        if cursor is None:
            break
    everything = [e["event_id"] for e in call("GET", f"{PATH}/events").body["events"]]
    assert seen == everything
    assert len(seen) == 5

    window = call("GET", f"{PATH}/events?from=2026-11-18T11:00:00Z&to=2026-11-18T12:00:00Z").body
    assert [e["type"] for e in window["events"]] == ["clicked", "converted"][::-1]
    kinds = call("GET", f"{PATH}/events?type=delivered,clicked").body
    assert sorted(e["type"] for e in kinds["events"]) == ["clicked", "delivered", "delivered"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("cursor=bm90LWEtY3Vyc29y", "cursor"),
        ("cursor=%25%25%25", "cursor"),
        ("type=delivered,teleported", "type"),
        ("from=2026-11-19T00:00:00Z&to=2026-11-18T00:00:00Z", "from"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("from=yesterday", "from"),
    ],
)
def test_a_bad_listing_request_is_a_422_naming_the_parameter(person: None, query: str, field: str) -> None:
    answer = call("GET", f"{PATH}/events?{query}")
    assert answer.status == 422, answer.body
    assert field in json.dumps(answer.body["details"])


def test_another_persons_cursor_is_refused(person: None) -> None:
    cursor = call("GET", f"{PATH}/events?limit=1").body["cursor"]
    answer = call("GET", f"/v1/users/%2B14155550111/events?cursor={cursor}")
    assert answer.status == 422


def _cursor(occurred: str, pk: str = "E#x", user: str = PHONE) -> str:
    raw = json.dumps({"pk": {"S": pk}, "user_id": {"S": user}, "occurred_ms": {"N": occurred}})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        _cursor("\u00b2"),  # a digit to str.isdigit, not to DynamoDB
        _cursor("1" * 40),  # more digits than DynamoDB's numbers hold
        _cursor("1", pk="E#" + "x" * 3000),  # a key longer than DynamoDB's limit
    ],
    ids=["superscript-digit", "forty-digits", "long-key"],
)
def test_a_tampered_cursor_is_a_422(person: None, cursor: str) -> None:
    for route in ("events", "export"):
        answer = call("GET", f"{PATH}/{route}?cursor={cursor}")
        assert (answer.status, answer.body["details"][0]["field"]) == (422, "cursor"), answer.body


def test_a_cursor_reused_with_other_bounds_is_a_422(person: None) -> None:
    cursor = call("GET", f"{PATH}/events?limit=1").body["cursor"]
    answer = call("GET", f"{PATH}/events?cursor={cursor}&to=2001-01-01T00:00:00Z")
    assert (answer.status, answer.body["details"][0]["field"]) == (422, "cursor"), answer.body


def test_a_filter_that_matches_nothing_is_an_empty_page_not_a_404(
    tables: dict[str, str], stream: Stream
) -> None:
    post(ev("clicked", 1))  # stored, not scored yet: no contact exists
    answer = call("GET", f"{PATH}/events?type=bounced")
    assert (answer.status, answer.body["events"]) == (200, [])


def test_nothing_recorded_is_a_404(tables: dict[str, str]) -> None:
    for route in ("events", "export"):
        answer = call("GET", f"/v1/users/nobody/{route}")
        assert (answer.status, answer.body["error"]) == (404, "not_found")
    assert call("GET", "/v1/users/nobody/erasure").status == 404


# ------------------------------------------------------------------------------- export


def test_the_export_holds_every_item_about_the_person_and_nothing_of_anyone_else(person: None) -> None:
    answer = call("GET", f"{PATH}/export")
    assert answer.status == 200
    body = answer.body
    assert body["user_id"] == PHONE
    assert body["exported_at"] == "2026-11-21T01:05:00Z"
    assert len(body["events"]) == 5
    assert body["events_cursor"] is None
    stored = body["stored"]
    kinds = sorted(item["sk"].split("#")[0] or item["sk"] for item in stored["aggregates"])
    assert kinds == ["#USER", "I", "I"], kinds  # the contact, and one engagement per campaign
    contact = next(i for i in stored["aggregates"] if i["sk"] == "#USER")
    assert contact["pk"] == f"U#{PHONE}"
    assert [h["pk"] for h in stored["history"]] == [f"U#{PHONE}"]
    assert [(link["user_id"], link["url"]) for link in stored["links"]] == [
        (PHONE, "https://shop.example/p/1")
    ]
    assert set(body["scores"]["linear"]) == {"spring", "summer"}
    assert isinstance(body["scores"]["crm"], float | int)
    assert body["erasure"] is None
    assert OTHER not in json.dumps(body)


def test_a_large_export_pages_its_events(person: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(privacy, "EXPORT_EVENTS_PAGE", 2)
    first = call("GET", f"{PATH}/export").body
    second = call("GET", f"{PATH}/export?cursor={first['events_cursor']}").body
    assert len(first["events"]) == len(second["events"]) == 2
    assert second["stored"] == first["stored"]  # each page repeats the rest
    assert not {e["event_id"] for e in first["events"]} & {e["event_id"] for e in second["events"]}


# ------------------------------------------------------------------------------- erasure


def test_an_erased_person_is_gone_from_every_table_and_route(
    tables: dict[str, str], person: None, logged: list[logging.LogRecord]
) -> None:
    before = call("GET", "/v1/users/%2B14155550111/engagements").body
    funnel_before = call("GET", "/v1/items/spring/funnel").body

    answer = call("DELETE", PATH)
    assert answer.status == 200, answer.body
    assert answer.body["status"] == "complete"
    assert answer.body["erased_at"] == "2026-11-21T01:05:00Z"
    assert answer.body["removed"] == {"events": 5, "contact": 1, "engagements": 2, "history": 1, "links": 1}
    assert answer.body["suppressed"] is None

    assert everything_naming(tables, PHONE) == []
    assert everything_naming(tables, "Is it still on sale?") == []
    for route in (
        "events",
        "export",
        "engagements",
        "engagements/spring",
        "score",
        "stats",
        "history",
        "curve?profile=crm",
    ):
        gone = call("GET", f"{PATH}/{route}")
        assert (gone.status, gone.body["error"]) == (410, "erased"), route
    assert call("GET", f"{PATH}/erasure").body == answer.body

    # Everyone else is as they were; the campaign's funnel counts only them now.
    assert call("GET", "/v1/users/%2B14155550111/engagements").body == before
    funnel = call("GET", "/v1/items/spring/funnel").body
    reached = {s["stage"]: s["contacts"] for s in funnel["steps"]}
    assert {s["stage"]: s["contacts"] for s in funnel_before["steps"]} == {
        "delivered": 2,
        "clicked": 2,
        "responded": 1,
        "converted": 1,
    }
    assert reached == {"delivered": 1, "clicked": 1, "responded": 0, "converted": 0}
    members = call("GET", "/v1/segments/cold").body
    assert PHONE not in json.dumps(members)

    # The audit line names the keyed hash and the counts; no line names the number.
    audit = [r for r in logged if r.getMessage() == "person erased"]
    assert [r.__dict__["person"] for r in audit] == [person_hash("test-erasure-key", PHONE)]
    assert audit[0].__dict__["removed"]["events"] == 5
    assert not [r for r in logged if "14155550100" in repr(r.__dict__)]


def test_a_late_twilio_callback_for_an_erased_number_stores_nothing(
    tables: dict[str, str], stream: Stream, clock: ManualClock
) -> None:
    assert twilio(status_callback("SM1", "delivered")).status == 200
    stream.score()
    clock.advance(timedelta(minutes=1))
    assert call("DELETE", PATH).status == 200
    clock.advance(timedelta(hours=2))

    assert twilio(status_callback("SM1", "read")).status == 200  # a retry, or a later status of it
    assert twilio(status_callback("SM2", "undelivered", ErrorCode="30003")).status == 200  # sent before
    assert events_of(tables, PHONE) == []
    stream.score()
    assert call("GET", f"{PATH}/score").status == 410

    # Past the receipt window a delivery is of a message sent after the erasure: new data.
    clock.advance(timedelta(hours=72))
    assert twilio(status_callback("SM3", "delivered")).status == 200
    assert [e["type"]["S"] for e in events_of(tables, PHONE)] == ["delivered"]


def test_an_erased_person_who_acts_again_is_new_data(
    tables: dict[str, str], stream: Stream, clock: ManualClock
) -> None:
    post(ev("clicked", 5))
    stream.score()
    assert call("DELETE", PATH).status == 200
    clock.advance(timedelta(hours=1))
    outcome = post(ev("clicked", 5), ev("responded", -0.5))  # a replay of the old event, and a new one
    assert [e["status"] for e in outcome["results"]] == ["erased", "accepted"]
    stream.score()
    listed = call("GET", f"{PATH}/events").body["events"]
    assert [e["type"] for e in listed] == ["responded"]
    assert call("GET", f"{PATH}/engagements").status == 200

    # Erased again: the second erasure covers what came after the first.
    again = call("DELETE", PATH)
    assert again.status == 200
    assert again.body["removed"]["events"] == 1
    assert everything_naming(tables, PHONE) == []


def test_an_erased_opted_out_number_stays_suppressed(
    tables: dict[str, str], stream: Stream, clock: ManualClock
) -> None:
    inbound = {"From": PHONE, "To": "+14155550199", "AccountSid": "AC1", "NumMedia": "0"}
    assert twilio({**inbound, "MessageSid": "SM10", "Body": "STOP"}).status == 200
    stream.score()
    clock.advance(timedelta(minutes=1))
    erased = call("DELETE", PATH).body
    assert erased["suppressed"]["reason"] == "STOP"
    assert everything_naming(tables, PHONE) == []

    # The score routes say the number is suppressed, though nothing else is held about it.
    score = call("GET", f"{PATH}/score")
    assert score.status == 410
    assert (score.body["band"], score.body["suppressed"]["reason"]) == ("suppressed", "STOP")
    assert "do not message" in score.body["message"]

    # The number comes back (a reply, a delivery after the window): it is suppressed again first.
    clock.advance(timedelta(days=4))
    assert twilio({**inbound, "MessageSid": "SM11", "Body": "What time do you open?"}).status == 200
    clock.advance(timedelta(minutes=1))
    stream.score()
    profile = call("GET", f"{PATH}/score").body
    assert profile["band"] == "suppressed", profile
    suppressed = call("GET", "/v1/segments/suppressed").body
    assert PHONE in json.dumps(suppressed)

    # Only their own START lifts it.
    assert twilio({**inbound, "MessageSid": "SM12", "Body": "START"}).status == 200
    clock.advance(timedelta(minutes=1))
    stream.score()
    assert call("GET", f"{PATH}/score").body["band"] != "suppressed"


def test_an_opt_out_still_on_the_stream_is_kept_by_the_erasure(
    tables: dict[str, str], stream: Stream, clock: ManualClock
) -> None:
    """The STOP is stored but not yet scored when the erasure removes it: the suppression comes
    from the event itself, not only from the contact the scorer had built."""
    inbound = {"From": PHONE, "To": "+14155550199", "AccountSid": "AC1", "NumMedia": "0"}
    assert twilio({**inbound, "MessageSid": "SM20", "Body": "Hello"}).status == 200
    stream.score()
    assert twilio({**inbound, "MessageSid": "SM21", "Body": "STOP"}).status == 200
    erased = call("DELETE", PATH).body
    assert (erased["status"], erased["suppressed"]["reason"]) == ("complete", "STOP")
    stream.score()  # the STOP's stream record arrives after the erasure: it is dropped
    assert everything_naming(tables, PHONE) == []

    clock.advance(timedelta(days=4))
    assert twilio({**inbound, "MessageSid": "SM22", "Body": "What time do you open?"}).status == 200
    clock.advance(timedelta(minutes=1))
    stream.score()
    assert call("GET", f"{PATH}/score").body["band"] == "suppressed"


def test_an_opt_in_removed_with_the_opt_out_lifts_it(tables: dict[str, str], stream: Stream) -> None:
    post(ev("opted_out", 3), ev("opted_in", 2))  # neither scored yet
    erased = call("DELETE", PATH).body
    assert (erased["status"], erased["suppressed"]) == ("complete", None)


def test_an_event_dated_ahead_of_the_clock_is_erased_with_the_rest(
    tables: dict[str, str], stream: Stream, clock: ManualClock
) -> None:
    """Ingest accepts clocks up to five minutes fast: such an event was stored before the erasure
    and goes with it, and its stream record, in flight, is dropped."""
    post(ev("clicked", 2), ev("responded", -4 / 60, context="see you soon"))
    stream.score()
    post(ev("converted", -3 / 60, item="summer"))  # on the stream when the erasure runs
    erased = call("DELETE", PATH)
    assert erased.status == 200
    assert erased.body["removed"]["events"] == 3
    stream.score()
    assert everything_naming(tables, PHONE) == []
    assert call("GET", f"{PATH}/events").status == 410
    assert call("GET", f"{PATH}/score").status == 410
    assert call("DELETE", PATH).body == erased.body  # idempotent: nothing was left behind


class Budget:
    """Stands in for the ``time`` module in the privacy handler: a monotonic clock that moves
    one step per look, so a request's budget runs out after a fixed number of items."""

    def __init__(self, steps: int) -> None:
        self.step, self.per_step = 0, privacy.ERASE_BUDGET_S / steps

    def monotonic(self) -> float:
        self.step += 1
        return self.step * self.per_step

    @staticmethod
    def sleep(seconds: float) -> None:
        time.sleep(seconds)


def test_an_erasure_too_large_for_one_request_answers_202_and_resumes(
    tables: dict[str, str], stream: Stream, monkeypatch: pytest.MonkeyPatch
) -> None:
    post(*(ev("clicked", 10 + n, item=f"c{n}") for n in range(12)))
    stream.score()
    # The handler's budget clock, and only its: every look at it is one unit of work further, so
    # each request gets through five items before it must answer.
    budget = Budget(steps=5)
    monkeypatch.setattr(privacy, "time", budget)

    first = call("DELETE", PATH)
    assert first.status == 202
    assert unquote(first.headers["location"]) == f"/v1/users/{PHONE}/erasure"
    assert first.headers["retry-after"] == "1"
    assert first.body["status"] == "in_progress"
    assert call("GET", f"{PATH}/erasure").body["status"] == "in_progress"

    answers = [first]
    while answers[-1].status == 202:
        answers.append(call("DELETE", PATH))
        assert len(answers) < 30
    done = answers[-1].body
    assert done["status"] == "complete"
    assert done["erased_at"] >= first.body["erased_at"]
    assert done["removed"]["events"] == 12
    assert done["removed"]["engagements"] == 12
    assert everything_naming(tables, PHONE) == []


def test_while_an_erasure_runs_the_persons_events_are_refused_and_after_it_they_are_new_data(
    tables: dict[str, str], stream: Stream, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    post(*(ev("clicked", 10 + n, item=f"c{n}") for n in range(8)))
    stream.score()
    monkeypatch.setattr(privacy, "time", Budget(steps=4))
    assert call("DELETE", PATH).status == 202

    # In progress: an aggregate the passes are about to delete must not absorb anything new.
    during = post(ev("responded", -0.01, context="still there?"))
    assert [e["status"] for e in during["results"]] == ["erased"]
    while (answer := call("DELETE", PATH)).status == 202:
        pass
    assert answer.body["status"] == "complete"
    assert everything_naming(tables, PHONE) == []

    clock.advance(timedelta(hours=1))
    after = post(ev("responded", -0.5))
    assert [e["status"] for e in after["results"]] == ["accepted"]
    stream.score()
    assert [e["type"] for e in call("GET", f"{PATH}/events").body["events"]] == ["responded"]


def test_erasure_needs_an_api_key_and_a_user_id(tables: dict[str, str]) -> None:
    assert call("DELETE", PATH, key=None).status == 401
    assert call("DELETE", "/v1/users/").status == 404
    assert call("DELETE", "/v1/users/has%20space").status == 422
