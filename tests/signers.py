"""Sign provider callbacks the way each provider does, with its official SDK where it has one.

Used by the integration and end-to-end tests to play the provider against the real routes.
"""

from __future__ import annotations

import base64
import time
from typing import Any
from urllib.parse import urlencode

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from plivo.utils import signature_v3  # type: ignore[import-untyped]
from twilio.request_validator import RequestValidator
from vonage_http_client.auth import Auth

FORM = "application/x-www-form-urlencoded"


def twilio_form(url: str, fields: dict[str, str], token: str) -> tuple[bytes, dict[str, str]]:
    signature = RequestValidator(token).compute_signature(url, fields)
    return urlencode(fields).encode(), {"Content-Type": FORM, "X-Twilio-Signature": signature}


def vonage_query(params: dict[str, str], secret: str) -> str:
    """An SMS API GET callback's query string, signed (HMAC-MD5, the v4 SDK's default)."""
    signed = {**params, "timestamp": str(int(time.time()))}
    sig = Auth(api_key="abcd1234", signature_secret=secret, signature_method="md5").sign_params(dict(signed))
    return urlencode({**signed, "sig": sig})


class TelnyxSigner:
    def __init__(self) -> None:
        self.key = Ed25519PrivateKey.generate()
        raw = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.public_key = base64.b64encode(raw).decode()

    def headers(self, body: bytes, *, at: int | None = None) -> dict[str, str]:
        stamp = str(at if at is not None else int(time.time()))
        signature = base64.b64encode(self.key.sign(stamp.encode() + b"|" + body)).decode()
        return {
            "Content-Type": "application/json",
            "telnyx-signature-ed25519": signature,
            "telnyx-timestamp": stamp,
        }


def plivo_form(
    url: str, fields: dict[str, str], token: str, nonce: str = "12345678901234567890"
) -> tuple[bytes, dict[str, Any]]:
    base = signature_v3.construct_post_url(url, dict(fields)).decode("utf-8")
    signature = signature_v3.get_signature_v3(token, base, nonce).decode("ascii")
    headers = {"Content-Type": FORM, "X-Plivo-Signature-V3": signature, "X-Plivo-Signature-V3-Nonce": nonce}
    return urlencode(fields).encode(), headers
