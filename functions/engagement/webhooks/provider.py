"""The shape every SMS provider adapter has: verify a request, then read it into signals.

A provider module exposes ``PROVIDER`` with this shape and ``SOURCE = SmsSource(PROVIDER, ...)``
(``webhooks.sms``), which turns signals into events the same way for every provider. The
pipeline calls ``verify`` on the untouched request before anything reads a field, and
``parse`` only when the verdict is ``OK``; it never needs to know a provider's quirks.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from engagement.webhooks.request import WebhookRequest
from engagement.webhooks.sms import SmsSignal
from engagement.webhooks.source import MalformedCallback, Verdict

__all__ = ["MalformedCallback", "SmsProvider", "Verdict"]


class SmsProvider(Protocol):
    @property
    def name(self) -> str:
        """Short lowercase name, also the event ``source`` suffix (``sms.twilio``)."""
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
