"""moto's in-process DynamoDB backend, and the topology's handlers loaded against it.

Order matters and is enforced here: the environment is set and the mock started before any
boto3 client exists, and handler modules are imported only after both (their init phase builds
the DynamoDB client and Powertools reads its variables). Every benchmark scenario gets fresh
tables under its own prefix, and the process-wide store is rebuilt so handlers write there.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

import boto3
from moto import mock_aws

from bench.environment import DEPLOYED_POWERTOOLS, apply_to_this_process, function_environment
from engagement.topology import TOPOLOGY
from infra.local import moto_scale
from infra.local.buses import bus_environment, create_buses
from infra.local.lambdas import LocalContext, context_for
from infra.local.tables import create_tables, table_environment

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass(frozen=True)
class Tables:
    prefix: str
    names: dict[str, str]
    """Table key (``events``, ``aggregates``) -> physical name."""

    @property
    def events(self) -> str:
        return self.names["events"]

    @property
    def aggregates(self) -> str:
        return self.names["aggregates"]


@cache
def start() -> None:
    """Set the functions' environment and start moto in this process (once; it runs until exit)."""
    apply_to_this_process(function_environment(DEPLOYED_POWERTOOLS, table_prefix="unset"))
    mock_aws().start()
    moto_scale.install()  # Scan and transactions that cost what DynamoDB's do, for every benchmark


def fresh_tables(prefix: str) -> Tables:
    """Create the topology's tables under ``prefix`` and point every function's store at them."""
    start()
    names = create_tables(boto3.client("dynamodb"), prefix)
    create_buses(boto3.client("events"), boto3.client("sqs"), prefix)  # band changes are published
    os.environ.update({**table_environment(prefix), **bus_environment(prefix)})
    deps = importlib.import_module("engagement.deps")
    deps.reset()  # the next call builds a client, from boto3's default session, for these tables
    return Tables(prefix, names)


@dataclass(frozen=True)
class LoadedFunction:
    """One function of the topology after its init phase, invoked as Lambda would call it."""

    name: str
    handler: Handler

    def context(self) -> LocalContext:
        return context_for(TOPOLOGY.function(self.name))


def load(name: str) -> LoadedFunction:
    """Import a function's handler module (its init phase) after the backend is running."""
    start()
    spec = TOPOLOGY.function(name)
    handler: Handler = getattr(importlib.import_module(spec.module), spec.attribute)
    return LoadedFunction(name, handler)


@contextmanager
def stdout_discarded() -> Iterator[None]:
    """Send file descriptor 1 to /dev/null: Powertools' log lines and EMF metrics are still
    formatted and written, as in Lambda, but do not bury the benchmark's tables.

    Powertools' Logger keeps the ``sys.stdout`` object it found at import, so replacing
    ``sys.stdout`` would not reach it; the descriptor is swapped instead.
    """
    sys.stdout.flush()
    saved = os.dup(1)
    sink = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(sink, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(sink)
        os.close(saved)
