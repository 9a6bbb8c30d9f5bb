"""Item layouts of what is derived from the aggregates, and their conversions (pure).

aggregates table, per-user aggregate (pk "U#<user_id>", sk "#USER"), beyond ``items``:
    pb              the percentile bucket the contact is counted in
    band, band_score, band_since   current band, the composite that put it there, since when
    seg             "<band>#<shard>": the segments index's partition key (sharded so a busy band
                    never concentrates index writes on one partition)
    pending         JSON of a band change written but not yet confirmed published
    hver, hat       the aggregate version whose state the latest history stretch holds, and
                    the instant that stretch starts
per-(user, item) aggregate: fn   funnel stages this engagement was counted in (string set)
percentile histogram:  pk "PCT#<shard>"       sk "B#<bucket>"   n = contacts in the bucket
campaign funnel:       pk "FUNNEL#<item_id>"  sk "S#<shard>"    n_<stage> = contacts reaching it
history table:         pk "U#<user_id>"       sk "S#<YYYY-MM-DD>"   a stretch: the contact's state
                       (the per-user aggregate's attributes) in force from that day's run, at_ms,
                       expires_at; or gap=true: days whose state is not known
                       sk "H#<YYYY-MM-DD>"   a point stored before stretches existed: score, band,
                       components, expires_at (read as it is; never written any more)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from engagement.domain.aggregates import AggregateKey
from engagement.domain.contact_records import (
    FUNNEL_STAGES,
    BandState,
    BandTransition,
    ContactRecord,
    HistoryPoint,
    PairStages,
    SegmentMember,
    Stretch,
)
from engagement.domain.event_types import EventType
from engagement.store.items import (
    COUNT_PREFIX,
    PAIR_SK_PREFIX,
    SEEN_MS,
    UNSEEN_MS,
    USER_SK,
    contact_state_attributes,
    contact_state_from_item,
)

# Shard counts are part of the stored format: changing one means rebuilding what it shards.
PERCENTILE_SHARDS = 4
FUNNEL_SHARDS = 4
SEGMENT_SHARDS = 4

BUCKET = "pb"
BAND, BAND_SCORE, BAND_SINCE, SEGMENT, PENDING = "band", "band_score", "band_since", "seg", "pending"
STRETCH_VERSION, STRETCH_AT = "hver", "hat"
GAP = "gap"
FUNNEL_COUNTED = "fn"
HISTORY_SK_PREFIX = "H#"
STRETCH_SK_PREFIX = "S#"


def shard_of(user_id: str, shards: int) -> int:
    """A contact always lands on the same shard; blake2b because ``hash()`` is salted per process."""
    return int.from_bytes(hashlib.blake2b(user_id.encode(), digest_size=4).digest(), "big") % shards


def percentile_key(shard: int, bucket: int) -> dict[str, str]:
    return {"pk": f"PCT#{shard}", "sk": f"B#{bucket}"}


def funnel_key(item_id: str, shard: int) -> dict[str, str]:
    return {"pk": f"FUNNEL#{item_id}", "sk": f"S#{shard}"}


def stretch_key(user_id: str, day: str) -> dict[str, str]:
    return {"pk": f"U#{user_id}", "sk": f"{STRETCH_SK_PREFIX}{day}"}


def segment_partition(band: str, shard: int) -> str:
    return f"{band}#{shard}"


def funnel_attribute(stage: EventType) -> str:
    return f"n_{stage.value}"


def contact_record_from_item(item: Mapping[str, Any]) -> ContactRecord:
    band = None
    if item.get(BAND) is not None:
        band = BandState(band=str(item[BAND]), score=float(item[BAND_SCORE]), since_ms=int(item[BAND_SINCE]))
    return ContactRecord(
        state=contact_state_from_item(item),
        bucket=None if item.get(BUCKET) is None else int(item[BUCKET]),
        band=band,
        pending=None if item.get(PENDING) is None else BandTransition.from_json(str(item[PENDING])),
        version=int(item.get("ver", 0)),
        stretch_version=_int_or_none(item.get(STRETCH_VERSION)),
        stretch_at_ms=_int_or_none(item.get(STRETCH_AT)),
        unseen_ms=_int_or_none(item.get(UNSEEN_MS)),
        seen_ms=_int_or_none(item.get(SEEN_MS)),
    )


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def pair_stages_from_item(item: Mapping[str, Any]) -> PairStages:
    reached = frozenset(s for s in FUNNEL_STAGES if int(item.get(f"{COUNT_PREFIX}{s.value}", 0)) > 0)
    counted = frozenset(EventType(s) for s in item.get(FUNNEL_COUNTED, ()))
    return PairStages(
        key=AggregateKey(
            user_id=str(item["pk"]).removeprefix("U#"), item_id=str(item["sk"]).removeprefix(PAIR_SK_PREFIX)
        ),
        reached=reached,
        counted=counted,
    )


def is_contact_item(item: Mapping[str, Any]) -> bool:
    return item.get("sk") == USER_SK


def stretch_item(user_id: str, stretch: Stretch, expires_at_s: int) -> dict[str, Any]:
    key = stretch_key(user_id, stretch.day)
    timing = {"at_ms": stretch.at_ms, "expires_at": expires_at_s}
    if stretch.state is None:
        return {**key, **timing, GAP: True}
    return {**contact_state_attributes(stretch.state), **key, **timing}


def stretch_from_item(item: Mapping[str, Any]) -> Stretch:
    return Stretch(
        day=str(item["sk"]).removeprefix(STRETCH_SK_PREFIX),
        at_ms=int(item["at_ms"]),
        state=None if item.get(GAP) else contact_state_from_item(item),
    )


def is_stretch_item(item: Mapping[str, Any]) -> bool:
    return str(item.get("sk", "")).startswith(STRETCH_SK_PREFIX)


def history_point_from_item(item: Mapping[str, Any]) -> HistoryPoint:
    return HistoryPoint(
        day=str(item["sk"]).removeprefix(HISTORY_SK_PREFIX),
        at_ms=int(item["at_ms"]),
        score=float(item["score"]),
        band=str(item["band"]),
        components={k: float(v) for k, v in json.loads(str(item.get("components", "{}"))).items()},
    )


def segment_member_from_item(item: Mapping[str, Any]) -> SegmentMember:
    return SegmentMember(
        user_id=str(item["uid"]),
        band=str(item[BAND]),
        score=float(item[BAND_SCORE]),
        since_ms=int(item[BAND_SINCE]),
    )
