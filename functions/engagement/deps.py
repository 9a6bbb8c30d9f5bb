"""Process-wide dependencies, created once per Lambda execution environment.

Handler modules call ``init()`` at import, so clients are built during the init phase; route
modules call ``store()`` at request time, so importing a route module (to build the OpenAPI
document) creates no client.
"""

from __future__ import annotations

import gc
from functools import cache

from engagement.store.dynamodb import DynamoStore


@cache
def store() -> DynamoStore:
    return DynamoStore.from_environment()


def init() -> None:
    """Finish a cold start: freeze what the imports created, then build the clients.

    Everything imported so far lives as long as the execution environment. Freezing it moves it
    out of the collector's reach, so the collections that building a boto3 client triggers (and
    every later one) stop rescanning it: measured in ``make bench``, tens of milliseconds of
    init saved.
    """
    gc.freeze()
    store()
