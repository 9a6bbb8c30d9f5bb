"""The daily run's history stretches against what happens around it: an erasure or an event
between the run's read and its write, another run racing it, runs missed while events arrive,
contacts written by an older scorer, and how long a stretch is kept. Each case came from an
outside review of the history change."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import boto3
import pytest

from engagement.domain.clock import ManualClock
from engagement.domain.contact_records import STRETCH_LIFE_MS
from engagement.domain.events import EventType
from engagement.store.contacts import ContactStore

from .api import call
from .helpers import run_job
from .test_scheduled_jobs import RUN, engage, engaged_contact, history_scores


@pytest.fixture(autouse=True)
def frozen(clock: ManualClock) -> ManualClock:
    clock.set(RUN + timedelta(minutes=5))
    return clock


def history_items(tables: dict[str, str], user: str) -> list[dict[str, Any]]:
    return boto3.client("dynamodb").query(
        TableName=tables["history"],
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": f"U#{user}"}},
    )["Items"]


def scores_as_of(user: str, *days: str) -> dict[str, float]:
    return {d: call("GET", f"/v1/users/{user}/score?as_of={d}T00:00:00Z").body["score"] for d in days}


def recorded_then_clicked(user: str) -> None:
    """A contact whose state a run recorded two days before RUN, then a click that no run has
    recorded yet (the one at RUN reads it)."""
    engaged_contact(user, RUN - timedelta(days=3))
    run_job("decay", RUN - timedelta(days=2))
    engage("spring", RUN - timedelta(hours=10), user=user, kind=EventType.CLICKED)


def before_the_write(monkeypatch: pytest.MonkeyPatch, meanwhile: Any) -> None:
    """Run ``meanwhile`` once, after the daily run read a contact and before it writes it."""
    original = ContactStore.schedule
    fired: list[bool] = []

    def schedule(self: ContactStore, user_id: str, **kwargs: Any) -> bool:
        if not fired:
            fired.append(True)
            meanwhile()
        return original(self, user_id, **kwargs)

    monkeypatch.setattr(ContactStore, "schedule", schedule)


def test_an_erasure_between_the_runs_read_and_its_write_leaves_nothing_of_the_person(
    tables: dict[str, str], clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    engaged_contact("c1", RUN - timedelta(days=2))
    before_the_write(monkeypatch, lambda: call("DELETE", "/v1/users/c1"))
    run_job("decay", RUN)
    assert history_items(tables, "c1") == []
    clock.set(RUN + timedelta(days=3))
    assert call("GET", "/v1/users/c1/history?from=2026-11-15&to=2026-11-23").status == 410


def test_an_event_between_the_runs_read_and_its_write_leaves_that_day_one_answer(
    tables: dict[str, str], clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorded_then_clicked("c1")
    before_the_write(
        monkeypatch,
        lambda: engage("spring", RUN + timedelta(minutes=3), count=3, user="c1", kind=EventType.CONVERTED),
    )
    run_job("decay", RUN)
    clock.set(RUN + timedelta(hours=12))
    during = history_scores("c1", "2026-11-19", "2026-11-22")
    clock.set(RUN + timedelta(days=1, minutes=5))
    run_job("decay", RUN + timedelta(days=1))
    after = history_scores("c1", "2026-11-19", "2026-11-22")
    # What the run read on the 21st was not kept (its write lost the race): no point that day,
    # before or after the next run records the newer state from the 22nd.
    assert "2026-11-21" not in after
    assert {d: s for d, s in during.items() if d < "2026-11-22"} == {
        d: s for d, s in after.items() if d < "2026-11-22"
    }
    truth = scores_as_of("c1", "2026-11-22")
    assert abs(after["2026-11-22"] - truth["2026-11-22"]) <= 0.05 + 1e-9


def test_two_runs_racing_leave_the_newer_state_in_force(
    tables: dict[str, str], clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorded_then_clicked("c1")

    def the_next_run_meanwhile() -> None:
        # Run A (day 0, restarted late) read the contact; conversions arrive, and run B (day 1)
        # reads and records the contact before A writes.
        clock.set(RUN + timedelta(days=1, minutes=1))
        engage("spring", RUN + timedelta(days=1), count=3, user="c1", kind=EventType.CONVERTED)
        clock.set(RUN + timedelta(days=1, minutes=5))
        run_job("decay", RUN + timedelta(days=1))

    before_the_write(monkeypatch, the_next_run_meanwhile)
    clock.set(RUN + timedelta(days=1))
    run_job("decay", RUN)
    monkeypatch.undo()
    clock.set(RUN + timedelta(days=10, minutes=5))
    for n in range(2, 11):
        run_job("decay", RUN + timedelta(days=n))
    history = history_scores("c1", "2026-11-22", "2026-12-01")
    truth = scores_as_of("c1", "2026-11-23", "2026-11-26", "2026-12-01")
    assert set(truth) <= set(history)  # the conversions move the score every day
    for day, score in truth.items():
        assert abs(history[day] - score) <= 0.05 + 1e-9, day


def test_runs_missed_while_events_arrive_on_several_days_leave_a_gap_not_a_wrong_point(
    tables: dict[str, str], clock: ManualClock
) -> None:
    for user in ("c1", "twin"):  # identical until day 5
        engaged_contact(user, RUN - timedelta(days=3))
    clock.set(RUN - timedelta(days=2, minutes=-5))
    run_job("decay", RUN - timedelta(days=2))
    for user in ("c1", "twin"):
        engage("spring", RUN + timedelta(days=1, hours=10), user=user, kind=EventType.CLICKED)
    # The runs of days 0 to 7 are missed; c1 converts on day 5.
    engage("spring", RUN + timedelta(days=5, hours=10), count=3, user="c1", kind=EventType.CONVERTED)
    clock.set(RUN + timedelta(days=8, minutes=5))
    run_job("decay", RUN + timedelta(days=8))
    days = ("2026-11-23", "2026-11-24", "2026-11-25", "2026-11-26", "2026-11-27", "2026-11-28", "2026-11-29")
    c1, twin = history_scores("c1", days[0], days[-1]), history_scores("twin", days[0], days[-1])
    # twin's one state is known from day 2 on; c1's states between its first and its last
    # events (days 2 to 5) were never read by a run: no point rather than a wrong one.
    assert set(twin) >= {"2026-11-23", "2026-11-24"}
    assert not set(c1) & {"2026-11-23", "2026-11-24", "2026-11-25", "2026-11-26"}
    truth = scores_as_of("c1", "2026-11-27", "2026-11-28", "2026-11-29")
    assert "2026-11-27" in c1
    for day, score in c1.items():
        assert abs(score - truth[day]) <= 0.05 + 1e-9, day


def test_events_an_older_scorer_applied_start_at_the_run_that_finds_them(
    tables: dict[str, str], clock: ManualClock
) -> None:
    for user in ("c1", "twin"):
        engaged_contact(user, RUN - timedelta(days=40))
    clock.set(RUN - timedelta(days=39, minutes=-5))
    run_job("decay", RUN - timedelta(days=39))
    # Yesterday a scorer from before this change (a rollback) applied conversions: the version
    # moved, and nothing says when.
    engage("spring", RUN - timedelta(hours=14), count=3, user="c1", kind=EventType.CONVERTED)
    boto3.client("dynamodb").update_item(
        TableName=tables["aggregates"],
        Key={"pk": {"S": "U#c1"}, "sk": {"S": "#USER"}},
        UpdateExpression="REMOVE unseen_ms, unseen_last_ms",
    )
    clock.set(RUN + timedelta(minutes=5))
    run_job("decay", RUN)
    assert history_scores("c1", "2026-10-13", "2026-11-20") == history_scores(
        "twin", "2026-10-13", "2026-11-20"
    )


def test_a_stretch_is_kept_no_longer_than_it_can_be_in_force_plus_the_retention(
    tables: dict[str, str], clock: ManualClock
) -> None:
    engaged_contact("c1", RUN - timedelta(days=2))
    run_job("decay", RUN)
    engage("spring", RUN + timedelta(hours=10), user="c1", kind=EventType.CLICKED)
    clock.set(RUN + timedelta(days=1, minutes=5))
    run_job("decay", RUN + timedelta(days=1))
    items = history_items(tables, "c1")
    assert len(items) == 2
    for item in items:
        kept_ms = int(item["expires_at"]["N"]) * 1000 - int(item["at_ms"]["N"])
        assert kept_ms == STRETCH_LIFE_MS + 400 * 86_400_000  # HISTORY_RETENTION_DAYS: 400
