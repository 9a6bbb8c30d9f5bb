"""What the store keeps for a contact beyond its aggregate, and what it keeps per campaign.

The per-user aggregate carries, next to the counts the scorer adds, the state derived from them:
which percentile bucket the contact is counted in, its band, a band change written but not yet
confirmed published, and which state its history stretch holds. Each is reconciled with the aggregate after
every write (``domain.upkeep``): the stored derived state is what was last made true, and the
aggregate says what should be.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engagement.domain.aggregates import AggregateKey
from engagement.domain.contact import ContactState
from engagement.domain.decay import MS_PER_DAY
from engagement.domain.event_types import EventType
from engagement.domain.timefmt import from_ms, rfc3339

FUNNEL_STAGES = (
    EventType.DELIVERED,
    EventType.CLICKED,
    EventType.RESPONDED,
    EventType.CONVERTED,
    EventType.OPTED_OUT,
    EventType.BOUNCED,
)
"""A campaign's funnel: how many contacts reached each stage (once each, however often)."""
REVISIT_DAYS = 400
"""The daily run reads every contact at least this often (its next band change, or this), and
records its history stretch again when the one in force is older: so the stretch in force on
any day is never older than twice this, and a stretch may expire then (plus the retention)."""
STRETCH_LIFE_MS = 2 * REVISIT_DAYS * MS_PER_DAY


@dataclass(frozen=True)
class BandState:
    band: str
    score: float
    """The composite that put the contact in the band."""
    since_ms: int


@dataclass(frozen=True)
class BandTransition:
    """A contact's move between bands: written on the aggregate first, then published."""

    user_id: str
    old: BandState | None
    new: BandState

    @property
    def transition_id(self) -> str:
        """Stable across republishing, so subscribers can drop the duplicates at-least-once brings."""
        old = self.old.band if self.old else "none"
        return f"{self.user_id}:{self.new.since_ms}:{old}:{self.new.band}"

    def detail(self) -> dict[str, Any]:
        return {
            "transition_id": self.transition_id,
            "user_id": self.user_id,
            "old_band": self.old.band if self.old else None,
            "new_band": self.new.band,
            "old_score": self.old.score if self.old else None,
            "new_score": self.new.score,
            "at": rfc3339(from_ms(self.new.since_ms)),
        }

    def to_json(self) -> str:
        return json.dumps(
            {
                "user_id": self.user_id,
                "old": None if self.old is None else _band_json(self.old),
                "new": _band_json(self.new),
            },
            separators=(",", ":"),
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> BandTransition:
        data = json.loads(text)
        old = data.get("old")
        return cls(
            user_id=str(data["user_id"]),
            old=None if old is None else _band_from_json(old),
            new=_band_from_json(data["new"]),
        )


def _band_json(state: BandState) -> dict[str, Any]:
    return {"band": state.band, "score": state.score, "since_ms": state.since_ms}


def _band_from_json(data: Mapping[str, Any]) -> BandState:
    return BandState(band=str(data["band"]), score=float(data["score"]), since_ms=int(data["since_ms"]))


@dataclass(frozen=True)
class ContactRecord:
    state: ContactState
    bucket: int | None = None
    """The percentile bucket the contact is counted in (None: not counted)."""
    band: BandState | None = None
    pending: BandTransition | None = None
    """A band change stored but not yet confirmed published."""
    version: int = 0
    """The aggregate's write counter when read."""
    stretch_version: int | None = None
    """The aggregate version whose state the contact's latest history stretch holds (None: no
    stretch yet): the daily run records a new one when the aggregate moved past it."""
    stretch_at_ms: int | None = None
    """The instant the latest history stretch starts."""
    unseen_ms: int | None = None
    """When the scorer first applied events the daily run has not recorded (None: none)."""
    seen_ms: int | None = None
    """When the scorer last applied such events."""

    @property
    def has_unrecorded_state(self) -> bool:
        """Events reached the contact since its latest history stretch (or it has none)."""
        return self.stretch_version != self.version


@dataclass(frozen=True)
class HistoryPoint:
    day: str
    """UTC date, YYYY-MM-DD."""
    at_ms: int
    score: float
    band: str
    components: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class PairStages:
    """A (contact, campaign) engagement's funnel stages: reached (from its counts) and counted
    (already added to the campaign's funnel)."""

    key: AggregateKey
    reached: frozenset[EventType]
    counted: frozenset[EventType]

    @property
    def uncounted(self) -> frozenset[EventType]:
        return self.reached - self.counted


@dataclass(frozen=True)
class SegmentMember:
    user_id: str
    band: str
    score: float
    since_ms: int


@dataclass(frozen=True)
class SegmentPage:
    members: list[SegmentMember]
    cursor: str | None


@dataclass(frozen=True)
class Stretch:
    """The state a daily run saw for a contact, in force from ``day`` until the next stretch
    (None: a gap, days whose state is not known). Points are evaluated from it when read
    (``domain.history``)."""

    day: str
    """The run's UTC date, YYYY-MM-DD."""
    at_ms: int
    """The run's scheduled instant; the same time of day every day after."""
    state: ContactState | None


@dataclass(frozen=True)
class StoredHistory:
    """What a history read returns from the store: the stretches that cover the range (the
    last one starting before it included) and any legacy points in it."""

    stretches: Sequence[Stretch]
    legacy: Sequence[HistoryPoint] = ()


def stretch_expires_at_s(stretch: Stretch, retention_ms: int) -> int:
    """When TTL may delete a stretch: once it can be in force no more, plus the retention."""
    return (stretch.at_ms + STRETCH_LIFE_MS + retention_ms) // 1000


def stretch_day(at_ms: int) -> str:
    return from_ms(at_ms).date().isoformat()
