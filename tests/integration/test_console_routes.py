"""GET /console, its files and /docs: public pages served by the API itself, under a strict CSP."""

from __future__ import annotations

import base64
import hashlib
import json
import re

import pytest

from engagement.api.console import CONSOLE_DIR, CSP, console_files

from .api import call

STRICT = {
    "default-src": "'none'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "connect-src": "'self'",
    "base-uri": "'none'",
    "form-action": "'none'",
    "frame-ancestors": "'none'",
}


def policy(header: str) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in header.split(";"))


def referenced_files() -> set[str]:
    """What the page loads: console/<file> in the HTML, ./<file> imported by the modules."""
    index = (CONSOLE_DIR / "index.html").read_text()
    found = set(re.findall(r'(?:href|src)="console/([^"]+)"', index))
    for script in CONSOLE_DIR.glob("*.js"):
        found |= set(re.findall(r'from "\./([^"]+)"', script.read_text()))
    return found


def test_the_console_page_is_public_with_a_strict_policy(tables: dict[str, str]) -> None:
    answer = call("GET", "/console", key=None)
    assert answer.status == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert policy(answer.headers["content-security-policy"]) == STRICT
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert "<title>Engagement console</title>" in answer.body


@pytest.mark.parametrize("name", sorted(referenced_files()))
def test_every_file_the_page_loads_is_served_from_the_api(tables: dict[str, str], name: str) -> None:
    answer = call("GET", f"/console/{name}", key=None)
    assert answer.status == 200, name
    expected = {"js": "text/javascript", "css": "text/css"}[name.rsplit(".", 1)[1]]
    assert answer.headers["content-type"] == f"{expected}; charset=utf-8"
    assert answer.headers["content-security-policy"] == CSP
    assert answer.body == (CONSOLE_DIR / name).read_text()


@pytest.mark.parametrize(
    "path", ["/console/vendor.json", "/console/index.html", "/console/nope.js", "/docs/x.js"]
)
def test_nothing_else_is_served(tables: dict[str, str], path: str) -> None:
    assert call("GET", path, key=None).status == 404


def test_a_path_that_leaves_the_directory_never_reaches_the_function(tables: dict[str, str]) -> None:
    for path in ("/console/../topology.py", "/console/%2E%2E%2Ftopology.py", "/console/a/b.js"):
        assert call("GET", path, key=None).status in (400, 404), path


def test_the_page_has_no_inline_code_and_loads_nothing_from_elsewhere() -> None:
    index = (CONSOLE_DIR / "index.html").read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", index), "an inline script"
    assert "<style" not in index
    assert " style=" not in index
    for name in ("index.html", *(p.name for p in CONSOLE_DIR.glob("*.js")), "console.css"):
        if name.startswith("uplot-"):
            continue
        text = (CONSOLE_DIR / name).read_text()
        assert not re.search(r"""["'(]https?://""", text), f"{name} loads from another origin"
        assert "innerHTML" not in text, f"{name} builds markup from strings"


def test_the_whole_console_is_under_300_kb() -> None:
    assert sum(len(text.encode()) for _, text in console_files().values()) < 300_000


def test_the_vendored_files_are_the_ones_make_vendor_verified() -> None:
    manifest = json.loads((CONSOLE_DIR / "vendor.json").read_text())
    for package in manifest.values():
        assert re.fullmatch(r"\d+\.\d+\.\d+", package["version"])
        assert package["integrity"].startswith("sha512-")
        for name, sha256 in package["files"].items():
            assert hashlib.sha256((CONSOLE_DIR / name).read_bytes()).hexdigest() == sha256, name
        assert any(name.endswith("LICENSE.txt") for name in package["files"]), "vendored without its licence"


def test_the_docs_are_swagger_ui_around_the_whole_document(tables: dict[str, str]) -> None:
    answer = call("GET", "/docs", key=None)
    assert answer.status == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    page = answer.body
    assert "src='docs/swagger-ui-bundle.min.js'" in page
    assert "href='docs/swagger-ui.min.css'" in page
    inline = re.findall(r"<script>(.*?)</script>", page, re.DOTALL)
    assert len(inline) == 1
    digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
    csp = policy(answer.headers["content-security-policy"])
    assert csp["script-src"] == f"'self' 'sha256-{digest}'"
    assert {k: v for k, v in csp.items() if k != "script-src"} == {
        k: v for k, v in STRICT.items() if k != "script-src"
    }
    document = call("GET", "/docs?format=json", key=None).body
    published = call("GET", "/v1/openapi.json", key=None).body
    assert document["servers"] == [{"url": ".", "description": "this API"}]
    assert {k: v for k, v in document.items() if k != "servers"} == {
        k: v for k, v in published.items() if k != "servers"
    }


@pytest.mark.parametrize("name", ["swagger-ui-bundle.min.js", "swagger-ui.min.css"])
def test_swagger_ui_comes_from_the_powertools_package_not_a_cdn(tables: dict[str, str], name: str) -> None:
    answer = call("GET", f"/docs/{name}", key=None)
    assert answer.status == 200
    assert len(answer.body) > 100_000
    assert answer.headers["cache-control"] == "public, max-age=300"


@pytest.mark.parametrize(("path", "page"), [("/console/", "../console"), ("/docs/", "../docs")])
def test_a_trailing_slash_is_sent_to_the_page_its_relative_urls_resolve_from(
    tables: dict[str, str], path: str, page: str
) -> None:
    answer = call("GET", path, key=None)
    assert (answer.status, answer.headers["location"]) == (301, page)
