"""Storing machine telemetry: one transaction per batch, idempotent, with states and counts derived.

The adapters hand over `Reading`s; `store` inserts the samples with ON CONFLICT DO NOTHING and
derives machine states and production counts from the rows that were new, so a replayed batch adds
nothing anywhere; the minutes it touched are marked for `mes.telemetry_rollups.roll_up`. Nothing
here runs inside an OPC UA callback.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from mes import telemetry_sql
from mes.models import CounterState, Machine, MachineState, ProductionCount, RollupPending, Sample, Tag

log = logging.getLogger(__name__)
GOOD = 0  # OPC UA StatusCode Good; the top two bits say Good (00), Uncertain (01) or Bad (10)
COUNTER_MODULUS = 2**32  # PLC counters are 32-bit unsigned
COUNTS = {"good_count": "good", "reject_count": "reject"}
STATE_MEANINGS = ("state", "running")
DERIVED = frozenset(STATE_MEANINGS) | frozenset(COUNTS)  # tags whose new values make states and counts


def is_good(status: int) -> bool:
    return (status >> 30) == 0


@dataclass(frozen=True, slots=True)
class Reading:
    """A value as received: engineering value (or text), the PLC's status and source time."""

    tag_id: int
    source_time: datetime
    value: float | None
    text: str | None
    status: int
    received_at: datetime
    backfilled: bool = False


@dataclass(frozen=True)
class TagInfo:
    """What the store needs to know of a tag to derive states and counts."""

    id: int
    machine_id: int
    name: str
    meaning: str
    state_map: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Stored:
    offered: int
    inserted: int


def load_tags(session: Session, machine_ids: list[int] | None = None) -> dict[int, TagInfo]:
    """The active tags (of the given machines), keyed by id."""
    query = select(Tag, Machine.state_map).join(Machine).where(Tag.active.is_(True))
    if machine_ids is not None:
        query = query.where(Tag.machine_id.in_(machine_ids))
    return {t.id: TagInfo(t.id, t.machine_id, t.name, t.meaning, state_map or {})
            for t, state_map in session.execute(query)}


def dialect_insert(session: Session, model: Any) -> Any:
    """A Core INSERT of the model's table in the session's dialect (for ON CONFLICT); no ORM overhead."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(model.__table__)


_partitions: set[tuple[str, date]] = set()


def ensure_partitions(session: Session, times: Iterable[datetime]) -> None:
    """On PostgreSQL, make sure a daily partition of `samples` exists for the day of each time."""
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        return
    days = {t.astimezone(UTC).date() for t in times}
    key = str(bind.engine.url)
    for day in sorted(days - {d for k, d in _partitions if k == key}):
        start, end = day.isoformat(), (day + timedelta(days=1)).isoformat()
        with session.begin_nested():
            session.execute(text(f"CREATE TABLE IF NOT EXISTS samples_{day:%Y%m%d} PARTITION OF samples "
                                 f"FOR VALUES FROM ('{start} 00:00+00') TO ('{end} 00:00+00')"))
        _partitions.add((key, day))


def forget_partition(session: Session, day: date) -> None:
    """Retention dropped a day's partition; a late sample for that day must create it again."""
    _partitions.discard((str(session.get_bind().engine.url), day))


def store(session: Session, readings: list[Reading], tags: dict[int, TagInfo]) -> Stored:
    """Write a batch of readings and what they imply; readings already stored are skipped, not counted twice."""
    if not readings:
        return Stored(0, 0)
    ensure_partitions(session, (r.source_time for r in readings))
    rows = [(r.tag_id, r.source_time, r.value if is_good(r.status) else None, r.text, r.status, r.received_at,
             r.backfilled) for r in readings]
    derived = [t.id for t in tags.values() if t.meaning in DERIVED]
    try:
        if session.get_bind().dialect.name == "postgresql":
            inserted, new = telemetry_sql.store_postgresql(session, rows, derived)
        else:
            inserted, new = telemetry_sql.store_sqlite(session, rows, derived)
    except ValueError:  # a NaN or infinity, which JSON cannot carry: the portable path takes the batch
        return _store_portable(session, rows, tags)
    if new:
        _derive_states(session, new, tags)
        _derive_counts(session, new, tags)
    return Stored(len(readings), inserted)


def _store_portable(session: Session, rows: list[tuple[Any, ...]], tags: dict[int, TagInfo]) -> Stored:
    """The same through SQLAlchemy Core, row by row in Python; slower, but it takes any float."""
    names = ("tag_id", "source_time", "value", "text", "status", "received_at", "backfilled")
    rows = [dict(zip(names, r, strict=True)) for r in rows]  # type: ignore[misc]
    statement = (dialect_insert(session, Sample).on_conflict_do_nothing(index_elements=["tag_id", "source_time"])
                 .returning(Sample.__table__.c.tag_id, Sample.__table__.c.source_time, Sample.__table__.c.value,
                            Sample.__table__.c.status))
    new = session.execute(statement, rows).all()
    if new:
        _derive_states(session, new, tags)
        _derive_counts(session, new, tags)
        _mark_pending(session, {r.source_time.astimezone(UTC).replace(second=0, microsecond=0)
                                for r in new if r.value is not None})
    return Stored(len(rows), len(new))


def _mark_pending(session: Session, minutes: set[datetime]) -> None:
    """Note the minutes whose rollups must be recomputed (mes.telemetry_rollups), as the fast paths do in SQL."""
    if minutes:
        statement = dialect_insert(session, RollupPending)
        session.execute(statement.on_conflict_do_update(index_elements=["bucket"],
                                                        set_={"bucket": statement.excluded.bucket}),
                        [{"bucket": m} for m in sorted(minutes)])


def _state_of(tag: TagInfo, value: float) -> str:
    if tag.meaning == "running":
        return "Execute" if value else "Idle"
    return tag.state_map.get(str(int(value)), "Undefined")


def _derive_states(session: Session, new: list[Any], tags: dict[int, TagInfo]) -> None:
    changes: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    for row in new:
        tag = tags.get(row.tag_id)
        if tag is not None and tag.meaning in STATE_MEANINGS and row.value is not None and is_good(row.status):
            changes[tag.machine_id].append((row.source_time, _state_of(tag, row.value)))
    if not changes:
        return
    current = {s.machine_id: s for s in session.scalars(select(MachineState).where(
        MachineState.machine_id.in_(changes), MachineState.ended_at.is_(None)))}
    for machine_id, seen in changes.items():
        open_interval = current.get(machine_id)
        for at, state in sorted(seen):
            if open_interval is not None and at <= open_interval.started_at:
                continue  # older than what we know; a backfill does not rewrite the state history
            if open_interval is not None and open_interval.state == state:
                continue
            if open_interval is not None:
                open_interval.ended_at = at
            open_interval = MachineState(machine_id=machine_id, state=state, started_at=at)
            session.add(open_interval)
    session.flush()


def counter_delta(previous: int, raw: int) -> int:
    """Parts counted between two raw counter values: a wrap past 2**32 continues, a restart from 0 counts from 0."""
    if raw >= previous:
        return raw - previous
    if previous - raw > COUNTER_MODULUS // 2:
        return raw + COUNTER_MODULUS - previous  # wrapped around
    return raw  # the PLC restarted and counts again from zero


def _derive_counts(session: Session, new: list[Any], tags: dict[int, TagInfo]) -> None:
    seen: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
    for row in new:
        tag = tags.get(row.tag_id)
        if tag is not None and tag.meaning in COUNTS and row.value is not None and is_good(row.status):
            seen[tag.id].append((row.source_time, int(row.value)))
    if not seen:
        return
    states = {c.tag_id: c for c in session.scalars(select(CounterState).where(CounterState.tag_id.in_(seen)))}
    counts = []
    for tag_id, values in seen.items():
        tag, last = tags[tag_id], states.get(tag_id)
        for at, raw in sorted(values):
            if last is None:
                last = CounterState(tag_id=tag_id, raw=raw, at=at)  # the first value is a baseline, not parts
                session.add(last)
                continue
            if at <= last.at:
                continue
            if delta := counter_delta(last.raw, raw):
                counts.append({"tag_id": tag_id, "at": at, "machine_id": tag.machine_id,
                               "kind": COUNTS[tag.meaning], "delta": delta})
            last.raw, last.at = raw, at
    if counts:
        session.execute(dialect_insert(session, ProductionCount).on_conflict_do_nothing(), counts)
    session.flush()
