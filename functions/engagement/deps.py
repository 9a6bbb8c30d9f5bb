"""Process-wide dependencies, created once per Lambda execution environment.

Handler modules call ``init(<function>)`` at import, so settings are parsed and clients built
during the init phase; route modules call ``store()`` at request time, so importing a route
module (to build the OpenAPI document) creates no client.
"""

from __future__ import annotations

import gc
from functools import cache
from typing import TYPE_CHECKING

from engagement import settings as settings_module
from engagement.store.dynamodb import DynamoStore

if TYPE_CHECKING:
    # Imported where used: functions that never score contacts or publish (ingest, webhooks,
    # links) should not pay for those modules in their cold start.
    from engagement.domain.models import ModelSet
    from engagement.domain.scoring_config import ScoringConfig
    from engagement.settings import Settings
    from engagement.store.eventbridge import BandPublisher
    from engagement.store.models import ModelStore
    from engagement.store.overview_counts import OverviewCounts
    from engagement.store.runs import RunStore


def settings() -> Settings:
    return settings_module.current()


@cache
def store() -> DynamoStore:
    return DynamoStore.from_settings(settings(), erasure_key=_erasure_key)


def _erasure_key() -> str | None:
    """Read when an erasure is checked, not at init (Powertools caches it). None when no key is
    configured: then nobody can have been erased, and there is nothing to check."""
    from engagement.domain.errors import StoreError  # noqa: PLC0415 (see the imports)
    from engagement.secrets import SecretUnavailable, secret_value  # noqa: PLC0415
    from engagement.topology import ERASURE_KEY  # noqa: PLC0415

    try:
        return secret_value(ERASURE_KEY)
    except SecretUnavailable as exc:
        # Unchecked is not an option (an erased person's event could be stored): retry later.
        raise StoreError("the erasure key could not be read", retryable=True) from exc


@cache
def publisher() -> BandPublisher:
    from engagement.store.eventbridge import BandPublisher  # noqa: PLC0415 (see the imports)

    return BandPublisher.from_settings(settings())


@cache
def runs() -> RunStore:
    from engagement.store.runs import RunStore  # noqa: PLC0415 (see the imports)

    return RunStore(store().client, runs_table=settings().table("runs"))


@cache
def overview_counts() -> OverviewCounts:
    """The overview's counters, for the functions that keep them (scorer, jobs)."""
    from engagement.store.overview_counts import OverviewCounts  # noqa: PLC0415 (see the imports)

    return OverviewCounts(
        store().client, aggregates_table=settings().table("aggregates"), runs_table=settings().table("runs")
    )


@cache
def scoring_config() -> ScoringConfig:
    """Read once: a bad value fails the cold start, not every request (see domain.scoring_config)."""
    from engagement.domain.scoring_config import from_environment  # noqa: PLC0415 (see the imports)

    return from_environment(settings().scoring)


@cache
def models() -> ModelStore:
    from engagement.store.models import ModelStore  # noqa: PLC0415 (see the imports)

    return ModelStore(
        store().client,
        aggregates_table=settings().table("aggregates"),
        runs_table=settings().table("runs"),
        cache_s=settings().model_cache_seconds,
    )


def scoring_with_models() -> tuple[ScoringConfig, ModelSet]:
    """The scoring configuration with the current fitted models in place of its priors, and the
    models it names. Everything that evaluates probabilities or bands (query, scorer, decay)
    takes its configuration from here, so a band the scorer stores is the band the API reports."""
    from engagement.domain.models import apply_models, in_use  # noqa: PLC0415 (see the imports)

    base = scoring_config()
    models_in_use = in_use(base, models().current())
    return apply_models(base, models_in_use), models_in_use


def reset() -> None:
    """Forget every dependency and the parsed settings (tests and benchmarks that point the
    process at new tables)."""
    settings_module.reset()
    for dependency in (store, publisher, runs, scoring_config, overview_counts, models):
        dependency.cache_clear()


def init(function: str, *, publishes: bool = False, scores: bool = False) -> None:
    """Finish a cold start: parse the function's settings, freeze what the imports created, then
    build the clients.

    A bad or missing setting raises here, naming the variable, so the function fails its init
    rather than every request. Everything imported so far lives as long as the execution
    environment; freezing it moves it out of the collector's reach, so the collections that
    building a boto3 client triggers (and every later one) stop rescanning it: measured in
    ``make bench``, tens of milliseconds of init saved. ``publishes`` builds the EventBridge
    client too, ``scores`` reads the scoring configuration, so a bad one fails here.
    """
    settings_module.current(function)
    gc.freeze()
    store()
    if publishes:
        publisher()
    if scores:
        scoring_config()
