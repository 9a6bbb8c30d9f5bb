"""Replay over real HTTP: a capture server on a free local port sees exactly what was recorded.

Self-contained: no DynamoDB, no runner; the only network is 127.0.0.1.
"""

from __future__ import annotations

import argparse
import http.client
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from infra.local.gateway import Request
from infra.local.recording import RecordedRequest, Recorder, read_recording
from infra.local.replay import (
    RESIGNERS,
    Answer,
    BearerKeyResigner,
    Outgoing,
    add_arguments,
    replay,
    run,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CONNECTION_HEADERS = {"host", "content-length"}


@dataclass(frozen=True)
class Seen:
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def end_to_end_headers(self) -> list[tuple[str, str]]:
        """Headers other than the two the sender must supply itself."""
        return [(n, v) for n, v in self.headers if n.lower() not in CONNECTION_HEADERS]

    def header(self, name: str) -> list[str]:
        return [v for n, v in self.headers if n.lower() == name.lower()]


@dataclass
class CaptureServer:
    """Answers every request with ``statuses.get(path, 200)`` and a body naming the request."""

    url: str
    seen: list[Seen] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    recorder: Recorder | None = None


def _start(recorder: Recorder | None = None) -> tuple[CaptureServer, ThreadingHTTPServer]:
    capture = CaptureServer(url="", recorder=recorder)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = list(self.headers.items())
            with lock:
                capture.seen.append(Seen(self.command, self.path, headers, body))
            path, _, query = self.path.partition("?")
            if capture.recorder is not None:  # what the gateway does when recording
                request = Request(self.command, path, query, headers, body, str(self.client_address[0]))
                capture.recorder.record(request, at=T0 + timedelta(seconds=len(capture.seen)))
            status = capture.statuses.get(path, 200)
            answer = f"{self.command} {self.path}".encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _answer

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    # A short poll interval keeps shutdown() (it waits for the next poll) from costing 0.5 s a test.
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
    capture.url = f"http://127.0.0.1:{server.server_address[1]}"
    return capture, server


@pytest.fixture
def capture() -> Iterator[CaptureServer]:
    capture, server = _start()
    yield capture
    server.shutdown()
    server.server_close()


@pytest.fixture
def dead_url() -> str:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _rec(
    method: str,
    path: str,
    query: str = "",
    headers: tuple[tuple[str, str], ...] = (),
    body: bytes = b"",
    at: float = 0.0,
) -> RecordedRequest:
    return RecordedRequest(
        recorded_at=(T0 + timedelta(seconds=at)).isoformat().replace("+00:00", "Z"),
        method=method,
        path=path,
        query=query,
        headers=headers,
        body=body,
        source_ip="203.0.113.9",
    )


JSON_EVENT = _rec(
    "POST",
    "/v1/events",
    headers=(
        ("Host", "recorded.example:3000"),
        ("Content-Type", "application/json"),
        ("Authorization", "Bearer recorded-key"),
        ("Connection", "keep-alive, X-Hop"),
        ("X-Hop", "named by Connection"),
        ("Keep-Alive", "timeout=5"),
        ("Content-Length", "999"),
        ("Transfer-Encoding", "chunked"),
        ("Expect", "100-continue"),
        ("Proxy-Authorization", "Basic Zm9vOmJhcg=="),
        ("X-Request-Id", "r-1"),
    ),
    body=b'{"events": [{"user_id": "u1", "item_id": "i1", "type": "view"}]}',
)
FORM_WEBHOOK = _rec(
    "POST",
    "/v1/webhooks/sms%2Fin",
    query="a=b+c&d=%20e&d=f&plus=%2B",
    headers=(
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("X-Twilio-Signature", "c2lnbmF0dXJl"),
    ),
    body=b"From=%2B15551234567&Body=hi+there%21&Note=a%20b",
)
BINARY = _rec(
    "PUT",
    "/v1/blobs/b1",
    headers=(("Content-Type", "application/octet-stream"),),
    body=bytes(range(256)) + b"\xff\xfe\x00",
)
REPEATED = _rec(
    "GET",
    "/v1/users/u%201/stats",
    query="at=2026-03-01T00:00:00%2B01:00",
    headers=(
        ("X-Trace", "first"),
        ("Accept", "application/json"),
        ("x-trace", "second"),
        ("X-TRACE", "third"),
        ("Cookie", "a=1"),
        ("Cookie", "b=2"),
    ),
)


def test_replays_method_target_headers_and_body_exactly(capture: CaptureServer) -> None:
    results = replay([JSON_EVENT, FORM_WEBHOOK, BINARY, REPEATED], capture.url, resigners=[])

    assert [r.status for r in results] == [200, 200, 200, 200]
    assert [(s.method, s.target) for s in capture.seen] == [
        ("POST", "/v1/events"),
        ("POST", "/v1/webhooks/sms%2Fin?a=b+c&d=%20e&d=f&plus=%2B"),
        ("PUT", "/v1/blobs/b1"),
        ("GET", "/v1/users/u%201/stats?at=2026-03-01T00:00:00%2B01:00"),
    ]
    assert [s.body for s in capture.seen] == [JSON_EVENT.body, FORM_WEBHOOK.body, BINARY.body, b""]
    json_seen, form_seen, binary_seen, repeated_seen = capture.seen
    # Connection-level headers (and the one Connection names) are gone, the rest in order.
    assert json_seen.end_to_end_headers == [
        ("Content-Type", "application/json"),
        ("Authorization", "Bearer recorded-key"),
        ("X-Request-Id", "r-1"),
    ]
    assert form_seen.end_to_end_headers == list(FORM_WEBHOOK.headers)
    assert binary_seen.end_to_end_headers == list(BINARY.headers)
    assert repeated_seen.end_to_end_headers == list(REPEATED.headers)
    # The sender supplies the target's Host and the body's true length, nothing else.
    host = capture.url.removeprefix("http://")
    assert [s.header("Host") for s in capture.seen] == [[host]] * 4
    assert [s.header("Content-Length") for s in capture.seen] == [
        [str(len(JSON_EVENT.body))],
        [str(len(FORM_WEBHOOK.body))],
        [str(len(BINARY.body))],
        [],
    ]
    assert results[1].url == f"{capture.url}/v1/webhooks/sms%2Fin?a=b+c&d=%20e&d=f&plus=%2B"
    assert results[1].body == b"POST /v1/webhooks/sms%2Fin?a=b+c&d=%20e&d=f&plus=%2B"


def test_empty_post_says_content_length_zero(capture: CaptureServer) -> None:
    replay([_rec("POST", "/v1/ping")], capture.url, resigners=[])
    assert capture.seen[0].header("Content-Length") == ["0"]
    assert capture.seen[0].body == b""


def test_what_one_server_saw_another_sees_after_record_and_replay(
    tmp_path: Path, capture: CaptureServer
) -> None:
    """Record real requests as the gateway does, replay the file: the two servers agree."""
    path = tmp_path / "recordings" / "webhooks.jsonl"
    with Recorder(path) as recorder:
        recording, server = _start(recorder)
        try:
            host = recording.url.removeprefix("http://")
            sends: list[tuple[str, str, list[tuple[str, str]], bytes]] = [
                ("POST", "/v1/webhooks/tg?x=a+b%20c", [("X-Telegram-Bot-Api-Secret-Token", "t")], b"{}"),
                ("POST", "/v1/events", [("A", "1"), ("a", "2"), ("Authorization", "Bearer k")], b"\x00\x01"),
                ("GET", "/v1/users/%2B1555/engagements", [("Accept", "*/*")], b""),
                ("POST", "/_local/clock/advance", [], b'{"hours": 1}'),  # never recorded
            ]
            for method, target, headers, body in sends:
                connection = http.client.HTTPConnection(host, timeout=5)
                connection.putrequest(method, target, skip_accept_encoding=True)
                for name, value in headers:
                    connection.putheader(name, value)
                if body:
                    connection.putheader("Content-Length", str(len(body)))
                connection.endheaders(body or None)
                connection.getresponse().read()
                connection.close()
        finally:
            server.shutdown()
            server.server_close()

    recorded = list(read_recording(path))
    assert len(recorded) == 3
    results = replay(recorded, capture.url, resigners=[])
    assert all(r.status == 200 for r in results)
    originals = recording.seen[:3]
    assert [(s.method, s.target, s.body, s.end_to_end_headers) for s in capture.seen] == [
        (s.method, s.target, s.body, s.end_to_end_headers) for s in originals
    ]


def test_stage_path_of_the_target_is_a_prefix(capture: CaptureServer) -> None:
    request = _rec("GET", "/v1/users/u1/stats", query="a=1+2")
    results = replay([request, request], f"{capture.url}/prod/", resigners=[])
    assert [s.target for s in capture.seen] == ["/prod/v1/users/u1/stats?a=1+2"] * 2
    assert results[0].url == f"{capture.url}/prod/v1/users/u1/stats?a=1+2"


@pytest.mark.parametrize(
    "url",
    ["ftp://127.0.0.1/", "127.0.0.1:3000", "http://", "http://h/prod?stage=1", "http://h/#x"],
)
def test_a_target_that_is_not_a_plain_base_url_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="target must"):
        replay([JSON_EVENT], url)


def test_bearer_key_is_replaced_only_when_a_key_is_given(capture: CaptureServer) -> None:
    basic = _rec("GET", "/v1/a", headers=(("Authorization", "Basic dXNlcjpwYXNz"),))
    plain = _rec("GET", "/v1/b", headers=(("Accept", "*/*"),))
    lower = _rec(
        "GET", "/v1/c", headers=(("X-Before", "1"), ("authorization", "bearer old"), ("X-After", "2"))
    )
    requests = [JSON_EVENT, basic, plain, lower]

    results = replay(requests, capture.url, secrets={"api_key": "stage-key"})  # default RESIGNERS

    assert [s.header("Authorization") for s in capture.seen] == [
        ["Bearer stage-key"],
        ["Basic dXNlcjpwYXNz"],
        [],
        ["bearer stage-key"],
    ]
    assert capture.seen[3].end_to_end_headers == [
        ("X-Before", "1"),
        ("authorization", "bearer stage-key"),
        ("X-After", "2"),
    ]
    assert results[0].request is JSON_EVENT  # the recording itself is untouched
    assert ("Authorization", "Bearer stage-key") in results[0].sent.headers

    capture.seen.clear()
    replay(requests, capture.url)  # no key given: as recorded
    assert [s.header("Authorization") for s in capture.seen] == [
        ["Bearer recorded-key"],
        ["Basic dXNlcjpwYXNz"],
        [],
        ["bearer old"],
    ]

    capture.seen.clear()
    replay(requests, capture.url, resigners=[], secrets={"api_key": "stage-key"})  # re-signing off
    assert capture.seen[0].header("Authorization") == ["Bearer recorded-key"]


def test_bearer_resigner_is_registered_by_name() -> None:
    assert [r.name for r in RESIGNERS if isinstance(r, BearerKeyResigner)] == ["api_key"]


def test_a_resigner_may_not_move_the_url_it_signed(capture: CaptureServer) -> None:
    @dataclass(frozen=True)
    class Sneaky:
        name: str = "sneaky"

        def applies(self, request: RecordedRequest) -> bool:
            return True

        def resign(self, request: RecordedRequest, *, url: str, secrets: object) -> RecordedRequest:
            return RecordedRequest(**{**request.__dict__, "query": "other=1"})

    with pytest.raises(ValueError, match="'sneaky' changed"):
        replay([REPEATED], capture.url, resigners=[Sneaky()])
    assert capture.seen == []


def test_resigner_gets_the_full_target_url(capture: CaptureServer) -> None:
    urls: list[str] = []

    @dataclass(frozen=True)
    class UrlSigner:
        name: str = "url"

        def applies(self, request: RecordedRequest) -> bool:
            return request.method == "POST"

        def resign(self, request: RecordedRequest, *, url: str, secrets: object) -> RecordedRequest:
            urls.append(url)
            signed = (*request.headers, ("X-Signature", f"sig({url})"))
            return RecordedRequest(**{**request.__dict__, "headers": signed})

    replay([FORM_WEBHOOK, REPEATED], f"{capture.url}/prod", resigners=[UrlSigner()])
    expected = f"{capture.url}/prod/v1/webhooks/sms%2Fin?a=b+c&d=%20e&d=f&plus=%2B"
    assert urls == [expected]
    assert capture.seen[0].header("X-Signature") == [f"sig({expected})"]
    assert capture.seen[1].header("X-Signature") == []


PACED = [
    _rec("GET", "/v1/p0", at=0.0),
    _rec("GET", "/v1/p1", at=1.5),
    _rec("GET", "/v1/p2", at=1.5),  # same instant: no sleep
    _rec("GET", "/v1/p3", at=1.4),  # appended a little out of order by a concurrent thread
    _rec("GET", "/v1/p4", at=4.0),  # 2.5 s after the latest instant seen, not 2.6
]


@pytest.mark.parametrize(
    ("pace", "expected"),
    [
        ("original", [(1, 1.5), (4, 2.5)]),
        (10, [(1, 0.15), (4, 0.25)]),
        (0.5, [(1, 3.0), (4, 5.0)]),
        ("none", []),
    ],
)
def test_pacing_sleeps_the_recorded_gaps_between_sends(
    capture: CaptureServer, pace: str | float, expected: list[tuple[int, float]]
) -> None:
    slept: list[tuple[int, float]] = []

    def fake_sleep(seconds: float) -> None:
        slept.append((len(capture.seen), seconds))  # how many requests went out before it

    results = replay(PACED, capture.url, pace=pace, sleep=fake_sleep)  # type: ignore[arg-type]

    assert [r.status for r in results] == [200] * 5
    assert [count for count, _ in slept] == [count for count, _ in expected]
    assert [seconds for _, seconds in slept] == pytest.approx([seconds for _, seconds in expected])


@pytest.mark.parametrize("pace", [0, -1, "fast", True, float("nan")])
def test_bad_pace_is_refused(pace: object) -> None:
    with pytest.raises(ValueError, match="pace must be"):
        replay(PACED, "http://127.0.0.1:1", pace=pace)  # type: ignore[arg-type]


def test_error_statuses_are_results(capture: CaptureServer) -> None:
    capture.statuses["/v1/missing"] = 404
    capture.statuses["/v1/broken"] = 500
    requests = [_rec("GET", "/v1/missing"), _rec("POST", "/v1/broken", body=b"{}"), _rec("GET", "/v1/ok")]

    results = replay(requests, capture.url)

    assert [(r.status, r.body, r.error, r.answered) for r in results] == [
        (404, b"GET /v1/missing", None, True),
        (500, b"POST /v1/broken", None, True),
        (200, b"GET /v1/ok", None, True),
    ]
    assert ("Content-Type", "text/plain") in results[0].headers
    assert all(r.elapsed_ms > 0 for r in results)


def test_unreachable_target_is_reported_per_request(dead_url: str) -> None:
    results = replay([_rec("GET", "/v1/a"), _rec("POST", "/v1/b", body=b"x")], dead_url)
    assert [r.status for r in results] == [None, None]
    assert all(r.error and r.error.startswith("ConnectionRefusedError") for r in results)
    assert [r.request.path for r in results] == ["/v1/a", "/v1/b"]


def test_a_request_that_cannot_be_sent_does_not_stop_the_replay(capture: CaptureServer) -> None:
    not_ascii = _rec("GET", "/v1/caf\u00e9")
    results = replay([not_ascii, _rec("GET", "/v1/after")], capture.url)
    assert results[0].status is None
    assert results[0].error is not None
    assert results[0].error.startswith("SendError: cannot send as recorded")
    assert results[1].status == 200
    assert [s.target for s in capture.seen] == ["/v1/after"]


def test_injected_sender_sees_the_prepared_request() -> None:
    sent: list[Outgoing] = []

    def send(outgoing: Outgoing) -> Answer:
        sent.append(outgoing)
        return Answer(status=202, headers=(), body=b"")

    results = replay([JSON_EVENT], "https://abc.execute-api.eu-west-1.amazonaws.com/prod", send=send)
    assert results[0].status == 202
    assert sent[0].url == "https://abc.execute-api.eu-west-1.amazonaws.com/prod/v1/events"
    assert sent[0].headers[-1] == ("Content-Length", str(len(JSON_EVENT.body)))
    assert sent[0].body == JSON_EVENT.body


# Command line ------------------------------------------------------------------------------


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="replay")
    add_arguments(parser)
    return parser.parse_args(list(argv))


def _write(path: Path, *requests: RecordedRequest) -> Path:
    path.write_text("".join(r.to_json() + "\n" for r in requests), encoding="utf-8")
    return path


LINE = re.compile(r"^(?P<method>[A-Z]+) (?P<path>\S+) -> (?P<outcome>.+) \((?P<ms>\d+) ms\)$")


def test_run_prints_a_line_per_request_and_a_summary(
    tmp_path: Path, capture: CaptureServer, capsys: pytest.CaptureFixture[str]
) -> None:
    capture.statuses["/v1/missing"] = 404
    file = _write(tmp_path / "rec.jsonl", JSON_EVENT, _rec("GET", "/v1/missing"), REPEATED)

    code = run(_parse(str(file), "--to", capture.url, "--api-key", "cli-key"))

    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert len(out) == 4
    lines = [LINE.match(line) for line in out[:3]]
    assert all(lines)
    assert [(m["method"], m["path"], m["outcome"]) for m in lines if m] == [
        ("POST", "/v1/events", "200"),
        ("GET", "/v1/missing", "404"),
        ("GET", "/v1/users/u%201/stats", "200"),
    ]
    assert out[3] == f"replayed 3 requests to {capture.url}: 2xx 2, 4xx 1"
    assert capture.seen[0].header("Authorization") == ["Bearer cli-key"]


def test_run_exit_code_is_1_when_a_request_got_no_answer(
    tmp_path: Path, dead_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    file = _write(tmp_path / "rec.jsonl", _rec("GET", "/v1/a"), _rec("GET", "/v1/b"))

    code = run(_parse(str(file), "--to", dead_url))

    out = capsys.readouterr().out.splitlines()
    assert code == 1
    assert [line.split(" (")[0] for line in out[:2]] == [
        "GET /v1/a -> failed: ConnectionRefusedError: [Errno 111] Connection refused",
        "GET /v1/b -> failed: ConnectionRefusedError: [Errno 111] Connection refused",
    ]
    assert out[2] == f"replayed 2 requests to {dead_url}: failed 2"


def test_run_refuses_an_unreadable_recording_before_sending(
    tmp_path: Path, capture: CaptureServer, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "rec.jsonl"
    file.write_text(JSON_EVENT.to_json() + "\n" + "{oops\n", encoding="utf-8")

    assert run(_parse(str(file), "--to", capture.url)) == 2
    assert f"{file}:2: not JSON" in capsys.readouterr().err
    assert capture.seen == []  # nothing sent from a half-readable file

    assert run(_parse(str(tmp_path / "absent.jsonl"), "--to", capture.url)) == 2
    assert "absent.jsonl" in capsys.readouterr().err

    assert run(_parse(str(file), "--to", "localhost:3000")) == 2


def test_cli_arguments() -> None:
    args = _parse("rec.jsonl")
    assert (args.file, args.to, args.pace, args.secrets, args.api_key) == (
        Path("rec.jsonl"),
        "http://127.0.0.1:3000",
        "none",
        [],
        None,
    )
    args = _parse("r", "--pace", "original", "--secret", "telegram=a=b", "--secret", "api_key=x")
    assert args.pace == "original"
    assert args.secrets == [("telegram", "a=b"), ("api_key", "x")]
    assert _parse("r", "--pace", "10").pace == 10.0
    for bad in (["--pace", "0"], ["--pace", "fast"], ["--pace", "inf"], ["--secret", "novalue"]):
        with pytest.raises(SystemExit):
            _parse("r", *bad)


def test_api_key_wins_over_secret_api_key(tmp_path: Path, capture: CaptureServer) -> None:
    file = _write(tmp_path / "rec.jsonl", JSON_EVENT)
    run(_parse(str(file), "--to", capture.url, "--secret", "api_key=from-secret"))
    run(_parse(str(file), "--to", capture.url, "--secret", "api_key=from-secret", "--api-key", "k2"))
    assert [s.header("Authorization") for s in capture.seen] == [["Bearer from-secret"], ["Bearer k2"]]
