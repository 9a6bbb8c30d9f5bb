"""Where a running runner can be found: a small JSON file it writes when ready and removes on a
clean exit, so ``python -m infra.local status`` (and clock, settle, faults, failures) reach the
runner they belong to, whatever port it was given, without ``--url``.

The file's place is ``RUNNER_FILE`` (default ``.local/runner.json``, beside the default state
file); tests point it into a temporary directory so they never touch a developer's ``.local/``.
A file left behind by a killed runner names a process that no longer exists, and is ignored.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DEFAULT_RUNNER_FILE = ".local/runner.json"


def location(environ: Mapping[str, str]) -> Path:
    return Path(environ.get("RUNNER_FILE") or DEFAULT_RUNNER_FILE)


def write(path: Path, *, api: str, dynamodb: str, state_file: Path | None) -> None:
    """Announce this process (atomically: a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(
        json.dumps(
            {
                "url": api,
                "dynamodb": dynamodb,
                "pid": os.getpid(),
                "state_file": None if state_file is None else str(state_file),
            }
        )
    )
    os.replace(partial, path)


def remove(path: Path) -> None:
    """Remove the file if it still announces this process (another runner may have replaced it)."""
    found = _read(path)
    if found is not None and found.get("pid") == os.getpid():
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def discover(environ: Mapping[str, str]) -> str:
    """The URL of the runner the file announces, if that process is alive; else the default
    port's (``PORT``, 3000)."""
    found = _read(location(environ))
    if found is not None and _alive(found.get("pid")) and isinstance(found.get("url"), str):
        return str(found["url"])
    return f"http://127.0.0.1:{environ.get('PORT', '3000')}"


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive, and not ours to signal
    return True
