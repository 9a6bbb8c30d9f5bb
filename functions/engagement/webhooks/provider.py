"""The shape every SMS provider adapter has: verify a request, then read it.

A provider module exposes ``PROVIDER``, an object with this shape. The route code calls
``verify`` on the untouched request before anything reads a field, and ``parse`` only when
the verdict is ``OK``; it never needs to know a provider's quirks.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Protocol

from engagement.topology import SecretSpec
from engagement.webhooks.request import WebhookRequest
from engagement.webhooks.sms import SmsSignal


class Verdict(StrEnum):
    OK = "ok"
    MISSING = "missing"
    """No signature (or token) on the request: 401."""
    INVALID = "invalid"
    """A signature that does not match: 401."""
    STALE = "stale"
    """Signed correctly but outside the allowed time window (a replay): 403."""


class MalformedCallback(ValueError):
    """A verified request whose body is not a callback this adapter understands: 400."""


class SmsProvider(Protocol):
    @property
    def name(self) -> str:
        """Short lowercase name, also the event ``source`` suffix (``sms.twilio``)."""
        ...

    @property
    def secret(self) -> SecretSpec:
        """Where the verification secret (or public key) comes from."""
        ...

    @property
    def acknowledgement(self) -> tuple[str, str]:
        """(content type, body) of the 2xx answer the provider expects."""
        ...

    def verify(self, request: WebhookRequest, secret: str, now: datetime) -> Verdict:
        """Authenticate the request from its raw bytes and public URL, in constant time."""
        ...

    def parse(self, request: WebhookRequest, now: datetime) -> list[SmsSignal]:
        """The signals of a verified request; raises :class:`MalformedCallback`."""
        ...
