"""What every webhook source provides, whoever sends it: the one protocol of decision 6.

A source is a module ``engagement.webhooks.<name>`` exposing ``SOURCE``, declared by one
``WebhookSpec`` in the topology (its path, its function, the secret that authenticates it).
``engagement.webhooks.receive`` runs every source the same way:

1. ``verify`` the untouched request (raw bytes, the public URL the provider signed) with the
   secret, in constant time, before anything reads a field; a failed check is retried once with
   a refetched secret (it may have been rotated), in ``engagement.secrets.check``;
2. ``translate`` the verified request into engagement events (and anything the answer needs);
3. store the events, one conditional write each; a store failure is a 5xx, so the provider
   retries, and nothing is acknowledged that was not stored;
4. ``acknowledge`` in the provider's format (a TwiML document, an empty 200, a bot reply).

Adding a provider is adding one such module and one ``WebhookSpec`` line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from engagement.webhooks.request import WebhookRequest

if TYPE_CHECKING:
    from engagement.domain.events import EventIn
    from engagement.domain.ports import AggregateReader
    from engagement.settings import Settings


class Verdict(StrEnum):
    OK = "ok"
    MISSING = "missing"
    """No signature (or token) on the request: 401."""
    INVALID = "invalid"
    """A signature that does not match: 401."""
    STALE = "stale"
    """Signed correctly but outside the allowed time window (a replay): 403."""


class MalformedCallback(ValueError):
    """A verified request whose body is not a callback this source understands: 400.

    The message is logged, so it names what is wrong, never a value from the request.
    """

    def __init__(self, message: str, *, code: str = "malformed_callback") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Translation:
    events: list[EventIn]
    log: Mapping[str, Any] = field(default_factory=dict)
    """What the access log may say about the request: kinds, outcomes, masked numbers; never
    message text or a whole phone number."""
    command: Any = None
    """Whatever the acknowledgement answers (a bot command), or None."""


@dataclass(frozen=True)
class Acknowledgement:
    content_type: str
    body: str


class WebhookSource(Protocol):
    @property
    def name(self) -> str:
        """Short lowercase name, used in logs and as the event ``source`` suffix."""
        ...

    @property
    def summary(self) -> str:
        """One line for the OpenAPI document."""
        ...

    @property
    def description(self) -> str:
        """How it is verified and what it stores, for the OpenAPI document."""
        ...

    @property
    def acknowledgement_types(self) -> tuple[str, ...]:
        """Media types of the 2xx answers (the OpenAPI document lists them)."""
        ...

    @property
    def credential(self) -> str:
        """What a refused request lacked, for the 401 message ("X-Twilio-Signature")."""
        ...

    def verify(self, request: WebhookRequest, secret: str, now: datetime) -> Verdict:
        """Authenticate the request from its raw bytes and public URL, in constant time."""
        ...

    def translate(self, request: WebhookRequest, now: datetime, settings: Settings) -> Translation:
        """The events of a verified request; raises :class:`MalformedCallback`."""
        ...

    def acknowledge(
        self, translation: Translation, reader: AggregateReader, now: datetime, settings: Settings
    ) -> Acknowledgement:
        """The 2xx body the provider expects, once the events are stored."""
        ...
