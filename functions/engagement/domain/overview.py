"""The overview's figures: traffic per hour, contacts per band, campaigns by reach, the latest
maintenance runs and the failure queue. Pure: what the store keeps for it, and how it reads.

Nothing here is computed by scanning. Each figure is kept up to date where its change happens,
at a cost per change rather than per read:

* accepted events per hour: a counter per hour, bumped by the scorer once per distinct hour of a
  stream batch with the events that batch newly absorbed (redelivered events are filtered by the
  per-user aggregate's dedupe, so they are not counted again);
* contacts per band: counters moved where a band change is recorded;
* campaigns: a small registry, one entry per campaign with a funnel, written when a batch grows
  the funnel; they are ranked by the funnel's first-stage counter (their reach);
* runs: each job records its latest run when it plans and when it finishes.

The counters are gauges for people, not records: a counter write that fails after the change it
follows was stored is logged and lost rather than retried (a retry could not tell it apart from
a redelivery), so they can fall short, never over-count. ``/v1/segments`` and the funnels remain
the exact answers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from engagement.domain.bands import Band
from engagement.domain.contact_queries import FUNNEL_STEPS
from engagement.domain.event_types import EventType
from engagement.domain.overview_counts import MS_PER_HOUR

HOURS_SHOWN = 48
TOP_CAMPAIGNS = 10


def last_hours(counts: Mapping[int, int], now_ms: int, hours: int = HOURS_SHOWN) -> list[tuple[int, int]]:
    """(hour start, events) for the ``hours`` hours ending with the current one, oldest first;
    hours nobody counted in are 0."""
    current = now_ms // MS_PER_HOUR * MS_PER_HOUR
    return [
        (hour, counts.get(hour, 0))
        for hour in range(current - (hours - 1) * MS_PER_HOUR, current + 1, MS_PER_HOUR)
    ]


def contacts_per_band(counters: Iterable[Mapping[str, int]]) -> dict[Band, int]:
    """Summed over shards. A contact banded before the counters existed was never added, so its
    later move can take a counter below zero; a count of people is shown as at least 0."""
    totals = dict.fromkeys(Band, 0)
    for shard in counters:
        for band in Band:
            totals[band] += int(shard.get(band.value, 0))
    return {band: max(0, n) for band, n in totals.items()}


@dataclass(frozen=True)
class CampaignReach:
    item_id: str
    stages: Mapping[EventType, int]

    @property
    def reached(self) -> int:
        """Contacts at the funnel's first stage."""
        return self.stages.get(FUNNEL_STEPS[0], 0)


def top_campaigns(campaigns: Iterable[CampaignReach], limit: int = TOP_CAMPAIGNS) -> list[CampaignReach]:
    """Largest first-stage reach first; ties by id, so the order is total."""
    return sorted(campaigns, key=lambda c: (-c.reached, c.item_id))[:limit]


@dataclass(frozen=True)
class RunSummary:
    """A job's latest run, as the job recorded it when it planned and when it finished."""

    job: str
    run: str
    scheduled_ms: int
    started_ms: int
    finished_ms: int | None = None
    complete: bool | None = None
    tally: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class QueueDepth:
    waiting: int | None
    """Messages available (batches given up); None when the depth could not be read."""
    in_flight: int | None
    detail: str
