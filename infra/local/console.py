"""One concise line per request, stream batch, schedule run, fault and expiry; colored on a TTY."""

from __future__ import annotations

import os
import re
import sys
import threading
from datetime import datetime

_COLORS = {"stream": "36", "schedule": "35", "fault": "33", "ttl": "34", "error": "31", "info": "1"}
_STATUS = re.compile(r"-> (\d)\d\d ")
_STATUS_COLORS = {"2": "32", "3": "36", "4": "33", "5": "31"}


def wants_color() -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    return bool(os.environ.get("FORCE_COLOR")) or sys.stdout.isatty()


class Console:
    def __init__(self, *, color: bool | None = None) -> None:
        self.color = wants_color() if color is None else color
        self._lock = threading.Lock()

    def __call__(self, kind: str, line: str) -> None:
        text = f"{datetime.now():%H:%M:%S} {kind:<8} {line}"
        code = _COLORS.get(kind)
        if kind == "http" and (status := _STATUS.search(line)):
            code = _STATUS_COLORS.get(status.group(1))
        if self.color and code:
            text = f"\x1b[{code}m{text}\x1b[0m"
        # One write per line: print() writes the text and the newline separately, and the
        # functions' JSON log lines (written by another handler) could land in between.
        with self._lock:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()
