"""Telemetry through faults: simulator processes -> `mes adapters run` processes -> SQLite and PostgreSQL, while
PLCs restart, links are cut, the database goes away and the adapter is killed.

What it measures
    A synthetic load plant (benchmarks/fault_plant.py over benchmarks/load_plant.py: 20 machines x 20 process
    values + state + counter, one endpoint each, publishing every 500 ms; at rate 5 about 2,000 data changes a
    second, and 200 Sequence samples) is read by one `python -m mes adapters run --line 90` process per
    database (a SQLite file, and a scratch PostgreSQL database created and dropped here). Both run at the same
    time and get the same faults at the same moments, each from its own set of simulated PLCs (SIMULATORS
    processes a set, default 1, one PlantSimulator per machine so that one PLC can be restarted alone), so
    what one adapter does to a PLC cannot touch the other's figures; --shared-simulators serves both adapters
    from one set instead (two OPC UA clients per PLC, as a PLC read by the MES and a SCADA would be). The
    adapter's configuration also reads each machine's Sequence node (the simulator's count of the data changes
    it sent on the machine's tags, written with the source time of each tick that changed something).

    For SECONDS (default 300) of load, ROUNDS (default 3) rounds inject each kind of fault once, one fault at a
    time (each round: the cut at 3 % of it, the restart at 17 %, the outage at 35 %, the kill at 80 %), each
    round on other machines:
      network cut      the TCP proxy between the adapters and one machine's endpoint drops its connections and
                       refuses new ones for CUT_SECONDS (default 4 s), then mends; the machines' queue size is
                       chosen so that the queue covers the changes a monitored item gets during the cut and the
                       reconnect back-off after it (printed), i.e. the cut is within the queue window;
      PLC restart      one machine's simulator pauses (so it sends nothing more), stops its server as a power
                       cut would (listening socket closed, connections reset), waits RESTART_SECONDS (default
                       3 s), starts it again on the same port and resumes;
      database outage  for OUTAGE_SECONDS (default 30 s) SQLite's write lock is held by another connection
                       (BEGIN EXCLUSIVE), and the proxy in front of PostgreSQL drops and refuses connections;
      adapter kill -9  both adapter processes get SIGKILL and are started again at once (same instance folder,
                       so the new one drains the spool the killed one left in INSTANCE/spool).

    At the end the simulators are paused, which fixes what was offered (their Sequence counts, read in the
    simulator processes); the adapters drain (the databases' sample counts stay still and the spools are
    empty) and are stopped. Then, per database:
      offered     the data changes the simulators sent during the load (Sequence counts);
      committed   rows in `samples` of the machines' tags (Sequence apart) with a source time in the load;
      lost        per machine, between two consecutive stored Sequence samples (S1 at t1, S2 at t2) the
                  simulator sent S2 - S1 changes, each stamped with its tick's time in (t1, t2]; the stored rows
                  with a source time in (t1, t2] are counted against that (after the last stored Sequence
                  sample, against the final count). A shortfall is a lost span; it is "inside a declared gap"
                  when a gap of that machine starts at most SLACK (a publishing interval + 0.5 s) after t1 and
                  ends at most SLACK before t2 (or is open). `lost: N` counts the values lost outside.
      duplicated  a value stored twice under different source times: a row whose value and status equal the
                  same tag's previous row, with no lost span of its machine between the two (the simulator sends
                  a value only when it differs from the last one sent, so a genuine change never repeats the
                  previous row unless the change between them was lost). The initial values a restarted PLC
                  sends afresh (stamped when the adapter subscribes again, the same values) are counted apart,
                  as that server did send them twice. Rows sharing tag and source time cannot exist (primary
                  key), so replays of the spool cannot show.
      gaps        telemetry_gaps rows, each attributed to the latest fault whose time window (and machine) holds
                  its start (a cut: from 1 s before to the back-off cap, 30 s, after it mends; a restart: from
                  3 s before it to the cap + 5 s after it resumes; an outage: to 15 s after it ends; a kill:
                  from 5 s before to 30 s after), and checked against the targets; the lost spans are
                  attributed the same way (by where they begin, else where they end).

    Targets (issue 7): 0 lost and 0 duplicated outside declared gaps; no gap declared for a cut within the
    queue window or for a database outage; a PLC restart's gap (one per restart) no longer than the outage
    (pause to resume) plus the back-off cap (RECONNECT_CAP_S, 30 s); a kill -9 declares at most one gap per
    machine, starting at the machine's last durable sample (the latest source time of its rows that the
    killed process had received: committed, or spooled and drained by the next one).

    The host is shared: its other processes' CPU over the run is reported; a busy host can turn a cut into a
    longer one (late reconnects) and makes every figure noisier.

How to run (from the repository root)
    .venv/bin/python benchmarks/faults.py [--db sqlite|postgresql|both] [--seconds 300] [--rounds 3]
        [--machines 20] [--process-values 20] [--rate 5] [--simulators 1] [--shared-simulators]
        [--cut-seconds 4] [--restart-seconds 3] [--outage-seconds 30] [--keep DIR]

    --keep DIR: work there and keep it (the configurations, the SQLite file, the adapters' spools and logs,
    the simulators' logs). PostgreSQL: the server at MES_BENCH_POSTGRES_URL (default
    postgresql+psycopg://postgres@127.0.0.1:5432/test) gets a scratch database mes_bench_faults_<pid>, dropped
    at the end; when it is unreachable only SQLite runs. The defaults take about 6 minutes on 2 cores (both
    databases run at once). Exit code 0 whatever the figures (OK/MISSED shown).
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import queue
import random
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import accumulate
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # ingest, load_plant, fault_plant, when run as a script
import ingest
from fault_plant import SEQUENCE_TAG, write_fault_plants
from ingest import (
    POSTGRES_URL,
    REPOSITORY,
    _commands,
    count_samples,
    cpu_seconds,
    emit,
    engine_for,
    forget_engine,
    free_ports,
    host_busy,
    prepare,
    verdict,
)
from load_plant import machine_codes

sys.path.insert(1, str(REPOSITORY))  # tests.fault_proxy
from line_adapters.client import RECONNECT_CAP_S
from tests.fault_proxy import TcpProxy

log = logging.getLogger("faults")
KINDS = ("restart", "cut", "outage", "kill")
TITLES = {"restart": "PLC restart", "cut": "network cut", "outage": "database outage", "kill": "adapter kill -9"}
SLOTS = (("cut", 0.03), ("restart", 0.17), ("outage", 0.35), ("kill", 0.80))  # where in its round each fault starts
CONNECT_TIMEOUT_S = 4.0  # line_adapters.client.EndpointClient's timeout
SETTLE_S = 15.0  # the load goes on at least this long after the last fault
DRAIN_QUIET_S, DRAIN_MAX_S = 4.0, 180.0
LOG_LINE = re.compile(r"^\S+ \S+ (?P<level>ERROR|WARNING|CRITICAL) (?P<name>\S+): (?P<message>.*)$")  # `mes`'s format


# --- children ------------------------------------------------------------------------------------------------
class Child(ingest.Child):
    """ingest's JSON-lines child, running one of this file's roles."""

    def __init__(self, role: str, args: list[str], folder: Path) -> None:
        self.role = role
        self.log_path = folder / f"{role}-{time.monotonic_ns()}.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115 (closed in close())
        self.process = subprocess.Popen([sys.executable, __file__, role, *args], cwd=REPOSITORY, text=True,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, bufsize=1)
        self.pid = self.process.pid
        self._lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()


async def simulator_child(config_dir: Path, codes: list[str], rate: float) -> None:
    """Serve `codes`, one PlantSimulator each, paused. "resume" and "pause" answer with each machine's Sequence
    count; "restart CODE SECONDS" pauses that machine, stops its server, waits, starts it again and resumes."""
    from line_adapters.simulator import PlantSimulator
    from mes.plant_config import load_plant_config

    config = load_plant_config(config_dir)
    loop = asyncio.get_running_loop()

    def dump() -> None:  # SIGUSR1: where every task waits, into the log (the parent sends it when we hang)
        for task in asyncio.all_tasks(loop):
            task.print_stack(limit=6, file=sys.stderr)
        sys.stderr.flush()

    loop.add_signal_handler(signal.SIGUSR1, dump)
    commands = _commands(loop)
    sims = {code: PlantSimulator(config, machines={code}, rate=rate, paused=True) for code in codes}
    for sim in sims.values():
        await sim.start()

    def sequences() -> dict[str, int]:
        return {code: sim.sequence(code) for code, sim in sims.items()}

    try:
        emit(event="ready", machines=len(sims))
        while (command := await commands.get()) != "quit":
            if command == "resume":
                before = time.time()  # no tick can be stamped earlier
                for sim in sims.values():
                    sim.resume()
                emit(reply=command, at=before, sequence=sequences())
            elif command == "pause":
                await asyncio.gather(*(sim.pause() for sim in sims.values()))
                emit(reply=command, at=time.time(), sequence=sequences())
            elif command.startswith("restart "):
                _, code, seconds = command.split()
                sim = sims[code]
                await sim.pause()
                paused = time.time()
                stopping = await power_off(sim)
                await asyncio.sleep(float(seconds))
                for attempt in range(20):  # the port is free again at once, but be patient with a busy host
                    try:
                        await sim.start()
                        break
                    except OSError:
                        if attempt == 19:
                            raise
                        await asyncio.sleep(0.5)
                sim.resume()
                emit(reply=command, paused=paused, resumed=time.time(), stopping_s=stopping)
    finally:
        for sim in sims.values():
            await sim.stop()


async def power_off(sim: Any) -> float:
    """Stop a simulated PLC as a power cut would: its connections reset at once, then its server stopped.
    (A polite stop waits for every connection to close, which a busy client can hold up for minutes.)
    Returns how long the stop took."""
    began = time.perf_counter()
    servers = list(sim.servers)
    for server in servers:  # asyncua's internals: this is the simulator harness, not the adapter under test
        if server.bserver is not None and server.bserver._server is not None:
            server.bserver._server.close()  # no new connection, not even while the rest stops
        for transport in list(server.iserver.asyncio_transports):
            transport.abort()
    try:
        await asyncio.wait_for(sim.stop(), 10)
    except TimeoutError:  # nothing listens or is connected any more; end what the polite stop did not reach
        log.warning("%s: the server did not stop within 10 s; stopping its internals", sim.machines[0].code)
        for server in servers:
            with suppress(Exception):
                await asyncio.wait_for(server.iserver.stop(), 5)
    return time.perf_counter() - began


class Simulators:
    """The simulator processes, each serving its share of the machines."""

    def __init__(self, config_dir: Path, codes: list[str], processes: int, rate: float, folder: Path) -> None:
        share = -(-len(codes) // processes)
        self.children = [Child("_simulator", ["--config", str(config_dir), "--rate", str(rate),
                                              "--machines", ",".join(codes[i:i + share])], folder)
                         for i in range(0, len(codes), share)]
        self.owner = {code: self.children[i // share] for i, code in enumerate(codes)}

    def wait_ready(self) -> None:
        for child in self.children:
            child.expect(120)

    def cpu(self) -> float:
        return sum(cpu_seconds(c.pid) for c in self.children)

    @staticmethod
    def _ask(child: Child, command: str, timeout: float = 60) -> dict[str, Any]:
        child.send(command)
        return Simulators._answer(child, command, timeout)

    @staticmethod
    def _answer(child: Child, command: str, timeout: float = 60) -> dict[str, Any]:
        """The child's answer to `command` (a late answer to an earlier command is skipped)."""
        deadline = time.perf_counter() + timeout
        while True:
            answer = child.expect(max(0.1, deadline - time.perf_counter()))
            if answer.get("reply") == command:
                return answer

    def _all(self, command: str) -> tuple[list[float], dict[str, int]]:
        answers = [self._ask(c, command) for c in self.children]
        return [a["at"] for a in answers], {k: v for a in answers for k, v in a["sequence"].items()}

    def resume(self) -> tuple[float, dict[str, int]]:
        """(when the first simulator resumed, each machine's Sequence count then)"""
        times, sequences = self._all("resume")
        return min(times), sequences

    def pause(self) -> tuple[float, dict[str, int]]:
        """(when the last simulator paused, each machine's Sequence count, final until resumed)"""
        times, sequences = self._all("pause")
        return max(times), sequences

    def restart(self, code: str, seconds: float) -> None:
        """Start restarting machine `code` (`restarted` waits for it)."""
        self.owner[code].send(f"restart {code} {seconds}")

    def restarted(self, code: str, seconds: float) -> dict[str, Any]:
        child = self.owner[code]
        try:
            return self._answer(child, f"restart {code} {seconds}", timeout=120)
        except RuntimeError:
            child.process.send_signal(signal.SIGUSR1)  # its asyncio tasks' stacks, into its log
            time.sleep(2)
            raise

    def close(self) -> None:
        for child in self.children:
            child.close(terminate=True)


@dataclass
class Plant:
    """The simulated machines one adapter reads (or both, with --shared-simulators): their simulator processes,
    the proxies in front of the machines that get cut, and what happened to them."""

    name: str
    sims: Simulators
    proxies: dict[str, TcpProxy]
    run: Run


class Adapter:
    """`python -m mes adapters run --line 90` into one database, with its own instance folder (and spool)."""

    def __init__(self, db: str, url: str, folder: Path) -> None:
        self.db, self.url = db, url
        self.instance = folder / f"instance-{db}"
        self.instance.mkdir(parents=True, exist_ok=True)
        self.runs: list[dict[str, Any]] = []  # pid, how it ended, exit code, CPU seconds
        self.process: subprocess.Popen[bytes] | None = None
        self.cpu_s = 0.0

    @property
    def log_paths(self) -> list[Path]:
        return [self.instance / f"adapter-{i + 1}.log" for i in range(len(self.runs))]

    def start(self) -> None:
        env = {**os.environ, "MES_DATABASE_URL": self.url, "MES_INSTANCE_PATH": str(self.instance)}
        log = open(self.instance / f"adapter-{len(self.runs) + 1}.log", "wb")  # noqa: SIM115 (the child has it)
        self.process = subprocess.Popen([sys.executable, "-m", "mes", "adapters", "run", "--line", "90"],
                                        cwd=REPOSITORY, env=env, stdout=log, stderr=log)
        log.close()
        self.runs.append({"pid": self.process.pid, "ended": None, "exit": None})

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill would."""
        self._end(signal.SIGKILL, "killed")

    def stop(self) -> None:
        """SIGTERM: the adapter flushes and ends."""
        self._end(signal.SIGTERM, "stopped")

    def _end(self, sig: int, how: str) -> None:
        if self.process is None:
            return
        self.cpu_s += cpu_seconds(self.process.pid)
        exited = self.process.poll()
        if exited is None:
            self.process.send_signal(sig)
            try:
                exited = self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                exited = self.process.wait()
                how += " (did not end within 60 s: killed)"
        else:
            how = f"had ended by itself before being {how}"
        self.runs[-1].update(ended=how, exit=exited)
        self.process = None

    def cpu(self) -> float:
        return self.cpu_s + (cpu_seconds(self.process.pid) if self.process else 0.0)

    def log_lines(self) -> list[str]:
        lines = []
        for path in self.log_paths:
            with suppress(OSError):
                lines += path.read_text(errors="replace").splitlines()
        return lines


class Outage:
    """A database taken away: SQLite's write lock held by another connection, or PostgreSQL behind a cut proxy."""

    def __init__(self, url: str, proxy: TcpProxy | None) -> None:
        self.url, self.proxy = url, proxy
        self.holder: sqlite3.Connection | None = None

    def take(self) -> None:
        if self.proxy is not None:
            self.proxy.cut()
            return
        from sqlalchemy.engine import make_url

        self.holder = sqlite3.connect(make_url(self.url).database, timeout=60, isolation_level=None,
                                      check_same_thread=False)
        self.holder.execute("BEGIN EXCLUSIVE")

    def give_back(self) -> None:
        if self.proxy is not None:
            self.proxy.mend()
        if self.holder is not None:
            self.holder.execute("ROLLBACK")
            self.holder.close()
            self.holder = None


# --- the run -------------------------------------------------------------------------------------------------
@dataclass
class Fault:
    kind: str
    round: int
    target: str | None  # a machine code, or None for every machine
    start: float  # epoch seconds
    end: float
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def window(self) -> tuple[float, float]:
        """When a gap or a loss this fault causes can start."""
        if self.kind == "cut":  # asyncua may take a while to find out what the cut cost (a failed republish)
            return self.start - 1, self.end + RECONNECT_CAP_S
        if self.kind == "restart":  # its gap starts at the last value received, a publishing interval or so before
            return self.start - 3, self.end + RECONNECT_CAP_S + 5
        if self.kind == "outage":
            return self.start - 1, self.end + 15
        return self.start - 5, self.end + 30  # kill: from the kill to the new process's first values

    def covers(self, code: str, at: float) -> bool:
        low, high = self.window
        return (self.target is None or self.target == code) and low <= at <= high


def fault_at(faults: list[Fault], code: str, *times: float | None) -> Fault | None:
    """The latest fault (of this machine or of all) whose window holds the first of `times` that one holds."""
    return next((f for t in times if t is not None for f in reversed(faults) if f.covers(code, t)), None)


@dataclass
class Run:
    load_start: float = 0.0
    load_end: float = 0.0
    baseline: dict[str, int] = field(default_factory=dict)
    final: dict[str, int] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    drain_s: float = 0.0
    publishing_s: float = 0.5


def schedule(seconds: float, rounds: int) -> list[tuple[float, str, int]]:
    period = seconds / rounds
    return [(r * period + share * period, kind, r) for r in range(rounds) for kind, share in SLOTS]


def ride_through_s(cut_s: float) -> float:
    """How long a monitored item may go unpublished for a cut of `cut_s`: the cut, then asyncua's reconnect
    back-off (1, 2, 4 ... s) to its first attempt after the cut, which may wait out the client's timeout (4 s)
    first, plus 3 s for the session to be reactivated and the queues published."""
    waited, delay = 0.0, 1.0
    while waited < cut_s:
        waited += delay
        delay = min(delay * 2, RECONNECT_CAP_S)
    return waited + CONNECT_TIMEOUT_S + 3.0


def at_epoch(value: Any) -> float:
    """A database time (aware datetime, naive UTC datetime or SQLite text) as epoch seconds."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def inject(kind: str, r: int, args: argparse.Namespace, plants: list[Plant], adapters: list[Adapter],
           outages: list[Outage], cut_targets: list[str], restart_targets: list[str]) -> dict[str, Fault]:
    """Inject one fault into every plant (and every adapter, every database) at once; its times in each plant."""
    names = [p.name for p in plants]
    if kind == "cut":
        code = cut_targets[r % len(cut_targets)]
        start = time.time()
        for plant in plants:
            plant.proxies[code].cut()
        time.sleep(args.cut_seconds)
        for plant in plants:
            plant.proxies[code].mend()
        return {name: Fault(kind, r, code, start, time.time()) for name in names}
    if kind == "restart":
        code = restart_targets[r % len(restart_targets)]
        for plant in plants:
            plant.sims.restart(code, args.restart_seconds)
        answers = {p.name: p.sims.restarted(code, args.restart_seconds) for p in plants}
        return {name: Fault(kind, r, code, a["paused"], a["resumed"], {"stopping_s": a["stopping_s"]})
                for name, a in answers.items()}
    if kind == "outage":
        for outage in outages:
            outage.take()
        start = time.time()
        try:
            time.sleep(args.outage_seconds)
        finally:
            for outage in outages:
                outage.give_back()
        return {name: Fault(kind, r, None, start, time.time()) for name in names}
    for adapter in adapters:
        adapter.kill()
    start = time.time()
    for adapter in adapters:
        adapter.start()
    return {name: Fault(kind, r, None, start, time.time()) for name in names}


def wait_for_initial_values(urls: dict[str, str], tags: int, adapters: list[Adapter], limit_s: float = 180) -> None:
    deadline = time.perf_counter() + limit_s
    for db, url in urls.items():
        while count_samples(url) < tags:
            if time.perf_counter() > deadline:
                lines = adapters[list(urls).index(db)].log_lines()[-10:]
                raise RuntimeError(f"{db}: the adapter has not stored the initial values of {tags} tags within "
                                   f"{limit_s:.0f} s:\n    " + "\n    ".join(lines))
            time.sleep(0.5)


def spooled(url: str, since: float) -> int | None:
    """The adapter's spool depth as it last reported it after `since` (None: no report since)."""
    from sqlalchemy import func, select

    from mes.models import EndpointHealth

    with engine_for(url).connect() as connection:
        return connection.execute(select(func.max(EndpointHealth.spool_readings)).where(
            EndpointHealth.updated_at > datetime.fromtimestamp(since, UTC))).scalar()


def wait_drained(urls: dict[str, str], since: float) -> float:
    """Until every database's sample count has stood still for DRAIN_QUIET_S and its adapter's spool is empty."""
    began = time.perf_counter()
    last: dict[str, int] = {}
    still: dict[str, float] = {}
    while time.perf_counter() - began < DRAIN_MAX_S:
        done = True
        for db, url in urls.items():
            count = count_samples(url)
            if count != last.get(db):
                last[db], still[db] = count, time.perf_counter()
            if time.perf_counter() - still[db] < DRAIN_QUIET_S or spooled(url, since) != 0:
                done = False
        if done:
            break
        time.sleep(0.5)
    return time.perf_counter() - began


# --- the analysis --------------------------------------------------------------------------------------------
@dataclass
class GapRow:
    machine: str
    start: float
    end: float | None
    reason: str
    fault: Fault | None = None


@dataclass
class Span:
    """Offered changes of one machine between two stored Sequence samples that were not stored."""

    machine: str
    after: float  # the stored Sequence sample before (exclusive)
    until: float | None  # the one after (inclusive); None: the end of the load
    count: int
    gap: GapRow | None = None
    fault: Fault | None = None


@dataclass
class Analysis:
    offered: int = 0
    committed: int = 0  # rows of the counted tags with a source time in the load
    sequence_rows: int = 0
    resent: int = 0  # initial values a restarted PLC sent again (new source time, same value)
    explained: int = 0  # repeated values with a lost change between them
    duplicated: list[tuple[str, str, float, float]] = field(default_factory=list)  # machine, tag, time, prev time
    lost: list[Span] = field(default_factory=list)
    extra: list[Span] = field(default_factory=list)  # more rows than changes offered in a span
    gaps: list[GapRow] = field(default_factory=list)
    last_durable: dict[tuple[int, str], float] = field(default_factory=dict)  # (kill index, machine) -> time

    @property
    def lost_outside(self) -> int:
        return sum(s.count for s in self.lost if s.gap is None)

    @property
    def lost_inside(self) -> int:
        return sum(s.count for s in self.lost if s.gap is not None)


def analyse(url: str, codes: list[str], run: Run) -> Analysis:
    from sqlalchemy import func, select

    from mes.models import Machine, Sample, Tag, TelemetryGap

    out = Analysis()
    slack = run.publishing_s + 0.5
    start_dt = datetime.fromtimestamp(run.load_start, UTC)
    with engine_for(url).connect() as db:
        machines = dict(db.execute(select(Machine.id, Machine.code).where(Machine.code.in_(codes))).all())
        tags = {tid: (machines[mid], name) for tid, mid, name in db.execute(
            select(Tag.id, Tag.machine_id, Tag.name).where(Tag.machine_id.in_(machines)))}
        sequence_ids = [t for t, (_, name) in tags.items() if name == SEQUENCE_TAG]
        counted_ids = [t for t, (_, name) in tags.items() if name != SEQUENCE_TAG]
        # Values stored again: the same value and status as the same tag's previous row.
        window = {"partition_by": Sample.tag_id, "order_by": Sample.source_time}
        rows = select(Sample.tag_id, Sample.source_time, Sample.value, Sample.status,
                      func.lag(Sample.value).over(**window).label("prev_value"),
                      func.lag(Sample.status).over(**window).label("prev_status"),
                      func.lag(Sample.source_time).over(**window).label("prev_time")).where(
            Sample.tag_id.in_(counted_ids)).subquery()
        repeats = db.execute(select(rows.c.tag_id, rows.c.source_time, rows.c.prev_time).where(
            rows.c.prev_time.is_not(None), rows.c.value.is_not_distinct_from(rows.c.prev_value),
            rows.c.status == rows.c.prev_status)).all()
        per_time = db.execute(select(Tag.machine_id, Sample.source_time, func.count()).join(Tag).where(
            Sample.tag_id.in_(counted_ids), Sample.source_time >= start_dt).group_by(
            Tag.machine_id, Sample.source_time)).all()
        sequence = db.execute(select(Tag.machine_id, Sample.source_time, Sample.value).join(Tag).where(
            Sample.tag_id.in_(sequence_ids)).order_by(Tag.machine_id, Sample.source_time)).all()
        out.gaps = [GapRow(machines[m], at_epoch(s), at_epoch(e) if e is not None else None, reason)
                    for m, s, e, reason in db.execute(select(
                        TelemetryGap.machine_id, TelemetryGap.started_at, TelemetryGap.ended_at,
                        TelemetryGap.reason).where(TelemetryGap.machine_id.in_(machines)).order_by(
                        TelemetryGap.started_at))]
        kills = [f for f in run.faults if f.kind == "kill"]
        for k, fault in enumerate(kills):
            for m, last in db.execute(select(Tag.machine_id, func.max(Sample.source_time)).join(Tag).where(
                    Tag.machine_id.in_(machines), Sample.received_at < datetime.fromtimestamp(fault.start, UTC))
                    .group_by(Tag.machine_id)):
                out.last_durable[(k, machines[m])] = at_epoch(last)

    restarts = [f for f in run.faults if f.kind == "restart"]
    resent: dict[str, Counter[float]] = defaultdict(Counter)
    repeated = []
    for tag_id, at, prev in repeats:
        code, name = tags[tag_id]
        t = at_epoch(at)
        if t < run.load_start:
            continue
        if any(f.target == code and f.window[0] <= t <= f.window[1] for f in restarts):
            out.resent += 1  # a restarted server's initial value: its source time is the new subscription's
            resent[code][t] += 1
        else:
            repeated.append((code, name, t, at_epoch(prev)))

    counts: dict[str, dict[float, int]] = defaultdict(dict)
    for m, at, n in per_time:
        t = at_epoch(at)
        counts[machines[m]][t] = counts[machines[m]].get(t, 0) + n
        out.committed += n
    out.committed -= out.resent
    ticks: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for m, at, value in sequence:
        out.sequence_rows += 1
        ticks[machines[m]].append((at_epoch(at), int(value or 0)))

    for code in codes:
        genuine = {t: n - resent[code].get(t, 0) for t, n in counts[code].items()}
        times = sorted(genuine)
        sums = [0, *accumulate(genuine[t] for t in times)]

        prev_t, prev_s = run.load_start, run.baseline.get(code, 0)
        out.offered += run.final[code] - prev_s
        spans = []
        for t, s in sorted(ticks[code]):
            if s <= prev_s or t < run.load_start:  # an initial value again, or a restarted server's 0
                continue
            spans.append((prev_t, t, s - prev_s))
            prev_t, prev_s = t, s
        spans.append((prev_t, None, run.final[code] - prev_s))
        for after, until, offered in spans:
            i = bisect_right(times, after)  # rows stamped in (after, until]
            j = len(times) if until is None else bisect_right(times, until)
            missing = offered - (sums[max(i, j)] - sums[i])
            if missing == 0:
                continue
            span = Span(code, after, until, abs(missing))
            span.fault = fault_at(run.faults, code, after + 0.001, until)
            if missing < 0:
                out.extra.append(span)
                continue
            span.gap = next((g for g in out.gaps if g.machine == code and g.start <= after + slack
                             and (g.end is None or until is None or g.end >= until - slack)), None)
            out.lost.append(span)

    for code, name, t, prev in repeated:  # a change lost in between explains a repeated value (A, B lost, A)
        if any(s.machine == code and s.after < t and (s.until is None or s.until > prev) for s in out.lost):
            out.explained += 1
        else:
            out.duplicated.append((code, name, t, prev))
    for gap in out.gaps:
        gap.fault = fault_at(run.faults, gap.machine, gap.start)
    return out


# --- the report ----------------------------------------------------------------------------------------------
def report(db: str, adapter: Adapter, a: Analysis, run: Run, codes: list[str]) -> None:
    def rel(t: float | None) -> str:
        return "open" if t is None else f"{t - run.load_start:.3f}"

    seconds = run.load_end - run.load_start
    by_kind = {k: [f for f in run.faults if f.kind == k] for k in KINDS}
    print(f"\n== {db}: {seconds:.0f} s of load, {a.offered / seconds:,.0f} changes/s offered, drained "
          f"{run.drain_s:.1f} s after the pause (times below: s after the load began)")
    print("faults injected: " + ", ".join(f"{TITLES[k]} {len(v)}" for k, v in by_kind.items()))
    print(f"samples offered {a.offered:,} (the machines' Sequence counts), committed {a.committed:,} "
          f"({a.committed / a.offered * 100 if a.offered else 0:.3f} %; besides: {a.sequence_rows:,} Sequence samples, "
          f"{a.resent} initial values re-sent by restarted PLCs)")
    inside: Counter[str] = Counter()
    for span in a.lost:
        if span.gap is not None:
            inside[TITLES[span.fault.kind] if span.fault else "no fault"] += span.count
    print(f"  {verdict(a.lost_outside == 0)} lost: {a.lost_outside:,} outside declared gaps "
          f"(in {sum(1 for s in a.lost if s.gap is None)} spans); {a.lost_inside:,} inside them"
          f"{' (' + ', '.join(f'{k} {n:,}' for k, n in inside.items()) + ')' if inside else ''}   [target 0 outside]")
    shown: dict[tuple[str, int] | None, Span] = {}  # the biggest lost span of each fault, then any others
    for span in sorted((s for s in a.lost if s.gap is None), key=lambda s: -s.count):
        shown.setdefault((span.fault.kind, span.fault.round) if span.fault else None, span)
    for span in sorted(shown.values(), key=lambda s: s.after)[:8]:
        near = [g for g in a.gaps if g.machine == span.machine and abs(g.start - span.after) < 60]
        print(f"           {span.machine}: {span.count} changes in ({rel(span.after)}, "
              f"{'the end' if span.until is None else rel(span.until)}] s"
              f" ({TITLES[span.fault.kind] + ' ' + str(span.fault.round + 1) if span.fault else 'no fault'}); "
              f"its gaps near: " + (", ".join(f"{g.reason} {rel(g.start)}..{rel(g.end)}" for g in near) or "none"))
    print(f"  {verdict(not a.duplicated)} duplicated: {len(a.duplicated):,} (rows repeating the value and status of "
          f"the same tag's previous row, no lost change between them; {a.explained} repeats a lost change "
          "explains)   [target 0]")
    for code, name, t, prev in a.duplicated[:5]:
        print(f"           {code}.{name} at {rel(t)} s repeats its row at {rel(prev)} s")
    if a.extra:
        print(f"  MISSED more rows than changes offered: {sum(s.count for s in a.extra):,} in {len(a.extra)} spans, "
              "e.g. " + "; ".join(f"{s.machine} +{s.count} in ({rel(s.after)}, {rel(s.until)}]" for s in a.extra[:4]))

    print("gaps declared vs injected:")
    gaps_of = {k: [g for g in a.gaps if g.fault is not None and g.fault.kind == k] for k in KINDS}
    lost_outside = {k: sum(s.count for s in a.lost if s.gap is None and s.fault is not None and s.fault.kind == k)
                    for k in KINDS}
    lost_inside = {k: sum(s.count for s in a.lost if s.gap is not None and s.fault is not None and s.fault.kind == k)
                   for k in KINDS}

    def lost_text(kind: str) -> str:
        return f"lost {lost_outside[kind]:,} outside gaps, {lost_inside[kind]:,} inside"

    # PLC restarts: one gap each, no longer than the outage plus the back-off cap.
    parts, ok = [], not lost_outside["restart"]
    for f in by_kind["restart"]:
        gaps = [g for g in gaps_of["restart"] if g.fault is f]
        limit = f.end - f.start + RECONNECT_CAP_S
        longest = max((g.end - g.start if g.end else math.inf for g in gaps), default=None)
        ok &= len(gaps) == 1 and gaps[0].reason == "disconnected" and longest is not None and longest <= limit
        parts.append(f"{f.target} down {f.end - f.start:.1f} s: {len(gaps)} gap"
                     + (f" {'/'.join(sorted({g.reason for g in gaps}))} {longest:.1f} s (limit {limit:.1f})"
                        if gaps else ""))
    print(f"  {verdict(ok)} {TITLES['restart']:<16} {len(by_kind['restart'])} injected, "
          f"{len(gaps_of['restart'])} gaps, "
          f"{lost_text('restart')}: " + "; ".join(parts)
          + f"   [target 1 gap each, <= down time + {RECONNECT_CAP_S:g} s]")
    for kind in ("cut", "outage"):
        gaps = gaps_of[kind]
        what = ", ".join(f"{g.machine} {g.reason} {rel(g.start)}..{rel(g.end)}" for g in gaps[:4])
        lengths = ", ".join(f"{f.end - f.start:.1f} s" + (f" {f.target}" if f.target else "") for f in by_kind[kind])
        print(f"  {verdict(not gaps and not lost_outside[kind] and not lost_inside[kind])} {TITLES[kind]:<16} "
              f"{len(by_kind[kind])} injected ({lengths}), {len(gaps)} gaps{': ' + what if what else ''}, "
              f"{lost_text(kind)}   [target no gap, nothing lost]")
    # Kills: at most one gap per machine and kill, from the machine's last durable sample.
    kills = by_kind["kill"]
    per = Counter((g.fault.round, g.machine) for g in gaps_of["kill"])
    starts: Counter[str] = Counter()
    late = []
    for g in gaps_of["kill"]:
        last = a.last_durable.get((kills.index(g.fault), g.machine))
        if last is None:
            starts["with no durable sample"] += 1
        elif abs(g.start - last) <= 0.001:
            starts["at it"] += 1
        elif g.start < last:
            starts["before it"] += 1
        else:
            starts["after it"] += 1
            late.append((g, last))
    bare: dict[int, set[str]] = defaultdict(set)  # kill round -> machines that lost values outside any gap
    for span in a.lost:
        if span.gap is None and span.fault is not None and span.fault.kind == "kill":
            bare[span.fault.round].add(span.machine)
    ok = (max(per.values(), default=0) <= 1 and not late and not lost_outside["kill"]
          and all(g.reason == "adapter_restart" for g in gaps_of["kill"]))
    print(f"  {verdict(ok)} {TITLES['kill']:<16} {len(kills)} injected, {len(gaps_of['kill'])} gaps "
          f"({'/'.join(sorted({g.reason for g in gaps_of['kill']})) or '-'}), {lost_text('kill')}; per kill: "
          + ", ".join(f"{sum(1 for g in gaps_of['kill'] if g.fault is f)} of {len(codes)} machines got a gap and "
                      f"{len(bare.get(f.round, ()))} lost values no gap covers" for f in kills)
          + f"; at most {max(per.values(), default=0)} gap per machine and kill; gap start vs the machine's last "
          f"durable sample: " + (", ".join(f"{n} {k}" for k, n in starts.items()) or "-")
          + "   [target <= 1 gap per machine, from the last durable sample]")
    for g, last in late[:4]:
        print(f"           {g.machine}: gap {rel(g.start)}..{rel(g.end)} starts {g.start - last:.3f} s after its last "
              f"durable sample ({rel(last)}); kill at {rel(g.fault.start)}")
    stray = [g for g in a.gaps if g.fault is None]
    print(f"  {verdict(not stray)} gaps no fault explains: {len(stray)}"
          + (": " + ", ".join(f"{g.machine} {g.reason} {rel(g.start)}..{rel(g.end)}" for g in stray[:5])
             if stray else "")
          + "   [target 0]")
    spool_full = [g for g in a.gaps if g.reason == "spool_full"]
    if spool_full:
        print(f"  MISSED spool_full gaps: {len(spool_full)} (the spool filled up)")
    print(f"adapter processes: {len(adapter.runs)}: "
          + ", ".join(f"{r['ended']} (exit {r['exit']})" for r in adapter.runs))
    said: dict[str, Counter[tuple[str, str]]] = {"adapter": Counter(), "asyncua": Counter()}
    tracebacks = 0
    for line in adapter.log_lines():
        tracebacks += line.startswith("Traceback")
        if (m := LOG_LINE.match(line)) is not None:
            source = "asyncua" if m["name"].startswith("asyncua") else "adapter"
            said[source][(m["level"], _shape(m["message"]))] += 1
    outages = sum(n for (_, text), n in said["adapter"].items() if text.startswith("storing"))
    back = sum(n for (_, text), n in said["adapter"].items() if "answers again" in text)
    print(f"  the adapter saw the database go away {outages} times and come back {back} times "
          f"(\"storing ... failed\", \"the database answers again\" in its logs)")
    for source, counts in said.items():
        levels: Counter[str] = Counter()
        for (level, _), n in counts.items():
            levels[level] += n
        print(f"  {'its own' if source == 'adapter' else 'asyncua'} log lines: "
              + (", ".join(f"{n} {level}" for level, n in levels.items()) or "none")
              + (f" (and {tracebacks} tracebacks)" if source == "asyncua" and tracebacks else "")
              + ("; most said:" if counts else ""))
        for (level, text), n in counts.most_common(6 if source == "adapter" else 3):
            print(f"    {n:4} x {level} {text[:150]}")


def _shape(text: str) -> str:
    """A log message with its numbers and addresses blurred, to count messages of one kind together."""
    return re.sub(r"\d[\d.:,\-+ ]*", "#", text)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--seconds", type=float, default=300.0, help="load time (default 300)")
    parser.add_argument("--rounds", type=int, default=3, help="each kind of fault is injected this often (default 3)")
    parser.add_argument("--machines", type=int, default=20)
    parser.add_argument("--process-values", type=int, default=20)
    parser.add_argument("--rate", type=float, default=5.0, help="simulator rate (default 5)")
    parser.add_argument("--publishing-ms", type=int, default=500)
    parser.add_argument("--simulators", type=int, default=1, help="simulator processes per plant (default 1)")
    parser.add_argument("--shared-simulators", action="store_true",
                        help="both adapters read one set of simulators (two OPC UA clients per PLC)")
    parser.add_argument("--cut-seconds", type=float, default=4.0)
    parser.add_argument("--restart-seconds", type=float, default=3.0, help="how long a restarted PLC is down")
    parser.add_argument("--outage-seconds", type=float, default=30.0)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args(argv)
    if args.machines < 6:
        parser.error("--machines: at least 6 (three are cut, three restarted)")
    began = time.perf_counter()
    dbs = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    logging.basicConfig(level=logging.WARNING)
    codes = machine_codes(args.machines)
    n = args.machines
    cut_targets = [codes[(1 + i * n // 3) % n] for i in range(3)]
    restart_targets = [codes[(3 + i * n // 3) % n] for i in range(3)]
    per_item_s = 1 / min(0.1, 0.5 / args.rate)  # the Sequence node changes every tick (sim_machines.tick_seconds)
    queue_size = math.ceil(2 * per_item_s * ride_through_s(args.cut_seconds))
    print(f"faults: {n} machines, {n * (args.process_values + 3)} tags ({n * args.process_values} process values, "
          f"{n} Sequence), rate {args.rate:g}, publishing every {args.publishing_ms} ms, "
          + ("one set of simulators for both adapters" if args.shared_simulators else "a set of simulators per adapter")
          + f" ({args.simulators} process{'es' if args.simulators > 1 else ''} each), {os.cpu_count()} CPUs; "
          f"{args.seconds:g} s of load, {args.rounds} rounds of: network cut {args.cut_seconds:g} s, PLC restart "
          f"{args.restart_seconds:g} s down, database outage {args.outage_seconds:g} s, adapter kill -9", flush=True)
    print(f"  queue size {queue_size} per monitored item: covers {per_item_s:g} changes/s for "
          f"{ride_through_s(args.cut_seconds):g} s (the cut, the reconnect back-off after it, a timed-out attempt, "
          f"3 s to resume), twice over; cut {', '.join(cut_targets)}; restart {', '.join(restart_targets)}", flush=True)

    with tempfile.TemporaryDirectory(prefix="mes-faults-") as tmp, ExitStack() as stack:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        urls = stack.enter_context(scratch_databases(dbs, folder))
        if not urls:
            print("no database to measure")
            return
        names = ["shared"] if args.shared_simulators or len(urls) == 1 else list(urls)
        plant_of = {db: names[0] if len(names) == 1 else db for db in urls}
        plants: dict[str, Plant] = {}
        configs: dict[str, Any] = {}
        low = random.randrange(23000, 31000 - 2 * n)  # below the ephemeral ports (32768 on) of proxies and clients,
        for name in names:                              # above the tests' simulators
            base = free_ports(n, start=low)
            low = base + n
            proxies = {code: stack.enter_context(TcpProxy(base + codes.index(code))) for code in cut_targets}
            _, configs[name] = write_fault_plants(
                folder / f"config-{name}", machines=n, process_values=args.process_values, base_port=base,
                publishing_ms=args.publishing_ms, queue_size=queue_size,
                proxied={c: p.port for c, p in proxies.items()})
            sims = Simulators(folder / f"config-{name}" / "simulator", codes, args.simulators, args.rate, folder)
            plants[name] = Plant(name, sims, proxies, Run(publishing_s=args.publishing_ms / 1000))
        tags = sum(len(m.tags) for ln in configs[names[0]].lines for m in ln.config.machines)
        outages, adapters = [], []
        try:
            for db, url in urls.items():
                prepare(url, configs[plant_of[db]], folder)
                proxy = None
                if db == "postgresql":
                    from sqlalchemy.engine import make_url

                    parsed = make_url(url)
                    proxy = stack.enter_context(TcpProxy(parsed.port or 5432, parsed.host or "127.0.0.1"))
                    adapter_url = parsed.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
                else:
                    adapter_url = url
                outages.append(Outage(url, proxy))
                adapters.append(Adapter(db, adapter_url, folder))
                print(f"  {db}: scratch database ready ({time.perf_counter() - began:.0f} s)", flush=True)
            for plant in plants.values():
                plant.sims.wait_ready()
            for adapter in adapters:
                adapter.start()
            wait_for_initial_values(urls, tags, adapters)
            time.sleep(1.0)
            print(f"  simulators and adapters ready, initial values stored ({time.perf_counter() - began:.0f} s)",
                  flush=True)
            sim0, host0 = sum(p.sims.cpu() for p in plants.values()), host_busy()
            for plant in plants.values():
                plant.run.load_start, plant.run.baseline = plant.sims.resume()
            first = plants[names[0]].run
            late, failed = 0.0, []
            for at, kind, r in schedule(args.seconds, args.rounds):
                wait = first.load_start + at - time.time()
                if wait > 0:
                    time.sleep(wait)
                else:
                    late = max(late, -wait)
                try:
                    faults = inject(kind, r, args, list(plants.values()), adapters, outages, cut_targets,
                                    restart_targets)
                except RuntimeError as exc:  # a simulator that did not answer: say so, go on with the others
                    print(f"  {time.time() - first.load_start:6.1f} s  {TITLES[kind]} FAILED: {exc}", flush=True)
                    failed.append(f"{TITLES[kind]} {r + 1}: {str(exc).splitlines()[0]}")
                    continue
                for name, fault in faults.items():
                    plants[name].run.faults.append(fault)
                fault = faults[names[0]]
                print(f"  {fault.start - first.load_start:6.1f} s  {TITLES[kind]} {fault.target or ''}"
                      f" {fault.end - fault.start:.1f} s", flush=True)
            end = max(first.load_start + args.seconds, max((f.end for f in first.faults), default=0) + SETTLE_S)
            time.sleep(max(0.0, end - time.time()))
            for plant in plants.values():
                plant.run.load_end, plant.run.final = plant.sims.pause()
            sim_cpu, host_cpu = sum(p.sims.cpu() for p in plants.values()) - sim0, host_busy() - host0
            print(f"  load ended at {first.load_end - first.load_start:.0f} s; draining", flush=True)
            drain_s = wait_drained(urls, max(p.run.load_end for p in plants.values()))
            adapter_cpu = [a.cpu() for a in adapters]
            for adapter in adapters:
                adapter.stop()
        finally:
            for adapter in adapters:
                adapter.stop()
            for outage in outages:
                outage.give_back()
            for plant in plants.values():
                plant.sims.close()
        print(f"  drained in {drain_s:.1f} s, adapters stopped; counting ({time.perf_counter() - began:.0f} s)",
              flush=True)
        for plant in plants.values():
            plant.run.drain_s = drain_s
        analyses = {db: analyse(url, codes, plants[plant_of[db]].run) for db, url in urls.items()}

    load_s = first.load_end - first.load_start
    core = lambda cpu: cpu / load_s * 100  # noqa: E731
    adapters_text = ", ".join(f"adapter ({a.db}) {core(cpu):.0f} %" for a, cpu in zip(adapters, adapter_cpu,
                                                                                       strict=True))
    others = max(0.0, host_cpu - sim_cpu - sum(adapter_cpu))
    print(f"\nhost over the load: simulators {core(sim_cpu):.0f} % of a core, {adapters_text}, everything else "
          f"{core(others):.0f} % (the PostgreSQL server and the host's other work)"
          f"{' (a busy host)' if core(others) > 40 else ''}"
          + (f"; the fault schedule slid by up to {late:.1f} s" if late > 1 else ""))
    print("faults (s after the load began): " + "; ".join(
        f"{TITLES[f.kind]} {f.target + ' ' if f.target else ''}"
        f"{f.start - first.load_start:.0f}-{f.end - first.load_start:.0f}"
        for f in first.faults))
    if failed:
        print("faults that could not be injected: " + "; ".join(failed))
    for adapter in adapters:
        report(adapter.db, adapter, analyses[adapter.db], plants[plant_of[adapter.db]].run, codes)
    print(f"\ntotal {time.perf_counter() - began:.0f} s")


@contextmanager
def scratch_database(db: str, folder: Path) -> Iterator[str]:
    """A migrated, empty database for `db` (sqlite or postgresql); PostgreSQL's is dropped afterwards."""
    if db == "sqlite":
        url = f"sqlite:///{folder / 'faults.db'}"
        yield url
        forget_engine(url)
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    name = f"mes_bench_faults_{os.getpid()}"
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
    args = parser.parse_args(argv[1:])
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if role == "_simulator":
        asyncio.run(simulator_child(args.config, args.machines.split(","), args.rate))
    else:
        raise SystemExit(f"unknown role {role}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1].startswith("_"):
        child_main(sys.argv[1:])
    else:
        main()
