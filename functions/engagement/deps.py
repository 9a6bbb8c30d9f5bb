"""Process-wide dependencies, created once per Lambda execution environment.

Handlers call these at import so clients are built during init; route modules call them at
request time, so importing a route module (to build the OpenAPI document) creates no client.
"""

from __future__ import annotations

from functools import cache

from engagement.store.dynamodb import DynamoStore


@cache
def store() -> DynamoStore:
    return DynamoStore.from_environment()
