"""Dashboards at a year's scale: each page's full HTTP response, timed as the first request after a new commit.

What it seeds (a scratch database: the project's migrations and the default plant)
    * benchmarks/trace.py's year of production for N satellites (default 200: 6,480 units, materials,
      satellites), its year moved to end a week from now, so the last weeks' steps fall in the raw telemetry
      window. Its one passed execution a step gives 36,000 executions and 91,000 measurements with this plant's
      routings; to reach the issue's volumes (70,000+ and 300,000+) each passed execution gets an earlier attempt
      (19 in 20 aborted, which yields ignore, 1 in 20 failed) with its readings, and every reading is entered
      twice, the first entry voided: 71,712 executions, 363,744 measurements;
    * each execution on the machine its step uses (named for it, else the station's free one, as the demo does),
      machine states over the year (Execute while a step ran, a short Held in every seventh run, Idle between, a
      Stopped spell in every tenth pause; the last interval open), one good part a passed execution on machines
      with counters, a telemetry gap a month per machine, the endpoints' health;
    * telemetry of every numeric process value: raw samples over the last 30 days (the machines DENSE once a
      second, the others at the period that brings the total to --samples, at most a minute: 10 million on
      SQLite, 50 million on PostgreSQL, where the table is partitioned by day), minute rollups over 90 days (the
      last 30 computed from the samples by the database, the rest synthetic) and hourly ones over the year (from
      the minutes where there are some). Bulk loads run in SQL: a recursive CTE on SQLite, generate_series on
      PostgreSQL. Before measuring, the DENSE samples are caught up to the clock (the live trend reads them).
    PostgreSQL is VACUUM ANALYZEd after the load (autovacuum would have been over a year); SQLite is not
    (the app never runs ANALYZE there).

What it measures
    The app over the Flask test client (the whole WSGI stack: session cookie, queries, templates, JSON), logged
    in as a supervisor. For each page: the HTML, then every figure's JSON its `data-src` names, each URL once
    untimed (templates and statements compiled, as on a running server), then R times (default 5), each right
    after a committed write (a sample of a DENSE tag), so no cache can answer: median (the verdict), CPU time of
    this process (SQLite's work included, PostgreSQL's server not; a wall time far above it is waiting for a
    CPU on a busy host) and max. Pages: SPC (its default characteristic and range), the machine page of DENSE[0]
    (default week; and 14 days, the longest range read from minute rollups) with its live-trend refresh, the
    unit traveler of the wheel that left the balancer last (a trace a step on a machine), and the plant board
    and a line page where those routes exist.
    Targets (issue 8): every response under 300 ms, the live-trend refresh under 100 ms.

How to run (from the repository root)
    .venv/bin/python benchmarks/dashboards.py [--db sqlite|postgresql|both] [--satellites 200] [--repeat 5]
    PostgreSQL: MES_BENCH_POSTGRES_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test); a scratch
    database mes_bench_dashboards_<pid> is created there and dropped at the end.
"""
from __future__ import annotations

import argparse
import html
import importlib.util
import os
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, selectinload, sessionmaker

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))
from mes import create_app, telemetry  # noqa: E402
from mes.audit import AuditConfig  # noqa: E402
from mes.auth import create_user  # noqa: E402
from mes.db import make_engine, make_session_factory  # noqa: E402
from mes.migrate import upgrade  # noqa: E402
from mes.models import (  # noqa: E402
    EndpointHealth,
    Machine,
    MachineState,
    Measurement,
    ProductionCount,
    RoutingStep,
    Sample,
    StepExecution,
    Tag,
    TagRollup,
    TelemetryGap,
    Unit,
)
from mes.plant_config import load_plant_config  # noqa: E402
from mes.plant_config.schema import NUMERIC_TYPES  # noqa: E402
from mes.plant_loader import load_plant  # noqa: E402
from mes.settings import Settings  # noqa: E402
from mes.telemetry import Reading  # noqa: E402

# benchmarks/trace.py, by path: a plain `import trace` would find the standard library's module of that name.
_spec = importlib.util.spec_from_file_location("bench_trace", Path(__file__).with_name("trace.py"))
trace = sys.modules["bench_trace"] = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(trace)  # type: ignore[union-attr]

TARGET_MS, LIVE_TARGET_MS = 300.0, 100.0
POSTGRES_URL = os.environ.get("MES_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SAMPLES = {"sqlite": 10_000_000, "postgresql": 50_000_000}
DENSE = ("RWA-BAL1", "RWA-TVAC1")  # sampled once a second; the page and traveler measured read these
RAW_DAYS, MINUTE_DAYS, YEAR_DAYS = 30, 90, 365
DAY_S = 86400
PASSWORD = "bench-dashboards"
# A tag's value at epoch second e: a slow wave, a little deterministic ripple. Rollups past the raw window use it too.
VALUE = "{b} + {a} * sin({e} / 600.0 + {i}) + {a} * 0.05 * (({e} * 7919) % 13) / 13.0"


@contextmanager
def scratch(db: str, folder: Path, sqlite_file: Path | None = None) -> Iterator[str]:
    """A fresh database: a SQLite file in `folder` (or `sqlite_file`), or a PostgreSQL database dropped afterwards."""
    if db == "sqlite":
        yield f"sqlite:///{sqlite_file or folder / 'mes.db'}"
        return
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    name = f"mes_bench_dashboards_{os.getpid()}"
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# --- production, machines ---------------------------------------------------------------------------------------

def machines_for(step: RoutingStep, steps: list[RoutingStep], machines: list[Machine]) -> list[Machine]:
    """The machines a step uses: named after it (RWA-TC1 for RWA-TC), else its stations' ones no step is named for."""
    def named(machine: Machine, code: str) -> bool:
        return machine.code.startswith(code) and machine.code[len(code):].isdigit()
    here = [m for m in machines if m.station_id in {s.id for s in step.stations}]
    return [m for m in here if named(m, step.code)] or [
        m for m in here if not any(named(m, s.code) for s in steps if s.code != step.code)]


def assign_machines(session: Session) -> None:
    machines = list(session.scalars(select(Machine).where(Machine.active.is_(True))))
    steps = list(session.scalars(select(RoutingStep).options(selectinload(RoutingStep.stations))))
    for step in steps:
        chosen = machines_for(step, [s for s in steps if s.routing_revision_id == step.routing_revision_id], machines)
        for k, machine in enumerate(chosen):
            session.execute(update(StepExecution).where(StepExecution.step_id == step.id,
                                                        StepExecution.id % len(chosen) == k)
                            .values(machine_id=machine.id))


MEASUREMENT_COLUMNS = ("characteristic_id, name, value_text, value, unit, nominal, lower, upper, passed, source, "
                       "captured_tag_id, captured_aggregate, captured_samples, captured_from, captured_to, "
                       "recorded_at, instrument_id, deviation_id, voided_at, void_reason, void_signature_id, "
                       "replaces_id")


def add_attempts(session: Session, counts: Any) -> None:
    """Bring trace.py's year to the issue's volumes (its one passed execution a step gives about 36,000 executions
    and 91,000 measurements with this plant's routings): before each passed execution an attempt that was aborted
    (19 in 20; void, so yields are untouched) or failed, with the readings taken in it; and every reading entered
    twice, the first entry voided."""
    passed = session.execute(select(StepExecution.id, StepExecution.unit_id, StepExecution.step_id,
                                    StepExecution.step_code, StepExecution.station_id, StepExecution.started_by_id,
                                    StepExecution.started_at, StepExecution.ended_at)
                             .where(StepExecution.status == "passed").order_by(StepExecution.id)).all()
    attempts = []
    for p in passed:
        failed = p.id % 20 == 0
        ended = p.started_at - timedelta(minutes=15)
        attempts.append(dict(
            unit_id=p.unit_id, step_id=p.step_id, step_code=p.step_code, station_id=p.station_id, machine_id=None,
            run_id=None, position=None, status="failed" if failed else "aborted", rework=False,
            started_by_id=p.started_by_id, started_at=ended - (p.ended_at - p.started_at) * (1 if failed else 0.3),
            ended_at=ended, completed_by_id=p.started_by_id if failed else None,
            abort_reason=None if failed else "fixture fault; restarted", buyoff_signature_id=None))
    trace.insert_rows(session, StepExecution, attempts, counts)
    columns = MEASUREMENT_COLUMNS.replace("passed, ", "")
    copied = columns.replace("recorded_at", "a.ended_at")
    session.execute(text(
        f"INSERT INTO measurements (execution_id, passed, {columns}) "
        f"SELECT a.id, a.status <> 'failed', {copied} FROM measurements m "
        f"JOIN step_executions p ON p.id = m.execution_id AND p.status = 'passed' "
        f"JOIN step_executions a ON a.unit_id = p.unit_id AND a.step_id = p.step_id AND a.status <> 'passed'"))
    voided = MEASUREMENT_COLUMNS.replace("voided_at, void_reason", "recorded_at, 'entered again'")
    session.execute(text(f"INSERT INTO measurements (execution_id, {MEASUREMENT_COLUMNS}) "
                         f"SELECT execution_id, {voided} FROM measurements"))


def seed_machines(session: Session, start: datetime, now: datetime, counts: Any) -> None:
    """States, counts, gaps and health from the executions on each machine."""
    runs: dict[int, list[tuple[datetime, datetime]]] = {m: [] for m in session.scalars(select(Machine.id))}
    passed: dict[int, list[datetime]] = {}
    for machine_id, began, ended, status in session.execute(
            select(StepExecution.machine_id, StepExecution.started_at, StepExecution.ended_at, StepExecution.status)
            .where(StepExecution.machine_id.is_not(None)).order_by(StepExecution.started_at)):
        runs[machine_id].append((began, min(ended or now, now)))
        if status == "passed":
            passed.setdefault(machine_id, []).append(ended)
    states: list[dict[str, Any]] = []
    for machine_id, spans in runs.items():
        merged: list[list[datetime]] = []
        for began, ended in spans:
            if merged and began <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], ended)
            else:
                merged.append([began, ended])
        at = start
        for n, (began, ended) in enumerate(merged):
            if began > at:
                stop = min(began, at + timedelta(minutes=30)) if n % 10 == 9 else at
                if stop > at:
                    states.append(dict(machine_id=machine_id, state="Stopped", started_at=at, ended_at=stop))
                states.append(dict(machine_id=machine_id, state="Idle", started_at=stop, ended_at=began))
            middle = began + (ended - began) / 2
            if n % 7 == 6 and ended - began > timedelta(minutes=40):
                states += [dict(machine_id=machine_id, state="Execute", started_at=began, ended_at=middle),
                           dict(machine_id=machine_id, state="Held", started_at=middle,
                                ended_at=middle + timedelta(minutes=10)),
                           dict(machine_id=machine_id, state="Execute", started_at=middle + timedelta(minutes=10),
                                ended_at=ended)]
            else:
                states.append(dict(machine_id=machine_id, state="Execute", started_at=began, ended_at=ended))
            at = ended
        states.append(dict(machine_id=machine_id, state="Idle", started_at=at, ended_at=None))
    trace.insert_rows(session, MachineState, [s for s in states if s["ended_at"] is None or
                                              s["ended_at"] > s["started_at"]], counts)
    good = dict(session.execute(select(Tag.machine_id, Tag.id).where(Tag.meaning == "good_count")).all())
    trace.insert_rows(session, ProductionCount, [
        dict(tag_id=good[m], at=at, machine_id=m, kind="good", delta=1)
        for m, ends in passed.items() if m in good for at in sorted(set(ends))], counts)
    reasons = ("disconnected", "adapter_restart", "spool_full")
    trace.insert_rows(session, TelemetryGap, [
        dict(machine_id=m, started_at=start + timedelta(days=30 * k, hours=m), reason=reasons[(m + k) % 3],
             ended_at=start + timedelta(days=30 * k, hours=m, minutes=5 + (m * k) % 40), backfilled=0,
             declared_at=start + timedelta(days=30 * k, hours=m)) for m in runs for k in range(12)], counts)
    endpoints = set(session.scalars(select(Machine.endpoint)))
    trace.insert_rows(session, EndpointHealth, [
        dict(endpoint=e, connected=True, last_value_at=now, spool_readings=0, spool_fill=0.0, clock_offset_s=0.01,
             error=None, updated_at=now) for e in sorted(endpoints)], counts)


# --- telemetry --------------------------------------------------------------------------------------------------

def tag_plans(session: Session, target: int, raw_start: int, end: int) -> list[tuple[int, int, float, float]]:
    """(tag id, sampling period s, base, amplitude) of every numeric process value: DENSE machines once a second,
    the others at the period that brings the raw samples to `target`."""
    rows = session.execute(select(Tag.id, Machine.code, Tag.high_limit, Tag.low_limit).join(Machine)
                           .where(Tag.meaning == "process_value", Tag.data_type.in_(sorted(NUMERIC_TYPES)))
                           .order_by(Tag.id)).all()
    dense = sum(1 for r in rows if r.code in DENSE)
    span = end - raw_start
    # At most a minute apart, so every value has raw samples even where the DENSE ones reach the target alone.
    sparse_period = min(60, max(1, (len(rows) - dense) * span // max(1, target - dense * span)))
    plans = []
    for tag_id, code, high, low in rows:
        top, bottom = float(high) if high else 100.0, float(low) if low else 0.0
        plans.append((tag_id, 1 if code in DENSE else sparse_period, (top + bottom) / 2, (top - bottom) / 4))
    return plans


def _sqlite_series(first: str, step: str, last: str) -> str:
    return f"WITH RECURSIVE s(e) AS (SELECT {first} UNION ALL SELECT e + {step} FROM s WHERE e + {step} < {last})"


def _sqlite_time(column: str) -> str:
    return f"strftime('%Y-%m-%d %H:%M:%S', {column}, 'unixepoch') || '.000000'"  # how SQLAlchemy stores times


def load_sqlite(sessions: sessionmaker[Session], plans: list[tuple[int, int, float, float]],
                t: dict[str, int]) -> dict[str, float]:
    """Raw samples, then minute and hour rollups, a tag a transaction (each statement appends to the key's index,
    and the write-ahead log is checkpointed as it goes rather than growing to the size of the database)."""
    value = VALUE.format(b=":base", a=":amp", e="e", i=":tag")
    spent = {"raw samples": 0.0, "rollups": 0.0}
    for tag, period, base, amp in plans:
        args = {"tag": tag, "period": period, "base": base, "amp": amp}
        with sessions.begin() as session:
            began = time.perf_counter()
            session.execute(text(
                f"INSERT INTO samples (tag_id, source_time, value, text, status, received_at, backfilled) "
                f"{_sqlite_series(':first', ':period', ':end')} SELECT :tag, ts, v, NULL, 0, ts, 0 FROM "
                f"(SELECT {_sqlite_time('e')} AS ts, {value} AS v FROM s)"),
                {**args, "first": -(-t["raw"] // period) * period, "end": t["end"]})
            spent["raw samples"] += time.perf_counter() - began
            _sqlite_rollups(session, args, t)
            spent["rollups"] += time.perf_counter() - began
    spent["rollups"] -= spent["raw samples"]
    return spent


def _sqlite_rollups(session: Session, args: dict[str, Any], t: dict[str, int]) -> None:
    period = args["period"]
    session.execute(text(
        "INSERT INTO tag_rollups (tag_id, resolution, bucket, count, minimum, maximum, total) "
        "SELECT tag_id, 'minute', substr(source_time, 1, 16) || '\\:00.000000', count(*), min(value), max(value), "
        "sum(value) FROM samples WHERE tag_id = :tag AND value IS NOT NULL GROUP BY substr(source_time, 1, 16)"),
        args)
    synthetic = VALUE.format(b=":base", a=":amp", e="(e + 30)", i=":tag")
    session.execute(text(
        f"INSERT INTO tag_rollups (tag_id, resolution, bucket, count, minimum, maximum, total) "
        f"{_sqlite_series(':minutes', '60', ':raw')} SELECT :tag, 'minute', {_sqlite_time('e')}, :n, "
        f"v - :amp * 0.05, v + :amp * 0.05, v * :n FROM (SELECT e, {synthetic} AS v FROM s)"),
        {**args, "minutes": t["minutes"], "raw": t["raw"], "n": max(1, 60 // period)})
    session.execute(text(
        f"INSERT INTO tag_rollups (tag_id, resolution, bucket, count, minimum, maximum, total) "
        f"{_sqlite_series(':hours', '3600', ':minutes')} SELECT :tag, 'hour', {_sqlite_time('e')}, :n, "
        f"v - :amp * 0.1, v + :amp * 0.1, v * :n FROM (SELECT e, {synthetic} AS v FROM s)"),
        {**args, "hours": t["hours"], "minutes": t["minutes"], "n": max(1, 3600 // period)})
    session.execute(text(
        "INSERT INTO tag_rollups (tag_id, resolution, bucket, count, minimum, maximum, total) "
        "SELECT tag_id, 'hour', substr(bucket, 1, 13) || '\\:00\\:00.000000', sum(count), min(minimum), "
        "max(maximum), sum(total) FROM tag_rollups WHERE tag_id = :tag AND resolution = 'minute' "
        "GROUP BY substr(bucket, 1, 13)"),
        args)


PG_PLANS = ("unnest(CAST(:tags AS integer[]), CAST(:periods AS integer[]), CAST(:bases AS float8[]), "
            "CAST(:amps AS float8[])) AS p(tag, period, base, amp)")


def load_postgresql(sessions: sessionmaker[Session], plans: list[tuple[int, int, float, float]],
                    t: dict[str, int]) -> dict[str, float]:
    """Raw samples a day (a partition) a transaction, then rollups, each by one INSERT ... SELECT."""
    tags, periods, bases, amps = (list(c) for c in zip(*plans, strict=True))
    args = {"tags": tags, "periods": periods, "bases": bases, "amps": amps}

    spent = {"raw samples": 0.0, "rollups": 0.0}

    def run(sql: str, **params: Any) -> None:
        began = time.perf_counter()
        with sessions.begin() as session:
            # A bulk load's own settings: hash aggregates in memory, no wait for each commit's WAL flush, and no
            # foreign-key trigger a row (the tag ids come from the tags table itself).
            for setting in ("work_mem = '256MB'", "synchronous_commit = off", "session_replication_role = replica"):
                session.execute(text(f"SET LOCAL {setting}"))
            session.execute(text(sql), params)
        spent["raw samples" if sql.startswith("INSERT INTO samples") else "rollups"] += time.perf_counter() - began

    with sessions.begin() as session:
        telemetry.ensure_partitions(session, [datetime.fromtimestamp(d, UTC) for d in range(t["raw"], t["end"], DAY_S)]
                                    + [datetime.fromtimestamp(t["end"], UTC)])
    value = VALUE.format(b="p.base", a="p.amp", e="e", i="p.tag")
    for lo in range(t["raw"], t["end"], DAY_S):
        hi = min(lo + DAY_S, t["end"])
        run(f"INSERT INTO samples (tag_id, source_time, value, text, status, received_at, backfilled) "
            f"SELECT p.tag, to_timestamp(e), {value}, NULL, 0, to_timestamp(e), false FROM {PG_PLANS} "
            f"CROSS JOIN LATERAL generate_series((CAST(:lo AS bigint) + p.period - 1) / p.period * p.period, "
            f":hi - 1, p.period) AS e", **args, lo=lo, hi=hi)
        run("INSERT INTO tag_rollups (tag_id, resolution, bucket, count, minimum, maximum, total) "
            "SELECT tag_id, 'minute', date_trunc('minute', source_time, 'UTC'), count(*), min(value), max(value), "
            "sum(value) FROM samples WHERE source_time >= to_timestamp(:lo) AND source_time < to_timestamp(:hi) "
            "AND value IS NOT NULL GROUP BY tag_id, date_trunc('minute', source_time, 'UTC')", lo=lo, hi=hi)
    synthetic = VALUE.format(b="p.base", a="p.amp", e="(e + 30)", i="p.tag")
    for resolution, step, lo, hi, spread in (("minute", 60, t["minutes"], t["raw"], 0.05),
                                             ("hour", 3600, t["hours"], t["minutes"], 0.1)):
        run(f"INSERT INTO tag_rollups (tag_id, resolution, bucket, count, minimum, maximum, total) "
            f"SELECT p.tag, '{resolution}', to_timestamp(e), greatest(1, {step} / p.period), v - p.amp * {spread}, "
            f"v + p.amp * {spread}, v * greatest(1, {step} / p.period) FROM {PG_PLANS} "
            f"CROSS JOIN LATERAL generate_series(CAST(:lo AS bigint), :hi - 1, {step}) AS e "
            f"CROSS JOIN LATERAL (SELECT {synthetic} AS v) AS x", **args, lo=lo, hi=hi)
    run("INSERT INTO tag_rollups (tag_id, resolution, bucket, count, minimum, maximum, total) "
        "SELECT tag_id, 'hour', date_trunc('hour', bucket, 'UTC'), sum(count), min(minimum), max(maximum), sum(total) "
        "FROM tag_rollups WHERE resolution = 'minute' AND bucket >= to_timestamp(:lo) "
        "GROUP BY tag_id, date_trunc('hour', bucket, 'UTC')", lo=t["minutes"])
    return spent


# --- seeding driver ---------------------------------------------------------------------------------------------

def seed(db: str, url: str, instance: Path, args: argparse.Namespace, now: datetime) -> sessionmaker[Session]:
    """Everything above; prints how long each part took and what it wrote."""
    began = time.perf_counter()
    upgrade(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine, audit=AuditConfig.for_instance(instance))  # the app's own
    with sessions.begin() as s:
        load_plant(s, load_plant_config(REPOSITORY / "config"))
        create_user(s, "bench.supervisor", ["supervisor"], PASSWORD, language="en")
    # trace.seed reads its year from these module globals: the year ends a week from now.
    trace.YEAR_END = now + timedelta(days=7)
    trace.YEAR_START = trace.YEAR_END - timedelta(days=YEAR_DAYS)
    trace.YEAR = trace.YEAR_START.year
    phases = {"schema, plant": time.perf_counter() - began}
    with sessions.begin() as s:
        counts, _ = trace.seed(s, args.satellites, random.Random(trace.SEED))
        add_attempts(s, counts)
    phases["production"] = time.perf_counter() - began - sum(phases.values())
    with sessions.begin() as s:
        assign_machines(s)
        seed_machines(s, trace.YEAR_START, now, counts)
    phases["machines"] = time.perf_counter() - began - sum(phases.values())
    end = int(now.timestamp())
    hour = end // 3600 * 3600
    t = {"end": end, "raw": hour - RAW_DAYS * DAY_S, "minutes": hour - MINUTE_DAYS * DAY_S,
         "hours": hour - YEAR_DAYS * DAY_S}
    with sessions() as s:
        plans = tag_plans(s, args.samples or SAMPLES[db], t["raw"], end)
    phases |= (load_postgresql if db == "postgresql" else load_sqlite)(sessions, plans, t)
    if db == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
        phases["vacuum analyze"] = time.perf_counter() - began - sum(phases.values())
    with sessions() as s:
        def count(model: Any, *where: Any) -> int:
            return s.scalar(select(func.count()).select_from(model).where(*where)) or 0
        rows = {"samples": count(Sample), "states": count(MachineState), "units": count(Unit),
                "executions": count(StepExecution), "measurements": count(Measurement),
                "on machines": count(StepExecution, StepExecution.machine_id.is_not(None)),
                "future": count(StepExecution, StepExecution.started_at > now),
                **dict(s.execute(select(TagRollup.resolution, func.count()).group_by(TagRollup.resolution)).all())}
    dense = [p for p in plans if p[1] == 1]
    print(f"{db:<10} seeded in {time.perf_counter() - began:.0f} s ("
          + ", ".join(f"{k} {v:.0f} s" for k, v in phases.items()) + ")", flush=True)
    print(f"{db:<10} rows: units {rows['units']:,}, step executions {rows['executions']:,} ({rows['on machines']:,} on "
          f"machines, {rows['future']} starting after now), measurements {rows['measurements']:,}, machine states "
          f"{rows['states']:,}; raw samples {rows['samples']:,} ({len(dense)} tags once a second, "
          f"{len(plans) - len(dense)} every {max(p[1] for p in plans)} s), minute rollups {rows.get('minute', 0):,}, "
          f"hourly {rows.get('hour', 0):,}", flush=True)
    return sessions


# --- measuring --------------------------------------------------------------------------------------------------

def figure_urls(page: str) -> list[str]:
    return [html.unescape(u) for u in re.findall(r'data-src="([^"]+)"', page)]


def timed(client: Any, url: str, sessions: sessionmaker[Session], tag: int, tags: Any,
          repeat: int) -> tuple[list[float], list[float]]:
    """`repeat` GETs of `url`, each right after a committed write: wall and CPU milliseconds of each."""
    walls, cpus = [], []
    for _ in range(repeat):
        with sessions.begin() as s:
            telemetry.store(s, [Reading(tag, datetime.now(UTC), 1.0, None, 0, datetime.now(UTC))], tags)
        wall, cpu = time.perf_counter(), time.process_time()
        response = client.get(url)
        response.get_data()
        walls.append((time.perf_counter() - wall) * 1000)
        cpus.append((time.process_time() - cpu) * 1000)
        assert response.status_code == 200, (url, response.status_code, response.get_data(as_text=True)[:300])
    return walls, cpus


def urls_to_time(client: Any, sessions: sessionmaker[Session]) -> list[tuple[str, str]]:
    """(label, URL) of every page measured and of the figures each one's HTML names."""
    with sessions() as s:
        # The wheel that left the balancer last: its steps on the dense machines ran in the raw window.
        serial = s.scalar(select(Unit.serial).join(StepExecution, StepExecution.unit_id == Unit.id)
                          .join(Machine, Machine.id == StepExecution.machine_id).where(Machine.code == DENSE[0])
                          .order_by(StepExecution.started_at.desc()).limit(1))
    today = datetime.now(UTC).date()
    fortnight = f"from={today - timedelta(days=13)}&to={today}"
    pages = [("SPC", "/dashboards/spc"), ("machine page", f"/dashboards/machines/{DENSE[0]}"),
             ("unit traveler", f"/dashboards/units/{serial}")]
    endpoints = {rule.endpoint for rule in client.application.url_map.iter_rules()}
    pages += [("plant board", "/dashboards/board")] if "dashboards.board_page" in endpoints else []
    pages += [("line page", "/dashboards/lines/RWA")] if "dashboards.line_page" in endpoints else []
    out = []
    for name, page in pages:
        response = client.get(page)
        assert response.status_code == 200, (page, response.status_code)
        out.append((f"{name}: HTML", page))
        for url in figure_urls(response.get_data(as_text=True)):
            figure = url.split("?")[0].rsplit("/", 1)[-1]
            label = "live-trend refresh" if figure == "live.json" else f"{name}: {figure}"
            out.append((label + (f" #{url.split('/')[-2]}" if figure.startswith("trace.") else ""), url))
    out.append(("machine page, 14 days: HTML", f"/dashboards/machines/{DENSE[0]}?{fortnight}"))
    out.append(("machine page, 14 days: trend.json", f"/dashboards/machines/{DENSE[0]}/trend.json?{fortnight}"))
    return out


def catch_up(sessions: sessionmaker[Session], tags: Any) -> None:
    """The DENSE machines' samples from the end of the seeded ones to now, as the adapters would have stored them
    while the database was seeded: the live trend reads the last ten minutes."""
    now = datetime.now(UTC).replace(microsecond=0)
    with sessions.begin() as s:
        for tag_id, last in s.execute(select(Sample.tag_id, func.max(Sample.source_time)).join(Tag).join(Machine)
                                      .where(Machine.code.in_(DENSE)).group_by(Sample.tag_id)).all():
            seconds = int((now - last).total_seconds())
            telemetry.store(s, [Reading(tag_id, last + timedelta(seconds=k), float(k % 600), None, 0, now)
                                for k in range(1, seconds)], tags)


def measure(db: str, url: str, instance: Path, sessions: sessionmaker[Session], repeat: int) -> None:
    app = create_app(Settings(database_url=url, instance_path=instance, config_dir=REPOSITORY / "config",
                              secret_key="bench"))
    client = app.test_client()
    assert client.post("/api/v1/session", json={"name": "bench.supervisor", "password": PASSWORD}).status_code == 200
    with sessions() as s:
        tags = telemetry.load_tags(s)
        dense_tag = s.scalar(select(Tag.id).join(Machine).where(Machine.code == DENSE[0],
                                                                 Tag.meaning == "process_value").order_by(Tag.id))
    catch_up(sessions, tags)
    missed = 0
    print(f"{db:<10} load average before measuring: {' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
    for label, target_url in urls_to_time(client, sessions):
        client.get(target_url)  # compiled templates and statements, as on a running server
        walls, cpus = timed(client, target_url, sessions, dense_tag, tags, repeat)
        target = LIVE_TARGET_MS if "/live.json" in target_url else TARGET_MS
        median = statistics.median(walls)
        missed += median >= target
        print(f"{db:<10} {label:<44} median {median:6.1f} ms (cpu {statistics.median(cpus):5.1f})  max "
              f"{max(walls):6.1f} ms  target < {target:g} ms: {'OK' if median < target else 'MISSED'}  {target_url}",
              flush=True)
    print(f"{db:<10} {'every target met' if not missed else f'{missed} target(s) missed'}; load average after: "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
    app.extensions["mes"]["engine"].dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--satellites", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5, help="timed requests per URL (default 5; the median counts)")
    parser.add_argument("--samples", type=int, default=None,
                        help="raw samples to seed (default 10 million on SQLite, 50 million on PostgreSQL)")
    parser.add_argument("--sqlite-file", type=Path, default=None,
                        help="keep the SQLite database in this file; if it exists, measure it without seeding")
    args = parser.parse_args(argv)
    print(f"dashboards at a year's scale: {args.satellites} satellites; each URL {args.repeat} times, each the first "
          f"request after a commit; {os.cpu_count()} CPUs", flush=True)
    for db in ("sqlite", "postgresql") if args.db == "both" else (args.db,):
        now = datetime.now(UTC).replace(microsecond=0)
        kept = args.sqlite_file if db == "sqlite" else None
        with tempfile.TemporaryDirectory(prefix="mes-bench-dashboards-") as folder, \
                scratch(db, Path(folder), kept) as url:
            instance = kept.parent / "instance" if kept else Path(folder) / "instance"
            if kept and kept.exists():
                sessions = make_session_factory(make_engine(url), audit=AuditConfig.for_instance(instance))
            else:
                sessions = seed(db, url, instance, args, now)
            measure(db, url, instance, sessions, args.repeat)
            sessions.kw["bind"].dispose()


if __name__ == "__main__":
    main()
