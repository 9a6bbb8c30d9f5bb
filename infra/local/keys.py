"""The secrets the runner gives its functions: the shell's, kept ones, or generated once.

A key generated at every start broke everything made with the last one: API clients got 401,
tracked links answered 404, a webhook registered with a provider stopped verifying. So a
generated value is written beside the state file (``keys.json``, readable by its owner only)
and reused at the next start, ``FRESH=1`` included (it discards data, not keys); it is printed
once, when generated. A value exported in the shell wins and is never written or printed: it is
a secret someone chose. With ``STATE_FILE=off`` nothing is kept, so keys are new every start.

Telnyx verifies with Telnyx's public key, which no local value can stand in for: it is left
unset (every Telnyx callback refused) unless the shell gives it.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from engagement.topology import TOPOLOGY

API_KEYS = TOPOLOGY.secret("api_keys").local_env
NOT_GENERATED = frozenset({"TELNYX_PUBLIC_KEY"})
NOT_SHOWN = frozenset({TOPOLOGY.secret("erasure_key").local_env})
"""Generated but never printed: nobody types it, and with it anyone reading the log could test
phone numbers against an erasure's audit line (its hash)."""
Source = Literal["shell", "kept", "generated"]


def keys_file(state_file: Path) -> Path:
    return state_file.with_name("keys.json")


@dataclass(frozen=True)
class LocalKeys:
    values: dict[str, str] = field(default_factory=dict)
    """Variable -> value, for every secret that has one."""
    sources: dict[str, Source] = field(default_factory=dict)
    path: Path | None = None
    """Where kept and generated values live; None with STATE_FILE=off."""

    @property
    def generated(self) -> list[str]:
        return [name for name, source in self.sources.items() if source == "generated"]

    @property
    def api_key(self) -> str:
        return self.values[API_KEYS].split(",")[0].strip()


def resolve(shell: Mapping[str, str], state_file: Path | None) -> LocalKeys:
    """Every secret's value: the shell's, else the kept one, else a new one (kept from now on)."""
    path = keys_file(state_file) if state_file is not None else None
    kept = _load(path) if path is not None else {}
    values: dict[str, str] = {}
    sources: dict[str, Source] = {}
    for spec in TOPOLOGY.secrets:
        name = spec.local_env
        if shell.get(name):
            values[name], sources[name] = shell[name], "shell"
        elif kept.get(name):
            values[name], sources[name] = kept[name], "kept"
        elif name not in NOT_GENERATED:
            values[name], sources[name] = secrets.token_urlsafe(24), "generated"
    if path is not None and any(source == "generated" for source in sources.values()):
        _save(
            path,
            {name: values[name] for name, source in sources.items() if source != "shell"}
            | {name: value for name, value in kept.items() if name not in values},
        )
    return LocalKeys(values=values, sources=sources, path=path)


def read(state_file: Path) -> dict[str, str]:
    """The kept keys (for ``python -m infra.local keys``)."""
    return _load(keys_file(state_file))


def _load(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ValueError(
            f"{path} is not readable JSON ({type(exc).__name__}); move it away to regenerate"
        ) from exc
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise ValueError(f"{path} must map variable names to strings")
    return {str(k): str(v) for k, v in data.items()}


def _save(path: Path, values: Mapping[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()
    # Created readable by its owner only, then moved into place atomically.
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(dict(values), handle, indent=2, sort_keys=True)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)
