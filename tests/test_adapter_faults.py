"""The adapter through faults it must ride out: a network cut, a PLC restart, a database outage, a full spool, a kill.

Every fault is owned by the test (a TCP proxy between adapter and PLC or database, or a connection holding
SQLite's write lock) and lasts a few seconds; what the machines sent is counted with their sequence tags.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from line_adapters.runner import WriterStats, run_adapters
from line_adapters.simulator import PlantSimulator
from mes.db import make_engine, make_session_factory
from mes.models import Machine, Sample, TelemetryGap
from tests import test_adapters
from tests.fault_proxy import TcpProxy
from tests.test_adapters import EXACT, samples_of, settled, tags_of

line_one = test_adapters.line_one  # the fixture: line 1's machines on free ports

BALANCER = "RWA-BAL1"


def gaps(sessions, reason: str | None = None) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Gaps declared per machine code."""
    query = select(Machine.code, func.count()).join(TelemetryGap).group_by(Machine.code)
    if reason:
        query = query.where(TelemetryGap.reason == reason)
    with sessions() as session:
        return dict(session.execute(query).all())


def missing_samples(sessions, sent: dict[str, int]) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Per exactly counted machine: changes sent (plus each tag's initial value) not stored; all 0 when none lost."""
    with sessions() as session:
        return {code: sent[code] + tags_of(session, code) - samples_of(session, code) for code in EXACT}


def through_proxy(sessions, machine: str, proxy: TcpProxy) -> str:  # type: ignore[no-untyped-def]
    """Point a machine's endpoint at the proxy; return where the simulator really serves it."""
    with sessions.begin() as session:
        row = session.scalars(select(Machine).filter_by(code=machine)).one()
        real, row.endpoint = row.endpoint, f"opc.tcp://127.0.0.1:{proxy.port}"
        return real


def port_of(endpoint: str) -> int:
    return int(endpoint.rsplit(":", 1)[1])


async def run_line_one(line_one, sessions, fault, adapter_sessions=None, historize=frozenset(),  # type: ignore[no-untyped-def]
                       **adapter_options) -> tuple[WriterStats, dict[str, int]]:
    """Simulator and adapter for line 1; `await fault(simulator)` runs while the machines run."""
    config, offset = line_one
    simulator = PlantSimulator(config, lines={1}, rate=2.0, seed=11, port_offset=offset, paused=True,
                               historize=historize)
    async with simulator:
        stop, ready = asyncio.Event(), asyncio.Event()
        adapter = asyncio.create_task(run_adapters(adapter_sessions or sessions, {1}, stop, ready, window=0.1,
                                                   retention=False, **adapter_options))
        await asyncio.wait_for(ready.wait(), 30)
        await asyncio.sleep(1.5)  # the initial values arrive
        simulator.resume()
        await asyncio.sleep(1.5)
        await fault(simulator)
        await asyncio.sleep(1.5)
        await simulator.pause()
        await settled(sessions, quiet_s=3.0, limit_s=60)
        stop.set()
        stats = await adapter
        return stats, {m.code: simulator.sequence(m.code) for m in simulator.machines}


def test_a_network_cut_within_the_queue_window_loses_nothing_and_declares_no_gap(line_one, sessions) -> None:
    with sessions() as session:
        endpoint = session.scalars(select(Machine.endpoint).filter_by(code=BALANCER)).one()
    with TcpProxy(port_of(endpoint)) as proxy:
        through_proxy(sessions, BALANCER, proxy)

        async def cut(simulator: PlantSimulator) -> None:
            proxy.cut()
            await asyncio.sleep(3)
            proxy.mend()
            await asyncio.sleep(6)  # reconnect (1 s, then 2 s back-off), transfer, republish

        _, sent = asyncio.run(run_line_one(line_one, sessions, cut))
    assert missing_samples(sessions, sent) == dict.fromkeys(EXACT, 0)
    assert gaps(sessions) == {}


def test_a_cut_longer_than_the_queues_is_a_gap_filled_from_the_plcs_history(line_one, sessions) -> None:
    with sessions.begin() as session:
        balancer = session.scalars(select(Machine).filter_by(code=BALANCER)).one()
        endpoint = balancer.endpoint
        balancer.subscription = {**balancer.subscription, "queue_size": 4}  # 4 changes: 2 s at rate 2
    with TcpProxy(port_of(endpoint)) as proxy:
        through_proxy(sessions, BALANCER, proxy)

        async def cut(simulator: PlantSimulator) -> None:
            proxy.cut()
            await asyncio.sleep(4)
            proxy.mend()
            await asyncio.sleep(6)

        asyncio.run(run_line_one(line_one, sessions, cut, historize=frozenset({BALANCER})))
    # What the queue dropped is read back from history. (Whether every value came back is benchmarks/faults.py's
    # count: on a loaded host asyncua's reconnect can itself fail once, and what that loses is inside the gap.)
    with sessions() as session:
        declared = session.scalars(select(TelemetryGap).join(Machine).where(Machine.code == BALANCER)).all()
        backfilled = session.scalar(select(func.count()).select_from(Sample).where(Sample.backfilled.is_(True)))
    # One gap for the cut (a busy host may drop the link once more while it catches up: then two).
    assert declared and {g.reason for g in declared} == {"disconnected"}
    assert sum(g.backfilled for g in declared) > 0 and backfilled > 0
    assert max(g.ended_at - g.started_at for g in declared) >= timedelta(seconds=3)


def test_a_plc_restart_declares_one_gap_and_stores_nothing_twice(line_one, sessions) -> None:
    async def restart(simulator: PlantSimulator) -> None:
        await simulator.pause()
        await simulator.stop()
        await asyncio.sleep(2)
        await simulator.start()  # still paused: what the machines send next must all arrive
        for _ in range(60):  # back-off, a new session, the subscriptions re-created, the gaps declared
            if set(gaps(sessions, "disconnected")) >= set(EXACT):
                break
            await asyncio.sleep(0.5)
        simulator.resume()
        await asyncio.sleep(2)

    _, sent = asyncio.run(run_line_one(line_one, sessions, restart))
    declared = gaps(sessions, "disconnected")
    assert set(declared) >= set(EXACT) and set(declared.values()) == {1}
    with sessions() as session:
        for code in EXACT:  # every change once; the initial values again after the restart, at most
            stored, tags = samples_of(session, code), tags_of(session, code)
            assert sent[code] + tags <= stored <= sent[code] + 2 * tags, code
        duplicated = session.scalar(select(func.count()).select_from(
            select(Sample.tag_id, Sample.value, Sample.source_time).group_by(Sample.tag_id, Sample.source_time)
            .having(func.count() > 1).subquery()))
    assert duplicated == 0


@contextlib.contextmanager
def database_outage(url: str) -> Iterator[tuple[str, TcpProxy | None, list]]:
    """The adapter's database URL and a way to take its database away: SQLite's write lock held by another
    connection, or a proxy in front of PostgreSQL. Yields (adapter URL, proxy or None, [lock holder])."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        yield url, None, []
        return
    with TcpProxy(parsed.port or 5432, parsed.host or "127.0.0.1") as proxy:
        yield parsed.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False), proxy, []


def take_away(url: str, proxy: TcpProxy | None, holder: list) -> None:  # type: ignore[type-arg]
    """Blocks until SQLite's lock is taken: call it off the event loop, which the adapter needs meanwhile."""
    if proxy is not None:
        proxy.cut()
        return
    connection = sqlite3.connect(make_url(url).database, isolation_level=None, check_same_thread=False, timeout=30)
    connection.execute("BEGIN EXCLUSIVE")
    holder.append(connection)


def give_back(proxy: TcpProxy | None, holder: list) -> None:  # type: ignore[type-arg]
    if proxy is not None:
        proxy.mend()
    while holder:
        connection = holder.pop()
        connection.execute("ROLLBACK")
        connection.close()


def through_an_outage(line_one, sessions, database_url, spool_mb: float, tmp_path) -> tuple[  # type: ignore[no-untyped-def]
        WriterStats, dict[str, int]]:
    """Run line 1 with the adapter's database taken away for 4 s while the machines run."""
    with database_outage(database_url) as (url, proxy, holder):
        engine = make_engine(url, bulk_writer=True)

        async def outage(simulator: PlantSimulator) -> None:
            await asyncio.to_thread(take_away, database_url, proxy, holder)  # may wait for the writer's lock
            await asyncio.sleep(4)
            await asyncio.to_thread(give_back, proxy, holder)

        try:
            return asyncio.run(run_line_one(line_one, sessions, outage, make_session_factory(engine),
                                            spool_folder=tmp_path / "spool", spool_mb=spool_mb))
        finally:
            give_back(proxy, holder)
            engine.dispose()


def test_a_database_outage_loses_nothing_the_machines_sent(line_one, sessions, database_url, tmp_path) -> None:
    stats, sent = through_an_outage(line_one, sessions, database_url, 64, tmp_path)
    assert stats.spooled > 0 and stats.refused == 0
    assert missing_samples(sessions, sent) == dict.fromkeys(EXACT, 0)
    assert gaps(sessions) == {}


def test_a_full_spool_refuses_readings_as_a_declared_gap(line_one, sessions, database_url, tmp_path) -> None:
    stats, _ = through_an_outage(line_one, sessions, database_url, 0.0005, tmp_path)  # a dozen readings
    assert stats.refused > 0
    assert gaps(sessions, "spool_full")  # declared, per machine, not dropped in silence


def adapter_process(database_url: str, instance: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "MES_DATABASE_URL": database_url, "MES_INSTANCE_PATH": str(instance)}
    return subprocess.Popen([sys.executable, "-m", "mes", "adapters", "run", "--line", "1"], env=env,
                            stdout=subprocess.DEVNULL, stderr=open(instance / "adapter.log", "ab"))


def test_a_killed_adapter_loses_nothing_it_had_spooled(line_one, sessions, database_url, tmp_path) -> None:
    config, offset = line_one
    instance = tmp_path / "instance"  # the app fixture's folder: the adapter's spool goes in it
    instance.mkdir(exist_ok=True)

    async def main() -> dict[str, int]:
        simulator = PlantSimulator(config, lines={1}, rate=2.0, seed=13, port_offset=offset, paused=True)
        with database_outage(database_url) as (url, proxy, holder):
            async with simulator:
                first = adapter_process(url, instance)
                try:
                    await asyncio.sleep(6)  # started, connected, initial values stored
                    simulator.resume()
                    await asyncio.sleep(1)
                    await asyncio.to_thread(take_away, database_url, proxy, holder)
                    await asyncio.sleep(3)  # what arrives now is spooled
                    await simulator.pause()
                    await asyncio.sleep(1.5)  # the last window reaches the spool
                finally:
                    first.send_signal(signal.SIGKILL)
                    first.wait()
                    give_back(proxy, holder)
                second = adapter_process(url, instance)
                try:
                    await asyncio.sleep(6)
                    await settled(sessions, quiet_s=3.0, limit_s=60)
                finally:
                    second.send_signal(signal.SIGTERM)
                    second.wait(timeout=30)
                return {m.code: simulator.sequence(m.code) for m in simulator.machines}

    sent = asyncio.run(main())
    assert missing_samples(sessions, sent) == dict.fromkeys(EXACT, 0), (instance / "adapter.log").read_text()[-3000:]
    restarts = gaps(sessions, "adapter_restart")
    assert all(count <= 1 for count in restarts.values())


@pytest.fixture(autouse=True)
def _quiet_asyncua(caplog):  # type: ignore[no-untyped-def]
    caplog.set_level("WARNING", logger="asyncua")
