"""Reading many keys at once: unprocessed keys are asked again, after a pause, and a read that
stays incomplete fails as retryable instead of answering with part of the items."""

from __future__ import annotations

from typing import Any

import pytest

from engagement.domain.errors import StoreError
from engagement.store import wire
from engagement.store.wire import batch_get_all


class Throttling:
    """A client that leaves the last key of each call unprocessed ``times`` times."""

    def __init__(self, times: int) -> None:
        self.times, self.calls = times, []  # type: ignore[var-annotated]

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(RequestItems)
        ((table, request),) = RequestItems.items()
        keys = request["Keys"]
        if self.times and len(keys) > 0:
            self.times -= 1
            served, left = keys[:-1], keys[-1:]
        else:
            served, left = keys, []
        unprocessed = {table: {**request, "Keys": left}} if left else {}
        return {"Responses": {table: [dict(k, v={"N": "1"}) for k in served]}, "UnprocessedKeys": unprocessed}


@pytest.fixture(autouse=True)
def no_pause(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    pauses: list[float] = []
    monkeypatch.setattr(wire.time, "sleep", pauses.append)
    return pauses


def test_unprocessed_keys_are_asked_again_after_growing_pauses(no_pause: list[float]) -> None:
    client = Throttling(times=2)
    keys = [{"pk": f"k{n}"} for n in range(150)]
    found = batch_get_all(client, "reading", {"t": keys}, consistent=True)  # type: ignore[arg-type]
    assert sorted(item["pk"] for item in found["t"]) == sorted(k["pk"] for k in keys)
    assert [len(c["t"]["Keys"]) for c in client.calls] == [100, 1, 1, 50]
    assert all(c["t"]["ConsistentRead"] is True for c in client.calls)
    assert no_pause == [0.05, 0.1]


def test_a_read_still_incomplete_after_the_attempts_is_a_retryable_error() -> None:
    with pytest.raises(StoreError) as refused:
        batch_get_all(Throttling(times=99), "reading", {"t": [{"pk": "a"}]})  # type: ignore[arg-type]
    assert refused.value.retryable
