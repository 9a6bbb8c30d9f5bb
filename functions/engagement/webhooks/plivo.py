"""Plivo SMS callbacks: verify X-Plivo-Signature-V3 (or V2), read inbound messages and statuses.

Plivo POSTs form fields (or, for a URL registered with method GET, sends them as query
parameters) for two kinds of callback [Plivo docs "Handling incoming SMS/MMS/WhatsApp";
"Message Status Callbacks"]:

    inbound message   From, To, Text (Body for MMS/WhatsApp), Type, MessageUUID,
                      MessageIntent (optout / optin / help / blank), Units, TotalRate...
    status callback   MessageUUID, Status, ErrorCode, To, From, ParentMessageUUID, PartInfo,
                      Sequence, MessageTime, QueuedTime, SentTime, DeliveryReportTime, MCC...

A request carrying ``Status`` is a status callback; any other is an inbound message.

Mapping (webhook-providers notes §10; "Plivo error 200" below):

    Status delivered                                   delivered
    Status failed / undelivered / rejected             bounced
        ... with ErrorCode 200                         opted_out   (recipient had sent STOP)
    Status queued / sent / read, or any unknown word   acknowledged, nothing stored
    inbound, MessageIntent optout / optin              opted_out / opted_in (Plivo's own match)
    inbound, otherwise                                 classify_inbound(Text): opted_out,
                                                       opted_in or responded

ErrorCode 200: "Mobile subscribers who reply with "STOP" messages to your Plivo number are
considered opted-out and any subsequent SMS to these phone numbers are blocked by Plivo. Such
messages will be marked failed with error code 200." [Plivo support, "Can I reply to customers
who have opted out?", support.plivo.com/support/solutions/articles/17000089602]. So such a
failure records the opt-out, not a bounce, like Twilio 21610 and Telnyx 40300.

``read`` exists only for WhatsApp and this service has no "opened" outcome for SMS, so it stores
nothing; an unknown status word is kept as the signal's ``detail`` (the route logs it) rather
than refused, so that a new Plivo status never turns into retries.

Times: every signal's ``occurred_at`` is the time the callback arrived. Inbound callbacks carry
no time at all, and the status timestamps (``MessageTime``, ``DeliveryReportTime``...) are
documented as "YYYY-mm-dd HH:MM:SS.SSSSSS" with no zone, while the same account's API answers
carry offsets such as ``+05:30`` (plivo/plivo-python:tests/resources/fixtures/
messageGetResponse.json), so reading them as UTC could misplace an event by hours.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qsl, urlsplit

from engagement.webhooks.provider import MalformedCallback, SmsProvider, Verdict
from engagement.webhooks.request import WebhookRequest
from engagement.webhooks.sms import SmsOutcome, SmsSignal, SmsSource, classify_inbound, e164

NAME = "plivo"

# Header names as API Gateway delivers them (lowercased). The Ma ("main account") variants are
# always signed with the main account's Auth Token, the plain ones with the token of the account
# or subaccount that owns the number; both use the same nonce header [Plivo docs "Validating
# Requests and Responses", docs.plivo.com/docs/messaging/concepts/signature-validation: "You can
# use either X-Plivo-Signature-V2 or X-Plivo-Signature-Ma-V2 to validate a signature"].
V3_SIGNATURE_HEADERS = ("x-plivo-signature-v3", "x-plivo-signature-ma-v3")
V3_NONCE_HEADER = "x-plivo-signature-v3-nonce"
V2_SIGNATURE_HEADERS = ("x-plivo-signature-v2", "x-plivo-signature-ma-v2")
V2_NONCE_HEADER = "x-plivo-signature-v2-nonce"

OPTED_OUT_ERROR = "200"
"""Plivo's ErrorCode for a message blocked because the recipient had sent STOP."""
_NO_ERROR = frozenset({"", "0", "000"})  # "000 for successful delivery" [Plivo docs "Messages"]

STATUS_OUTCOMES: Mapping[str, SmsOutcome | None] = {
    "delivered": SmsOutcome.DELIVERED,
    "failed": SmsOutcome.BOUNCED,
    "undelivered": SmsOutcome.BOUNCED,
    "rejected": SmsOutcome.BOUNCED,  # in older docs and courier's map; kept for old accounts
    "queued": None,
    "sent": None,
    "read": None,  # WhatsApp only; SMS has no "opened"
}
_INTENTS: Mapping[str, SmsOutcome] = {"optout": SmsOutcome.OPTED_OUT, "optin": SmsOutcome.OPTED_IN}
_MAX_DETAIL = 64


# ------------------------------------------------------------------ signatures


def v2_message(url: str, nonce: str) -> str:
    """What V2 signs: scheme://host[:port]/path of the URL Plivo called, then the nonce.

    No query, no body, no separator before the nonce [plivo/plivo-python:plivo/utils/__init__.py
    ``validate_signature``; Plivo docs: "http://foo.com/answer/" and nonce
    "05429567804466091622" sign "http://foo.com/answer/05429567804466091622"].
    """
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}{nonce}"


def v3_message(method: str, url: str, form: Iterable[tuple[str, str]], nonce: str) -> str:
    """What V3 signs, as plivo/plivo-python:plivo/utils/signature_v3.py builds it.

    ``base`` is scheme://host[:port]/path; ``query`` the URL's query decoded and re-joined as
    sorted ``k=v`` pairs with ``&`` (repeated keys' values sorted too); ``params`` the POST form
    fields sorted the same way and concatenated as ``kv`` with no separators. Then:

        GET                   base[?query].nonce
        POST, no fields       base[?query].nonce
        POST with fields      base?params.nonce        (a bare "?" even without a query)
                              base?query.params.nonce  (with a query)

    The bare "?" is what the SDK (``construct_get_url`` called with ``empty_post_params=False``)
    and plivo/plivo-go:utils.go ``GenerateUrl`` both produce, and what Plivo's own published
    vectors need (plivo/plivo-ruby:spec/signature_spec.rb, the plivobin.non-prod.plivops.com
    cases): the "." between query and fields comes only with a query, the "?" whenever
    anything follows the base.
    """
    parts = urlsplit(url)
    base = f"{parts.scheme}://{parts.netloc}{parts.path}"
    query_pairs = _sorted_pairs(parse_qsl(parts.query, keep_blank_values=True))
    query = "&".join(f"{key}={value}" for key, value in query_pairs)
    if method.upper() == "GET":
        signed = f"{base}?{query}" if query else base
    else:
        fields = _sorted_pairs(form)
        signed = f"{base}?{query}" if query or fields else base
        if query and fields:
            signed += "."
        signed += "".join(f"{key}{value}" for key, value in fields)
    return f"{signed}.{nonce}"


def sign(message: str, token: str) -> str:
    """base64(HMAC-SHA256(token, message)), both UTF-8: the same for V2 and V3."""
    digest = hmac.new(token.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def _sorted_pairs(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Keys sorted, and each key's values sorted (the SDK groups repeats into sorted lists)."""
    grouped: dict[str, list[str]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    return [(key, value) for key in sorted(grouped) for value in sorted(grouped[key])]


def _candidates(request: WebhookRequest, names: Sequence[str]) -> list[str]:
    """Every signature offered under these headers. A header may list several, comma-separated
    (one per active Auth Token, and API Gateway comma-joins repeated headers); base64 has no
    commas, so splitting never breaks a signature."""
    found: list[str] = []
    for name in names:
        for item in (request.header(name) or "").split(","):
            if item.strip():
                found.append(item.strip())
    return found


def _matches(candidates: Sequence[str], expected: str) -> bool:
    """Constant-time comparison against every candidate (no early exit on the first match)."""
    wanted = expected.encode("ascii")
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(candidate.encode("utf-8"), wanted)
    return matched


def verify(request: WebhookRequest, token: str) -> Verdict:
    """V3 when its signature and nonce headers are present, else V2; MISSING when neither is.

    Either the plain or the Ma header may match: the configured token can be the main
    account's (it matches Ma always, and plain for the main account's own numbers) or a
    subaccount's (it matches plain). Both are HMACs under a token only Plivo and this service
    hold, so accepting either admits nothing a forger could produce.

    A request that carries V3 is judged by V3 alone: V3 covers the query and the form, V2 covers
    neither, so a V3 mismatch beside a valid V2 is what a replayed request with an altered body
    looks like, and it is INVALID. Plivo sends no timestamp, so a verdict is never STALE; a
    replay with the same nonce is caught only by the events' idempotent ids.
    """
    if not token:
        return Verdict.INVALID  # an empty key would let anyone sign
    v3 = _candidates(request, V3_SIGNATURE_HEADERS)
    v3_nonce = request.header(V3_NONCE_HEADER)
    if v3 and v3_nonce:
        try:
            form = request.form() if request.method.upper() != "GET" else []
        except UnicodeDecodeError:
            return Verdict.INVALID  # Plivo sends UTF-8; these bytes were not what it signed
        expected = sign(v3_message(request.method, request.url, form, v3_nonce), token)
        return Verdict.OK if _matches(v3, expected) else Verdict.INVALID
    v2 = _candidates(request, V2_SIGNATURE_HEADERS)
    v2_nonce = request.header(V2_NONCE_HEADER)
    if v2 and v2_nonce:
        expected = sign(v2_message(request.url, v2_nonce), token)
        return Verdict.OK if _matches(v2, expected) else Verdict.INVALID
    return Verdict.MISSING


# ------------------------------------------------------------------ callbacks


def fields(request: WebhookRequest) -> dict[str, str]:
    """The callback's fields, first value of each: form data for POST, the query for GET."""
    try:
        pairs = request.query_params() if request.method.upper() == "GET" else request.form()
    except UnicodeDecodeError as exc:
        raise MalformedCallback("the form body is not UTF-8") from exc
    found: dict[str, str] = {}
    for key, value in pairs:
        found.setdefault(key, value)
    return found


def parse(request: WebhookRequest, now: datetime) -> list[SmsSignal]:
    values = fields(request)
    if values.get("Status", "").strip():
        return [_status(values, now)]
    return [_inbound(values, now)]


def _status(values: Mapping[str, str], now: datetime) -> SmsSignal:
    """One outcome per message: each part of a long message has its own MessageUUID and the
    parent's in ParentMessageUUID (equal to MessageUUID for a single part), so keying on the
    parent makes the first terminal part decide and the others duplicates."""
    part_id = _required(values, "MessageUUID")
    message_id = values.get("ParentMessageUUID", "").strip() or part_id
    status = values["Status"].strip().lower()
    error = values.get("ErrorCode", "").strip()
    outcome = STATUS_OUTCOMES.get(status)
    if outcome is SmsOutcome.BOUNCED and error == OPTED_OUT_ERROR:
        outcome = SmsOutcome.OPTED_OUT
    detail = status if error in _NO_ERROR else f"{status}:{error}"
    return SmsSignal(
        provider=NAME,
        outcome=outcome,
        contact=_number(values, "To"),
        message_id=message_id,
        occurred_at=now,
        inbound=False,
        detail=detail[:_MAX_DETAIL],
    )


def _inbound(values: Mapping[str, str], now: datetime) -> SmsSignal:
    """Plivo matches its standard keywords itself (``MessageIntent``) and blocks or unblocks the
    sender accordingly, so its word decides when given; otherwise the shared keyword sets do
    (they are wider than Plivo's). The detail is Plivo's intent or the message type, never the
    text."""
    message_id = _required(values, "MessageUUID")
    contact = _number(values, "From")
    text = values["Text"] if "Text" in values else values.get("Body")
    intent = values.get("MessageIntent", "").strip().lower()
    outcome = _INTENTS.get(intent) or classify_inbound(text)
    detail = intent or values.get("Type", "").strip().lower() or "sms"
    return SmsSignal(
        provider=NAME,
        outcome=outcome,
        contact=contact,
        message_id=message_id,
        occurred_at=now,
        inbound=True,
        detail=detail[:_MAX_DETAIL],
    )


def _required(values: Mapping[str, str], name: str) -> str:
    value = values.get(name, "").strip()
    if not value:
        raise MalformedCallback(f"{name} is missing")
    return value


def _number(values: Mapping[str, str], name: str) -> str:
    """E.164 from Plivo's digits-only numbers; a short code or sender name is not a contact."""
    try:
        return e164(_required(values, name))
    except ValueError as exc:
        raise MalformedCallback(f"{name} is not a phone number") from exc


# ------------------------------------------------------------------ the provider


@dataclass(frozen=True)
class PlivoProvider:
    """The :class:`~engagement.webhooks.provider.SmsProvider` for Plivo."""

    name: str = NAME
    acknowledgement: tuple[str, str] = ("text/plain", "")
    """An empty 200: Plivo needs no XML unless the app replies to an inbound message."""

    def verify(self, request: WebhookRequest, secret: str, now: datetime) -> Verdict:
        """See :func:`verify`; ``now`` is unused because Plivo signs no timestamp."""
        return verify(request, secret)

    def parse(self, request: WebhookRequest, now: datetime) -> list[SmsSignal]:
        return parse(request, now)


PROVIDER: SmsProvider = PlivoProvider()

SOURCE = SmsSource(
    PROVIDER,
    summary="Plivo message callback",
    description="Verified with `X-Plivo-Signature-V3` (or V2) over the public URL, the nonce and the form.",
    credential="X-Plivo-Signature",
)
