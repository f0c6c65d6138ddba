"""Telemetry ingest end to end: simulator processes -> adapter process -> SQLite and PostgreSQL.

What it measures
    A synthetic load plant (benchmarks/load_plant.py: 50 machines x 20 process values + state + counter,
    one endpoint each, publishing every 500 ms) is served by SIMULATORS simulator processes (default 2,
    each a PlantSimulator over its share of the machines) and read by the adapter process
    (line_adapters.runner.run_adapters, exactly as `mes adapters run` runs it, retention off) into a
    scratch database: a SQLite file (the app's pragmas: WAL, synchronous=FULL) or a scratch PostgreSQL
    database created and dropped here.

    Each measurement: the simulators start paused; the adapter subscribes and stores the initial values
    (not counted); the database's sample count is taken; the simulators run for the window; they are
    paused (no write happens after a pause returns), which fixes what was offered: the increase of the
    machines' Sequence tags (the simulator's own count of data changes sent on the configured tags, read
    in the simulator process); the adapter then drains (until it has received and committed as many
    notifications as were offered, or nothing arrives for 3 s). Committed = the increase of the rows in
    `samples`, counted in the database. So "100 % committed" means every data change the servers sent
    during the window is a row in the database.

    Per database: committed samples/s (over the window), offered vs committed (and, when they differ, what
    the adapter received, what its writer committed and the warnings in its log), source-to-commit latency
    p50/p99 (the adapter's own WriterStats samples: commit time minus the PLC source time, for batches
    committed after the window began; WriterStats takes about 50 a batch, so a few big late batches weigh
    little), adapter CPU per committed sample (utime+stime of the whole adapter process from the window's
    start to the end of the drain, /proc; split into its event-loop thread, which speaks OPC UA, and its
    writer thread, which stores), adapter RSS (now and peak, VmHWM), and the database server's CPU: the
    PostgreSQL backends of the scratch database (by pg_stat_activity), with the WAL writer, checkpointer and
    background writer, which the server's other databases share, apart; n/a on SQLite, which runs inside
    the adapter process and is in its CPU. Then, against the same simulators, a bare asyncua client (one
    Client per endpoint, the same subscriptions, a Subscription whose publish_callback only counts the
    notifications of whole publish responses): its CPU per notification is the ceiling the adapter is
    compared with. Then higher rates (shorter windows by default), in order while the previous one kept
    up, give the highest offered rate committed in full on each database: every sample committed, within
    2 s of the window's end (a reader that catches up on a backlog afterwards is not keeping pace).

    Targets (issue 6) at an offered 5,000 samples/s: 100 % committed, p99 under 1 s, adapter CPU at most
    25 us a sample and at most 1.5 x the bare client's, RSS under 200 MB, on both databases.

    The host is shared: simulators, adapter and database server compete for its CPUs, and so does anything
    else running there; each figure says how much CPU the host's other processes took meanwhile, and the
    report flags a busy host, whose figures are inflated (CPU per sample, latency) or worse.

How to run (from the repository root)
    .venv/bin/python benchmarks/ingest.py [--db sqlite|postgresql|both] [--rate 5] [--seconds 60]
        [--bare-seconds 20] [--probe-rates 7.5,10,15] [--probe-seconds 10] [--simulators 2]
        [--profile DIR] [--keep DIR]

    --profile DIR: py-spy (pip install py-spy) records the adapter over each main window and the bare client
    (collapsed stacks, DIR/adapter-<db>.txt, DIR/bare.txt). --keep DIR: work there and keep it (the load
    plant's configuration, the SQLite file, the children's logs).

    PostgreSQL: the server at MES_BENCH_POSTGRES_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test)
    gets a scratch database mes_bench_ingest_<pid>, dropped at the end; when it is unreachable only SQLite
    runs. The defaults end within 5 minutes on 2 cores. Exit code 0 whatever the figures (OK/MISSED shown).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import queue
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # load_plant, when run as a script
from load_plant import machine_codes, write_load_plant

REPOSITORY = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get("MES_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
BUDGET_S = 290  # the whole run, probes included, stays under 5 minutes
DRAIN_IDLE_S, DRAIN_MAX_S = 3.0, 30.0
KEPT_UP_S = 2.0  # a rate is "committed in full" when all of it is committed within this long after the window
TARGET_P99_S, TARGET_US, TARGET_RATIO, TARGET_RSS_MB = 1.0, 25.0, 1.5, 200.0


# --- /proc ---------------------------------------------------------------------------------------------------
def cpu_seconds(pid: int, tid: int | None = None) -> float:
    """User + system CPU so far of a process (all its threads), or of its thread `tid`."""
    try:
        with open(f"/proc/{pid}/task/{tid}/stat" if tid else f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) in MB: resident now and at its peak."""
    values = {}
    with suppress(OSError), open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


SHARED_BACKENDS = ("checkpointer", "background writer", "walwriter")


def server_cpu(url: str) -> dict[int, tuple[bool, float]]:
    """CPU so far of the PostgreSQL processes working for the scratch database (its backends, autovacuum on it)
    and of the server's shared writers (True: shared with the host's other databases), by process id."""
    from sqlalchemy import text

    engine = engine_for(url)
    with engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT pid, backend_type = ANY(:shared) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
            "AND (datname = current_database() OR backend_type = ANY(:shared))"), {"shared": list(SHARED_BACKENDS)})
        return {pid: (shared, cpu_seconds(pid)) for pid, shared in rows}


def server_delta(before: dict[int, tuple[bool, float]], after: dict[int, tuple[bool, float]]) -> tuple[float, float]:
    """(own, shared) CPU seconds between two server_cpu() readings."""
    own = shared = 0.0
    for pid, (is_shared, cpu) in after.items():
        delta = cpu - before.get(pid, (is_shared, 0.0))[1]
        own, shared = (own, shared + delta) if is_shared else (own + delta, shared)
    return own, shared


def host_busy() -> float:
    """Busy CPU seconds of the whole host so far, all cores (/proc/stat: all but idle and iowait)."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:9]]
    return (sum(values) - values[3] - values[4]) / CLOCK_TICKS


# --- children ------------------------------------------------------------------------------------------------
class Child:
    """A process running one of this file's child roles, driven by JSON lines on stdin and stdout."""

    def __init__(self, role: str, args: list[str], folder: Path) -> None:
        self.role = role
        self.log_path = folder / f"{role}-{time.monotonic_ns()}.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115 (closed in close())
        self.process = subprocess.Popen([sys.executable, __file__, role, *args], cwd=REPOSITORY, text=True,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, bufsize=1)
        self.pid = self.process.pid
        self._lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("{"):
                self._lines.put(json.loads(line))
        self._lines.put(None)

    def expect(self, timeout: float = 60) -> dict[str, Any]:
        try:
            message = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise RuntimeError(f"{self.role}: no answer within {timeout:.0f} s{self._tail()}") from None
        if message is None:
            raise RuntimeError(f"{self.role} ended (exit {self.process.wait()}){self._tail()}")
        return message

    def send(self, command: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def ask(self, command: str, timeout: float = 60) -> dict[str, Any]:
        self.send(command)
        return self.expect(timeout)

    def _tail(self) -> str:
        self._log.flush()
        lines = self.log_path.read_text(errors="replace").splitlines()[-15:]
        return (":\n    " + "\n    ".join(lines)) if lines else ""

    def close(self, timeout: float = 30, terminate: bool = False) -> None:
        """End the child: its stdin closed (it finishes its work), or terminated when it has nothing to keep."""
        with suppress(OSError, ValueError):
            assert self.process.stdin is not None
            self.process.stdin.close()
        if terminate:
            self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()


def _commands(loop: asyncio.AbstractEventLoop) -> asyncio.Queue[str]:
    """Lines of stdin as they come; "quit" at its end."""
    commands: asyncio.Queue[str] = asyncio.Queue()

    def read() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(commands.put_nowait, line.strip())
        loop.call_soon_threadsafe(commands.put_nowait, "quit")

    threading.Thread(target=read, daemon=True).start()
    return commands


def emit(**message: Any) -> None:
    print(json.dumps(message), flush=True)


async def simulator_child(config_dir: Path, codes: set[str], rate: float) -> None:
    """Serve `codes` paused; "resume" and "pause" answer with the sum of their Sequence tags, "rate R" serves
    them afresh at rate R (same ports; the standard address space is built once per process)."""
    from line_adapters.simulator import PlantSimulator
    from mes.plant_config import load_plant_config

    config = load_plant_config(config_dir)
    commands = _commands(asyncio.get_running_loop())
    simulator = PlantSimulator(config, machines=codes, rate=rate, paused=True)
    await simulator.start()
    try:
        emit(event="ready", machines=len(simulator.machines))
        started = time.perf_counter()
        while (command := await commands.get()) != "quit":
            if command == "resume":
                sequence = sum(simulator.sequence(code) for code in codes)
                started = time.perf_counter()
                simulator.resume()
                emit(sequence=sequence)
            elif command == "pause":
                await simulator.pause()
                emit(sequence=sum(simulator.sequence(code) for code in codes), running_s=time.perf_counter() - started)
            elif command.startswith("rate "):
                await simulator.stop()
                simulator = PlantSimulator(config, machines=codes, rate=float(command.split()[1]), paused=True)
                await simulator.start()
                emit(event="ready", machines=len(simulator.machines))
    finally:
        await simulator.stop()


async def adapter_child(url: str, folder: Path) -> None:
    """run_adapters into `url`; "stats", "mark" (latencies restart) and "stop" (final figures) answer."""
    from line_adapters import runner
    from mes.audit import AuditConfig
    from mes.db import make_engine, make_session_factory

    writers: list[runner.BatchWriter] = []

    class SeenWriter(runner.BatchWriter):
        def start(self) -> None:
            writers.append(self)
            super().start()

    runner.BatchWriter = SeenWriter  # type: ignore[misc]  # only to read its stats while it runs
    engine = make_engine(url, bulk_writer=True)  # as `mes adapters run` makes it
    sessions = make_session_factory(engine, audit=AuditConfig(secrets.token_bytes(32), folder / "audit.log"))
    stop, ready = asyncio.Event(), asyncio.Event()
    commands = _commands(asyncio.get_running_loop())
    task = asyncio.create_task(runner.run_adapters(sessions, None, stop, ready, retention=False,
                                                   spool_folder=folder / "spool"))  # as `mes adapters run`
    await asyncio.wait([task, asyncio.create_task(ready.wait())], return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()
    emit(event="ready")
    while True:
        command = await commands.get()
        stats = writers[0].stats
        if command == "mark":
            stats.latencies.clear()
        if command in ("stats", "mark"):
            emit(received=stats.received, committed=stats.committed, failures=stats.failures,
                 writer=writers[0].native_id)
        elif command in ("stop", "quit"):
            latencies = sorted(stats.latencies)  # before the shutdown flush adds to them
            stop.set()
            final = await task
            emit(received=final.received, committed=final.committed, failures=final.failures,
                 latencies=len(latencies), p50=percentile(latencies, 50), p99=percentile(latencies, 99))
            break
    engine.dispose()


async def bare_child(config_dir: Path) -> None:
    """A plain asyncua client per endpoint subscribing to every configured tag; it only counts notifications."""
    from asyncua import Client, ua
    from asyncua.common.subscription import Subscription

    from mes.plant_config import load_plant_config

    counted = [0]

    class CountingSubscription(Subscription):
        async def publish_callback(self, publish_result: ua.PublishResult) -> None:
            for notification in publish_result.NotificationMessage.NotificationData or ():
                if isinstance(notification, ua.DataChangeNotification):
                    counted[0] += len(notification.MonitoredItems)

    class NoHandler:
        pass

    clients = []
    for line in load_plant_config(config_dir).lines:
        for machine in line.config.machines:
            client = Client(machine.endpoint, timeout=4)
            await client.connect()
            clients.append(client)
            own = machine.subscription
            params = ua.CreateSubscriptionParameters()
            params.RequestedPublishingInterval = own.publishing_ms or 1000
            params.RequestedLifetimeCount = 10000
            params.RequestedMaxKeepAliveCount = client.get_keepalive_count(params.RequestedPublishingInterval)
            params.MaxNotificationsPerPublish = 0
            params.PublishingEnabled = True
            subscription = CountingSubscription(client.uaclient.session, params, handler=NoHandler())
            await subscription.init()
            create = ua.CreateMonitoredItemsParameters()
            create.SubscriptionId = subscription.subscription_id
            create.TimestampsToReturn = ua.TimestampsToReturn.Both
            for handle, tag in enumerate(machine.tags, 1):
                request = ua.MonitoredItemCreateRequest()
                request.ItemToMonitor.NodeId = ua.NodeId.from_string(tag.node)
                request.ItemToMonitor.AttributeId = ua.AttributeIds.Value
                request.MonitoringMode = ua.MonitoringMode.Reporting
                request.RequestedParameters.ClientHandle = handle
                request.RequestedParameters.SamplingInterval = own.sampling_ms or 0
                request.RequestedParameters.QueueSize = own.queue_size or 10
                request.RequestedParameters.DiscardOldest = True
                create.ItemsToCreate.append(request)
            await subscription.server.create_monitored_items(create)
    commands = _commands(asyncio.get_running_loop())
    emit(event="ready")
    while await commands.get() != "quit":
        emit(received=counted[0])
    for client in clients:
        with suppress(Exception):
            await client.disconnect()


def percentile(values: list[float], p: float) -> float | None:
    """Nearest rank of sorted `values`."""
    if not values:
        return None
    return values[min(len(values) - 1, max(0, -(-len(values) * p // 100) - 1))]


# --- the measurement -----------------------------------------------------------------------------------------
@dataclass
class Phase:
    """One window: what was offered, what the reader got and what everything cost."""

    rate: float
    window_s: float = 0.0
    offered: int = 0
    committed: int = 0  # rows in the database (adapter) or notifications counted (bare client)
    cpu_s: float = 0.0
    rss_mb: tuple[float, float] = (0.0, 0.0)
    db_cpu_s: float | None = None
    sim_cpu_s: float = 0.0
    thread_cpu_s: dict[str, float] = field(default_factory=dict)
    shared_db_cpu_s: float = 0.0  # PostgreSQL's WAL writer, checkpointer, background writer: shared with others
    others_cpu_s: float = 0.0  # every other process of the host (what this benchmark does not account for)
    received: int = 0  # notifications the reader got in the window
    writer_committed: int = 0  # of which the adapter's writer committed (its own count)
    failures: int = 0
    notes: list[str] = field(default_factory=list)
    drain_s: float = 0.0
    latency: dict[str, Any] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return self.offered > 0 and self.committed == self.offered

    @property
    def kept_up(self) -> bool:
        """All committed, and soon after the window: the reader kept pace rather than caught up on a backlog."""
        return self.complete and self.drain_s <= KEPT_UP_S

    def core(self, cpu_s: float) -> float:
        """CPU seconds as a percentage of one core over the window and the drain."""
        return cpu_s / (self.window_s + self.drain_s) * 100 if self.window_s else 0.0

    def per_s(self, n: int) -> float:
        return n / self.window_s if self.window_s else 0.0

    @property
    def us_per_sample(self) -> float | None:
        return self.cpu_s / self.committed * 1e6 if self.committed else None


class Simulators:
    """The simulator processes, each serving its share of the machines, paused between windows."""

    def __init__(self, config_dir: Path, codes: list[str], processes: int, rate: float, folder: Path) -> None:
        share = -(-len(codes) // processes)
        self.children = [Child("_simulator", ["--config", str(config_dir), "--rate", str(rate),
                                              "--machines", ",".join(codes[i:i + share])], folder)
                         for i in range(0, len(codes), share)]
        self.rate = rate

    def wait_ready(self) -> None:
        for child in self.children:
            child.expect(120)

    def change_rate(self, rate: float) -> None:
        """Serve the machines afresh at `rate` (a machine's model is made for one rate)."""
        for child in self.children:
            child.send(f"rate {rate}")
        self.wait_ready()
        self.rate = rate

    def cpu(self) -> float:
        return sum(cpu_seconds(c.pid) for c in self.children)

    def resume(self) -> int:
        return sum(c.ask("resume")["sequence"] for c in self.children)

    def pause(self) -> tuple[int, float]:
        answers = [c.ask("pause") for c in self.children]
        return sum(a["sequence"] for a in answers), max(a["running_s"] for a in answers)

    def close(self) -> None:
        for child in self.children:  # a simulator keeps nothing: no need to wait for its servers to say goodbye
            child.close(terminate=True)


def offer(sims: Simulators, phase: Phase, seconds: float, reader: Child, received: int, db_url: str | None = None,
          threads: dict[str, int] | None = None) -> dict[str, Any]:
    """Run the simulators for `seconds`, then drain the reader; fills `phase` but for `committed`.

    `threads` (name -> thread id of the reader) get their own CPU figures."""
    threads = threads or {}
    cpu0, sim0 = cpu_seconds(reader.pid), sims.cpu()
    thread0 = {name: cpu_seconds(reader.pid, tid) for name, tid in threads.items()}
    pg0 = server_cpu(db_url) if db_url else {}
    host0 = host_busy()
    s0 = sims.resume()
    time.sleep(seconds)
    s1, phase.window_s = sims.pause()
    paused = time.perf_counter()
    phase.offered = s1 - s0
    last, changed = None, paused
    while True:
        stats = reader.ask("stats")
        drained = stats.get("committed", stats["received"]) == stats["received"]  # the bare client commits nothing
        if stats["received"] - received >= phase.offered and drained:
            break
        now = time.perf_counter()
        if stats != last:
            last, changed = stats, now
        elif now - changed > DRAIN_IDLE_S or now - paused > DRAIN_MAX_S:
            break
        time.sleep(0.05)
    phase.drain_s = time.perf_counter() - paused
    phase.cpu_s, phase.sim_cpu_s = cpu_seconds(reader.pid) - cpu0, sims.cpu() - sim0
    phase.thread_cpu_s = {name: cpu_seconds(reader.pid, tid) - thread0[name] for name, tid in threads.items()}
    host1 = host_busy()
    if db_url:
        phase.db_cpu_s, phase.shared_db_cpu_s = server_delta(pg0, server_cpu(db_url))
    phase.others_cpu_s = max(0.0, host1 - host0 - phase.cpu_s - phase.sim_cpu_s - (phase.db_cpu_s or 0.0)
                             - phase.shared_db_cpu_s)
    phase.rss_mb = rss_mb(reader.pid)
    phase.received = stats["received"] - received
    return stats


def settle(reader: Child, tags: int, timeout: float = 60) -> dict[str, Any]:
    """Wait until the reader has the initial value of every tag (and, for the adapter, committed them)."""
    deadline = time.perf_counter() + timeout
    while True:
        stats = reader.ask("stats")
        if stats["received"] >= tags and stats.get("committed", stats["received"]) == stats["received"]:
            return stats
        if time.perf_counter() > deadline:
            raise RuntimeError(f"{reader.role}: only {stats['received']} initial values of {tags} tags in "
                               f"{timeout:.0f} s (log {reader.log_path})")
        time.sleep(0.1)


_engines: dict[str, Any] = {}


def engine_for(url: str) -> Any:
    """One engine per database for this process's own queries (disposed at the end)."""
    if url not in _engines:
        from mes.db import make_engine

        _engines[url] = make_engine(url)
    return _engines[url]


def forget_engine(url: str) -> None:
    engine = _engines.pop(url, None)
    if engine is not None:
        engine.dispose()


def count_samples(url: str) -> int:
    from sqlalchemy import text

    with engine_for(url).connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM samples")).scalar_one())


def adapter_phase(sims: Simulators, url: str, tags: int, seconds: float, folder: Path,
                  profile: Path | None = None) -> Phase:
    phase = Phase(sims.rate)
    adapter = Child("_adapter", ["--url", url, "--folder", str(folder)], folder)
    spy = None
    try:
        adapter.expect(120)
        settle(adapter, tags)
        before = count_samples(url)
        marked = adapter.ask("mark")
        spy = py_spy(adapter.pid, seconds, profile)
        offer(sims, phase, seconds, adapter, marked["received"], url if url.startswith("postgresql") else None,
              threads={"event loop": adapter.pid, "writer": marked["writer"]})
        phase.latency = final = adapter.ask("stop", timeout=120)
        phase.writer_committed = final["committed"] - marked["committed"]
        phase.failures = final["failures"] - marked["failures"]
    finally:
        adapter.close()
        if spy is not None:
            spy.wait()
    phase.committed = count_samples(url) - before
    if not phase.complete:  # what the adapter said about it
        lines = adapter.log_path.read_text(errors="replace").splitlines()
        said = (ln.split(" ", 2)[-1] for ln in lines if (" WARNING " in ln or " ERROR " in ln
                                                          or "connection issue" in ln) and "session timeout" not in ln)
        phase.notes = list(dict.fromkeys(said))[:6]
    return phase


def bare_phase(sims: Simulators, config_dir: Path, tags: int, seconds: float, folder: Path,
               profile: Path | None = None) -> Phase:
    phase = Phase(sims.rate)
    bare = Child("_bare", ["--config", str(config_dir)], folder)
    spy = None
    try:
        bare.expect(120)
        start = settle(bare, tags)["received"]
        spy = py_spy(bare.pid, seconds, profile)
        offer(sims, phase, seconds, bare, start)
        phase.committed = phase.received
    finally:
        bare.close()
        if spy is not None:
            spy.wait()
    return phase


def py_spy(pid: int, seconds: float, output: Path | None) -> subprocess.Popen[bytes] | None:
    """With an output file: py-spy (pip install py-spy) samples the process's threads over the window."""
    if output is None:
        return None
    command = [str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(pid), "--duration",
               str(int(seconds)), "--rate", "50", "--threads", "--format", "raw", "--output", str(output)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@contextmanager
def scratch_database(db: str, folder: Path) -> Iterator[str]:
    """A migrated, empty database for `db` (sqlite or postgresql); PostgreSQL's is dropped afterwards."""
    if db == "sqlite":
        url = f"sqlite:///{folder / 'ingest.db'}"
        yield url
        forget_engine(url)
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    name = f"mes_bench_ingest_{os.getpid()}"
    url = ""
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
        yield url
    finally:
        forget_engine(url)
        with suppress(Exception), admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def prepare(url: str, config: Any, folder: Path) -> None:
    from mes.audit import AuditConfig
    from mes.db import make_engine, make_session_factory
    from mes.migrate import upgrade
    from mes.plant_loader import load_plant

    upgrade(url)
    engine = make_engine(url)
    try:
        sessions = make_session_factory(engine, audit=AuditConfig(secrets.token_bytes(32), folder / "audit.log"))
        with sessions.begin() as session:
            load_plant(session, config)
    finally:
        engine.dispose()


def free_ports(count: int, start: int = 49100) -> int:
    """The first port of `count` consecutive ports free on 127.0.0.1."""
    base = start
    while base + count < 65000:
        for port in range(base, base + count):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    base = port + 1
                    break
        else:
            return base
    raise RuntimeError("no block of free ports")


# --- the report ----------------------------------------------------------------------------------------------
def verdict(ok: bool) -> str:
    return "OK    " if ok else "MISSED"


def seconds_text(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def report(db: str, phase: Phase, bare: Phase | None) -> None:
    us = phase.us_per_sample
    bare_us = bare.us_per_sample if bare else None
    p99 = phase.latency.get("p99")
    share = phase.committed / phase.offered * 100 if phase.offered else 0.0
    print(f"\n== {db} at rate {phase.rate:g}: {phase.window_s:.1f} s window (+{phase.drain_s:.1f} s drain)")
    print(f"committed: {phase.per_s(phase.committed):,.0f} samples/s")
    print(f"  {verdict(phase.complete)} offered {phase.offered:,} ({phase.per_s(phase.offered):,.0f}/s), committed "
          f"{phase.committed:,} ({share:.2f} %)   [target 100 %]")
    if not phase.complete:
        print(f"         the adapter received {phase.received:,} notifications, its writer committed "
              f"{phase.writer_committed:,}, {phase.failures} failed batches; its log says:")
        for note in phase.notes or ["(nothing)"]:
            print(f"           {note[:150]}")
    print(f"  {verdict(p99 is not None and p99 < TARGET_P99_S)} latency source->commit p50 "
          f"{seconds_text(phase.latency.get('p50'))}, p99 {seconds_text(p99)} ({phase.latency.get('latencies', 0):,} "
          f"sampled)   [target p99 < {TARGET_P99_S:g} s]")
    if us is None:
        print("  MISSED adapter CPU: nothing committed")
    else:
        print(f"  {verdict(us <= TARGET_US)} adapter CPU {us:.1f} us/sample ({phase.cpu_s:.1f} s, "
              f"{phase.core(phase.cpu_s):.0f} % of a core)   [target <= {TARGET_US:g} us]")
        if phase.thread_cpu_s:
            print("         of which " + ", ".join(f"{name} thread {cpu / phase.committed * 1e6:.1f} us"
                                             for name, cpu in phase.thread_cpu_s.items()))
        if bare_us:
            print(f"  {verdict(us <= TARGET_RATIO * bare_us)} adapter / bare client = {us / bare_us:.2f} "
                  f"({us:.1f} / {bare_us:.1f} us)   [target <= {TARGET_RATIO:g}]")
    print(f"  {verdict(phase.rss_mb[1] < TARGET_RSS_MB)} adapter RSS {phase.rss_mb[0]:.0f} MB now, "
          f"{phase.rss_mb[1]:.0f} MB peak   [target < {TARGET_RSS_MB:g} MB]")
    if phase.db_cpu_s is None:
        print("  database server CPU: n/a (SQLite runs inside the adapter process: its CPU is in the adapter's)")
    else:
        print(f"  database server CPU {phase.db_cpu_s:.1f} s = {phase.db_cpu_s / max(1, phase.committed) * 1e6:.1f} "
              f"us/sample ({phase.core(phase.db_cpu_s):.0f} % of a core; the scratch database's backends), "
              f"+ {phase.shared_db_cpu_s:.1f} s in the shared WAL writer, checkpointer and background writer")
    print(f"  simulators {phase.core(phase.sim_cpu_s):.0f} % of a core; {others(phase)}")


def others(phase: Phase) -> str:
    """What the rest of the host did meanwhile: figures taken on a busy host are not this code's alone."""
    share = phase.core(phase.others_cpu_s)
    busy = " (a busy host: the figures above are inflated)" if share > 20 else ""
    return f"other processes on the host {share:.0f} % of a core{busy}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--rate", type=float, default=5.0, help="simulator rate of the main point (default 5)")
    parser.add_argument("--seconds", type=float, default=60.0, help="window of the main point (default 60)")
    parser.add_argument("--bare-seconds", type=float, default=20.0, help="window of the bare client (default 20)")
    parser.add_argument("--probe-rates", default="7.5,10,15",
                        help="higher rates to try, in order, while the previous one kept up (default 7.5,10,15)")
    parser.add_argument("--probe-seconds", type=float, default=10.0, help="window of each probe (default 10)")
    parser.add_argument("--simulators", type=int, default=2, help="simulator processes (default 2)")
    parser.add_argument("--machines", type=int, default=50)
    parser.add_argument("--process-values", type=int, default=20)
    parser.add_argument("--publishing-ms", type=int, default=500)
    parser.add_argument("--profile", type=Path, help="folder for py-spy profiles of the adapter's main windows")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (configuration, SQLite file, "
                        "the children's logs) instead of a temporary one")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    dbs = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    probes = [float(r) for r in args.probe_rates.split(",") if r.strip()]
    logging.basicConfig(level=logging.WARNING)

    with tempfile.TemporaryDirectory(prefix="mes-ingest-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        config_dir = folder / "config"
        config = write_load_plant(config_dir, machines=args.machines, process_values=args.process_values,
                                  base_port=free_ports(args.machines), publishing_ms=args.publishing_ms)
        codes = machine_codes(args.machines)
        tags = sum(len(m.tags) for ln in config.lines for m in ln.config.machines)
        print(f"ingest: {args.machines} machines, {tags} tags ({args.machines * args.process_values} process values), "
              f"publishing every {args.publishing_ms} ms, {args.simulators} simulator processes, "
              f"{os.cpu_count()} CPUs", flush=True)
        with scratch_databases(dbs, folder) as urls:
            sims = Simulators(config_dir, codes, args.simulators, args.rate, folder)
            try:
                for db, url in urls.items():
                    prepare(url, config, folder)
                    print(f"  {db}: scratch database ready ({time.perf_counter() - began:.0f} s)", flush=True)
                sims.wait_ready()
                main_phases: dict[str, Phase] = {}
                for db, url in urls.items():
                    profile = args.profile / f"adapter-{db}.txt" if args.profile else None
                    main_phases[db] = adapter_phase(sims, url, tags, args.seconds, folder, profile)
                    print(f"  {db} at rate {args.rate:g}: done ({time.perf_counter() - began:.0f} s)", flush=True)
                bare = bare_phase(sims, config_dir, tags, args.bare_seconds, folder,
                                  args.profile / "bare.txt" if args.profile else None)
                print(f"  bare client: done ({time.perf_counter() - began:.0f} s)", flush=True)
                probed: dict[str, list[Phase]] = {db: [p] for db, p in main_phases.items()}
                skipped = []
                for rate in probes:
                    todo = [db for db in urls if probed[db][-1].kept_up]
                    if not todo:
                        break
                    if time.perf_counter() - began + 2 + len(todo) * (args.probe_seconds + 6) > BUDGET_S:
                        skipped.append(rate)
                        continue
                    sims.change_rate(rate)
                    for db in todo:
                        probed[db].append(adapter_phase(sims, urls[db], tags, args.probe_seconds, folder))
                        print(f"  {db} at rate {rate:g}: done ({time.perf_counter() - began:.0f} s)", flush=True)
            finally:
                sims.close()

    print(f"\nbare asyncua client (counts whole publish responses) at rate {bare.rate:g}, {bare.window_s:.1f} s: "
          f"{bare.committed:,} of {bare.offered:,} notifications, {bare.cpu_s:.1f} s CPU = "
          f"{bare.us_per_sample or 0:.1f} us/notification; RSS {bare.rss_mb[1]:.0f} MB peak; "
          f"simulators {bare.core(bare.sim_cpu_s):.0f} % of a core; {others(bare)}")
    for db, phase in main_phases.items():
        report(db, phase, bare)
    print(f"\nhighest offered rate committed in full (all of it committed within {KEPT_UP_S:g} s of the window's "
          f"end; main windows {args.seconds:g} s, probes {args.probe_seconds:g} s"
          f"{'; skipped for time: rate ' + ', '.join(f'{r:g}' for r in skipped) if skipped else ''}):")
    for db, phases in probed.items():
        full = [p for p in phases if p.kept_up]
        print(f"  {db}: {f'{max(p.per_s(p.offered) for p in full):,.0f} samples/s' if full else 'none'}")
        for p in phases:
            server = "" if p.db_cpu_s is None else f", server {p.core(p.db_cpu_s):.0f} %"
            print(f"    rate {p.rate:<4g} {p.per_s(p.offered):7,.0f}/s offered, "
                  f"{p.committed / p.offered * 100 if p.offered else 0:6.2f} % committed, drain {p.drain_s:4.1f} s, "
                  f"p99 {seconds_text(p.latency.get('p99'))}, {p.us_per_sample or 0:5.1f} us/sample, "
                  f"adapter {p.core(p.cpu_s):3.0f} % of a core{server}, simulators {p.core(p.sim_cpu_s):.0f} %, "
                  f"others {p.core(p.others_cpu_s):.0f} %")
    print(f"\ntotal {time.perf_counter() - began:.0f} s")


@contextmanager
def scratch_databases(dbs: list[str], folder: Path) -> Iterator[dict[str, str]]:
    """Scratch databases for `dbs`; one whose server cannot be reached is left out, with a note."""
    urls: dict[str, str] = {}
    with ExitStack() as stack:
        for db in dbs:
            try:
                urls[db] = stack.enter_context(scratch_database(db, folder))
            except Exception as exc:  # the server is away: say so and measure the others
                print(f"  {db}: unavailable ({type(exc).__name__}: {str(exc).splitlines()[0]})", flush=True)
        yield urls


def child_main(argv: list[str]) -> None:
    role = argv[0]
    parser = argparse.ArgumentParser(prog=role)
    parser.add_argument("--config", type=Path)
    parser.add_argument("--rate", type=float)
    parser.add_argument("--machines", default="")
    parser.add_argument("--url")
    parser.add_argument("--folder", type=Path)
    args = parser.parse_args(argv[1:])
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if role == "_simulator":
        asyncio.run(simulator_child(args.config, set(args.machines.split(",")), args.rate))
    elif role == "_adapter":
        logging.getLogger("asyncua.client.client").setLevel(logging.INFO)  # it says "connection issue" at INFO
        asyncio.run(adapter_child(args.url, args.folder))
    elif role == "_bare":
        asyncio.run(bare_child(args.config))
    else:
        raise SystemExit(f"unknown role {role}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1].startswith("_"):
        child_main(sys.argv[1:])
    else:
        main()
