from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engagement.domain.timefmt import from_ms, parse_rfc3339, rfc3339, to_ms


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-20T10:00:00Z",
        "2026-11-20T10:00:00z",
        "2026-11-20T11:00:00+01:00",
        "2026-11-20T11:00:00 01:00",
    ],
)
def test_parse_accepts_offsets_including_a_plus_lost_to_query_decoding(text: str) -> None:
    assert parse_rfc3339(text) == datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def test_parse_refuses_a_local_time() -> None:
    with pytest.raises(ValueError, match="with an offset"):
        parse_rfc3339("2026-11-20T10:00:00")


def test_rendering_uses_z_and_keeps_fractions() -> None:
    assert rfc3339(datetime(2026, 11, 20, 10, 0, tzinfo=UTC)) == "2026-11-20T10:00:00Z"
    assert rfc3339(datetime(2026, 11, 20, 10, 0, 0, 123000, tzinfo=UTC)) == "2026-11-20T10:00:00.123000Z"


def test_millisecond_round_trip() -> None:
    instant = datetime(2026, 11, 20, 10, 0, 0, 123000, tzinfo=UTC)
    assert from_ms(to_ms(instant)) == instant
    assert to_ms(datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)) == 1000
