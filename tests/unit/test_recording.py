"""The recording format and the recorder: what goes in comes back out, byte for byte."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from infra.local import gateway
from infra.local.recording import (
    RecordedRequest,
    Recorder,
    RecordingError,
    read_recording,
    should_record,
)

AT = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def _recorded(**overrides: object) -> RecordedRequest:
    fields: dict[str, object] = {
        "recorded_at": "2026-03-01T12:00:00.123456Z",
        "method": "POST",
        "path": "/v1/webhooks/sms%2Fin",
        "query": "a=b+c&d=%20e&d=f",
        "headers": (
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("X-Trace", "first"),
            ("x-trace", "second"),
            ("X-Note", "caf\u00e9"),  # latin-1 decoded header byte, as http.server gives it
        ),
        "body": b"From=%2B15551234567&Body=hi+there",
        "source_ip": "203.0.113.9",
    }
    fields.update(overrides)
    return RecordedRequest(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "body",
    [b"", b"\xff\xfe\x00\x80 not utf-8 \xc3(", b'{"events": []}'],
    ids=["empty", "binary", "json"],
)
def test_json_round_trip_is_exact(body: bytes) -> None:
    original = _recorded(body=body)
    line = original.to_json()
    assert "\n" not in line
    assert RecordedRequest.from_json(line) == original


def test_json_shape_is_the_documented_one() -> None:
    data = json.loads(_recorded(body=b"\x00\xff").to_json())
    assert data == {
        "v": 1,
        "recorded_at": "2026-03-01T12:00:00.123456Z",
        "method": "POST",
        "path": "/v1/webhooks/sms%2Fin",
        "query": "a=b+c&d=%20e&d=f",
        "headers": [
            ["Content-Type", "application/x-www-form-urlencoded"],
            ["X-Trace", "first"],
            ["x-trace", "second"],
            ["X-Note", "caf\u00e9"],
        ],
        "body_b64": "AP8=",
        "source_ip": "203.0.113.9",
    }


def test_from_request_copies_headers_in_order_and_stamps_rfc3339() -> None:
    request = gateway.Request(
        method="GET",
        path="/v1/users/u%201/stats",
        query="",
        headers=[("Accept", "a"), ("Accept", "b"), ("Host", "x")],
        body=b"",
        source_ip="127.0.0.1",
    )
    recorded = RecordedRequest.from_request(request, at=AT.astimezone(timezone(timedelta(hours=2))))
    assert recorded.headers == (("Accept", "a"), ("Accept", "b"), ("Host", "x"))
    assert recorded.recorded_at == "2026-03-01T12:00:00.123456Z"
    assert recorded.instant == AT
    with pytest.raises(ValueError, match="timezone-aware"):
        RecordedRequest.from_request(request, at=datetime(2026, 3, 1, 12))


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "expected a JSON object"),
        (_recorded().to_json().replace('"v":1', '"v":2'), "unsupported format version 2"),
        (_recorded().to_json().replace('"body_b64":"', '"body_b64":"!!'), "body_b64 is not base64"),
        (_recorded().to_json().replace('"method":"POST"', '"method":7'), "method must be a str"),
        (_recorded().to_json().replace('["X-Trace","first"]', '["X-Trace"]'), r"headers\[1\]"),
        (_recorded().to_json().replace("2026-03-01T12", "yesterday"), "recorded_at"),
    ],
)
def test_from_json_rejects_malformed_lines(line: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        RecordedRequest.from_json(line)


def test_reader_names_the_malformed_line(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    good = _recorded().to_json()
    path.write_text(f"{good}\n\n{good}\n{good[:40]}\n{good}\n", encoding="utf-8")
    reader = read_recording(path)
    assert next(reader) == _recorded()
    assert next(reader) == _recorded()  # the blank line 2 is skipped
    with pytest.raises(RecordingError) as caught:
        next(reader)
    assert caught.value.line == 4
    assert str(caught.value).startswith(f"{path}:4: not JSON")


def test_reader_reports_invalid_utf8_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    path.write_bytes(_recorded().to_json().encode() + b"\n\xff\xfe\n")
    with pytest.raises(RecordingError, match=r"rec\.jsonl:2: "):
        list(read_recording(path))


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v1/events", True),
        ("/", True),
        ("/_local", True),  # not the control API: the gateway routes it (and answers 404)
        ("/v1/_local/x", True),
        ("/_local/", False),
        ("/_local/clock/advance", False),
    ],
)
def test_should_record_skips_exactly_the_control_api(path: str, expected: bool) -> None:
    assert should_record(path) is expected


@dataclass(frozen=True)
class _Req:
    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str


def test_recorder_appends_creates_parents_and_skips_control(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "rec.jsonl"
    with Recorder(path) as recorder:
        recorder.record(_Req("POST", "/v1/events", "", [("A", "1")], b"\x00", "::1"), at=AT)
        recorder.record(_Req("POST", "/_local/clock/advance", "", [], b"{}", "::1"), at=AT)
        # flushed per line: readable while the recorder is still open
        assert len(path.read_text(encoding="utf-8").splitlines()) == 1
    with Recorder(path) as recorder:  # a second run extends the file
        recorder.record(_Req("GET", "/v1/x", "q=1", [], b"", "::1"), at=AT + timedelta(seconds=1))
    got = list(read_recording(path))
    assert [(r.method, r.path, r.query, r.body) for r in got] == [
        ("POST", "/v1/events", "", b"\x00"),
        ("GET", "/v1/x", "q=1", b""),
    ]
    assert got[1].recorded_at == "2026-03-01T12:00:01.123456Z"


def test_recorder_refuses_after_close(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "rec.jsonl")
    recorder.close()
    with pytest.raises(ValueError, match="closed"):
        recorder.record(_Req("GET", "/v1/x", "", [], b"", "::1"), at=AT)


def test_recorder_is_safe_under_threads(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    threads, per_thread = 8, 50
    # A body big enough that an unlocked write would be split across buffer flushes.
    filler = bytes(range(256)) * 40
    start = threading.Barrier(threads)

    with Recorder(path) as recorder:

        def work(worker: int) -> None:
            start.wait()
            for n in range(per_thread):
                body = f"{worker}:{n}:".encode() + filler
                recorder.record(_Req("POST", f"/v1/w{worker}", f"n={n}", [], body, "::1"), at=AT)

        pool = [threading.Thread(target=work, args=(w,)) for w in range(threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()

    got = list(read_recording(path))
    assert len(got) == threads * per_thread
    assert all(r.body.endswith(filler) for r in got)
    seen = {(r.path, r.query) for r in got}
    assert seen == {(f"/v1/w{w}", f"n={n}") for w in range(threads) for n in range(per_thread)}
    for worker in range(threads):  # each thread's own records stay in its order
        mine = [int(r.query[2:]) for r in got if r.path == f"/v1/w{worker}"]
        assert mine == list(range(per_thread))
