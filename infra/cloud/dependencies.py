"""Layers of third-party packages a function declares (``FunctionSpec.packages``), built without
Docker for the functions' platform.

pip downloads manylinux wheels for aarch64 and the runtime's Python whatever the build host is
(a host-built ``_rust`` or ``_cffi_backend`` extension would fail to import on Lambda), at the
exact versions installed here, so what is deployed is what the tests ran. A finished build is
reused until the pins change.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

PLATFORM = "manylinux2014_aarch64"
PYTHON_VERSION = "3.13"
BUILD_ROOT = Path(__file__).resolve().parents[2] / ".build" / "layers"
_DONE = ".complete"


def pins(packages: tuple[str, ...]) -> list[str]:
    """``name==version`` for each package, at the version this environment has installed."""
    return [f"{name}=={version(name)}" for name in sorted(set(packages))]


def layer_directory(packages: tuple[str, ...], build_root: Path = BUILD_ROOT) -> Path:
    """A directory laid out as a Lambda layer (``python/...``) holding the packages."""
    wanted = pins(packages)
    key = hashlib.sha256("\n".join([PLATFORM, PYTHON_VERSION, *wanted]).encode()).hexdigest()[:16]
    target = build_root / key
    if (target / _DONE).exists():
        return target
    shutil.rmtree(target, ignore_errors=True)
    subprocess.run(  # noqa: S603 - our interpreter's pip, arguments from the topology and pins
        [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--platform", PLATFORM, "--implementation", "cp", "--python-version", PYTHON_VERSION,
            "--only-binary=:all:", "--target", str(target / "python"), *wanted,
        ],
        check=True,
    )  # fmt: skip
    (target / _DONE).write_text("\n".join(wanted) + "\n")
    return target
