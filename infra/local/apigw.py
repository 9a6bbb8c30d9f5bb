"""API Gateway HTTP API (payload format 2.0) in front of in-process Lambda handlers.

The local runner serves real HTTP; this module is the pure part in the middle. It turns a
request into the event API Gateway would hand the Lambda, and the Lambda's return value into
the HTTP answer API Gateway would send back. It performs no I/O and keeps no state, so every
rule below is unit-tested against published and captured AWS events
(``tests/unit/fixtures/apigw/README.md`` lists them).

Why so literal: webhook signatures (Twilio, Plivo, Vonage) are computed over the URL and the
raw form body, and handlers must decode ``isBase64Encoded`` bodies. An emulator that is
friendlier than AWS (plain-text form bodies, re-encoded queries, a 405 where AWS says 404)
lets code pass locally that fails in the cloud.

Behaviour, and the evidence for each choice:

Request side
    * **rawPath is percent-decoded, not raw.** Live captures (hotsock/voker
      ``vokerhttp/testdata/ingress-paths.json``, us-west-2, July 2026) show an HTTP API
      decodes the path once, cuts it at a decoded ``?``, and decodes again; a path that is
      not valid after the first pass (``%25done``) is rejected with 400. ``requestContext.
      http.path`` equals ``rawPath``. See :func:`gateway_path`. For a named stage both keep
      the ``/<stage>`` prefix (issues aws-powertools/powertools-lambda-python#621,
      logandk/serverless-wsgi#191). A trailing slash is kept in ``rawPath`` but ignored
      when matching routes (powertools-lambda-python#1552, floci-io/floci#2136).
    * **rawQueryString is exactly as sent.** ``queryStringParameters`` decodes keys and
      values form-style (``+`` is a space, ``%2B`` a plus: live capture ``literalPlus=a+b``
      -> ``"a b"``, ``encodedPlus=a%2Bb`` -> ``"a+b"``), joins repeated keys with ``,``,
      keeps blank values and is omitted without a query string (ministackorg/ministack#1163).
      A malformed escape such as ``%zz`` is kept literally (not verified on AWS).
    * **Headers**: names lowercased, repeated headers joined with ``,`` (AWS docs "Create
      AWS Lambda proxy integrations for HTTP APIs in API Gateway"; live capture
      ``x-voker-probe: first,second``). ``Cookie`` headers are removed and split on ``;`` into
      ``cookies`` (omitted when there are none). API Gateway adds ``x-amzn-trace-id``,
      ``x-forwarded-for``, ``x-forwarded-port`` and ``x-forwarded-proto``; so does
      :func:`build_event` unless ``gateway_headers=False``.
    * **Body**: plain UTF-8 only for ``text/*``, ``application/json``, ``application/xml``,
      ``application/javascript`` (checked against real AWS in ministackorg/ministack#766)
      plus ``+json``/``+xml`` suffixes (project rule; not verified against AWS). Everything
      else, a missing Content-Type included, and text that is not valid UTF-8 is base64
      with ``isBase64Encoded: true``. An empty body has no ``body`` key (ministack#1163)
      and ``isBase64Encoded: false``.
    * ``requestId`` mimics the AWS shape (16 base64 characters, e.g. ``ATfSmjLgPHcESJw=``);
      ``time`` is ``12/Mar/2020:19:03:58 +0000`` with English month names whatever the
      locale; ``timeEpoch`` is milliseconds.

Routing (AWS docs "Create routes for HTTP APIs in API Gateway", "Routing API requests")
    * Literal segments match exactly; ``{name}`` matches one non-empty segment; a trailing
      ``{name+}`` matches one or more segments. The path is already decoded, so parameter
      values are decoded too (``/v1/users/%2B1555`` -> ``user_id="+1555"``) and an encoded
      ``%2F`` splits segments, as it does in the decoded ``rawPath``.
    * A full match beats a greedy match (documented). Between two full matches, at the
      first segment where they differ a literal beats a variable, then a route for the
      method beats an ``ANY`` route (consistent with the documented example; AWS states no
      rule for these ties).
    * Nothing matched -> API Gateway answers 404 ``{"message":"Not Found"}``, including when
      the path exists for another method: HTTP APIs never answer 405.
      :func:`allowed_methods` exists only so the runner can log the likely mistake.

Response side (same AWS page, "Lambda function response for format 2.0")
    * A dict with ``statusCode``: status, ``headers``, one ``Set-Cookie`` per entry of
      ``cookies``, ``body`` (base64-decoded when ``isBase64Encoded``).
    * Any other JSON value: 200, ``content-type: application/json``, the value serialized
      as the body; a string is sent as is (the docs' ``"Hello from Lambda!"`` example).
    * No ``content-type`` is invented for a proxy response that sets none, and
      ``multiValueHeaders`` (a 1.0 field) is ignored (neither verified against AWS).
    * A handler error or a malformed response: 500 ``{"message":"Internal Server Error"}``
      (what an HTTP API answers for a failed Lambda integration, issue
      awslabs/aws-lambda-cpp#117). The reason is kept in
      :attr:`HttpResponse.integration_error` for the runner's log.

Runner flow::

    path, _, query = request_target.partition("?")      # split at the literal "?" only
    if gateway_path(path) is None:
        answer(bad_request_response())
    match = match_route(TOPOLOGY.routes, method, path, stage=stage)
    if match is None:
        answer(not_found_response())                    # log allowed_methods(...) if any
    event = build_event(method=method, raw_path=path, raw_query=query, route=match, ...)
    try:
        result = handler(event, context)
    except Exception as error:
        answer(lambda_error_response(repr(error)))
    answer(to_http_response(result))
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import unquote_plus

from engagement.domain.timefmt import to_ms
from engagement.topology import RouteSpec

DEFAULT_STAGE: Final = "$default"
"""The stage served at the root of the invoke URL; it never appears in ``rawPath``."""

DEFAULT_ROUTE_KEY: Final = "$default"

_ANY_METHOD: Final = "ANY"
_HEXDIGITS: Final = frozenset(string.hexdigits.encode("ascii"))
_MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_TEXT_MEDIA_TYPES: Final = frozenset({"application/json", "application/xml", "application/javascript"})
_TEXT_SUFFIXES: Final = ("+json", "+xml")

# Segment kinds, ordered from most to least specific.
_LITERAL: Final = 0
_VARIABLE: Final = 1
_GREEDY: Final = 2


# --------------------------------------------------------------------------------------
# Paths and routing
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RouteMatch:
    """The route API Gateway selected for a request, with its decoded path parameters."""

    route: RouteSpec
    path_parameters: dict[str, str] = field(default_factory=dict)

    @property
    def route_key(self) -> str:
        return self.route.route_key


def gateway_path(raw_path: str) -> str | None:
    """The ``rawPath`` an HTTP API delivers for a request path as the client sent it.

    Reproduces the live captures in ``fixtures/apigw/ingress_paths.json``: decode once, cut
    at a ``?`` that decoding produced (the rest of the path is dropped, not moved to the
    query), decode again. ``None`` means AWS rejects the request with 400 (``%25done``
    becomes ``%done`` after the first pass, which is not a valid escape). ``+`` is not a
    space in a path. Bytes that do not form UTF-8 become U+FFFD (not verified on AWS).
    """
    once = _percent_decode(raw_path)
    if once is None:
        return None
    return _percent_decode(once.split("?", 1)[0])


def stage_relative_path(path: str, stage: str) -> str | None:
    """The part of a decoded path that routes see: without ``/<stage>`` for a named stage.

    ``None`` when the path is not under the stage; with no ``$default`` stage AWS answers
    404 (AWS docs "Routing API requests").
    """
    if stage == DEFAULT_STAGE:
        return path
    prefix = f"/{stage}"
    if path == prefix:
        return "/"
    if path.startswith(prefix + "/"):
        return path[len(prefix) :]
    return None


def match_route(
    routes: Sequence[RouteSpec], method: str, raw_path: str, *, stage: str = DEFAULT_STAGE
) -> RouteMatch | None:
    """Select the route API Gateway would invoke, or ``None`` where it would answer 404.

    ``raw_path`` is the request path exactly as the client sent it (percent-encoded, with
    ``/<stage>`` for a named stage); it is decoded with :func:`gateway_path` first, so a
    path AWS rejects with 400 also yields ``None`` (check :func:`gateway_path` to tell the
    two apart).
    """
    segments = _route_segments(raw_path, stage)
    if segments is None:
        return None
    best: tuple[tuple[int, tuple[int, ...], int], RouteSpec, dict[str, str]] | None = None
    for route in routes:
        route_method = str(route.method)
        if route_method not in (method, _ANY_METHOD):
            continue
        kinds, names = _parse_template(route.path)
        parameters = _match_template(kinds, names, segments)
        if parameters is None:
            continue
        rank = (int(_GREEDY in kinds), kinds, int(route_method == _ANY_METHOD))
        if best is None or rank < best[0]:
            best = (rank, route, parameters)
    if best is None:
        return None
    return RouteMatch(route=best[1], path_parameters=best[2])


def allowed_methods(routes: Sequence[RouteSpec], raw_path: str, *, stage: str = DEFAULT_STAGE) -> list[str]:
    """Methods that have a route for this path, for diagnostics only.

    API Gateway itself answers 404 for a method mismatch (there is no 405 in HTTP APIs);
    the runner can still log "route exists for GET" to save a debugging session.
    """
    segments = _route_segments(raw_path, stage)
    if segments is None:
        return []
    found = {
        str(route.method)
        for route in routes
        if _match_template(*_parse_template(route.path), segments) is not None
    }
    return sorted(found)


def _route_segments(raw_path: str, stage: str) -> list[str] | None:
    decoded = gateway_path(raw_path)
    if decoded is None:
        return None
    relative = stage_relative_path(decoded, stage)
    if relative is None or not relative.startswith("/"):
        return None
    if len(relative) > 1 and relative.endswith("/"):
        relative = relative[:-1]  # "/v1/events/" routes like "/v1/events"
    return relative[1:].split("/")


def _parse_template(path: str) -> tuple[tuple[int, ...], tuple[str, ...]]:
    kinds: list[int] = []
    names: list[str] = []
    parts = path.strip("/").split("/") if path != "/" else [""]
    for index, part in enumerate(parts):
        if part.startswith("{") and part.endswith("+}"):
            if index != len(parts) - 1:
                raise ValueError(f"greedy path variable must be the last segment: {path}")
            kinds.append(_GREEDY)
            names.append(part[1:-2])
        elif part.startswith("{") and part.endswith("}"):
            kinds.append(_VARIABLE)
            names.append(part[1:-1])
        else:
            kinds.append(_LITERAL)
            names.append(part)
    return tuple(kinds), tuple(names)


def _match_template(
    kinds: tuple[int, ...], names: tuple[str, ...], segments: list[str]
) -> dict[str, str] | None:
    greedy = bool(kinds) and kinds[-1] == _GREEDY
    fixed = len(kinds) - 1 if greedy else len(kinds)
    wrong_length = len(segments) < len(kinds) if greedy else len(segments) != len(kinds)
    if wrong_length:
        return None
    parameters: dict[str, str] = {}
    for kind, name, segment in zip(kinds[:fixed], names[:fixed], segments[:fixed], strict=True):
        if kind == _LITERAL:
            if segment != name:
                return None
        elif not segment:
            return None
        else:
            parameters[name] = segment
    if greedy:
        rest = segments[fixed:]
        if not rest or not rest[0]:
            return None
        parameters[names[-1]] = "/".join(rest)
    return parameters


def _percent_decode(text: str) -> str | None:
    raw = text.encode("utf-8")
    out = bytearray()
    index = 0
    while index < len(raw):
        byte = raw[index]
        if byte == 0x25:  # "%"
            escape = raw[index + 1 : index + 3]
            if len(escape) != 2 or not all(char in _HEXDIGITS for char in escape):
                return None
            out.append(int(escape, 16))
            index += 3
        else:
            out.append(byte)
            index += 1
    return out.decode("utf-8", errors="replace")


# --------------------------------------------------------------------------------------
# Request -> event
# --------------------------------------------------------------------------------------


def build_event(
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Sequence[tuple[str, str]],
    body: bytes,
    source_ip: str,
    route: RouteMatch | None,
    stage: str = DEFAULT_STAGE,
    domain_name: str,
    api_id: str = "local",
    account_id: str = "000000000000",
    request_id: str | None = None,
    now: datetime,
    force_base64: bool | None = None,
    gateway_headers: bool = True,
    forwarded_proto: str = "https",
    forwarded_port: int = 443,
) -> dict[str, Any]:
    """The payload format 2.0 event API Gateway sends the Lambda for this request.

    ``raw_path`` and ``raw_query`` are the request target exactly as sent (percent-encoded,
    ``raw_path`` with ``/<stage>`` for a named stage); ``headers`` are in arrival order with
    any case and repeats. ``route=None`` produces ``routeKey: "$default"``. ``now`` must be
    timezone-aware: a naive time is ambiguous and AWS reports UTC.

    ``force_base64`` overrides the content-type rule (``True``: always base64, ``False``:
    always plain text) so a handler can be proven to decode both ways; forcing plain text on
    a body that is not UTF-8 raises ``ValueError``; an empty body never gets a ``body`` key
    and is never base64. ``gateway_headers`` adds the headers API
    Gateway injects (``x-forwarded-*``, ``x-amzn-trace-id``); the forwarded proto/port say
    what the public endpoint is (always HTTPS/443 on execute-api).

    Raises ``ValueError`` for a path AWS rejects (check :func:`gateway_path` first and
    answer :func:`bad_request_response`).
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    path = gateway_path(raw_path)
    if path is None:
        raise ValueError(f"API Gateway rejects this path with 400: {raw_path!r}")

    joined, cookies, content_type = _split_headers(headers)
    if gateway_headers:
        _add_gateway_headers(joined, source_ip, now, forwarded_proto, forwarded_port)
    route_key = route.route_key if route is not None else DEFAULT_ROUTE_KEY

    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = joined
    query_parameters = _query_parameters(raw_query)
    if query_parameters:
        event["queryStringParameters"] = query_parameters
    if route is not None and route.path_parameters:
        event["pathParameters"] = dict(route.path_parameters)
    event["requestContext"] = {
        "accountId": account_id,
        "apiId": api_id,
        "domainName": domain_name,
        "domainPrefix": domain_name.split(".", 1)[0],
        "http": {
            "method": method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": source_ip,
            "userAgent": joined.get("user-agent", ""),
        },
        "requestId": request_id if request_id is not None else _aws_style_request_id(),
        "routeKey": route_key,
        "stage": stage,
        "time": format_request_time(now),
        "timeEpoch": epoch_millis(now),
    }
    if body:
        encoded = _encode_body(body, content_type, force_base64)
        event["body"] = encoded[0]
        event["isBase64Encoded"] = encoded[1]
    else:
        event["isBase64Encoded"] = False
    return event


def is_text_content_type(content_type: str | None) -> bool:
    """Whether API Gateway passes a body of this Content-Type as plain UTF-8 text."""
    if not content_type:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    return (
        media_type.startswith("text/")
        or media_type in _TEXT_MEDIA_TYPES
        or media_type.endswith(_TEXT_SUFFIXES)
    )


def format_request_time(now: datetime) -> str:
    """``requestContext.time``: ``12/Mar/2020:19:03:58 +0000``, English months in any locale."""
    utc = now.astimezone(UTC)
    return f"{utc.day:02d}/{_MONTHS[utc.month - 1]}/{utc.year:04d}:{utc:%H:%M:%S} +0000"


def epoch_millis(now: datetime) -> int:
    """``timeEpoch``: milliseconds since the epoch, as everywhere in this project."""
    return to_ms(now)


def _split_headers(
    headers: Sequence[tuple[str, str]],
) -> tuple[dict[str, str], list[str], str | None]:
    grouped: dict[str, list[str]] = {}
    cookies: list[str] = []
    for name, value in headers:
        lowered = name.lower()
        if lowered == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        grouped.setdefault(lowered, []).append(value)
    content_types = grouped.get("content-type")
    content_type = content_types[0] if content_types else None
    return {name: ",".join(values) for name, values in grouped.items()}, cookies, content_type


def _add_gateway_headers(
    headers: dict[str, str], source_ip: str, now: datetime, proto: str, port: int
) -> None:
    # The client's own X-Forwarded-For is kept and the peer appended, as proxies do.
    forwarded_for = headers.get("x-forwarded-for")
    headers["x-forwarded-for"] = f"{forwarded_for}, {source_ip}" if forwarded_for else source_ip
    headers["x-forwarded-port"] = str(port)
    headers["x-forwarded-proto"] = proto
    if "x-amzn-trace-id" not in headers:
        epoch_seconds = epoch_millis(now) // 1000
        headers["x-amzn-trace-id"] = f"Root=1-{epoch_seconds:08x}-{secrets.token_hex(12)}"


def _query_parameters(raw_query: str) -> dict[str, str]:
    grouped: dict[str, list[str]] = {}
    for pair in raw_query.split("&"):
        if not pair:
            continue
        key, _, value = pair.partition("=")
        if not key:
            continue
        grouped.setdefault(unquote_plus(key), []).append(unquote_plus(value))
    return {key: ",".join(values) for key, values in grouped.items()}


def _encode_body(body: bytes, content_type: str | None, force_base64: bool | None) -> tuple[str, bool]:
    text: str | None = None
    if force_base64 is not True:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            if force_base64 is False:
                raise ValueError("force_base64=False needs a UTF-8 body") from None
    plain = text is not None and (force_base64 is False or is_text_content_type(content_type))
    if plain and text is not None:
        return text, False
    return base64.b64encode(body).decode("ascii"), True


def _aws_style_request_id() -> str:
    # Real HTTP API request ids are 11 random bytes in base64, e.g. "ATfSmjLgPHcESJw=".
    return base64.b64encode(secrets.token_bytes(11)).decode("ascii")


# --------------------------------------------------------------------------------------
# Lambda result -> HTTP
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpResponse:
    """What API Gateway sends the client. Headers keep order and may repeat (Set-Cookie)."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    integration_error: str | None = field(default=None, compare=False)
    """Why a 500 was produced (malformed Lambda response); ``None`` otherwise. Log it."""


def to_http_response(result: Any) -> HttpResponse:
    """Interpret a Lambda return value the way an HTTP API with payload 2.0 does.

    A dict with ``statusCode`` is a proxy response; any other JSON value is the body of a
    200 ``application/json`` answer (a string verbatim, anything else serialized like the
    Python runtime does: ``json.dumps`` with ``ensure_ascii=False`` since python3.12). A
    value the runtime could not serialize, or a malformed proxy response, gives the 500 API
    Gateway answers.
    """
    if isinstance(result, dict) and "statusCode" in result:
        try:
            return _proxy_response(result)
        except _MalformedResponseError as error:
            return lambda_error_response(f"malformed Lambda proxy response: {error}")
    if isinstance(result, str):
        body = result
    else:
        try:
            body = json.dumps(result, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as error:
            return lambda_error_response(f"Lambda result is not JSON-serializable: {error}")
    return HttpResponse(200, [("content-type", "application/json")], body.encode("utf-8"))


def lambda_error_response(reason: str | None = None) -> HttpResponse:
    """What API Gateway answers when the integration raises, times out or returns garbage."""
    return _message_response(500, "Internal Server Error", reason)


def not_found_response() -> HttpResponse:
    """What an HTTP API answers when no route (and no ``$default`` route) matches."""
    return _message_response(404, "Not Found", None)


def too_large_response() -> HttpResponse:
    """What API Gateway answers to a body over its 10 MB payload limit."""
    return _message_response(413, "Request Entity Too Large", None)


def bad_request_response() -> HttpResponse:
    """The answer to a path :func:`gateway_path` rejects (status from live captures; body assumed)."""
    return _message_response(400, "Bad Request", None)


class _MalformedResponseError(ValueError):
    pass


def _proxy_response(result: Mapping[str, Any]) -> HttpResponse:
    status = result["statusCode"]
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise _MalformedResponseError(f"statusCode must be an integer 100-599, got {status!r}")

    headers: list[tuple[str, str]] = []
    raw_headers = result.get("headers") or {}
    if not isinstance(raw_headers, Mapping):
        raise _MalformedResponseError("headers must be an object")
    for name, value in raw_headers.items():
        headers.append((str(name), _header_value(name, value)))

    cookies = result.get("cookies") or []
    if not isinstance(cookies, list) or not all(isinstance(cookie, str) for cookie in cookies):
        raise _MalformedResponseError("cookies must be a list of strings")
    headers.extend(("set-cookie", cookie) for cookie in cookies)

    is_base64 = result.get("isBase64Encoded", False)
    if not isinstance(is_base64, bool):
        raise _MalformedResponseError("isBase64Encoded must be a boolean")
    body = result.get("body")
    if body is None:
        payload = b""
    elif not isinstance(body, str):
        raise _MalformedResponseError("body must be a string")
    elif is_base64:
        try:
            payload = base64.b64decode(body, validate=True)
        except binascii.Error as error:
            raise _MalformedResponseError(f"body is not valid base64: {error}") from None
    else:
        payload = body.encode("utf-8")
    return HttpResponse(status, headers, payload)


def _header_value(name: object, value: object) -> str:
    # Payload 2.0 has no multiValueHeaders: several values travel comma-joined in one string.
    # Numbers and booleans are JSON scalars and are sent as their JSON text (not verified).
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    raise _MalformedResponseError(f"header {name!r} must be a string, got {type(value).__name__}")


def _message_response(status: int, message: str, reason: str | None) -> HttpResponse:
    body = json.dumps({"message": message}, separators=(",", ":")).encode("utf-8")
    return HttpResponse(status, [("content-type", "application/json")], body, integration_error=reason)
