"""The adapter process: one client per endpoint on one asyncio loop, one writer thread batching into the MES.

Readings from every endpoint go into one buffer; the writer takes what has gathered every batch window
and stores it in one transaction (mes.telemetry.store), so the event loop never waits on the database.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from line_adapters.client import EndpointClient
from line_adapters.plan import EndpointPlan, endpoint_plans
from mes import telemetry, telemetry_retention, telemetry_rollups
from mes.telemetry import Reading, TagInfo

log = logging.getLogger(__name__)
RETRY_S = (1, 2, 5, 10, 30)  # back-off between connection attempts, then every 30 s
LATENCY_EVERY = 20  # one latency figure per this many committed readings
ROLLUP_EVERY_S = 5.0  # closed minutes are rolled up this often (mes.telemetry_rollups)


@dataclass
class WriterStats:
    received: int = 0
    committed: int = 0
    batches: int = 0
    failures: int = 0
    minutes_rolled_up: int = 0
    latencies: list[float] = field(default_factory=list)  # seconds from source time to commit, sampled


class BatchWriter(threading.Thread):
    """Stores gathered readings every `window` seconds (or sooner past `max_batch`), one transaction a batch."""

    def __init__(self, sessions: sessionmaker[Session], tags: dict[int, TagInfo], window: float = 0.25,
                 max_batch: int = 5000) -> None:
        super().__init__(name="telemetry-writer", daemon=True)
        self.sessions, self.tags, self.window, self.max_batch = sessions, tags, window, max_batch
        self.stats = WriterStats()
        self._buffer: list[Reading] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = False
        self._skip = 0
        self._rolled_at = time.monotonic()

    def put(self, readings: list[Reading]) -> None:
        """Called on the event loop: hand readings over without waiting."""
        with self._lock:
            self._buffer.extend(readings)
            self.stats.received += len(readings)
            full = len(self._buffer) >= self.max_batch
        if full:
            self._wake.set()

    def run(self) -> None:
        while True:
            self._wake.wait(self.window)
            self._wake.clear()
            with self._lock:
                batch, self._buffer = self._buffer, []
            if batch:
                self._store(batch)
            if self._stopping and not self._buffer:
                self._roll_up(final=True)
                return
            if time.monotonic() - self._rolled_at >= ROLLUP_EVERY_S:
                self._roll_up()

    def _store(self, batch: list[Reading]) -> None:
        while True:
            try:
                with self.sessions.begin() as session:
                    telemetry.store(session, batch, self.tags)
                break
            except Exception:  # the database is away; keep the batch and try again (spooling: issue 7)
                self.stats.failures += 1
                log.exception("storing %d readings failed; retrying", len(batch))
                time.sleep(1)
                if self._stopping and self.stats.failures > 5:
                    log.error("giving up on %d readings at shutdown", len(batch))
                    return
        now = datetime.now(UTC)
        self.stats.committed += len(batch)
        self.stats.batches += 1
        # Every k-th reading across batches, so the big batches of a backlog weigh as much as they should.
        self.stats.latencies.extend((now - r.source_time).total_seconds() for r in batch[self._skip::LATENCY_EVERY])
        self._skip = (self._skip - len(batch)) % LATENCY_EVERY

    def _roll_up(self, final: bool = False) -> None:
        """Recompute the closed minutes (all of them when stopping); a failure leaves them pending for later."""
        self._rolled_at = time.monotonic()
        try:
            with self.sessions.begin() as session:
                self.stats.minutes_rolled_up += telemetry_rollups.roll_up(session, None if final else datetime.now(UTC))
        except Exception:  # the database is away; the minutes stay pending and the next try takes them
            log.exception("rolling up telemetry failed; the minutes stay pending")

    def stop(self) -> None:
        """Flush what is gathered and end."""
        self._stopping = True
        self._wake.set()
        self.join()


async def keep_connected(plan: EndpointPlan, on_values: Callable[[list[Reading]], None], stop: asyncio.Event,
                         tried: asyncio.Event, clients: list[EndpointClient]) -> None:
    """Connect to one endpoint, retrying with capped back-off until connected or told to stop."""
    attempt = 0
    while not stop.is_set():
        client = EndpointClient(plan, on_values)
        try:
            await client.connect()
            clients.append(client)
            return
        except Exception as exc:  # any failure to connect means: try again later
            await client.disconnect()
            wait = RETRY_S[min(attempt, len(RETRY_S) - 1)]
            log.warning("%s: cannot connect (%s); next try in %d s", plan.endpoint, exc, wait)
            attempt += 1
        finally:
            tried.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), wait)


async def maintain(sessions: sessionmaker[Session], stop: asyncio.Event, every_s: float = 3600) -> None:
    """Hourly, off the event loop: apply the retention windows (tomorrow's partition comes with its first sample)."""
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        try:
            await loop.run_in_executor(None, lambda: telemetry_retention.purge(sessions, datetime.now(UTC)))
        except Exception:  # retention can wait an hour; collection must not stop for it
            log.exception("telemetry retention failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_s)


async def run_adapters(sessions: sessionmaker[Session], lines: set[int] | None = None,
                       stop: asyncio.Event | None = None, ready: asyncio.Event | None = None,
                       window: float = 0.25, retention: bool = True) -> WriterStats:
    """Run the adapters of the chosen lines (all if None) until `stop` is set; return the writer's figures.

    `ready` is set once every endpoint has been tried (connected, or retrying in the background).
    """
    stop = stop or asyncio.Event()
    with sessions() as session:
        plans = endpoint_plans(session, lines)
        tags = telemetry.load_tags(session)
    writer = BatchWriter(sessions, tags, window=window)
    writer.start()
    log.info("adapters: %d endpoints, %d tags", len(plans), sum(len(p.tags) for p in plans))
    clients: list[EndpointClient] = []
    tried = [asyncio.Event() for _ in plans]
    tasks = [asyncio.create_task(keep_connected(p, writer.put, stop, t, clients))
             for p, t in zip(plans, tried, strict=True)]
    if retention:
        tasks.append(asyncio.create_task(maintain(sessions, stop)))
    try:
        await asyncio.gather(*(t.wait() for t in tried))
        if ready is not None:
            ready.set()
        await stop.wait()
    finally:
        for task in tasks:
            task.cancel()
        for client in clients:
            await client.disconnect()
        writer.stop()
    return writer.stats
