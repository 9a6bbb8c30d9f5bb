"""Deliver a DynamoDB stream to its function with Lambda's event source mapping semantics.

What Lambda does, and so what this does, per shard and in order (Lambda DG "Using AWS Lambda
with Amazon DynamoDB", "services-ddb-batchfailurereporting"):

* filter records by ``eventName`` before batching; a filtered record is gone for this consumer;
* invoke when ``batch_size`` records wait or the batching window has passed since the first;
* success (or any response when partial responses are off): checkpoint after the batch;
* a partial response: checkpoint at the lowest failed sequence number and redeliver from it,
  including later records that succeeded; an empty or unknown ``itemIdentifier`` fails the
  whole batch;
* a function error with bisect on: split the batch in two and retry the halves separately,
  without consuming retry attempts;
* otherwise count a retry; past ``retry_attempts`` retries, or once the head record is older
  than ``max_record_age_s``, discard the batch and send its metadata (never the records) to the
  on-failure destination, then move on, so one poison record cannot stall the shard forever.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from engagement.domain.clock import Clock
from engagement.domain.timefmt import rfc3339
from engagement.topology import StreamMappingSpec
from infra.local.faults import Faults
from infra.local.lambdas import LocalFunction
from infra.local.stream_records import LambdaRecord, StreamReader, sequence_of

FailureCondition = Literal["RetryAttemptsExhausted", "RecordAgeExceeded"]


class FailureStore:
    """The local on-failure destination: what Lambda would send to the SQS queue."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[dict[str, Any]] = []
        self.on_add: Callable[[dict[str, Any]], None] | None = None
        """Called with each message before ``add`` returns (the runner makes it durable)."""

    def add(self, message: dict[str, Any]) -> None:
        with self._lock:
            self._messages.append(message)
        if self.on_add is not None:
            self.on_add(message)

    def messages(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._messages)


@dataclass
class PumpStats:
    invocations: int = 0
    records_delivered: int = 0
    largest_batch: int = 0
    discarded_records: int = 0


@dataclass
class _Outcome:
    kind: Literal["ok", "partial", "error"]
    failed_sequence: int | None = None
    error: str | None = None


@dataclass
class _ShardState:
    pending: list[LambdaRecord] = field(default_factory=list)
    waiting_since: float | None = None
    """Monotonic time the oldest undelivered record arrived (the batching window starts then)."""
    retries: int = 0
    retries_head: int | None = None
    planned_sizes: list[int] = field(default_factory=list)
    """Batch sizes imposed by bisection, consumed front to back."""
    checkpoint: int | None = None
    """The last checkpoint reported: the first sequence number not yet consumed."""


class StreamPump:
    def __init__(
        self,
        mapping: StreamMappingSpec,
        *,
        reader: StreamReader,
        function: LocalFunction,
        clock: Clock,
        failures: FailureStore,
        log: Callable[[str], None],
        faults: Faults | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        on_checkpoint: Callable[[str, int], None] | None = None,
        age_credit: Callable[[int], int] | None = None,
    ) -> None:
        """``on_checkpoint(shard_id, sequence)`` is called, under the pump's lock, whenever every
        record before ``sequence`` has been consumed (delivered, filtered out or discarded): the
        runner makes it durable before the next batch. ``age_credit(created_s)`` gives seconds
        not to count in a record's age (the runner was stopped)."""
        self.mapping = mapping
        self.on_checkpoint = on_checkpoint
        self.age_credit = age_credit
        self._monotonic = monotonic
        self.faults = faults or Faults(log=log)
        self.reader = reader
        self.function = function
        self.clock = clock
        self.failures = failures
        self.log = log
        self._shards: dict[str, _ShardState] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.name = f"{mapping.table} -> {mapping.function}"
        self.stats = PumpStats()
        # Read without the lock by status requests, which must answer while a batch runs (the
        # lock is held for the whole batch); plain ints, written under the lock.
        self._pending_total = 0
        self.in_flight = 0
        """Records of the batch being delivered now (0 between batches)."""

    # ------------------------------------------------------------------ lifecycle

    def start(self, poll_interval_s: float = 0.1) -> None:
        def loop() -> None:
            while not self._stop.is_set():
                try:
                    worked = self.step()
                except Exception as exc:
                    self.log(f"pump error: {type(exc).__name__}")
                    worked = False
                if not worked:
                    self._stop.wait(poll_interval_s)

        self._thread = threading.Thread(target=loop, name=f"pump-{self.mapping.function}", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 120.0) -> bool:
        """Stop polling; waits for the batch in flight to finish (its checkpoint with it).
        False when it did not finish in time (it is then delivered again after a restart)."""
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=timeout_s)
            return not self._thread.is_alive()
        return True

    def drain(self, stalled_s: float = 30.0) -> None:
        """Deliver everything available now, ignoring the batching window; returns when idle.

        A long backlog is not a failure: this gives up only when ``stalled_s`` pass without
        the checkpoint moving (a batch retried over and over, say)."""
        progress = self._progress()
        deadline = time.monotonic() + stalled_s
        while self.step(flush=True):
            now = self._progress()
            if now != progress:
                progress, deadline = now, time.monotonic() + stalled_s
            elif time.monotonic() > deadline:
                raise TimeoutError(f"the stream made no progress for {stalled_s:.0f} s")

    def _progress(self) -> dict[str, int | None]:
        """Where each shard's consumption stands: a retried batch does not move it."""
        with self._lock:
            return {shard_id: self._consumed(shard_id, state) for shard_id, state in self._shards.items()}

    def _consumed(self, shard_id: str, state: _ShardState) -> int | None:
        return sequence_of(state.pending[0]) if state.pending else self.reader.next_sequence(shard_id)

    # ------------------------------------------------------------------ delivery

    def step(self, *, flush: bool = False) -> bool:
        """Poll once and deliver at most one batch per shard; True when anything happened."""
        if self.faults.stream_held:
            return False  # the scorer is down: its records wait in the stream, unread
        with self._lock:
            worked = False
            for shard_id, records in self.reader.poll_shards().items():
                wanted = [r for r in records if r["eventName"] in self.mapping.event_names]
                state = self._shards.setdefault(shard_id, _ShardState())
                if wanted and not state.pending:
                    state.waiting_since = self._monotonic()
                state.pending.extend(wanted)
                worked = worked or bool(records)
            self._pending_total = sum(len(s.pending) for s in self._shards.values())
            for shard_id, state in self._shards.items():
                if state.pending and (flush or self._batch_ready(state)):
                    self._deliver(shard_id, state)
                    worked = True
            self._pending_total = sum(len(s.pending) for s in self._shards.values())
            self._report_checkpoints()
            return worked

    def _report_checkpoints(self) -> None:
        if self.on_checkpoint is None:
            return
        for shard_id, state in self._shards.items():
            consumed = self._consumed(shard_id, state)
            if consumed is not None and consumed != state.checkpoint:
                self.on_checkpoint(shard_id, consumed)
                state.checkpoint = consumed

    def _batch_ready(self, state: _ShardState) -> bool:
        if len(state.pending) >= self.mapping.batch_size or state.planned_sizes:
            return True
        since = self._monotonic() if state.waiting_since is None else state.waiting_since
        waited = self._monotonic() - since
        return waited >= self.mapping.max_batching_window_s

    def _deliver(self, shard_id: str, state: _ShardState) -> None:
        self._expire(shard_id, state)
        if not state.pending:
            return
        size = state.planned_sizes[0] if state.planned_sizes else self.mapping.batch_size
        batch = state.pending[:size]
        started = time.monotonic()
        self.stats.invocations += 1
        self.stats.records_delivered += len(batch)
        self.stats.largest_batch = max(self.stats.largest_batch, len(batch))
        self.in_flight = len(batch)
        try:
            outcome = self._invoke(batch)
        finally:
            self.in_flight = 0
        took_ms = (time.monotonic() - started) * 1000
        head = sequence_of(batch[0])

        if outcome.kind == "ok":
            del state.pending[: len(batch)]
            if state.planned_sizes:
                state.planned_sizes.pop(0)
            self._reset(state)
            self.log(f"{self.name}: {len(batch)} records ok ({took_ms:.0f} ms)")
        elif outcome.kind == "partial":
            assert outcome.failed_sequence is not None
            done = sum(1 for r in batch if sequence_of(r) < outcome.failed_sequence)
            del state.pending[:done]
            state.planned_sizes.clear()
            self._count_retry(state, sequence_of(state.pending[0]))
            self.log(
                f"{self.name}: {len(batch)} records, "
                f"partial failure from {outcome.failed_sequence}; checkpoint after {done} ({took_ms:.0f} ms)"
            )
            self._give_up_if_exhausted(shard_id, state, state.pending[: len(batch) - done])
        else:
            if self.mapping.bisect_batch_on_error and len(batch) > 1:
                half = (len(batch) + 1) // 2
                if state.planned_sizes:
                    state.planned_sizes.pop(0)
                state.planned_sizes[:0] = [half, len(batch) - half]
                self.log(
                    f"{self.name}: {len(batch)} records failed "
                    f"({outcome.error}); bisecting into {half} + {len(batch) - half}"
                )
                return
            self._count_retry(state, head)
            self.log(
                f"{self.name}: {len(batch)} records failed "
                f"({outcome.error}); retry {state.retries} of {self.mapping.retry_attempts}"
            )
            self._give_up_if_exhausted(shard_id, state, batch)

    def _invoke(self, batch: Sequence[LambdaRecord]) -> _Outcome:
        if self.faults.stream_delay_s:
            self.log(f"delivery delayed {self.faults.stream_delay_s * 1000:.0f} ms")
            time.sleep(self.faults.stream_delay_s)
        failing, mode = self.faults.failing(batch)
        if mode == "error":
            return _Outcome("error", error="injected fault: the function crashed")
        delivered = [r for r in batch if r not in failing]
        try:
            response = self.function.invoke({"Records": delivered}) if delivered else None
        except Exception as exc:
            # The kind only: an exception's message can quote a record (a number, a text).
            return _Outcome("error", error=type(exc).__name__)
        if failing:
            reported = list(response.get("batchItemFailures") or []) if isinstance(response, dict) else []
            reported += [{"itemIdentifier": r["dynamodb"]["SequenceNumber"]} for r in failing]
            response = {"batchItemFailures": reported}
        if not self.mapping.report_batch_item_failures:
            return _Outcome("ok")  # Lambda ignores the response body without ReportBatchItemFailures
        return _partial_outcome(response, batch)

    def _count_retry(self, state: _ShardState, head: int) -> None:
        if state.retries_head != head:
            state.retries_head, state.retries = head, 0
        state.retries += 1

    def _reset(self, state: _ShardState) -> None:
        state.retries, state.retries_head = 0, None
        state.waiting_since = self._monotonic() if state.pending else None

    def _give_up_if_exhausted(self, shard_id: str, state: _ShardState, batch: Sequence[LambdaRecord]) -> None:
        if state.retries <= self.mapping.retry_attempts or not batch:
            return
        self._discard(shard_id, state, list(batch), "RetryAttemptsExhausted", state.retries)

    def _expire(self, shard_id: str, state: _ShardState) -> None:
        oldest_allowed = self.clock.now() - timedelta(seconds=self.mapping.max_record_age_s)
        expired = 0
        for record in state.pending:
            created_s = int(record["dynamodb"]["ApproximateCreationDateTime"])
            credit = self.age_credit(created_s) if self.age_credit else 0
            if datetime.fromtimestamp(created_s + credit, UTC) >= oldest_allowed:
                break
            expired += 1
        if expired:
            self._discard(shard_id, state, state.pending[:expired], "RecordAgeExceeded", state.retries + 1)

    def _discard(
        self,
        shard_id: str,
        state: _ShardState,
        batch: list[LambdaRecord],
        condition: FailureCondition,
        invocations: int,
    ) -> None:
        del state.pending[: len(batch)]
        state.planned_sizes.clear()
        self._reset(state)
        self.stats.discarded_records += len(batch)
        self.failures.add(self._failure_message(shard_id, batch, condition, invocations))
        self.log(
            f"{self.name}: {condition}; {len(batch)} records "
            f"({sequence_of(batch[0])}..{sequence_of(batch[-1])}) sent to the failure store"
        )

    def _failure_message(
        self, shard_id: str, batch: list[LambdaRecord], condition: FailureCondition, invocations: int
    ) -> dict[str, Any]:
        """The shape Lambda sends to an SQS/SNS on-failure destination: batch metadata only."""

        def arrival(record: LambdaRecord) -> str:
            created = int(record["dynamodb"]["ApproximateCreationDateTime"])
            return rfc3339(datetime.fromtimestamp(created, UTC))

        return {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": self.function.arn,
                "condition": condition,
                "approximateInvokeCount": invocations,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "version": "1.0",
            "timestamp": rfc3339(self.clock.now()),
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": batch[0]["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": batch[-1]["dynamodb"]["SequenceNumber"],
                "approximateArrivalOfFirstRecord": arrival(batch[0]),
                "approximateArrivalOfLastRecord": arrival(batch[-1]),
                "batchSize": len(batch),
                "streamArn": self.reader.arn,
            },
        }

    def pending(self) -> int:
        """Records read and not yet consumed, as of the last poll; never waits for a batch."""
        return self._pending_total


def _partial_outcome(response: Any, batch: Sequence[LambdaRecord]) -> _Outcome:
    """Read a response the way Lambda does when ReportBatchItemFailures is on."""
    if not isinstance(response, dict) or not response.get("batchItemFailures"):
        return _Outcome("ok")  # null/empty response or list: complete success
    sequences = {sequence_of(r) for r in batch}
    failed: list[int] = []
    for failure in response["batchItemFailures"]:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or not identifier.isdigit() or int(identifier) not in sequences:
            return _Outcome("error", error=f"invalid itemIdentifier {identifier!r}: whole batch failed")
        failed.append(int(identifier))
    return _Outcome("partial", failed_sequence=min(failed))
