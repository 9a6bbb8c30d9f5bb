"""Provider webhooks: one module per provider, each verifying a request before reading it and
translating it into engagement events."""
