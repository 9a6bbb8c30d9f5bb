"""GET /v1/overview: what an operator looks at first, from counters kept where changes happen."""

from __future__ import annotations

from engagement import deps
from engagement.api.overview_models import (
    AcceptedOut,
    BandCountOut,
    CampaignOut,
    FailuresOut,
    HourOut,
    OverviewResponse,
    RunOut,
)
from engagement.domain import clock
from engagement.domain.overview import HOURS_SHOWN, contacts_per_band, last_hours, top_campaigns
from engagement.domain.overview_counts import MS_PER_HOUR
from engagement.domain.timefmt import from_ms, to_ms
from engagement.store.overview import OverviewReader, failure_queue_depth


def get_overview() -> OverviewResponse:
    """The system at a glance

    Events accepted per hour over the last 48 hours, contacts per band, the top campaigns by
    first-stage reach, the latest decay, cleanup and fit runs and the stream's failure queue. Every
    figure is a counter kept as the change happens, so this costs a few reads whatever the size
    of the tables. The band counts are a gauge (`/v1/segments` lists the members).
    """
    now = clock.now()
    settings = deps.settings()
    reader = OverviewReader(
        deps.store().client, aggregates_table=settings.table("aggregates"), runs_table=settings.table("runs")
    )
    now_ms = to_ms(now)
    current_hour = now_ms // MS_PER_HOUR * MS_PER_HOUR
    counted = reader.accepted(current_hour - (HOURS_SHOWN - 1) * MS_PER_HOUR, current_hour)
    hours = last_hours(counted, now_ms)
    counters, runs = reader.bands_and_runs()
    campaigns = reader.campaigns()
    return OverviewResponse(
        as_of=now,
        accepted=AcceptedOut(
            hours=[HourOut(hour=from_ms(hour), events=n) for hour, n in hours], total=sum(n for _, n in hours)
        ),
        bands=[BandCountOut(band=band, contacts=n) for band, n in contacts_per_band(counters).items()],
        campaigns=[CampaignOut.of(c) for c in top_campaigns(campaigns)],
        campaigns_known=len(campaigns),
        runs=[RunOut.of(run) for run in runs],
        failures=FailuresOut.of(failure_queue_depth(settings.failure_queues.get("scorer"))),
    )
