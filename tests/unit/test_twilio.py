"""The Twilio adapter against Twilio's published signature vectors, its own SDK, and real shapes.

Three kinds of evidence, strongest first:

1. Vectors published by Twilio in its SDK test suites (quoted where used): the expected
   signatures are Twilio's, not computed here.
2. The official SDK (``twilio`` is a test-only dependency) as an oracle: it signs random
   realistic requests and the adapter must accept them, and agree with the SDK on tampered ones.
3. API Gateway events for a named stage with base64 form bodies (``fixtures/twilio/README.md``).
"""

from __future__ import annotations

import ast
import base64
import copy
import hashlib
import inspect
import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from engagement.domain.event_types import EventType
from engagement.topology import TOPOLOGY, TWILIO
from engagement.webhooks import twilio
from engagement.webhooks.provider import MalformedCallback, Verdict
from engagement.webhooks.request import FORM, WebhookRequest, from_api_gateway
from engagement.webhooks.sms import SmsOutcome, SmsSignal, to_events
from tests.settings_defaults import CLICK_WINDOW

PROVIDER = twilio.PROVIDER
FIXTURES = Path(__file__).parent / "fixtures" / "twilio"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
JSON = "application/json"


def request(
    url: str,
    fields: list[tuple[str, str]] | dict[str, str] | None = None,
    *,
    signature: str | None,
    body: bytes | None = None,
    content_type: str | None = FORM,
    method: str = "POST",
) -> WebhookRequest:
    """A request as Twilio sends it: the form body url-encoded, the query left in the URL."""
    if body is None:
        body = urlencode(list(fields.items()) if isinstance(fields, dict) else fields or []).encode()
    headers = {"user-agent": "TwilioProxy/1.1"}
    if content_type is not None:
        headers["content-type"] = content_type
    if signature is not None:
        headers["x-twilio-signature"] = signature
    return WebhookRequest(method=method, url=url, headers=headers, body=body, query=url.partition("?")[2])


def verdict(req: WebhookRequest, token: str) -> Verdict:
    return PROVIDER.verify(req, token, NOW)


class MultiParams(dict[str, list[str]]):
    """Repeated form keys for the SDK, which reads them through ``getall`` (MultiDict's API)."""

    def getall(self, name: str) -> list[str]:
        return self[name]


def sdk_params(fields: list[tuple[str, str]]) -> MultiParams:
    params = MultiParams()
    for name, value in fields:
        params.setdefault(name, []).append(value)
    return params


def sdk_signature(token: str, url: str, fields: list[tuple[str, str]]) -> str:
    return str(RequestValidator(token).compute_signature(url, sdk_params(fields)))


# ------------------------------------------------------------------ Twilio's published vectors
#
# twilio/twilio-python, tests/unit/test_request_validator.py (commits e2df36ac5141ce5b540b2de7
# 2a520cd2b39e81cd and 30368b08ba580a6c18202ab20bfc68d59559ebd7):
#
#     token = "12345"
#     self.uri = "https://mycompany.com/myapp.php?foo=1&bar=2"
#     self.params = {"CallSid": "CA1234567890ABCDE", "Digits": "1234", "From": "+14158675309",
#                    "To": "+18005551212", "Caller": "+14158675309"}
#     self.expected = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
#     self.body = "{\"property\": \"value\", \"boolean\": true}"
#     self.bodyHash = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
#     self.uriWithBody = self.uri + "&bodySHA256=" + self.bodyHash
#     test_validation_removes_port_on_http: "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="  # http uri, port 1234
#     test_validation_adds_port_on_https:   "kvajT1Ptam85bY51eRf/AJRuM3w="  # uri with port 443
#     test_validation_adds_port_on_http:    "0ZXoZLH/DfblKGATFgpif+LLRf4="  # uri with port 80
#     test_validation_of_body_succeeds:     "a9nBmqA0ju/hNViExpshrM61xv4="
#     test_compute_signature_duplicate_*: Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234
#                                          -> 'IK+Dwps556ElfBT0I3Rgjkr1wJU='
#
# twilio/twilio-node, spec/validation.spec.js (commit 005ea9cdbad2969f1d6c1f5059aa7df509f2d934),
# same token, URL, params and body, plus:
#     requestUrlWithHashSignatureEmptyBody = "Ldidvp12m26NI7eqEvxnEpkd9Hc="  (body "{}")
#     "should validate request body with only sha param": "y77kIzt2vzLz71DgmJGsen2scGs="
#     "should validate urls with credentials": "CukzLTc1tT5dXEDIHm/tKBanW10="
#     "should validate urls with credentials by adding port": "ZQFR1PTIZXF2MXB8ZnKCvnnA+rI="
#     "should validate urls with special characters": requestUrl + "&Body=It's+amazing"
#                                                     -> "dsq4Ehbj6cs+KdTkpF5sSSplOWw="
#     "array parameter": {"MessagingBinding.Address": ["+1325xxxxxxx", "+1415xxxxxxx"]}
#                                                     -> "83O6e2vORAoJHUNzJjDWN1jz+BA="
#     "multiple params and values": Digits ["5678", "1234", "1234"] -> "IK+Dwps556ElfBT0I3Rgjkr1wJU="

TOKEN = "12345"
URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
    "Caller": "+14158675309",
}
EXPECTED = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
BODY = b'{"property": "value", "boolean": true}'
BODY_HASH = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
URL_WITH_BODY = URL + "&bodySHA256=" + BODY_HASH
BODY_SIGNATURE = "a9nBmqA0ju/hNViExpshrM61xv4="
EMPTY_BODY_HASH = "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"


@pytest.mark.parametrize(
    ("url", "signature"),
    [
        pytest.param(URL, EXPECTED, id="as-published"),
        pytest.param(URL.replace(".com", ".com:1234"), EXPECTED, id="https-port-removed"),
        pytest.param(
            URL.replace(".com", ".com:1234").replace("https", "http"),
            "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=",
            id="http-port-kept",
        ),
        pytest.param(URL, "kvajT1Ptam85bY51eRf/AJRuM3w=", id="https-443-added"),
        pytest.param(URL.replace("https", "http"), "0ZXoZLH/DfblKGATFgpif+LLRf4=", id="http-80-added"),
        pytest.param(
            "https://user:pass@mycompany.com/myapp.php?foo=1&bar=2",
            "CukzLTc1tT5dXEDIHm/tKBanW10=",
            id="credentials",
        ),
        pytest.param(
            "https://user:pass@mycompany.com/myapp.php?foo=1&bar=2",
            "ZQFR1PTIZXF2MXB8ZnKCvnnA+rI=",
            id="credentials-443-added",
        ),
        pytest.param(URL + "&Body=It's+amazing", "dsq4Ehbj6cs+KdTkpF5sSSplOWw=", id="apostrophe-as-sent"),
    ],
)
def test_twilios_published_form_signatures_verify(url: str, signature: str) -> None:
    assert verdict(request(url, PARAMS, signature=signature), TOKEN) is Verdict.OK


@pytest.mark.parametrize(
    "fields",
    [
        [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234")],
        [("Digits", "1234"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Sid", "CA123")],
        # twilio-node: the repeated "1234" is signed once
        [
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
            ("Digits", "1234"),
        ],
    ],
)
def test_repeated_fields_are_sorted_and_deduplicated_as_published(fields: list[tuple[str, str]]) -> None:
    assert verdict(request(URL, fields, signature="IK+Dwps556ElfBT0I3Rgjkr1wJU="), TOKEN) is Verdict.OK


@pytest.mark.parametrize("order", [["+1325xxxxxxx", "+1415xxxxxxx"], ["+1415xxxxxxx", "+1325xxxxxxx"]])
def test_an_array_parameter_verifies_whatever_the_order_of_its_values(order: list[str]) -> None:
    fields = [("MessagingBinding.Address", value) for value in order]
    assert verdict(request(URL, fields, signature="83O6e2vORAoJHUNzJjDWN1jz+BA="), TOKEN) is Verdict.OK


def test_the_published_json_body_verifies_with_its_body_hash() -> None:
    assert hashlib.sha256(BODY).hexdigest() == BODY_HASH
    req = request(URL_WITH_BODY, signature=BODY_SIGNATURE, body=BODY, content_type=JSON)
    assert verdict(req, TOKEN) is Verdict.OK


def test_the_published_empty_json_body_verifies_only_through_the_443_variant() -> None:
    url = URL + "&bodySHA256=" + EMPTY_BODY_HASH
    signature = "Ldidvp12m26NI7eqEvxnEpkd9Hc="
    assert sdk_signature(TOKEN, url, []) != signature  # the URL as given does not match...
    assert sdk_signature(TOKEN, url.replace(".com/", ".com:443/"), []) == signature  # ...this does
    assert verdict(request(url, signature=signature, body=b"{}", content_type=JSON), TOKEN) is Verdict.OK


def test_the_published_url_with_only_the_body_hash_verifies() -> None:
    url = "https://mycompany.com/myapp.php?bodySHA256=" + BODY_HASH
    req = request(url, signature="y77kIzt2vzLz71DgmJGsen2scGs=", body=BODY, content_type=JSON)
    assert verdict(req, TOKEN) is Verdict.OK


# ------------------------------------------------------------------ tampering


def _base() -> WebhookRequest:
    return request(URL, PARAMS, signature=EXPECTED)


@pytest.mark.parametrize(
    ("label", "req"),
    [
        ("changed param", request(URL, {**PARAMS, "Digits": "1235"}, signature=EXPECTED)),
        ("extra param", request(URL, {**PARAMS, "ToCity": ""}, signature=EXPECTED)),
        (
            "dropped param",
            request(URL, {k: v for k, v in PARAMS.items() if k != "Caller"}, signature=EXPECTED),
        ),
        ("param moved to a new name", request(URL, {**PARAMS, "Digit": "s1234"}, signature=EXPECTED)),
        ("extra query param", request(URL + "&baz=3", PARAMS, signature=EXPECTED)),
        (
            "reordered query",
            request("https://mycompany.com/myapp.php?bar=2&foo=1", PARAMS, signature=EXPECTED),
        ),
        ("changed path", request(URL.replace("myapp", "yourapp"), PARAMS, signature=EXPECTED)),
        ("other scheme", request(URL.replace("https", "http"), PARAMS, signature=EXPECTED)),
        ("other host", request(URL.replace("mycompany", "mycompany2"), PARAMS, signature=EXPECTED)),
        ("trailing slash", request(URL.replace(".php", ".php/"), PARAMS, signature=EXPECTED)),
        ("signature case", request(URL, PARAMS, signature=EXPECTED.lower())),
        ("signature padding stripped", request(URL, PARAMS, signature=EXPECTED.rstrip("="))),
        ("garbage", request(URL, PARAMS, signature="not base64 at all ✓")),
        # twilio-node also tries legacy quote encodings; this adapter uses the URL as sent only
        (
            "apostrophe re-encoded",
            request(URL + "&Body=It%27s+amazing", PARAMS, signature="dsq4Ehbj6cs+KdTkpF5sSSplOWw="),
        ),
    ],
)
def test_any_change_to_the_signed_request_is_invalid(label: str, req: WebhookRequest) -> None:
    assert verdict(req, TOKEN) is Verdict.INVALID, label


def test_the_wrong_token_or_no_token_is_invalid() -> None:
    assert verdict(_base(), "12346") is Verdict.INVALID
    assert verdict(_base(), "") is Verdict.INVALID


@pytest.mark.parametrize("signature", [None, ""])
def test_no_signature_is_missing(signature: str | None) -> None:
    assert verdict(request(URL, PARAMS, signature=signature), TOKEN) is Verdict.MISSING


def test_a_correct_signature_is_never_stale_twilio_signs_no_time() -> None:
    old = datetime(2001, 1, 1, tzinfo=UTC)
    assert PROVIDER.verify(_base(), TOKEN, old) is Verdict.OK


def test_a_query_re_encoded_by_a_framework_is_invalid() -> None:
    """issue bmlt-enabled/yap#1627: re-sorted keys and ``%20`` for ``+`` broke every signature."""
    sent = "https://hooks.example.com/prod/webhooks/twilio?campaign=spring&note=a+b%2Fc"
    signature = sdk_signature(TOKEN, sent, list(PARAMS.items()))
    assert verdict(request(sent, PARAMS, signature=signature), TOKEN) is Verdict.OK
    for reencoded in (
        "https://hooks.example.com/prod/webhooks/twilio?campaign=spring&note=a%20b%2Fc",
        "https://hooks.example.com/prod/webhooks/twilio?campaign=spring&note=a+b/c",
        "https://hooks.example.com/prod/webhooks/twilio?note=a+b%2Fc&campaign=spring",
    ):
        assert verdict(request(reencoded, PARAMS, signature=signature), TOKEN) is Verdict.INVALID


def test_a_dropped_blank_field_or_a_trimmed_value_is_invalid() -> None:
    """Twilio error 57012: "your framework trimmed whitespace from POST body fields"."""
    fields = [*PARAMS.items(), ("ToCity", ""), ("Body", " hi ")]
    signature = sdk_signature(TOKEN, URL, fields)
    assert verdict(request(URL, fields, signature=signature), TOKEN) is Verdict.OK
    without_blank = [f for f in fields if f[0] != "ToCity"]
    assert verdict(request(URL, without_blank, signature=signature), TOKEN) is Verdict.INVALID
    trimmed = [(k, v.strip()) for k, v in fields]
    assert verdict(request(URL, trimmed, signature=signature), TOKEN) is Verdict.INVALID


def test_the_stage_prefix_is_part_of_the_signed_url() -> None:
    signed = "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/webhooks/twilio"
    signature = sdk_signature(TOKEN, signed, list(PARAMS.items()))
    assert verdict(request(signed, PARAMS, signature=signature), TOKEN) is Verdict.OK
    dropped = signed.replace("/prod", "")
    assert verdict(request(dropped, PARAMS, signature=signature), TOKEN) is Verdict.INVALID


@pytest.mark.parametrize(
    ("signed", "received", "ok"),
    [
        ("https://h.example.com/t", "https://h.example.com:443/t", True),
        ("https://h.example.com:443/t", "https://h.example.com/t", True),
        ("https://h.example.com/t", "https://h.example.com:8443/t", True),  # SDK strips any port
        ("https://h.example.com:8443/t", "https://h.example.com:8443/t", True),
        ("http://h.example.com:80/t?x=1", "http://h.example.com/t?x=1", True),
        ("https://h.example.com:8443/t", "https://h.example.com/t", False),  # a port is never invented
        ("https://h.example.com:80/t", "https://h.example.com/t", False),  # https's default is 443
        ("https://[2001:db8::1]:443/t", "https://[2001:db8::1]/t", True),
    ],
)
def test_port_variants_match_the_sdk(signed: str, received: str, ok: bool) -> None:
    signature = sdk_signature(TOKEN, signed, list(PARAMS.items()))
    assert RequestValidator(TOKEN).validate(received, PARAMS, signature) is ok
    assert (verdict(request(received, PARAMS, signature=signature), TOKEN) is Verdict.OK) is ok


def test_url_variants_change_only_the_authority() -> None:
    assert twilio.url_variants("https://h.example.com/p?q=a%20b#f") == [
        "https://h.example.com/p?q=a%20b#f",
        "https://h.example.com:443/p?q=a%20b#f",
    ]
    assert twilio.url_variants("https://u:pw@h.example.com:8443") == [
        "https://u:pw@h.example.com:8443",
        "https://u:pw@h.example.com",
    ]
    assert twilio.url_variants("not a url") == ["not a url"]


# ------------------------------------------------------------------ JSON bodies


def _json_request(
    body: bytes, *, url: str = URL_WITH_BODY, signature: str = BODY_SIGNATURE
) -> WebhookRequest:
    return request(url, signature=signature, body=body, content_type=JSON)


def test_a_json_body_that_does_not_match_its_hash_is_invalid() -> None:
    assert verdict(_json_request(BODY.replace(b"true", b"false")), TOKEN) is Verdict.INVALID
    assert verdict(_json_request(BODY + b"\n"), TOKEN) is Verdict.INVALID
    reserialized = json.dumps(json.loads(BODY), separators=(",", ":")).encode()
    assert verdict(_json_request(reserialized), TOKEN) is Verdict.INVALID


def test_a_json_body_without_body_sha256_is_invalid_even_if_the_url_signature_matches() -> None:
    signature = sdk_signature(TOKEN, URL, [])
    assert verdict(_json_request(BODY, url=URL, signature=signature), TOKEN) is Verdict.INVALID


def test_a_changed_body_hash_in_the_url_is_invalid() -> None:
    other = hashlib.sha256(b"{}").hexdigest()
    req = _json_request(b"{}", url=URL + "&bodySHA256=" + other, signature=BODY_SIGNATURE)
    assert verdict(req, TOKEN) is Verdict.INVALID


def test_a_json_body_signed_with_a_fresh_sdk_signature_verifies() -> None:
    body = '{"event": "läuft", "n": 1}'.encode()
    url = (
        "https://hooks.example.com/prod/webhooks/twilio?campaign=c1&bodySHA256="
        + hashlib.sha256(body).hexdigest()
    )
    signature = sdk_signature(TOKEN, url, [])
    assert RequestValidator(TOKEN).validate(url, body.decode(), signature)
    assert verdict(_json_request(body, url=url, signature=signature), TOKEN) is Verdict.OK


def test_a_get_webhook_signs_the_url_alone() -> None:
    url = "https://hooks.example.com/webhooks/twilio?MessageSid=SM1&MessageStatus=delivered&To=%2B14155550100"
    signature = sdk_signature(TOKEN, url, [])
    req = request(url, signature=signature, body=b"", content_type=None, method="GET")
    assert verdict(req, TOKEN) is Verdict.OK
    assert PROVIDER.parse(req, NOW) == [
        SmsSignal("twilio", SmsOutcome.DELIVERED, "+14155550100", "SM1", NOW, False, "delivered")
    ]


def test_a_form_body_that_is_not_utf8_is_invalid_not_an_error() -> None:
    req = request(URL, signature=EXPECTED, body=b"Body=\xff\xfe")
    assert verdict(req, TOKEN) is Verdict.INVALID
    with pytest.raises(MalformedCallback):
        PROVIDER.parse(req, NOW)


def test_signatures_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[object, object]] = []
    real = twilio.hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(twilio.hmac, "compare_digest", spy)
    assert verdict(_base(), TOKEN) is Verdict.OK
    assert verdict(_json_request(BODY), TOKEN) is Verdict.OK
    assert len(calls) == 5  # two URL forms per request, plus the body hash


# ------------------------------------------------------------------ the SDK as an oracle

FIELD_NAMES = [
    "MessageSid", "SmsSid", "SmsMessageSid", "AccountSid", "MessagingServiceSid", "From", "To",
    "Body", "NumMedia", "NumSegments", "MediaUrl0", "MediaContentType0", "FromCity", "FromState",
    "FromZip", "FromCountry", "ToCity", "ToState", "ToZip", "ToCountry", "ApiVersion", "SmsStatus",
    "MessageStatus", "ErrorCode", "OptOutType", "RawDlrDoneDate", "ChannelPrefix",
]  # fmt: skip
values = st.one_of(
    st.just(""),
    st.sampled_from(["+14155550100", "whatsapp:+14155550100", "2010-04-01", "received", "30003", " "]),
    st.text(max_size=40),  # any Unicode: emoji, accents, +, &, =, %, control characters
)
field_lists = st.lists(
    st.tuples(st.sampled_from(FIELD_NAMES) | st.text(min_size=1, max_size=8), values), max_size=14
)
query_pairs = st.lists(
    st.tuples(st.sampled_from(["campaign", "x", "redirect", "empty"]), st.text(max_size=12)),
    min_size=1,
    max_size=3,
)
query_strings = st.one_of(
    st.just(""),
    query_pairs.map(urlencode),  # spaces as "+"
    query_pairs.map(lambda pairs: urlencode(pairs, quote_via=quote)),  # spaces as "%20"
)
# Each base URL with the other port form the SDKs try (default port added, or the port removed).
BASES = {
    "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/webhooks/twilio": (
        "https://abc123.execute-api.eu-west-1.amazonaws.com:443/prod/webhooks/twilio"
    ),
    "https://abc123.execute-api.eu-west-1.amazonaws.com/webhooks/twilio": (
        "https://abc123.execute-api.eu-west-1.amazonaws.com:443/webhooks/twilio"
    ),
    "https://hooks.example.com/webhooks/twilio": "https://hooks.example.com:443/webhooks/twilio",
    "https://hooks.example.com:8443/webhooks/twilio": "https://hooks.example.com/webhooks/twilio",
    "http://localhost:3000/prod/webhooks/twilio": "http://localhost/prod/webhooks/twilio",
}
bases = st.sampled_from(sorted(BASES))
tokens = st.text(min_size=1, max_size=40)
ORACLE = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # the autouse no-network guard
)


def _url(base: str, query: str) -> str:
    return f"{base}?{query}" if query else base


@ORACLE
@given(base=bases, query=query_strings, fields=field_lists, token=tokens, port_form=st.booleans())
def test_every_request_the_sdk_signs_verifies(
    base: str, query: str, fields: list[tuple[str, str]], token: str, port_form: bool
) -> None:
    url = _url(base, query)
    signed_url = _url(BASES[base], query) if port_form else url  # Twilio's port inconsistency
    req = request(url, fields, signature=sdk_signature(token, signed_url, fields))
    assert req.form() == fields  # the body round-trips: blank values, repeats and order kept
    assert verdict(req, token) is Verdict.OK


@ORACLE
@given(base=bases, query=query_strings, fields=field_lists, data=st.data())
def test_the_adapter_agrees_with_the_sdk_on_tampered_requests(
    base: str, query: str, fields: list[tuple[str, str]], data: st.DataObject
) -> None:
    url = _url(base, query)
    signature = sdk_signature(TOKEN, url, fields)
    tampered = list(fields)
    mutation = data.draw(st.sampled_from(["append", "drop", "change", "token", "none"]))
    token = TOKEN
    if mutation == "append":
        tampered.append(data.draw(st.tuples(st.sampled_from(FIELD_NAMES), values)))
    elif mutation == "drop" and tampered:
        tampered.pop(data.draw(st.integers(0, len(tampered) - 1)))
    elif mutation == "change" and tampered:
        index = data.draw(st.integers(0, len(tampered) - 1))
        tampered[index] = (
            tampered[index][0],
            tampered[index][1] + data.draw(st.text(min_size=1, max_size=3)),
        )
    elif mutation == "token":
        token = "54321"
    sdk_says = RequestValidator(token).validate(url, sdk_params(tampered), signature)
    assert (verdict(request(url, tampered, signature=signature), token) is Verdict.OK) is sdk_says


def test_a_seeded_sample_of_realistic_callbacks_verifies() -> None:
    """Without hypothesis's shrinking: plain seeded loops over realistic Twilio bodies."""
    rng = random.Random(20261120)
    for _ in range(200):
        sid = "SM" + "".join(rng.choices("0123456789abcdef", k=32))
        fields = [
            ("ToCountry", "US"),
            ("ToCity", ""),
            ("SmsMessageSid", sid),
            ("NumMedia", "0"),
            ("Body", rng.choice(["STOP", "Yes 👍", "a+b=c&d", "Grüße, ça va?", "", "  spaced  "])),
            ("FromZip", ""),
            ("MessageSid", sid),
            ("From", f"+1212555{rng.randint(0, 9999):04d}"),
            ("To", "+14155550100"),
            ("ApiVersion", "2010-04-01"),
        ]
        rng.shuffle(fields)
        url = rng.choice(
            ["https://hooks.example.com/prod/webhooks/twilio", "https://hooks.example.com:443/x"]
        )
        url += rng.choice(["", "?campaign=spring-sale", "?campaign=a%20b&x=1+2"])
        token = "".join(rng.choices("0123456789abcdef", k=32))
        req = request(url, fields, signature=sdk_signature(token, url, fields))
        assert verdict(req, token) is Verdict.OK


# ------------------------------------------------------------------ through API Gateway


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return data


@pytest.mark.parametrize("name", ["apigw_inbound_sms", "apigw_status_undelivered"])
def test_a_base64_form_body_from_a_named_stage_verifies(name: str) -> None:
    event = load(name)
    req = from_api_gateway(event)
    assert req.url == event["_source"]["url"]
    assert verdict(req, event["_source"]["token"]) is Verdict.OK
    # the same bytes delivered as plain text (isBase64Encoded false) verify the same way
    plain = copy.deepcopy(event)
    plain["body"], plain["isBase64Encoded"] = base64.b64decode(event["body"]).decode(), False
    assert verdict(from_api_gateway(plain), event["_source"]["token"]) is Verdict.OK
    # header names in any case (REST-style events keep the sender's casing)
    upper = copy.deepcopy(event)
    upper["headers"]["X-Twilio-Signature"] = upper["headers"].pop("x-twilio-signature")
    assert verdict(from_api_gateway(upper), event["_source"]["token"]) is Verdict.OK


@pytest.mark.parametrize("name", ["apigw_inbound_sms", "apigw_status_undelivered"])
def test_a_fixture_fails_when_the_url_is_rebuilt_wrongly(name: str) -> None:
    event = load(name)
    token = event["_source"]["token"]
    no_stage = copy.deepcopy(event)
    no_stage["rawPath"] = no_stage["rawPath"].removeprefix("/prod")
    assert verdict(from_api_gateway(no_stage), token) is Verdict.INVALID
    other_base = from_api_gateway(event, public_base_url="https://hooks.example.com")
    assert verdict(other_base, token) is Verdict.INVALID
    no_query = copy.deepcopy(event)
    no_query["rawQueryString"] = ""
    assert verdict(from_api_gateway(no_query), token) is Verdict.INVALID


def test_the_inbound_fixture_parses_to_a_response() -> None:
    req = from_api_gateway(load("apigw_inbound_sms"))
    assert PROVIDER.parse(req, NOW) == [
        SmsSignal(
            "twilio",
            SmsOutcome.RESPONDED,
            "+12125550123",
            "SM0f2c8a5d7e6b4c3a9f1e2d3c4b5a6978",
            NOW,
            True,
            None,
        )
    ]


def test_the_status_fixture_parses_to_a_bounce_with_its_error_code() -> None:
    req = from_api_gateway(load("apigw_status_undelivered"))
    assert PROVIDER.parse(req, NOW) == [
        SmsSignal(
            "twilio",
            SmsOutcome.BOUNCED,
            "+12125550123",
            "SM9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b",
            NOW,
            False,
            "undelivered:30003",
        )
    ]


# ------------------------------------------------------------------ status callbacks

SID = "SMe287d7109a5a925f182f0e07fe5b223b"


def status(message_status: str, error_code: str | None = None, **extra: str) -> WebhookRequest:
    fields = {
        "SmsSid": SID,
        "SmsStatus": message_status,
        "MessageStatus": message_status,
        "To": "+12125550123",
        "MessageSid": SID,
        "AccountSid": "AC00000000000000000000000000000000",
        "From": "+14155550100",
        "ApiVersion": "2010-04-01",
        **extra,
    }
    if error_code is not None:
        fields["ErrorCode"] = error_code
    return request(URL, fields, signature=None)


def parsed(req: WebhookRequest) -> SmsSignal:
    (signal,) = PROVIDER.parse(req, NOW)
    return signal


@pytest.mark.parametrize(
    ("message_status", "error_code", "outcome", "detail"),
    [
        # every MessageStatus value Twilio documents, one row each
        ("delivered", None, SmsOutcome.DELIVERED, "delivered"),
        ("read", None, SmsOutcome.DELIVERED, "read"),
        ("undelivered", "30003", SmsOutcome.BOUNCED, "undelivered:30003"),
        ("failed", "30008", SmsOutcome.BOUNCED, "failed:30008"),
        ("failed", None, SmsOutcome.BOUNCED, "failed"),
        ("failed", "", SmsOutcome.BOUNCED, "failed"),  # ErrorCode= blank
        ("queued", None, None, "queued"),
        ("accepted", None, None, "accepted"),
        ("scheduled", None, None, "scheduled"),
        ("sending", None, None, "sending"),
        ("sent", None, None, "sent"),
        ("receiving", None, None, "receiving"),
        ("received", None, None, "received"),
        ("canceled", None, None, "canceled"),
        ("partially_delivered", None, None, "partially_delivered"),
        # error codes that are not about reaching the handset
        ("failed", "21610", SmsOutcome.OPTED_OUT, "failed:21610"),
        ("undelivered", "21610", SmsOutcome.OPTED_OUT, "undelivered:21610"),
        ("failed", "63014", SmsOutcome.OPTED_OUT, "failed:63014"),
        ("failed", "63018", None, "failed:63018"),
        # unknown: nothing stored, the word kept for the log
        ("huh", None, None, "huh"),
        ("DELIVERED", None, SmsOutcome.DELIVERED, "delivered"),
    ],
)
def test_status_mapping(
    message_status: str, error_code: str | None, outcome: SmsOutcome | None, detail: str
) -> None:
    signal = parsed(status(message_status, error_code))
    assert (signal.outcome, signal.detail) == (outcome, detail)
    expected_contact = "+14155550100" if message_status in ("receiving", "received") else "+12125550123"
    assert signal.contact == expected_contact
    assert signal.message_id == SID
    assert signal.occurred_at == NOW
    assert signal.inbound is (message_status in ("receiving", "received"))


def test_every_documented_status_has_an_explicit_row() -> None:
    documented = {
        "queued", "sending", "sent", "failed", "delivered", "undelivered", "receiving", "received",
        "accepted", "scheduled", "read", "partially_delivered", "canceled",
    }  # fmt: skip
    assert set(twilio.STATUS_OUTCOMES) == documented


def test_an_opt_out_failure_is_stored_as_an_opt_out_not_a_bounce() -> None:
    """notes §0.5, §11: a send refused because the contact sent STOP earlier (21610)."""
    (event,) = to_events(
        PROVIDER.parse(status("failed", "21610"), NOW), campaign="spring", click_window=CLICK_WINDOW
    )
    assert event.type is EventType.OPTED_OUT
    assert event.user_id == "+12125550123"
    assert event.context == "failed:21610"
    (bounce,) = to_events(
        PROVIDER.parse(status("failed", "30003"), NOW), campaign="spring", click_window=CLICK_WINDOW
    )
    assert bounce.type is EventType.BOUNCED
    assert bounce.event_id == event.event_id  # one outcome per message: the first stored wins


def test_intermediate_statuses_produce_no_events() -> None:
    for word in ("queued", "sent", "canceled", "partially_delivered", "huh"):
        assert to_events(PROVIDER.parse(status(word), NOW), campaign="c", click_window=CLICK_WINDOW) == []


def test_a_whatsapp_status_names_the_contact_by_phone_number() -> None:
    signal = parsed(status("read", To="whatsapp:+12125550123"))
    assert signal.contact == "+12125550123"


@pytest.mark.parametrize(
    "to",
    ["2021", "384387", "whatsapp:US.1234", "whatsapp:US.12345678", "messenger:1234567890123", "MyBrand"],
)
def test_a_party_that_is_not_a_phone_number_is_acknowledged_without_a_signal(to: str) -> None:
    assert PROVIDER.parse(status("delivered", To=to), NOW) == []


# ------------------------------------------------------------------ inbound messages


def inbound(body: str | None, **extra: str) -> WebhookRequest:
    fields = {
        "ToCountry": "US",
        "ToState": "CA",
        "SmsMessageSid": SID,
        "NumMedia": "0",
        "ToCity": "",
        "FromZip": "",
        "SmsSid": SID,
        "SmsStatus": "received",
        "To": "+14155550100",
        "MessageSid": SID,
        "AccountSid": "AC00000000000000000000000000000000",
        "From": "+12125550123",
        "ApiVersion": "2010-04-01",
        **extra,
    }
    if body is not None:
        fields["Body"] = body
    return request(URL, fields, signature=None)


@pytest.mark.parametrize(
    ("body", "extra", "outcome", "detail"),
    [
        ("Sounds good, see you Tuesday", {}, SmsOutcome.RESPONDED, None),
        ("", {}, SmsOutcome.RESPONDED, None),
        (
            None,
            {"NumMedia": "1", "MediaUrl0": "https://api.twilio.com/media/ME1"},
            SmsOutcome.RESPONDED,
            None,
        ),
        ("STOP", {}, SmsOutcome.OPTED_OUT, "STOP"),
        ("  stop\n", {}, SmsOutcome.OPTED_OUT, "STOP"),
        ("Unsubscribe", {}, SmsOutcome.OPTED_OUT, "UNSUBSCRIBE"),
        ("stopall", {}, SmsOutcome.OPTED_OUT, "STOPALL"),
        ("START", {}, SmsOutcome.OPTED_IN, "START"),
        ("unstop", {}, SmsOutcome.OPTED_IN, "UNSTOP"),
        ("Yes", {}, SmsOutcome.OPTED_IN, "YES"),
        ("HELP", {}, None, "HELP"),
        ("info", {}, None, "INFO"),
        ("stop texting me", {}, SmsOutcome.RESPONDED, None),
        ("help me choose", {}, SmsOutcome.RESPONDED, None),
        # Advanced Opt-Out decides, including keywords customised on the Messaging Service
        ("Arrêtez", {"OptOutType": "STOP"}, SmsOutcome.OPTED_OUT, "STOP"),
        ("subscribe me again", {"OptOutType": "START"}, SmsOutcome.OPTED_IN, "START"),
        ("aide", {"OptOutType": "HELP"}, None, "HELP"),
        ("STOP", {"OptOutType": ""}, SmsOutcome.OPTED_OUT, "STOP"),  # blank: fall back to the body
        ("hello", {"MessageStatus": "received"}, SmsOutcome.RESPONDED, None),
    ],
)
def test_inbound_mapping(
    body: str | None, extra: dict[str, str], outcome: SmsOutcome | None, detail: str | None
) -> None:
    signal = parsed(inbound(body, **extra))
    assert signal == SmsSignal("twilio", outcome, "+12125550123", SID, NOW, True, detail)


def test_the_message_text_never_leaves_the_adapter() -> None:
    text = "my code is 424242, call me on +447700900123"
    (signal,) = PROVIDER.parse(inbound(text), NOW)
    assert all(text not in str(value) and "424242" not in str(value) for value in vars(signal).values())


def test_an_inbound_message_and_its_delivery_status_have_separate_event_ids() -> None:
    (reply,) = to_events(PROVIDER.parse(inbound("Great"), NOW), campaign="c", click_window=CLICK_WINDOW)
    (delivered,) = to_events(
        PROVIDER.parse(status("delivered"), NOW), campaign="c", click_window=CLICK_WINDOW
    )
    assert reply.type is EventType.RESPONDED
    assert reply.event_id != delivered.event_id


def test_a_whatsapp_inbound_message_names_the_contact_by_phone_number() -> None:
    signal = parsed(inbound("hi", From="whatsapp:+12125550123", To="whatsapp:+14155550100"))
    assert (signal.contact, signal.outcome) == ("+12125550123", SmsOutcome.RESPONDED)


@pytest.mark.parametrize("sender", ["Google", "72975", "whatsapp:US.1234"])
def test_an_inbound_message_from_a_non_phone_sender_stores_nothing(sender: str) -> None:
    assert PROVIDER.parse(inbound("Your code is 123456", From=sender), NOW) == []


@pytest.mark.parametrize(
    ("raw", "normalized"), [("+1 (212) 555-0123", "+12125550123"), ("+442071838750", "+442071838750")]
)
def test_numbers_are_normalized_to_e164(raw: str, normalized: str) -> None:
    assert parsed(inbound("ok", From=raw)).contact == normalized
    assert parsed(status("delivered", To=raw)).contact == normalized


# ------------------------------------------------------------------ malformed callbacks


@pytest.mark.parametrize(
    "req",
    [
        pytest.param(request(URL, {}, signature=None), id="empty"),
        pytest.param(
            request(URL, {"MessageStatus": "delivered", "To": "+12125550123"}, signature=None), id="no-sid"
        ),
        pytest.param(
            request(URL, {"MessageSid": " ", "MessageStatus": "delivered"}, signature=None), id="blank-sid"
        ),
        pytest.param(
            request(URL, {"MessageSid": SID, "AccountSid": "AC0"}, signature=None), id="neither-shape"
        ),
        pytest.param(
            request(URL, {"MessageSid": SID, "MessageStatus": "sent"}, signature=None), id="status-no-to"
        ),
        pytest.param(
            request(URL, {"MessageSid": SID, "MessageStatus": "sent", "To": ""}, signature=None),
            id="status-blank-to",
        ),
        pytest.param(
            request(URL, {"CallSid": "CA1", "CallStatus": "ringing"}, signature=None), id="voice-callback"
        ),
        pytest.param(request(URL_WITH_BODY, signature=None, body=BODY, content_type=JSON), id="json-body"),
    ],
)
def test_malformed_callbacks_are_refused(req: WebhookRequest) -> None:
    with pytest.raises(MalformedCallback):
        PROVIDER.parse(req, NOW)


def test_malformed_messages_never_quote_the_request() -> None:
    req = request(URL, {"MessageSid": SID, "MessageStatus": "sent", "To": ""}, signature=None)
    with pytest.raises(MalformedCallback) as caught:
        PROVIDER.parse(req, NOW)
    assert SID not in str(caught.value)


# ------------------------------------------------------------------ the adapter's shape


def test_the_provider_plugs_into_the_framework() -> None:
    assert PROVIDER.name == "twilio"
    assert TOPOLOGY.webhook("twilio").secret is TWILIO
    content_type, body = PROVIDER.acknowledgement
    assert content_type == "text/xml"
    assert body == '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def test_the_module_never_logs_and_never_needs_masked_numbers() -> None:
    tree = ast.parse(inspect.getsource(twilio))
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    modules = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    assert not {"logging", "logger", "masked", "print"} & (imported | names)
    assert "engagement.observability" not in modules
    assert "twilio" not in {m.split(".")[0] for m in modules if m} | {a.split(".")[0] for a in imported}
