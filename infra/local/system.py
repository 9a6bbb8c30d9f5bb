"""The whole system on one machine, built from the same topology as the cloud stack.

moto's DynamoDB server (with streams) stands in for DynamoDB, the gateway for API Gateway,
the pump for the event source mapping and the scheduler for EventBridge; the functions are
the real handler modules, run in this process.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import boto3
from moto.server import ThreadedMotoServer

from engagement.domain import clock as process_clock
from engagement.topology import TOPOLOGY
from infra.local.clock import RunnerClock
from infra.local.gateway import Gateway
from infra.local.lambdas import REGION, LocalFunction, load_functions
from infra.local.pump import FailureStore, StreamPump
from infra.local.scheduler import Scheduler
from infra.local.stream_records import StreamReader, stream_arn
from infra.local.tables import create_tables, table_environment

TABLE_PREFIX = "engagement"


@dataclass
class LocalConfig:
    api_keys: str
    host: str = "127.0.0.1"
    port: int = 3000
    dynamodb_port: int = 8000
    log_level: str = "WARNING"
    start_at: datetime | None = None


@dataclass
class LocalSystem:
    config: LocalConfig
    log: Callable[[str], None] = print
    clock: RunnerClock = field(init=False)
    functions: dict[str, LocalFunction] = field(init=False, default_factory=dict)
    failures: FailureStore = field(init=False, default_factory=FailureStore)
    pumps: list[StreamPump] = field(init=False, default_factory=list)
    api_url: str = field(init=False, default="")
    dynamodb_url: str = field(init=False, default="")
    _moto: ThreadedMotoServer | None = field(init=False, default=None)
    _gateway: Gateway | None = field(init=False, default=None)
    _scheduler: Scheduler | None = field(init=False, default=None)

    def start(self) -> None:
        self.clock = RunnerClock(self.config.start_at)
        process_clock.install(self.clock)
        self._start_dynamodb()
        tables = create_tables(boto3.client("dynamodb"), TABLE_PREFIX)
        self.functions = load_functions()
        for function in self.functions.values():
            function.load()  # every init phase now, so the first request is not a cold start

        streams = boto3.client("dynamodbstreams")
        for mapping in TOPOLOGY.stream_mappings:
            reader = StreamReader(
                streams,
                stream_arn(boto3.client("dynamodb"), tables[mapping.table]),
                starting_position=mapping.starting_position,
                created_s=lambda wall: int(self.clock.from_wall(wall).timestamp()),
            )
            pump = StreamPump(
                mapping,
                reader=reader,
                function=self.functions[mapping.function],
                clock=self.clock,
                failures=self.failures,
                log=self.log,
            )
            pump.start()
            self.pumps.append(pump)

        self._scheduler = Scheduler(TOPOLOGY.schedules, self.functions, self.clock, self.log)
        self._scheduler.start()
        self._gateway = Gateway(TOPOLOGY.routes, self.functions, self.clock, self.log)
        port = self._gateway.serve(self.config.host, self.config.port)
        self.api_url = f"http://{self.config.host}:{port}"

    def _start_dynamodb(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._moto = ThreadedMotoServer(
            ip_address=self.config.host, port=self.config.dynamodb_port, verbose=False
        )
        with contextlib.redirect_stdout(io.StringIO()):  # moto announces itself on stdout
            self._moto.start()
        host, port = self._moto.get_host_and_port()
        self.dynamodb_url = f"http://{host}:{port}"
        os.environ.update(self._environment())

    def _environment(self) -> dict[str, str]:
        """What the stack would give every function, pointed at this machine. Credentials are
        fake on purpose: nothing the runner starts can reach a real AWS account."""
        return {
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_SESSION_TOKEN": "local",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
            "AWS_ENDPOINT_URL_DYNAMODB": self.dynamodb_url,
            "AWS_ENDPOINT_URL_DYNAMODB_STREAMS": self.dynamodb_url,
            "POWERTOOLS_SERVICE_NAME": "engagement",
            "POWERTOOLS_METRICS_NAMESPACE": "EngagementScoring",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": self.config.log_level,
            TOPOLOGY.secret("api_keys").local_env: self.config.api_keys,
            **table_environment(TABLE_PREFIX),
        }

    def settle(self) -> None:
        """Deliver every pending stream record and run every schedule that is due."""
        for pump in self.pumps:
            pump.drain()
        if self._scheduler:
            self._scheduler.run_due()
        for pump in self.pumps:
            pump.drain()

    def stop(self) -> None:
        if self._gateway:
            self._gateway.stop()
        if self._scheduler:
            self._scheduler.stop()
        for pump in self.pumps:
            pump.stop()
        if self._moto:
            self._moto.stop()
