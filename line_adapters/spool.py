"""On-disk store-and-forward for readings: the adapter spools each batch, then drains it into the database.

The folder holds segment files `<seq>.seg` of records `[u32 length][u32 crc32][payload]`, one record a batch,
and an `ack` file naming the position (segment, offset) up to which batches were committed. An append is
written and fsync'd before it returns; a record torn by a crash is recognised by its length and CRC and cut
off on reopen (its append never returned). The ack position is persisted (write, fsync, rename) before
`ack` returns, so after a kill -9 at most the batches of the one ack in flight (peeked, maybe committed) are
replayed; harmless, because the database stores samples idempotently by (tag, source_time).

Capacity bounds the bytes of batches not yet acked; the disk holds at most that plus one segment, since the
oldest segment is deleted only once every batch in it is acked.
"""
from __future__ import annotations

import errno
import fcntl
import logging
import os
import struct
import threading
import zlib
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

from mes.telemetry import Reading

log = logging.getLogger(__name__)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
US = timedelta(microseconds=1)
HEADER = struct.Struct("<II")  # payload length, crc32 of length and payload
COUNT = struct.Struct("<I")
# tag_id, source µs, value, status, received µs, flags (1: value is None, 2: backfilled), text length (-1: None)
FIXED = struct.Struct("<IqdIqBi")
POSITION = struct.Struct("<QQ")  # the ack file: segment, offset, then the crc32 of those 16 bytes
NONE, BACKFILLED = 1, 2
_sync = getattr(os, "fdatasync", os.fsync)


class Token(NamedTuple):
    """A position in the spool: everything before it is acknowledged by `ack(token)`."""

    segment: int
    offset: int


class Depth(NamedTuple):
    """Readings and bytes (record headers included) spooled and not yet acked."""

    readings: int
    bytes: int


@dataclass(frozen=True)
class Appended:
    """What `append` did; falsy when refused, with each rejected tag's first and last source time for the gap."""

    accepted: bool
    rejected: dict[int, tuple[datetime, datetime]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.accepted


class _Record(NamedTuple):
    segment: int
    offset: int
    size: int  # header included
    count: int


def encode(readings: list[Reading]) -> bytes:
    """Readings -> payload: a count, fixed-size fields of each, then the texts' utf-8 one after another."""
    fixed: list[bytes] = []
    texts: list[bytes] = []
    pack = FIXED.pack
    for r in readings:
        if r.text is None:
            length = -1
        else:
            texts.append(t := r.text.encode())
            length = len(t)
        value = r.value
        flags = (NONE if value is None else 0) | (BACKFILLED if r.backfilled else 0)
        fixed.append(pack(r.tag_id, (r.source_time - EPOCH) // US, 0.0 if value is None else value, r.status,
                          (r.received_at - EPOCH) // US, flags, length))
    return COUNT.pack(len(readings)) + b"".join(fixed) + b"".join(texts)


def decode(payload: bytes) -> list[Reading]:
    """Payload -> readings, as aware UTC datetimes to the microsecond."""
    end = COUNT.size + COUNT.unpack_from(payload)[0] * FIXED.size
    at, out = end, []
    for tag, source, value, status, received, flags, length in FIXED.iter_unpack(payload[COUNT.size:end]):
        text = None
        if length >= 0:
            text, at = payload[at:at + length].decode(), at + length
        out.append(Reading(tag, EPOCH + timedelta(0, 0, source), None if flags & NONE else value, text, status,
                           EPOCH + timedelta(0, 0, received), bool(flags & BACKFILLED)))
    return out


class Spool:
    """A FIFO of reading batches in `folder`, bounded by `capacity_bytes`; safe to kill at any moment."""

    def __init__(self, folder: str | os.PathLike[str], capacity_bytes: int, near_full: float = 0.8,
                 segment_bytes: int | None = None) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.capacity, self.threshold = capacity_bytes, near_full
        # Small segments for a small spool, so the acked head left on disk stays a small part of the capacity.
        self.segment_bytes = segment_bytes or min(8 << 20, max(64 << 10, capacity_bytes // 8))
        self._lock = threading.Lock()
        self._owner = os.open(self.folder / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:  # two adapters draining one spool would commit and ack each other's batches
            fcntl.flock(self._owner, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._owner)
            raise RuntimeError(f"spool {self.folder} is open in another process") from None
        self._records: deque[_Record] = deque()
        self._readers: dict[int, int] = {}
        self._bytes = self._readings = 0
        self._writer = -1
        self._acked = self._read_ack()
        self._recover()

    def _segments(self) -> list[int]:
        return sorted(int(p.stem) for p in self.folder.glob("*.seg"))

    def _path(self, segment: int) -> Path:
        return self.folder / f"{segment:012d}.seg"

    def _read_ack(self) -> Token:
        try:
            data = (self.folder / "ack").read_bytes()
        except FileNotFoundError:
            return Token(0, 0)
        if len(data) != POSITION.size + 4 or zlib.crc32(data[:-4]) != int.from_bytes(data[-4:], "little"):
            raise RuntimeError(f"spool {self.folder}: ack file is corrupt")  # rename is atomic: disk damage
        return Token(*POSITION.unpack_from(data))

    def _recover(self) -> None:
        """Index the unacked records, cutting each segment at its first torn or corrupt record."""
        segments = self._segments()
        for segment in segments:
            if segment < self._acked.segment or (segment == self._acked.segment and segment != segments[-1]
                                                 and self._acked.offset >= self._path(segment).stat().st_size):
                self._path(segment).unlink()  # fully acked; the crash came before its deletion
                continue
            data = self._path(segment).read_bytes()
            offset = self._acked.offset if segment == self._acked.segment else 0
            while offset + HEADER.size <= len(data):
                length, crc = HEADER.unpack_from(data, offset)
                payload = data[offset + HEADER.size:offset + HEADER.size + length]
                if length < COUNT.size or len(payload) < length or checksum(payload) != crc:
                    break  # a zero-filled tail (length 0) is as torn as a short or garbled one
                self._index(_Record(segment, offset, HEADER.size + length, COUNT.unpack_from(payload)[0]))
                offset += HEADER.size + length
            if offset < len(data):
                log.warning("spool %s: discarding %d torn bytes at the end of segment %d",
                            self.folder, len(data) - offset, segment)
                os.truncate(self._path(segment), offset)
        self._open_segment(max(self._segments(), default=self._acked.segment + 1))

    def _index(self, record: _Record) -> None:
        self._records.append(record)
        self._bytes += record.size
        self._readings += record.count

    def _open_segment(self, segment: int) -> None:
        """Make `segment` the one appended to, creating it if need be."""
        created = not self._path(segment).exists()
        writer = os.open(self._path(segment), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        if self._writer >= 0:
            os.close(self._writer)
        self._segment, self._writer, self._size = segment, writer, os.fstat(writer).st_size
        if created:
            self._sync_folder()  # the new file's name must survive a crash as surely as the records in it

    def _sync_folder(self) -> None:
        fd = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def append(self, readings: list[Reading]) -> Appended:
        """Spool a batch durably (fsync'd before returning); refused whole, naming what it held, when full."""
        if not readings:
            return Appended(True)
        payload = encode(readings)
        record = HEADER.pack(len(payload), checksum(payload)) + payload
        with self._lock:
            if self._bytes + len(record) > self.capacity:
                return Appended(False, spans(readings))
            try:
                if self._size and self._size + len(record) > self.segment_bytes:
                    self._open_segment(self._segment + 1)
                if os.write(self._writer, record) != len(record):
                    raise OSError(errno.ENOSPC, "short write")
                _sync(self._writer)
            except OSError as exc:
                os.ftruncate(self._writer, self._size)  # no partial record may sit before the next one
                if exc.errno != errno.ENOSPC:
                    raise
                log.error("spool %s: disk full", self.folder)
                return Appended(False, spans(readings))
            self._index(_Record(self._segment, self._size, len(record), len(readings)))
            self._size += len(record)
        return Appended(True)

    def peek(self, max_readings: int) -> tuple[Token, list[Reading]]:
        """The oldest whole batches, up to `max_readings` but at least one batch; the same until acked."""
        with self._lock:
            token, out = self._acked, []
            for record in self._records:
                if out and len(out) + record.count > max_readings:
                    break
                out.extend(decode(os.pread(self._reader(record.segment), record.size - HEADER.size,
                                           record.offset + HEADER.size)))
                token = Token(record.segment, record.offset + record.size)
        return token, out

    def _reader(self, segment: int) -> int:
        if segment not in self._readers:
            self._readers[segment] = os.open(self._path(segment), os.O_RDONLY)
        return self._readers[segment]

    def ack(self, token: Token) -> None:
        """Drop every batch before `token` (from `peek`), after their commit; durable before returning."""
        with self._lock:
            if token <= self._acked:
                return
            if token > (self._segment, self._size):
                raise ValueError(f"ack {token} is beyond the spool's end")
            while self._records and (self._records[0].segment, self._records[0].offset) < token:
                record = self._records.popleft()
                self._bytes -= record.size
                self._readings -= record.count
            self._acked = token
            temporary = self.folder / "ack.tmp"
            with open(temporary, "wb") as f:
                position = POSITION.pack(*token)
                f.write(position + zlib.crc32(position).to_bytes(4, "little"))
                f.flush()
                os.fsync(f.fileno())
            os.replace(temporary, self.folder / "ack")
            self._sync_folder()
            live = self._records[0].segment if self._records else self._segment
            for segment in [s for s in self._readers if s < live]:
                os.close(self._readers.pop(segment))
            for segment in self._segments():
                if segment < live:
                    self._path(segment).unlink()

    @property
    def depth(self) -> Depth:
        """Readings and bytes spooled and not yet acked."""
        return Depth(self._readings, self._bytes)

    @property
    def fill(self) -> float:
        """The share of the capacity taken by batches not yet acked."""
        return self._bytes / self.capacity

    @property
    def near_full(self) -> bool:
        """True from the `near_full` fraction on: time to raise the alarm."""
        return self.fill >= self.threshold

    def close(self) -> None:
        """Release the files and the folder's lock; everything appended is already on disk."""
        with self._lock:
            for fd in (self._writer, *self._readers.values(), self._owner):
                os.close(fd)
            self._readers.clear()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def checksum(payload: bytes) -> int:
    """CRC32 of a record's length and payload, so a garbled length cannot pass for a shorter record."""
    return zlib.crc32(payload, zlib.crc32(COUNT.pack(len(payload))))


def spans(readings: list[Reading]) -> dict[int, tuple[datetime, datetime]]:
    """Each tag's first and last source time among `readings`: what a declared gap must cover."""
    out: dict[int, tuple[datetime, datetime]] = {}
    for r in readings:
        first, last = out.get(r.tag_id, (r.source_time, r.source_time))
        out[r.tag_id] = (min(first, r.source_time), max(last, r.source_time))
    return out
