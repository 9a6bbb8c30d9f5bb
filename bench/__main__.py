"""``python -m bench [benchmark ...]``: run, print tables, save JSON.

Exit status is 0 whether targets are met or missed (a MISSED row is a finding, not a crash);
it is non-zero only when a benchmark could not run.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from time import perf_counter

from bench import coldstart, contact_reads, ingest, maintenance, package, runner, scoring, startup
from bench.report import RESULTS_PATH, Section, save

BENCHMARKS: dict[str, Callable[[], Section]] = {
    "ingest": ingest.run,
    "scoring": scoring.run,
    "coldstart": coldstart.run,
    "startup": startup.run,
    "package": package.run,
    "maintenance": maintenance.run,
    "contact_reads": contact_reads.run,
    "runner": runner.run,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "benchmarks",
        nargs="*",
        metavar="benchmark",
        help=f"one or more of {', '.join(BENCHMARKS)} (default: all, in that order)",
    )
    args = parser.parse_args(argv)
    chosen: list[str] = args.benchmarks or list(BENCHMARKS)
    unknown = [name for name in chosen if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")

    sections: list[Section] = []
    for name in chosen:
        started = perf_counter()
        print(f"[bench] running {name} ...", file=sys.stderr, flush=True)
        section = BENCHMARKS[name]()
        sections.append(section)
        print(section.render())
        print(f"  ({perf_counter() - started:.0f} s)\n", flush=True)

    path = save(sections, RESULTS_PATH)
    rows = [row for section in sections for row in section.rows if row.target is not None]
    missed = [f"{section.key}: {row.name}" for section in sections for row in section.missed]
    print(
        f"Targets met: {len(rows) - len(missed)} of {len(rows)}."
        + (f" MISSED: {'; '.join(missed)}." if missed else "")
    )
    print(f"Results written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
