"""The adapter process: one client per endpoint on one asyncio loop, one writer thread storing into the MES.

Readings from every endpoint go to the writer (line_adapters.writer), which stores a batch per window in
one transaction, through the on-disk spool while the database is away, so the event loop never waits on
the database. Gaps (a subscription lost, a restart) and the endpoints' health go the same way.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from line_adapters.client import EndpointClient
from line_adapters.plan import EndpointPlan, endpoint_plans
from line_adapters.spool import Spool
from line_adapters.writeback import write_back
from line_adapters.writer import BatchWriter, WriterStats
from mes import telemetry, telemetry_retention

log = logging.getLogger(__name__)
RETRY_S = (1, 2, 5, 10, 30)  # back-off between connection attempts, then every 30 s
SPOOL_MB = 1024  # default spool capacity: about 90 min of 5,000 readings a second


async def keep_connected(plan: EndpointPlan, writer: BatchWriter, stop: asyncio.Event,
                         tried: asyncio.Event, clients: list[EndpointClient]) -> None:
    """Connect to one endpoint, retrying with capped back-off until connected or told to stop."""

    def on_gap(plan: EndpointPlan, started: datetime | None, ended: datetime, backfilled: int) -> None:
        machines = list(plan.machine_ids.values())
        if started is None:  # the first values of this run: the writer finds what came before
            writer.put_first(machines, ended)
        else:
            writer.put_gap(machines, started, ended, "disconnected", backfilled)

    attempt = 0
    while not stop.is_set():
        client = EndpointClient(plan, writer.put, on_gap=on_gap)
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


def health(plans: list[EndpointPlan], clients: list[EndpointClient]) -> list[dict[str, object]]:
    """What each endpoint's client knows now (read from the writer thread; plain attribute reads)."""
    by_endpoint = {c.plan.endpoint: c for c in clients}
    reports = []
    for plan in plans:
        client = by_endpoint.get(plan.endpoint)
        offset = client.clock_offset_s if client else None
        problems = [f"{len(client.refused)} tag(s) refused"] if client and client.refused else []
        if offset is not None and abs(offset) > plan.clock_alarm_s:
            problems.append(f"clock {offset:+.1f} s off (bound {plan.clock_alarm_s:.1f} s)")
        reports.append({"endpoint": plan.endpoint, "connected": bool(client and client.connected),
                        "last_value_at": client.last_value_at if client else None, "clock_offset_s": offset,
                        "error": "; ".join(problems)[:500] or (None if client else "not connected yet")})
    return reports


async def run_adapters(sessions: sessionmaker[Session], lines: set[int] | None = None,
                       stop: asyncio.Event | None = None, ready: asyncio.Event | None = None,
                       window: float = 0.25, retention: bool = True, spool_folder: Path | None = None,
                       spool_mb: float = SPOOL_MB, config_dir: Path | None = None) -> WriterStats:
    """Run the adapters of the chosen lines (all if None) until `stop` is set; return the writer's figures.

    `ready` is set once every endpoint has been tried (connected, or retrying in the background). Without
    a `spool_folder` a database outage is ridden out in memory only.
    """
    stop = stop or asyncio.Event()
    with sessions() as session:
        plans = endpoint_plans(session, lines, config_dir)
        tags = telemetry.load_tags(session)
    spool = Spool(spool_folder, int(spool_mb * 1024 * 1024)) if spool_folder is not None else None
    clients: list[EndpointClient] = []
    writer = BatchWriter(sessions, tags, window=window, spool=spool, health=lambda: health(plans, clients))
    writer.start()
    log.info("adapters: %d endpoints, %d tags", len(plans), sum(len(p.tags) for p in plans))
    tried = [asyncio.Event() for _ in plans]
    tasks = [asyncio.create_task(keep_connected(p, writer, stop, t, clients))
             for p, t in zip(plans, tried, strict=True)]
    tasks.append(asyncio.create_task(write_back(sessions, clients, stop)))
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
        if spool is not None:
            spool.close()
    return writer.stats
