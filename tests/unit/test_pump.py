"""The stream pump against Lambda's event source mapping rules, with scripted collaborators."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engagement.domain.clock import ManualClock
from engagement.topology import TOPOLOGY, StreamMappingSpec
from infra.local.faults import Faults
from infra.local.pump import FailureStore, StreamPump

START = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
MAPPING = TOPOLOGY.stream_mapping_for("scorer")


def record(seq: int, user: str = "u", name: str = "INSERT", created: datetime = START) -> dict[str, Any]:
    return {
        "eventID": str(seq),
        "eventName": name,
        "dynamodb": {
            "SequenceNumber": str(seq),
            "ApproximateCreationDateTime": int(created.timestamp()),
            "NewImage": {"user_id": {"S": user}},
        },
    }


class Reader:
    arn = "arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/x"

    def __init__(self, *records: dict[str, Any]) -> None:
        self.queue = list(records)
        self.next: int | None = None

    def poll_shards(self, limit: int = 1000) -> dict[str, list[dict[str, Any]]]:
        found, self.queue = self.queue, []
        if found:
            self.next = int(found[-1]["dynamodb"]["SequenceNumber"]) + 1
        return {"shard-1": found} if found else {}

    def next_sequence(self, shard_id: str) -> int | None:
        return self.next


class Function:
    """Fails on records of the users it is told to, the way the real scorer can."""

    arn = "arn:aws:lambda:us-east-1:000000000000:function:scorer"

    def __init__(
        self,
        *,
        fail_users: dict[str, int] | None = None,
        crash_users: set[str] | None = None,
        response: Any = None,
    ) -> None:
        self.batches: list[list[int]] = []
        self.fail_users = dict(fail_users or {})  # user -> failures left (-1: forever)
        self.crash_users = crash_users or set()
        self.response = response

    def invoke(self, event: dict[str, Any]) -> Any:
        records = event["Records"]
        self.batches.append([int(r["dynamodb"]["SequenceNumber"]) for r in records])
        users = [r["dynamodb"]["NewImage"]["user_id"]["S"] for r in records]
        if self.crash_users & set(users):
            raise RuntimeError("crash")
        if self.response is not None:
            return self.response
        failed = []
        for r, user in zip(records, users, strict=True):
            if self.fail_users.get(user, 0) != 0:
                self.fail_users[user] -= 1
                failed.append({"itemIdentifier": r["dynamodb"]["SequenceNumber"]})
        return {"batchItemFailures": failed}


class Monotonic:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def pump(
    reader: Reader, function: Function, mapping: StreamMappingSpec = MAPPING, **kwargs: Any
) -> StreamPump:
    return StreamPump(
        mapping,
        reader=reader,  # type: ignore[arg-type]
        function=function,  # type: ignore[arg-type]
        clock=kwargs.pop("clock", ManualClock(START)),
        failures=kwargs.pop("failures", FailureStore()),
        log=lambda _: None,
        **kwargs,
    )


def test_batches_hold_at_most_batch_size_records_in_order() -> None:
    function = Function()
    p = pump(Reader(*(record(n) for n in range(1, 251))), function)
    p.drain()
    assert [len(b) for b in function.batches] == [100, 100, 50]
    assert [n for b in function.batches for n in b] == list(range(1, 251))


def test_a_partial_batch_waits_for_the_batching_window() -> None:
    clock = Monotonic()
    function = Function()
    p = pump(Reader(record(1)), function, monotonic=clock)
    p.step()
    assert function.batches == []
    clock.now = MAPPING.max_batching_window_s - 0.01
    p.step()
    assert function.batches == []
    clock.now = MAPPING.max_batching_window_s
    p.step()
    assert function.batches == [[1]]


def test_only_the_mappings_event_names_reach_the_function() -> None:
    function = Function()
    pump(Reader(record(1), record(2, name="MODIFY"), record(3, name="REMOVE"), record(4)), function).drain()
    assert function.batches == [[1, 4]]


def test_a_partial_failure_checkpoints_at_the_lowest_failed_record_and_replays_the_rest() -> None:
    function = Function(fail_users={"flaky": 1})
    pump(Reader(record(1), record(2), record(3, "flaky"), record(4), record(5)), function).drain()
    assert function.batches == [[1, 2, 3, 4, 5], [3, 4, 5]]


def test_a_poison_record_is_discarded_after_the_retries_and_the_records_behind_it_still_run() -> None:
    failures = FailureStore()
    function = Function(fail_users={"poison": -1})
    pump(Reader(record(1), record(2, "poison"), record(3), record(4)), function, failures=failures).drain()
    assert function.batches[0] == [1, 2, 3, 4]
    assert function.batches[1:] == [[2, 3, 4]] * MAPPING.retry_attempts
    [message] = failures.messages()
    assert message["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert message["requestContext"]["approximateInvokeCount"] == MAPPING.retry_attempts + 1
    info = message["DDBStreamBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == ("2", "4", 3)
    assert "Records" not in message  # metadata only, as Lambda sends


def test_a_crash_bisects_the_batch_until_the_bad_record_stands_alone() -> None:
    failures = FailureStore()
    function = Function(crash_users={"bad"})
    pump(Reader(record(1), record(2), record(3, "bad"), record(4)), function, failures=failures).drain()
    assert function.batches[:4] == [[1, 2, 3, 4], [1, 2], [3, 4], [3]]
    assert function.batches[4:] == [[3]] * MAPPING.retry_attempts + [[4]]
    [message] = failures.messages()
    assert message["DDBStreamBatchInfo"]["batchSize"] == 1


def test_without_bisect_a_crash_retries_the_whole_batch_then_discards_it() -> None:
    failures = FailureStore()
    function = Function(crash_users={"bad"})
    mapping = replace(MAPPING, bisect_batch_on_error=False, retry_attempts=2)
    pump(Reader(record(1), record(2, "bad")), function, mapping, failures=failures).drain()
    assert function.batches == [[1, 2]] * 3
    assert failures.messages()[0]["DDBStreamBatchInfo"]["batchSize"] == 2


def test_records_older_than_the_maximum_age_are_discarded_unread() -> None:
    clock = ManualClock(START)
    failures = FailureStore()
    function = Function()
    p = pump(
        Reader(record(1), record(2, created=START + timedelta(hours=7))),
        function,
        clock=clock,
        failures=failures,
    )
    clock.set(START + timedelta(hours=7))
    p.drain()
    assert function.batches == [[2]]
    assert failures.messages()[0]["requestContext"]["condition"] == "RecordAgeExceeded"


@pytest.mark.parametrize("identifier", ["", None, "999"])
def test_an_invalid_item_identifier_fails_the_whole_batch(identifier: Any) -> None:
    function = Function(response={"batchItemFailures": [{"itemIdentifier": identifier}]})
    mapping = replace(MAPPING, bisect_batch_on_error=False, retry_attempts=1)
    failures = FailureStore()
    pump(Reader(record(1), record(2)), function, mapping, failures=failures).drain()
    assert function.batches == [[1, 2], [1, 2]]
    assert failures.messages()[0]["DDBStreamBatchInfo"]["batchSize"] == 2


def test_without_report_batch_item_failures_the_response_is_ignored() -> None:
    function = Function(fail_users={"x": -1})
    mapping = replace(MAPPING, report_batch_item_failures=False)
    pump(Reader(record(1, "x"), record(2)), function, mapping).drain()
    assert function.batches == [[1, 2]]


def test_an_injected_record_fault_withholds_the_record_and_reports_it() -> None:
    faults = Faults(log=lambda _: None)
    faults.configure({"fail_records": {"user_id": "chosen", "times": 1}})
    function = Function()
    pump(Reader(record(1), record(2, "chosen"), record(3)), function, faults=faults).drain()
    assert function.batches == [[1, 3], [2, 3]]


def test_checkpoints_follow_consumption_never_a_record_still_to_deliver() -> None:
    """What the runner makes durable: a restart resumes at the last one, so a delivered batch is
    not delivered again and a stored record is never skipped."""
    reported: list[int] = []
    function = Function(fail_users={"flaky": 1})
    records = [record(n) for n in range(1, 6)]
    records[2] = record(3, "flaky")
    p = pump(
        Reader(*records, record(6, name="REMOVE")), function, on_checkpoint=lambda _, s: reported.append(s)
    )
    p.drain()
    # After the partial failure only records 1 and 2 are consumed; the retry consumes the rest,
    # and the filtered REMOVE behind them is consumed by being read.
    assert reported == [3, 7]


def test_pending_and_the_batch_in_flight_are_readable_while_a_batch_holds_the_lock() -> None:
    seen: list[tuple[int, int]] = []
    p: StreamPump

    class Slow(Function):
        def invoke(self, event: dict[str, Any]) -> Any:
            # Another thread asking for status now must not wait for this batch.
            assert not p._lock.acquire(blocking=False)
            seen.append((p.pending(), p.in_flight))
            return super().invoke(event)

    p = pump(Reader(*(record(n) for n in range(1, 151))), Slow())
    p.drain()
    assert seen == [(150, 100), (50, 50)]
    assert (p.pending(), p.in_flight) == (0, 0)


def test_time_the_runner_was_stopped_does_not_age_a_record() -> None:
    failures = FailureStore()
    function = Function()
    old = START - timedelta(seconds=MAPPING.max_record_age_s + 3600)
    credit = {int(old.timestamp()): 7200}  # stopped for two hours after the record was stored
    p = pump(
        Reader(record(1, created=old)), function, failures=failures, age_credit=lambda s: credit.get(s, 0)
    )
    p.drain()
    assert function.batches == [[1]]
    assert failures.messages() == []
