"""Genealogy and trace at a year's scale: a satellite's full tree and a widely used lot's up-trace.

What it measures
    A scratch database is built with the project's migrations and the default plant (config/), then
    seeded in bulk (SQLAlchemy inserts, not the services) with a year of production for N satellites
    (default 200): work orders; every needed unit plus the plant's spares allowance (8 %), all accepted;
    one passed execution per routing step per unit (times spread over the year, station = the step's
    first station) with its start and complete events and a measurement per characteristic; received
    material (supplier lots of 100-1000 pieces, a few per part across the year, and one received serial
    per piece of a serialised part); a consumption for every BOM line of every unit; and the satellites
    with every position allocated.

    Then, each call in a fresh read-only session (as the API serves it), 2 warm-ups then R timed calls
    (default 20), median and p95 (nearest rank):

    * satellite genealogy: mes.genealogy.components_of() over the units allocated to one satellite
      (its whole tree: 30 units and what is built into them);
    * satellite as-built: mes.as_built.satellite_as_built() of the same satellite (no target, printed);
    * up-trace: mes.genealogy.trace() of the received lot with the most consumptions.

    Target (from the issue): under 200 ms for the genealogy and for the up-trace (judged on the p95).
    Each line also gives the CPU time of this process per call (Python, and the SQLite library
    on SQLite; a PostgreSQL server's own time is not in it): when the host is busy, a p95 far above it
    is time spent waiting for a CPU, not work the call does. It also counts the calls during which
    Python ran a full (generation 2) garbage collection: each costs tens of milliseconds here and is
    what the CPU p95 is made of.

    PostgreSQL is ANALYZEd after the load (autovacuum would have done so over a year of production);
    SQLite is not (the app never runs ANALYZE there), so each is measured as the plant would run it.

How to run (from the repository root)
    .venv/bin/python benchmarks/trace.py [--database-url URL] [--satellites 200] [--repeat 20]

    Without --database-url: a SQLite file in a temporary folder. With a postgresql+psycopg:// server
    URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test): a scratch database
    mes_bench_trace_<pid> is created there and dropped at the end. With a sqlite:/// URL: that file
    (which must not exist yet), kept afterwards for inspection.
"""
from __future__ import annotations

import argparse
import gc
import math
import os
import random
import secrets
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from mes.as_built import satellite_as_built
from mes.audit import AuditConfig
from mes.db import make_engine, make_session_factory
from mes.genealogy import components_of, trace
from mes.migrate import upgrade
from mes.models import (
    Allocation,
    Consumption,
    Measurement,
    Part,
    Plant,
    ReceivedItem,
    RoutingRevision,
    RoutingStep,
    Satellite,
    StepEvent,
    StepExecution,
    Unit,
    UnitType,
    User,
    WorkOrder,
)
from mes.plant_config import load_plant_config
from mes.plant_loader import load_plant
from mes.settings import REPO_ROOT

TARGET_MS = 200.0
WARMUPS = 2
YEAR = 2025
YEAR_START = datetime(YEAR, 1, 1, tzinfo=UTC)
YEAR_END = datetime(YEAR + 1, 1, 1, tzinfo=UTC)
WORK_ORDER_SIZE = 25          # units per work order (a fortnight or so of one line)
SERIALS_PER_RECEIPT = 50      # serialised parts arrive in boxes of this many
LOT_MIN, LOT_MAX = 100, 1000  # supplier lot sizes
CHUNK = 5000                  # rows per bulk insert call
SEED = 20250101


class Unavailable(Exception):
    """The database server cannot be reached."""


# --- the scratch database --------------------------------------------------------------------------------------

@contextmanager
def scratch_database(database_url: str | None, folder: Path) -> Iterator[str]:
    """A database to seed: a temporary SQLite file, a given new SQLite file, or a scratch PostgreSQL database."""
    if database_url is None:
        yield f"sqlite:///{folder / 'mes.db'}"
        return
    parsed = make_url(database_url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and Path(parsed.database).exists():
            raise SystemExit(f"{parsed.database} exists; give a new SQLite file (it is seeded from scratch)")
        yield database_url
        return
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    name = f"mes_bench_trace_{os.getpid()}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except SQLAlchemyError as exc:
        admin.dispose()
        raise Unavailable(f"{type(exc).__name__}: {str(exc).splitlines()[0]}") from None
    try:
        yield parsed.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# --- seeding ---------------------------------------------------------------------------------------------------

@dataclass
class StepPlan:
    """What a routing step needs to write a passed execution: ids and values looked up once."""

    id: int
    code: str
    sequence: int
    minutes: int
    station_id: int
    characteristics: list[dict[str, Any]]
    bom: list[tuple[int, int, int]]  # (bom item id, part id, quantity); purchased parts only


@dataclass
class TypePlan:
    id: int
    part_number: str
    prefix: str
    qty_per_satellite: int
    revision_id: int
    steps: list[StepPlan]
    skipped_bom: int = 0  # BOM lines naming a unit type (sub-assemblies): not seeded


@dataclass
class Counts:
    rows: Counter[str] = field(default_factory=Counter)

    def add(self, table: str, n: int) -> None:
        self.rows[table] += n


def insert_rows(session: Session, model: type[Any], rows: list[dict[str, Any]], counts: Counts, *,
                ids: bool = False) -> list[int]:
    """Bulk insert `rows`; with `ids`, return the new primary keys in the order of `rows`."""
    # render_nulls: the ORM otherwise leaves out None values, grouping rows by which columns are None
    # and sending each run of alike rows as its own statement (thousands of tiny batches).
    statement = insert(model).execution_options(render_nulls=True)
    out: list[int] = []
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start:start + CHUNK]
        if ids:
            out += session.scalars(statement.returning(model.id, sort_by_parameter_order=True), chunk).all()
        else:
            session.execute(statement, chunk)
    counts.add(model.__tablename__, len(rows))
    return out


def measured_value(c: dict[str, Any], rng: random.Random) -> tuple[str, float | None]:
    """A passing value as entered: the nominal, else a limit; "pass" for an attribute."""
    if c["kind"] == "pass_fail":
        return "pass", None
    choices = [v for v in (c["nominal"], c["lower"], c["upper"]) if v is not None]
    text_value = (c["nominal"] if c["nominal"] is not None and rng.random() < 0.7 else rng.choice(choices)) \
        if choices else "0"
    return text_value, float(Decimal(text_value))


def plant_plan(session: Session) -> tuple[list[TypePlan], dict[int, Part], Decimal]:
    """The loaded plant's unit types, their newest routing, and the purchased parts."""
    plans = []
    for unit_type in session.scalars(select(UnitType).order_by(UnitType.id)):
        revision = session.scalars(
            select(RoutingRevision).filter_by(unit_type_id=unit_type.id).order_by(RoutingRevision.revision.desc())
            .options(selectinload(RoutingRevision.steps).options(
                selectinload(RoutingStep.stations), selectinload(RoutingStep.characteristics),
                selectinload(RoutingStep.bom)))).first()
        assert revision is not None
        plan = TypePlan(unit_type.id, unit_type.part_number, unit_type.serial_prefix, unit_type.qty_per_satellite,
                        revision.id, [])
        for step in revision.steps:
            bom = [(b.id, b.part_id, b.quantity) for b in step.bom if b.part_id is not None]
            plan.skipped_bom += sum(1 for b in step.bom if b.part_id is None)
            plan.steps.append(StepPlan(
                step.id, step.code, step.sequence, step.standard_minutes, step.stations[0].id,
                [dict(id=c.id, name=c.name, kind=c.kind, unit=c.unit, nominal=c.nominal, lower=c.lower,
                      upper=c.upper) for c in step.characteristics], bom))
        plans.append(plan)
    parts = {p.id: p for p in session.scalars(select(Part))}
    spares = Decimal(session.scalars(select(Plant.spares_allowance)).one())
    return plans, parts, spares


@dataclass
class Demand:
    """One BOM line of one unit, waiting for its material."""

    at: datetime
    unit_id: int
    execution_id: int
    bom_item_id: int
    step_code: str
    quantity: int


def seed(session: Session, satellites: int, rng: random.Random) -> tuple[Counts, str]:
    """A year of production in bulk; returns the row counts and any note on what was left out."""
    counts = Counts()
    plans, parts, spares = plant_plan(session)
    user_id = insert_rows(session, User, [dict(
        name="bench.trace", display_name="Bench Trace", badge=None, password_hash="!", pin_hash=None,
        language="en", active=True, created_at=YEAR_START - timedelta(days=30))], counts, ids=True)[0]
    yy = f"{YEAR % 100:02d}"

    # Units and work orders: each line's units released evenly over the year, built step after step.
    orders: list[dict[str, Any]] = []
    units: list[dict[str, Any]] = []
    unit_plan: list[tuple[TypePlan, datetime]] = []  # per unit: its type and release time
    for plan in plans:
        count = math.ceil(satellites * plan.qty_per_satellite * (1 + spares))
        build = timedelta(minutes=sum(s.minutes for s in plan.steps)) + timedelta(hours=12) * len(plan.steps)
        window = (YEAR_END - YEAR_START) - build - timedelta(days=14)
        for k in range(count):
            released = YEAR_START + window * ((k + rng.random() * 0.5) / count)
            if k % WORK_ORDER_SIZE == 0:
                size = min(WORK_ORDER_SIZE, count - k)
                orders.append(dict(
                    number=f"WO-{yy}-{len(orders) + 1:05d}", unit_type_id=plan.id, routing_revision_id=plan.revision_id,
                    quantity=size, due=(released + timedelta(days=45)).date(), priority=3, status="complete",
                    released_by_id=user_id, released_at=released - timedelta(hours=2)))
            units.append(dict(
                serial=f"{plan.prefix}-{yy}-{k + 1:05d}", work_order_id=len(orders) - 1, unit_type_id=plan.id,
                routing_revision_id=plan.revision_id, status="accepted", next_sequence=len(plan.steps) + 1,
                current_execution_id=None, on_hold=False, first_pass=True, acceptance_signature_id=None,
                created_at=released, version=1))
            unit_plan.append((plan, released))
    order_ids = insert_rows(session, WorkOrder, orders, counts, ids=True)
    for u in units:
        u["work_order_id"] = order_ids[u["work_order_id"]]
    unit_ids = insert_rows(session, Unit, units, counts, ids=True)

    # Executions: one passed execution per step, queued a little after the previous one.
    executions: list[dict[str, Any]] = []
    execution_steps: list[tuple[int, StepPlan]] = []  # per execution: unit index, step
    finished: list[datetime] = []  # per unit: when its last step ended
    for i, (plan, released) in enumerate(unit_plan):
        at = released
        for step in plan.steps:
            started = at + timedelta(minutes=rng.randint(10, 720))
            ended = started + timedelta(minutes=step.minutes * rng.uniform(0.9, 1.2))
            executions.append(dict(
                unit_id=unit_ids[i], step_id=step.id, step_code=step.code, station_id=step.station_id,
                machine_id=None, run_id=None, position=None, status="passed", rework=False, started_by_id=user_id,
                started_at=started, ended_at=ended, completed_by_id=user_id, abort_reason=None,
                buyoff_signature_id=None))
            execution_steps.append((i, step))
            at = ended
        finished.append(at)
    execution_ids = insert_rows(session, StepExecution, executions, counts, ids=True)

    events: list[dict[str, Any]] = []
    measurements: list[dict[str, Any]] = []
    demands: dict[int, list[Demand]] = defaultdict(list)  # part id -> its BOM lines to fill
    for execution_id, row, (i, step) in zip(execution_ids, executions, execution_steps, strict=True):
        events.append(dict(execution_id=execution_id, kind="start", user_id=user_id, at=row["started_at"], note=None))
        events.append(dict(execution_id=execution_id, kind="complete", user_id=user_id, at=row["ended_at"],
                           note=None))
        for c in step.characteristics:
            value_text, value = measured_value(c, rng)
            measurements.append(dict(
                execution_id=execution_id, characteristic_id=c["id"], name=c["name"], value_text=value_text,
                value=value, unit=c["unit"], nominal=c["nominal"], lower=c["lower"], upper=c["upper"], passed=True,
                source="manual", recorded_at=row["ended_at"], instrument_id=None, deviation_id=None,
                voided_at=None, void_reason=None, void_signature_id=None, replaces_id=None))
        for bom_item_id, part_id, quantity in step.bom:
            demands[part_id].append(Demand(row["started_at"] + timedelta(minutes=5), unit_ids[i], execution_id,
                                           bom_item_id, step.code, quantity))
    insert_rows(session, StepEvent, events, counts)
    insert_rows(session, Measurement, measurements, counts)

    # Material: lots drawn down in order of use; serialised parts one received item per piece.
    items: list[dict[str, Any]] = []
    item_of: list[int] = []  # per consumption: index into items
    consumptions: list[dict[str, Any]] = []
    receipts = 0
    for part_id in sorted(demands):
        part, wanted = parts[part_id], sorted(demands[part_id], key=lambda d: d.at)
        supplier = f"Supplier {part.part_number.split('-')[0]}"
        if part.tracking == "lot":
            total = sum(d.quantity for d in wanted)
            typical = min(LOT_MAX, max(LOT_MIN, total // rng.randint(2, 5)))
            left = lots = 0
            for d in wanted:
                if left < d.quantity:
                    lots += 1
                    size = min(LOT_MAX, max(LOT_MIN, max(d.quantity, round(typical * rng.uniform(0.8, 1.25), -1))))
                    receipts += 1
                    items.append(dict(
                        receipt=f"RCV-{yy}-{receipts:05d}", part_id=part_id,
                        identifier=f"L{yy}-{part_id:03d}-{lots:02d}",
                        supplier=supplier, coc_reference=f"CoC-{part.part_number}-{len(items):05d}", expiry=None,
                        quantity=size, remaining=size, status="released", received_by_id=user_id,
                        received_at=d.at - timedelta(days=rng.randint(3, 20))))
                    left = size
                left -= d.quantity
                items[-1]["remaining"] = left
                consumptions.append(consumption(d, d.quantity, user_id))
                item_of.append(len(items) - 1)
        else:
            piece = 0
            for d in wanted:
                for _ in range(d.quantity):
                    if piece % SERIALS_PER_RECEIPT == 0:
                        receipts += 1
                        received = d.at - timedelta(days=rng.randint(3, 20))
                    piece += 1
                    items.append(dict(
                        receipt=f"RCV-{yy}-{receipts:05d}", part_id=part_id, identifier=f"SN{part_id:03d}{piece:06d}",
                        supplier=supplier, coc_reference=f"CoC-{part.part_number}-{receipts:05d}", expiry=None,
                        quantity=1, remaining=0, status="released", received_by_id=user_id, received_at=received))
                    consumptions.append(consumption(d, 1, user_id))
                    item_of.append(len(items) - 1)
    item_ids = insert_rows(session, ReceivedItem, items, counts, ids=True)
    for row, index in zip(consumptions, item_of, strict=True):
        row["received_item_id"] = item_ids[index]
    insert_rows(session, Consumption, consumptions, counts)

    # Satellites: each line's units in order of completion fill the satellites in turn; the spares stay free.
    builds = [dict(build=f"CS-{n + 1:03d}", programme="Computing constellation", need_date=YEAR_END.date(),
                   created_by_id=user_id, created_at=YEAR_START) for n in range(satellites)]
    allocations: list[dict[str, Any]] = []
    ready_by: list[datetime] = [YEAR_START] * satellites
    start = 0
    for plan in plans:
        count = math.ceil(satellites * plan.qty_per_satellite * (1 + spares))
        mine = sorted(range(start, start + count), key=lambda i: finished[i])
        start += count
        spare = set(rng.sample(range(count), count - satellites * plan.qty_per_satellite))
        installed = [i for n, i in enumerate(mine) if n not in spare]
        for n, i in enumerate(installed):
            sat, position = divmod(n, plan.qty_per_satellite)
            at = finished[i] + timedelta(days=1)
            ready_by[sat] = max(ready_by[sat], at)
            allocations.append(dict(satellite_id=sat, unit_id=unit_ids[i], unit_type_id=plan.id,
                                    position=position + 1, allocated_by_id=user_id, allocated_at=at))
    for b, ready in zip(builds, ready_by, strict=True):
        b["need_date"] = (ready + timedelta(days=10)).date()
    satellite_ids = insert_rows(session, Satellite, builds, counts, ids=True)
    for a in allocations:
        a["satellite_id"] = satellite_ids[a["satellite_id"]]
    insert_rows(session, Allocation, allocations, counts)

    skipped = sum(p.skipped_bom for p in plans)
    note = f"{skipped} BOM lines naming a unit type (sub-assemblies) not seeded" if skipped else ""
    return counts, note


def consumption(d: Demand, quantity: int, user_id: int) -> dict[str, Any]:
    return dict(unit_id=d.unit_id, execution_id=d.execution_id, bom_item_id=d.bom_item_id, step_code=d.step_code,
                received_item_id=None, component_unit_id=None, quantity=quantity, consumed_by_id=user_id,
                consumed_at=d.at, removed_at=None, removed_by_id=None, removal_reason=None)


# --- measuring -------------------------------------------------------------------------------------------------

def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile in milliseconds."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] * 1000


@dataclass
class Timings:
    walls: list[float] = field(default_factory=list)  # seconds per call
    cpus: list[float] = field(default_factory=list)  # CPU seconds of this process per call
    full_gcs: int = 0  # calls during which Python ran a full (generation 2) garbage collection


def timed(sessions: sessionmaker[Session], call: Callable[[Session], object], repeat: int) -> Timings:
    """Each call in a fresh session, after the warm-ups."""
    out = Timings()
    collections: list[int] = []

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "stop":
            collections.append(info["generation"])

    gc.callbacks.append(on_gc)
    try:
        for n in range(WARMUPS + repeat):
            with sessions() as session:
                collections.clear()
                wall, cpu = time.perf_counter(), time.process_time()
                call(session)
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            if n >= WARMUPS:
                out.walls.append(wall)
                out.cpus.append(cpu)
                out.full_gcs += 2 in collections
    finally:
        gc.callbacks.remove(on_gc)
    return out


def figure(db: str, label: str, t: Timings, target: bool) -> str:
    median, p95 = percentile(t.walls, 50), percentile(t.walls, 95)
    verdict = f"target < {TARGET_MS:g} ms: {'OK' if p95 < TARGET_MS else 'MISSED'}" if target else "(no target)"
    return (f"{db:<10} {label:<72} median {median:6.1f} ms  p95 {p95:6.1f} ms  (cpu median "
            f"{percentile(t.cpus, 50):5.1f} ms, p95 {percentile(t.cpus, 95):5.1f} ms; full GC in {t.full_gcs}/"
            f"{len(t.walls)} calls)  {verdict}")


def count_nodes(trees: dict[int, list[Any]]) -> tuple[int, int]:
    """Component nodes in the trees, and how many of them are units."""
    nodes = units = 0
    stack = [n for children in trees.values() for n in children]
    while stack:
        node = stack.pop()
        nodes += 1
        units += node.kind == "unit"
        stack.extend(node.components)
    return nodes, units


def measure(db: str, engine: Engine, audit: AuditConfig, satellites: int, repeat: int) -> None:
    sessions = make_session_factory(engine, read_only=True, audit=audit)
    build = f"CS-{max(1, satellites // 2):03d}"
    with sessions() as s:
        satellite_id = s.scalars(select(Satellite.id).filter_by(build=build)).one()
        unit_ids = list(s.scalars(select(Allocation.unit_id).where(
            Allocation.satellite_id == satellite_id, Allocation.removed_at.is_(None)).order_by(Allocation.id)))
        uses = func.count(Consumption.id).label("uses")
        identifier, part_number, consumed = s.execute(
            select(ReceivedItem.identifier, Part.part_number, uses)
            .join(Consumption, Consumption.received_item_id == ReceivedItem.id)
            .join(Part, Part.id == ReceivedItem.part_id)
            .where(Consumption.removed_at.is_(None))
            .group_by(ReceivedItem.id, ReceivedItem.identifier, Part.part_number)
            .order_by(uses.desc(), ReceivedItem.id).limit(1)).one()
        nodes, nested = count_nodes(components_of(s, unit_ids))
        found = trace(s, identifier, part_number)
        record = satellite_as_built(s, build)

    times = timed(sessions, lambda session: components_of(session, unit_ids), repeat)
    label = f"satellite genealogy {build} ({len(unit_ids)} units, {nodes} components, {nested} nested units)"
    print(figure(db, label, times, True), flush=True)
    times = timed(sessions, lambda session: satellite_as_built(session, build), repeat)
    executions = sum(len(u.executions) for u in record.units)
    print(figure(db, f"satellite as-built {build} ({len(record.units)} units, {executions} executions)", times,
                 False), flush=True)
    times = timed(sessions, lambda session: trace(session, identifier, part_number), repeat)
    print(figure(db, f"up-trace lot {identifier} of {part_number} ({consumed} uses)", times, True), flush=True)
    print(f"{db:<10} the up-trace reached {len(found.units)} units and {len(found.satellites)} satellites "
          f"({sum(len(s.serials) for s in found.satellites)} of their allocated units carry it)", flush=True)


# --- driver ----------------------------------------------------------------------------------------------------

def bench(url: str, folder: Path, args: argparse.Namespace) -> None:
    db = make_url(url).get_backend_name()
    audit = AuditConfig(secrets.token_bytes(32), folder / "audit-checkpoints.log")
    began = time.perf_counter()
    upgrade(url)
    engine = make_engine(url)
    try:
        sessions = make_session_factory(engine, audit=audit)
        with sessions.begin() as s:
            load_plant(s, load_plant_config(REPO_ROOT / "config"))
        schema = time.perf_counter() - began
        with sessions.begin() as s:
            counts, note = seed(s, args.satellites, random.Random(SEED))
        if db == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text("ANALYZE"))
        seeded = time.perf_counter() - began
        print(f"{db:<10} seeded in {seeded:.1f} s (schema and plant {schema:.1f} s, production rows "
              f"{seeded - schema:.1f} s){'; ' + note if note else ''}", flush=True)
        r = counts.rows
        print(f"{db:<10} rows: units {r['units']}, executions {r['step_executions']}, events {r['step_events']}, "
              f"measurements {r['measurements']}, consumptions {r['consumptions']}, received items "
              f"{r['received_items']}, satellites {r['satellites']} ({r['allocations']} allocations), "
              f"work orders {r['work_orders']}", flush=True)
        measure(db, engine, audit, args.satellites, args.repeat)
    finally:
        engine.dispose()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--database-url", default=None,
                        help="postgresql+psycopg:// server URL (a scratch database is made there), or a new "
                             "sqlite:/// file (default: SQLite in a temporary folder)")
    parser.add_argument("--satellites", type=int, default=200, help="satellites of production to seed (default 200)")
    parser.add_argument("--repeat", type=int, default=20, help="timed calls per figure, after 2 warm-ups (default 20)")
    args = parser.parse_args(argv)
    if args.satellites < 2 or args.repeat < 1:
        parser.error("give at least 2 satellites and 1 repetition")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    print(f"genealogy and trace at a year's scale: {args.satellites} satellites; {args.repeat} timed calls after "
          f"{WARMUPS} warm-ups, each in a fresh read-only session; {os.cpu_count()} CPUs", flush=True)
    with tempfile.TemporaryDirectory(prefix="mes-bench-trace-") as folder:
        try:
            with scratch_database(args.database_url, Path(folder)) as url:
                bench(url, Path(folder), args)
        except Unavailable as exc:
            print(f"postgresql skipped: the server is unreachable ({exc})", flush=True)


if __name__ == "__main__":
    main()
