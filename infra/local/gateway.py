"""Real HTTP on a local port, answered the way API Gateway (HTTP API, payload 2.0) answers.

Requests under ``/_local/`` are the runner's own control API and never reach a function.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from engagement.domain.clock import Clock
from engagement.topology import RouteSpec
from engagement.webhooks.sms import redacted
from infra.local.apigw import (
    HttpResponse,
    allowed_methods,
    bad_request_response,
    build_event,
    gateway_path,
    lambda_error_response,
    match_route,
    not_found_response,
    to_http_response,
    too_large_response,
)
from infra.local.lambdas import LocalFunction
from infra.local.recording import CONTROL_PREFIX, Recorder, should_record


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str


ControlHandler = Callable[[Request], HttpResponse]


_TOKEN = re.compile(r"^(/(?:[^/]+/)?c/)[^/]+")
_PERSON = re.compile(r"^(/(?:[^/]+/)?v1/users/)[^/]+")


READ_TIMEOUT_S = 30
MAX_REQUEST_BYTES = 10 * 1024 * 1024
"""API Gateway's payload limit for HTTP APIs: a larger body is refused before it is read."""


def masked_target(target: str) -> str:
    """The request line as logged: the path decoded, with anything that could be a phone number
    masked (however written: ``+1-555-…``, percent-encoded digits, zero-width joiners), a
    person's id in ``/v1/users/{id}`` hidden (a Telegram id, an email: next to an erasure's audit
    line it would name the person the hash stands for) and a tracked link's token hidden (it is
    a capability); the query reduced to how many parameters it
    has (names and values can both be message text: a Vonage GET carries ``text=``)."""
    path, sep, query = target.partition("?")
    shown = redacted_path(unquote(path))
    count = len([part for part in query.split("&") if part])
    return shown + (f"?({count} parameters)" if sep else "")


def redacted_path(path: str) -> str:
    return redacted(_PERSON.sub(r"\1…", _TOKEN.sub(r"\1…", path)), limit=None)


class _Refused(Exception):
    def __init__(self, response: HttpResponse) -> None:
        super().__init__(response.status)
        self.response = response


class Gateway:
    def __init__(
        self,
        routes: tuple[RouteSpec, ...],
        *,
        functions: dict[str, LocalFunction],
        clock: Clock,
        log: Callable[[str], None],
        control: ControlHandler | None = None,
        record_to: Path | None = None,
        before_response: Callable[[], None] | None = None,
    ) -> None:
        """``before_response`` runs after a request was handled and before its answer is sent
        (the runner waits there until what the request wrote is durable)."""
        self.before_response = before_response
        self.routes = routes
        self.functions = functions
        self.clock = clock
        self.log = log
        self.control = control
        self.recorder = Recorder(record_to) if record_to else None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def handle(self, request: Request, domain_name: str) -> HttpResponse:
        if request.path.startswith(CONTROL_PREFIX) and self.control is not None:
            return self.control(request)
        if self.recorder and should_record(request.path):
            self.recorder.record(request, at=self.clock.now())
        if gateway_path(request.path) is None:
            return bad_request_response()
        match = match_route(self.routes, request.method, request.path)
        if match is None:
            methods = allowed_methods(self.routes, request.path)
            if methods:
                where = masked_target(request.path)
                self.log(f"{request.method} {where}: no route; the path has {', '.join(methods)}")
            return not_found_response()
        event = build_event(
            method=request.method,
            raw_path=request.path,
            raw_query=request.query,
            headers=request.headers,
            body=request.body,
            source_ip=request.source_ip,
            route=match,
            domain_name=domain_name,
            now=self.clock.now(),
        )
        try:
            result = self.functions[match.route.function].invoke(event)
        except Exception as exc:
            # The kind only: an exception's message can quote the request (a number, a text).
            response = lambda_error_response(type(exc).__name__)
        else:
            response = to_http_response(result)
        if response.integration_error:
            self.log(f"{match.route.route_key}: integration error: {response.integration_error}")
        return response

    def serve(self, host: str, port: int) -> int:
        """Start serving in a background thread; returns the bound port (0 picks a free one)."""
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = READ_TIMEOUT_S  # a client that stops sending holds a thread this long, not forever

            def parse_request(self) -> bool:
                if not super().parse_request():
                    return False
                if self.request_version == "HTTP/0.9":
                    # No status line or headers in 0.9: answer as API Gateway would, in JSON.
                    self.send_error(400)
                    return False
                return True

            def _answer(self) -> None:
                started = time.monotonic()
                target = self.path
                path, _, query = target.partition("?")
                try:
                    body = self._read_body()
                except _Refused as refused:
                    self._send(refused.response)
                    self.close_connection = True
                    return
                except TimeoutError:
                    self.close_connection = True  # the body never came: nothing to answer, nothing done
                    return
                request = Request(
                    method=self.command,
                    path=path,
                    query=query,
                    headers=list(self.headers.items()),
                    body=body,
                    source_ip=str(self.client_address[0]),
                )
                host_header = self.headers.get("Host") or host
                try:
                    response = gateway.handle(request, domain_name=host_header.split(":")[0])
                    if gateway.before_response is not None:
                        gateway.before_response()
                except Exception as exc:
                    response = lambda_error_response(f"runner error: {type(exc).__name__}")
                try:
                    self._send(response)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client left; the request was still handled
                took_ms = (time.monotonic() - started) * 1000
                if not path.startswith(CONTROL_PREFIX):
                    method = re.sub(r"[^A-Z]", "?", self.command[:16])  # any request line reaches here
                    gateway.log(f"{method} {masked_target(target)} -> {response.status} ({took_ms:.0f} ms)")

            def _send(self, response: HttpResponse) -> None:
                self.send_response(response.status)
                for name, value in response.headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(response.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(response.body)

            def _read_body(self) -> bytes:
                """By Content-Length, or chunk by chunk (API Gateway accepts both), at most
                ``MAX_REQUEST_BYTES``; a malformed framing is a 400, an oversized body a 413."""
                try:
                    if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                        chunks: list[bytes] = []
                        total = 0
                        while size := int(self.rfile.readline(64).split(b";")[0].strip() or b"0", 16):
                            if size < 0:
                                raise _Refused(bad_request_response())
                            total += size
                            if total > MAX_REQUEST_BYTES:
                                raise _Refused(too_large_response())
                            chunk = self.rfile.read(size)
                            if len(chunk) < size:
                                raise _Refused(bad_request_response())  # the stream ended mid-chunk
                            chunks.append(chunk)
                            self.rfile.readline(64)  # the CRLF after each chunk
                        while self.rfile.readline(65_536) not in (b"\r\n", b"\n", b""):
                            pass  # trailers
                        return b"".join(chunks)
                    lengths = set(self.headers.get_all("Content-Length") or [])
                    if len(lengths) > 1:
                        raise _Refused(bad_request_response())  # which one frames the body?
                    length = int(lengths.pop() if lengths else 0)
                except ValueError:
                    raise _Refused(bad_request_response()) from None
                if length < 0:
                    raise _Refused(bad_request_response())
                if length > MAX_REQUEST_BYTES:
                    raise _Refused(too_large_response())
                body = self.rfile.read(length) if length else b""
                if len(body) < length:
                    raise _Refused(bad_request_response())  # shorter than announced: never process half
                return body

            def __getattr__(self, name: str) -> Any:
                # Any method, TRACE and CONNECT included, reaches routing, which answers 404
                # JSON for a method no route has, as API Gateway does (never an HTML 501).
                if name.startswith("do_"):
                    return self._answer
                raise AttributeError(name)

            def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
                # Requests too malformed to route (a bad request line, oversized headers) get
                # API Gateway's JSON shape too, not http.server's HTML page.
                self.close_connection = True
                # A request line too broken to name its version is answered as HTTP/1.1: http.server
                # would otherwise assume 0.9 and send the body with no status line at all.
                if self.request_version == "HTTP/0.9":
                    self.request_version = "HTTP/1.1"
                if code >= 500:  # 505 for an unknown HTTP version: the client's mistake, not ours
                    code = 400
                body = json.dumps({"message": HTTPStatus(code).phrase}).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD" and code >= 200 and code not in (204, 304):
                    self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return  # one line per request is written by _answer

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="gateway", daemon=True)
        self._thread.start()
        return int(self._server.server_address[1])

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
        if self.recorder:
            self.recorder.close()
