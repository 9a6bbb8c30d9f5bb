"""Process-wide dependencies, created once per Lambda execution environment.

Handler modules call ``init()`` at import, so clients are built during the init phase; route
modules call ``store()`` at request time, so importing a route module (to build the OpenAPI
document) creates no client.
"""

from __future__ import annotations

import gc
import os
from functools import cache
from typing import TYPE_CHECKING

from engagement.store.dynamodb import DynamoStore

if TYPE_CHECKING:
    # Imported where used: functions that never score contacts or publish (ingest, webhooks,
    # links) should not pay for those modules in their cold start.
    from engagement.domain.scoring_config import ScoringConfig
    from engagement.store.eventbridge import BandPublisher


@cache
def store() -> DynamoStore:
    return DynamoStore.from_environment()


@cache
def publisher() -> BandPublisher:
    from engagement.store.eventbridge import BandPublisher  # noqa: PLC0415 (see the imports)

    return BandPublisher.from_environment()


@cache
def scoring_config() -> ScoringConfig:
    """Read once: a bad value fails the cold start, not every request (see domain.scoring_config)."""
    from engagement.domain.scoring_config import from_environment  # noqa: PLC0415 (see the imports)

    return from_environment(os.environ)


def reset() -> None:
    """Forget every dependency (tests and benchmarks that point the process at new tables)."""
    for dependency in (store, publisher, scoring_config):
        dependency.cache_clear()


def init(*, publishes: bool = False, scores: bool = False) -> None:
    """Finish a cold start: freeze what the imports created, then build the clients.

    Everything imported so far lives as long as the execution environment. Freezing it moves it
    out of the collector's reach, so the collections that building a boto3 client triggers (and
    every later one) stop rescanning it: measured in ``make bench``, tens of milliseconds of
    init saved. ``publishes`` builds the EventBridge client too, ``scores`` reads the scoring
    configuration, so a bad one fails here.
    """
    gc.freeze()
    store()
    if publishes:
        publisher()
    if scores:
        scoring_config()
