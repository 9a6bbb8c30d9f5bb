"""The local API Gateway layer against published and captured HTTP API payload 2.0 events.

The fixtures (and where they come from) are described in ``fixtures/apigw/README.md``. The
focused tests below pin each rule of ``infra/local/apigw.py`` that the webhooks depend on.
"""

from __future__ import annotations

import base64
import copy
import json
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from engagement.topology import TOPOLOGY, RouteSpec
from infra.local import apigw

FIXTURES = Path(__file__).parent / "fixtures" / "apigw"
NOW = datetime(2020, 3, 12, 19, 3, 58, 390_000, tzinfo=UTC)


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


def event_for(
    *,
    method: str = "POST",
    raw_path: str = "/v1/events",
    raw_query: str = "",
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    route: apigw.RouteMatch | None = None,
    stage: str = "$default",
    force_base64: bool | None = None,
    gateway_headers: bool = False,
) -> dict[str, Any]:
    return apigw.build_event(
        method=method,
        raw_path=raw_path,
        raw_query=raw_query,
        headers=headers or [],
        body=body,
        source_ip="198.51.100.7",
        route=route,
        stage=stage,
        domain_name="local.execute-api.localhost",
        request_id="req-1",
        now=NOW,
        force_base64=force_base64,
        gateway_headers=gateway_headers,
    )


def route(method: str, path: str) -> RouteSpec:
    return RouteSpec(method, path, "fn", "op", tag="t")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------
# Published and captured events
# --------------------------------------------------------------------------------------


def test_matches_the_aws_documentation_sample_event() -> None:
    sample = load("aws_docs_payload_v2_sample.json")["event"]
    built = apigw.build_event(
        method="POST",
        raw_path="/my/path",
        raw_query="parameter1=value1&parameter1=value2&parameter2=value",
        headers=[
            ("Header1", "value1"),
            ("Header2", "value1"),
            ("Header2", "value2"),
            ("Cookie", "cookie1; cookie2"),
            ("User-Agent", "agent"),
            ("Content-Type", "text/plain"),
        ],
        body=b"Hello from Lambda",
        source_ip="IP",
        route=None,
        domain_name="id.execute-api.us-east-1.amazonaws.com",
        api_id="api-id",
        account_id="123456789012",
        request_id="id",
        now=NOW,
        gateway_headers=False,  # the sample shows none of the headers API Gateway adds
    )

    expected = copy.deepcopy(sample)
    # The sample's own inconsistencies (fixtures/apigw/README.md):
    # header names are capitalised although the page says all names are lowercase,
    expected["headers"] = {name.lower(): value for name, value in expected["headers"].items()}
    # userAgent is "agent" with no user-agent header, and the text body has no content-type.
    for name in ("user-agent", "content-type"):
        del built["headers"][name]
    # pathParameters on the $default route, which has no path variables.
    del expected["pathParameters"]
    # Features the runner does not emulate: mutual TLS, authorizers, stage variables.
    del expected["requestContext"]["authentication"]
    del expected["requestContext"]["authorizer"]
    del expected["stageVariables"]
    # Per request: the sample's timeEpoch (4 Mar) does not even match its time (12 Mar).
    del expected["requestContext"]["timeEpoch"]
    assert built["requestContext"].pop("timeEpoch") == apigw.epoch_millis(NOW)

    assert built == expected


def test_matches_a_live_http_api_capture() -> None:
    fixture = load("live_http_api_capture.json")
    request, captured = fixture["request"], fixture["event"]
    now = datetime.fromtimestamp(captured["requestContext"]["timeEpoch"] / 1000, tz=UTC)

    built = apigw.build_event(
        method=request["method"],
        raw_path=request["raw_path"],
        raw_query=request["raw_query"],
        headers=[(name, value) for name, value in request["headers"]],
        body=request["body"].encode("utf-8"),
        source_ip=request["source_ip"],
        route=None,
        domain_name=captured["requestContext"]["domainName"],
        api_id=captured["requestContext"]["apiId"],
        account_id=captured["requestContext"]["accountId"],
        request_id=captured["requestContext"]["requestId"],
        now=now,
    )

    # The trace id is random per request; its timestamp part is the request time.
    trace = built["headers"].pop("x-amzn-trace-id")
    captured_trace = captured["headers"].pop("x-amzn-trace-id")
    assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24}", trace)
    assert trace.split("-")[1] == captured_trace.split("-")[1]
    assert built == captured


@pytest.mark.parametrize("case", load("ingress_paths.json")["cases"], ids=lambda case: case["sent"])
def test_raw_path_is_decoded_like_the_live_captures(case: dict[str, Any]) -> None:
    if case.get("rejected"):
        assert apigw.gateway_path(case["sent"]) is None
        with pytest.raises(ValueError, match="400"):
            event_for(raw_path=case["sent"])
    else:
        assert apigw.gateway_path(case["sent"]) == case["raw_path"]
        event = event_for(raw_path=case["sent"])
        assert event["rawPath"] == event["requestContext"]["http"]["path"] == case["raw_path"]


# --------------------------------------------------------------------------------------
# Request event: focused rules
# --------------------------------------------------------------------------------------


def test_header_names_are_lowercased_and_repeats_comma_joined() -> None:
    event = event_for(
        headers=[
            ("X-Twilio-Signature", "sig"),
            ("Accept", "text/html"),
            ("accept", "application/json"),
            ("ACCEPT", "*/*"),
        ]
    )
    assert event["headers"] == {"x-twilio-signature": "sig", "accept": "text/html,application/json,*/*"}
    assert "multiValueHeaders" not in event


def test_cookies_are_split_out_of_every_cookie_header_and_removed_from_headers() -> None:
    event = event_for(headers=[("Cookie", "a=1; b=2"), ("X-Other", "x"), ("cookie", "c=3;d=4")])
    assert event["cookies"] == ["a=1", "b=2", "c=3", "d=4"]
    assert event["headers"] == {"x-other": "x"}


def test_no_cookie_header_means_no_cookies_key() -> None:
    assert "cookies" not in event_for(headers=[("Accept", "*/*")])


def test_raw_query_string_is_passed_exactly_as_sent() -> None:
    event = event_for(raw_query="b=2&a=1&a=%20x+y&c=%2B1&blank=&flag")
    assert event["rawQueryString"] == "b=2&a=1&a=%20x+y&c=%2B1&blank=&flag"
    # Decoded form-style: "+" is a space, "%2B" a plus; repeats joined, blanks kept.
    assert event["queryStringParameters"] == {"b": "2", "a": "1, x y", "c": "+1", "blank": "", "flag": ""}
    assert "multiValueQueryStringParameters" not in event


def test_no_query_string_means_no_query_parameters_key() -> None:
    event = event_for(raw_query="")
    assert event["rawQueryString"] == ""
    assert "queryStringParameters" not in event


def test_form_urlencoded_body_is_base64_and_decodes_to_the_original_bytes() -> None:
    form = b"MessageSid=SM123&Body=STOP+now&ToCity=&From=%2B15551234567"
    event = event_for(headers=[("Content-Type", "application/x-www-form-urlencoded")], body=form)
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == form


def test_form_body_can_be_forced_to_plain_text_to_test_both_decoding_paths() -> None:
    form = b"Body=STOP&ToCity="
    headers = [("Content-Type", "application/x-www-form-urlencoded")]
    event = event_for(headers=headers, body=form, force_base64=False)
    assert event["isBase64Encoded"] is False
    assert event["body"] == "Body=STOP&ToCity="


def test_json_body_is_plain_text_unless_forced() -> None:
    body = '{"events": [{"name": "λ"}]}'.encode()
    headers = [("Content-Type", "application/json; charset=utf-8")]
    plain = event_for(headers=headers, body=body)
    assert plain["isBase64Encoded"] is False
    assert plain["body"] == body.decode()
    forced = event_for(headers=headers, body=body, force_base64=True)
    assert forced["isBase64Encoded"] is True
    assert base64.b64decode(forced["body"]) == body


@pytest.mark.parametrize(
    ("content_type", "text"),
    [
        ("text/plain", True),
        ("Text/HTML; charset=UTF-8", True),
        ("application/json", True),
        ("application/vnd.api+json", True),
        ("application/xml", True),
        ("application/atom+xml", True),
        ("application/javascript", True),
        ("application/x-www-form-urlencoded", False),
        ("multipart/form-data; boundary=x", False),
        ("application/octet-stream", False),
        ("image/png", False),
        (None, False),
        ("", False),
    ],
)
def test_content_types_sent_as_plain_text(content_type: str | None, text: bool) -> None:
    assert apigw.is_text_content_type(content_type) is text
    headers = [("Content-Type", content_type)] if content_type is not None else []
    event = event_for(headers=headers, body=b"abc")
    assert event["isBase64Encoded"] is not text


def test_missing_content_type_is_base64() -> None:
    event = event_for(body=b'{"a": 1}')
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b'{"a": 1}'


def test_text_body_that_is_not_utf8_is_base64() -> None:
    body = "café".encode("latin-1")
    event = event_for(headers=[("Content-Type", "text/plain; charset=iso-8859-1")], body=body)
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == body


def test_forcing_plain_text_on_a_non_utf8_body_is_refused() -> None:
    with pytest.raises(ValueError, match="UTF-8"):
        event_for(body=b"\xff\xfe", force_base64=False)


def test_empty_body_has_no_body_key() -> None:
    event = event_for(method="GET", headers=[("Content-Type", "application/json")], body=b"")
    assert "body" not in event
    assert event["isBase64Encoded"] is False


def test_request_context() -> None:
    match = apigw.match_route(TOPOLOGY.routes, "GET", "/v1/users/u1/engagements/i%2F2")
    assert match is None  # "%2F" is a separator once decoded: three segments after /users
    match = apigw.match_route(TOPOLOGY.routes, "GET", "/v1/users/u%201/engagements/i2")
    assert match is not None
    event = event_for(method="GET", raw_path="/v1/users/u%201/engagements/i2", route=match)
    assert event["routeKey"] == "GET /v1/users/{user_id}/engagements/{item_id}"
    assert event["pathParameters"] == {"user_id": "u 1", "item_id": "i2"}
    assert event["requestContext"] == {
        "accountId": "000000000000",
        "apiId": "local",
        "domainName": "local.execute-api.localhost",
        "domainPrefix": "local",
        "http": {
            "method": "GET",
            "path": "/v1/users/u 1/engagements/i2",
            "protocol": "HTTP/1.1",
            "sourceIp": "198.51.100.7",
            "userAgent": "",
        },
        "requestId": "req-1",
        "routeKey": "GET /v1/users/{user_id}/engagements/{item_id}",
        "stage": "$default",
        "time": "12/Mar/2020:19:03:58 +0000",
        "timeEpoch": 1584039838390,
    }


def test_unmatched_request_has_default_route_key_and_no_path_parameters() -> None:
    event = event_for(raw_path="/nowhere")
    assert event["routeKey"] == event["requestContext"]["routeKey"] == "$default"
    assert "pathParameters" not in event


def test_named_stage_is_kept_in_raw_path_but_not_in_the_route() -> None:
    match = apigw.match_route(TOPOLOGY.routes, "POST", "/prod/v1/events", stage="prod")
    assert match is not None
    assert match.route_key == "POST /v1/events"
    event = event_for(raw_path="/prod/v1/events", route=match, stage="prod")
    assert event["rawPath"] == event["requestContext"]["http"]["path"] == "/prod/v1/events"
    assert event["routeKey"] == "POST /v1/events"
    assert event["requestContext"]["stage"] == "prod"
    # Without the stage prefix there is no $default stage to serve it: 404.
    assert apigw.match_route(TOPOLOGY.routes, "POST", "/v1/events", stage="prod") is None
    assert apigw.match_route(TOPOLOGY.routes, "POST", "/production/v1/events", stage="prod") is None


def test_time_uses_english_month_names_and_utc() -> None:
    months = [
        apigw.format_request_time(datetime(2026, month, 3, 4, 5, 6, tzinfo=UTC)) for month in range(1, 13)
    ]
    assert [text[3:6] for text in months] == [
        "Jan",
        "Feb",
        "Mar",
        "Apr",
        "May",
        "Jun",
        "Jul",
        "Aug",
        "Sep",
        "Oct",
        "Nov",
        "Dec",
    ]
    plus_two = timezone(timedelta(hours=2))
    assert (
        apigw.format_request_time(datetime(2026, 1, 1, 1, 0, 0, tzinfo=plus_two))
        == "31/Dec/2025:23:00:00 +0000"
    )


def test_time_epoch_is_integer_milliseconds() -> None:
    assert apigw.epoch_millis(datetime(2020, 3, 4, 19, 3, 58, 390_999, tzinfo=UTC)) == 1583348638390


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        apigw.build_event(
            method="GET",
            raw_path="/",
            raw_query="",
            headers=[],
            body=b"",
            source_ip="127.0.0.1",
            route=None,
            domain_name="localhost",
            now=datetime(2020, 1, 1),
        )


def test_generated_request_id_has_the_aws_shape() -> None:
    event = apigw.build_event(
        method="GET",
        raw_path="/",
        raw_query="",
        headers=[("User-Agent", "curl/8.7.1")],
        body=b"",
        source_ip="127.0.0.1",
        route=None,
        domain_name="localhost",
        now=NOW,
    )
    assert re.fullmatch(r"[A-Za-z0-9+/]{15}=", event["requestContext"]["requestId"])
    assert event["requestContext"]["domainPrefix"] == "localhost"
    assert event["requestContext"]["http"]["userAgent"] == "curl/8.7.1"


def test_gateway_headers_append_the_peer_to_a_client_forwarded_for() -> None:
    event = event_for(headers=[("X-Forwarded-For", "10.0.0.1")], gateway_headers=True)
    assert event["headers"]["x-forwarded-for"] == "10.0.0.1, 198.51.100.7"
    assert event["headers"]["x-forwarded-proto"] == "https"
    assert event["headers"]["x-forwarded-port"] == "443"
    assert event["headers"]["x-amzn-trace-id"].startswith(f"Root=1-{apigw.epoch_millis(NOW) // 1000:08x}-")


# --------------------------------------------------------------------------------------
# Routing
# --------------------------------------------------------------------------------------


def test_path_parameters_are_decoded_and_plus_is_not_a_space() -> None:
    encoded = apigw.match_route(TOPOLOGY.routes, "GET", "/v1/users/%2B15551234567/stats")
    literal = apigw.match_route(TOPOLOGY.routes, "GET", "/v1/users/+15551234567/stats")
    assert encoded is not None
    assert literal is not None
    assert encoded.route.operation == "get_stats"
    assert encoded.path_parameters == literal.path_parameters == {"user_id": "+15551234567"}


def test_every_topology_route_is_reachable() -> None:
    for spec in TOPOLOGY.routes:
        concrete = re.sub(r"\{[^}]+\}", "x", spec.path)
        match = apigw.match_route(TOPOLOGY.routes, spec.method, concrete)
        assert match is not None
        assert match.route == spec


def route_key(routes: list[RouteSpec], method: str, path: str) -> str | None:
    match = apigw.match_route(routes, method, path)
    return match.route_key if match is not None else None


def test_literal_segment_beats_a_path_variable() -> None:
    routes = [route("GET", "/pets/{id}/toys"), route("GET", "/pets/dog/{toy}"), route("GET", "/pets/dog/1")]
    assert route_key(routes, "GET", "/pets/dog/1") == "GET /pets/dog/1"
    assert route_key(routes, "GET", "/pets/dog/2") == "GET /pets/dog/{toy}"
    assert route_key(routes, "GET", "/pets/cat/toys") == "GET /pets/{id}/toys"
    # The first differing segment decides: "dog" (literal) beats "{id}" even though the
    # other route has a literal later on.
    assert route_key(routes, "GET", "/pets/dog/toys") == "GET /pets/dog/{toy}"


def test_aws_documented_routing_example() -> None:
    # AWS docs "Create routes for HTTP APIs in API Gateway", section "Routing API requests".
    routes = [
        route("GET", "/pets/dog/1"),
        route("GET", "/pets/dog/{id}"),
        route("GET", "/pets/{proxy+}"),
        route("ANY", "/{proxy+}"),
    ]
    cases = {
        ("GET", "/pets/dog/1"): ("GET /pets/dog/1", {}),
        ("GET", "/pets/dog/2"): ("GET /pets/dog/{id}", {"id": "2"}),
        ("GET", "/pets/cat/1"): ("GET /pets/{proxy+}", {"proxy": "cat/1"}),
        ("POST", "/pets/dog/1"): ("ANY /{proxy+}", {"proxy": "pets/dog/1"}),
    }
    for (method, path), (route_key, parameters) in cases.items():
        match = apigw.match_route(routes, method, path)
        assert match is not None
        assert (match.route_key, match.path_parameters) == (route_key, parameters)


def test_method_route_beats_any_on_the_same_path() -> None:
    routes = [route("ANY", "/hooks/{name}"), route("POST", "/hooks/{name}")]
    match = apigw.match_route(routes, "POST", "/hooks/twilio")
    assert match is not None
    assert match.route_key == "POST /hooks/{name}"
    any_match = apigw.match_route(routes, "DELETE", "/hooks/twilio")
    assert any_match is not None
    assert any_match.route_key == "ANY /hooks/{name}"


def test_greedy_variable_needs_at_least_one_segment() -> None:
    routes = [route("GET", "/files/{path+}")]
    assert apigw.match_route(routes, "GET", "/files") is None
    assert apigw.match_route(routes, "GET", "/files/") is None
    match = apigw.match_route(routes, "GET", "/files/a/b%20c.txt")
    assert match is not None
    assert match.path_parameters == {"path": "a/b c.txt"}


def test_greedy_variable_must_be_last() -> None:
    with pytest.raises(ValueError, match="greedy"):
        apigw.match_route([route("GET", "/{proxy+}/x")], "GET", "/a/x")


def test_path_variable_needs_a_non_empty_segment() -> None:
    assert apigw.match_route(TOPOLOGY.routes, "GET", "/v1/users//stats") is None
    assert apigw.match_route(TOPOLOGY.routes, "GET", "/v1/users/u1/engagements/") is not None  # list route


def test_trailing_slash_is_ignored_for_matching_but_kept_in_raw_path() -> None:
    match = apigw.match_route(TOPOLOGY.routes, "POST", "/v1/events/")
    assert match is not None
    assert match.route_key == "POST /v1/events"
    assert event_for(raw_path="/v1/events/", route=match)["rawPath"] == "/v1/events/"


def test_literal_segments_are_case_sensitive() -> None:
    assert apigw.match_route(TOPOLOGY.routes, "POST", "/V1/events") is None


def test_method_mismatch_is_404_like_aws_but_reports_the_allowed_methods() -> None:
    assert apigw.match_route(TOPOLOGY.routes, "DELETE", "/v1/events") is None
    assert apigw.allowed_methods(TOPOLOGY.routes, "/v1/events") == ["POST"]
    assert apigw.allowed_methods(TOPOLOGY.routes, "/v1/users/u1/stats") == ["GET"]
    assert apigw.allowed_methods(TOPOLOGY.routes, "/v2/nothing") == []
    assert apigw.allowed_methods(TOPOLOGY.routes, "/v1/%zz") == []


def test_rejected_path_matches_nothing() -> None:
    assert apigw.gateway_path("/v1/users/100%25/stats") is None
    assert apigw.match_route(TOPOLOGY.routes, "GET", "/v1/users/100%25/stats") is None


# --------------------------------------------------------------------------------------
# Gateway answers and response conversion
# --------------------------------------------------------------------------------------


def test_gateway_error_answers() -> None:
    not_found = apigw.not_found_response()
    assert (not_found.status, not_found.body) == (404, b'{"message":"Not Found"}')
    assert not_found.headers == [("content-type", "application/json")]
    error = apigw.lambda_error_response()
    assert (error.status, error.body) == (500, b'{"message":"Internal Server Error"}')
    bad = apigw.bad_request_response()
    assert (bad.status, bad.body) == (400, b'{"message":"Bad Request"}')


def test_proxy_response_with_headers_and_cookies() -> None:
    response = apigw.to_http_response(
        {
            "statusCode": 202,
            "headers": {"Content-Type": "application/json", "Vary": "Accept,Origin", "X-Count": 3},
            "cookies": ["a=1; Path=/", "b=2; HttpOnly"],
            "body": '{"accepted": 1}',
            "isBase64Encoded": False,
        }
    )
    assert response.status == 202
    assert response.headers == [
        ("Content-Type", "application/json"),
        ("Vary", "Accept,Origin"),
        ("X-Count", "3"),
        ("set-cookie", "a=1; Path=/"),
        ("set-cookie", "b=2; HttpOnly"),
    ]
    assert response.body == b'{"accepted": 1}'
    assert response.integration_error is None


def test_proxy_response_base64_body_is_decoded() -> None:
    png = b"\x89PNG\r\n\x1a\n\x00"
    response = apigw.to_http_response(
        {"statusCode": 200, "body": base64.b64encode(png).decode(), "isBase64Encoded": True}
    )
    assert response.body == png


def test_proxy_response_without_body() -> None:
    response = apigw.to_http_response({"statusCode": 204})
    assert (response.status, response.headers, response.body) == (204, [], b"")


def test_bare_dict_becomes_a_200_json_body() -> None:
    result = {"message": "Hello from Lambda!", "name": "λ"}
    response = apigw.to_http_response(result)
    assert response.status == 200
    assert response.headers == [("content-type", "application/json")]
    assert response.body == json.dumps(result, ensure_ascii=False).encode()
    assert json.loads(response.body) == result


def test_bare_string_is_sent_verbatim_as_json_content_type() -> None:
    response = apigw.to_http_response("Hello from Lambda!")
    assert (response.status, response.body) == (200, b"Hello from Lambda!")
    assert response.headers == [("content-type", "application/json")]


@pytest.mark.parametrize(
    ("result", "body"), [([1, 2], b"[1, 2]"), (None, b"null"), (True, b"true"), (3.5, b"3.5")]
)
def test_other_json_values_become_200_bodies(result: object, body: bytes) -> None:
    response = apigw.to_http_response(result)
    assert (response.status, response.body) == (200, body)


@pytest.mark.parametrize(
    "result",
    [
        {"statusCode": "200", "body": ""},
        {"statusCode": True},
        {"statusCode": 99},
        {"statusCode": None},
        {"statusCode": 200, "body": {"not": "a string"}},
        {"statusCode": 200, "body": "***", "isBase64Encoded": True},
        {"statusCode": 200, "body": "", "isBase64Encoded": "true"},
        {"statusCode": 200, "headers": {"X-List": ["a", "b"]}},
        {"statusCode": 200, "headers": ["not", "an", "object"]},
        {"statusCode": 200, "cookies": "a=1"},
        {1, 2},
        float("nan"),
    ],
)
def test_malformed_results_become_internal_server_error(result: object) -> None:
    response = apigw.to_http_response(result)
    assert response == apigw.lambda_error_response()
    assert response.integration_error


@pytest.mark.parametrize(
    ("target", "logged"),
    [
        ("/v1/users/42/stats?%2B15559990001=1", "/v1/users/…/stats?(1 parameters)"),
        ("/v1/users/42/stats?my+secret+message+text=1&a=b", "/v1/users/…/stats?(2 parameters)"),
        ("/v1/users/5559990003/stats", "/v1/users/…/stats"),
        ("/v1/users/+1-555-999-0004/stats", "/v1/users/…/stats"),
        ("/v1/users/+%31%35%35%35%39%39%39%30%30%30%37/stats", "/v1/users/…/stats"),
        ("/v1/users/alice@example.com", "/v1/users/…"),
        ("/v1/items/5559990003/funnel", "/v1/items/5559…03/funnel"),
        ("/v1/items/+1(555)9990005/funnel", "/v1/items/+1(5…05/funnel"),
        ("/v1/items/%2B1555%E2%80%8D1234567/funnel", "/v1/items/+155…67/funnel"),
        ("/c/abcdefghijklmnop.qrstuvwxyzab", "/c/…"),
        ("/v1/users/42/engagements/AI-1799", "/v1/users/…/engagements/AI-1799"),
    ],
)
def test_the_runner_never_logs_a_number_a_query_value_or_a_link_token(target: str, logged: str) -> None:
    from infra.local.gateway import masked_target

    assert masked_target(target) == logged
