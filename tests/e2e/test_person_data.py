"""A person's data over real HTTP against the local runner: list, export, erase, and nothing
comes back through the running stream consumer."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from .conftest import Runner, start_runner

pytestmark = pytest.mark.e2e

PHONE = "+15557770001"
PATH = "/v1/users/%2B15557770001"
NEIGHBOUR = "+15557770002"


@pytest.fixture(scope="module")
def runner() -> Iterator[Runner]:
    with start_runner(LOG_LEVEL="INFO") as started:  # the functions' info lines: the audit
        yield started


def ev(user: str, kind: str, days_ago: float, item: str = "spring", **extra: Any) -> dict[str, Any]:
    at = datetime.now(UTC) - timedelta(days=days_ago)
    return {"user_id": user, "item_id": item, "type": kind, "occurred_at": at.isoformat(), **extra}


def test_list_export_and_erase_over_http(runner: Runner) -> None:
    history = [
        ev(PHONE, "delivered", 3),
        ev(PHONE, "clicked", 2),
        ev(PHONE, "responded", 1, context="what time is it open"),
        ev(PHONE, "opted_out", 0.5, context="STOP"),
        ev(NEIGHBOUR, "delivered", 3),
    ]
    runner.post_events(*history)
    runner.control("POST", "settle")

    status, first = runner.request("GET", f"{PATH}/events?limit=3")
    assert status == 200
    assert [e["type"] for e in first["events"]] == ["opted_out", "responded", "clicked"]
    status, rest = runner.request("GET", f"{PATH}/events?limit=3&cursor={first['cursor']}")
    assert (status, [e["type"] for e in rest["events"]], rest["cursor"]) == (200, ["delivered"], None)

    status, export = runner.request("GET", f"{PATH}/export")
    assert status == 200
    assert len(export["events"]) == 4
    assert any(item["sk"] == "#USER" for item in export["stored"]["aggregates"])

    status, erased = runner.request("DELETE", PATH)
    assert status == 200, erased
    assert erased["status"] == "complete"
    assert erased["removed"]["events"] == 4
    assert erased["suppressed"]["reason"] == "STOP"
    assert runner.request("DELETE", PATH) == (200, erased)  # idempotent

    status, gone = runner.request("GET", f"{PATH}/score")
    assert (status, gone["band"]) == (410, "suppressed")
    # A client replaying the old events stores nothing, and the stream consumer scores nothing.
    replay = runner.post_events(*history[:4])
    assert replay["erased"] == 4
    runner.control("POST", "settle")
    assert runner.request("GET", f"{PATH}/events")[0] == 410
    assert runner.request("GET", f"/v1/users/%2B{NEIGHBOUR[1:]}/events")[0] == 200

    assert runner.logged("person erased")  # the audit line, with the keyed hash
    assert not runner.logged(PHONE[1:])
    assert not runner.logged("ERASURE_HASH_KEY=")  # with it, a number could be tested against the hash


def test_no_runner_line_names_the_person_a_request_is_about(runner: Runner) -> None:
    """A Telegram id or an email is no phone number, but next to the audit line it would name the
    person its hash stands for."""
    runner.post_events(ev("tg-7012345678", "query", 1, item="AI-1"), ev("dana@example.com", "view", 1))
    runner.control("POST", "settle")
    for user in ("tg-7012345678", "dana%40example.com"):
        assert runner.request("DELETE", f"/v1/users/{user}")[0] == 200
        assert runner.request("GET", f"/v1/users/{user}/score")[0] == 410
    assert not runner.logged("tg-7012345678")
    assert not runner.logged("dana@example.com")
    assert not runner.logged("dana%40example.com")
    assert not runner.logged("what time is it open")
