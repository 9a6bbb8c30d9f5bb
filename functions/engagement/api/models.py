"""GET /v1/models: which probability models answers use, fitted on this deployment or priors."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.openapi.params import Query

from engagement import deps
from engagement.api.model_models import ModelsResponse, models_out

Kind = Annotated[
    Literal["bgnbd", "conversion_prior"] | None,
    Query(description="Only this model (default: both)"),
]


def list_models(kind: Kind = None) -> ModelsResponse:
    """The probability models in use

    The BG/NBD model (engagement and churn probabilities) and the conversion prior, each with
    its version (the name score answers give in `probabilities.*.model`), whether it was fitted
    on this deployment's contacts by the weekly fit or is a prior, its parameters, sample size,
    log-likelihood, fit instant and data window, and why it is in use; and the models the last
    fit replaced. 422 for an unknown `kind`.
    """
    _, in_use = deps.scoring_with_models()
    _, previous = deps.models().stored()
    return ModelsResponse(models=models_out(in_use, kind), previous=models_out(previous, kind))
