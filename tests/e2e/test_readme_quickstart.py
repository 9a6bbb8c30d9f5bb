"""The README's quick start, run as a newcomer pastes it, against a runner started as it says.

The block between ``<!-- quickstart:begin -->`` and ``<!-- quickstart:end -->`` runs under bash,
unchanged but for the API's port (the test's runner has its own) and the interpreter's path.
Every ``# →`` line group is what the commands above it print, ``...`` standing for anything:
the test inserts a marker where each group stands, splits the script's output at the markers
and compares each piece with its group, so the README cannot show what the commands do not
print, and a command that prints something the README does not show fails too.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.sealed import child_environment

from .conftest import ROOT, start_runner

README = ROOT / "README.md"
SHOWN = "# → "
MARKER = "@@quickstart-output-{}@@"


def quickstart() -> str:
    text = README.read_text(encoding="utf-8")
    block = text.split("<!-- quickstart:begin -->", 1)[1].split("<!-- quickstart:end -->", 1)[0]
    return block.strip().removeprefix("```sh").removesuffix("```").strip("\n") + "\n"


def start_command() -> dict[str, str]:
    """The variables of the README's ``make run FRESH=1 START_AT=...`` line."""
    text = README.read_text(encoding="utf-8")
    line = re.search(r"^make run ((?:[A-Z_]+=\S+ ?)+)$", text, re.MULTILINE)
    assert line is not None, "the README no longer says how to start the quick start's runner"
    return dict(word.split("=", 1) for word in line.group(1).split())


def instrumented(script: str) -> tuple[str, list[list[str]]]:
    """The script with a marker echoed where each group of shown output stands, and the groups."""
    lines: list[str] = []
    groups: list[list[str]] = []
    for line in script.splitlines():
        if line.startswith(SHOWN):
            if not lines or not lines[-1].startswith("echo @@quickstart-output-"):
                groups.append([])
                lines.append(f"echo {MARKER.format(len(groups) - 1)}")
            groups[-1].append(line.removeprefix(SHOWN))
        else:
            lines.append(line)
    return "\n".join(lines) + "\n", groups


def matches(pattern: str, line: str) -> bool:
    return re.fullmatch(".*".join(re.escape(part) for part in pattern.split("...")), line) is not None


def test_the_quick_start_prints_what_the_readme_shows() -> None:
    variables = start_command()
    assert set(variables) == {"FRESH", "START_AT"}, variables
    script, groups = instrumented(quickstart())
    assert len(groups) >= 6, "the quick start shows fewer outputs than it did: update this test"
    with tempfile.TemporaryDirectory(prefix="quickstart-") as tmp:
        # The runner and the pasted commands share a state file (where `key` reads the API key)
        # and a runner file (where `settle` finds the runner), as make run's defaults do.
        files = {"STATE_FILE": str(Path(tmp) / "state.json"), "RUNNER_FILE": str(Path(tmp) / "runner.json")}
        # No key from the shell: the quick start reads the one the runner generates and keeps.
        with start_runner(ENGAGEMENT_API_KEYS="", **files, **variables) as runner:
            script = script.replace("http://127.0.0.1:3000", runner.url)
            script = script.replace(".venv/bin/python", sys.executable)
            env = child_environment(**files)
            done = subprocess.run(
                ["bash", "-c", script],
                check=False,
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr
    pieces = re.split(r"^@@quickstart-output-\d+@@\n", done.stdout, flags=re.MULTILINE)
    assert pieces[-1] == "", f"commands after the last shown output printed: {pieces[-1]!r}"
    for n, (shown, printed) in enumerate(zip(groups, pieces[:-1], strict=True)):
        lines = printed.rstrip("\n").split("\n")
        assert len(lines) == len(shown), f"output {n}: the README shows {shown}, the commands printed {lines}"
        for pattern, line in zip(shown, lines, strict=True):
            assert matches(pattern, line), f"output {n}: README shows\n{pattern}\ncommand printed\n{line}"
