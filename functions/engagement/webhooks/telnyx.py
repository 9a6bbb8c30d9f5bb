"""Telnyx (API v2) messaging webhooks: verify the Ed25519 signature, read the event into signals.

Telnyx POSTs one JSON event per request [Telnyx docs "Receiving Webhooks for Messaging"]::

    {"data": {"event_type": "message.finalized", "id": <webhook event id>, "occurred_at": <RFC 3339>,
              "payload": {<the message>}, "record_type": "event"},
     "meta": {"attempt": 1, "delivered_to": <url>}}

and signs it with the account's Ed25519 key [team-telnyx/telnyx-python:
src/telnyx/lib/webhook_verification.py]: ``telnyx-signature-ed25519`` is the base64 signature of
``f"{telnyx-timestamp}|"`` followed by the raw body, ``telnyx-timestamp`` is in unix seconds and
must be within 300 s of now. The signature covers the exact bytes Telnyx sent, so nothing here
re-serializes the JSON (the docs' own Node sample does, and fails: issue team-telnyx/telnyx-node#81).

Mapping (webhook notes §5, §10, §11):

    message.received                        classify_inbound(text): opted_out / opted_in / responded
    message.finalized, per payload.to[]:
        delivered, read (RCS: read implies  delivered
        delivered)
        sending_failed, delivery_failed,    bounced; opted_out when payload.errors[] holds 40300
        expired
        queued, sending, sent,              acknowledged, nothing stored (the status is kept as the
        delivery_unconfirmed, unknown       detail, so the route's log line shows unknown ones)
    message.sent, message.read              acknowledged, one signal per recipient, nothing stored
    any other event type                    acknowledged, no signals

40300 is "Blocked due to STOP message" [developers.telnyx.com/api/errors/40300; Telnyx docs
"Advanced Opt-In/Out"]. Telnyx mostly returns it synchronously when the message is sent; in a
webhook it still means the recipient opted out. (The "Receiving Webhooks for Messaging" page's
own error table calls 40300 "Destination unreachable"; the error reference and the opt-out page
agree with each other, and are followed here.)

Ids. ``message_id`` is the message's id (``payload.id``), not the webhook's (``data.id``). Every
webhook about one message (``message.sent``, ``message.finalized``, any redelivery) names the same
message, so the event id ``(telnyx, message id, "outcome")`` is one slot per message: the first
terminal outcome stored wins and a delivery counts once. Keyed on ``data.id``, two terminal
webhooks for one message would be two events. A redelivered webhook repeats ``data.id`` *and*
``payload.id``, so it yields the very same event ids and is stored as a duplicate: the dedupe on
``data.id`` of notes §12 comes for free. A group message (several recipients in ``payload.to``)
has one id for all of them, but each recipient is a delivery of its own, so there the id is
``"<payload.id>:<recipient E.164>"``; otherwise every recipient after the first would be taken
for a duplicate of the first.

``cryptography`` is imported on the first Telnyx request, not with the module: the SMS function
serves every provider and the import adds ~4 ms to each cold start (``python -X importtime`` after
the function's own imports) that Twilio, Vonage and Plivo callbacks would pay for nothing.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from engagement.observability import logger
from engagement.topology import TELNYX
from engagement.webhooks.provider import MalformedCallback, Verdict
from engagement.webhooks.request import WebhookRequest
from engagement.webhooks.sms import SmsOutcome, SmsSignal, SmsSource, classify_inbound, e164

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from engagement.webhooks.provider import SmsProvider

NAME = "telnyx"
SIGNATURE_HEADER = "telnyx-signature-ed25519"
TIMESTAMP_HEADER = "telnyx-timestamp"
TOLERANCE_SECONDS = 300
"""Telnyx's own window: "Webhook timestamp is too old or too new" past 300 s [telnyx-python]."""

PUBLIC_KEY_BYTES = 32
SIGNATURE_BYTES = 64
_TIMESTAMP = re.compile(r"[0-9]{1,15}")

RECEIVED = "message.received"
FINALIZED = "message.finalized"
OUTBOUND_EVENTS = frozenset({"message.sent", FINALIZED, "message.read"})

OPTED_OUT_ERROR = "40300"
"""Sending to a number whose STOP set a block rule [Telnyx docs "Advanced Opt-In/Out"]."""

# payload.to[].status in a message.finalized [Telnyx docs "Receiving Webhooks for Messaging",
# "Delivery statuses"; SDK enum team-telnyx/telnyx-python:src/telnyx/types/outbound_message_payload.py].
DELIVERED_STATUSES = frozenset({"delivered", "read"})  # RCS "read" implies it was delivered
FAILED_STATUSES = frozenset({"sending_failed", "delivery_failed", "expired"})
PENDING_STATUSES = frozenset({"queued", "sending", "sent", "delivery_unconfirmed"})

_RECIPIENT_POINTER = re.compile(r"/to/(\d+)(?:/|$)")
_MAX_DETAIL = 64  # the route logs the detail; a status or code is short, whatever arrives


class PublicKeyError(ValueError):
    """The configured Telnyx public key is unusable: a configuration error, not a bad request."""


# ------------------------------------------------------------------ verification


@functools.lru_cache(maxsize=4)
def public_key(text: str) -> Ed25519PublicKey:
    """The account public key from its base64 text, loaded once per key per container.

    Raw 32 bytes, base64, as Mission Control shows it and as the SDK requires. Surrounding
    whitespace is dropped (a pasted secret often ends in a newline). A few entries, so a rotated
    key and its predecessor can both stay loaded while the route re-reads the secret.
    """
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise PublicKeyError(f"{TELNYX.local_env} is not base64") from None
    if len(raw) != PUBLIC_KEY_BYTES:
        raise PublicKeyError(
            f"{TELNYX.local_env} is not an Ed25519 public key: "
            f"expected {PUBLIC_KEY_BYTES} bytes, got {len(raw)}"
        )
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey  # noqa: PLC0415

    try:
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        raise PublicKeyError(f"{TELNYX.local_env} is not an Ed25519 public key") from None


def _signature(header: str) -> bytes | None:
    try:
        raw = base64.b64decode(header, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == SIGNATURE_BYTES else None


def verify(request: WebhookRequest, secret: str, now: datetime) -> Verdict:
    """Authenticate a Telnyx webhook from its raw body and two headers.

    The signature is checked before the time window, so ``STALE`` means what the verdict says:
    signed by Telnyx, but outside the window (a replay); a forged old request is ``INVALID``.
    A malformed public key is logged as an error and refuses the request as ``INVALID``: that
    answer makes the route re-read the secret once, which picks up a corrected key at once,
    and it never lets a request through unverified.
    """
    signature_header = (request.header(SIGNATURE_HEADER) or "").strip()
    timestamp = (request.header(TIMESTAMP_HEADER) or "").strip()
    if not signature_header or not timestamp:
        return Verdict.MISSING
    signature = _signature(signature_header)
    if signature is None or not _TIMESTAMP.fullmatch(timestamp):
        return Verdict.INVALID
    try:
        key = public_key(secret)
    except PublicKeyError as exc:
        logger.error(f"{exc}; every Telnyx callback is refused until it is fixed")
        return Verdict.INVALID
    from cryptography.exceptions import InvalidSignature  # noqa: PLC0415 - loaded by public_key

    try:
        key.verify(signature, timestamp.encode("ascii") + b"|" + request.body)
    except InvalidSignature:
        return Verdict.INVALID
    # Whole seconds, as the SDK compares them (int(time.time())).
    if abs(int(now.timestamp()) - int(timestamp)) > TOLERANCE_SECONDS:
        return Verdict.STALE
    return Verdict.OK


# ------------------------------------------------------------------ the event


class _Lenient(BaseModel):
    # Telnyx adds fields (cost_breakdown, tcr_campaign_*...); only what is read is validated.
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Address(_Lenient):
    phone_number: str
    status: str | None = None


class ErrorSource(_Lenient):
    pointer: str | None = None


class MessagingError(_Lenient):
    code: str
    source: ErrorSource | None = None

    @field_validator("code", mode="before")
    @classmethod
    def _text_code(cls, value: object) -> object:
        return str(value) if isinstance(value, int) else value  # "40300" in the docs; tolerate 40300

    def recipient(self) -> int | None:
        """The index in ``payload.to`` the error points at (``/to/1/phone_number``), if any."""
        match = _RECIPIENT_POINTER.match(self.source.pointer or "") if self.source else None
        return int(match.group(1)) if match else None


class Message(_Lenient):
    id: str = Field(min_length=1)
    sender: Address | None = Field(default=None, alias="from")
    to: list[Address] = Field(default_factory=list)
    text: str | None = None
    errors: list[MessagingError] = Field(default_factory=list)


class Event(_Lenient):
    event_type: str
    id: str | None = None
    occurred_at: str | None = None
    payload: dict[str, Any] | None = None


class Envelope(_Lenient):
    data: Event


_M = TypeVar("_M", bound=BaseModel)


def parse(request: WebhookRequest, now: datetime) -> list[SmsSignal]:
    """The signals in a verified webhook; :class:`MalformedCallback` when it is not one.

    Error messages name fields, never values: the route logs them, and values are phone numbers
    and message text.
    """
    envelope = _validate(Envelope, request.body)
    event = envelope.data
    if event.event_type != RECEIVED and event.event_type not in OUTBOUND_EVENTS:
        return []
    message = _validate(Message, event.payload)
    occurred_at = _occurred_at(event.occurred_at, now)
    if event.event_type == RECEIVED:
        return [_inbound(message, occurred_at)]
    return _outbound(event.event_type, message, occurred_at)


def _inbound(message: Message, occurred_at: datetime) -> SmsSignal:
    if message.sender is None:
        raise MalformedCallback("message.received without payload.from")
    outcome = classify_inbound(message.text)
    keyword = " ".join((message.text or "").split()).upper() if outcome is not SmsOutcome.RESPONDED else None
    return SmsSignal(
        provider=NAME,
        outcome=outcome,
        contact=_phone(message.sender.phone_number, "payload.from.phone_number"),
        message_id=message.id,
        occurred_at=occurred_at,
        inbound=True,
        detail=keyword,
    )


def _outbound(event_type: str, message: Message, occurred_at: datetime) -> list[SmsSignal]:
    group = len(message.to) > 1
    signals = []
    for index, recipient in enumerate(message.to):
        contact = _phone(recipient.phone_number, f"payload.to.{index}.phone_number")
        codes = [e.code for e in message.errors if e.recipient() in (None, index)]
        if event_type == FINALIZED:
            outcome, detail = outcome_of(recipient.status, codes)
        else:  # message.sent, message.read: never a delivery outcome
            outcome, detail = None, recipient.status
        signals.append(
            SmsSignal(
                provider=NAME,
                outcome=outcome,
                contact=contact,
                message_id=f"{message.id}:{contact}" if group else message.id,
                occurred_at=occurred_at,
                inbound=False,
                detail=detail[:_MAX_DETAIL] if detail else detail,
            )
        )
    return signals


def outcome_of(status: str | None, error_codes: list[str]) -> tuple[SmsOutcome | None, str | None]:
    """One recipient's outcome in a ``message.finalized`` and the detail kept with it.

    Unknown statuses store nothing but keep the status as the detail, so the route's log line
    shows them rather than dropping them silently (notes §10).
    """
    if status in DELIVERED_STATUSES:
        return SmsOutcome.DELIVERED, status
    if status in FAILED_STATUSES:
        if OPTED_OUT_ERROR in error_codes:
            return SmsOutcome.OPTED_OUT, f"{status}:{OPTED_OUT_ERROR}"
        return SmsOutcome.BOUNCED, f"{status}:{error_codes[0]}" if error_codes else status
    return None, status


def _validate(model: type[_M], value: bytes | dict[str, Any] | None) -> _M:
    try:
        if isinstance(value, bytes):
            return model.model_validate_json(value)
        return model.model_validate(value)
    except ValidationError as exc:
        where = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or model.__name__}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)[:3]
        )
        raise MalformedCallback(f"not a Telnyx messaging event ({where})") from None


def _phone(number: str, field: str) -> str:
    try:
        return e164(number)
    except ValueError:
        raise MalformedCallback(f"{field} is not a phone number") from None


def _occurred_at(text: str | None, now: datetime) -> datetime:
    """``data.occurred_at`` (RFC 3339, ``Z`` or an offset), else the time it was received."""
    if not text:
        return now
    try:
        parsed = datetime.fromisoformat(text)
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):  # an offset can push a valid-looking text out of range
        return now


# ------------------------------------------------------------------ the adapter


@dataclass(frozen=True)
class TelnyxProvider:
    """The Telnyx adapter in the shape the SMS route expects (:class:`SmsProvider`)."""

    name: str = NAME
    acknowledgement: tuple[str, str] = ("application/json", "{}")

    def verify(self, request: WebhookRequest, secret: str, now: datetime) -> Verdict:
        return verify(request, secret, now)

    def parse(self, request: WebhookRequest, now: datetime) -> list[SmsSignal]:
        return parse(request, now)


PROVIDER = TelnyxProvider()

if TYPE_CHECKING:
    _conforms: SmsProvider = PROVIDER

SOURCE = SmsSource(
    PROVIDER,
    summary="Telnyx messaging webhook",
    description="Verified with `telnyx-signature-ed25519` over the timestamp and raw body (300 s window).",
    credential="telnyx-signature-ed25519",
)
