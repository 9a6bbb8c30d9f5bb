"""``make vendor``: fetch the console's chart library from npm, verify it, copy what is served.

The console serves its files from the functions' code asset, so nothing is fetched at run time
and neither ``make run`` nor CI needs npm. This script is how the vendored files got there and
how to move them to another version: ``npm pack`` of the pinned version (npm checks the
registry's integrity), our own check of the tarball against the integrity pinned below (so a
changed registry record cannot slip a different file in), then the few files the page loads and
the licence, renamed with the version so a browser never mixes two versions from its cache.
``console/vendor.json`` records what was copied with each file's SHA-256; a test holds the
committed files to it, so a hand edit of vendored code fails the suite.

Plain standard library: it runs before, and without, the virtual environment.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONSOLE = ROOT / "functions" / "engagement" / "console"
MANIFEST = CONSOLE / "vendor.json"


@dataclass(frozen=True)
class Pin:
    package: str
    version: str
    integrity: str
    """npm's ``dist.integrity`` of the tarball (``npm view <package>@<version> dist.integrity``)."""
    files: dict[str, str]
    """Path inside the tarball's ``package/`` -> file name in ``console/``."""


PINS = (
    Pin(
        package="uplot",
        version="1.6.32",
        integrity="sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw==",
        files={
            "dist/uPlot.iife.min.js": "uplot-1.6.32.iife.min.js",
            "dist/uPlot.min.css": "uplot-1.6.32.min.css",
            "LICENSE": "uplot-1.6.32.LICENSE.txt",
        },
    ),
)


def integrity_of(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def pack(pin: Pin, workdir: Path) -> bytes:
    """The package's tarball, as ``npm pack`` fetches it from the registry."""
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit(
            "make vendor needs npm (Node.js); the vendored files are committed, so only to update them"
        )
    done = subprocess.run(  # noqa: S603 - npm from PATH, arguments from the pins above
        [npm, "pack", f"{pin.package}@{pin.version}", "--json", "--pack-destination", str(workdir)],
        check=True,
        capture_output=True,
        text=True,
    )
    (packed,) = json.loads(done.stdout)
    return (workdir / str(packed["filename"])).read_bytes()


def extract(pin: Pin, tarball: bytes) -> dict[str, bytes]:
    found = integrity_of(tarball)
    if found != pin.integrity:
        raise SystemExit(f"{pin.package}@{pin.version}: tarball integrity {found} is not the pinned one")
    copied: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for inside, name in pin.files.items():
            member = archive.extractfile(f"package/{inside}")
            if member is None:
                raise SystemExit(f"{pin.package}@{pin.version}: no file package/{inside}")
            copied[name] = member.read()
    return copied


def main() -> None:
    manifest: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as workdir:
        for pin in PINS:
            files = extract(pin, pack(pin, Path(workdir)))
            for name, data in files.items():
                (CONSOLE / name).write_bytes(data)
            manifest[pin.package] = {
                "version": pin.version,
                "integrity": pin.integrity,
                "files": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())},
            }
            sys.stdout.write(f"vendored {pin.package}@{pin.version}: {', '.join(sorted(files))}\n")
    MANIFEST.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
