"""Replay a recording (:mod:`infra.local.recording`) against the runner or a deployed stage.

Each recorded request is sent to ``base_url`` + path (+ ``?`` + query) with the recorded
method, the recorded path and query characters, the recorded headers in their order (repeats
included) and the recorded body bytes. Nothing is decoded and re-encoded on the way: webhook
signatures cover exact bytes (Telegram's secret token aside, Twilio, Plivo, Vonage and Telnyx
sign the body and/or the full URL), API Gateway hands ``rawQueryString`` to the function as
sent, and a replay that "normalises" ``+`` into ``%20`` tests a request nobody sends.

What does change, and why:

* Connection-level headers are dropped (``Host``, ``Content-Length``, ``Connection`` and the
  headers it names, ``Keep-Alive``, ``Transfer-Encoding``, ``TE``, ``Trailer``, ``Upgrade``,
  ``Proxy-*``, ``Expect``). They describe the recorded connection, not the request: the
  target's ``Host`` and the body's real ``Content-Length`` are sent instead, and the body is
  sent at once, so ``Expect: 100-continue`` has nothing to wait for.
* Credentials can be re-signed. A recording made against one environment carries that
  environment's API key or provider signature; a *resigner* rewrites it for the target with
  a secret given on the command line (``--secret NAME=VALUE``).

``http.client`` sends the requests, not ``urllib.request``: urllib keeps headers in a dict
(repeats lost, names re-capitalised) and adds ``User-Agent``/``Accept-Encoding`` of its own.

Pacing: ``"none"`` sends back to back; ``"original"`` sleeps the gaps between the recorded
``recorded_at`` times; a number ``k`` sleeps each gap divided by ``k``. The gaps are slept
between sends, so the target's response times add to them. ``sleep`` is injectable: tests
pass a fake, and a caller replaying against the runner can pass one that advances the
runner's virtual clock instead of waiting.

Adding a resigner for a webhook provider
-----------------------------------------
Write a class with the :class:`Resigner` shape below (next to :class:`TelegramSecretTokenResigner`)
and add an instance to :data:`RESIGNERS`. Resigners run in list order on every request they
``applies()`` to. They get the target URL (URL-signing providers sign it) and the secrets from
``--secret``; by convention a resigner reads the secret named after itself. A resigner may change
headers and body but not the method, path or query (the URL it signed).
"""

from __future__ import annotations

import argparse
import dataclasses
import http.client
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal, Protocol
from urllib.parse import parse_qsl, urlsplit

from engagement.webhooks import plivo, twilio
from engagement.webhooks.telegram import SECRET_HEADER as TELEGRAM_SECRET_HEADER
from infra.local.recording import RecordedRequest, RecordingError, read_recording

DEFAULT_TARGET = "http://127.0.0.1:3000"

Pace = Literal["none", "original"] | float

HOP_BY_HOP = frozenset(
    {
        "host",
        "content-length",
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "proxy-authorization",
        "proxy-authenticate",
        "expect",
    }
)
"""Header names (lowercase) never replayed; see the module docstring."""

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


@dataclass(frozen=True)
class Outgoing:
    """A request ready for the wire: the full URL and exactly the headers to send besides ``Host``."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass(frozen=True)
class Answer:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


Sender = Callable[[Outgoing], Answer]
"""Sends one request and returns the answer, whatever its status.

It raises ``OSError``, ``http.client.HTTPException`` or :class:`SendError` when no answer
could be had; :func:`replay` reports that for the request and goes on.
"""


class SendError(Exception):
    """The request cannot be sent as recorded (for example a target that is not ASCII)."""


@dataclass(frozen=True)
class ReplayResult:
    request: RecordedRequest
    """As recorded."""
    sent: RecordedRequest
    """After re-signing (what went out, connection headers aside)."""
    url: str
    status: int | None
    """``None`` when no answer came back; ``error`` says why."""
    body: bytes
    headers: tuple[tuple[str, str], ...]
    elapsed_ms: float
    error: str | None = None

    @property
    def answered(self) -> bool:
        return self.status is not None


class Resigner(Protocol):
    """Rewrites a recorded request's credentials for the replay target (see the module docstring)."""

    @property
    def name(self) -> str: ...

    def applies(self, request: RecordedRequest) -> bool: ...

    def resign(
        self, request: RecordedRequest, *, url: str, secrets: Mapping[str, str]
    ) -> RecordedRequest: ...


@dataclass(frozen=True)
class BearerKeyResigner:
    """Replaces the key of ``Authorization: Bearer <key>`` with ``secrets["api_key"]``.

    Recordings taken against the runner carry its (often generated) key; a deployed stage
    wants its own. Without the secret the request is left as recorded, which is right when
    replaying to the runner that issued the key.
    """

    name: str = "api_key"

    def applies(self, request: RecordedRequest) -> bool:
        return any(_bearer_scheme(name, value) is not None for name, value in request.headers)

    def resign(self, request: RecordedRequest, *, url: str, secrets: Mapping[str, str]) -> RecordedRequest:
        key = secrets.get(self.name)
        if key is None:
            return request
        headers: list[tuple[str, str]] = []
        for name, value in request.headers:
            scheme = _bearer_scheme(name, value)
            headers.append((name, value if scheme is None else f"{scheme} {key}"))
        return dataclasses.replace(request, headers=tuple(headers))


def _bearer_scheme(name: str, value: str) -> str | None:
    """The scheme as spelled (``Bearer``, ``bearer``) when this is a bearer Authorization header."""
    if name.lower() != "authorization":
        return None
    scheme, _, _ = value.partition(" ")
    return scheme if scheme.lower() == "bearer" else None


@dataclass(frozen=True)
class TelegramSecretTokenResigner:
    """Replaces Telegram's ``X-Telegram-Bot-Api-Secret-Token`` with ``secrets["telegram"]``.

    Telegram signs nothing: the header carries the ``secret_token`` given to ``setWebhook``, so
    re-signing for another stage is swapping that value.
    """

    name: str = "telegram"

    def applies(self, request: RecordedRequest) -> bool:
        return any(n.lower() == TELEGRAM_SECRET_HEADER for n, _ in request.headers)

    def resign(self, request: RecordedRequest, *, url: str, secrets: Mapping[str, str]) -> RecordedRequest:
        token = secrets.get(self.name)
        if token is None:
            return request
        headers = tuple((n, token if n.lower() == TELEGRAM_SECRET_HEADER else v) for n, v in request.headers)
        return dataclasses.replace(request, headers=headers)


def _form(request: RecordedRequest) -> list[tuple[str, str]]:
    media = next((v for n, v in request.headers if n.lower() == "content-type"), "").split(";")[0].strip()
    if media.lower() != "application/x-www-form-urlencoded":
        return []
    return parse_qsl(request.body.decode("utf-8"), keep_blank_values=True)


def _replace_header(request: RecordedRequest, name: str, value: str) -> RecordedRequest:
    headers = tuple((n, value if n.lower() == name else v) for n, v in request.headers)
    return dataclasses.replace(request, headers=headers)


@dataclass(frozen=True)
class TwilioSignatureResigner:
    """Re-signs ``X-Twilio-Signature`` for the target URL with ``secrets["twilio"]`` (the Auth
    Token of the account the target verifies against): Twilio signs the URL it calls, so a
    recorded callback replayed anywhere else needs a new signature."""

    name: str = "twilio"

    def applies(self, request: RecordedRequest) -> bool:
        return any(n.lower() == twilio.SIGNATURE_HEADER for n, _ in request.headers)

    def resign(self, request: RecordedRequest, *, url: str, secrets: Mapping[str, str]) -> RecordedRequest:
        token = secrets.get(self.name)
        if token is None:
            return request
        return _replace_header(request, twilio.SIGNATURE_HEADER, twilio.signature(url, _form(request), token))


@dataclass(frozen=True)
class PlivoSignatureResigner:
    """Re-signs Plivo's V3 (or V2) signature for the target URL with ``secrets["plivo"]``, keeping
    the recorded nonce. Main-account (``-Ma-``) signatures are dropped: one token signs here."""

    name: str = "plivo"

    def applies(self, request: RecordedRequest) -> bool:
        return any(n.lower().startswith("x-plivo-signature-") for n, _ in request.headers)

    def resign(self, request: RecordedRequest, *, url: str, secrets: Mapping[str, str]) -> RecordedRequest:
        token = secrets.get(self.name)
        if token is None:
            return request
        headers = {n.lower(): v for n, v in request.headers}
        if "x-plivo-signature-v3-nonce" in headers:
            nonce = headers["x-plivo-signature-v3-nonce"]
            signed = plivo.sign(plivo.v3_message(request.method, url, _form(request), nonce), token)
            name = "x-plivo-signature-v3"
        else:
            nonce = headers.get("x-plivo-signature-v2-nonce", "")
            signed = plivo.sign(plivo.v2_message(url, nonce), token)
            name = "x-plivo-signature-v2"
        kept = tuple((n, v) for n, v in request.headers if "-ma-" not in n.lower() and n.lower() != name)
        return dataclasses.replace(request, headers=(*kept, (name, signed)))


RESIGNERS: list[Resigner] = [
    BearerKeyResigner(),
    TelegramSecretTokenResigner(),
    TwilioSignatureResigner(),
    PlivoSignatureResigner(),
]
"""Vonage's ``sig`` covers only the parameters, so a replay keeps it valid for the same secret;
Telnyx signs with its own private key, so a Telnyx recording can only be replayed to a target
that trusts the same Telnyx account."""
"""Resigners :func:`replay` uses unless told otherwise."""


def check_base_url(base_url: str) -> None:
    """``ValueError`` unless ``base_url`` is ``http(s)://host[:port][/stage...]`` without query."""
    parts = urlsplit(base_url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError(f"target must be an http:// or https:// URL, got {base_url!r}")
    if parts.query or parts.fragment or "?" in base_url or "#" in base_url:
        raise ValueError(f"target must not have a query or fragment, got {base_url!r}")


def target_url(base_url: str, request: RecordedRequest) -> str:
    """``base_url`` (a stage path kept as a prefix) + raw path + ``?`` + raw query, unchanged."""
    url = base_url.rstrip("/") + request.path
    return f"{url}?{request.query}" if request.query else url


def forwarded_headers(request: RecordedRequest) -> tuple[tuple[str, str], ...]:
    """The recorded headers minus connection-level ones, plus ``Content-Length`` when due.

    ``Content-Length`` is sent when there is a body, when the method carries one (an empty
    POST says ``Content-Length: 0``, as every client does) or when the recording had one.
    """
    named_by_connection = {
        token.strip().lower()
        for name, value in request.headers
        if name.lower() == "connection"
        for token in value.split(",")
    }
    kept = tuple(
        (name, value)
        for name, value in request.headers
        if name.lower() not in HOP_BY_HOP and name.lower() not in named_by_connection
    )
    had_length = any(name.lower() == "content-length" for name, _ in request.headers)
    if request.body or had_length or request.method.upper() in _BODY_METHODS:
        kept += (("Content-Length", str(len(request.body))),)
    return kept


def http_send(request: Outgoing, *, timeout: float = 30.0) -> Answer:
    """Send with ``http.client`` so the request line and headers are exactly ours.

    Only ``Host`` is added (the target's). The request target is sent as is; ``http.client``
    refuses a target with control characters or non-ASCII characters, which no conforming
    client sends, and that is reported as a :class:`SendError`.
    """
    scheme, _, rest = request.url.partition("://")
    netloc, _, tail = rest.partition("/")
    target = "/" + tail
    connection_class = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
    connection = connection_class(netloc, timeout=timeout)
    try:
        try:
            connection.putrequest(request.method, target, skip_accept_encoding=True)
            for name, value in request.headers:
                connection.putheader(name, value)
        except ValueError as exc:  # illegal method, header or non-ASCII target
            raise SendError(f"cannot send as recorded: {exc}") from exc
        connection.endheaders(request.body or None)
        response = connection.getresponse()
        body = response.read()
        return Answer(status=response.status, headers=tuple(response.getheaders()), body=body)
    finally:
        connection.close()


def pace_factor(pace: Pace) -> float | None:
    """Speed-up factor for the recorded gaps, ``None`` for no pacing."""
    if pace == "none":
        return None
    if pace == "original":
        return 1.0
    if isinstance(pace, bool) or not isinstance(pace, int | float) or not pace > 0:
        raise ValueError(f"pace must be 'none', 'original' or a positive number, got {pace!r}")
    return float(pace)


def replay(
    requests: Iterable[RecordedRequest],
    base_url: str,
    *,
    pace: Pace = "none",
    resigners: Sequence[Resigner] | None = None,
    secrets: Mapping[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    send: Sender = http_send,
    on_result: Callable[[ReplayResult], None] | None = None,
) -> list[ReplayResult]:
    """Send ``requests`` in order to ``base_url``; one result per request, answered or not.

    ``resigners`` defaults to :data:`RESIGNERS` (read at call time, so late registrations
    count). HTTP error statuses are results; a request that gets no answer (refused, reset,
    timed out) has ``status=None`` and an ``error``, and the replay continues. ``on_result``
    sees each result as soon as it exists (the CLI prints progress with it).
    """
    check_base_url(base_url)
    factor = pace_factor(pace)
    chosen = RESIGNERS if resigners is None else resigners
    given = secrets or {}
    results: list[ReplayResult] = []
    latest: datetime | None = None
    for request in requests:
        if factor is not None:
            instant = request.instant
            if latest is not None:
                # Concurrent requests may be appended slightly out of time order: never sleep
                # a negative gap, and measure the next gap from the latest instant seen.
                gap = (instant - latest).total_seconds() / factor
                if gap > 0:
                    sleep(gap)
            latest = instant if latest is None else max(latest, instant)
        url = target_url(base_url, request)
        sent = _resign(request, url=url, resigners=chosen, secrets=given)
        outgoing = Outgoing(method=sent.method, url=url, headers=forwarded_headers(sent), body=sent.body)
        started = time.perf_counter()
        try:
            answer = send(outgoing)
        except (OSError, http.client.HTTPException, SendError) as exc:
            result = ReplayResult(
                request=request,
                sent=sent,
                url=url,
                status=None,
                body=b"",
                headers=(),
                elapsed_ms=(time.perf_counter() - started) * 1000,
                error=f"{type(exc).__name__}: {exc}",
            )
        else:
            result = ReplayResult(
                request=request,
                sent=sent,
                url=url,
                status=answer.status,
                body=answer.body,
                headers=answer.headers,
                elapsed_ms=(time.perf_counter() - started) * 1000,
            )
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def _resign(
    request: RecordedRequest, *, url: str, resigners: Sequence[Resigner], secrets: Mapping[str, str]
) -> RecordedRequest:
    current = request
    for resigner in resigners:
        if not resigner.applies(current):
            continue
        signed = resigner.resign(current, url=url, secrets=secrets)
        if (signed.method, signed.path, signed.query) != (current.method, current.path, current.query):
            raise ValueError(f"resigner {resigner.name!r} changed the method, path or query it signed")
        current = signed
    return current


# Command line ------------------------------------------------------------------------------


def parse_pace(text: str) -> Pace:
    """``--pace`` values: ``none``, ``original`` or a positive speed-up factor such as ``10``."""
    if text in {"none", "original"}:
        return "none" if text == "none" else "original"
    try:
        factor = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected none, original or a speed-up factor, got {text!r}"
        ) from None
    if not factor > 0 or factor == float("inf"):
        raise argparse.ArgumentTypeError(f"speed-up factor must be a positive number, got {text!r}")
    return factor


def parse_secret(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals or not name:
        raise argparse.ArgumentTypeError("expected NAME=VALUE")
    return name, value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of the ``replay`` command; :func:`run` reads them."""
    parser.add_argument("file", type=Path, metavar="FILE", help="recording (JSON Lines) to replay")
    parser.add_argument(
        "--to",
        default=DEFAULT_TARGET,
        metavar="URL",
        help=f"base URL, a stage path included (default {DEFAULT_TARGET})",
    )
    parser.add_argument(
        "--pace",
        type=parse_pace,
        default="none",
        metavar="none|original|FACTOR",
        help="back to back (default), the recorded gaps, or the gaps divided by FACTOR",
    )
    parser.add_argument(
        "--secret",
        dest="secrets",
        type=parse_secret,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="secret for the resigner called NAME (repeatable)",
    )
    parser.add_argument(
        "--api-key",
        metavar="VALUE",
        help="bearer key for the target (same as --secret api_key=VALUE, and wins over it)",
    )


def run(args: argparse.Namespace) -> int:
    """Replay ``args.file``; 0 when every request got an answer, 1 when any did not.

    A recording that cannot be read or a bad ``--to`` is reported before anything is sent,
    with exit code 2 (as argparse uses for bad input).
    """
    path: Path = args.file
    try:
        check_base_url(args.to)
        requests = list(read_recording(path))
    except (OSError, RecordingError, ValueError) as exc:
        print(f"replay: {exc}", file=sys.stderr)
        return 2
    secrets = dict(args.secrets)
    if args.api_key is not None:
        secrets["api_key"] = args.api_key
    unused = sorted(set(secrets) - {resigner.name for resigner in RESIGNERS})
    if unused:
        known = ", ".join(resigner.name for resigner in RESIGNERS)
        print(
            f"replay: no re-signer uses {', '.join(unused)} (known: {known}); sent as recorded",
            file=sys.stderr,
        )
    results = replay(
        requests,
        args.to,
        pace=args.pace,
        secrets=secrets,
        on_result=lambda result: print(format_result(result), flush=True),
    )
    print(summary(results, args.to), flush=True)
    return 0 if all(result.answered for result in results) else 1


def format_result(result: ReplayResult) -> str:
    """``POST /v1/events -> 202 (12 ms)``, or ``-> failed: <reason>`` without an answer."""
    outcome = str(result.status) if result.status is not None else f"failed: {result.error}"
    return f"{result.request.method} {result.request.path} -> {outcome} ({result.elapsed_ms:.0f} ms)"


def summary(results: Sequence[ReplayResult], base_url: str) -> str:
    """``replayed 5 requests to URL: 2xx 3, 4xx 1, failed 1`` (classes in order, empty ones left out)."""
    counts = Counter(
        f"{result.status // 100}xx" if result.status is not None else "failed" for result in results
    )
    parts = [f"{name} {counts[name]}" for name in sorted(counts) if name != "failed"]
    if counts["failed"]:
        parts.append(f"failed {counts['failed']}")
    noun = "request" if len(results) == 1 else "requests"
    head = f"replayed {len(results)} {noun} to {base_url}"
    return f"{head}: {', '.join(parts)}" if parts else head
