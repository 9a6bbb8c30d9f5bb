"""The overview's arithmetic: hours, bands and campaign ranking from its counters."""

from __future__ import annotations

from decimal import Decimal

from engagement.domain.aggregates import ObservedEvent
from engagement.domain.bands import Band
from engagement.domain.event_types import EventType
from engagement.domain.overview import CampaignReach, contacts_per_band, last_hours, top_campaigns
from engagement.domain.overview_counts import MS_PER_HOUR, BandMove, accepted_per_hour, band_steps


def event(n: int, recorded_s: int) -> ObservedEvent:
    return ObservedEvent(f"e{n}", "u", "i", EventType.QUERY, 0, Decimal(0), recorded_s)


def test_events_are_counted_in_the_hour_the_log_accepted_them() -> None:
    counts = accepted_per_hour([event(1, 3599), event(2, 3600), event(3, 7199), event(4, 0)])
    assert counts == {0: 2, MS_PER_HOUR: 2}


def test_the_window_ends_with_the_current_hour_and_fills_gaps_with_zero() -> None:
    now = 100 * MS_PER_HOUR + 5
    hours = last_hours({99 * MS_PER_HOUR: 3, 52 * MS_PER_HOUR: 9, 53 * MS_PER_HOUR: 1}, now)
    assert len(hours) == 48
    assert hours[0] == (53 * MS_PER_HOUR, 1)
    assert hours[-1] == (100 * MS_PER_HOUR, 0)
    assert hours[-2] == (99 * MS_PER_HOUR, 3)


def test_a_band_move_leaves_one_band_for_another() -> None:
    assert band_steps(BandMove("u", None, "warm")) == {"warm": 1}
    assert band_steps(BandMove("u", "warm", "hot")) == {"hot": 1, "warm": -1}
    assert band_steps(BandMove("u", "warm", None)) == {"warm": -1}  # an erased contact
    assert band_steps(BandMove("u", "warm", "warm")) == {}


def test_band_counts_sum_shards_and_never_show_fewer_than_zero_people() -> None:
    counts = contacts_per_band([{"hot": 2, "cold": -1}, {"hot": 1, "warm": 4}])
    assert counts == {Band.HOT: 3, Band.WARM: 4, Band.COLD: 0, Band.CHURNING: 0, Band.SUPPRESSED: 0}


def test_campaigns_rank_by_first_stage_reach_then_id() -> None:
    campaigns = [
        CampaignReach("b", {EventType.DELIVERED: 5}),
        CampaignReach("a", {EventType.DELIVERED: 5, EventType.CLICKED: 9}),
        CampaignReach("c", {EventType.CLICKED: 50}),
    ]
    assert [c.item_id for c in top_campaigns(campaigns, limit=2)] == ["a", "b"]
