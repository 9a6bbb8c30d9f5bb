"""What the domain needs from storage. The DynamoDB adapter implements it; the domain never
imports the adapter, so it stays pure and testable without a client."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from engagement.domain.aggregates import Aggregate, AggregateDelta, AggregateKey

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from engagement.domain.contact_records import ContactRecord, PairStages
    from engagement.domain.erasure import Erasure
    from engagement.domain.events import EngagementEvent


class AppliedDelta(Protocol):
    @property
    def applied(self) -> int: ...
    @property
    def duplicates(self) -> int: ...
    @property
    def contact(self) -> ContactRecord | None:
        """The contact as it now stands, when the delta was a per-user one."""
        ...

    @property
    def stages(self) -> PairStages | None:
        """The engagement's funnel stages, when the delta was a (user, item) one."""
        ...


class EventLog(Protocol):
    def put_event(self, event: EngagementEvent, *, received_at: datetime) -> bool:
        """True when stored, False when an event with the same id was already stored."""
        ...

    def erasures_of(self, user_ids: Iterable[str]) -> Mapping[str, Erasure]:
        """The erasures of these people, by user id (absent: never erased)."""
        ...


class AggregateWriter(Protocol):
    def apply(self, delta: AggregateDelta) -> AppliedDelta:
        """Apply a delta exactly once; raises ``StoreError`` when it could not."""
        ...


class AggregateReader(Protocol):
    def get_aggregate(self, key: AggregateKey) -> Aggregate | None: ...
    def list_pairs(self, user_id: str) -> list[Aggregate]: ...


class EventStore(EventLog, AggregateReader, Protocol):
    """What a webhook needs: store its events, and read aggregates for a reply (bot commands)."""
