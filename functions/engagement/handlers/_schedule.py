"""The instant a scheduled run stands for."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from engagement.domain import clock
from engagement.domain.timefmt import parse_rfc3339


def scheduled_instant(event: Mapping[str, Any]) -> datetime:
    """EventBridge's ``time`` is the scheduled time, identical on every retry of the same run,
    so it, and not the wall clock, identifies the run. A manual invoke without it runs "now"."""
    time = event.get("time")
    return parse_rfc3339(time) if isinstance(time, str) else clock.now()
