"""Record what reaches the local runner's HTTP API, one JSON line per request, for replay.

Why record at all: inbound webhooks (Telegram, Twilio, Plivo, Vonage, Telnyx) are hard to
reproduce by hand. Their payloads are built by the provider, they arrive in bursts with
particular timing, and the provider signs them. A recording taken once with a real provider
(or a tunnel) can be replayed any number of times against the runner or a deployed stage by
:mod:`infra.local.replay`.

Why everything is kept as sent: a signature covers the exact bytes of the body and, for
URL-signing providers, the exact URL, so the recording keeps the raw (still percent-encoded)
path and query, every header in arrival order with repeats, and the body as bytes. Decoding
and re-encoding anything would turn a faithful replay into a plausible one. Path, query and
header values are ``str`` as :mod:`http.server` hands them over: the ISO-8859-1 decoding of
the bytes on the wire, so ``value.encode("latin-1")`` gives those bytes back.

File format (JSON Lines, UTF-8, one object per request, in the order requests were recorded)::

    {"v": 1, "recorded_at": "2026-03-01T12:00:00.123456Z", "method": "POST",
     "path": "/v1/events", "query": "a=1", "headers": [["Content-Type", "application/json"]],
     "body_b64": "e30=", "source_ip": "127.0.0.1"}

``v`` is the format version; a reader refuses versions it does not know rather than guess.
``recorded_at`` is the runner clock's time (RFC 3339, UTC), so a replay paced "as recorded"
reproduces the gaps the runner saw, virtual-clock jumps included.

Requests to the runner's own control API (``/_local/...``) are never recorded: they steer
the runner (advance the clock, inspect state) and replaying them would fight the replay.

Wiring (done by the gateway): build one :class:`Recorder` per run, and for every request
where :func:`should_record` is true call ``recorder.record(request, at=clock.now())``.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, TypeVar

from engagement.domain.timefmt import parse_rfc3339, rfc3339

FORMAT_VERSION = 1

_T = TypeVar("_T")

CONTROL_PREFIX = "/_local/"
"""The runner's own API (the gateway imports this): never recorded, never forwarded to a function."""


def should_record(path: str) -> bool:
    """False for the runner's control API, exactly where the gateway diverts requests to it."""
    return not path.startswith(CONTROL_PREFIX)


class RequestLike(Protocol):
    """What :meth:`Recorder.record` reads from ``infra.local.gateway.Request``.

    A protocol rather than an import: the gateway imports this module, and the read-only
    properties accept the gateway's ``list`` of headers as well as a tuple.
    """

    @property
    def method(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def query(self) -> str: ...
    @property
    def headers(self) -> Sequence[tuple[str, str]]: ...
    @property
    def body(self) -> bytes: ...
    @property
    def source_ip(self) -> str: ...


class RecordingError(ValueError):
    """A recording line that cannot be read; ``line`` is 1-based."""

    def __init__(self, path: Path, line: int, reason: str) -> None:
        super().__init__(f"{path}:{line}: {reason}")
        self.path = path
        self.line = line
        self.reason = reason


@dataclass(frozen=True)
class RecordedRequest:
    """One request as it reached the runner.

    ``path`` and ``query`` are raw (percent-encoded, ``+`` untouched); ``query`` has no
    leading ``?`` and is empty when the request had none. ``headers`` keeps arrival order
    and repeats, names spelled as sent.
    """

    recorded_at: str
    method: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    source_ip: str

    @classmethod
    def from_request(cls, request: RequestLike, *, at: datetime) -> RecordedRequest:
        if at.tzinfo is None:
            raise ValueError("recording time must be timezone-aware")
        return cls(
            recorded_at=rfc3339(at),
            method=request.method,
            path=request.path,
            query=request.query,
            headers=tuple((name, value) for name, value in request.headers),
            body=bytes(request.body),
            source_ip=request.source_ip,
        )

    @property
    def instant(self) -> datetime:
        """``recorded_at`` as an aware UTC datetime (what replay pacing works from)."""
        return parse_rfc3339(self.recorded_at)

    def to_json(self) -> str:
        """One line of JSON, no trailing newline. Non-ASCII text is escaped, so the line is ASCII."""
        return json.dumps(
            {
                "v": FORMAT_VERSION,
                "recorded_at": self.recorded_at,
                "method": self.method,
                "path": self.path,
                "query": self.query,
                "headers": [[name, value] for name, value in self.headers],
                "body_b64": base64.b64encode(self.body).decode("ascii"),
                "source_ip": self.source_ip,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> RecordedRequest:
        """Parse one line; ``ValueError`` says what is wrong (the reader adds the line number)."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        version = data.get("v")
        if version != FORMAT_VERSION:
            raise ValueError(f"unsupported format version {version!r} (this reader knows {FORMAT_VERSION})")
        headers_raw = _field(data, "headers", list)
        headers: list[tuple[str, str]] = []
        for index, pair in enumerate(headers_raw):
            if not (
                isinstance(pair, list)
                and len(pair) == 2
                and isinstance(pair[0], str)
                and isinstance(pair[1], str)
            ):
                raise ValueError(f"headers[{index}] must be a [name, value] pair of strings")
            headers.append((pair[0], pair[1]))
        try:
            body = base64.b64decode(_field(data, "body_b64", str), validate=True)
        except binascii.Error as exc:
            raise ValueError(f"body_b64 is not base64: {exc}") from None
        recorded_at = _field(data, "recorded_at", str)
        try:
            parse_rfc3339(recorded_at)
        except ValueError as exc:
            raise ValueError(f"recorded_at is not an RFC 3339 instant: {exc}") from None
        return cls(
            recorded_at=recorded_at,
            method=_field(data, "method", str),
            path=_field(data, "path", str),
            query=_field(data, "query", str),
            headers=tuple(headers),
            body=body,
            source_ip=_field(data, "source_ip", str),
        )


def _field(data: dict[str, Any], name: str, kind: type[_T]) -> _T:
    value = data.get(name)
    if not isinstance(value, kind):
        raise ValueError(f"{name} must be a {kind.__name__}, got {type(value).__name__}")
    return value


class Recorder:
    """Appends one JSON line per request to ``path``; safe to share between server threads.

    The file is opened for appending, so restarting the runner with the same path extends the
    recording. Each line is written and flushed under a lock: lines from concurrent requests
    never interleave, and a crash of the runner loses at most the request being written.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._file = path.open("a", encoding="utf-8", newline="\n")

    def record(self, request: RequestLike, *, at: datetime) -> None:
        """Append ``request`` as received at ``at`` (the runner clock); control requests are skipped."""
        if not should_record(request.path):
            return
        line = RecordedRequest.from_request(request, at=at).to_json() + "\n"
        with self._lock:
            if self._file.closed:
                raise ValueError(f"recorder for {self.path} is closed")
            self._file.write(line)
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def read_recording(path: Path) -> Iterator[RecordedRequest]:
    """Yield the requests of a recording in file order; blank lines are skipped.

    Raises :class:`RecordingError` (a ``ValueError``) naming the file and 1-based line of the
    first line that cannot be read, for example one cut short by a crash.
    """
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                request = RecordedRequest.from_json(raw.decode("utf-8"))
            except ValueError as exc:  # UnicodeDecodeError included
                raise RecordingError(path, number, str(exc)) from None
            yield request
