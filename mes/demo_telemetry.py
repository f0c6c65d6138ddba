"""The demo's machine telemetry history, made to agree with the seeded step history.

After `mes.demo_history` has walked the units through their routings, this writes what the adapters would
have stored had every machine been connected all along, in the tables and with the meaning `mes.telemetry`
gives them (bulk Core inserts, like a data import: the per-batch derivation would take far longer):

- machine_states: Execute while a step execution ran on the machine (its start, resume or hand-over to its
  pause, completion or abort; a machine run's executions share the run's span), Idle between; now and then a
  Stopped spell in idle time and a short Held stop inside a long run, in the machine's own state vocabulary (a
  machine with only a running flag knows Execute and Idle). The last interval is open: Execute if a step is
  still running there, else Idle, which is where the live simulator starts.
- production_counts: on machines with counters, one good part per unit whose execution there passed and one
  reject per failed execution, at the execution's end, so machine counts agree with the MES's own records.
- tag_rollups and samples: each numeric process value read once a minute (what the simulator sends at real
  time), following the simulator's profile for the machine kind and unit (chamber temperatures cycle and
  pressures pump down during Execute, speeds and energised values are on only then, the rest wander around a
  nominal): hourly rollups over the whole window, minute rollups for the last `MINUTE_DAYS`, raw samples for
  the last `RAW_HOURS`, each rollup exactly what its samples imply.
- counter_states stay empty, so the first live counter value is a baseline, not a burst of parts.
"""
from __future__ import annotations

import logging
import math
import random
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from line_adapters.sim_machines import ATMOSPHERE_PA, DEFAULT_CYCLE_S, ProcessModel
from mes import telemetry
from mes.models import Machine, MachineState, ProductionCount, Sample, StepEvent, StepExecution, Tag, TagRollup
from mes.plant_config.schema import NUMERIC_TYPES, PACKML_STATES, TagConfig

log = logging.getLogger(__name__)

MINUTE_DAYS = 3  # minute rollups this far back (retention would keep 90 days; the demo seeds fewer rows)
RAW_HOURS = 24  # raw samples this far back, so a recent range reads raw values as it will live
OPENING = {"start", "resume", "handover"}
CLOSING = {"pause", "complete", "abort"}
IDLE_STOPS_PER_HOUR = 1 / 250  # Stopped spells (faults, maintenance) in idle time, about one in ten days
STOP_MINUTES = (20, 240)
HOLDS_PER_HOUR = 1 / 60  # short stops (Held) inside runs of an hour or more
HOLD_MINUTES = (3, 25)
CHUNK = 20_000  # rows per INSERT batch
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class TelemetryReport:
    """What was written."""

    machines: int = 0
    states: int = 0
    counts: int = 0
    parts: int = 0
    tags: int = 0
    hourly: int = 0
    minute: int = 0
    samples: int = 0

    def summary(self) -> str:
        return (f"{self.states} machine state intervals on {self.machines} machines, {self.counts} counter"
                f" increments ({self.parts} parts), {self.tags} process values: {self.hourly} hourly and"
                f" {self.minute} minute rollups, {self.samples} raw samples")


@dataclass
class MachineInfo:
    id: int
    code: str
    kind: str
    ideal_cycle_s: int | None
    positions: int
    states: frozenset[str]  # the states its tags can report; empty: none (no state or running tag)
    good_tag: int | None = None
    reject_tag: int | None = None
    values: list[Tag] = field(default_factory=list)
    runs: list[tuple[datetime, datetime]] = field(default_factory=list)  # merged execution spans
    running_at_end: bool = False


def has_telemetry(session: Session) -> bool:
    """True once any machine state or sample is stored: the demo never writes over collected telemetry."""
    return (session.scalar(select(MachineState.id).limit(1)) is not None
            or session.scalar(select(Sample.tag_id).limit(1)) is not None)


def seed_telemetry(sessions: sessionmaker[Session], start: datetime, end: datetime, seed: int = 1
                   ) -> TelemetryReport:
    """Write the telemetry of `start` to `end` implied by the step history; same seed, same telemetry."""
    with sessions() as session:
        machines = _machines(session)
        _spans(session, machines, start, end)
        counts = _counts(session, machines)
    clock = MinuteClock(start, end)
    with sessions.begin() as session:
        out = Writer(session)
        out.add(ProductionCount, counts)
        for machine in machines.values():
            if machine.states:
                rng = random.Random(f"{seed}:telemetry:{machine.code}")
                out.machines += 1
                out.add(MachineState, [{"machine_id": machine.id, "state": s, "started_at": a, "ended_at": b}
                                       for s, a, b in timeline(machine, start, end, rng)])
            active = clock.activity(machine.runs)
            for tag in machine.values:
                rng_values = np.random.default_rng(zlib.crc32(f"{seed}:{machine.code}:{tag.name}".encode()))
                values = process_values(machine, tag, clock, active, rng_values)
                if values is None:
                    continue
                out.tags += 1
                out.add(TagRollup, clock.hourly(tag.id, values))
                out.add(TagRollup, clock.minutes(tag.id, values, timedelta(days=MINUTE_DAYS)))
                raw = clock.samples(tag.id, values, timedelta(hours=RAW_HOURS), rng_values)
                telemetry.ensure_partitions(session, (r["source_time"] for r in raw))
                out.add(Sample, raw)
        out.flush()
    return out.report(sum(c["delta"] for c in counts))


class Writer:
    """Bulk inserts in batches of `CHUNK` rows, counting what went where."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.pending: dict[Any, list[dict[str, Any]]] = defaultdict(list)
        self.written: dict[str, int] = defaultdict(int)
        self.machines = self.tags = 0

    def add(self, model: Any, rows: list[dict[str, Any]]) -> None:
        if model is TagRollup and rows:
            self.written[rows[0]["resolution"]] += len(rows)
        self.written[model.__tablename__] += len(rows)
        batch = self.pending[model]
        batch += rows
        if len(batch) >= CHUNK:
            self._insert(model)

    def _insert(self, model: Any) -> None:
        rows, self.pending[model] = self.pending[model], []
        if rows:
            self.session.execute(telemetry.dialect_insert(self.session, model), rows)

    def flush(self) -> None:
        for model in list(self.pending):
            self._insert(model)

    def report(self, parts: int) -> TelemetryReport:
        w = self.written
        return TelemetryReport(self.machines, w["machine_states"], w["production_counts"], parts, self.tags,
                               w["hour"], w["minute"], w["samples"])


# --- what the machines are and when they ran --------------------------------------------------------------

def _machines(session: Session) -> dict[int, MachineInfo]:
    machines: dict[int, MachineInfo] = {}
    state_maps: dict[int, dict[str, str]] = {}
    for m in session.scalars(select(Machine).where(Machine.active.is_(True)).order_by(Machine.id)):
        machines[m.id] = MachineInfo(m.id, m.code, m.kind, m.ideal_cycle_s, m.positions, frozenset())
        state_maps[m.id] = m.state_map or {}
    tags = session.scalars(select(Tag).where(Tag.active.is_(True), Tag.machine_id.in_(machines))
                           .order_by(Tag.machine_id, Tag.name)).all()
    for tag in tags:
        machine = machines[tag.machine_id]
        if tag.meaning == "state":
            machine.states = frozenset(state_maps[machine.id].values()) or frozenset(PACKML_STATES)
        elif tag.meaning == "running" and not machine.states:
            machine.states = frozenset({"Execute", "Idle"})  # what mes.telemetry reads from a running flag
        elif tag.meaning == "good_count":
            machine.good_tag = tag.id
        elif tag.meaning == "reject_count":
            machine.reject_tag = tag.id
        elif tag.meaning == "process_value" and tag.data_type in NUMERIC_TYPES:
            machine.values.append(tag)
    return machines


def _spans(session: Session, machines: dict[int, MachineInfo], start: datetime, end: datetime) -> None:
    """Each machine's busy spans: from a step's start (or resumption) to its pause, completion or abort."""
    events = session.execute(
        select(StepExecution.machine_id, StepEvent.execution_id, StepEvent.kind, StepEvent.at)
        .join(StepExecution, StepExecution.id == StepEvent.execution_id)
        .where(StepExecution.machine_id.is_not(None))
        .order_by(StepEvent.execution_id, StepEvent.at, StepEvent.id)).all()
    spans: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    execution, opened = None, None
    for machine_id, execution_id, kind, at in events:
        if execution_id != execution:
            if opened is not None:  # the previous execution was still running at the end
                spans[opened[0]].append((opened[1], end))
            execution, opened = execution_id, None
        if kind in OPENING and opened is None:
            opened = (machine_id, at)
        elif kind in CLOSING and opened is not None:
            spans[machine_id].append((opened[1], at))
            opened = None
    if opened is not None:
        spans[opened[0]].append((opened[1], end))
    for machine_id, found in spans.items():
        machine = machines.get(machine_id)
        if machine is None:
            continue
        merged: list[tuple[datetime, datetime]] = []
        for a, b in sorted((max(a, start), min(b, end)) for a, b in found):
            if b <= a:
                continue
            if merged and a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
            else:
                merged.append((a, b))
        machine.runs = merged
        machine.running_at_end = bool(merged) and merged[-1][1] >= end


def _counts(session: Session, machines: dict[int, MachineInfo]) -> list[dict[str, Any]]:
    """One good part per passed execution and one reject per failed one, at its end, on counting machines."""
    counting = [m.id for m in machines.values() if m.good_tag or m.reject_tag]
    rows = session.execute(select(StepExecution.machine_id, StepExecution.ended_at, StepExecution.status)
                           .where(StepExecution.machine_id.in_(counting), StepExecution.ended_at.is_not(None),
                                  StepExecution.status.in_(("passed", "failed")))).all()
    deltas: dict[tuple[int, datetime], list[Any]] = {}
    for machine_id, at, status in rows:
        machine = machines[machine_id]
        tag = machine.good_tag if status == "passed" else machine.reject_tag
        if tag is None:
            continue
        row = deltas.setdefault((tag, at), [machine_id, "good" if status == "passed" else "reject", 0])
        row[2] += 1
    return [{"tag_id": tag, "at": at, "machine_id": m, "kind": kind, "delta": n}
            for (tag, at), (m, kind, n) in sorted(deltas.items(), key=lambda item: (item[0][1], item[0][0]))]


# --- machine states ----------------------------------------------------------------------------------------

def timeline(machine: MachineInfo, start: datetime, end: datetime, rng: random.Random
             ) -> list[tuple[str, datetime, datetime | None]]:
    """The machine's state intervals from `start`, the last one open (ended_at None)."""
    idle = "Idle" if "Idle" in machine.states else "Stopped"
    stop = "Stopped" if "Stopped" in machine.states and idle != "Stopped" else None
    hold = "Held" if "Held" in machine.states else ("Idle" if machine.states == {"Execute", "Idle"} else None)
    out: list[tuple[str, datetime, datetime]] = []

    def add(state: str, a: datetime, b: datetime) -> None:
        if b <= a:
            return
        if out and out[-1][0] == state and out[-1][2] == a:
            out[-1] = (state, out[-1][1], b)
        else:
            out.append((state, a, b))

    def idle_gap(a: datetime, b: datetime) -> None:
        hours = (b - a) / timedelta(hours=1)
        if stop and hours > 2 and rng.random() < min(0.8, hours * IDLE_STOPS_PER_HOUR):
            length = timedelta(minutes=rng.uniform(*STOP_MINUTES))
            if length < (b - a) - timedelta(minutes=20):
                at = a + timedelta(minutes=10) + (b - a - length - timedelta(minutes=20)) * rng.random()
                at = at.replace(microsecond=0)
                add(idle, a, at)
                add(stop, at, at + length)
                add(idle, at + length, b)
                return
        add(idle, a, b)

    def run(a: datetime, b: datetime) -> None:
        hours = (b - a) / timedelta(hours=1)
        if hold and hours >= 1 and rng.random() < min(0.5, hours * HOLDS_PER_HOUR):
            length = timedelta(minutes=rng.uniform(*HOLD_MINUTES))
            at = (a + (b - a) * rng.uniform(0.2, 0.8)).replace(microsecond=0)
            if at + length < b:
                add("Execute", a, at)
                add(hold, at, at + length)
                add("Execute", at + length, b)
                return
        add("Execute", a, b)

    t = start
    for a, b in machine.runs:
        idle_gap(t, a)
        run(a, b)
        t = b
    if t < end:
        idle_gap(t, end)
    if not out:
        return [(idle, start, None)]
    *done, (state, a, _) = out
    if machine.running_at_end and state != "Execute":  # a short stop at the very end: running again
        done.append((state, a, end))
        state, a = "Execute", end
    return [*done, (state, a, None)]


# --- process values ----------------------------------------------------------------------------------------

class MinuteClock:
    """The window as whole minutes (one reading each) and the hours they fall in."""

    def __init__(self, start: datetime, end: datetime) -> None:
        self.t0 = start.astimezone(UTC).replace(second=0, microsecond=0)
        self.n = max(0, int((end - self.t0) // timedelta(minutes=1)))  # every reading lies before `end`
        self.epoch_min = int((self.t0 - EPOCH) // timedelta(minutes=1))
        hours = (self.epoch_min + np.arange(self.n)) // 60
        self.hour_starts = np.flatnonzero(np.diff(hours, prepend=hours[0] - 1)) if self.n else np.zeros(0, int)
        self.hour_buckets = [EPOCH + timedelta(hours=int(h)) for h in hours[self.hour_starts]]
        self._times: list[datetime] = []

    def index(self, at: datetime) -> int:
        return min(self.n, max(0, math.ceil((at - self.t0) / timedelta(minutes=1))))

    def time(self, i: int) -> datetime:
        return self.t0 + timedelta(minutes=i)

    def activity(self, spans: list[tuple[datetime, datetime]]) -> Activity:
        """Which minutes fall in a busy span, how far into it, how long it is and which it is."""
        start_mark = np.full(self.n, -1)
        length_at = np.zeros(self.n)
        number_at = np.zeros(self.n, dtype=np.int64)
        edges = np.zeros(self.n + 1, dtype=np.int64)
        for k, (a, b) in enumerate(spans):
            ia, ib = self.index(a), self.index(b)
            if ib <= ia:
                continue
            edges[ia] += 1
            edges[ib] -= 1
            start_mark[ia], length_at[ia], number_at[ia] = ia, ib - ia, k
        active = np.cumsum(edges[:-1]) > 0
        last = np.maximum.accumulate(start_mark) if self.n else start_mark
        known = last >= 0
        safe = np.where(known, last, 0)
        elapsed = np.where(known, np.arange(self.n) - safe, 0).astype(float)
        return Activity(active, elapsed, np.where(known, length_at[safe], 0.0), np.where(known, number_at[safe], 0),
                        known)

    def hourly(self, tag_id: int, values: np.ndarray) -> list[dict[str, Any]]:
        if not self.n:
            return []
        starts = self.hour_starts
        counts = np.diff(np.append(starts, self.n))
        low, high = np.minimum.reduceat(values, starts), np.maximum.reduceat(values, starts)
        total = np.add.reduceat(values, starts)
        return [{"tag_id": tag_id, "resolution": "hour", "bucket": bucket, "count": int(c), "minimum": float(lo),
                 "maximum": float(hi), "total": float(s)}
                for bucket, c, lo, hi, s in zip(self.hour_buckets, counts, low, high, total, strict=True)]

    def minutes(self, tag_id: int, values: np.ndarray, back: timedelta) -> list[dict[str, Any]]:
        first = max(0, self.n - int(back // timedelta(minutes=1)))
        return [{"tag_id": tag_id, "resolution": "minute", "bucket": self.time(i), "count": 1, "minimum": v,
                 "maximum": v, "total": v} for i, v in enumerate(values[first:].tolist(), start=first)]

    def samples(self, tag_id: int, values: np.ndarray, back: timedelta, rng: np.random.Generator
                ) -> list[dict[str, Any]]:
        first = max(0, self.n - int(back // timedelta(minutes=1)))
        offset = timedelta(seconds=int(rng.integers(0, 60)))  # a tag is read at its own second of the minute
        rows = []
        for i, v in enumerate(values[first:].tolist(), start=first):
            at = self.time(i) + offset
            rows.append({"tag_id": tag_id, "source_time": at, "value": v, "text": None, "status": telemetry.GOOD,
                         "received_at": at, "backfilled": False})
        return rows


@dataclass(frozen=True)
class Activity:
    active: np.ndarray  # bool per minute: a step ran on the machine
    elapsed: np.ndarray  # minutes since the latest span began
    length: np.ndarray  # minutes of the latest span
    number: np.ndarray  # which span (for values that change from run to run)
    begun: np.ndarray  # bool: some span has begun by this minute


def _config(tag: Tag) -> TagConfig:
    def dec(text: str | None) -> Decimal | None:
        return Decimal(text) if text is not None else None

    return TagConfig(name=tag.name, node=tag.node_id, meaning="process_value", data_type=tag.data_type,
                     unit=tag.eng_unit, scale=Decimal(tag.scale), offset=Decimal(tag.offset),
                     low=dec(tag.low_limit), high=dec(tag.high_limit))


def process_values(machine: MachineInfo, tag: Tag, clock: MinuteClock, activity: Activity,
                   rng: np.random.Generator) -> np.ndarray | None:
    """A reading a minute following the simulator's profile for this machine kind and unit (at real time)."""
    if not clock.n:
        return None
    try:
        config = _config(tag)
    except ValueError:  # a tag the configuration schema would not accept: no history for it
        log.warning("demo telemetry: %s.%s not seeded (unexpected configuration)", machine.code, tag.name)
        return None
    cycle_min = (machine.ideal_cycle_s or DEFAULT_CYCLE_S) / 60  # the simulator's cycle at real time
    model = ProcessModel(config, machine.kind, cycle_min * 60, random.Random(0))
    on, n = activity.active, clock.n
    span, nominal = model.span, model.nominal
    if model.profile == "ramp":  # hot and cold plateaus while running, ambient otherwise
        hot, cold = model.high - 0.08 * span, model.low + 0.08 * span
        wave = np.clip(1.6 * np.sin(2 * np.pi * activity.elapsed / max(0.45 * cycle_min, 20.0)), -1, 1)
        values = np.where(on, (hot + cold) / 2 + (hot - cold) / 2 * wave, model.ambient)
        values += rng.normal(0, 0.002 * span, n)
    elif model.profile == "pumpdown":  # pumped down while running, vented otherwise
        tau = max(0.08 * cycle_min, 5.0)
        log_p = model.base_log + (math.log10(ATMOSPHERE_PA) - model.base_log) * np.exp(-activity.elapsed / tau)
        log_p = np.where(on, log_p, math.log10(ATMOSPHERE_PA)) + rng.normal(0, 0.01, n)
        values = 10 ** log_p
    elif model.profile == "spin":  # at speed while running (bidirectional: a new set point every while)
        if model.low is not None and model.low < 0:
            levels = rng.choice(model.targets, size=997)
            step = np.floor(activity.elapsed / max(0.15 * cycle_min, 1.0)).astype(np.int64)
            target = levels[(activity.number * 31 + step) % levels.size]
        else:
            target = np.full(n, nominal)
        values = np.where(on, target, 0.0)
        values += rng.normal(0, 1, n) * (0.002 * np.abs(values) + 0.0005 * span)
    elif model.profile == "energised":  # on only while running
        values = np.where(on, nominal + rng.normal(0, 0.02 * span, n), rng.normal(0, 0.001 * span, n))
    elif model.profile == "progress":  # counts up through each run, holds afterwards
        full = (model.high if model.high is not None else nominal) * 0.98
        done = np.where(activity.length > 0, activity.elapsed / np.maximum(activity.length, 1), 0.0)
        values = np.where(on, done * full, np.where(activity.begun, full, 0.0))
    else:  # steady: a nominal with slow drift and reading noise
        walk = np.cumsum(rng.normal(0, 0.01 * span, n))
        drift = walk - _moving_mean(walk, 240)
        values = nominal + drift + rng.normal(0, 0.1 * span, n)
    if model.nonneg:
        values = np.abs(values)
    if tag.data_type in NUMERIC_TYPES - {"Float", "Double"}:
        values = np.round(values)
    return values.astype(float)


def _moving_mean(x: np.ndarray, width: int) -> np.ndarray:
    """The trailing mean over `width` readings (keeps the drift around the nominal)."""
    c = np.cumsum(np.insert(x, 0, 0.0))
    i = np.arange(1, x.size + 1)
    lo = np.maximum(0, i - width)
    return (c[i] - c[lo]) / (i - lo)

