"""The local runner: builds the whole system on one machine from engagement.topology."""
