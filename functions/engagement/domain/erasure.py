"""Forgetting a person: the rules that keep an erasure from coming undone (pure).

An erasure is recorded under a keyed hash of the person's id, never the id: the record must
outlive the data (a late webhook, a stream record in flight, a replayed request all still name
the person) without itself being personal data anyone can read back. HMAC with a secret key,
not a plain hash: phone numbers are few enough to hash them all and find the one behind a
plain digest.

What the record decides:

* an event of the person that **occurred before** the erasure instant is dropped wherever it
  turns up (ingest stores nothing; the scorer absorbs nothing); one that occurred after it is
  new data, and the person exists again from that event on;
* a **delivery receipt** (delivered, bounced) of the person received within a window after the
  erasure is dropped too: it reports on a message sent before the erasure, whatever time it
  carries (Twilio's carry none: they are timed at receipt);
* a person who had **opted out** stays suppressed: the record keeps when and why, and when the
  person comes back with new events, the opt-out is written back first, at its own instant, so
  every profile, band and segment sees them suppressed until they opt in again.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

from engagement.domain.aggregates import ObservedEvent
from engagement.domain.event_types import EventType
from engagement.domain.ids import stable_id

if TYPE_CHECKING:
    from engagement.domain.contact import ContactState

Status = Literal["in_progress", "complete"]
RECEIPT_TYPES = frozenset({EventType.DELIVERED, EventType.BOUNCED})
"""What a provider reports about a message the operator sent, rather than what the person did."""

SUPPRESSION_SOURCE = "erasure"
"""The source (and id namespace) of the opt-out an erasure writes back."""


def person_hash(key: str, user_id: str) -> str:
    """The name an erasure is recorded under: HMAC-SHA256 of the id, hex."""
    return hmac.new(key.encode("utf-8"), user_id.encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Erasure:
    hashed: str
    erased_at_ms: int
    """Events that occurred before this instant are the erased person's, wherever they appear."""
    status: Status
    suppressed_since_ms: int | None = None
    """When the person opted out, if they were suppressed when erased."""
    opt_out_reason: str | None = None
    counts: Mapping[str, int] = field(default_factory=dict)
    """What was removed, by kind (events, engagements, history, links...), for the audit."""
    updated_ms: int = 0

    def covers(self, occurred_ms: int, event_id: str = "") -> bool:
        """Whether an event is the erased person's: it occurred before the erasure (and is not
        the opt-out the erasure itself writes back, which occurred before it on purpose)."""
        return occurred_ms < self.erased_at_ms and event_id != self.carried_opt_out_id

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
        return self.suppressed_since_ms is not None


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

    def add(self, kind: str, n: int = 1) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + n


class PersonData(Protocol):
    def holds_anything(self, user_id: str) -> bool: ...
    def contact_state(self, user_id: str) -> ContactState | None: ...
    def erase_pass(self, user_id: str, *, erased_at_ms: int, has_time: Callable[[], bool]) -> ErasePass: ...


class ErasureRecords(Protocol):
    def get(self, hashed: str) -> Erasure | None: ...
    def begin(self, erasure: Erasure) -> None: ...
    def progress(self, hashed: str, *, counts: Mapping[str, int], status: Status, now_ms: int) -> None: ...


SETTLE_MS = 1_000
"""How long after the record a last pass starts: an event written just before the record (its
write racing the erasure) may take that long to appear in the index the passes read."""


def kept_suppression(previous: Erasure | None, state: ContactState | None) -> tuple[int | None, str | None]:
    """The opt-out an erasure must keep: the contact's own, while it exists (if the person came
    back and opted in, none); else the one an earlier erasure kept."""
    if state is not None:
        return state.suppressed_since_ms, state.opt_out_reason if state.suppressed_since_ms else None
    if previous is not None:
        return previous.suppressed_since_ms, previous.opt_out_reason
    return None, None


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
    """Forget a person: record the erasure first (from then on nothing of theirs that occurred
    earlier is stored or scored), then remove their data, resuming an unfinished erasure where
    it stopped. Returns the record as it stands: ``complete``, or ``in_progress`` when the time
    ran out (ask again to continue)."""
    previous = records.get(hashed)
    if previous is not None and previous.status == "complete" and not person.holds_anything(user_id):
        return previous  # asked again: the same erasure (a person who came back is erased anew)
    if previous is not None and previous.status == "in_progress":
        erasure = previous  # resumed: same instant, same suppression
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
        records.begin(erasure)
    counts = dict(erasure.counts)
    done = _pass(person, user_id, erasure, counts, has_time)
    if done:
        lag_ms = erasure.erased_at_ms + SETTLE_MS - now_ms()
        if lag_ms > 0:
            wait(lag_ms / 1000)
        done = _pass(person, user_id, erasure, counts, has_time)
    status: Status = "complete" if done else "in_progress"
    finished = now_ms()
    records.progress(hashed, counts=counts, status=status, now_ms=finished)
    return Erasure(
        hashed=hashed,
        erased_at_ms=erasure.erased_at_ms,
        status=status,
        suppressed_since_ms=erasure.suppressed_since_ms,
        opt_out_reason=erasure.opt_out_reason,
        counts=counts,
        updated_ms=finished,
    )


def _pass(
    person: PersonData, user_id: str, erasure: Erasure, counts: dict[str, int], has_time: Callable[[], bool]
) -> bool:
    found = person.erase_pass(user_id, erased_at_ms=erasure.erased_at_ms, has_time=has_time)
    for kind, n in found.counts.items():
        counts[kind] = counts.get(kind, 0) + n
    return found.done
