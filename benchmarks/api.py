"""API latency under an open-loop load: step start/complete and health, on SQLite and PostgreSQL.

What it measures
    The web app is served by gunicorn (gthread, as in production) on a scratch database prepared
    with the project's own code (migrations, config/, users, tokens, released RWA work orders).
    For each rate R (completions per second) it runs for S seconds:

    * completion i is scheduled at t0 + i/R: POST /api/v1/units/<serial>/steps/RWA-ASM/start at that
      time, then POST .../complete GAP seconds later (default 0.5 s; if the start has not answered
      by then, the complete waits for it, and that wait counts);
    * GET /api/v1/health at 10 requests/s alongside.

    The generator is open loop: requests go out on schedule whatever the server's answers, from a
    pool of threads with keep-alive connections. Latency is measured from each request's *intended*
    send time, so time spent queued in the client (the server being slow) counts. Every completion
    works its own fresh unit, spread over several operator tokens (qualified for the step). Any
    non-2xx answer is an error; so is a request more than MAX_LAG behind schedule, which is not sent
    ("not sent"), so that a saturated rate still ends. Percentiles are over the 2xx answers.

    Each line also gives the CPU the gunicorn processes used per completion (the database server's
    own not included), the client's CPU share and how busy the host's CPUs were: the client shares
    the machine with the servers, so run it on an otherwise idle host.

    Target (from the issue): p99 of complete under 100 ms at 50 completions/s on both databases,
    with the app's durability settings unchanged (no PRAGMA or server tuning here).

How to run (from the repository root)
    .venv/bin/python benchmarks/api.py [--db sqlite|postgresql|both] [--rates 20,50,100]
                                       [--seconds 30] [--workers 2] [--threads 4]

    PostgreSQL: the server at MES_BENCH_POSTGRES_URL (default
    postgresql+psycopg://postgres@127.0.0.1:5432/test); a scratch database mes_bench_<random> is
    created there and dropped at the end. When the server is unreachable, only SQLite runs.
"""
from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from select import select as wait_readable
from typing import Any

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
STEP, STATION = "RWA-ASM", "RWA-CR1"
MEASUREMENTS = {"bearing_preload": "30.0", "retaining_nut_torque": "2.50", "visual_cleanliness": "pass"}
OPERATORS = 4
PASSWORD = "bench-password"
HEALTH_RATE = 10.0          # health requests per second, alongside the load
CLIENT_THREADS = 64
MAX_LAG = 10.0              # a request later than this behind schedule is dropped (counted as an error)
WARMUP_SECONDS, WARMUP_RATE = 3.0, 10.0
TARGET_RATE, TARGET_P99_MS = 50, 100.0


class Unavailable(Exception):
    """The database server cannot be reached."""


# --- the scratch databases -------------------------------------------------------------------------------------

@contextmanager
def sqlite_database(folder: Path) -> Iterator[str]:
    yield f"sqlite:///{folder / 'mes.db'}"


@contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    """A fresh database on the server, dropped afterwards."""
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    name = f"mes_bench_{secrets.token_hex(6)}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except SQLAlchemyError as exc:
        admin.dispose()
        raise Unavailable(f"{type(exc).__name__}: {str(exc).splitlines()[0]}") from None
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class Fixture:
    """What the load needs: operator tokens and fresh serials, in the order they will be used."""

    tokens: list[str]
    serials: list[str]

    def take(self, count: int) -> list[str]:
        taken, self.serials = self.serials[:count], self.serials[count:]
        if len(taken) < count:
            raise RuntimeError("not enough released units for this run")
        return taken


def prepare_database(url: str, units: int) -> Fixture:
    """Schema, plant, users and tokens, and `units` released RWA units, all through the project's code."""
    from mes.auth import create_token, create_user, get_user
    from mes.db import make_engine, make_session_factory
    from mes.migrate import upgrade
    from mes.plant_config import load_plant_config
    from mes.plant_loader import load_plant
    from mes.settings import REPO_ROOT as MES_ROOT
    from mes.workorders import MAX_QUANTITY, release_work_order

    upgrade(url)
    config = load_plant_config(MES_ROOT / "config")
    engine = make_engine(url)
    try:
        sessions = make_session_factory(engine)
        operators = [f"bench.op{i}" for i in range(OPERATORS)]
        with sessions.begin() as s:
            load_plant(s, config)
            create_user(s, "bench.sup", ["supervisor"], PASSWORD)
            for name in operators:
                create_user(s, name, ["operator"], PASSWORD)
            tokens = [create_token(s, name, name="benchmark") for name in operators]
            qualify_operators(s, operators)
        serials: list[str] = []
        while len(serials) < units:
            with sessions.begin() as s:
                supervisor = get_user(s, "bench.sup").id
                quantity = min(MAX_QUANTITY, units - len(serials))
                order = release_work_order(s, supervisor, "RWA", quantity, date(2099, 12, 31))
                serials += [u.serial for u in order.units]
        return Fixture(tokens, serials)
    finally:
        engine.dispose()


def qualify_operators(session: Session, operators: list[str]) -> None:
    """Give the operators every qualification the benchmarked step requires, valid well past the run."""
    from mes.auth import get_user
    from mes.models import RoutingStep
    from mes.qualifications import qualify

    supervisor = get_user(session, "bench.sup").id
    codes = {code for step in session.scalars(select(RoutingStep).filter_by(code=STEP)) for code in step.qualifications}
    for name in operators:
        for code in sorted(codes):
            qualify(session, supervisor, name, code, date(2099, 12, 31))


# --- the server ------------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(process: subprocess.Popen[bytes], port: int, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            connection.request("GET", "/api/v1/health")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer /api/v1/health in {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the gunicorn master we started (it stops its workers); kill its process group if it lingers."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@dataclass(frozen=True)
class Server:
    port: int
    pid: int    # the gunicorn master

    def cpu_seconds(self) -> float:
        """CPU (user + system) used so far by the master and its live workers; Linux /proc, else 0."""
        total = 0.0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                raw = stat.read_text()
            except OSError:
                continue  # the process is gone
            pid = int(raw.split(" ", 1)[0])
            fields = raw.rsplit(") ", 1)[1].split()  # state ppid ... utime (11) stime (12), in clock ticks
            if self.pid in (pid, int(fields[1])):
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total


@contextmanager
def gunicorn(url: str, instance: Path, workers: int, threads: int) -> Iterator[Server]:
    """Serve `wsgi:app` on `url` on a free local port."""
    port = free_port()
    env = {**os.environ, "MES_DATABASE_URL": url, "MES_INSTANCE_PATH": str(instance),
           "MES_SECRET_KEY": secrets.token_hex(32)}
    command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
               "--threads", str(threads), "--worker-class", "gthread", "wsgi:app"]
    log = instance / "gunicorn.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        try:
            wait_healthy(process, port, log)
            yield Server(port, process.pid)
        finally:
            stop(process)


# --- the client ------------------------------------------------------------------------------------------------

class Client:
    """HTTP with one keep-alive connection per thread; a connection the server closed is reopened."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.local = threading.local()

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        connection: http.client.HTTPConnection | None = getattr(self.local, "connection", None)
        if connection is not None and connection.sock is not None:
            readable, _, _ = wait_readable([connection.sock], [], [], 0)
            if not readable:  # an idle connection with something to read has been closed by the server
                return connection, True
            connection.close()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        self.local.connection = connection
        return connection, False

    def _drop(self) -> None:
        self.local.connection.close()
        self.local.connection = None

    def request(self, method: str, path: str, token: str | None = None, body: Any = None) -> int:
        """Send one request and read the whole answer; returns the status (0: no answer)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        for attempt in range(2):
            connection, reused = self._connection()
            try:
                connection.request(method, path, body=payload, headers=headers)
                response = connection.getresponse()
                response.read()
                if response.will_close:
                    self._drop()
                return response.status
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self._drop()  # the server closed a kept-alive connection under us: retry once on a new one
                if not reused or attempt:
                    return 0
            except OSError:
                self._drop()
                return 0
        return 0


@dataclass
class Sample:
    kind: str           # "start", "complete", "health"
    status: int         # HTTP status; 0: no answer; -1: not sent (dropped, or its start failed)
    latency: float      # seconds from the intended send time to the whole answer


@dataclass
class RateResult:
    rate: float
    planned: int
    samples: list[Sample]
    elapsed: float      # from the first intended complete to the last answer of a complete
    client_cpu: float   # CPU used by this (client) process, as a share of one core over the run
    server_cpu: float   # CPU seconds used by the gunicorn processes over the run (the database's own not included)
    host_busy: float    # share of all the host's CPUs busy over the run (anyone's work, this run's included)

    def of(self, kind: str) -> list[Sample]:
        return [s for s in self.samples if s.kind == kind]

    def ok(self, kind: str) -> list[float]:
        return [s.latency for s in self.of(kind) if 200 <= s.status < 300]

    def errors(self, kind: str) -> Counter[int]:
        return Counter(s.status for s in self.of(kind) if not 200 <= s.status < 300)


@dataclass
class Schedule:
    """Open-loop events: (offset from t0, job); the dispatcher submits each on time, whatever came before."""

    events: list[tuple[float, Callable[[float], Sample]]] = field(default_factory=list)

    def add(self, offset: float, job: Callable[[float], Sample]) -> None:
        self.events.append((offset, job))


def completion_jobs(client: Client, serial: str, token: str) -> tuple[Callable[[float], Sample],
                                                                        Callable[[float], Sample]]:
    """The start and complete of one unit; the complete waits for its start's answer."""
    base = f"/api/v1/units/{serial}/steps/{STEP}"
    started = threading.Event()
    start_status = [0]

    def start(intended: float) -> Sample:
        try:
            start_status[0] = timed(intended, lambda: client.request("POST", f"{base}/start", token,
                                                                    {"station": STATION}))
            return Sample("start", start_status[0], time.perf_counter() - intended)
        finally:
            started.set()

    def complete(intended: float) -> Sample:
        started.wait()
        if not 200 <= start_status[0] < 300:
            return Sample("complete", -1, time.perf_counter() - intended)
        status = timed(intended, lambda: client.request("POST", f"{base}/complete", token,
                                                         {"measurements": MEASUREMENTS}))
        return Sample("complete", status, time.perf_counter() - intended)

    return start, complete


def timed(intended: float, send: Callable[[], int]) -> int:
    """Send unless hopelessly behind schedule (then -1, an error, so a saturated run still ends)."""
    if time.perf_counter() - intended > MAX_LAG:
        return -1
    return send()


def health_job(client: Client) -> Callable[[float], Sample]:
    def job(intended: float) -> Sample:
        status = timed(intended, lambda: client.request("GET", "/api/v1/health"))
        return Sample("health", status, time.perf_counter() - intended)
    return job


def build_schedule(client: Client, fixture: Fixture, rate: float, seconds: float, gap: float) -> tuple[Schedule, int]:
    count = math.ceil(rate * seconds)
    schedule = Schedule()
    for i, serial in enumerate(fixture.take(count)):
        start, complete = completion_jobs(client, serial, fixture.tokens[i % len(fixture.tokens)])
        schedule.add(i / rate, start)
        schedule.add(i / rate + gap, complete)
    for j in range(math.ceil(HEALTH_RATE * seconds)):
        schedule.add(j / HEALTH_RATE, health_job(client))
    schedule.events.sort(key=lambda event: event[0])
    return schedule, count


def run_schedule(schedule: Schedule, threads: int = CLIENT_THREADS) -> tuple[list[Sample], float]:
    """Dispatch every event at t0 + offset; returns the samples and t0."""
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="bench") as pool:
        t0 = time.perf_counter() + 0.2
        futures = []
        for offset, job in schedule.events:
            intended = t0 + offset
            delay = intended - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            futures.append(pool.submit(job, intended))
        return [f.result() for f in futures], t0


def host_cpu() -> tuple[int, int]:
    """Busy and total CPU time of the whole host so far, in clock ticks (Linux /proc/stat; else zeros)."""
    try:
        ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return 0, 0
    idle = ticks[3] + ticks[4]  # idle, iowait
    return sum(ticks[:8]) - idle, sum(ticks[:8])


def run_rate(client: Client, server: Server, fixture: Fixture, rate: float, seconds: float, gap: float,
             ) -> RateResult:
    schedule, count = build_schedule(client, fixture, rate, seconds, gap)
    cpu, wall, server_cpu, host = time.process_time(), time.perf_counter(), server.cpu_seconds(), host_cpu()
    samples, t0 = run_schedule(schedule)
    client_cpu = (time.process_time() - cpu) / (time.perf_counter() - wall)
    server_cpu = server.cpu_seconds() - server_cpu
    busy, total = (after - before for after, before in zip(host_cpu(), host, strict=True))
    first = t0 + gap
    last = max((t0 + offset + s.latency for (offset, _), s in zip(schedule.events, samples, strict=True)
                if s.kind == "complete"), default=first)
    return RateResult(rate, count, samples, last - first, client_cpu, server_cpu, busy / total if total else 0)


# --- report ----------------------------------------------------------------------------------------------------

def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile in milliseconds (nan when there is nothing)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] * 1000


def p50_p99(result: RateResult, kind: str) -> str:
    values = result.ok(kind)
    return f"p50 {percentile(values, 50):.1f} ms p99 {percentile(values, 99):.1f} ms"


def describe(errors: Counter[int]) -> str:
    names = {0: "no answer", -1: "not sent"}
    return ", ".join(f"{names.get(code, code)}×{n}" for code, n in sorted(errors.items()))


def report_line(db: str, result: RateResult) -> str:
    ok = len(result.ok("complete"))
    failed = result.planned - ok
    line = (f"{db:<10} rate {result.rate:g}/s: completions {result.planned} ok {ok} errors {failed} | "
            f"complete {p50_p99(result, 'complete')} | start {p50_p99(result, 'start')} | "
            f"health {p50_p99(result, 'health')} | achieved {ok / result.elapsed if result.elapsed else 0:.1f}/s "
            f"(server cpu {result.server_cpu * 1000 / max(ok, 1):.1f} ms/completion, client cpu "
            f"{result.client_cpu:.0%}, host cpu busy {result.host_busy:.0%})")
    details = [f"{kind} {describe(result.errors(kind))}" for kind in ("start", "complete", "health")
               if result.errors(kind)]
    return line + (f"\n{'':<10} errors: {'; '.join(details)}" if details else "")


def target_line(db: str, results: list[RateResult]) -> str:
    at = next((r for r in results if r.rate == TARGET_RATE), None)
    if at is None:
        return f"{db:<10} target (p99 < {TARGET_P99_MS:g} ms at {TARGET_RATE}/s): not measured (rate not run)"
    p99 = percentile(at.ok("complete"), 99)
    errors = at.planned - len(at.ok("complete"))
    met = errors == 0 and p99 < TARGET_P99_MS
    why = f"complete p99 {p99:.1f} ms" + (f", {errors} errors" if errors else "")
    return f"{db:<10} target (p99 < {TARGET_P99_MS:g} ms at {TARGET_RATE}/s): {'MET' if met else 'NOT MET'} ({why})"


# --- driver ----------------------------------------------------------------------------------------------------

def bench_database(db: str, url: str, instance: Path, args: argparse.Namespace) -> None:
    units = math.ceil(WARMUP_RATE * WARMUP_SECONDS) + sum(math.ceil(r * args.seconds) for r in args.rates)
    began = time.perf_counter()
    fixture = prepare_database(url, units)
    print(f"{db:<10} prepared {units} units in {time.perf_counter() - began:.1f} s; serving with gunicorn "
          f"({args.workers} workers × {args.threads} threads)", flush=True)
    with gunicorn(url, instance, args.workers, args.threads) as server:
        client = Client(server.port)
        run_rate(client, server, fixture, WARMUP_RATE, WARMUP_SECONDS, args.gap)  # pays imports and connects
        results = []
        for rate in args.rates:
            time.sleep(1.0)
            results.append(run_rate(client, server, fixture, rate, args.seconds, args.gap))
            print(report_line(db, results[-1]), flush=True)
    if any(s.status >= 500 for r in results for s in r.samples):
        print(f"{db:<10} server errors; the end of the gunicorn log:\n{last_traceback(instance / 'gunicorn.log')}")
    print(target_line(db, results), flush=True)


def last_traceback(log: Path, lines: int = 25) -> str:
    """The last traceback in the server's log (the app logs unexpected errors there), else its last lines."""
    text_lines = log.read_text(errors="replace").splitlines()
    starts = [i for i, line in enumerate(text_lines) if line.startswith("Traceback")]
    chosen = text_lines[starts[-1]:] if starts else text_lines
    return "\n".join("    " + line for line in chosen[-lines:])


def run_one(db: str, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix=f"mes-bench-{db}-") as folder:
        instance = Path(folder)
        if db == "sqlite":
            scratch = sqlite_database(instance)
        else:
            scratch = postgres_database(os.environ.get("MES_BENCH_POSTGRES_URL", DEFAULT_POSTGRES))
        try:
            with scratch as url:
                bench_database(db, url, instance, args)
        except Unavailable as exc:
            print(f"{db:<10} skipped: PostgreSQL is unreachable ({exc})", flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--rates", default="20,50,100", type=lambda v: [float(r) for r in v.split(",") if r],
                        help="completions per second, comma-separated (default 20,50,100)")
    parser.add_argument("--seconds", type=float, default=30.0, help="duration of each rate (default 30)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker (default 4, as mes serve)")
    parser.add_argument("--gap", type=float, default=0.5,
                        help="seconds from a unit's scheduled start to its scheduled complete (default 0.5)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    print(f"open-loop step start/complete on {STEP}, health at {HEALTH_RATE:g}/s; rates "
          f"{', '.join(f'{r:g}' for r in args.rates)}/s for {args.seconds:g} s each; "
          f"{os.cpu_count()} CPUs; latency from the intended send time", flush=True)
    for db in (["sqlite", "postgresql"] if args.db == "both" else [args.db]):
        run_one(db, args)


if __name__ == "__main__":
    main()
