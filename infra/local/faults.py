"""Faults a developer can switch on to watch the system cope: throttled writes, a scorer that
fails on chosen records, a slow stream. Each one is announced in the runner's log when it bites.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from infra.local.stream_records import LambdaRecord

FailureMode = Literal["partial", "error"]
MATCHABLE_FIELDS = ("event_id", "user_id", "item_id", "type")


@dataclass
class RecordFailureRule:
    """Make the scorer fail on records whose new image matches every given field.

    ``partial``: the matching records are withheld from the function and reported in
    ``batchItemFailures``, as if the function had failed on exactly those records.
    ``error``: the invocation raises, as a crash would (bisection then isolates the record).
    ``times`` None fails forever (a poison record); a number heals after that many failures.
    """

    match: dict[str, str]
    mode: FailureMode = "partial"
    times: int | None = None
    hits: int = 0

    def matches(self, record: LambdaRecord) -> bool:
        image = record.get("dynamodb", {}).get("NewImage") or {}
        return all(str(next(iter(image.get(k, {}).values()), "")) == v for k, v in self.match.items())

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.hits >= self.times


@dataclass
class Faults:
    log: Callable[[str], None] = print
    throttle_writes: int = 0
    """The next N DynamoDB write requests answer ProvisionedThroughputExceededException."""
    stream_delay_s: float = 0.0
    """Extra wait before every stream delivery."""
    stream_held: bool = False
    """The scorer is down: records pile up in the stream until released (or the runner stops)."""
    record_rules: list[RecordFailureRule] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def configure(self, settings: Mapping[str, Any]) -> None:
        """Apply a JSON request body from ``POST /_local/faults``; raises ValueError on bad input."""
        unknown = set(settings) - {"throttle_writes", "stream_delay_ms", "fail_records", "hold_stream"}
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        with self._lock:
            if "throttle_writes" in settings:
                self.throttle_writes = _non_negative_int(settings["throttle_writes"], "throttle_writes")
            if "stream_delay_ms" in settings:
                self.stream_delay_s = _non_negative_int(settings["stream_delay_ms"], "stream_delay_ms") / 1000
            if "fail_records" in settings:
                self.record_rules.append(_rule(settings["fail_records"]))
            if "hold_stream" in settings:
                if not isinstance(settings["hold_stream"], bool):
                    raise ValueError("hold_stream must be true or false")
                self.stream_held = settings["hold_stream"]

    def clear(self) -> None:
        with self._lock:
            self.throttle_writes, self.stream_delay_s, self.stream_held = 0, 0.0, False
            self.record_rules.clear()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "throttle_writes": self.throttle_writes,
                "stream_delay_ms": int(self.stream_delay_s * 1000),
                "hold_stream": self.stream_held,
                "fail_records": [asdict(rule) for rule in self.record_rules if not rule.exhausted],
            }

    def take_write_throttle(self, operation: str) -> bool:
        with self._lock:
            if self.throttle_writes <= 0:
                return False
            self.throttle_writes -= 1
            left = self.throttle_writes
        self.log(f"throttled DynamoDB {operation} ({left} more to throttle)")
        return True

    def failing(self, batch: Sequence[LambdaRecord]) -> tuple[list[LambdaRecord], FailureMode | None]:
        """The records of ``batch`` that must fail now, and how; counts each as one failure."""
        with self._lock:
            failing: list[LambdaRecord] = []
            mode: FailureMode | None = None
            for rule in self.record_rules:
                if rule.exhausted:
                    continue
                hit = [r for r in batch if rule.matches(r) and r not in failing]
                if hit:
                    rule.hits += 1
                    failing.extend(hit)
                    mode = "error" if rule.mode == "error" or mode == "error" else "partial"
        if failing:
            sequences = ", ".join(r["dynamodb"]["SequenceNumber"] for r in failing)
            self.log(f"scorer fails ({mode}) on records {sequences}")
        return failing, mode


def _non_negative_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer")
    return value


def _rule(spec: Any) -> RecordFailureRule:
    if not isinstance(spec, Mapping):
        raise ValueError("fail_records must be an object")
    match = {k: str(v) for k, v in spec.items() if k in MATCHABLE_FIELDS}
    if not match:
        raise ValueError(f"fail_records needs at least one of {', '.join(MATCHABLE_FIELDS)}")
    mode = spec.get("mode", "partial")
    if mode not in ("partial", "error"):
        raise ValueError("fail_records.mode must be partial or error")
    times = spec.get("times")
    if times is not None:
        times = _non_negative_int(times, "fail_records.times")
    return RecordFailureRule(match=match, mode=mode, times=times)
