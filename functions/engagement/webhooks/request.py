"""A provider's request as the provider sent it: the exact public URL, raw bytes, headers.

Signatures cover exact bytes and the exact URL the provider called (Twilio and Plivo sign
the URL, Telnyx and Vonage's JWT sign the body), so nothing here re-encodes, re-sorts or
re-serializes: the body is the decoded API Gateway body as bytes, the query string is
``rawQueryString`` untouched, and the URL is rebuilt the way the provider saw it.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class WebhookRequest:
    method: str
    url: str
    """scheme://host[/stage]/path[?rawQueryString]: the URL the provider requested."""
    headers: Mapping[str, str]
    """Lowercased names (API Gateway payload 2.0 already lowercases them)."""
    body: bytes
    query: str
    """The raw query string, exactly as sent."""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def media_type(self) -> str:
        return (self.header("content-type") or "").split(";")[0].strip().lower()

    def form(self) -> list[tuple[str, str]]:
        """Form fields in order, blank values and repeats kept (signatures include both)."""
        if self.media_type != FORM:
            return []
        return parse_qsl(self.body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)

    def query_params(self) -> list[tuple[str, str]]:
        return parse_qsl(self.query, keep_blank_values=True)

    def param(self, name: str) -> str | None:
        """The first value of a field, from the form body or else the query string."""
        for key, value in (*self.form(), *self.query_params()):
            if key == name:
                return value
        return None


def from_api_gateway(event: Mapping[str, Any], *, public_base_url: str | None = None) -> WebhookRequest:
    """Rebuild the request from an HTTP API payload 2.0 event.

    The URL: ``public_base_url`` (for custom domains and proxies, which API Gateway cannot
    see) plus the path, else ``https://`` + the domain API Gateway served + ``rawPath`` (which
    includes ``/<stage>`` for a named stage, as the provider's URL did).
    """
    context = event.get("requestContext") or {}
    path = str(event.get("rawPath") or context.get("http", {}).get("path") or "/")
    base = public_base_url.rstrip("/") if public_base_url else f"https://{context.get('domainName', '')}"
    query = str(event.get("rawQueryString") or "")
    raw = event.get("body") or ""
    body = base64.b64decode(raw) if event.get("isBase64Encoded") else str(raw).encode("utf-8")
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    return WebhookRequest(
        method=str(context.get("http", {}).get("method", "POST")).upper(),
        url=base + path + (f"?{query}" if query else ""),
        headers=headers,
        body=body,
        query=query,
    )
