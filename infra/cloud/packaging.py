"""What the functions' code asset contains: ``functions/`` minus ASSET_EXCLUDES.

Plain Python, no ``aws_cdk`` import, so ``make bench`` can measure the package without Node.js.
The matcher follows CDK's default (glob) ignore mode: minimatch per relative path with
``matchBase``, where a directory that matches is skipped whole. A test holds ``asset_files``
to the directory CDK actually stages, so the benchmark zips exactly what would be deployed.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

# Everything in functions/ that is not runtime code. The asset hash covers what is left, so
# editing a test or rebuilding metadata does not redeploy every function.
ASSET_EXCLUDES = ["**/__pycache__", "**/*.pyc", "**/*.egg-info", "**/.mypy_cache", "**/.pytest_cache"]

# Third-party packages that must never be in the asset: the Lambda runtime provides boto3 and
# botocore, the Powertools layer provides Powertools, pydantic and pydantic_core. A second copy
# would shadow the layer's (and a host-built pydantic_core fails to import on arm64 Lambda).
PROVIDED_BY_RUNTIME_OR_LAYER = ("boto3", "botocore", "aws_lambda_powertools", "pydantic", "pydantic_core")


def excluded(relative: PurePosixPath, patterns: Sequence[str] = ASSET_EXCLUDES) -> bool:
    """Whether CDK's glob ignore strategy drops ``relative`` (a path below the asset root)."""
    result = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        if _matches(relative.parts, pattern.lstrip("!")):
            result = not negate
    return result


def asset_files(root: Path, patterns: Sequence[str] = ASSET_EXCLUDES) -> list[PurePosixPath]:
    """Every file the asset holds, relative to ``root``, in a stable order."""
    found: list[PurePosixPath] = []
    for directory, subdirectories, files in os.walk(root):
        base = PurePosixPath(Path(directory).relative_to(root).as_posix())
        # Pruned in place: CDK does not descend into a directory that matches.
        subdirectories[:] = sorted(d for d in subdirectories if not excluded(base / d, patterns))
        found.extend(base / name for name in sorted(files) if not excluded(base / name, patterns))
    return sorted(found)


def _matches(parts: tuple[str, ...], pattern: str) -> bool:
    pattern_parts = tuple(pattern.split("/"))
    if len(pattern_parts) == 1:
        # matchBase: a pattern without a slash is matched against the last segment only.
        return _segment(parts[-1], pattern_parts[0]) if parts else False
    return _match_parts(parts, pattern_parts)


def _match_parts(parts: tuple[str, ...], pattern: tuple[str, ...]) -> bool:
    if not pattern:
        return not parts
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        # Zero or more segments, none of them hidden (minimatch without ``dot``).
        for skip in range(len(parts) + 1):
            if skip and parts[skip - 1].startswith("."):
                break
            if _match_parts(parts[skip:], rest):
                return True
        return False
    return bool(parts) and _segment(parts[0], head) and _match_parts(parts[1:], rest)


def _segment(name: str, pattern: str) -> bool:
    # A wildcard never matches a leading dot unless the pattern spells it out.
    if name.startswith(".") and not pattern.startswith("."):
        return False
    return fnmatch.fnmatchcase(name, pattern)
