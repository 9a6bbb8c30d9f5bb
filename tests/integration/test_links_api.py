"""Tracked links end to end through the gateway: create, follow, count once, refuse forgeries."""

from __future__ import annotations

from datetime import timedelta

import boto3
import pytest

from engagement.domain.clock import ManualClock

from .api import Answer, call


@pytest.fixture(autouse=True)
def signing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINK_SIGNING_KEY", "test-link-key")


def create(**changes: object) -> Answer:
    body = {
        "url": "https://shop.example/p/1?ref=sms",
        "user_id": "+15550001111",
        "campaign": "spring",
        **changes,
    }
    return call("POST", "/v1/links", body)


def follow(token: str, agent: str = "Mozilla/5.0 (iPhone)") -> Answer:
    return call("GET", f"/c/{token}", key=None, headers={"User-Agent": agent})


def clicks(tables: dict[str, str]) -> list[dict[str, object]]:
    items = boto3.client("dynamodb").scan(TableName=tables["events"])["Items"]
    return [i for i in items if i["type"]["S"] == "clicked"]


def test_a_link_redirects_and_records_one_click_per_window(
    tables: dict[str, str], clock: ManualClock
) -> None:
    created = create()
    assert created.status == 201
    token = created.body["token"]
    assert created.body["url"].endswith(f"/c/{token}")

    first = follow(token)
    assert (first.status, first.headers["location"]) == (302, "https://shop.example/p/1?ref=sms")
    assert first.headers["cache-control"] == "no-store"
    follow(token)  # a double tap
    [click] = clicks(tables)
    assert (click["user_id"]["S"], click["item_id"]["S"]) == ("+15550001111", "spring")

    clock.advance(timedelta(minutes=31))
    follow(token)
    assert len(clicks(tables)) == 2


def test_a_preview_bot_is_redirected_but_not_counted(tables: dict[str, str], clock: ManualClock) -> None:
    token = create().body["token"]
    assert follow(token, agent="facebookexternalhit/1.1").status == 302
    assert clicks(tables) == []


def test_forged_unknown_and_expired_links_are_404(tables: dict[str, str], clock: ManualClock) -> None:
    token = create(ttl_days=1).body["token"]
    assert follow("A" * 16 + "." + "B" * 12).status == 404
    assert follow(token[:-1] + ("x" if token[-1] != "x" else "y")).status == 404
    clock.advance(timedelta(days=2))
    assert follow(token).status == 404
    assert clicks(tables) == []


@pytest.mark.parametrize(
    "bad", [{"url": "javascript:alert(1)"}, {"url": "ftp://x"}, {"user_id": "a b"}, {"ttl_days": 0}]
)
def test_bad_link_requests_name_the_field(
    tables: dict[str, str], clock: ManualClock, bad: dict[str, object]
) -> None:
    answer = create(**bad)
    assert answer.status == 422
    assert answer.body["details"][0]["field"] == next(iter(bad))


def test_creating_links_needs_an_api_key(tables: dict[str, str]) -> None:
    body = {"url": "https://x.example", "user_id": "u", "campaign": "c"}
    assert call("POST", "/v1/links", body, key=None).status == 401
