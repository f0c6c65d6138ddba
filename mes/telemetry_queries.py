"""Reading telemetry back: downsampled series (in the database) and a unit's process record per step."""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Integer, and_, cast, func, literal, select, union_all
from sqlalchemy.orm import Session

from mes.errors import Invalid, NotFound
from mes.models import Machine, ProcessSample, ProductionCount, Sample, StepExecution, Tag, TagRollup, Unit, utcnow

RAW_DAYS = 30  # raw samples are kept this long (mes.telemetry_retention)
MINUTE_DAYS = 90


@dataclass(frozen=True)
class Point:
    t: datetime  # start of the bucket
    minimum: float
    maximum: float
    mean: float
    count: int


@dataclass(frozen=True)
class Series:
    machine: str
    tag: str
    unit: str | None
    source: str  # raw | minute | hour
    bucket_s: int
    points: list[Point]


def _epoch(session: Session, column: object) -> object:
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", column)
    return cast(func.strftime("%s", column), Integer)  # SQLite keeps naive UTC text


def find_tag(session: Session, machine_code: str, tag_name: str) -> tuple[Machine, Tag]:
    machine = session.scalars(select(Machine).filter_by(code=machine_code)).one_or_none()
    if machine is None:
        raise NotFound(f"no machine {machine_code!r}", "machine")
    tag = session.scalars(select(Tag).filter_by(machine_id=machine.id, name=tag_name)).one_or_none()
    if tag is None:
        names = ", ".join(t.name for t in machine.tags)
        raise NotFound(f"{machine_code} has no tag {tag_name!r} (it has {names})", "tag")
    return machine, tag


def _source(start: datetime, width_s: int, now: datetime) -> tuple[str, int]:
    """The coarsest store that still resolves buckets of `width_s`: hourly, minute rollups, or raw samples."""
    if width_s >= 3600 or start < now - timedelta(days=MINUTE_DAYS):
        return "hour", 3600
    if width_s >= 300 or start < now - timedelta(days=RAW_DAYS):
        return "minute", 60
    return "raw", 1


def series(session: Session, machine_code: str, tag_name: str, start: datetime, end: datetime, points: int,
           now: datetime | None = None) -> Series:
    """A tag's values between `start` and `end` as at most `points` buckets (min, max, mean, count).

    Fine buckets over recent ranges read raw samples; wider buckets, or ranges past the raw window,
    read the minute or hour rollups, so a year's trend never scans a year of samples.
    """
    if end <= start:
        raise Invalid("`to` must be after `from`", "to")
    machine, tag = find_tag(session, machine_code, tag_name)
    now = now or utcnow()
    source, floor_s = _source(start, math.ceil((end - start).total_seconds() / points), now)
    width = max(floor_s, math.ceil((end - start).total_seconds() / points))
    width -= width % floor_s  # whole minutes or hours, so rollup buckets fall wholly inside one point
    start_epoch = int(start.timestamp()) // floor_s * floor_s
    if source == "raw":
        t, lo, hi, total, n = (Sample.source_time, Sample.value, Sample.value, Sample.value, literal(1))
        table_filter = and_(Sample.tag_id == tag.id, Sample.source_time >= start, Sample.source_time < end,
                            Sample.value.is_not(None))
    else:
        t, lo, hi, total, n = (TagRollup.bucket, TagRollup.minimum, TagRollup.maximum, TagRollup.total,
                               TagRollup.count)
        table_filter = and_(TagRollup.tag_id == tag.id, TagRollup.resolution == source, TagRollup.bucket >= start,
                            TagRollup.bucket < end)
    bucket = func.floor((_epoch(session, t) - start_epoch) / width).label("bucket")
    rows = session.execute(select(bucket, func.min(lo), func.max(hi), func.sum(total), func.sum(n))
                           .where(table_filter).group_by(bucket).order_by(bucket)).all()
    return Series(machine.code, tag.name, tag.eng_unit, source, width, [
        Point(datetime.fromtimestamp(start_epoch + int(b) * width, UTC), float(mn), float(mx), float(s) / int(c),
              int(c)) for b, mn, mx, s, c in rows])


@dataclass(frozen=True)
class ProcessValue:
    tag: str
    unit: str | None
    t: datetime
    value: float | None
    text: str | None
    status: int


def process_record(session: Session, serial: str, step_code: str) -> tuple[StepExecution, list[ProcessValue]]:
    """What the machine recorded while the unit's latest execution of `step_code` ran on it."""
    execution = session.scalars(select(StepExecution).join(Unit, Unit.id == StepExecution.unit_id).where(
        Unit.serial == serial, StepExecution.step_code == step_code).order_by(StepExecution.id.desc())).first()
    if execution is None:
        raise NotFound(f"{serial} has not run step {step_code}", "step")
    if execution.machine_id is None:
        return execution, []
    until = execution.ended_at or utcnow()
    raw = (select(Sample.tag_id, Sample.source_time, Sample.value, Sample.text, Sample.status)
           .join(Tag, Tag.id == Sample.tag_id)
           .where(Tag.machine_id == execution.machine_id, Sample.source_time >= execution.started_at,
                  Sample.source_time <= until))
    kept = (select(ProcessSample.tag_id, ProcessSample.source_time, ProcessSample.value, ProcessSample.text,
                   ProcessSample.status).where(ProcessSample.execution_id == execution.id))
    rows = union_all(raw, kept).subquery()
    tags = {t.id: t for t in session.scalars(select(Tag).filter_by(machine_id=execution.machine_id))}
    values = session.execute(select(rows).order_by(rows.c.source_time, rows.c.tag_id)).all()
    return execution, [ProcessValue(tags[r.tag_id].name, tags[r.tag_id].eng_unit, r.source_time, r.value, r.text,
                                    r.status) for r in values if r.tag_id in tags]




@dataclass(frozen=True)
class Output:
    good: int
    reject: int
    source: str  # "counters": the PLC's own; "steps": the MES's step records on the machine


def machine_output(session: Session, machine_code: str, start: datetime, end: datetime) -> Output:
    """Parts a machine made in [start, end): from its counters, or, where it has none, from the MES's steps."""
    machine = session.scalars(select(Machine).filter_by(code=machine_code)).one_or_none()
    if machine is None:
        raise NotFound(f"no machine {machine_code!r}", "machine")
    if any(t.meaning in ("good_count", "reject_count") and t.active for t in machine.tags):
        rows = dict(session.execute(
            select(ProductionCount.kind, func.sum(ProductionCount.delta))
            .where(ProductionCount.machine_id == machine.id, ProductionCount.at >= start, ProductionCount.at < end)
            .group_by(ProductionCount.kind)).all())
        return Output(int(rows.get("good") or 0), int(rows.get("reject") or 0), "counters")
    rows = dict(session.execute(
        select(StepExecution.status, func.count())
        .where(StepExecution.machine_id == machine.id, StepExecution.ended_at >= start, StepExecution.ended_at < end,
               StepExecution.status.in_(("passed", "failed")))
        .group_by(StepExecution.status)).all())
    return Output(int(rows.get("passed") or 0), int(rows.get("failed") or 0), "steps")
