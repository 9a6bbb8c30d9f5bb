"""The console in a real browser: Debian's Chromium, headless, driven by Playwright, against the
runner started as ``make run`` starts it.

Each view is opened for data this module posted, and each chart is checked against that data:
the uPlot instance's series and points (which the console records on the chart element) and
pixels actually drawn on its canvas. Any console error fails a test. Screenshots are written to
``.build/screenshots/``; the person and campaign views also to ``docs/img/``, where the README
shows them: the page's clock is fixed and the data is fixed, so they change only when the console
does.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engagement.topology import TOPOLOGY

from .conftest import KEY, ROOT, Runner, start_runner

pytestmark = pytest.mark.e2e

NOW = "2026-11-21T12:00:00Z"
"""The page's clock: every score it asks for is at this instant, so the pictures never move."""
ARTIFACTS = ROOT / ".build" / "screenshots"
README_IMAGES = ROOT / "docs" / "img"
CONTACT = "+15551234567"
TELEGRAM_USER = "42"
SUPPRESSED = 25
"""Opted-out contacts of one campaign: more than a page of the suppressed band."""
PAGE_SIZE = 20


def ev(user: str, item: str, kind: str, at: str, **extra: Any) -> dict[str, Any]:
    return {"user_id": user, "item_id": item, "type": kind, "occurred_at": at, **extra}


def dataset() -> list[dict[str, Any]]:
    """A campaign with a funnel, a contact who went through it, a Telegram user, and a campaign
    whose contacts all opted out."""
    events = [
        ev(CONTACT, "spring-sale", "delivered", "2026-11-11T10:00:00Z"),
        ev(CONTACT, "spring-sale", "clicked", "2026-11-18T10:00:00Z"),
        ev(CONTACT, "spring-sale", "clicked", "2026-11-18T10:05:00Z"),
        ev(CONTACT, "spring-sale", "responded", "2026-11-19T09:30:00Z", context="yes please"),
        ev(CONTACT, "spring-sale", "converted", "2026-11-20T10:05:00Z", value=120, event_id="order-1001"),
        ev(CONTACT, "winter-promo", "delivered", "2026-11-15T10:00:00Z"),
        ev(CONTACT, "winter-promo", "clicked", "2026-11-16T12:00:00Z"),
        ev(TELEGRAM_USER, "AI-1799", "query", "2026-11-20T09:00:00Z", source="telegram"),
        ev(TELEGRAM_USER, "AI-1799", "mention", "2026-11-20T10:00:00Z", source="telegram"),
        ev(TELEGRAM_USER, "AI-7", "view", "2026-11-10T10:00:00Z", source="telegram"),
    ]
    for n in range(4):
        other = f"+1555000000{n}"
        events.append(ev(other, "spring-sale", "delivered", "2026-11-11T10:00:00Z"))
        if n < 2:
            events.append(ev(other, "spring-sale", "clicked", "2026-11-12T08:00:00Z"))
        if n == 3:
            events.append(ev(other, "spring-sale", "opted_out", "2026-11-12T09:00:00Z", context="STOP"))
    for n in range(SUPPRESSED):
        contact = f"+1555010{n:04d}"
        events.append(ev(contact, "autumn-sms", "delivered", "2026-11-05T10:00:00Z"))
        events.append(ev(contact, "autumn-sms", "opted_out", "2026-11-05T11:00:00Z", context="STOP"))
    return events


USERS = {e["user_id"] for e in dataset()}
CAMPAIGNS = {e["item_id"] for e in dataset() if e["user_id"].startswith("+")}


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail(
            "Chromium is not installed. The console's browser tests drive Debian's chromium package "
            "(never a Playwright browser download): install it with `sudo apt-get install -y chromium`; "
            ".ci/run installs it when it is missing."
        )
    return path


@pytest.fixture(scope="module")
def runner() -> Iterator[Runner]:
    # The runner's clock at the page's (the console asks the API for its instant): the pictures
    # are of that moment.
    with start_runner(START_AT=NOW) as started:
        events = dataset()
        for start in range(0, len(events), 100):
            started.post_events(*events[start : start + 100])
        started.control("POST", "settle")
        yield started


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, headless=True)
        yield launched
        launched.close()


class Console:
    """One browser tab on the console, with every console error it logs."""

    def __init__(self, page: Any, base: str) -> None:
        self.page = page
        self.base = base
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))

    def _console(self, message: Any) -> None:
        if message.type != "error":
            return
        self.errors.append(f"{message.text} ({message.location.get('url')})")

    def sign_in(self, key: str = KEY) -> None:
        self.page.goto(f"{self.base}/console")
        self.page.fill("#api-key", key)
        self.page.click("#login-form button[type=submit]")

    def open(self, view: str) -> Any:
        self.page.goto(f"{self.base}/console#/{view}")
        return self.ready()

    def ready(self) -> Any:
        view = self.page.locator("[data-view][data-ready]")
        view.wait_for(timeout=15_000)
        assert view.get_attribute("data-ready") == "true", self.page.locator("#view").inner_text()
        return view

    def chart(self, name: str) -> dict[str, int]:
        """What the chart drew: series and points (from its uPlot instance) and painted pixels."""
        element = self.page.locator(f'[data-chart="{name}"][data-rendered="true"]')
        element.wait_for(timeout=10_000)
        drawn: dict[str, int] = element.evaluate(
            """element => {
                const canvas = element.querySelector("canvas");
                const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
                let painted = 0;
                for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) painted++;
                return {series: Number(element.dataset.series), points: Number(element.dataset.points),
                        painted, width: canvas.width, height: canvas.height};
            }"""
        )
        return drawn

    def screenshot(self, name: str, *also: Path) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        image = self.page.screenshot(full_page=True, animations="disabled", caret="hide")
        for path in (ARTIFACTS / f"{name}.png", *also):
            path.write_bytes(image)


@pytest.fixture
def console(browser: Any, runner: Runner) -> Iterator[Console]:
    context = browser.new_context(
        viewport={"width": 1280, "height": 900},
        device_scale_factor=1,
        locale="en-GB",
        timezone_id="UTC",
        color_scheme="light",
    )
    page = context.new_page()
    page.clock.set_fixed_time(NOW)
    tab = Console(page, runner.url)
    yield tab
    context.close()
    assert tab.errors == [], "the browser console logged errors"


def assert_drawn(chart: dict[str, int], *, series: int, points: int) -> None:
    assert (chart["series"], chart["points"]) == (series, points)
    assert chart["width"] > 0
    assert chart["height"] > 0
    assert chart["painted"] > 1000, "the canvas is blank"


def test_a_wrong_key_is_told_plainly_not_shown_a_blank_page(console: Console) -> None:
    console.sign_in("not-the-key")
    message = console.page.locator("#login-message")
    message.wait_for(state="visible", timeout=10_000)
    assert "refused" in message.inner_text()
    assert "401" in message.inner_text()
    assert console.page.locator("#login").is_visible()
    assert console.page.locator("#nav").is_hidden()
    assert console.page.evaluate("sessionStorage.length") == 0  # a refused key is not kept
    console.screenshot("wrong-key")
    # The refused call itself is a network error the browser logs; that is the point of this test.
    console.errors = [e for e in console.errors if "401" not in e]


def test_the_key_is_asked_once_and_kept_for_the_session_only(console: Console) -> None:
    console.sign_in()
    console.ready()
    assert console.page.evaluate("sessionStorage.getItem('engagement.apiKey')") == KEY
    assert console.page.evaluate("localStorage.length") == 0
    console.open("campaign/spring-sale")  # another view: no second sign-in
    assert console.page.locator("#login").is_hidden()


def test_the_overview_draws_traffic_bands_and_campaigns(console: Console) -> None:
    console.sign_in()
    console.ready()
    assert_drawn(console.chart("accepted"), series=1, points=48)
    assert_drawn(console.chart("bands"), series=1, points=5)
    assert_drawn(console.chart("campaigns"), series=1, points=len(CAMPAIGNS))
    assert console.page.locator('[data-panel="accepted"] .big').inner_text() == str(len(dataset()))
    bands = console.page.locator('[data-panel="bands"] .figures tbody tr').all_inner_texts()
    counts = {row.split()[0]: int(row.split()[-1]) for row in bands}
    assert sum(counts.values()) == len(USERS)
    assert counts["suppressed"] == SUPPRESSED + 1
    first = console.page.locator('[data-panel="campaigns"] .figures tbody tr').first.inner_text()
    assert first.split() == ["autumn-sms", str(SUPPRESSED), "0", "0"]
    operations = console.page.locator('[data-panel="operations"]').inner_text()
    assert "No decay or cleanup run yet." in operations
    assert "stream failures waiting\n0" in operations
    console.screenshot("overview")


def test_a_person_view_draws_score_curves_components_and_the_band(console: Console, runner: Runner) -> None:
    console.sign_in()
    console.open(f"person/{CONTACT.replace('+', '%2B')}")
    items = {e["item_id"] for e in dataset() if e["user_id"] == CONTACT}
    # A Linear curve per item, 30 days back and 30 forward in half days; the CRM curve; its 5 components.
    assert_drawn(console.chart("linear"), series=len(items), points=121)
    assert_drawn(console.chart("crm"), series=1, points=121)
    assert_drawn(console.chart("components"), series=1, points=5)
    # The numbers beside the pictures are the API's, for the instant the page shows.
    as_of = console.page.locator("[data-as-of]").get_attribute("data-as-of")
    assert as_of is not None
    assert as_of.startswith(NOW[:13]), as_of
    status, score = runner.request("GET", f"/v1/users/%2B{CONTACT[1:]}/score?profile=crm&as_of={as_of}")
    assert status == 200
    crm = console.page.locator('[data-panel="crm"] .figures')
    assert crm.locator(".big").inner_text() == f"{score['score']:.2f}"
    assert crm.locator(".chip").first.inner_text() == score["band"]
    assert crm.locator(".sentence").inner_text() == score["explanation"]["sentence"]
    linear = console.page.locator('[data-panel="linear"] .figures tbody tr').all_inner_texts()
    assert sorted(row.split()[0] for row in linear) == sorted(items)
    # The timeline is the person's events, newest first, as the events route lists them.
    status, listed = runner.request("GET", f"/v1/users/%2B{CONTACT[1:]}/events?limit=50&to={as_of}")
    assert status == 200
    timeline = console.page.locator('[data-panel="timeline"] li').all_inner_texts()
    assert len(timeline) == len(listed["events"]) == sum(1 for e in dataset() if e["user_id"] == CONTACT)
    for event, row in zip(listed["events"], timeline, strict=True):
        at = event["occurred_at"]
        assert f"{at[:10]} {at[11:16]} UTC" in row
        assert f"{event['type']} {event['item_id']}" in row
    assert "converted spring-sale 120.00" in timeline[0]
    assert '"yes please"' in next(row for row in timeline if "responded" in row)
    console.screenshot("person", README_IMAGES / "console-person.png")


def test_scores_are_read_at_the_apis_clock_not_the_browsers(console: Console) -> None:
    """A local runner may run at another instant than the browser (START_AT, a clock moved a week
    ahead): the console asks at the API's, or every score would be of another day."""
    console.page.clock.set_fixed_time("2027-03-01T00:00:00Z")
    console.sign_in()
    console.open(f"person/{CONTACT.replace('+', '%2B')}")
    as_of = console.page.locator("[data-as-of]").get_attribute("data-as-of")
    assert as_of is not None
    assert as_of.startswith(NOW[:10]), as_of


def test_a_telegram_user_view_has_a_curve_per_issue(console: Console) -> None:
    console.sign_in()
    console.open(f"person/{TELEGRAM_USER}")
    issues = {e["item_id"] for e in dataset() if e["user_id"] == TELEGRAM_USER}
    assert_drawn(console.chart("linear"), series=len(issues), points=121)
    console.screenshot("person-telegram")


def test_a_campaign_view_draws_its_funnel_with_step_and_overall_rates(console: Console) -> None:
    console.sign_in()
    console.open("campaign/spring-sale")
    assert_drawn(console.chart("funnel"), series=1, points=4)
    rows = [
        row.split("\t") for row in console.page.locator('[data-panel="funnel"] tbody tr').all_inner_texts()
    ]
    by_stage = {row[0]: row[1:] for row in rows}
    assert by_stage["delivered"] == ["5", "n/a", "100.0%"]
    assert by_stage["clicked"] == ["3", "60.0%", "60.0%"]
    assert by_stage["responded"] == ["1", "33.3%", "20.0%"]
    assert by_stage["converted"] == ["1", "100.0%", "20.0%"]
    assert by_stage["opted_out"][0] == "1"
    console.screenshot("campaign", README_IMAGES / "console-campaign.png")


def test_a_band_view_pages_through_its_members(console: Console) -> None:
    console.sign_in()
    console.open("band/suppressed")
    assert_drawn(console.chart("members"), series=1, points=PAGE_SIZE)
    first = console.page.locator('[data-panel="members"] .figures tbody tr').all_inner_texts()
    console.screenshot("band")
    console.page.click("text=Next page")
    console.ready()
    assert_drawn(console.chart("members"), series=1, points=SUPPRESSED + 1 - PAGE_SIZE)
    second = console.page.locator('[data-panel="members"] .figures tbody tr').all_inner_texts()
    assert not set(first) & set(second)
    assert len(first) + len(second) == SUPPRESSED + 1
    console.page.click("text=Previous page")
    console.ready()
    assert console.page.locator('[data-panel="members"] .figures tbody tr').all_inner_texts() == first


def test_the_docs_are_swagger_ui_with_every_route(console: Console) -> None:
    console.page.goto(f"{console.base}/docs")
    operations = console.page.locator(".opblock")
    operations.first.wait_for(timeout=15_000)
    assert operations.count() == len(TOPOLOGY.routes)
    console.screenshot("docs")


def test_an_erased_number_is_shown_erased_and_not_to_be_messaged(console: Console, runner: Runner) -> None:
    # Last in the module: it adds events the overview's figures would count.
    erased = "+15550999999"
    runner.post_events(
        ev(erased, "autumn-sms", "delivered", "2026-11-05T10:00:00Z"),
        ev(erased, "autumn-sms", "opted_out", "2026-11-05T11:00:00Z", context="STOP"),
    )
    runner.control("POST", "settle")
    status, body = runner.request("DELETE", "/v1/users/%2B15550999999")
    assert status == 200
    assert body["suppressed"]["reason"] == "STOP"
    console.sign_in()
    view = console.open("person/%2B15550999999")
    text = view.inner_text()
    assert f"{erased} was erased on {body['erased_at'][:10]}" in text
    assert "They had opted out (STOP): do not message them." in text
    console.screenshot("person-erased")
    # The view's calls answered 410 (that is how it knows): the browser logs them as errors.
    console.errors = [e for e in console.errors if "410" not in e]
