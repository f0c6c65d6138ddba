"""The adapter's writer thread: batches readings into the MES database, through the on-disk spool when it must.

Readings gather in memory for one batch window and are stored in one transaction. While the database is
away (or a backlog is draining) every batch goes to the spool first, in order, and leaves it only after its
commit; a full spool refuses the batch and the writer declares a gap for it instead of dropping it silently.
The writer also records gaps (reconnects, an adapter restart), the endpoints' health and the rollups.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from line_adapters.spool import Spool
from mes import telemetry, telemetry_rollups
from mes.models import EndpointHealth, Machine, Sample, Tag, TelemetryGap
from mes.telemetry import Reading, TagInfo

log = logging.getLogger(__name__)
LATENCY_EVERY = 20  # one latency figure per this many committed readings
ROLLUP_EVERY_S = 5.0  # closed minutes are rolled up this often (mes.telemetry_rollups)
HEALTH_EVERY_S = 2.0
RETRY_S = 1.0  # while the database is away, try it again this often
DRAIN_SLICE_S = 1.0  # drain the spool for at most this long before looking at new readings
RESTART_GAP_MIN = timedelta(seconds=2)  # shorter silences across a restart are not worth a gap
RESTART_LOOKBACK = timedelta(hours=1)  # how far back a restart gap may begin at the last stored value


@dataclass
class WriterStats:
    received: int = 0
    committed: int = 0
    batches: int = 0
    failures: int = 0
    spooled: int = 0
    refused: int = 0  # readings the full spool refused (declared as gaps)
    gaps: int = 0
    minutes_rolled_up: int = 0
    latencies: list[float] = field(default_factory=list)  # seconds from source time to commit, sampled


@dataclass(frozen=True)
class Gap:
    machine_id: int
    started_at: datetime
    ended_at: datetime | None
    reason: str
    backfilled: int = 0  # of the gap's machines together: samples read back from the PLC's history


HealthSource = Callable[[], list[dict[str, object]]]


class BatchWriter(threading.Thread):
    """Stores gathered readings every `window` seconds (or sooner past `max_batch`), one transaction a batch."""

    def __init__(self, sessions: sessionmaker[Session], tags: dict[int, TagInfo], window: float = 0.25,
                 max_batch: int = 5000, spool: Spool | None = None, health: HealthSource | None = None) -> None:
        super().__init__(name="telemetry-writer", daemon=True)
        self.sessions, self.tags, self.window, self.max_batch = sessions, tags, window, max_batch
        self.spool, self.health = spool, health
        self.stats = WriterStats()
        self.started_at = datetime.now(UTC)
        self._buffer: list[Reading] = []
        self._gaps: list[Gap] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = False
        self._skip = 0
        self._database_away = False
        self._retry_at = 0.0
        self._firsts: list[tuple[int, datetime]] = []  # (machine, when its first values of this run came)
        self._listened: dict[str, datetime] = {}
        self._due = {"rollup": time.monotonic(), "health": 0.0}

    def put(self, readings: list[Reading]) -> None:
        """Called on the event loop: hand readings over without waiting."""
        with self._lock:
            self._buffer.extend(readings)
            self.stats.received += len(readings)
            full = len(self._buffer) >= self.max_batch
        if full:
            self._wake.set()

    def put_gap(self, machine_ids: list[int], started_at: datetime, ended_at: datetime | None, reason: str,
                backfilled: int = 0) -> None:
        """Called on the event loop: a time values may be missing from these machines."""
        with self._lock:
            self._gaps.extend(Gap(m, started_at, ended_at, reason, backfilled) for m in machine_ids)

    def put_first(self, machine_ids: list[int], at: datetime) -> None:
        """Called on the event loop: these machines' first values of this run arrived at `at`."""
        with self._lock:
            self._firsts.extend((m, at) for m in machine_ids)

    def run(self) -> None:
        self._listened = self._heard_before()
        while True:
            self._wake.wait(self.window)
            self._wake.clear()
            with self._lock:
                batch, self._buffer = self._buffer, []
            if batch:
                self._take(batch)
            if self.spool is not None and self.spool.depth.readings and time.monotonic() >= self._retry_at:
                self._drain()
            self._every("health", HEALTH_EVERY_S, self._write_health)
            if self._stopping and not self._buffer:
                self._store_gaps()
                self._roll_up(final=True)
                return
            self._every("rollup", ROLLUP_EVERY_S, self._roll_up)

    def _every(self, name: str, seconds: float, action: Callable[[], None]) -> None:
        if time.monotonic() >= self._due[name] and not self._database_away:
            self._due[name] = time.monotonic() + seconds
            action()

    def _take(self, batch: list[Reading]) -> None:
        """Store a new batch, or spool it while the database is away or older batches wait in the spool."""
        if self.spool is not None and (self._database_away or self.spool.depth.readings):
            self._to_spool(batch)
        elif not self._store(batch):
            if self.spool is not None:
                self._to_spool(batch)
            else:  # no spool: keep the batch in memory, ahead of what arrives meanwhile
                with self._lock:
                    self._buffer[:0] = batch
                if self._stopping:
                    log.error("the database is away at shutdown and there is no spool: %d readings lost",
                              len(self._buffer))
                    with self._lock:
                        self._buffer = []

    def _to_spool(self, batch: list[Reading]) -> None:
        appended = self.spool.append(batch)  # type: ignore[union-attr]
        if appended:
            self.stats.spooled += len(batch)
            if self.spool.near_full:  # type: ignore[union-attr]
                log.warning("the spool is %.0f %% full", 100 * self.spool.fill)  # type: ignore[union-attr]
            return
        self.stats.refused += len(batch)
        by_machine: dict[int, tuple[datetime, datetime]] = {}
        for tag_id, (first, last) in appended.rejected.items():
            machine = self.tags[tag_id].machine_id if tag_id in self.tags else None
            if machine is not None:
                lo, hi = by_machine.get(machine, (first, last))
                by_machine[machine] = (min(lo, first), max(hi, last))
        log.error("the spool is full: %d readings of %d machines refused and declared as gaps",
                  len(batch), len(by_machine))
        with self._lock:
            self._gaps.extend(Gap(m, lo, hi, "spool_full") for m, (lo, hi) in by_machine.items())

    def _drain(self) -> None:
        """Store spooled batches oldest first, each acked only after its commit."""
        until = time.monotonic() + DRAIN_SLICE_S
        while self.spool.depth.readings and time.monotonic() < until:  # type: ignore[union-attr]
            token, readings = self.spool.peek(self.max_batch)  # type: ignore[union-attr]
            if not self._store(readings):
                return
            self.spool.ack(token)  # type: ignore[union-attr]

    def _store(self, batch: list[Reading]) -> bool:
        """One try at storing a batch (with the gaps pending); False if the database did not take it."""
        try:
            with self.sessions.begin() as session:
                telemetry.store(session, batch, self.tags)
        except Exception as exc:  # the database is away or failing; the caller spools or keeps the batch
            self.stats.failures += 1
            if not self._database_away:
                log.error("storing %d readings failed (%s); holding them until the database answers",
                          len(batch), exc)
            self._database_away, self._retry_at = True, time.monotonic() + RETRY_S
            return False
        if self._database_away:
            log.warning("the database answers again")
        self._database_away = False
        now = datetime.now(UTC)
        self.stats.committed += len(batch)
        self.stats.batches += 1
        # Every k-th reading across batches, so the big batches of a backlog weigh as much as they should.
        self.stats.latencies.extend((now - r.source_time).total_seconds() for r in batch[self._skip::LATENCY_EVERY])
        self._skip = (self._skip - len(batch)) % LATENCY_EVERY
        self._store_gaps()
        return True

    def _restart_gaps(self, session: Session, firsts: list[tuple[int, datetime]]) -> None:
        """Across a restart nothing was received from a machine between the last value an earlier run stored
        (or that run's last report of being connected: everything it received before is durable) and the
        machine's first value of this run: a gap. A machine no earlier run heard of has none."""
        for machine, received in firsts:
            # Received before this run started, not just stamped before it: re-sent initial values are older.
            last = session.scalar(select(func.max(Sample.source_time)).join(Tag).where(
                Tag.machine_id == machine, Sample.source_time >= self.started_at - RESTART_LOOKBACK,
                Sample.received_at < self.started_at))
            endpoint = session.scalar(select(Machine.endpoint).where(Machine.id == machine))
            listened = self._listened.get(endpoint)
            start = max((t for t in (last, listened) if t is not None), default=None)
            if start is not None and received - start > RESTART_GAP_MIN:
                session.add(TelemetryGap(machine_id=machine, started_at=start, ended_at=received,
                                         reason="adapter_restart"))
                self.stats.gaps += 1

    def _heard_before(self) -> dict[str, datetime]:
        """When an earlier run last reported each endpoint connected (read before this run reports)."""
        try:
            with self.sessions() as session:
                return dict(session.execute(select(EndpointHealth.endpoint, EndpointHealth.updated_at).where(
                    EndpointHealth.connected.is_(True))).all())
        except Exception:  # the database is away at start: restart gaps then begin at the last stored value
            return {}

    def _store_gaps(self) -> None:
        """Write the gaps declared meanwhile; restart gaps wait until the previous run's spool is drained."""
        drained = self.spool is None or not self.spool.depth.readings
        with self._lock:
            gaps, self._gaps = self._gaps, []
            firsts, self._firsts = (self._firsts, []) if drained else ([], self._firsts)
        if not gaps and not firsts:
            return
        try:
            with self.sessions.begin() as session:
                session.add_all(TelemetryGap(machine_id=g.machine_id, started_at=g.started_at, ended_at=g.ended_at,
                                             reason=g.reason, backfilled=g.backfilled) for g in gaps)
                self._restart_gaps(session, firsts)
            self.stats.gaps += len(gaps)
        except Exception:  # kept for the next try; a gap is never forgotten while the process lives
            with self._lock:
                self._gaps[:0] = gaps
                self._firsts[:0] = firsts

    def _write_health(self) -> None:
        if self.health is None:
            return
        spooled = self.spool.depth.readings if self.spool is not None else 0
        fill = self.spool.fill if self.spool is not None else 0.0
        try:
            with self.sessions.begin() as session:
                for report in self.health():
                    row = session.get(EndpointHealth, report["endpoint"]) or EndpointHealth(
                        endpoint=report["endpoint"])
                    for key, value in report.items():
                        setattr(row, key, value)
                    row.spool_readings, row.spool_fill, row.updated_at = spooled, fill, datetime.now(UTC)
                    session.add(row)
        except Exception:  # health is informative; the next tick tries again
            log.debug("writing endpoint health failed", exc_info=True)

    def _roll_up(self, final: bool = False) -> None:
        """Recompute the closed minutes (all of them when stopping); a failure leaves them pending for later."""
        try:
            with self.sessions.begin() as session:
                self.stats.minutes_rolled_up += telemetry_rollups.roll_up(session, None if final else datetime.now(UTC))
        except Exception:  # the database is away; the minutes stay pending and the next try takes them
            log.debug("rolling up telemetry failed; the minutes stay pending", exc_info=True)

    def stop(self) -> None:
        """Flush what is gathered (to the spool if the database is away) and end."""
        self._stopping = True
        self._wake.set()
        self.join()
