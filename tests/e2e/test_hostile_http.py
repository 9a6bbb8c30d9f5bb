"""The runner's HTTP front door against malformed HTTP: always API Gateway's JSON answers, never
http.server's HTML pages, a dropped connection or an unbounded read."""

from __future__ import annotations

import json
import socket

import pytest

from .conftest import KEY, Runner

pytestmark = pytest.mark.e2e


def raw_request(runner: Runner, data: bytes) -> tuple[int, dict[str, str], bytes]:
    host, port = runner.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        connection.sendall(data)
        connection.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in header_lines)}
    return int(status_line.split()[1]), headers, body


JSON_WITH_KEY = f"Authorization: Bearer {KEY}\r\nContent-Type: application/json\r\n"


def request(method: str, path: str, *, headers: str = "", body: bytes = b"") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{headers}\r\n".encode() + body


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PROPFIND", "FOO", "PUT", "DELETE", "PATCH"])
def test_a_method_no_route_has_is_a_json_404(runner: Runner, method: str) -> None:
    status, headers, body = raw_request(runner, request(method, "/v1/events"))
    assert (status, headers["content-type"]) == (404, "application/json")
    assert json.loads(body) == {"message": "Not Found"}


@pytest.mark.parametrize(
    "data",
    [
        b"GARBAGE\r\n\r\n",
        b"GET /v1/events HTTP/9.9\r\n\r\n",
        request("POST", "/v1/events", headers="Content-Length: abc\r\n"),
        request("POST", "/v1/events", headers="Content-Length: -5\r\n"),
        request("POST", "/v1/events", headers="Transfer-Encoding: chunked\r\n", body=b"zz\r\n"),
    ],
    ids=["no-request-line", "bad-version", "length-not-a-number", "negative-length", "bad-chunk"],
)
def test_malformed_http_is_a_json_4xx(runner: Runner, data: bytes) -> None:
    status, headers, body = raw_request(runner, data)
    assert 400 <= status < 500
    assert headers["content-type"] == "application/json"
    assert "message" in json.loads(body)


def test_a_body_over_api_gateways_limit_is_refused_before_it_is_read(runner: Runner) -> None:
    announced = request(
        "POST",
        "/v1/events",
        headers=f"{JSON_WITH_KEY}Content-Length: {11 * 1024 * 1024}\r\n",
    )
    status, headers, body = raw_request(runner, announced)
    assert (status, headers["content-type"]) == (413, "application/json")
    assert json.loads(body) == {"message": "Request Entity Too Large"}


def test_a_body_over_the_functions_limit_is_a_413(runner: Runner) -> None:
    payload = b'{"events": [], "padding": "' + b"x" * (1024 * 1024 + 10) + b'"}'
    status, _, body = raw_request(
        runner,
        request(
            "POST",
            "/v1/events",
            headers=f"{JSON_WITH_KEY}Content-Length: {len(payload)}\r\n",
            body=payload,
        ),
    )
    assert status == 413
    assert json.loads(body)["error"] == "body_too_large"


def test_http_0_9_is_a_json_400_with_a_status_line(runner: Runner) -> None:
    status, headers, _ = raw_request(runner, b"GET /v1/users/42/stats\r\n")
    assert (status, headers["content-type"]) == (400, "application/json")


def test_a_body_shorter_than_announced_is_never_processed(runner: Runner) -> None:
    body = json.dumps(
        {
            "events": [
                {"user_id": "half", "item_id": "AI-1", "type": "query", "occurred_at": "2026-11-20T10:00:00Z"}
            ]
        }
    )
    data = request(
        "POST",
        "/v1/events",
        headers=f"{JSON_WITH_KEY}Content-Length: {len(body) + 50}\r\n",
        body=body.encode(),
    )
    status, _, _ = raw_request(runner, data)  # raw_request half-closes after sending
    assert status == 400
    assert runner.request("GET", "/v1/users/half/engagements")[0] == 404  # nothing was stored


def test_conflicting_content_lengths_are_a_400(runner: Runner) -> None:
    data = request(
        "POST", "/v1/events", headers=f"{JSON_WITH_KEY}Content-Length: 2\r\nContent-Length: 5\r\n", body=b"{}"
    )
    assert raw_request(runner, data)[0] == 400


@pytest.mark.parametrize(
    "body",
    [
        b'{"advance": Infinity}',
        b'{"advance": 1e300}',
        b'{"advance": "999999999999d"}',
        b'{"advance": "P999999999999D"}',
        b"\xff",
        b"[" * 100_000,
    ],
)
def test_the_control_api_refuses_what_it_cannot_do_with_a_400(runner: Runner, body: bytes) -> None:
    status, headers, _ = raw_request(
        runner, request("POST", "/_local/clock", headers=f"Content-Length: {len(body)}\r\n", body=body)
    )
    assert (status, headers["content-type"]) == (400, "application/json")


def test_a_topic_message_that_is_not_utf8_is_a_400(runner: Runner) -> None:
    status, _, _ = raw_request(
        runner, request("POST", "/_local/topics/sms_events", headers="Content-Length: 1\r\n", body=b"\xff")
    )
    assert status == 400
