"""Response model of ``GET /v1/overview``."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, Field

from engagement.domain.bands import Band
from engagement.domain.event_types import EventType
from engagement.domain.overview import CampaignReach, QueueDepth, RunSummary
from engagement.domain.timefmt import from_ms


class HourOut(BaseModel):
    hour: AwareDatetime = Field(description="Start of the hour, UTC")
    events: int


class AcceptedOut(BaseModel):
    hours: list[HourOut] = Field(description="The last 48 hours, oldest first, the current hour last")
    total: int


class BandCountOut(BaseModel):
    band: Band
    contacts: int


class CampaignOut(BaseModel):
    item_id: str
    reached: int = Field(description="Contacts at the funnel's first stage (delivered)")
    clicked: int
    responded: int
    converted: int

    @classmethod
    def of(cls, campaign: CampaignReach) -> CampaignOut:
        stages = campaign.stages
        return cls(
            item_id=campaign.item_id,
            reached=campaign.reached,
            clicked=stages.get(EventType.CLICKED, 0),
            responded=stages.get(EventType.RESPONDED, 0),
            converted=stages.get(EventType.CONVERTED, 0),
        )


class RunOut(BaseModel):
    job: str
    run: str = Field(description="The run's id: the job and its scheduled instant")
    scheduled_for: AwareDatetime
    started_at: AwareDatetime
    finished_at: AwareDatetime | None = Field(description="Null while the run is under way (or died)")
    complete: bool | None = Field(description="Every segment done; null until the run finishes")
    examined: int
    written: int
    deleted: int

    @classmethod
    def of(cls, run: RunSummary) -> RunOut:
        return cls(
            job=run.job,
            run=run.run,
            scheduled_for=from_ms(run.scheduled_ms),
            started_at=from_ms(run.started_ms),
            finished_at=None if run.finished_ms is None else from_ms(run.finished_ms),
            complete=run.complete,
            examined=int(run.tally.get("examined", 0)),
            written=int(run.tally.get("written", 0)),
            deleted=int(run.tally.get("deleted", 0)),
        )


class FailuresOut(BaseModel):
    waiting: int | None = Field(description="Given-up stream batches waiting; null when it could not be read")
    in_flight: int | None = Field(description="Messages being read by someone right now")
    detail: str = Field(description="Where the figure comes from")

    @classmethod
    def of(cls, depth: QueueDepth) -> FailuresOut:
        return cls(waiting=depth.waiting, in_flight=depth.in_flight, detail=depth.detail)


class OverviewResponse(BaseModel):
    as_of: AwareDatetime
    accepted: AcceptedOut = Field(description="Events the log accepted, per hour (the scorer's count)")
    bands: list[BandCountOut] = Field(
        description="Contacts per band, counted as band changes are recorded (a gauge: /v1/segments "
        "lists the members)"
    )
    campaigns: list[CampaignOut] = Field(description="The top 10 campaigns by first-stage reach")
    campaigns_known: int = Field(description="Campaigns with a funnel")
    runs: list[RunOut] = Field(description="The latest decay, cleanup and fit runs (only jobs that ran)")
    failures: FailuresOut = Field(description="The stream's on-failure queue")
