"""Duplicate filtering on the aggregate item itself: exactly-once effect with one write.

Lambda delivers stream records at least once: after a partial failure it replays everything
from the lowest failed sequence number, and bisection replays halves. So every aggregate
remembers which events it has absorbed, in the same item and the same ``UpdateItem`` that adds
their counts; a write whose events were all seen before is refused by its condition.

What must be remembered is bounded by the mapping's maximum record age: Lambda discards a
record older than that, so a redelivery always arrives within ``window_s`` of the record's
creation (``ApproximateCreationDateTime``). Time is cut into windows of ``window_s``; window
``b`` stores its tokens in set attribute ``seen{b mod 4}``. A write whose newest record lies in
window ``b`` removes ``seen{(b - 2) mod 4}``: records from window ``b - 2`` (or older) are more
than one window old by now and can no longer be delivered, and a record from window ``b + 2``
cannot exist yet while one from ``b`` is still deliverable. The sets therefore hold at most two
windows of live tokens, and nothing ever reads them except the write that checks them.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from engagement.domain.aggregates import ObservedEvent
from engagement.topology import StreamMappingSpec

SLOTS = 4
CLOCK_MARGIN_S = 3600
STREAM_RETENTION_S = 24 * 3600


@dataclass(frozen=True)
class DedupeRing:
    window_s: int

    @classmethod
    def for_mapping(cls, mapping: StreamMappingSpec) -> DedupeRing:
        """A window longer than any redelivery delay the mapping allows, with a clock margin."""
        age = mapping.max_record_age_s if mapping.max_record_age_s > 0 else STREAM_RETENTION_S
        return cls(window_s=age + CLOCK_MARGIN_S)

    def slot(self, event: ObservedEvent) -> int:
        return (event.recorded_s // self.window_s) % SLOTS

    def stale_slot(self, events: Iterable[ObservedEvent]) -> int | None:
        """The slot this write may clear, or None when the write itself spans it."""
        events = list(events)
        newest_window = max(e.recorded_s for e in events) // self.window_s
        stale = (newest_window - 2) % SLOTS
        return None if stale in {self.slot(e) for e in events} else stale

    @staticmethod
    def attribute(slot: int) -> str:
        return f"seen{slot}"

    @staticmethod
    def token(event_id: str) -> str:
        """16 characters (96 bits) instead of the full id: smaller items, negligible collisions."""
        digest = hashlib.blake2b(event_id.encode(), digest_size=12).digest()
        return base64.urlsafe_b64encode(digest).decode()
