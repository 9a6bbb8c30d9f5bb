from __future__ import annotations

from infra.local.recording import RecordedRequest
from infra.local.replay import RESIGNERS, TelegramSecretTokenResigner

UPDATE = RecordedRequest(
    recorded_at="2026-11-20T12:00:00Z",
    method="POST",
    path="/webhooks/telegram",
    query="",
    headers=(("Content-Type", "application/json"), ("X-Telegram-Bot-Api-Secret-Token", "local-secret")),
    body=b'{"update_id": 1}',
    source_ip="127.0.0.1",
)


def test_the_telegram_secret_token_is_swapped_for_the_targets() -> None:
    resigner = TelegramSecretTokenResigner()
    assert resigner.applies(UPDATE)
    target = "https://api.example.com/webhooks/telegram"
    resigned = resigner.resign(UPDATE, url=target, secrets={"telegram": "prod"})
    assert dict(resigned.headers)["X-Telegram-Bot-Api-Secret-Token"] == "prod"
    assert (resigned.body, resigned.path) == (UPDATE.body, UPDATE.path)


def test_without_its_secret_the_request_is_replayed_as_recorded() -> None:
    assert TelegramSecretTokenResigner().resign(UPDATE, url="http://x", secrets={"api_key": "k"}) == UPDATE


def test_the_replay_command_knows_the_telegram_resigner() -> None:
    assert "telegram" in {r.name for r in RESIGNERS}
