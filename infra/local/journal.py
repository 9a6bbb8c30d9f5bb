"""An append-only write-ahead journal with group commit: what the runner acknowledges, it keeps.

Entries are lines of text, one per entry, so a developer can ``tail`` the journal::

    <crc32 of the rest, 8 hex digits> <lsn> <kind> <payload>\\n

``lsn`` numbers entries from 1, across segments and restarts; ``kind`` is one short word the
caller chooses; ``payload`` is any text without a newline. A crash can tear only the end of the
last segment (an entry is acknowledged after its bytes are fsynced, never before), so reading
stops at the first line that is incomplete or fails its checksum, and opening for append cuts
the file back to there.

Group commit: ``append`` only queues the line in memory (callers do it under their own lock, so
journal order is the order their effects happened in); ``sync(lsn)`` returns once that entry is on
disk. The first waiter writes and fsyncs everything queued so far while later appends queue
behind it, and one fsync releases every waiter it covered: under load, many requests share one
fsync instead of paying one each.

Segments: files ``<first lsn>.log`` in one directory. ``rotate`` starts a new segment so a
compaction can delete the old ones once a snapshot covers them.
"""

from __future__ import annotations

import os
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SEGMENT_SUFFIX = ".log"


class JournalClosed(RuntimeError):
    """The journal was closed (the runner is stopping) or broken by an I/O error: nothing more
    can be acknowledged."""


@dataclass(frozen=True)
class Entry:
    lsn: int
    kind: str
    payload: str


@dataclass(frozen=True)
class ReadResult:
    entries: list[Entry]
    torn_bytes: int
    """Bytes after the last whole entry of the last segment (an unacknowledged tail), cut off."""
    corrupt: list[Path]
    """Segments with a bad entry before their end, set aside (renamed ``*.corrupt``)."""


def encode(lsn: int, kind: str, payload: str) -> bytes:
    if "\n" in payload or " " in kind or not kind:
        raise ValueError("a journal payload is one line and a kind one word")
    body = f"{lsn} {kind} {payload}".encode()
    return b"%08x %s\n" % (zlib.crc32(body), body)


def decode(line: bytes) -> Entry | None:
    """An entry from one line (with its newline), or None when it is torn or corrupt."""
    if not line.endswith(b"\n") or len(line) < 10 or line[8:9] != b" ":
        return None
    body = line[9:-1]
    try:
        if int(line[:8], 16) != zlib.crc32(body):
            return None
        lsn, kind, payload = body.decode().split(" ", 2)
        return Entry(int(lsn), kind, payload)
    except ValueError:
        return None


def segments(directory: Path) -> list[Path]:
    """The segment files of a journal directory, oldest first."""
    if not directory.is_dir():
        return []
    found = [p for p in directory.iterdir() if p.suffix == SEGMENT_SUFFIX and p.stem.isdigit()]
    return sorted(found, key=lambda p: int(p.stem))


def read(directory: Path) -> ReadResult:
    """Every intact entry, in order; cuts the torn tail of the last segment off, for good."""
    entries: list[Entry] = []
    torn = 0
    corrupt: list[Path] = []
    files = segments(directory)
    for index, path in enumerate(files):
        good_end, intact_after_bad = _read_segment(path, entries)
        size = path.stat().st_size
        if good_end == size:
            continue
        if index == len(files) - 1 and not intact_after_bad:
            # Nothing intact after the bad bytes: an append the crash interrupted, which was
            # never acknowledged (acknowledgement waits for the fsync).
            torn = size - good_end
            with path.open("r+b") as handle:
                handle.truncate(good_end)
                os.fsync(handle.fileno())
        else:
            # Intact entries after a bad one are not a torn append: keep the evidence, and
            # replay only up to the damage rather than skip over it.
            aside = path.with_suffix(".corrupt")
            os.replace(path, aside)
            corrupt.append(aside)
            for later in files[index + 1 :]:
                os.replace(later, later.with_suffix(".corrupt"))
                corrupt.append(later.with_suffix(".corrupt"))
            break
    return ReadResult(entries, torn, corrupt)


def _read_segment(path: Path, into: list[Entry]) -> tuple[int, bool]:
    """Append the segment's entries up to its first bad line; returns where that line starts
    (the file's size when there is none) and whether an intact entry follows it."""
    offset = 0
    with path.open("rb") as handle:
        for line in handle:
            if (entry := decode(line)) is None:
                return offset, any(decode(rest) is not None for rest in handle)
            into.append(entry)
            offset += len(line)
    return offset, False


class Journal:
    """Appends to the newest segment of ``directory``; thread-safe."""

    def __init__(self, directory: Path, *, next_lsn: int) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._cv = threading.Condition()
        self._queued: list[bytes] = []
        self._last = next_lsn - 1
        """The last lsn handed out."""
        self._durable = next_lsn - 1
        self._flushing = False
        self._error: BaseException | None = None
        self._closed = False
        self.syncs = 0
        """How many fsyncs ran: with ``appended`` it shows how well group commit groups."""
        self.appended = 0
        self.bytes_written = 0
        """Bytes in the current segment (compaction starts a new one when this grows large)."""
        existing = segments(directory)
        self._path = existing[-1] if existing else directory / f"{next_lsn:020d}{SEGMENT_SUFFIX}"
        self._file = self._path.open("ab")
        self.bytes_written = self._file.tell()
        _fsync_directory(directory)

    @property
    def last_lsn(self) -> int:
        with self._cv:
            return self._last

    def append(self, kind: str, payload: str) -> int:
        """Queue an entry; returns its lsn. Durable only once ``sync`` of that lsn returns."""
        with self._cv:
            if self._closed or self._error is not None:
                raise JournalClosed("the journal is closed") from self._error
            self._last += 1
            self._queued.append(encode(self._last, kind, payload))
            self.appended += 1
            return self._last

    def sync(self, lsn: int) -> None:
        """Return once entry ``lsn`` (and so every entry before it) is on disk."""
        with self._cv:
            while self._durable < lsn:
                if self._error is not None:
                    raise JournalClosed("the journal could not be written") from self._error
                if self._flushing:
                    self._cv.wait()
                    continue
                self._flush_locked()

    def _flush_locked(self) -> None:
        """Write and fsync everything queued; the lock is released during the I/O so appends
        can queue the next group meanwhile. Called with the lock held."""
        self._flushing = True
        data, upto, target = b"".join(self._queued), self._last, self._file
        self._queued.clear()
        self._cv.release()
        try:
            target.write(data)
            target.flush()
            os.fdatasync(target.fileno())
        except BaseException as exc:
            self._cv.acquire()
            self._error = exc  # what was queued is lost: nothing after it may be acknowledged
            self._flushing = False
            self._cv.notify_all()
            raise
        self._cv.acquire()
        self.syncs += 1
        self.bytes_written += len(data)
        self._durable = upto
        self._flushing = False
        self._cv.notify_all()

    def rotate(self) -> int:
        """Make everything appended so far durable in the current segment, then start a new one.
        Returns the last lsn of the old segments. Callers hold their append lock, so nothing is
        appended meanwhile."""
        with self._cv:
            while self._flushing:
                self._cv.wait()
            if self._queued:
                self._flush_locked()
            if self._error is not None:
                raise JournalClosed("the journal could not be written") from self._error
            self._file.close()
            self._path = self.directory / f"{self._last + 1:020d}{SEGMENT_SUFFIX}"
            self._file = self._path.open("ab")
            self.bytes_written = 0
            _fsync_directory(self.directory)
            return self._last

    def drop_segments_through(self, lsn: int) -> None:
        """Delete the segments whose entries all have an lsn up to ``lsn`` (a snapshot covers them)."""
        files = segments(self.directory)
        for path, after in zip(files, [*files[1:], None], strict=True):
            if path == self._path or after is None:
                break
            if int(after.stem) - 1 <= lsn:
                path.unlink()
        _fsync_directory(self.directory)

    def close(self) -> None:
        """Flush what is queued and refuse any further append."""
        with self._cv:
            while self._flushing:
                self._cv.wait()
            if self._queued and self._error is None:
                self._flush_locked()
            self._closed = True
            self._file.close()

    def entries(self) -> Iterator[Entry]:
        """Every durable entry (for tests and inspection)."""
        yield from read(self.directory).entries


def _fsync_directory(directory: Path) -> None:
    """A new or deleted file is durable once its directory entry is."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
