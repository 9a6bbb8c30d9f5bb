"""When an engagement becomes eligible for cleanup, known the moment it is written.

The cleanup rule: a (user, item) engagement goes once its Linear score is below 0.01 and its
last interaction is at least 90 days old. With no further event the score only falls (recency
decays, the idle factor steps down), so the rule holds from one instant on, and that instant
follows from the aggregate alone. The scorer stores it as the item's TTL attribute: DynamoDB
deletes the item without a scan and without billing the delete, and a later event moves the
instant (the write sets it again). TTL deletes lazily (typically within days), so every read
treats an item past its expiry as gone already.

The instant is taken at saturated frequency (the highest score any interaction count gives),
so it depends only on the last interaction: the scorer's blind additive write knows that value
(the fast path sets it), not the count. It can only be later than the exact instant, never
earlier, and for the shipped profile it is exact: at 90 idle days the idle factor alone is
0.9^60 = 0.0018, so even a saturated score (0.4 + 0.6 e^-4.5) x 0.0018 = 0.0007 is below 0.01,
and the 90-day floor decides for every count. The bisection covers any other profile.
"""

from __future__ import annotations

import math

from engagement.domain.linear import LINEAR, MS_PER_DAY, LinearProfile
from engagement.domain.timefmt import from_ms

CLEANUP_BELOW_SCORE = 0.01
CLEANUP_MIN_IDLE_DAYS = 90
_SEARCH_LIMIT_DAYS = 100 * 365
"""Beyond a century nothing is worth keeping; a profile that never decays expires there."""


def _saturated_count(profile: LinearProfile) -> int:
    return max(1, math.ceil(1 / profile.frequency_per_interaction))


def _below(profile: LinearProfile, last_ms: int, at_ms: int) -> bool:
    score = profile.evaluate(_saturated_count(profile), last_ms, from_ms(at_ms)).score
    return score < CLEANUP_BELOW_SCORE


def expiry_ms(last_ms: int, profile: LinearProfile = LINEAR) -> int:
    """The first instant (epoch ms) at which an engagement last touched at ``last_ms`` meets the
    cleanup rule if nothing else happens: 90 idle days, or later while the score is still at or
    above 0.01 (bisection: the score never rises between events)."""
    floor = last_ms + CLEANUP_MIN_IDLE_DAYS * MS_PER_DAY
    if _below(profile, last_ms, floor):
        return floor
    low, high = floor, floor + MS_PER_DAY
    while not _below(profile, last_ms, high):
        low, high = high, high + 2 * (high - low)
        if high - last_ms > _SEARCH_LIMIT_DAYS * MS_PER_DAY:
            return last_ms + _SEARCH_LIMIT_DAYS * MS_PER_DAY
    while high - low > 1:
        middle = (low + high) // 2
        if _below(profile, last_ms, middle):
            high = middle
        else:
            low = middle
    return high


def expires_at_s(last_ms: int, profile: LinearProfile = LINEAR) -> int:
    """The TTL attribute's value: epoch seconds, rounded up so the item never goes early."""
    return -(-expiry_ms(last_ms, profile) // 1000)


def is_expired(expires_at: int | None, last_ms: int, now_ms: int, profile: LinearProfile = LINEAR) -> bool:
    """Whether a read at ``now_ms`` must treat the engagement as gone. Items written before
    expiries were stored (until the one-time sweep reaches them) get theirs computed."""
    seconds = expires_at_s(last_ms, profile) if expires_at is None else expires_at
    return seconds * 1000 < now_ms  # DynamoDB's rule: expired once the TTL is before now
