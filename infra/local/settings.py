"""The local runner's own settings (not the functions': those are engagement.settings), declared
once: read from the shell that starts ``make run``, each with an embedded default, so a fresh
clone needs none. docs/runner.md's table is generated from this (tests/unit/test_docs.py holds them equal).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from engagement.domain.timefmt import parse_rfc3339


@dataclass(frozen=True)
class RunnerSetting:
    name: str
    default: str
    rule: str
    description: str
    parse: Callable[[str], Any]


def _port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65_535:
        raise ValueError("out of range")
    return port


def _path_or_off(text: str) -> Path | None:
    return None if text.strip().lower() in ("", "off", "none") else Path(text)


def _optional_path(text: str) -> Path | None:
    return Path(text) if text.strip() else None


def _flag(text: str) -> bool:
    value = text.strip().lower()
    if value not in ("", "0", "1", "true", "false", "yes", "no"):
        raise ValueError("not a flag")
    return value in ("1", "true", "yes")


def _level(text: str) -> str:
    level = text.strip().upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ValueError("not a level")
    return level


def _instant(text: str) -> datetime | None:
    return parse_rfc3339(text) if text.strip() else None


SETTINGS = (
    RunnerSetting("PORT", "3000", "0-65535 (0: any free port)", "The HTTP API's port on 127.0.0.1", _port),
    RunnerSetting(
        "DYNAMODB_PORT", "8000", "0-65535", "The DynamoDB (moto) endpoint's port, for the AWS CLI", _port
    ),
    RunnerSetting(
        "LOG_LEVEL", "WARNING", "DEBUG, INFO, WARNING, ERROR", "Level of the functions' own JSON logs", _level
    ),
    RunnerSetting(
        "STATE_FILE",
        ".local/state.json",
        "a path, or off",
        "Where data, the stream position and the generated keys survive restarts; off keeps nothing",
        _path_or_off,
    ),
    RunnerSetting(
        "FRESH",
        "",
        "1 or empty",
        "Discard the saved data (and its journal) at start; the keys are kept",
        _flag,
    ),
    RunnerSetting(
        "START_AT",
        "",
        "empty, or an RFC 3339 instant",
        "Start the clock at this instant (it then runs with wall time); never moves a restored clock back",
        _instant,
    ),
    RunnerSetting(
        "RECORD_TO",
        "",
        "empty, or a path",
        "A JSONL file receiving every request, for replay",
        _optional_path,
    ),
    RunnerSetting(
        "RUNNER_FILE",
        ".local/runner.json",
        "a path",
        "Where the running runner announces its URL, so the companion commands find it",
        Path,
    ),
)


class RunnerSettingsError(ValueError):
    pass


@dataclass(frozen=True)
class RunnerSettings:
    port: int
    dynamodb_port: int
    log_level: str
    state_file: Path | None
    fresh: bool
    start_at: datetime | None
    record_to: Path | None
    runner_file: Path


def load(environ: Mapping[str, str]) -> RunnerSettings:
    values: dict[str, Any] = {}
    problems: list[str] = []
    for setting in SETTINGS:
        try:
            values[setting.name.lower()] = setting.parse(environ.get(setting.name, setting.default))
        except ValueError:
            problems.append(f"{setting.name} must be {setting.rule}")
    if problems:
        raise RunnerSettingsError("; ".join(problems))
    return RunnerSettings(**values)


def markdown() -> str:
    lines = [
        "| Variable | Default | Rule | What it does |",
        "|---|---|---|---|",
        *(
            f"| `{s.name}` | {f'`{s.default}`' if s.default else '(empty)'} | {s.rule} | {s.description} |"
            for s in SETTINGS
        ),
    ]
    return "\n".join(lines) + "\n"
