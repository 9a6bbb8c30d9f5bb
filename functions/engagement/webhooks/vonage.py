"""Vonage (Nexmo) SMS webhooks: verify either signing scheme, then read the callback.

Vonage has two messaging APIs with different webhook formats, and the dashboard setting
"Messaging API Type" decides which one an account's inbound SMS and delivery receipts use
[Vonage docs "API Settings"; webhook-providers notes §4]. Both arrive on ``/webhooks/vonage``:

SMS API (legacy), GET query, POST form or POST JSON
    Signed webhooks (off until Vonage support enables them) add ``sig``, ``timestamp`` and
    ``nonce``. The signed string is every parameter but ``sig``, sorted by name, as
    ``&name=value`` with ``&`` and ``=`` inside values replaced by ``_``; the signature is
    ``md5(string + secret)`` for the dashboard's "MD5 hash" or ``HMAC(secret, string)`` for the
    MD5/SHA1/SHA-256/SHA-512 HMAC settings, hex [Vonage docs "Signing Messages";
    Vonage/vonage-python-sdk:http_client/src/vonage_http_client/auth.py ``sign_params``;
    Vonage/vonage-ruby-sdk:lib/vonage/signature.rb]. The Ruby and .NET SDKs emit the HMAC
    variants in upper case, so the presented ``sig`` is compared case-insensitively.

Messages API, POST JSON
    ``Authorization: Bearer <JWT>``, HS256 with the same signature secret whatever the
    dashboard method says; claims carry ``iat`` and ``payload_hash`` (hex SHA-256 of the body)
    [Vonage docs "Signed webhooks" (Messages); Vonage/vonage-python-sdk:jwt/src/vonage_jwt/
    verify_jwt.py]. The token is checked here with hmac/hashlib, not a JWT library, because
    the runtime carries no PyJWT and the check is four steps: alg, signature, body hash, age.

Which scheme applies is decided by the request alone, the same way in ``verify`` and
``parse`` (:func:`_bearer`): a Bearer token means the Messages API and only the JSON body is
read; otherwise the SMS API parameters are read from exactly where they were signed (the
query for GET, the form or JSON body for POST). So ``parse`` never reads a byte the
verified signature did not cover.

Signature method (a choice the notes left open). Every one of the five methods is computed and
compared in constant time, and a match on any is accepted; no setting names the method. This is
safe because all five are keyed by the same signature secret: without it none can be produced,
and accepting five candidates multiplies a forger's chance by five, from at most 2^-128.
It removes a whole class of outage (the dashboard and a deployment setting disagreeing, made
likely by the SDKs themselves: the v3 Python SDK defaults to the plain MD5 hash, the v4 SDK's
default ``signature_method='md5'`` is HMAC-MD5, notes §4.1 pitfall) and needs no configuration
the topology does not already declare. The cost: an account that selected SHA-512 HMAC gets
no stronger protection than "MD5 hash", Vonage's own default; ``VonageProvider(methods=...)``
pins a subset where that matters.

Freshness. A JWT's ``iat`` must be within ``tolerance_s`` (300 s) of now, else STALE. The SMS
API ``timestamp`` gets ``sms_api_tolerance_s`` (25 hours) instead: Vonage documents it as the
Unix form of ``message-timestamp``, "when Vonage started to push" the message [Vonage docs
"Inbound SMS"], and it resends for up to 24 hours, so a five-minute window would refuse its own
retries and lose the callback. A replay inside the window gains nothing: the signature pins the
content and the event ids derived from Vonage's ids make a repeat a duplicate.

Mapping (notes §10) to :class:`~engagement.webhooks.sms.SmsOutcome`:

    SMS API DLR  delivered                      DELIVERED
                 failed, rejected, expired      BOUNCED, or OPTED_OUT when err-code is 9
                 accepted, buffered, unknown    None (acknowledged, nothing stored)
    Messages     delivered                      DELIVERED
                 rejected, undeliverable        BOUNCED
                 submitted, read                None (SMS has no opens)
    inbound      STOP family / START family / anything else: OPTED_OUT / OPTED_IN / RESPONDED

Any other status is acknowledged with outcome None and the status kept as ``detail``, so it is
visible rather than silently dropped. Err-code 9 is "the user has requested not to receive
messages from the sending number" [Vonage docs "Messaging Opted-out Numbers"].

Multipart inbound SMS (SMS API only: each part is its own webhook with its own ``messageId``,
sharing ``concat-ref``) counts once: every part gets the same message id, built from sender,
virtual number, ``concat-ref``, ``concat-total`` and the UTC day of ``message-timestamp``. A
concatenated message is never a bare keyword, so every part is RESPONDED and the parts are
interchangeable; the first one stored wins. ``concat-ref`` is the handset's 8- or 16-bit
counter and wraps, hence the day and part count in the key. A Messages API inbound SMS is one
webhook carrying ``sms.num_messages`` (read here as already reassembled, an inference), and its
status callbacks aggregate the per-segment receipts [Vonage docs "Multi-segment SMS Status
Handling"]. SMS API delivery receipts, in contrast, arrive once per part with per-part ids and
nothing linking them, so a multipart outbound message delivered counts once per part.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final, TypeGuard

from engagement.domain import strict_json
from engagement.webhooks.provider import MalformedCallback, Verdict
from engagement.webhooks.request import FORM, WebhookRequest
from engagement.webhooks.sms import SmsOutcome, SmsSignal, SmsSource, classify_inbound, e164

if TYPE_CHECKING:
    from engagement.webhooks.provider import SmsProvider

NAME: Final = "vonage"
TOLERANCE_S: Final = 300
SMS_API_TOLERANCE_S: Final = 25 * 3600
"""Allowed distance between a signature's timestamp (or JWT ``iat``) and now, in seconds."""
OPTED_OUT_ERR_CODE: Final = "9"
JSON_MEDIA: Final = "application/json"


class SignatureMethod(StrEnum):
    """The dashboard's five methods, named as the Ruby SDK and the v4 Python SDK name them."""

    MD5_HASH = "md5hash"
    """``md5(string + secret)``: the dashboard default, "MD5 hash"."""
    HMAC_MD5 = "md5"
    HMAC_SHA1 = "sha1"
    HMAC_SHA256 = "sha256"
    HMAC_SHA512 = "sha512"


_DLR_OUTCOMES: Final[Mapping[str, SmsOutcome | None]] = {
    "delivered": SmsOutcome.DELIVERED,
    "failed": SmsOutcome.BOUNCED,
    "rejected": SmsOutcome.BOUNCED,
    "expired": SmsOutcome.BOUNCED,
    "accepted": None,
    "buffered": None,
    "unknown": None,
}
_MESSAGES_OUTCOMES: Final[Mapping[str, SmsOutcome | None]] = {
    "delivered": SmsOutcome.DELIVERED,
    "rejected": SmsOutcome.BOUNCED,
    "undeliverable": SmsOutcome.BOUNCED,
    "submitted": None,
    "read": None,
}
_KEYWORD_OUTCOMES: Final = frozenset({SmsOutcome.OPTED_OUT, SmsOutcome.OPTED_IN})
_JWT_SEGMENT: Final = re.compile(r"[A-Za-z0-9_-]+")
_UNIX_SECONDS: Final = re.compile(r"[0-9]{1,12}")


# ------------------------------------------------------------------ SMS API signatures


def signing_string(params: Mapping[str, str]) -> str:
    """``&k1=v1&k2=v2...`` over every parameter but ``sig``, sorted by name.

    ``&`` and ``=`` inside values become ``_`` (as every Vonage SDK does), so ``a&b`` and
    ``a_b`` sign identically: a property of Vonage's scheme, not something a verifier can fix.
    """
    return "".join(
        f"&{key}={params[key].replace('&', '_').replace('=', '_')}" for key in sorted(params) if key != "sig"
    )


def signature(params: Mapping[str, str], secret: str, method: SignatureMethod) -> str:
    """The lowercase hex signature Vonage computes for ``params`` with ``method``."""
    text = signing_string(params).encode("utf-8")
    key = secret.encode("utf-8")
    if method is SignatureMethod.MD5_HASH:
        # Vonage's "MD5 hash" scheme, reproduced because Vonage signs with it, not chosen here.
        return hashlib.md5(text + key).hexdigest()  # noqa: S324
    return hmac.new(key, text, method.value).hexdigest()


def _verify_sms_signature(
    params: Mapping[str, str],
    secret: str,
    now: datetime,
    *,
    methods: tuple[SignatureMethod, ...],
    tolerance_s: int,
) -> Verdict:
    presented = params["sig"].strip().lower().encode("utf-8")
    matched = False
    for method in methods:  # every method, every time: no early exit to time
        matched |= hmac.compare_digest(signature(params, secret, method).encode("ascii"), presented)
    if not secret or not matched:
        return Verdict.INVALID
    stamp = params.get("timestamp", "")
    if not _UNIX_SECONDS.fullmatch(stamp):
        return Verdict.INVALID  # signed without a usable timestamp: freshness cannot be shown
    if abs(now.timestamp() - int(stamp)) > tolerance_s:
        return Verdict.STALE
    return Verdict.OK


# ------------------------------------------------------------------ Messages API JWT


def verify_jwt(
    token: str, body: bytes, secret: str, now: datetime, *, tolerance_s: int = TOLERANCE_S
) -> Verdict:
    """Check a Messages API webhook JWT: HS256 only, signature, ``payload_hash``, ``iat``.

    The header must say ``HS256`` before the signature is even computed, so ``none`` and the
    RS256/HS256 key-confusion trick never reach it. ``payload_hash`` binds the token to this
    body; Vonage calls the check optional over HTTPS, but it is what stops a captured token
    being replayed with a different body, so it is enforced whenever the claim is present.
    Without the claim (the brief asks for the check only when it is present; Vonage documents
    the claim as always present) the token proves only a recent request from Vonage. An exact
    replay inside the ``iat`` window carries the same ids and is deduplicated downstream.
    ``exp``, when present, is honoured too.
    """
    claims = _authentic_claims(token, secret)
    if claims is None or not _body_matches(claims.get("payload_hash"), body):
        return Verdict.INVALID
    issued_at, expires_at = claims.get("iat"), claims.get("exp")
    if not _is_number(issued_at) or (expires_at is not None and not _is_number(expires_at)):
        return Verdict.INVALID
    instant = now.timestamp()
    expired = expires_at is not None and instant >= expires_at
    return Verdict.STALE if abs(instant - issued_at) > tolerance_s or expired else Verdict.OK


def _authentic_claims(token: str, secret: str) -> dict[str, Any] | None:
    """The claims of a well-formed HS256 token signed with ``secret``, else None."""
    segments = token.split(".")
    if len(segments) != 3 or not all(_JWT_SEGMENT.fullmatch(s) for s in segments):
        return None
    header = _json_segment(segments[0])
    if not isinstance(header, dict) or header.get("alg") != "HS256" or "crit" in header or not secret:
        return None
    signing_input = f"{segments[0]}.{segments[1]}".encode("ascii")
    expected = _b64url(hmac.new(secret.encode("utf-8"), signing_input, hashlib.sha256).digest())
    if not hmac.compare_digest(expected.encode("ascii"), segments[2].encode("ascii")):
        return None
    claims = _json_segment(segments[1])
    return claims if isinstance(claims, dict) else None


def _body_matches(payload_hash: object, body: bytes) -> bool:
    """True when there is no ``payload_hash`` claim, or it is the hex SHA-256 of ``body``."""
    if payload_hash is None:
        return True
    if not isinstance(payload_hash, str):
        return False
    body_hash = hashlib.sha256(body).hexdigest().encode("ascii")
    return hmac.compare_digest(body_hash, payload_hash.strip().lower().encode("utf-8"))


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _json_segment(segment: str) -> Any:
    try:
        return strict_json.parse(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (binascii.Error, ValueError):  # a refused or undecodable segment: no token at all
        return None


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


# ------------------------------------------------------------------ where the fields are


def _bearer(request: WebhookRequest) -> str | None:
    """The token of ``Authorization: Bearer <token>``; None when the request carries none."""
    scheme, _, token = (request.header("authorization") or "").strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _sms_pairs(request: WebhookRequest) -> list[tuple[str, str]]:
    """SMS API parameters from where Vonage put (and signed) them: GET query, POST body."""
    method = request.method.upper()
    if method == "GET":
        return request.query_params()
    if method != "POST":
        return []
    if request.media_type == FORM:
        try:
            return request.form()
        except UnicodeDecodeError:
            return []
    if request.media_type == JSON_MEDIA:
        return _flat_json_pairs(request.body)
    return []


def _flat_json_pairs(body: bytes) -> list[tuple[str, str]]:
    """Top-level pairs of a flat JSON object (the SMS API's POST-JSON shape), duplicates kept.

    Non-string scalars are signed as their JSON text (``true``, ``12``). A nested object or
    array means this is not an SMS API callback (the Messages API nests), so no parameters.
    """
    try:
        top = json.loads(body, object_pairs_hook=_JsonObject)
    except (ValueError, RecursionError):  # unsigned by definition: the caller refuses it as such
        return []
    if not isinstance(top, _JsonObject):
        return []
    pairs: list[tuple[str, str]] = []
    for key, value in top:
        if isinstance(value, str):
            pairs.append((key, value))
        elif value is None or isinstance(value, bool | int | float):
            pairs.append((key, json.dumps(value)))
        else:
            return []
    return pairs


class _JsonObject(list[tuple[str, Any]]):
    """A JSON object as its pairs in order, repeats kept, told apart from a JSON array."""


def _unique(pairs: list[tuple[str, str]]) -> dict[str, str] | None:
    """The parameters as a mapping, or None when a name repeats (which value was signed?)."""
    params = dict(pairs)
    return params if len(params) == len(pairs) else None


# ------------------------------------------------------------------ reading callbacks


def _contact(value: object) -> str:
    if not isinstance(value, str):
        raise MalformedCallback("phone number missing")
    try:
        return e164(value)
    except ValueError as error:
        raise MalformedCallback("not a phone number") from error


def _required(params: Mapping[str, Any], name: str) -> str:
    value = params.get(name)
    if not isinstance(value, str) or not value.strip():
        raise MalformedCallback(f"{name} missing")
    return value.strip()


def parse_time(value: object) -> datetime | None:
    """Vonage timestamps in UTC: ``2020-01-01 12:00:00`` (SMS API, no offset: UTC±00:00 per
    the docs), ISO 8601 with ``Z``/offset and milliseconds (Messages API, POST-JSON examples)."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # an offset can push a valid-looking text out of range
        return None


def _parse_scts(value: object) -> datetime | None:
    """The DLR's ``scts``, ``YYMMDDHHMM`` (2001011400 is 2020-01-01 14:00) [Vonage DLR docs]."""
    if not isinstance(value, str) or not re.fullmatch(r"[0-9]{10}", value.strip()):
        return None
    try:
        return datetime.strptime(value.strip(), "%y%m%d%H%M").replace(tzinfo=UTC)
    except ValueError:
        return None


def _occurred(candidates: tuple[datetime | None, ...], now: datetime) -> datetime:
    """The first known time, never after ``now``: a provider clock ahead of ours must not
    produce an event "from the future" (the domain refuses those)."""
    found = next((c for c in candidates if c is not None), now)
    return min(found, now)


def _keyword_detail(outcome: SmsOutcome, text: str | None) -> str | None:
    """The keyword for an opt-out/opt-in (the whole message, by definition); nothing of any
    other message, whose words are the contact's and not context to keep."""
    return " ".join((text or "").split()).upper() if outcome in _KEYWORD_OUTCOMES else None


def _parse_sms_api(params: Mapping[str, str], now: datetime) -> list[SmsSignal]:
    if "status" in params:
        return [_delivery_receipt(params, now)]
    if "msisdn" in params and "messageId" in params:
        return [_sms_inbound(params, now)]
    raise MalformedCallback("neither a Vonage inbound SMS nor a delivery receipt")


def _delivery_receipt(params: Mapping[str, str], now: datetime) -> SmsSignal:
    status = _required(params, "status").lower()
    message_id = _required(params, "messageId")
    contact = _contact(params.get("msisdn"))  # in a DLR, msisdn is the handset
    err_code = (params.get("err-code") or "").strip()
    outcome = _DLR_OUTCOMES.get(status)
    if outcome is SmsOutcome.BOUNCED and err_code == OPTED_OUT_ERR_CODE:
        outcome = SmsOutcome.OPTED_OUT
    detail = status if err_code in ("", "0") else f"{status} err-code={err_code}"
    occurred = _occurred((parse_time(params.get("message-timestamp")), _parse_scts(params.get("scts"))), now)
    return SmsSignal(NAME, outcome, contact, message_id, occurred, inbound=False, detail=detail)


def _sms_inbound(params: Mapping[str, str], now: datetime) -> SmsSignal:
    contact = _contact(params.get("msisdn"))
    message_id = _required(params, "messageId")
    sent_at = parse_time(params.get("message-timestamp"))
    occurred = _occurred((sent_at,), now)
    ref = (params.get("concat-ref") or "").strip()
    if ref:
        day = sent_at.date().isoformat() if sent_at else ""
        key = ":".join(
            ("concat", contact, params.get("to", "").strip(), ref, params.get("concat-total", ""), day)
        )
        return SmsSignal(NAME, SmsOutcome.RESPONDED, contact, key, occurred, inbound=True, detail=None)
    text = params.get("text")
    said = text if text is not None else params.get("keyword")
    outcome = classify_inbound(said)
    return SmsSignal(
        NAME, outcome, contact, message_id, occurred, inbound=True, detail=_keyword_detail(outcome, said)
    )


def _parse_messages(body: bytes, now: datetime) -> list[SmsSignal]:
    try:
        data = strict_json.parse(body)
    except ValueError as error:
        raise MalformedCallback("Messages API callback is not JSON") from error
    if not isinstance(data, dict):
        raise MalformedCallback("Messages API callback is not a JSON object")
    message_id = _required(data, "message_uuid")
    if data.get("channel", "sms") != "sms":
        return []  # WhatsApp, RCS, MMS...: not SMS engagement, acknowledged so Vonage stops retrying
    occurred = _occurred((parse_time(data.get("timestamp")),), now)
    if "status" in data:
        status = _required(data, "status").lower()
        code = _messages_error_code(data.get("error"))
        detail = status if code is None else f"{status} error={code}"
        contact = _contact(data.get("to"))
        outcome = _MESSAGES_OUTCOMES.get(status)
        return [SmsSignal(NAME, outcome, contact, message_id, occurred, inbound=False, detail=detail)]
    contact = _contact(data.get("from"))
    text = data.get("text")
    sms = data.get("sms")
    keyword = sms.get("keyword") if isinstance(sms, dict) else None
    said = text if isinstance(text, str) else keyword if isinstance(keyword, str) else None
    outcome = classify_inbound(said)
    return [
        SmsSignal(
            NAME, outcome, contact, message_id, occurred, inbound=True, detail=_keyword_detail(outcome, said)
        )
    ]


def _messages_error_code(error: object) -> str | None:
    """``error.title`` when it is a code (1000, ...), else the ``#1000`` fragment of ``error.type``."""
    if not isinstance(error, dict):
        return None
    title = error.get("title")
    if (isinstance(title, int) and not isinstance(title, bool)) or (
        isinstance(title, str) and title.isdigit()
    ):
        return str(title)
    kind = error.get("type")
    if isinstance(kind, str) and "#" in kind:
        return kind.rsplit("#", 1)[1] or None
    return None


# ------------------------------------------------------------------ the provider


@dataclass(frozen=True)
class VonageProvider:
    """Vonage for the SMS webhook route; see the module docstring for every decision."""

    name: str = NAME
    acknowledgement: tuple[str, str] = ("text/plain", "")
    """Vonage needs a 200 or 204, or it resends for 24 hours [Vonage docs "Inbound SMS"]."""
    methods: tuple[SignatureMethod, ...] = tuple(SignatureMethod)
    """SMS API signature methods accepted; all five unless pinned (module docstring)."""
    tolerance_s: int = TOLERANCE_S
    sms_api_tolerance_s: int = SMS_API_TOLERANCE_S

    def verify(self, request: WebhookRequest, secret: str, now: datetime) -> Verdict:
        """JWT when a Bearer token is present, else the SMS API ``sig``; MISSING when neither.

        Vonage notes that "in the rare case of an internal error" a Messages callback may come
        unsigned and that a 5xx makes it retry. That request is MISSING here and refused with a
        401 like any unauthenticated one: answering 5xx would let any anonymous caller trip the
        5xx alarm, and an unsigned callback could not be trusted anyway.
        """
        token = _bearer(request)
        if token is not None:
            if not token:
                return Verdict.MISSING
            return verify_jwt(token, request.body, secret, now, tolerance_s=self.tolerance_s)
        pairs = _sms_pairs(request)
        if not any(key == "sig" for key, _ in pairs):
            return Verdict.MISSING
        params = _unique(pairs)
        if params is None:
            return Verdict.INVALID
        return _verify_sms_signature(
            params, secret, now, methods=self.methods, tolerance_s=self.sms_api_tolerance_s
        )

    def parse(self, request: WebhookRequest, now: datetime) -> list[SmsSignal]:
        """The signals of a verified request, read from what the verified scheme covered."""
        if _bearer(request) is not None:
            return _parse_messages(request.body, now)
        params = _unique(_sms_pairs(request))
        if params is None:
            raise MalformedCallback("a parameter is repeated")
        return _parse_sms_api(params, now)


PROVIDER: Final = VonageProvider()

if TYPE_CHECKING:
    _CONFORMS: SmsProvider = PROVIDER

SOURCE = SmsSource(
    PROVIDER,
    summary="Vonage SMS API callback (signed `sig`, GET or POST) or Messages API webhook (signed JWT)",
    description=(
        "Verified with the signature secret: the SMS API's `sig` parameter (md5hash, HMAC-MD5, SHA1, "
        "SHA256, SHA512) or the Messages API's `Authorization: Bearer` JWT with its `payload_hash`. "
        "An unsigned callback is refused with 401 like any other unauthenticated request."
    ),
    credential="Vonage signature",
)
