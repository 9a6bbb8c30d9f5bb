"""The whole system on one machine, built from the same topology as the cloud stack.

moto's DynamoDB server (with streams) stands in for DynamoDB, the gateway for API Gateway,
the pump for the event source mapping, the scheduler for EventBridge and the sweeper for TTL;
the functions are the real handler modules, run in this process.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3

from engagement.domain import clock as process_clock
from engagement.domain.timefmt import rfc3339
from engagement.topology import TOPOLOGY
from infra.local.buses import create_buses, drain
from infra.local.clock import RunnerClock
from infra.local.control import ControlApi
from infra.local.durable import DurableDynamoDB, mapping_key
from infra.local.dynamodb_server import DynamoDBServer
from infra.local.environment import apply as apply_environment
from infra.local.environment import function_environment
from infra.local.failure_queue import MirroredFailureStore, create_failure_queues, local_client
from infra.local.faults import Faults
from infra.local.gateway import Gateway
from infra.local.jobs import JobRunner
from infra.local.lambdas import LocalFunction, load_functions
from infra.local.pump import StreamPump
from infra.local.scheduler import Firing, Scheduler
from infra.local.stream_records import StreamReader, stream_arn
from infra.local.tables import create_tables
from infra.local.ttl import TtlSweeper
from infra.local.upkeep import Upkeep, bus_drainer

TABLE_PREFIX = "engagement"
TICK_S = 1.0
TTL_SWEEP_EVERY_S = 10.0

Log = Callable[[str, str], None]
"""(kind, line): kinds are http, stream, schedule, fault, ttl, info, error."""


@dataclass
class LocalConfig:
    api_keys: str
    secrets: dict[str, str] = field(default_factory=dict)
    """Other secrets by their local variable (TELEGRAM_WEBHOOK_SECRET, ...); unset ones refuse."""
    host: str = "127.0.0.1"
    port: int = 3000
    dynamodb_port: int = 8000
    log_level: str = "WARNING"
    state_file: Path | None = None
    """Where data survives restarts; None keeps everything in memory only."""
    fresh: bool = False
    """Ignore (and overwrite) the state file's data."""
    record_to: Path | None = None
    start_at: datetime | None = None
    """Where a fresh clock starts (then it runs with wall time); a restored clock never goes back."""


@dataclass
class AdvanceReport:
    now: datetime
    firings: list[Firing]
    expired: int

    def as_json(self) -> dict[str, Any]:
        return {
            "now": rfc3339(self.now),
            "runs": [f.as_json() for f in self.firings],
            "expired": self.expired,
        }


@dataclass
class LocalSystem:
    config: LocalConfig
    log: Log = field(default=lambda kind, line: print(line, flush=True))
    clock: RunnerClock = field(init=False, default_factory=RunnerClock)
    faults: Faults = field(init=False)
    failures: MirroredFailureStore = field(init=False, default_factory=MirroredFailureStore)
    functions: dict[str, LocalFunction] = field(init=False, default_factory=dict)
    pumps: list[StreamPump] = field(init=False, default_factory=list)
    tables: dict[str, str] = field(init=False, default_factory=dict)
    api_url: str = field(init=False, default="")
    dynamodb_url: str = field(init=False, default="")
    restored: dict[str, int] | None = field(init=False, default=None)
    bus_events: dict[str, list[dict[str, Any]]] = field(init=False, default_factory=dict)
    """By bus key: every event published on the bus since the runner started, oldest first."""
    _bus_taps: dict[str, str] = field(init=False, default_factory=dict)
    _dynamodb: DynamoDBServer | None = field(init=False, default=None)
    _durable: DurableDynamoDB | None = field(init=False, default=None)
    _upkeep: Upkeep | None = field(init=False, default=None)
    _gateway: Gateway | None = field(init=False, default=None)
    _scheduler: Scheduler | None = field(init=False, default=None)
    _ttl: TtlSweeper | None = field(init=False, default=None)
    _time_lock: threading.RLock = field(init=False, default_factory=threading.RLock)
    _stop: threading.Event = field(init=False, default_factory=threading.Event)
    _ticker: threading.Thread | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.faults = Faults(log=lambda line: self.log("fault", line))

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        # Journal, snapshot and stream checkpoints (infra.local.durable): what DynamoDB acknowledged survives.
        durable = self._durable = DurableDynamoDB(
            self.config.state_file,
            fresh=self.config.fresh,
            now=self.clock.now,
            log=lambda line: self.log("info", line),
        )
        saved = durable.load()
        if self.config.start_at is not None:
            self.clock.set(self.config.start_at)
        if saved is not None:
            self.clock.set(max(saved.now, self.clock.now()))
            durable.resumed(self.clock.now())
        process_clock.install(self.clock)

        self._dynamodb = DynamoDBServer(
            self.config.host, self.config.dynamodb_port, self.faults, wrap=durable.wrap
        )
        self.dynamodb_url = self._dynamodb.start()
        durable.mark_function_requests()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        sqs = local_client("sqs", self.dynamodb_url)
        failure_queues = create_failure_queues(sqs, TABLE_PREFIX)
        apply_environment(self._environment(dict(os.environ), failure_queues))
        # One failure store serves every mapping (the topology has one): it mirrors into the scorer's.
        self.failures.attach(sqs, failure_queues[TOPOLOGY.stream_mappings[0].function])
        client = boto3.client("dynamodb")
        self.tables = create_tables(client, TABLE_PREFIX)
        self._bus_taps = create_buses(boto3.client("events"), boto3.client("sqs"), TABLE_PREFIX)
        restored = durable.restore(self.tables)
        if saved is not None:
            self.restored = restored.items
            self.log("info", durable.describe(restored))
        for message in durable.failures:
            self.failures.add(message)
        self.failures.on_add = durable.note_failure
        self.clock.on_move = durable.note_clock

        self.functions = load_functions()
        for function in self.functions.values():
            function.load()  # every init phase now, so the first request is not a cold start

        self._ttl = TtlSweeper(client, self.tables, self.clock, lambda line: self.log("ttl", line))
        streams = boto3.client("dynamodbstreams")
        for mapping in TOPOLOGY.stream_mappings:
            table = self.tables[mapping.table]
            key = mapping_key(mapping.table, mapping.function)
            reader = StreamReader(
                streams,
                stream_arn(client, table),
                starting_position=mapping.starting_position,
                # Stamped on the runner's clock when written (and the same again on replay).
                created_s=lambda stamped: int(stamped.timestamp()),
                annotate=self._ttl.annotator(table),
                start_at=durable.stream_start(key, mapping.starting_position),
            )
            pump = StreamPump(
                mapping,
                reader=reader,
                function=self.functions[mapping.function],
                clock=self.clock,
                failures=self.failures,
                log=lambda line: self.log("stream", line),
                faults=self.faults,
                on_checkpoint=lambda _, sequence, key=key: durable.checkpoint(key, sequence),  # type: ignore[misc]
                age_credit=durable.age_credit,
            )
            pump.start()
            self.pumps.append(pump)

        self._scheduler = Scheduler(
            TOPOLOGY.schedules,
            JobRunner(self.functions, lambda line: self.log("schedule", line)),
            self.clock,
            lambda line: self.log("schedule", line),
        )
        self._gateway = Gateway(
            TOPOLOGY.routes,
            functions=self.functions,
            clock=self.clock,
            log=lambda line: self.log("http", line),
            control=ControlApi(self).handle,
            record_to=self.config.record_to,
            before_response=durable.sync_observed,
        )
        port = self._gateway.serve(self.config.host, self.config.port)
        self.api_url = f"http://{self.config.host}:{port}"
        self._ticker = threading.Thread(target=self._tick_forever, name="ticker", daemon=True)
        self._ticker.start()
        self._upkeep = Upkeep(
            [bus_drainer(list(self._bus_taps), self.published), durable.maybe_compact],
            lambda line: self.log("error", line),
        )
        self._upkeep.start()

    def stop(self) -> None:
        """Stop taking requests, let the batch in flight finish, and save everything, the stream
        records not yet delivered included: they are delivered after the next start. Nothing
        waits for the backlog, and nothing of it is lost."""
        self._stop.set()
        if self._gateway:
            self._gateway.stop()
        if self._ticker:
            self._ticker.join(timeout=5)
        if self._upkeep:
            self._upkeep.stop()
        for pump in self.pumps:
            if not pump.stop():
                self.log("info", f"{pump.name}: the batch in flight is delivered again after the next start")
        if self._durable:
            saved = self._durable.close()
            if saved is not None:
                kept = self._durable.undelivered(saved)
                self.log(
                    "info",
                    f"state: saved {_counts({k: len(v) for k, v in saved.tables.items()})} to "
                    f"{self.config.state_file}"
                    + (f"; {kept} stream records not yet scored are kept for the next start" if kept else ""),
                )
        if self._dynamodb:
            self._dynamodb.stop()

    def _environment(self, shell: Mapping[str, str], failure_queues: Mapping[str, str]) -> dict[str, str]:
        port = self.config.port
        return function_environment(
            shell=shell,
            table_prefix=TABLE_PREFIX,
            dynamodb_url=self.dynamodb_url,
            failure_queues=failure_queues,
            log_level=self.config.log_level,
            secrets={TOPOLOGY.secret("api_keys").local_env: self.config.api_keys, **self.config.secrets},
            # Links and signed callbacks use the URL the runner actually serves (a shell's
            # PUBLIC_BASE_URL, for a tunnel, wins).
            public_base_url=f"http://{self.config.host}:{port}" if port else None,
        )

    def published(self, key: str) -> list[dict[str, Any]]:
        """What the bus ``key`` carried so far (its tap drained into memory on each call)."""
        if key not in self._bus_taps:
            raise KeyError(key)
        seen = self.bus_events.setdefault(key, [])
        seen += drain(boto3.client("sqs"), self._bus_taps[key])
        return seen

    # ------------------------------------------------------------------ time

    def _tick_forever(self) -> None:
        """Wall time passes on the runner's clock too: fire what falls due, expire what lapsed."""
        last_sweep = 0.0
        while not self._stop.wait(TICK_S):
            try:
                with self._time_lock:
                    assert self._scheduler is not None
                    for at, rule in self._scheduler.due(self.clock.now()):
                        self._scheduler.fire(rule, at)
                    if time.monotonic() - last_sweep >= TTL_SWEEP_EVERY_S and self._ttl:
                        self._ttl.sweep()
                        last_sweep = time.monotonic()
            except Exception as exc:
                self.log("error", f"ticker: {exc!r}")

    def advance_to(self, target: datetime) -> AdvanceReport:
        """Move the clock to ``target``, running every schedule that falls due at its own instant
        (TTL expiry and stream traffic settled before and after each run); returns when all of
        it has settled."""
        with self._time_lock:
            if target < self.clock.now():
                raise ValueError(f"the clock only moves forward; it is {rfc3339(self.clock.now())}")
            assert self._scheduler is not None
            assert self._ttl is not None
            self._drain()
            firings: list[Firing] = []
            expired = 0
            for at, rule in self._scheduler.due(target):
                if at > self.clock.now():
                    self.clock.set(at)
                expired += self._ttl.sweep()
                self._drain()
                firings.append(self._scheduler.fire(rule, at))
                self._drain()
            self.clock.set(target)
            self._scheduler.checked = max(self._scheduler.checked, target)
            expired += self._ttl.sweep()
            self._drain()
            return AdvanceReport(now=self.clock.now(), firings=firings, expired=expired)

    def settle(self) -> None:
        """Deliver every stream record available now."""
        with self._time_lock:
            self._drain()

    def _drain(self) -> None:
        for pump in self.pumps:
            pump.drain()

    def status(self) -> dict[str, Any]:
        scheduler = self._scheduler
        return {
            "now": rfc3339(self.clock.now()),
            "api": self.api_url,
            "dynamodb": self.dynamodb_url,
            "tables": self.tables,
            "pending_stream_records": sum(p.pending() for p in self.pumps),
            "streams": [
                {"mapping": p.name, "pending": p.pending(), "in_flight": p.in_flight, **asdict(p.stats)}
                for p in self.pumps
            ],
            "failures": len(self.failures.messages()),
            "next_runs": {
                name: None if at is None else rfc3339(at)
                for name, at in (scheduler.next_fire_times() if scheduler else {}).items()
            },
            "faults": self.faults.snapshot(),
            "state": self._durable.status() if self._durable else None,
        }


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {table} items" for table, n in counts.items()) or "nothing"
