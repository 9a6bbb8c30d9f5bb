"""Item layouts of what is derived from the aggregates, and their conversions (pure).

aggregates table, per-user aggregate (pk "U#<user_id>", sk "#USER"), beyond ``items``:
    pb              the percentile bucket the contact is counted in
    band, band_score, band_since   current band, the composite that put it there, since when
    seg             "<band>#<shard>": the segments index's partition key (sharded so a busy band
                    never concentrates index writes on one partition)
    pending         JSON of a band change written but not yet confirmed published
    hday, hscore    the last history point's day and score
per-(user, item) aggregate: fn   funnel stages this engagement was counted in (string set)
percentile histogram:  pk "PCT#<shard>"       sk "B#<bucket>"   n = contacts in the bucket
campaign funnel:       pk "FUNNEL#<item_id>"  sk "S#<shard>"    n_<stage> = contacts reaching it
history table:         pk "U#<user_id>"       sk "H#<YYYY-MM-DD>"   score, band, components, expires_at
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
    HistoryMark,
    HistoryPoint,
    PairStages,
    SegmentMember,
)
from engagement.domain.event_types import EventType
from engagement.store.items import COUNT_PREFIX, PAIR_SK_PREFIX, USER_SK, contact_state_from_item
from engagement.store.wire import to_decimal

# Shard counts are part of the stored format: changing one means rebuilding what it shards.
PERCENTILE_SHARDS = 4
FUNNEL_SHARDS = 4
SEGMENT_SHARDS = 4

BUCKET = "pb"
BAND, BAND_SCORE, BAND_SINCE, SEGMENT, PENDING = "band", "band_score", "band_since", "seg", "pending"
HISTORY_DAY, HISTORY_SCORE = "hday", "hscore"
FUNNEL_COUNTED = "fn"
HISTORY_SK_PREFIX = "H#"


def shard_of(user_id: str, shards: int) -> int:
    """A contact always lands on the same shard; blake2b because ``hash()`` is salted per process."""
    return int.from_bytes(hashlib.blake2b(user_id.encode(), digest_size=4).digest(), "big") % shards


def percentile_key(shard: int, bucket: int) -> dict[str, str]:
    return {"pk": f"PCT#{shard}", "sk": f"B#{bucket}"}


def funnel_key(item_id: str, shard: int) -> dict[str, str]:
    return {"pk": f"FUNNEL#{item_id}", "sk": f"S#{shard}"}


def history_key(user_id: str, day: str) -> dict[str, str]:
    return {"pk": f"U#{user_id}", "sk": f"{HISTORY_SK_PREFIX}{day}"}


def segment_partition(band: str, shard: int) -> str:
    return f"{band}#{shard}"


def funnel_attribute(stage: EventType) -> str:
    return f"n_{stage.value}"


def contact_record_from_item(item: Mapping[str, Any]) -> ContactRecord:
    band = None
    if item.get(BAND) is not None:
        band = BandState(band=str(item[BAND]), score=float(item[BAND_SCORE]), since_ms=int(item[BAND_SINCE]))
    history = None
    if item.get(HISTORY_DAY) is not None:
        history = HistoryMark(day=str(item[HISTORY_DAY]), score=float(item[HISTORY_SCORE]))
    return ContactRecord(
        state=contact_state_from_item(item),
        bucket=None if item.get(BUCKET) is None else int(item[BUCKET]),
        band=band,
        pending=None if item.get(PENDING) is None else BandTransition.from_json(str(item[PENDING])),
        history=history,
    )


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


def history_item(user_id: str, point: HistoryPoint, expires_at_s: int) -> dict[str, Any]:
    return {
        **history_key(user_id, point.day),
        "expires_at": expires_at_s,
        "at_ms": point.at_ms,
        "score": to_decimal(point.score),
        "band": point.band,
        # JSON text: the components are read back whole, never queried, and floats stay exact.
        "components": json.dumps(dict(point.components), separators=(",", ":"), sort_keys=True),
    }


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
