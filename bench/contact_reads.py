"""Contact scores at read time, and the percentile update, against the store calls they must make.

Read time. Measured: one call of the query function's handler with a real API Gateway payload
2.0 event for ``GET /v1/users/{id}/score?profile=crm`` (valid bearer key): authentication,
routing, validation, the contact read, the recent-events query, the CRM components, the three
probabilities (BG/NBD series included), the percentile and the explanation, and the JSON answer.
Baseline: the two reads the route cannot avoid, made bare with a client of the same
configuration: ``GetItem`` of the contact's aggregate and the ``Query`` of its latest events on
the events table's by-user index, with the same key condition and limit. The ratio is what
scoring at read time, instead of reading a stored number, adds to those reads. A second row
isolates the arithmetic: ``evaluate_contact`` (components, probabilities, percentile key) on the
record the read returned, against the bare ``GetItem``.

Percentile update. Measured: ``ContactStore.move_percentile``, the transaction the daily run
sends when a contact's level leaves its bucket (the contact's ``pb`` attribute, guarded, and the
two bucket counters). Baseline: one bare ``UpdateItem`` adding 1 to a counter, the cheapest
write that could count anything. DynamoDB bills each item of a transaction twice, so the move is
6 write units (4 when the contact enters its first bucket: no old counter) against the
counter's 1.

Both sides use the same moto in-process tables, alternate A,B / B,A and report medians. The
contacts come from the real path: events through the ingest handler, the stream to the scorer,
and one decay run so the percentile histogram holds every contact.
"""

from __future__ import annotations

import json
import statistics
from datetime import UTC, datetime
from time import perf_counter
from typing import Any

import boto3

from bench import backend
from bench.api_requests import accepted_count, get_request, post_events
from bench.report import Row, Section
from bench.sampling import alternate, quartiles
from bench.scoring import NO_FAILURES, WORKLOAD, stream_records
from engagement import deps
from engagement.domain.contact_queries import RECENT_EVENTS
from engagement.domain.scoring_config import DEFAULT_SCORING_CONFIG
from engagement.domain.timefmt import to_ms
from engagement.domain.upkeep import evaluate_contact
from engagement.store.contact_items import BUCKET
from engagement.store.dynamodb import CLIENT_CONFIG
from engagement.topology import EVENTS_BY_USER, TOPOLOGY
from infra.local.jobs import JobRunner
from infra.local.lambdas import load_functions

WARMUP = 20
ITERATIONS = 150
CONTACTS = 20
"""The workload's most active contacts, read in turn (the heaviest has a few hundred events)."""
READ_TARGET = 1.5


def run() -> Section:
    tables = backend.fresh_tables("bench-reads")
    query = backend.load("query")
    client = boto3.client("dynamodb", config=CLIENT_CONFIG)
    now = datetime.now(UTC)
    events = _feed_workload(tables, now)
    users = _most_active(events, CONTACTS)
    at_ms = to_ms(now)
    contacts = deps.store().contacts
    requests = [get_request(f"/v1/users/{user}/score", "profile=crm", now=now) for user in users]
    record_of = {user: contacts.get_contact(user) for user in users}

    def call_route(n: int) -> float:
        context = query.context()
        started = perf_counter()
        response = query.handler(requests[n % len(users)], context)
        elapsed = perf_counter() - started
        if response.get("statusCode") != 200 or "explanation" not in json.loads(response["body"]):
            raise RuntimeError(
                f"the score route answered {response.get('statusCode')}: {response.get('body')}"
            )
        return elapsed

    def bare_reads(n: int) -> float:
        user = users[n % len(users)]
        started = perf_counter()
        client.get_item(TableName=tables.aggregates, Key={"pk": {"S": f"U#{user}"}, "sk": {"S": "#USER"}})
        client.query(
            TableName=tables.events,
            IndexName=EVENTS_BY_USER.name,
            KeyConditionExpression="#u = :u AND #t <= :t",
            ExpressionAttributeNames={"#u": EVENTS_BY_USER.partition_key, "#t": EVENTS_BY_USER.sort_key},
            ExpressionAttributeValues={":u": {"S": user}, ":t": {"N": str(at_ms)}},
            ScanIndexForward=False,
            Limit=RECENT_EVENTS,
        )
        return perf_counter() - started

    def bare_get(n: int) -> float:
        user = users[n % len(users)]
        started = perf_counter()
        client.get_item(TableName=tables.aggregates, Key={"pk": {"S": f"U#{user}"}, "sk": {"S": "#USER"}})
        return perf_counter() - started

    def evaluate(n: int) -> float:
        record = record_of[users[n % len(users)]]
        assert record is not None
        started = perf_counter()
        evaluate_contact(record.state, at_ms, DEFAULT_SCORING_CONFIG)
        return perf_counter() - started

    counter_key = {"pk": {"S": "BENCH#counter"}, "sk": {"S": "n"}}
    buckets = iter(range(10**6))

    def move(n: int) -> float:
        user = users[n % len(users)]
        old = _bucket_of(client, tables.aggregates, user)
        started = perf_counter()
        moved = contacts.move_percentile(user, old, next(buckets) + 10_000)  # a fresh bucket each time
        elapsed = perf_counter() - started
        if not moved:
            raise RuntimeError(f"the percentile move of {user} was refused")
        return elapsed

    def bare_counter(_: int) -> float:
        started = perf_counter()
        client.update_item(
            TableName=tables.aggregates,
            Key=counter_key,
            UpdateExpression="ADD #n :one",
            ExpressionAttributeNames={"#n": "n"},
            ExpressionAttributeValues={":one": {"N": "1"}},
        )
        return perf_counter() - started

    with backend.stdout_discarded():
        route_us, reads_us = alternate(call_route, bare_reads, warmup=WARMUP, iterations=ITERATIONS)
        evaluate_us, get_us = alternate(evaluate, bare_get, warmup=WARMUP, iterations=ITERATIONS)
        move_us, counter_us = alternate(move, bare_counter, warmup=WARMUP, iterations=ITERATIONS)

    record_sizes = sorted(sum(r.state.counts.values()) for r in record_of.values() if r is not None)
    return Section(
        key="contact_reads",
        title="7. Contact score at read time, and the percentile update (median per call)",
        measured_label="ours",
        baseline_label="baseline",
        unit="us",
        decimals=0,
        rows=[
            Row(
                "GET /v1/users/{id}/score?profile=crm vs its GetItem + Query",
                statistics.median(route_us),
                statistics.median(reads_us),
                READ_TARGET,
            ),
            Row(
                "evaluate_contact (R F M TD D, 3 probabilities) vs GetItem",
                statistics.median(evaluate_us),
                statistics.median(get_us),
                None,
            ),
            Row(
                "percentile move (3-item transaction) vs bare counter update",
                statistics.median(move_us),
                statistics.median(counter_us),
                None,
            ),
        ],
        notes=[
            f"{ITERATIONS} calls per side after {WARMUP} warm-up calls, alternating A,B / B,A, over the"
            f" {CONTACTS} most active contacts of the scoring workload ({WORKLOAD.describe()}); their"
            f" events: {record_sizes[0]} to {record_sizes[-1]}.",
            "The route's extra cost over its reads is validation, the BG/NBD and conversion"
            " probabilities, the explanation and the response model; the percentile histogram is"
            " cached for 60 s per container, so it is not read on every call (as in Lambda).",
            "A percentile move is billed 6 write units (3 items, each item of a transaction twice;"
            " 4 when a contact enters its first bucket) against the counter's 1, and it happens once"
            " per contact whose level changed bucket since the last daily run (levels do not move"
            " with time alone), never per event.",
        ],
        details={
            "iterations_per_side": ITERATIONS,
            "route_us_quartiles": quartiles(route_us),
            "reads_us_quartiles": quartiles(reads_us),
            "evaluate_us_quartiles": quartiles(evaluate_us),
            "move_us_quartiles": quartiles(move_us),
            "counter_us_quartiles": quartiles(counter_us),
        },
    )


def _feed_workload(tables: backend.Tables, now: datetime) -> list[dict[str, Any]]:
    """The scoring workload through ingest, the stream and the scorer, then one decay run."""
    ingest, scorer = backend.load("ingest"), backend.load("scorer")
    events = WORKLOAD.generate(end=now)
    with backend.stdout_discarded():
        for start in range(0, len(events), 100):
            chunk = events[start : start + 100]
            if accepted_count(ingest.handler(post_events(chunk, now=now), ingest.context())) != len(chunk):
                raise RuntimeError("ingest did not store the workload")
        records = stream_records(tables.events)
        size = TOPOLOGY.stream_mapping_for("scorer").batch_size
        for begin in range(0, len(records), size):
            if scorer.handler({"Records": records[begin : begin + size]}, scorer.context()) != NO_FAILURES:
                raise RuntimeError("the scorer reported failures")
        JobRunner(load_functions(), log=lambda _: None).run(TOPOLOGY.job("decay"), now)
    return events


def _most_active(events: list[dict[str, Any]], count: int) -> list[str]:
    totals: dict[str, int] = {}
    for event in events:
        totals[event["user_id"]] = totals.get(event["user_id"], 0) + 1
    return sorted(totals, key=lambda user: (-totals[user], user))[:count]


def _bucket_of(client: Any, table: str, user: str) -> int | None:
    item = client.get_item(
        TableName=table, Key={"pk": {"S": f"U#{user}"}, "sk": {"S": "#USER"}}, ConsistentRead=True
    ).get("Item", {})
    value = item.get(BUCKET, {}).get("N")
    return None if value is None else int(value)
