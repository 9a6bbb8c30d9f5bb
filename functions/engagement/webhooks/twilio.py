"""Twilio Programmable Messaging webhooks: verify ``X-Twilio-Signature``, read the callback.

Twilio sends two kinds of request to the registered URLs, both form-encoded POSTs (or GETs with
the fields in the query, when so configured) [webhook-providers notes §3.1, §3.2]:

* a **status callback** about a message sent to a contact: ``MessageSid``, ``MessageStatus``,
  ``ErrorCode`` (on failed/undelivered), ``To`` (the contact), ``From``, ...;
* an **inbound message** from a contact: ``MessageSid``, ``From`` (the contact), ``Body``,
  ``NumMedia``, ``SmsStatus=received``, and ``OptOutType`` (STOP/START/HELP) when the Messaging
  Service has Advanced Opt-Out.

Verification (twilio/twilio-python ``twilio/request_validator.py``; twilio/twilio-node
``src/webhooks/webhooks.ts``; Twilio docs "Webhooks Security"; notes §3.3): the signature is
``base64(HMAC-SHA1(auth token, URL + name+value for each form field))``, fields sorted by name
and, within a name, by value, each distinct value once (both SDKs de-duplicate: the node test
"multiple params and values" and the python "duplicate" test share one expected signature).
The URL is the exact one Twilio requested, query string as sent, so it is used byte for byte and
never re-encoded (re-encoding broke every GET webhook in issue bmlt-enabled/yap#1627). Like the
SDKs, two URL forms are accepted because Twilio's own signing is inconsistent about ports: the
URL as given plus either the port removed (when it has one) or the scheme's default port added
(when it has none). JSON bodies carry ``bodySHA256=<hex SHA-256 of the raw body>`` in the query
and the HMAC covers the URL alone; the hash must match too. A non-form body without
``bodySHA256`` is unauthenticated and refused. Twilio sends no timestamp, so nothing is STALE:
replays are absorbed by the event ids (``sms.to_events``), not by a time window.

Mapping (notes §10, §11; every documented ``MessageStatus`` value has an explicit row, from
twilio/twilio-python ``twilio/rest/api/v2010/account/message/__init__.py`` and Twilio's OpenAPI
``message_enum_status``):

    delivered                          DELIVERED
    read (WhatsApp/RCS read receipt)   DELIVERED: a read message was delivered; it shares the
                                       message's one outcome id, so it never counts twice and
                                       recovers a lost "delivered" callback
    undelivered, failed                BOUNCED, except:
        ErrorCode 21610, 63014         OPTED_OUT (21610 "Attempt to send to unsubscribed
                                       recipient"; 63014 "Channel message blocked by user
                                       action": the contact withdrew consent; notes §11)
        ErrorCode 63018                None (channel rate limit: the sender was throttled, which
                                       says nothing about the contact; notes §3.2, courier)
    queued, accepted, scheduled,       None (intermediate; Twilio sends no callback for the
    sending, sent                      initial status at all)
    receiving, received                None (statuses of inbound messages; the inbound webhook
                                       itself is what counts as a response)
    canceled                           None (a scheduled message called off before sending:
                                       never attempted, so not a bounce)
    partially_delivered                None (neither a clean delivery nor a failure, and a
                                       definitive status may follow: storing either would claim
                                       the message's single outcome slot)
    anything else                      None, with the status kept in ``detail`` for the log

    inbound, OptOutType STOP / START   OPTED_OUT / OPTED_IN (Twilio's own keyword decision,
                                       which includes keywords customised on the service)
    inbound, OptOutType HELP           None
    inbound, no OptOutType             sms.classify_inbound(Body): STOP family -> OPTED_OUT,
                                       START/UNSTOP/YES -> OPTED_IN; HELP/INFO -> None ("HELP/INFO
                                       are neither", notes §10); anything else, including a
                                       picture without text, -> RESPONDED

``detail`` carries the status (with ``:<ErrorCode>`` when there is one) or the keyword, never
message text. The contact is ``To`` for a status and ``From`` for an inbound message, as E.164;
``whatsapp:+1...`` addresses are phone numbers too. A party that is not a phone number (an
alphanumeric sender, a short code, a WhatsApp business-scoped user id, another channel) is no
contact of this service: the callback is acknowledged with no signal rather than refused.
Twilio sends no event time, so ``occurred_at`` is the time of receipt.

This module never logs: the route logs signals, with numbers masked.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from engagement.webhooks.provider import MalformedCallback, SmsProvider, Verdict
from engagement.webhooks.request import FORM, WebhookRequest
from engagement.webhooks.sms import SmsOutcome, SmsSignal, SmsSource, classify_inbound, e164

NAME = "twilio"
SIGNATURE_HEADER = "x-twilio-signature"
BODY_HASH_PARAM = "bodySHA256"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
"""An empty TwiML response: "no reply" to an inbound message, and a fine answer to a status."""

STATUS_OUTCOMES: Mapping[str, SmsOutcome | None] = {
    "delivered": SmsOutcome.DELIVERED,
    "read": SmsOutcome.DELIVERED,
    "undelivered": SmsOutcome.BOUNCED,
    "failed": SmsOutcome.BOUNCED,
    "queued": None,
    "accepted": None,
    "scheduled": None,
    "sending": None,
    "sent": None,
    "receiving": None,
    "received": None,
    "canceled": None,
    "partially_delivered": None,
}
"""Every documented ``MessageStatus``; a status missing here maps to None and is logged."""

INBOUND_STATUSES = frozenset({"receiving", "received"})
OPT_OUT_ERROR_CODES = frozenset({"21610", "63014"})
"""Send failures that mean the contact withdrew consent: an opt-out, not a bounce."""
SENDER_ERROR_CODES = frozenset({"63018"})
"""Send failures caused by the sender's own throttling: nothing about the contact."""
HELP_KEYWORDS = frozenset({"HELP", "INFO"})
OPT_OUT_TYPES: Mapping[str, SmsOutcome | None] = {
    "STOP": SmsOutcome.OPTED_OUT,
    "START": SmsOutcome.OPTED_IN,
    "HELP": None,
}
PHONE_CHANNELS = frozenset({"whatsapp"})
"""Address prefixes (``whatsapp:+1...``) whose remainder is still the contact's phone number."""

_MAX_DETAIL = 64
_PHONE = re.compile(r"\+[0-9 ().-]+")
"""E.164 as Twilio writes it: a leading plus. Short codes and alphanumeric senders have none."""
# scheme://[userinfo@]host[:port][/path][?query][#fragment], split without decoding anything.
_AUTHORITY = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<userinfo>[^/?#@]*@)?"
    r"(?P<host>\[[^\]/?#]*\]|[^:/?#]*)(?::(?P<port>[0-9]*))?(?P<rest>[/?#].*)?",
    re.DOTALL,
)


@dataclass(frozen=True)
class TwilioProvider:
    """The Twilio adapter, in the shape of :class:`~engagement.webhooks.provider.SmsProvider`."""

    name: str = NAME
    acknowledgement: tuple[str, str] = ("text/xml", EMPTY_TWIML)

    def verify(self, request: WebhookRequest, secret: str, now: datetime) -> Verdict:
        """Check ``X-Twilio-Signature`` over the exact URL and fields, in constant time.

        ``now`` is unused: Twilio signs no timestamp (notes §3.3), so no request is STALE.
        """
        presented = request.header(SIGNATURE_HEADER)
        if not presented:
            return Verdict.MISSING
        if not secret:  # an empty key would let anyone sign
            return Verdict.INVALID
        try:
            return _verify(request, secret.encode("utf-8"), presented.encode("utf-8", "replace"))
        except UnicodeError:  # a body or URL Twilio could not have signed
            return Verdict.INVALID

    def parse(self, request: WebhookRequest, now: datetime) -> list[SmsSignal]:
        """The signal of a verified status callback or inbound message (one at most)."""
        fields = _fields(request)
        message_id = fields.get("MessageSid", "").strip()
        if not message_id:
            raise MalformedCallback("no MessageSid")
        status = fields.get("MessageStatus", "").strip().lower() or None
        # Inbound webhooks always carry NumMedia, and Body unless the message is only media.
        inbound_shape = "From" in fields and ("Body" in fields or "NumMedia" in fields)
        if inbound_shape and (status is None or status in INBOUND_STATUSES):
            return _inbound(fields, message_id, now)
        if status is not None:
            return _status(fields, status, message_id, now)
        raise MalformedCallback(
            "neither a status callback (MessageStatus) nor an inbound message (From, Body)"
        )


PROVIDER: SmsProvider = TwilioProvider()


# ------------------------------------------------------------------ verification


def _verify(request: WebhookRequest, key: bytes, presented: bytes) -> Verdict:
    body_matches = True
    if request.media_type == FORM:
        signed_fields = _canonical_fields(request.form())
    else:
        body_hash = next((v for k, v in request.query_params() if k == BODY_HASH_PARAM), None)
        if body_hash is not None:
            actual = hashlib.sha256(request.body).hexdigest().encode("ascii")
            body_matches = hmac.compare_digest(actual, body_hash.encode("utf-8", "replace"))
        elif request.body:
            return Verdict.INVALID  # a JSON (or other) body that nothing would authenticate
        signed_fields = ""
    matched = False
    for url in url_variants(request.url):
        digest = hmac.new(key, (url + signed_fields).encode("utf-8"), hashlib.sha1).digest()
        matched |= hmac.compare_digest(base64.b64encode(digest), presented)
    return Verdict.OK if matched and body_matches else Verdict.INVALID


def signature(url: str, fields: list[tuple[str, str]], token: str) -> str:
    """The ``X-Twilio-Signature`` Twilio sends for this URL and these form fields (a JSON body
    is covered by the URL's ``bodySHA256``, so its fields are none)."""
    digest = hmac.new(token.encode("utf-8"), (url + _canonical_fields(fields)).encode("utf-8"), hashlib.sha1)
    return base64.b64encode(digest.digest()).decode("ascii")


def _canonical_fields(fields: list[tuple[str, str]]) -> str:
    """name+value for every distinct (name, value), sorted by name then value, no separators.

    Python's ``sorted`` orders by code point, which for UTF-8 text is byte order (notes §3.3).
    """
    values: dict[str, set[str]] = {}
    for name, value in fields:
        values.setdefault(name, set()).add(value)
    return "".join(name + value for name in sorted(values) for value in sorted(values[name]))


def url_variants(url: str) -> list[str]:
    """The URL as given and its other port form, as the SDKs try them (notes §3.3).

    ``https://h/p`` also as ``https://h:443/p``; ``https://h:8443/p`` also as ``https://h/p``.
    Only the authority changes; path and query stay exactly as sent. Unlike the python SDK's
    ``remove_port`` (``netloc.split(":")``), credentials in the URL keep their password.
    """
    match = _AUTHORITY.fullmatch(url)
    if match is None:
        return [url]
    prefix = f"{match['scheme']}://{match['userinfo'] or ''}{match['host']}"
    rest = match["rest"] or ""
    if match["port"]:
        return [url, prefix + rest]
    default = "443" if match["scheme"].lower() == "https" else "80"
    return [url, f"{prefix}:{default}{rest}"]


# ------------------------------------------------------------------ parsing


def _fields(request: WebhookRequest) -> dict[str, str]:
    """First value of each field, from the form body and then the query (GET webhooks)."""
    try:
        pairs = [*request.form(), *request.query_params()]
    except UnicodeError as exc:
        raise MalformedCallback("the form body is not UTF-8") from exc
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(name, value)
    return fields


def _status(fields: Mapping[str, str], status: str, message_id: str, now: datetime) -> list[SmsSignal]:
    inbound = status in INBOUND_STATUSES
    contact = _contact(fields, "From" if inbound else "To")
    if contact is None:
        return []
    outcome = STATUS_OUTCOMES.get(status)
    error_code = fields.get("ErrorCode", "").strip()
    if outcome is SmsOutcome.BOUNCED and error_code in OPT_OUT_ERROR_CODES:
        outcome = SmsOutcome.OPTED_OUT
    elif outcome is SmsOutcome.BOUNCED and error_code in SENDER_ERROR_CODES:
        outcome = None
    detail = f"{status}:{error_code}" if error_code else status
    return [SmsSignal(NAME, outcome, contact, message_id, now, inbound, detail[:_MAX_DETAIL])]


def _inbound(fields: Mapping[str, str], message_id: str, now: datetime) -> list[SmsSignal]:
    contact = _contact(fields, "From")
    if contact is None:
        return []
    outcome: SmsOutcome | None
    detail: str | None
    opt_out_type = fields.get("OptOutType", "").strip().upper()
    if opt_out_type in OPT_OUT_TYPES:
        outcome, detail = OPT_OUT_TYPES[opt_out_type], opt_out_type
    else:
        word = " ".join(fields.get("Body", "").split()).upper()
        if word in HELP_KEYWORDS:
            outcome, detail = None, word
        else:
            outcome = classify_inbound(word)
            # A keyword is one of sms.py's fixed words; any other text stays out of the detail.
            detail = word if outcome is not SmsOutcome.RESPONDED else None
    return [SmsSignal(NAME, outcome, contact, message_id, now, True, detail)]


def _contact(fields: Mapping[str, str], name: str) -> str | None:
    """The party's E.164 number; None when it is not a phone number (see the module docstring)."""
    address = fields.get(name, "").strip()
    if not address:
        raise MalformedCallback(f"no {name}")
    channel, colon, rest = address.partition(":")
    if colon:
        if channel.lower() not in PHONE_CHANNELS:
            return None
        address = rest.strip()
    if not _PHONE.fullmatch(address):
        return None
    try:
        return e164(address)
    except ValueError:  # too short or too long: a short code, say
        return None


SOURCE = SmsSource(
    PROVIDER,
    summary="Twilio status callback or inbound message",
    description=(
        "Verified with `X-Twilio-Signature` over the public URL and the form parameters (or the "
        "`bodySHA256` query parameter for JSON bodies). Add `?campaign=<id>` to the registered URL to "
        "attribute the events to a campaign."
    ),
    credential="X-Twilio-Signature",
)
