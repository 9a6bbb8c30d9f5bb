"""Real HTTP on a local port, answered the way API Gateway (HTTP API, payload 2.0) answers.

Requests under ``/_local/`` are the runner's own control API and never reach a function.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from engagement.domain.clock import Clock
from engagement.topology import RouteSpec
from engagement.webhooks.sms import masked
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


_PHONE = re.compile(r"(?:\+|%2B)\d{7,15}|(?<!\d)\d{11,15}(?!\d)", re.IGNORECASE)


def masked_target(target: str) -> str:
    """The request line as logged: phone numbers in paths and queries are masked, as everywhere."""
    return _PHONE.sub(lambda m: masked(unquote(m.group(0))), target)


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
                self.log(f"{request.method} {request.path}: no route; the path has {', '.join(methods)}")
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
            response = lambda_error_response(f"{type(exc).__name__}: {exc}")
        else:
            response = to_http_response(result)
        if response.integration_error:
            self.log(f"{request.method} {request.path}: integration error: {response.integration_error}")
        return response

    def serve(self, host: str, port: int) -> int:
        """Start serving in a background thread; returns the bound port (0 picks a free one)."""
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                started = time.monotonic()
                target = self.path
                path, _, query = target.partition("?")
                body = self._read_body()
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
                    response = lambda_error_response(f"runner error: {exc!r}")
                self.send_response(response.status)
                for name, value in response.headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(response.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(response.body)
                took_ms = (time.monotonic() - started) * 1000
                if not path.startswith(CONTROL_PREFIX):
                    gateway.log(
                        f"{self.command} {masked_target(target)} -> {response.status} ({took_ms:.0f} ms)"
                    )

            def _read_body(self) -> bytes:
                """By Content-Length, or chunk by chunk (API Gateway accepts both)."""
                if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                    chunks = []
                    while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()  # the CRLF after each chunk
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _answer

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
