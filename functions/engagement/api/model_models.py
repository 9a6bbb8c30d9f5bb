"""Response models of GET /v1/models: the probability models answers are computed with."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import AwareDatetime, BaseModel, Field

from engagement.domain.timefmt import from_ms

if TYPE_CHECKING:
    # Only in method signatures, which pydantic never resolves: the module (and the fit's sample
    # code) loads on the first request that needs it, not in the query function's init.
    from engagement.domain.models import ModelInfo, ModelSet


class WindowOut(BaseModel):
    start: AwareDatetime | None = Field(description="The earliest first engagement in the sample")
    end: AwareDatetime = Field(description="The fit's instant: histories are measured up to it")


class ModelOut(BaseModel):
    kind: Literal["bgnbd", "conversion_prior"] = Field(
        description=(
            "bgnbd: engagement and churn (BG/NBD); conversion_prior: the Beta prior of conversion rates"
        )
    )
    version: str = Field(
        description="What score answers name in probabilities.*.model",
        examples=["bgnbd@2026-12-06T03:00:00Z", "prior:cdnow-2005"],
    )
    source: Literal["fitted", "prior"] = Field(
        description="fitted on this deployment's contacts, or a prior (published or configured)"
    )
    parameters: dict[str, float] = Field(
        description=(
            "bgnbd: r, alpha, a, b and time_unit_days (7: rates per week); conversion_prior: mean, strength"
        )
    )
    sample_size: int | None = Field(description="Contacts the last fit looked at; null before any fit ran")
    qualifying_contacts: int | None = Field(
        description=(
            "Of those, contacts with the minimum number of engagement events (FIT_MIN_CONTACTS needed)"
        )
    )
    log_likelihood: float | None = Field(
        description="Of the sample at the fitted parameters; null for a prior"
    )
    fitted_at: AwareDatetime | None = Field(description="The fit's instant; null before any fit ran")
    window: WindowOut | None = Field(description="The data the fit saw; null before any fit ran")
    note: str = Field(description="Why this model is in use")

    @classmethod
    def of(cls, model: ModelInfo) -> ModelOut:
        fitted_at = None if model.fitted_at_ms is None else from_ms(model.fitted_at_ms)
        return cls(
            kind=model.kind,
            version=model.version,
            source=model.source,
            parameters={name: round(value, 6) for name, value in model.parameters.items()},
            sample_size=model.sample_size,
            qualifying_contacts=model.qualifying_contacts,
            log_likelihood=None if model.log_likelihood is None else round(model.log_likelihood, 4),
            fitted_at=fitted_at,
            window=None
            if fitted_at is None
            else WindowOut(
                start=None if model.window_start_ms is None else from_ms(model.window_start_ms), end=fitted_at
            ),
            note=model.note,
        )


def models_out(models: ModelSet | None, kind: str | None) -> list[ModelOut]:
    if models is None:
        return []
    return [ModelOut.of(m) for m in (models.bgnbd, models.conversion) if kind is None or m.kind == kind]


class ModelsResponse(BaseModel):
    models: list[ModelOut] = Field(description="The models score answers use now")
    previous: list[ModelOut] = Field(
        description="The models the last fit replaced (empty until a second fit); kept for comparison"
    )
