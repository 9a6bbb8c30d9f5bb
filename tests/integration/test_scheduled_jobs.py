"""Decay and cleanup handlers, invoked with EventBridge scheduled events, on a real table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from engagement import deps
from engagement.domain.aggregates import AggregateDelta, AggregateKey, ObservedEvent
from engagement.domain.events import EventType
from engagement.domain.linear import LINEAR
from engagement.domain.timefmt import rfc3339, to_ms
from infra.local.lambdas import load_functions

RUN = datetime(2026, 11, 21, tzinfo=UTC)


def scheduled(name: str, at: datetime) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "1",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": rfc3339(at),
        "region": "us-east-1",
        "resources": [f"arn:aws:events:us-east-1:000000000000:rule/{name}"],
        "detail": {},
    }


def engage(item: str, last: datetime, count: int = 1) -> AggregateKey:
    key = AggregateKey("u1", item)
    events = tuple(
        ObservedEvent(f"{item}-{n}", "u1", item, EventType.QUERY, to_ms(last), None, int(last.timestamp()))
        for n in range(count)
    )
    deps.store().apply(AggregateDelta(key, events))
    return key


def invoke(function: str, at: datetime) -> dict[str, Any]:
    result: dict[str, Any] = load_functions()[function].invoke(scheduled(function, at))
    return result


def test_decay_materializes_the_score_function_at_the_scheduled_instant(tables: dict[str, str]) -> None:
    key = engage("AI-1", RUN - timedelta(days=7), count=2)
    report = invoke("decay", RUN)
    assert report["run_at"] == "2026-11-21T00:00:00Z"
    assert (report["examined"], report["written"]) == (1, 1)
    stored = deps.store().get_aggregate(key)
    assert stored is not None
    expected = LINEAR.evaluate(2, to_ms(RUN - timedelta(days=7)), RUN).score
    assert stored.materialized_score == round(expected, 6)
    assert stored.materialized_at_ms == to_ms(RUN)


def test_the_same_run_twice_writes_nothing_the_second_time(tables: dict[str, str]) -> None:
    engage("AI-1", RUN - timedelta(days=3))
    engage("AI-2", RUN - timedelta(days=40))
    assert invoke("decay", RUN)["written"] == 2
    again = invoke("decay", RUN)
    assert (again["written"], again["already_done"]) == (0, 2)


def test_every_live_score_moves_with_time_so_a_later_run_rewrites_it(tables: dict[str, str]) -> None:
    engage("AI-1", RUN - timedelta(days=3))
    invoke("decay", RUN)
    engage("AI-2", RUN + timedelta(hours=1))
    later = invoke("decay", RUN + timedelta(days=1))
    assert (later["examined"], later["written"], later["unchanged"]) == (2, 2, 0)
    assert invoke("decay", RUN + timedelta(days=1))["written"] == 0


def test_a_score_that_decayed_to_nothing_is_not_rewritten(tables: dict[str, str]) -> None:
    engage("GONE", RUN - timedelta(days=200))  # rounds to 0.000000 at any later instant
    assert invoke("decay", RUN)["written"] == 1
    later = invoke("decay", RUN + timedelta(days=1))
    assert (later["written"], later["unchanged"]) == (0, 1)


def test_cleanup_deletes_only_what_scored_out_after_ninety_idle_days(tables: dict[str, str]) -> None:
    gone = engage("OLD", RUN - timedelta(days=91), count=5)
    recent = engage("NEW", RUN - timedelta(days=2))
    borderline = engage("MID", RUN - timedelta(days=60), count=5)  # idle but still above 0.01
    report = invoke("cleanup", RUN)
    assert (report["examined"], report["deleted"], report["kept"]) == (3, 1, 2)
    store = deps.store()
    assert store.get_aggregate(gone) is None
    assert store.get_aggregate(recent) is not None
    assert store.get_aggregate(borderline) is not None


def test_cleanup_twice_is_harmless(tables: dict[str, str]) -> None:
    engage("OLD", RUN - timedelta(days=120))
    assert invoke("cleanup", RUN)["deleted"] == 1
    assert invoke("cleanup", RUN)["deleted"] == 0
