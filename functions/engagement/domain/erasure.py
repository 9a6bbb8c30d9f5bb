"""Forgetting a person: the rules that keep an erasure from coming undone (pure).

An erasure is recorded under a keyed hash of the person's id, never the id: the record must
outlive the data (a late webhook, a stream record in flight, a replayed request all still name
the person) without itself being personal data anyone can read back. HMAC with a secret key,
not a plain hash: phone numbers are few enough to hash them all and find the one behind a
plain digest.

What the record decides:

* while the erasure is **in progress**, every event of the person is dropped wherever it turns
  up (ingest stores nothing; the scorer absorbs nothing), so the passes that remove the data
  never race an aggregate absorbing new events they would then delete;
* once it is **complete**, the erasure instant is when it completed: an event of the person that
  occurred before it, or up to ingest's five-minute allowance for fast clocks after it (such an
  event could have been stored before the erasure), is dropped; one that occurred later is new
  data, and the person exists again from that event on;
* a **delivery receipt** (delivered, bounced) of the person received within a window after the
  erasure is dropped too: it reports on a message sent before the erasure, whatever time it
  carries (Twilio's carry none: they are timed at receipt);
* a person who had **opted out** stays suppressed: the record keeps when and why (from the
  contact, and from the opt-out and opt-in events the erasure removes, whether or not the scorer
  had seen them yet), and when the person comes back with new events, the opt-out is written
  back first, at its own instant, so every profile, band and segment sees them suppressed until
  they opt in again.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal, Protocol

from engagement.domain.aggregates import ObservedEvent
from engagement.domain.event_types import EventType
from engagement.domain.ids import stable_id
from engagement.domain.instants import FUTURE_TOLERANCE

if TYPE_CHECKING:
    from engagement.domain.contact import ContactState

Status = Literal["in_progress", "complete"]
RECEIPT_TYPES = frozenset({EventType.DELIVERED, EventType.BOUNCED})
"""What a provider reports about a message the operator sent, rather than what the person did."""

SUPPRESSION_SOURCE = "erasure"
"""The source (and id namespace) of the opt-out an erasure writes back."""

FUTURE_ALLOWANCE_MS = int(FUTURE_TOLERANCE.total_seconds() * 1000)
"""How far ahead of its receipt an event may be dated (ingest's allowance for fast clocks): an
event stored before the erasure may be dated that much after it."""


def person_hash(key: str, user_id: str) -> str:
    """The name an erasure is recorded under: HMAC-SHA256 of the id, hex."""
    return hmac.new(key.encode("utf-8"), user_id.encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Erasure:
    hashed: str
    erased_at_ms: int
    """When the erasure completed (while in progress: when it began)."""
    status: Status
    suppressed_since_ms: int | None = None
    """The person's latest opt-out known to the erasure (suppressed unless an opt-in is newer)."""
    opt_out_reason: str | None = None
    opted_in_ms: int | None = None
    """The person's latest opt-in known to the erasure."""
    counts: Mapping[str, int] = field(default_factory=dict)
    """What was removed, by kind (events, engagements, history, links...), for the audit."""
    updated_ms: int = 0

    def covers(self, occurred_ms: int, event_id: str = "") -> bool:
        """Whether an event is the erased person's: any, while the erasure runs; once complete,
        one that could have been stored before it (and is not the opt-out the erasure itself
        writes back, which occurred before it on purpose)."""
        if self.status == "in_progress":
            return True
        return occurred_ms < self.erased_at_ms + FUTURE_ALLOWANCE_MS and event_id != self.carried_opt_out_id

    def drops(
        self, event_id: str, kind: EventType, occurred_ms: int, *, received_ms: int, receipt_window_ms: int
    ) -> bool:
        """Whether an incoming event must not be stored: it is covered, or it is a delivery
        receipt received within ``receipt_window_ms`` of the erasure."""
        if self.covers(occurred_ms, event_id):
            return True
        return kind in RECEIPT_TYPES and received_ms < self.erased_at_ms + receipt_window_ms

    @property
    def carried_opt_out_id(self) -> str:
        return stable_id(SUPPRESSION_SOURCE, self.hashed, self.erased_at_ms)

    @property
    def suppressed(self) -> bool:
        """Opted out, and not opted in since."""
        out, opted_in = self.suppressed_since_ms, self.opted_in_ms
        return out is not None and (opted_in is None or out > opted_in)


def drop_erased(
    events: Iterable[ObservedEvent], erasures: Mapping[str, Erasure]
) -> tuple[list[ObservedEvent], list[ObservedEvent]]:
    """(kept, dropped): ``erasures`` maps a user id to its erasure, for the users it has one."""
    kept: list[ObservedEvent] = []
    dropped: list[ObservedEvent] = []
    for event in events:
        erasure = erasures.get(event.user_id)
        covered = erasure is not None and erasure.covers(event.occurred_ms, event.event_id)
        (dropped if covered else kept).append(event)
    return kept, dropped


@dataclass
class ErasePass:
    """What one pass over a person's data removed, by kind, and whether nothing is left."""

    counts: dict[str, int] = field(default_factory=dict)
    done: bool = False
    opted_out: tuple[int, str | None] | None = None
    """The latest opt-out among the events removed: (occurred_ms, reason)."""
    opted_in_ms: int | None = None
    """The latest opt-in among the events removed."""

    def add(self, kind: str, n: int = 1) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + n

    def saw(self, kind: str, occurred_ms: int, reason: str | None) -> None:
        """Note a removed event's type: an opt-out or opt-in must outlive it."""
        if kind == EventType.OPTED_OUT and (self.opted_out is None or occurred_ms >= self.opted_out[0]):
            self.opted_out = (occurred_ms, reason or EventType.OPTED_OUT.value)
        elif kind == EventType.OPTED_IN and (self.opted_in_ms is None or occurred_ms > self.opted_in_ms):
            self.opted_in_ms = occurred_ms


class PersonData(Protocol):
    def holds_anything(self, user_id: str) -> bool: ...
    def contact_state(self, user_id: str) -> ContactState | None: ...
    def erase_pass(self, user_id: str, *, before_ms: int, has_time: Callable[[], bool]) -> ErasePass: ...


class ErasureRecords(Protocol):
    def get(self, hashed: str) -> Erasure | None: ...
    def begin(self, erasure: Erasure) -> bool:
        """Record a new erasure, unless one is already in progress (then False)."""
        ...

    def progress(self, erasure: Erasure) -> None: ...


SETTLE_MS = 1_000
"""How long after the record a last pass starts: an event written just before the record (its
write racing the erasure) may take that long to appear in the index the passes read."""


def kept_suppression(previous: Erasure | None, state: ContactState | None) -> tuple[int | None, str | None]:
    """The opt-out an erasure starts from: the contact's own, while it exists (if the person came
    back and opted in, none); else the one an earlier erasure kept. The events the erasure
    removes add theirs (``merged``)."""
    if state is not None:
        return state.suppressed_since_ms, state.opt_out_reason if state.suppressed_since_ms else None
    if previous is not None and previous.suppressed:
        return previous.suppressed_since_ms, previous.opt_out_reason
    return None, None


def merged(erasure: Erasure, found: ErasePass) -> Erasure:
    """The erasure with the opt-outs and opt-ins of the events a pass removed: the latest of each
    wins, whether or not the scorer had seen them (a STOP on the stream counts)."""
    since, reason, opted_in = erasure.suppressed_since_ms, erasure.opt_out_reason, erasure.opted_in_ms
    if found.opted_out is not None and (since is None or found.opted_out[0] >= since):
        since, reason = found.opted_out
    if found.opted_in_ms is not None and (opted_in is None or found.opted_in_ms > opted_in):
        opted_in = found.opted_in_ms
    counts = dict(erasure.counts)
    for kind, n in found.counts.items():
        counts[kind] = counts.get(kind, 0) + n
    return replace(
        erasure, suppressed_since_ms=since, opt_out_reason=reason, opted_in_ms=opted_in, counts=counts
    )


def erase(
    user_id: str,
    *,
    hashed: str,
    records: ErasureRecords,
    person: PersonData,
    now_ms: Callable[[], int],
    has_time: Callable[[], bool],
    wait: Callable[[float], None],
) -> Erasure:
    """Forget a person: record the erasure first (from then on nothing of theirs is stored or
    scored), then remove their data, resuming an unfinished erasure where it stopped. Returns the
    record as it stands: ``complete`` (its instant the completion), or ``in_progress`` when the
    time ran out (ask again to continue)."""
    previous = records.get(hashed)
    if previous is not None and previous.status == "complete" and not person.holds_anything(user_id):
        return previous  # asked again: the same erasure (a person who came back is erased anew)
    if previous is not None and previous.status == "in_progress":
        erasure = previous  # resumed: same suppression, same counts so far
    else:
        since, reason = kept_suppression(previous, person.contact_state(user_id))
        started = now_ms()
        erasure = Erasure(
            hashed=hashed,
            erased_at_ms=started,
            status="in_progress",
            suppressed_since_ms=since,
            opt_out_reason=reason,
            updated_ms=started,
        )
        if not records.begin(erasure):
            # Another request began it a moment ago: continue that one, do not restart it.
            erasure = records.get(hashed) or erasure
    erasure, done = _pass(person, user_id, erasure, now_ms, has_time)
    if done:
        # An event written just before the record (its write racing the erasure) may take a
        # moment to appear in the index the passes read: look once more after that moment.
        lag_ms = erasure.erased_at_ms + SETTLE_MS - now_ms()  # in progress: when it began
        if lag_ms > 0:
            wait(lag_ms / 1000)
        erasure, done = _pass(person, user_id, erasure, now_ms, has_time)
    finished = now_ms()
    erasure = replace(
        erasure,
        status="complete" if done else "in_progress",
        erased_at_ms=finished if done else erasure.erased_at_ms,
        updated_ms=finished,
    )
    records.progress(erasure)
    return erasure


def _pass(
    person: PersonData,
    user_id: str,
    erasure: Erasure,
    now_ms: Callable[[], int],
    has_time: Callable[[], bool],
) -> tuple[Erasure, bool]:
    # Everything stored so far: no event can be dated later than now plus the allowance.
    found = person.erase_pass(user_id, before_ms=now_ms() + FUTURE_ALLOWANCE_MS, has_time=has_time)
    return merged(erasure, found), found.done
