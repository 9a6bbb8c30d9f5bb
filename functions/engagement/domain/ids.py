"""Ids derived from what identifies a thing elsewhere (a provider's message id, an erasure), so
the same thing always gets the same id and the event log's conditional write dedupes it.
Plain hashlib: modules that never build an event model (the scorer's) can use it too."""

from __future__ import annotations

import hashlib
import re


def stable_id(namespace: str, *parts: str | int) -> str:
    """An id derived from a provider's own identifiers (update id, message id, status)."""
    digest = hashlib.sha256("\x1f".join([namespace, *map(str, parts)]).encode()).hexdigest()
    return f"{namespace}_{digest[:32]}"


def is_stable_id(event_id: str, namespace: str) -> bool:
    """Whether ``event_id`` has the shape :func:`stable_id` gives ids in ``namespace``."""
    return re.fullmatch(rf"{re.escape(namespace)}_[0-9a-f]{{32}}", event_id) is not None
