"""Results of a benchmark: a table of side-by-side measurements, printed and saved as JSON.

Every figure is a ratio of two sides measured in the same run, so a slow or busy machine moves
both sides and leaves the ratio roughly where it was. A missed target is reported, not raised:
the process fails only when a benchmark could not run.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import textwrap
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS_PATH = Path(__file__).resolve().parent.parent / ".build" / "bench.json"
"""In the repository's .build/ (gitignored), wherever the benchmarks are started from."""
NOTE_WIDTH = 110


@dataclass(frozen=True)
class Row:
    """One comparison: ``measured`` against ``baseline`` (both medians or totals)."""

    name: str
    measured: float
    baseline: float
    target: float | None
    """Highest acceptable ratio; None for an informational row."""

    @property
    def ratio(self) -> float:
        return self.measured / self.baseline

    @property
    def status(self) -> str:
        if self.target is None:
            return "info"
        return "MET" if self.ratio <= self.target else "MISSED"

    def as_json(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "measured": round(self.measured, 3),
            "baseline": round(self.baseline, 3),
            "ratio": round(self.ratio, 4),
            "status": self.status,
        }


@dataclass
class Section:
    """One benchmark's results: its rows, how to read them, and the raw figures behind them."""

    key: str
    title: str
    measured_label: str
    baseline_label: str
    unit: str
    decimals: int
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def missed(self) -> list[Row]:
        return [row for row in self.rows if row.status == "MISSED"]

    def render(self) -> str:
        suffix = f" ({self.unit})" if self.unit else ""
        header = ["", self.measured_label + suffix, self.baseline_label + suffix, "ratio", "target", ""]
        lines = [
            [
                row.name,
                f"{row.measured:,.{self.decimals}f}",
                f"{row.baseline:,.{self.decimals}f}",
                f"{row.ratio:.2f}",
                "-" if row.target is None else f"<= {row.target:.2f}",
                row.status,
            ]
            for row in self.rows
        ]
        widths = [max(len(cells[i]) for cells in [header, *lines]) for i in range(len(header))]

        def format_line(cells: list[str]) -> str:
            first = cells[0].ljust(widths[0])
            rest = [cell.rjust(width) for cell, width in zip(cells[1:-1], widths[1:-1], strict=True)]
            return "  ".join([first, *rest, cells[-1]]).rstrip()

        body = [format_line(header), *map(format_line, lines)]
        rule = "-" * max(len(line) for line in body)
        out = [self.title, rule, body[0], rule, *body[1:], rule]
        for note in self.notes:
            out += textwrap.wrap(note, width=NOTE_WIDTH, initial_indent="  * ", subsequent_indent="    ")
        return "\n".join(out)

    def as_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "measured": self.measured_label,
            "baseline": self.baseline_label,
            "unit": self.unit,
            "rows": [row.as_json() for row in self.rows],
            "notes": self.notes,
            "details": self.details,
        }


def save(sections: list[Section], path: Path = RESULTS_PATH) -> Path:
    """Write the sections to ``path``, keeping sections of earlier runs this run did not repeat."""
    previous: dict[str, Any] = {}
    if path.exists():
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
            previous = loaded.get("sections", {}) if isinstance(loaded, dict) else {}
        except (OSError, ValueError):
            previous = {}
    stamp = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": sys.version.split()[0],
            "implementation": platform.python_implementation(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
    }
    fresh = {section.key: {**section.as_json(), **stamp} for section in sections}
    document = {"sections": {**previous, **fresh}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path
