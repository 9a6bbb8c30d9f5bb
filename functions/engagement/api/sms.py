"""The SMS providers' webhook routes: every one is a ``WebhookSpec`` of the topology, served by
its source module through ``api.webhooks`` (verify, translate, store, acknowledge)."""

from __future__ import annotations

from engagement.api.resolver import resolver_for

app = resolver_for("sms")
