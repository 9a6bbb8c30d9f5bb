"""The OpenAPI document is valid 3.1, committed, and tells the truth about every answer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator

from engagement.api import openapi
from engagement.topology import TOPOLOGY

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "docs" / "openapi.json"


@pytest.fixture(scope="module")
def document() -> dict[str, object]:
    return openapi.document()


def test_the_committed_document_is_the_generated_one() -> None:
    # Every contract change shows up as a diff of docs/openapi.json in review.
    assert COMMITTED.read_text(encoding="utf-8") == openapi.text(), (
        "run: .venv/bin/python -m engagement.api.openapi > docs/openapi.json"
    )


def test_it_is_a_valid_openapi_3_1_document(document: dict[str, object]) -> None:
    errors = [error.message for error in OpenAPIV31SpecValidator(document).iter_errors()]
    assert errors == []
    assert str(document["openapi"]).startswith("3.1")


def _operation(document: dict[str, object], method: str, path: str) -> dict[str, object]:
    paths = document["paths"]
    assert isinstance(paths, dict)
    found: dict[str, object] = paths[path][method.lower()]
    return found


@pytest.mark.parametrize("route", TOPOLOGY.routes, ids=lambda r: r.route_key)
def test_every_route_is_documented_with_every_status_it_can_answer(
    document: dict[str, object], route: object
) -> None:
    from engagement.topology import RouteSpec

    assert isinstance(route, RouteSpec)
    responses = _operation(document, route.method, route.path)["responses"]
    assert isinstance(responses, dict)
    expected = {str(route.status)}
    if not route.public or route.webhook:
        expected.add("401")
    if route.accepts:
        expected |= {"400", "413", "415"}
    if route.not_found or "{" in route.path:
        expected.add("404")
    if route.operation != "get_openapi":
        expected.add("503")
    assert expected <= set(responses)
    for status, response in responses.items():
        if not status.startswith("2") and status != "302":
            schema = response["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Error"}, (route.route_key, status)


def test_a_redirect_documents_its_location(document: dict[str, object]) -> None:
    responses = _operation(document, "GET", "/c/{token}")["responses"]
    assert isinstance(responses, dict)
    assert "Location" in responses["302"]["headers"]


def test_webhooks_document_the_media_type_they_acknowledge_with(document: dict[str, object]) -> None:
    twilio = _operation(document, "POST", "/webhooks/twilio")["responses"]
    telegram = _operation(document, "POST", "/webhooks/telegram")["responses"]
    assert isinstance(twilio, dict)
    assert isinstance(telegram, dict)
    assert set(twilio["200"]["content"]) == {"text/xml"}
    assert set(telegram["200"]["content"]) == {"text/plain", "application/json"}


def test_the_bearer_scheme_is_plain(document: dict[str, object]) -> None:
    assert json.loads(json.dumps(document["components"]))["securitySchemes"] == {
        "bearerAuth": {"type": "http", "scheme": "bearer"}
    }
