"""A seeded stream of engagement events shaped like real traffic.

Popularity is skewed: users and items are drawn independently from Zipf distributions (a few
heavy users and hot items, a long tail), which decides how many events of one stream batch
share an aggregate. Timestamps increase as live traffic does.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import accumulate
from typing import Any

from engagement.domain.timefmt import rfc3339

_TYPES = ("query", "view", "mention", "delivered", "clicked", "responded", "converted")
_TYPE_WEIGHTS = (25, 30, 15, 15, 8, 4, 3)


@dataclass(frozen=True)
class ZipfWorkload:
    events: int = 2000
    users: int = 300
    items: int = 200
    exponent: float = 1.1
    seed: int = 20261101
    max_gap_s: int = 30

    def describe(self) -> str:
        return (
            f"{self.events} events, Zipf s={self.exponent} over {self.users} users x {self.items} items,"
            f" seed {self.seed}"
        )

    def generate(self, end: datetime) -> list[dict[str, Any]]:
        """Request bodies of the events, oldest first, the newest a minute before ``end``."""
        rng = random.Random(self.seed)
        users = rng.choices(
            range(self.users), cum_weights=_zipf_cumulative(self.users, self.exponent), k=self.events
        )
        items = rng.choices(
            range(self.items), cum_weights=_zipf_cumulative(self.items, self.exponent), k=self.events
        )
        kinds = rng.choices(_TYPES, weights=_TYPE_WEIGHTS, k=self.events)
        offsets_s = list(accumulate(rng.randint(1, self.max_gap_s) for _ in range(self.events)))
        first = end - timedelta(minutes=1) - timedelta(seconds=offsets_s[-1])
        events: list[dict[str, Any]] = []
        for n in range(self.events):
            event: dict[str, Any] = {
                "event_id": f"zipf-{self.seed}-{n:06d}",
                "user_id": f"user-{users[n]:04d}",
                "item_id": f"AI-{items[n]:04d}",
                "type": kinds[n],
                "occurred_at": rfc3339(first + timedelta(seconds=offsets_s[n])),
            }
            if kinds[n] == "converted":
                event["value"] = rng.choice([4.99, 12.5, 30])
            events.append(event)
        return events


def _zipf_cumulative(n: int, exponent: float) -> list[float]:
    """Cumulative weights of ranks 1..n with weight 1 / rank**exponent."""
    return list(accumulate(1.0 / rank**exponent for rank in range(1, n + 1)))
