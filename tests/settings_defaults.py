"""The declared defaults, for tests that call domain functions with settings as arguments."""

from __future__ import annotations

from datetime import timedelta

from engagement import settings

DEFAULTS = settings.load({})
CLICK_WINDOW = timedelta(minutes=DEFAULTS.click_window_minutes)
