"""Duplicate filtering on the aggregate item itself: exactly-once effect with one write.

Lambda delivers stream records at least once: after a partial failure it replays everything
from the lowest failed sequence number, and bisection replays halves. So every aggregate
remembers which events it has absorbed, in the same item and the same ``UpdateItem`` that adds
their counts; a write whose events were all seen before is refused by its condition.

What must be remembered is bounded by the mapping's maximum record age: Lambda discards a
record older than that, so a redelivery always arrives within ``WINDOW_S`` of the record's
creation (``ApproximateCreationDateTime``). Time is cut into windows of ``WINDOW_S``; window
``b`` stores its tokens in set attribute ``seen{b mod 4}``. A write whose newest record lies in
window ``b`` removes ``seen{(b - 2) mod 4}``: records from window ``b - 2`` (or older) are more
than one window old by now and can no longer be delivered, and a record from window ``b + 2``
cannot exist yet while one from ``b`` is still deliverable. The tokens that can still matter
therefore span two windows; a slot that no write clears (an idle aggregate) keeps its dead
tokens until the next write two windows on, so an item holds at most the tokens of its own
last few active windows.

The window is part of the stored format (it decides which attribute a token lives in), so it
is a constant, not derived from the topology: a test holds it above the mapping's maximum record
age plus a clock margin, and raising the age past it needs a new attribute prefix, not an edit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from engagement.domain.aggregates import ObservedEvent
from engagement.topology import StreamMappingSpec

SLOTS = 4
WINDOW_S = 7 * 3600
CLOCK_MARGIN_S = 3600
TOKEN_BYTES = 8


@dataclass(frozen=True)
class DedupeRing:
    window_s: int = WINDOW_S

    @classmethod
    def for_mapping(cls, mapping: StreamMappingSpec) -> DedupeRing:
        """The ring, after checking that no redelivery the mapping allows can outlive it."""
        if mapping.max_record_age_s + CLOCK_MARGIN_S > WINDOW_S:
            raise ValueError(
                f"the mapping keeps records up to {mapping.max_record_age_s} s, longer than the dedupe "
                f"window ({WINDOW_S} s minus a {CLOCK_MARGIN_S} s margin); see engagement.store.dedupe"
            )
        return cls()

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
    def token(event_id: str) -> bytes:
        """8 bytes instead of the full id: small items (DynamoDB bills a write by item size).

        A false match needs two of the few thousand live tokens of one aggregate to collide
        in 64 bits: odds around 1e-12.
        """
        return hashlib.blake2b(event_id.encode(), digest_size=TOKEN_BYTES).digest()
