"""Timing two sides against each other: interleaved calls, medians, quartiles for the record."""

from __future__ import annotations

import statistics
from collections.abc import Callable

Timed = Callable[[int], float]
"""Makes call ``n`` and returns the seconds it took (timing only what is measured)."""


def alternate(a: Timed, b: Timed, *, warmup: int, iterations: int) -> tuple[list[float], list[float]]:
    """Microseconds per call of each side, A,B then B,A in turn, so drift in the machine (or in
    a table growing under the calls) reaches both sides alike; warm-up calls are dropped."""
    a_us: list[float] = []
    b_us: list[float] = []
    sides = [(a, a_us), (b, b_us)]
    for n in range(warmup + iterations):
        for call, samples in sides if n % 2 == 0 else reversed(sides):
            elapsed = call(n)
            if n >= warmup:
                samples.append(elapsed * 1e6)
    return a_us, b_us


def quartiles(samples: list[float]) -> list[float]:
    return [round(q, 1) for q in statistics.quantiles(samples, n=4)]
