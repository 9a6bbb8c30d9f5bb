"""POST /webhooks/telegram: a ``WebhookSpec`` of the topology, served by ``webhooks.telegram``
through ``api.webhooks`` (verify the secret token, translate, store, answer commands)."""

from __future__ import annotations

from engagement.api.resolver import resolver_for

app = resolver_for("telegram")
