"""What the store knows about one contact: the per-user aggregate, in the shape scoring reads.

The CRM profile, the probabilities, the percentile key and the explanations are pure
functions of a :class:`ContactState` and an instant; nothing here touches storage.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from engagement.domain.aggregates import ObservedEvent
from engagement.domain.decay import TD_DECAY, ForwardDecay
from engagement.domain.event_types import EventType

# The contact's own actions, as opposed to the business's (delivered) or the network's (bounced).
ENGAGEMENT_TYPES = frozenset(
    {
        EventType.OPENED,
        EventType.CLICKED,
        EventType.RESPONDED,
        EventType.CONVERTED,
        EventType.QUERY,
        EventType.MENTION,
        EventType.VIEW,
    }
)


@dataclass(frozen=True)
class ContactState:
    user_id: str
    counts: Mapping[EventType, int]
    value_sum: Decimal
    """Total conversion value."""
    first_ms: int
    last_ms: int
    first_by_type: Mapping[EventType, int] = field(default_factory=dict)
    """Earliest occurrence (epoch ms) of each type seen."""
    last_by_type: Mapping[EventType, int] = field(default_factory=dict)
    """Latest occurrence (epoch ms) of each type seen."""
    decay_accumulators: Mapping[EventType, Mapping[int, float]] = field(default_factory=dict)
    """Per type, forward-decay accumulators by epoch, in ``domain.decay.UNITS`` (see there)."""
    opt_out_reason: str | None = None
    decay: ForwardDecay = TD_DECAY

    def decayed_counts(self, at_ms: int) -> dict[EventType, float]:
        """Per type, Σ exp(-λ (at - t_e)): how many events of the type, time-discounted, at ``at``."""
        return {t: self.decay.value_at(acc, at_ms) for t, acc in self.decay_accumulators.items()}

    @property
    def engagement_count(self) -> int:
        return sum(n for t, n in self.counts.items() if t in ENGAGEMENT_TYPES)

    @property
    def first_engagement_ms(self) -> int | None:
        times = [ms for t, ms in self.first_by_type.items() if t in ENGAGEMENT_TYPES]
        return min(times) if times else None

    @property
    def last_engagement_ms(self) -> int | None:
        times = [ms for t, ms in self.last_by_type.items() if t in ENGAGEMENT_TYPES]
        return max(times) if times else None

    @property
    def suppressed_since_ms(self) -> int | None:
        """Suppressed while the latest opt-out is newer than the latest opt-in."""
        opted_out = self.last_by_type.get(EventType.OPTED_OUT)
        if opted_out is None or opted_out <= self.last_by_type.get(EventType.OPTED_IN, -1):
            return None
        return opted_out

    @classmethod
    def from_events(
        cls, user_id: str, events: Iterable[ObservedEvent], decay: ForwardDecay = TD_DECAY
    ) -> ContactState | None:
        """The reference fold: what the store's per-user aggregate must equal after absorbing
        ``events`` (duplicate ids count once), in any order. None when there are no events."""
        unique = {e.event_id: e for e in events}
        if not unique:
            return None
        counts: dict[EventType, int] = {}
        first_by_type: dict[EventType, int] = {}
        last_by_type: dict[EventType, int] = {}
        accumulators: dict[EventType, dict[int, int]] = {}
        value_sum = Decimal(0)
        reason: tuple[int, str, str] | None = None  # (when, event id, keyword): latest wins
        for event in unique.values():
            t, ms = event.type, event.occurred_ms
            counts[t] = counts.get(t, 0) + 1
            first_by_type[t] = min(first_by_type.get(t, ms), ms)
            last_by_type[t] = max(last_by_type.get(t, ms), ms)
            epoch, increment = decay.increment(ms)
            per_epoch = accumulators.setdefault(t, {})
            per_epoch[epoch] = per_epoch.get(epoch, 0) + increment
            if event.value is not None:
                value_sum += event.value
            if t is EventType.OPTED_OUT and (reason is None or (ms, event.event_id) > reason[:2]):
                reason = (ms, event.event_id, event.detail or t.value)
        return cls(
            user_id=user_id,
            counts=counts,
            value_sum=value_sum,
            first_ms=min(first_by_type.values()),
            last_ms=max(last_by_type.values()),
            first_by_type=first_by_type,
            last_by_type=last_by_type,
            decay_accumulators=accumulators,
            opt_out_reason=None if reason is None else reason[2],
            decay=decay,
        )
