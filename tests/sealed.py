"""Environments for the processes tests start: built from an allowlist, never copied from the
shell, so a developer's exported variables cannot change what a test sees."""

from __future__ import annotations

import os

PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "SYSTEMROOT")
"""What a Python process needs to start and find its interpreter; nothing the code reads."""


def child_environment(**variables: str) -> dict[str, str]:
    environment = {name: os.environ[name] for name in PASSED_THROUGH if name in os.environ}
    environment.update(variables)
    return environment
