"""``python -m infra.local`` (``make run``): start the whole system on 127.0.0.1.

Configuration comes from the environment with embedded defaults, so a fresh clone needs none:
PORT (3000), DYNAMODB_PORT (8000), ENGAGEMENT_API_KEYS (generated when unset), LOG_LEVEL
(WARNING, for the functions' own JSON logs).
"""

from __future__ import annotations

import os
import secrets
import signal
import sys
import threading
from datetime import datetime
from types import FrameType

from infra.local.system import LocalConfig, LocalSystem


def _log(line: str) -> None:
    print(f"{datetime.now():%H:%M:%S} {line}", flush=True)


def main() -> int:
    keys = os.environ.get("ENGAGEMENT_API_KEYS") or secrets.token_urlsafe(24)
    config = LocalConfig(
        api_keys=keys,
        port=int(os.environ.get("PORT", "3000")),
        dynamodb_port=int(os.environ.get("DYNAMODB_PORT", "8000")),
        log_level=os.environ.get("LOG_LEVEL", "WARNING"),
    )
    system = LocalSystem(config, log=_log)
    stopping = threading.Event()

    def stop(signum: int, _: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        system.start()
    except OSError as exc:
        print(f"cannot start: {exc} (set PORT / DYNAMODB_PORT to free ports)", file=sys.stderr)
        return 1
    first_key = keys.split(",")[0].strip()
    print(
        f"ready: API {system.api_url}  DynamoDB {system.dynamodb_url}  API key {first_key}",
        flush=True,
    )
    stopping.wait()
    _log("stopping")
    system.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
