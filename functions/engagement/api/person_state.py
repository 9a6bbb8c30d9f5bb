"""Whether a person is unknown or erased, for the routes that answer about one person.

Every ``/v1/users/{user_id}/...`` route answers the same way when it has nothing to show: 404
when nothing was ever recorded for the person, 410 when they were erased and nothing was
recorded since (with the suppression the erasure keeps: an opted-out number must not be
messaged again, erased or not).
"""

from __future__ import annotations

from engagement import deps
from engagement.domain.erasure import Erasure


class PersonErased(Exception):
    """The person was erased; answered 410 with what the erasure keeps."""

    def __init__(self, erasure: Erasure) -> None:
        super().__init__("the user was erased")
        self.erasure = erasure


def erasure_of(user_id: str) -> Erasure | None:
    store = deps.store()
    hashed = store.person_hash(user_id)
    return None if hashed is None else store.erasures.get(hashed)


def absent(user_id: str, message: str) -> Exception:
    """What to raise when a route has nothing for ``user_id``: 410 if erased, else 404."""
    from aws_lambda_powertools.event_handler.exceptions import NotFoundError  # noqa: PLC0415

    erasure = erasure_of(user_id)
    return NotFoundError(message) if erasure is None else PersonErased(erasure)
