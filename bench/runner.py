"""The local runner end to end: mixed Linear and SMS events over HTTP, scored with funnels, bands
and percentiles on (the runner's defaults), journal on (``make run``'s default state file).

Measured, each against a baseline taken in the same run on the same runner:

* resident memory of the runner after every event is scored, against before the first (growth
  within a 500 MB budget): moto's whole-table copy per transaction grew it to 10 GB;
* scoring time per record over the last thousand records against the first thousand (at most
  1.5): the same bug slowed batches from 11 to 60 s as the tables grew;
* ingest: events per second accepted by ``POST /v1/events`` from 8 client threads, against bare
  ``PutItem`` calls per second from 8 threads on the same DynamoDB endpoint (at least 0.5),
  both journaled and fsynced before their answer (group commit), the scorer held meanwhile so
  neither side competes with it. Ingest sends 10 events per request, as a provider's batch or
  one's own system would; each event is still its own conditional write.

Scoring is timed from the runner's own batch log lines (``N records ok (T ms)``), with the stream
released after ingest so every batch is full and nothing else runs beside it.

``BENCH_RUNNER_EVENTS`` sets the number of events: 2,000 by default, which keeps the section
near 2 minutes on 2 cores, so ``make bench`` as a whole stays under 15 (scoring runs at about 20
records a second, bound by moto's UpdateItem);
``BENCH_RUNNER_EVENTS=20000 python -m bench runner`` is the long run (about 17 minutes).
"""

from __future__ import annotations

import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3

from bench.report import Row, Section

ROOT = Path(__file__).resolve().parent.parent
KEY = "bench-key"
CLIENTS = 8
PER_REQUEST = 10
BARE_PUTS = 3_000
WINDOW = 1_000
WARM_UP = 100
MEMORY_BUDGET_MB = 500.0
_BATCH = re.compile(r"events -> scorer: (\d+) records ok \((\d+) ms\)")


def _events() -> int:
    return int(os.environ.get("BENCH_RUNNER_EVENTS", "2000"))


def workload(count: int, seed: int = 20261206, prefix: str = "bench") -> list[dict[str, Any]]:
    """Half chat (query, mention, view on issue keys), half SMS (delivered, clicked, responded,
    converted, opted out on campaigns, phone numbers as users), skewed like real traffic."""
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(hours=6)
    events: list[dict[str, Any]] = []
    for n in range(count):
        occurred = (start + timedelta(seconds=n)).isoformat()
        if n % 2:
            kind = rng.choices(
                ["delivered", "clicked", "responded", "converted", "opted_out"], [60, 20, 10, 6, 4]
            )[0]
            event: dict[str, Any] = {
                "event_id": f"{prefix}-sms-{n}",
                "user_id": f"+1415{int(rng.paretovariate(1.1) * 1000) % 10_000_000:07d}",
                "item_id": f"campaign-{int(rng.paretovariate(1.3)) % 40}",
                "type": kind,
                "occurred_at": occurred,
            }
            if kind == "converted":
                event["value"] = rng.choice([4.99, 12.5, 30])
        else:
            event = {
                "event_id": f"{prefix}-chat-{n}",
                "user_id": str(int(rng.paretovariate(1.1) * 100) % 5_000),
                "item_id": f"AI-{int(rng.paretovariate(1.2) * 10) % 2_000}",
                "type": rng.choices(["query", "mention", "view"], [40, 20, 40])[0],
                "occurred_at": occurred,
            }
        events.append(event)
    return events


@dataclass
class RunnerProcess:
    process: subprocess.Popen[str]
    url: str
    dynamodb_url: str
    lines: list[str] = field(default_factory=list)

    def control(self, method: str, name: str, body: Any = None) -> Any:
        request = urllib.request.Request(
            f"{self.url}/_local/{name}",
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=600) as response:
            return json.loads(response.read())

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def batches(self) -> list[tuple[int, int]]:
        return [(int(m[1]), int(m[2])) for line in list(self.lines) if (m := _BATCH.search(line))]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start(state_dir: Path) -> RunnerProcess:
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    env.update(
        PORT=str(_free_port()),
        DYNAMODB_PORT=str(_free_port()),
        ENGAGEMENT_API_KEYS=KEY,
        STATE_FILE=str(state_dir / "state.json"),
        RUNNER_FILE=str(state_dir / "runner.json"),
        NO_COLOR="1",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "infra.local"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("ready:"):
            runner = RunnerProcess(
                process,
                url=line.split("API ", 1)[1].split()[0],
                dynamodb_url=line.split("DynamoDB ", 1)[1].split()[0],
            )
            break
    else:
        raise RuntimeError("the runner did not start")

    def collect() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if "records ok" in line or "error" in line:
                runner.lines.append(line)

    threading.Thread(target=collect, daemon=True).start()
    return runner


def _in_threads(work: list[Any], call: Any) -> float:
    """Run ``call`` on every item of ``work`` from CLIENTS threads; returns the wall time."""
    lock = threading.Lock()
    position = [0]
    errors: list[BaseException] = []

    def worker() -> None:
        while True:
            with lock:
                if position[0] >= len(work) or errors:
                    return
                item = work[position[0]]
                position[0] += 1
            try:
                call(item)
            except BaseException as exc:
                errors.append(exc)
                return

    threads = [threading.Thread(target=worker) for _ in range(CLIENTS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - started


def _post(url: str, events: list[dict[str, Any]]) -> None:
    request = urllib.request.Request(
        f"{url}/v1/events",
        data=json.dumps({"events": events}).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        body = json.loads(response.read())
    if body.get("accepted") != len(events):
        raise RuntimeError(f"not every event was accepted: {body}")


def _bare_puts(runner: RunnerProcess, count: int) -> float:
    """PutItem on a table of the same endpoint (no stream: nothing is scored), items shaped as
    ingest writes them, with its condition."""
    client = boto3.client(
        "dynamodb",
        endpoint_url=runner.dynamodb_url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    client.create_table(
        TableName="bench-bare",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    now = datetime.now(UTC).isoformat()
    items = [
        {
            "pk": {"S": f"E#bare-{n:06d}"},
            "event_id": {"S": f"bare-{n:06d}"},
            "user_id": {"S": f"+1415{n % 9_999_999:07d}"},
            "item_id": {"S": f"campaign-{n % 40}"},
            "type": {"S": "delivered"},
            "occurred_at": {"S": now},
            "occurred_ms": {"N": str(n)},
            "source": {"S": "api"},
            "received_at": {"S": now},
            "expires_at": {"N": "1900000000"},
        }
        for n in range(count)
    ]

    def put(item: dict[str, Any]) -> None:
        client.put_item(TableName="bench-bare", Item=item, ConditionExpression="attribute_not_exists(pk)")

    return _in_threads(items, put)


def _after_warm_up(batches: list[tuple[int, int]]) -> list[tuple[int, int]]:
    seen = 0
    for index, (records, _) in enumerate(batches):
        seen += records
        if seen >= WARM_UP:
            return batches[index + 1 :]
    return []


def _per_record_ms(batches: list[tuple[int, int]]) -> float:
    records = sum(n for n, _ in batches)
    return sum(ms for _, ms in batches) / records


def _window(batches: list[tuple[int, int]], size: int) -> list[tuple[int, int]]:
    """The leading batches covering ``size`` records."""
    taken: list[tuple[int, int]] = []
    for batch in batches:
        taken.append(batch)
        if sum(n for n, _ in taken) >= size:
            break
    return taken


def run() -> Section:
    count = _events()
    events = workload(count)
    with tempfile.TemporaryDirectory(prefix="bench-runner-") as tmp:
        runner = _start(Path(tmp))
        try:
            # Every code path once (ingest, scorer, bands, funnels, the buses), so the baseline
            # holds what any runner holds after its first events, and growth is what remains.
            _post(runner.url, workload(WARM_UP, seed=1, prefix="warm-up"))
            runner.control("POST", "settle")
            rss_before = runner.rss_mb()
            runner.control("POST", "faults", {"hold_stream": True})  # the scorer waits: see above

            requests = [events[i : i + PER_REQUEST] for i in range(0, count, PER_REQUEST)]
            ingest_s = _in_threads(requests, lambda chunk: _post(runner.url, chunk))
            bare_s = _bare_puts(runner, BARE_PUTS)
            journal = runner.control("GET", "status")["state"]["journal"]

            runner.control("DELETE", "faults")  # release: the backlog is scored, batch after batch
            scoring_started = time.perf_counter()
            peak = rss_before
            while (
                runner.control("GET", "status")["pending_stream_records"]
                or sum(n for n, _ in runner.batches()) < count + WARM_UP
            ):
                peak = max(peak, runner.rss_mb())
                time.sleep(1)
            scoring_s = time.perf_counter() - scoring_started
            rss_after = runner.rss_mb()
            peak = max(peak, rss_after)
            batches = runner.batches()
        finally:
            runner.process.terminate()
            runner.process.wait(timeout=120)

    scored = _after_warm_up(batches)
    first = _window(scored, WINDOW)
    last = list(reversed(_window(list(reversed(scored)), WINDOW)))
    ingest_us = ingest_s / count * 1e6
    bare_us = bare_s / BARE_PUTS * 1e6
    return Section(
        key="runner",
        title="7. Local runner: mixed Linear + SMS events over HTTP, journal on (side by side)",
        measured_label="measured",
        baseline_label="baseline",
        unit="",
        decimals=2,
        rows=[
            Row("memory growth, MB, vs the 500 MB budget", rss_after - rss_before, MEMORY_BUDGET_MB, 1.0),
            Row("resident memory after / before, MB", rss_after, rss_before, None),
            Row(
                f"scoring ms per record, last {WINDOW:,} vs first {WINDOW:,}",
                _per_record_ms(last),
                _per_record_ms(first),
                1.5,
            ),
            Row(
                "ingest us per event (8 clients, HTTP) vs bare PutItem (8 threads)",
                ingest_us,
                bare_us,
                2.0,
            ),
            Row("journal entries per fsync (group commit)", journal["entries"], journal["fsyncs"], None),
        ],
        notes=[
            f"{count:,} events (half chat, half SMS; Zipf-like users and items), {PER_REQUEST} per request"
            f" from {CLIENTS} client threads; funnels, bands and percentiles on, as the runner runs by"
            " default; the state file and its journal on, as make run does.",
            f"Ingest: {count / ingest_s:,.0f} events/s against {BARE_PUTS / bare_s:,.0f} bare PutItem/s"
            f" = {bare_us / ingest_us:.2f} of bare throughput (target at least 0.5, that is a ratio of"
            " at most 2.0 in time per write); the scorer held meanwhile.",
            f"Scoring: {count:,} records in {scoring_s:,.0f} s ({count / scoring_s:,.1f} records/s),"
            f" batches of 100; peak resident memory {peak:,.0f} MB.",
            "moto's UpdateItem (expression parsing and validation, about 5 ms each, 4 per event with"
            " bands and percentiles) sets the scoring rate; growth, not the rate, is what this checks.",
        ],
        details={
            "events": count,
            "ingest_s": round(ingest_s, 2),
            "bare_puts": BARE_PUTS,
            "bare_s": round(bare_s, 2),
            "scoring_s": round(scoring_s, 2),
            "rss_before_mb": round(rss_before, 1),
            "rss_after_mb": round(rss_after, 1),
            "rss_peak_mb": round(peak, 1),
            "journal": journal,
            "first_batches": first,
            "last_batches": last,
        },
    )
