"""The runner's DynamoDB made durable: nothing it acknowledged is lost, SIGKILL included.

Design (README "State and inspection" says the same for users):

* **Journal first, answer second.** A WSGI layer in front of moto runs every DynamoDB and
  DynamoDB Streams request under one lock (moto is not thread-safe either), so requests apply
  in one order; a mutating request (``PutItem``, ``UpdateItem``, ``DeleteItem``,
  ``BatchWriteItem``, ``TransactWriteItems`` and PartiQL) is appended to the journal in that
  order, and its response waits until the journal is fsynced that far (group commit: one fsync
  for every request that queued meanwhile). Every other response waits too, for the journal
  position it observed, so no answer reflects a state a crash could take back; with nothing
  queued that wait is free. Refused writes are journaled as well: replay must meet the same
  refusals to reach the same state, and "already stored" is an acknowledgement too.
* **Who waits.** A function running in the runner acknowledges nothing itself: the gateway
  answers its HTTP request, the pump checkpoints its batch. So a function's own DynamoDB calls
  (marked with ``DEFERRED_HEADER`` by a botocore hook) do not wait for the fsync one by one; the
  gateway waits once before answering, outside the function's lock, so concurrent requests
  share fsyncs, and the pump's checkpoint waits (the journal is ordered: a synced checkpoint
  implies the batch's writes before it are synced). Clients outside the process (the AWS CLI,
  a benchmark's PutItem) are answered only once their write is on disk.
* **Deterministic replay.** A journaled write carries the runner's clock at the time it applied;
  replay sends the same request bodies, in order, through the same moto application. The records
  a write adds to a table's stream are stamped with that instant (and an event id derived from
  their sequence number), so replay rebuilds the stream record for record: same sequence numbers,
  same creation times. The creation time matters beyond fidelity: the scorer's dedupe slots are
  chosen by it, so a redelivered record must carry the time it first had.
* **Stream position.** The pump reports, after every batch, the sequence number of the first
  record it has not consumed (delivered successfully, filtered out, or discarded to the failure
  store); it is journaled and fsynced before the next batch. On restart the pump resumes at the
  last one, so batches completed before a crash are not delivered again, the batch in flight is
  (its effects may be partly written: that is Lambda's at-least-once, and the scorer's dedupe
  settles exactly that batch), and records stored but not yet delivered are delivered once.
* **Snapshots.** On a clean stop, after start-up replay and when a journal segment grows past
  ``COMPACT_AFTER_BYTES``, the tables, the stream records not yet consumed (with their sequence
  numbers), the checkpoints, the clock and the failure store are written to the state file
  (atomically: temporary file, fsync, rename), and journal segments it covers are deleted.
* **Time the runner was down** does not age stream records: Lambda's maximum record age is
  measured on a clock that was running, so the pump is given the downtime to credit.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.table import StreamRecord

from engagement.domain.timefmt import parse_rfc3339, rfc3339
from infra.local.journal import Entry, Journal, JournalClosed, read
from infra.local.lambdas import REGION, in_invocation

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

FORMAT_VERSION = 2
MUTATIONS = frozenset(
    {
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "BatchWriteItem",
        "TransactWriteItems",
        # PartiQL can write; a read among them replays as a read, harmlessly.
        "ExecuteStatement",
        "BatchExecuteStatement",
        "ExecuteTransaction",
    }
)
DEFERRED_HEADER = "X-Local-Runner-Deferred"
COMPACT_AFTER_BYTES = 64 * 1024 * 1024
"""A journal segment this large is folded into a snapshot: it bounds replay time after a crash."""
RETAIN_CONSUMED = 1_000
"""Consumed stream records kept for inspection with the AWS CLI (DynamoDB keeps 24 h; moto
kept every record forever, a leak the size of the event log)."""
DOWNTIMES_KEPT = 100

_ACCOUNT = "123456789012"  # moto's default account, which the runner's fake credentials map to
_AUTHORIZATION = (
    f"AWS4-HMAC-SHA256 Credential=local/20260101/{REGION}/dynamodb/aws4_request, "
    "SignedHeaders=host;x-amz-target, Signature=0"
)

Log = Callable[[str], None]


# ---------------------------------------------------------------------------------- wire format


def _wire(value: Any) -> dict[str, Any]:
    """A moto ``DynamoType`` in DynamoDB's JSON wire format (binary as base64 text)."""
    kind, inner = value.type, value.value
    if kind == "M":
        return {kind: {k: _wire(v) for k, v in inner.items()}}
    if kind == "L":
        return {kind: [_wire(v) for v in inner]}
    if kind == "B":
        return {kind: _b64(inner)}
    if kind == "BS":
        return {kind: [_b64(member) for member in inner]}
    if kind in ("SS", "NS"):
        return {kind: list(inner)}
    return {kind: inner}


def _b64(value: str | bytes) -> str:
    return base64.b64encode(value).decode() if isinstance(value, bytes) else value


def _from_wire(value: dict[str, Any]) -> dict[str, Any]:
    """Wire format as moto holds it after parsing a request: binary as bytes."""
    ((kind, inner),) = value.items()
    if kind == "M":
        return {kind: {k: _from_wire(v) for k, v in inner.items()}}
    if kind == "L":
        return {kind: [_from_wire(v) for v in inner]}
    if kind == "B":
        return {kind: base64.b64decode(inner)}
    if kind == "BS":
        return {kind: [base64.b64decode(member) for member in inner]}
    return value


def _image(attributes: dict[str, Any], convert: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    return {name: convert(value) for name, value in attributes.items()}


def _to_wire(value: dict[str, Any]) -> dict[str, Any]:
    """A stream image's attribute (binary as bytes) in wire format."""
    ((kind, inner),) = value.items()
    if kind == "M":
        return {kind: {k: _to_wire(v) for k, v in inner.items()}}
    if kind == "L":
        return {kind: [_to_wire(v) for v in inner]}
    if kind == "B":
        return {kind: _b64(inner)}
    if kind == "BS":
        return {kind: [_b64(member) for member in inner]}
    return value


_IMAGES = ("Keys", "NewImage", "OldImage")


def _item_wire(item: Any) -> dict[str, Any]:
    return {name: _wire(value) for name, value in item.attrs.items()}


def _record_json(record: dict[str, Any]) -> dict[str, Any]:
    """A moto stream record as JSON: its images are already wire format; its stamp a datetime."""
    dynamodb = dict(record["dynamodb"])
    dynamodb["ApproximateCreationDateTime"] = _ms(dynamodb["ApproximateCreationDateTime"])
    for name in _IMAGES:
        if name in dynamodb:
            dynamodb[name] = _image(dynamodb[name], _to_wire)
    return {**record, "dynamodb": dynamodb}


def _record_from_json(data: dict[str, Any]) -> dict[str, Any]:
    dynamodb = dict(data["dynamodb"])
    dynamodb["ApproximateCreationDateTime"] = _naive_utc(int(dynamodb["ApproximateCreationDateTime"]))
    for name in _IMAGES:
        if name in dynamodb:
            dynamodb[name] = _image(dynamodb[name], _from_wire)
    return {**data, "dynamodb": dynamodb}


def _ms(instant: datetime) -> int:
    aware = instant if instant.tzinfo else instant.replace(tzinfo=UTC)
    return int(aware.timestamp() * 1000)


def _naive_utc(ms: int) -> datetime:
    """moto stamps stream records with naive UTC datetimes (``utcnow``); so does this."""
    return datetime.fromtimestamp(ms / 1000, UTC).replace(tzinfo=None)


def _event_id(table: str, sequence: int) -> str:
    return hashlib.md5(f"{table}/{sequence}".encode(), usedforsecurity=False).hexdigest()


# ------------------------------------------------------------------------------------- snapshot


@dataclass
class Snapshot:
    """What the state file holds (format 2; format 1 files, items and clock only, still load)."""

    now: datetime
    lsn: int = 0
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Table key (as in the topology) -> items in DynamoDB JSON."""
    streams: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Table key -> {"first": sequence number of the first record kept, "records": [...]}."""
    checkpoints: dict[str, int] = field(default_factory=dict)
    """Mapping -> sequence number of the first record it has not consumed."""
    failures: list[dict[str, Any]] = field(default_factory=list)
    downtimes: list[tuple[int, int]] = field(default_factory=list)
    """(stopped, resumed) instants in epoch ms on the runner's clock."""

    def as_json(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "now": rfc3339(self.now),
            "lsn": self.lsn,
            "tables": self.tables,
            "streams": self.streams,
            "checkpoints": self.checkpoints,
            "failures": self.failures,
            "downtimes": [list(d) for d in self.downtimes],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], path: Path) -> Snapshot:
        version = data.get("version")
        if version not in (1, FORMAT_VERSION):
            raise ValueError(f"{path}: unsupported state format {version!r}")
        return cls(
            now=parse_rfc3339(data["now"]),
            lsn=int(data.get("lsn", 0)),
            tables=data["tables"],
            streams=data.get("streams", {}),
            checkpoints={k: int(v) for k, v in data.get("checkpoints", {}).items()},
            failures=data.get("failures", []),
            downtimes=[(int(a), int(b)) for a, b in data.get("downtimes", [])],
        )


def write_snapshot(path: Path, snapshot: Snapshot) -> None:
    """Replace the state file atomically and durably: a crash leaves the old one or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".tmp")
    with partial.open("w", encoding="utf-8") as handle:
        json.dump(snapshot.as_json(), handle, separators=(",", ":"))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def journal_directory(state_file: Path) -> Path:
    return state_file.with_suffix(".wal")


# ----------------------------------------------------------------------------------- the layer


@dataclass(frozen=True)
class Restored:
    items: dict[str, int]
    replayed: int
    """Journal entries applied on top of the snapshot (writes since it was taken)."""
    undelivered: int
    """Stream records stored but not yet consumed: they are delivered now."""
    torn_bytes: int
    corrupt: list[Path]


class DurableDynamoDB:
    """Journal, snapshot and stream checkpoints around the runner's moto server.

    Life cycle: ``load`` (before the clock is set), ``wrap`` the moto application, create the
    tables, ``restore`` (replays, compacts, then accepts writes), run, ``close`` (final snapshot).
    With ``state_file`` None nothing is written anywhere, but requests are still ordered and
    stream records still stamped with the runner's clock, so the runner behaves the same.
    """

    def __init__(
        self, state_file: Path | None, *, fresh: bool, now: Callable[[], datetime], log: Log
    ) -> None:
        self.state_file = state_file
        self._fresh = fresh
        self._now = now
        self._log = log
        self._order = threading.RLock()
        self._app: WSGIApplication | None = None
        self._journal: Journal | None = None
        self._live = state_file is None
        """Mutations are accepted once restored (and refused again once closed)."""
        self._closed = False
        self._snapshot: Snapshot | None = None
        self._entries: list[Entry] = []
        self._torn = 0
        self._corrupt: list[Path] = []
        self._tables: dict[str, str] = {}
        self._checkpoints: dict[str, int] = {}
        """Mapping key (``<table key>-><function>``) -> first sequence number not consumed."""
        self._failures: list[dict[str, Any]] = []
        self._downtimes: list[tuple[int, int]] = []
        self._compacting = threading.Lock()
        self.latest: datetime | None = None
        """The latest instant on the runner's clock the saved state knows of (its clock resumes there)."""

    # ------------------------------------------------------------------ loading

    def load(self) -> Snapshot | None:
        """Read the state file and the journal (nothing is applied yet). None: starting clean."""
        if self.state_file is None:
            return None
        wal = journal_directory(self.state_file)
        if self._fresh:
            for segment in wal.glob("*.log"):
                segment.unlink()
            return None
        if self.state_file.exists():
            data = json.loads(self.state_file.read_text(encoding="utf-8"))
            self._snapshot = Snapshot.from_json(data, self.state_file)
        found = read(wal)
        self._torn, self._corrupt = found.torn_bytes, found.corrupt
        base = self._snapshot.lsn if self._snapshot else 0
        self._entries = [e for e in found.entries if e.lsn > base]
        if self._snapshot is None and not self._entries:
            return None
        if self._snapshot is None:
            self._snapshot = Snapshot(now=datetime.fromtimestamp(0, UTC))
        instants = [self._snapshot.now, *(_instant(e) for e in self._entries)]
        self.latest = max(i for i in instants if i is not None)
        self._snapshot.now = self.latest
        return self._snapshot

    # ------------------------------------------------------------------ the WSGI layer

    def wrap(self, app: WSGIApplication) -> WSGIApplication:
        self._app = app

        def durable(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
            target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
            service, _, operation = target.partition(".")
            if not service.startswith("DynamoDB"):
                return app(environ, start_response)  # the buses' EventBridge and SQS: not ours
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            mutating = service.startswith("DynamoDB_") and operation in MUTATIONS
            deferred = bool(environ.get("HTTP_" + DEFERRED_HEADER.upper().replace("-", "_")))
            answer: list[Any] = []

            def keep(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                answer[:] = [status, headers]
                return None

            try:
                with self._order:
                    if mutating and not self._live:
                        raise JournalClosed("the runner is not accepting writes (starting or stopping)")
                    at = self._now()
                    output = self._apply(app, environ, keep, at)
                    lsn = self._record(operation, body, at) if mutating else self._observed()
                if self._journal is not None and lsn and not deferred:
                    self._journal.sync(lsn)
            except (JournalClosed, OSError) as exc:
                return _internal_error(start_response, str(exc))
            start_response(answer[0], answer[1])
            return output

        return durable

    def _apply(
        self, app: WSGIApplication, environ: WSGIEnvironment, keep: StartResponse, at: datetime
    ) -> list[bytes]:
        """Run one request through moto (the order lock held) and stamp the stream records it added."""
        marks = [(name, shard, len(shard.items)) for name, shard in self._shards()]
        output = list(app(environ, keep))
        stamp = _naive_utc(_ms(at))
        for name, shard, before in marks:
            for record in shard.items[before:]:
                dynamodb = record.record["dynamodb"]
                dynamodb["ApproximateCreationDateTime"] = stamp
                record.record["eventID"] = _event_id(name, int(dynamodb["SequenceNumber"]))
        return output

    def _record(self, operation: str, body: bytes, at: datetime) -> int:
        if self._journal is None:
            return 0
        text = body.decode("utf-8")
        if "\n" in text:  # JSON allows raw newlines between tokens; a journal line does not
            text = json.dumps(json.loads(text), separators=(",", ":"))
        return self._journal.append("w", f"{_ms(at)} {operation} {text}")

    def mark_function_requests(self) -> None:
        """Hook boto3's default session (before any client exists: clients copy its handlers)
        so DynamoDB requests a function makes carry ``DEFERRED_HEADER``."""

        def mark(request: Any, **_: Any) -> None:
            if in_invocation():
                request.headers[DEFERRED_HEADER] = "1"

        if boto3.DEFAULT_SESSION is None:
            boto3.setup_default_session()
        assert boto3.DEFAULT_SESSION is not None
        boto3.DEFAULT_SESSION.events.register("request-created.dynamodb", mark)

    def sync_observed(self) -> None:
        """Return once everything written so far is on disk: the gateway calls it before it
        answers, so no response reports a write a crash could take back."""
        journal = self._journal
        if journal is not None:
            lsn = journal.last_lsn
            if lsn:
                journal.sync(lsn)

    def _observed(self) -> int:
        return self._journal.last_lsn if self._journal is not None else 0

    def _shards(self) -> list[tuple[str, Any]]:
        return [(name, table.stream_shard) for name, table in _backend().tables.items() if table.stream_shard]

    # ------------------------------------------------------------------ restore

    def restore(self, tables: dict[str, str]) -> Restored:
        """Apply the snapshot and the journal to the freshly created tables, fold them into a new
        snapshot, and start accepting writes."""
        self._tables = dict(tables)
        snapshot = self._snapshot
        replayed = 0
        with self._order:
            if snapshot is not None:
                self._restore_snapshot(snapshot)
                for entry in self._entries:
                    self._replay(entry)
                    replayed += 1
            counts = {key: len(_backend().get_table(name).all_items()) for key, name in tables.items()}
            undelivered = self._undelivered_now()
            if self.state_file is not None:
                next_lsn = max([snapshot.lsn if snapshot else 0, *(e.lsn for e in self._entries)]) + 1
                self._journal = Journal(journal_directory(self.state_file), next_lsn=next_lsn)
            self._live = True
        if self.state_file is not None and (replayed or self._fresh or snapshot is None or snapshot.lsn == 0):
            self.compact()  # the next crash replays from here, not from the last clean stop
        self._entries = []
        return Restored(counts, replayed, undelivered, self._torn, self._corrupt)

    def _restore_snapshot(self, snapshot: Snapshot) -> None:
        backend = _backend()
        for key, items in snapshot.tables.items():
            if key not in self._tables:
                continue  # a table the topology no longer declares
            table = backend.get_table(self._tables[key])
            for item in items:
                table.put_item(_image(item, _from_wire))
        for key, name in self._tables.items():
            shard = backend.get_table(name).stream_shard
            if shard is None:
                continue
            # The restored items are not news; what was stored and not yet consumed is.
            kept = snapshot.streams.get(key, {})
            records = []
            for data in kept.get("records", []):
                record: Any = StreamRecord.__new__(StreamRecord)
                record.record = _record_from_json(data)
                records.append(record)
            shard.items = records
            if "first" in kept:
                shard.starting_sequence_number = int(kept["first"])
        self._checkpoints = dict(snapshot.checkpoints)
        self._failures = list(snapshot.failures)
        # ``resumed`` noted this start's downtime before the data was applied: it comes last.
        self._downtimes = [*snapshot.downtimes, *self._downtimes][-DOWNTIMES_KEPT:]

    def _replay(self, entry: Entry) -> None:
        if entry.kind == "w":
            at_ms, operation, body = entry.payload.split(" ", 2)
            environ = _replay_environ(operation, body.encode())
            assert self._app is not None
            self._apply(self._app, environ, lambda *_: None, datetime.fromtimestamp(int(at_ms) / 1000, UTC))  # type: ignore[arg-type]
        elif entry.kind == "c":
            data = json.loads(entry.payload)
            self._checkpoints[data["m"]] = int(data["s"])
        elif entry.kind == "f":
            self._failures.append(json.loads(entry.payload))

    # ------------------------------------------------------------------ streams

    def stream_start(self, mapping: str, starting_position: str) -> int:
        """Where the mapping's reader starts: its last checkpoint, or (first start) the stream's
        start or end as the mapping's starting position says."""
        table_key = _table_of(mapping)
        with self._order:
            if mapping not in self._checkpoints:
                shard = _backend().get_table(self._tables[table_key]).stream_shard
                first = int(shard.starting_sequence_number)
                self._checkpoints[mapping] = first + (
                    len(shard.items) if starting_position == "LATEST" else 0
                )
            return self._checkpoints[mapping]

    def checkpoint(self, mapping: str, sequence: int) -> None:
        """The mapping consumed every record before ``sequence``: durable before this returns."""
        with self._order:
            if self._checkpoints.get(mapping) == sequence:
                return
            self._checkpoints[mapping] = sequence
            lsn = self._append("c", json.dumps({"m": mapping, "s": sequence}))
            self._trim(_table_of(mapping))
        if lsn and self._journal is not None:
            self._journal.sync(lsn)

    def _consumed(self, table_key: str, first: int) -> int:
        """Where the slowest mapping reading the table's stream stands."""
        return min((s for m, s in self._checkpoints.items() if _table_of(m) == table_key), default=first)

    def _trim(self, table_key: str) -> None:
        """Drop consumed records beyond the few kept for inspection (order lock held)."""
        if table_key not in self._tables:
            return
        shard = _backend().get_table(self._tables[table_key]).stream_shard
        consumed = self._consumed(table_key, int(shard.starting_sequence_number))
        drop = consumed - RETAIN_CONSUMED - int(shard.starting_sequence_number)
        if drop > 0:
            del shard.items[:drop]
            shard.starting_sequence_number += drop

    def age_credit(self, created_s: int) -> int:
        """Seconds the runner was down after a record was created: not part of its age."""
        created_ms = created_s * 1000
        return (
            sum(
                resumed - max(stopped, created_ms)
                for stopped, resumed in self._downtimes
                if resumed > created_ms
            )
            // 1000
        )

    def resumed(self, now: datetime) -> None:
        """The clock resumed at ``now`` after the state's latest instant: that span was downtime."""
        if self.latest is not None and now > self.latest:
            self._downtimes = [*self._downtimes, (_ms(self.latest), _ms(now))][-DOWNTIMES_KEPT:]

    # ------------------------------------------------------------------ clock and failures

    def note_clock(self, now: datetime) -> None:
        """The clock was moved: keep where it is, so data written later is not from the past."""
        with self._order:
            lsn = self._append("t", json.dumps({"now": _ms(now)}))
        if lsn and self._journal is not None:
            self._journal.sync(lsn)

    def note_failure(self, message: dict[str, Any]) -> None:
        with self._order:
            self._failures.append(message)
            lsn = self._append("f", json.dumps(message, separators=(",", ":"), default=str))
        if lsn and self._journal is not None:
            self._journal.sync(lsn)

    @property
    def failures(self) -> list[dict[str, Any]]:
        """The failure store as saved (restored into the runner's before it starts)."""
        return list(self._failures)

    def _append(self, kind: str, payload: str) -> int:
        if self._journal is None or self._closed:
            return 0
        return self._journal.append(kind, payload)

    # ------------------------------------------------------------------ snapshots

    def compact(self) -> Snapshot | None:
        """Write a snapshot of everything and drop the journal segments it covers."""
        if self.state_file is None or self._journal is None:
            return None
        with self._compacting:
            with self._order:
                snapshot = self._capture()
                snapshot.lsn = self._journal.rotate()
            write_snapshot(self.state_file, snapshot)
            self._journal.drop_segments_through(snapshot.lsn)
            return snapshot

    def maybe_compact(self) -> None:
        if (
            self._journal is not None
            and not self._closed
            and self._journal.bytes_written > COMPACT_AFTER_BYTES
        ):
            self.compact()

    def _capture(self) -> Snapshot:
        """Everything, consistently: the order lock is held, so no request runs meanwhile."""
        backend = _backend()
        tables = {
            key: [_item_wire(item) for item in backend.get_table(name).all_items()]
            for key, name in self._tables.items()
        }
        streams: dict[str, dict[str, Any]] = {}
        for key, name in self._tables.items():
            shard = backend.get_table(name).stream_shard
            if shard is None:
                continue
            first = int(shard.starting_sequence_number)
            start = max(first, self._consumed(key, first))
            streams[key] = {
                "first": start,
                "records": [_record_json(r.record) for r in shard.items[start - first :]],
            }
        return Snapshot(
            now=self._now(),
            tables=tables,
            streams=streams,
            checkpoints=dict(self._checkpoints),
            failures=list(self._failures),
            downtimes=list(self._downtimes),
        )

    def close(self) -> Snapshot | None:
        """Stop accepting writes and write the final snapshot (the stop of a clean exit). A write
        still arriving (a job the stop interrupted) is refused with a 500: not acknowledged."""
        with self._order:
            self._live = False
        snapshot = self.compact()
        with self._order:
            self._closed = True
            if self._journal is not None:
                self._journal.close()
        return snapshot

    def _undelivered_now(self) -> int:
        total = 0
        for key, name in self._tables.items():
            shard = _backend().get_table(name).stream_shard
            if shard is not None:
                first = int(shard.starting_sequence_number)
                total += first + len(shard.items) - max(first, self._consumed(key, first))
        return total

    def describe(self, restored: Restored) -> str:
        """One line for the log: what start-up recovered, and anything it had to cut or set aside."""
        parts = [f"state: {restored.replayed} journal entries replayed"]
        if restored.undelivered:
            parts.append(f"{restored.undelivered} stream records stored before the stop are scored now")
        if restored.torn_bytes:
            parts.append(f"{restored.torn_bytes} bytes of an unacknowledged write cut off the journal's end")
        for path in restored.corrupt:
            parts.append(f"DAMAGED journal set aside at {path}; replay stopped before it")
        return "; ".join(parts)

    @staticmethod
    def undelivered(snapshot: Snapshot) -> int:
        """Stream records a snapshot keeps for delivery after the next start."""
        return sum(len(s.get("records", [])) for s in snapshot.streams.values())

    def status(self) -> dict[str, Any]:
        """Journal figures for ``/_local/status``: appends against fsyncs shows group commit."""
        journal = self._journal
        if journal is None:
            return {"journal": None}
        return {
            "journal": {
                "entries": journal.appended,
                "fsyncs": journal.syncs,
                "segment_bytes": journal.bytes_written,
            }
        }


def _backend() -> Any:
    return dynamodb_backends[_ACCOUNT][REGION]


def mapping_key(table_key: str, function: str) -> str:
    return f"{table_key}->{function}"


def _table_of(mapping: str) -> str:
    return mapping.split("->", 1)[0]


def _instant(entry: Entry) -> datetime | None:
    if entry.kind == "w":
        return datetime.fromtimestamp(int(entry.payload.split(" ", 1)[0]) / 1000, UTC)
    if entry.kind == "t":
        return datetime.fromtimestamp(int(json.loads(entry.payload)["now"]) / 1000, UTC)
    return None


def _replay_environ(operation: str, body: bytes) -> dict[str, Any]:
    """A request as botocore would send it to moto's server, without a socket."""
    return {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1",
        "CONTENT_TYPE": "application/x-amz-json-1.0",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_X_AMZ_TARGET": f"DynamoDB_20120810.{operation}",
        "HTTP_AUTHORIZATION": _AUTHORIZATION,
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }


def _internal_error(start_response: StartResponse, message: str) -> list[bytes]:
    """DynamoDB's 500: the SDK retries it, and nothing was acknowledged."""
    body = json.dumps(
        {"__type": "com.amazonaws.dynamodb.v20120810#InternalServerError", "message": message}
    ).encode()
    start_response(
        "500 Internal Server Error",
        [("Content-Type", "application/x-amz-json-1.0"), ("Content-Length", str(len(body)))],
    )
    return [body]
