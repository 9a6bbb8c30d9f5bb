"""GET /console, its files, and /docs: the operator's console and the API's Swagger UI.

Served by their own function through the same HTTP API as every other route, so the console
works wherever the API works (behind a stage prefix in AWS, at the root locally) with no other
web server and no CDN. The pages are public; every data call the console makes is an ordinary
API call carrying the key the operator typed in (kept in the browser's sessionStorage only).

The files are the ``engagement/console`` directory of the code asset (``make vendor`` put the
chart library there), read once per execution environment. Swagger UI's own files come from the
Powertools package, which the official layer already ships to every function: serving them here
costs the asset nothing and no browser ever loads them from a CDN.

Every answer carries a strict Content-Security-Policy: scripts, styles, fetches and images only
from this origin (images also as ``data:`` URLs), no inline code, no framing, no form posts, no
``<base>``. The one inline script there is, Powertools' Swagger UI bootstrap, is allowed by its
SHA-256 alone, computed from the page being sent.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.params import Query

from engagement.api.resolver import resolver_for

CONSOLE_DIR = Path(__file__).resolve().parent.parent / "console"
SWAGGER_UI_FILES = ("swagger-ui-bundle.min.js", "swagger-ui.min.css")
INDEX = "index.html"
NO_FAVICON = '<link rel="icon" href="data:,">'
"""Without an icon of its own a page makes the browser ask for /favicon.ico, which no route serves."""

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}
"""What is served, by suffix; any other file in the directory (the vendoring manifest) is not."""

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# Files are named with their version or change with a deploy; a short cache keeps a deploy visible.
ASSET_CACHE = "public, max-age=300"
PAGE_CACHE = "no-cache"

_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


@cache
def console_files() -> dict[str, tuple[str, str]]:
    """File name -> (content type, text) of everything the console serves."""
    return {
        path.name: (CONTENT_TYPES[path.suffix], path.read_text(encoding="utf-8"))
        for path in sorted(CONSOLE_DIR.iterdir())
        if path.is_file() and path.suffix in CONTENT_TYPES
    }


def _answer(body: str, content_type: str, *, cache_control: str, csp: str = CSP) -> Response[str]:
    headers = {"Content-Security-Policy": csp, "Cache-Control": cache_control, **SECURITY_HEADERS}
    return Response(status_code=200, content_type=content_type, body=body, headers=headers)


def _not_found(what: str) -> NotFoundError:
    return NotFoundError(f"no such file: {what}")


def trailing_slash(event: Mapping[str, Any]) -> dict[str, Any] | None:
    """``/console/`` or ``/docs/`` (API Gateway routes them like the path without the slash, the
    resolver does not): a redirect to the page, whose relative URLs only resolve from there."""
    path = str(event.get("rawPath", ""))
    for page in ("console", "docs"):
        if path.endswith(f"/{page}/"):
            headers = {"Location": f"../{page}", "Cache-Control": PAGE_CACHE, **SECURITY_HEADERS}
            return {"statusCode": 301, "headers": headers, "body": "", "isBase64Encoded": False}
    return None


def get_console() -> Response[str]:
    """The console

    The operator's console: overview, a person, a campaign, a band. It asks for the API key
    once and keeps it for the browser session; every call it makes is an ordinary API call.
    """
    content_type, text = console_files()[INDEX]
    return _answer(text, content_type, cache_control=PAGE_CACHE)


def get_console_asset(asset: str) -> Response[str]:
    """A file of the console

    Its scripts, styles and the chart library with its licence, all from this API.
    """
    found = console_files().get(asset)
    if found is None or asset == INDEX:
        raise _not_found(asset)
    content_type, text = found
    return _answer(text, content_type, cache_control=ASSET_CACHE)


DocsFormat = Annotated[Literal["json"] | None, Query(description="json: the OpenAPI document itself")]


def get_docs(format: DocsFormat = None) -> Response[str]:  # Swagger UI's own parameter name
    """The API's documentation

    Powertools' Swagger UI around the OpenAPI document of the whole API (`?format=json` for the
    document alone). The page is public; to try a route, authorize with an API key.
    """
    # Imported on the first request for it: building the document imports every route module.
    from aws_lambda_powertools.event_handler.openapi.encoders import jsonable_encoder  # noqa: PLC0415
    from aws_lambda_powertools.event_handler.openapi.swagger_ui import generate_swagger_html  # noqa: PLC0415

    from engagement.api import openapi  # noqa: PLC0415

    # "Try it out" calls go where the page is: relative to /docs, so /prod/docs calls /prod/v1/...
    document = {**jsonable_encoder(openapi.document()), "servers": [{"url": ".", "description": "this API"}]}
    # Encoded as the resolver encodes /v1/openapi.json, and escaped as Powertools escapes it, so
    # the document cannot close the script it sits in.
    spec = json.dumps(document, separators=(",", ":")).replace("</", "<\\/")
    if format == "json":
        return _answer(spec, "application/json", cache_control=PAGE_CACHE)
    # Relative to /docs, so the page also works under a stage prefix (/prod/docs -> /prod/docs/...).
    page = generate_swagger_html(
        spec,
        f"docs/{SWAGGER_UI_FILES[0]}",
        f"docs/{SWAGGER_UI_FILES[1]}",
        "docs",
        None,
        persist_authorization=False,
    ).replace("<head>", f"<head>\n    {NO_FAVICON}", 1)
    return _answer(page, "text/html; charset=utf-8", cache_control=PAGE_CACHE, csp=docs_csp(page))


def docs_csp(page: str) -> str:
    """The console's policy, with Powertools' inline bootstrap script allowed by its hash only."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"
        for script in _INLINE_SCRIPT.findall(page)
    )
    return CSP.replace("script-src 'self'", f"script-src 'self' {hashes}".rstrip(), 1)


@cache
def _swagger_ui_file(name: str) -> str:
    from aws_lambda_powertools.event_handler.openapi import swagger_ui  # noqa: PLC0415

    return (Path(swagger_ui.__file__).parent / name).read_text(encoding="utf-8")


def get_docs_asset(asset: str) -> Response[str]:
    """A file of Swagger UI

    Swagger UI's script and styles, from the Powertools package the functions already carry.
    """
    if asset not in SWAGGER_UI_FILES:
        raise _not_found(asset)
    content_type = CONTENT_TYPES[Path(asset).suffix]
    return _answer(_swagger_ui_file(asset), content_type, cache_control=ASSET_CACHE)


app = resolver_for("console", get_console, get_console_asset, get_docs, get_docs_asset)
