"""SQL for the machine page and the unit traveler: tag trends and step traces bucketed in the database, the
step executions a machine ran, its telemetry gaps and its endpoint's health.

Trends pick their store by how many rows a span costs, not by bucket width (as `mes.telemetry_queries.series`
does): a week of a 1 Hz tag is 600,000 raw rows but 10,080 minute rollups, and a page must answer in 300 ms.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Integer, and_, cast, func, literal, or_, select, true, union_all
from sqlalchemy.orm import Session

from dashboards.queries import frame
from mes.errors import NotFound
from mes.models import (
    EndpointHealth,
    Line,
    Machine,
    ProcessSample,
    RoutingStep,
    Sample,
    StepExecution,
    Tag,
    TagRollup,
    TelemetryGap,
    Unit,
)
from mes.plant_config.schema import NUMERIC_TYPES
from mes.telemetry_queries import MINUTE_DAYS, RAW_DAYS

RAW_SPAN = timedelta(hours=6)  # raw samples: up to 21,600 rows a tag at 1 Hz
MINUTE_SPAN = timedelta(days=14)  # minute rollups: up to 20,160 rows a tag
OLD_SAMPLES_SPAN = timedelta(hours=12)  # past the minute rollups, a step this long still reads its kept samples
TREND_COLUMNS = ["tag_id", "t", "minimum", "maximum", "mean", "count"]


@dataclass(frozen=True)
class MachineInfo:
    id: int
    code: str
    name: str
    kind: str
    line_code: str
    line_name: str
    endpoint: str
    positions: int


@dataclass(frozen=True)
class Window:
    """Where a trend's values come from and how wide its buckets are (seconds)."""

    source: str  # raw | minute | hour
    width: int
    start_epoch: int  # the first bucket starts here (UTC seconds)


def machine(session: Session, code: str) -> MachineInfo:
    row = session.execute(select(Machine.id, Machine.code, Machine.name, Machine.kind, Line.code, Line.name,
                                 Machine.endpoint, Machine.positions)
                          .join(Line, Line.id == Machine.line_id).where(Machine.code == code)).one_or_none()
    if row is None:
        raise NotFound(f"no machine {code!r}", "machine")
    return MachineInfo(*row)


def machine_choices(session: Session) -> list[tuple[str, str, str]]:
    """Every active machine as (line, code, name), in line order: the page's picker."""
    rows = session.execute(select(Line.code, Machine.code, Machine.name).join(Line, Line.id == Machine.line_id)
                           .where(Machine.active.is_(True)).order_by(Line.number, Machine.code))
    return [tuple(r) for r in rows]  # type: ignore[misc]


def process_tags(session: Session, machine_id: int) -> pd.DataFrame:
    """The machine's active numeric process values: id, name, unit, low, high (limits as floats, NaN for none)."""
    table = frame(session, select(Tag.id, Tag.name, Tag.eng_unit.label("unit"), Tag.low_limit.label("low"),
                                  Tag.high_limit.label("high"))
                  .where(Tag.machine_id == machine_id, Tag.active.is_(True), Tag.meaning == "process_value",
                         Tag.data_type.in_(sorted(NUMERIC_TYPES))).order_by(Tag.name))
    return table.astype({"low": float, "high": float})


def window(start: datetime, end: datetime, points: int, now: datetime) -> Window:
    """The finest store whose rows over [start, end) stay within a page's budget, and the bucket width."""
    span = end - start
    if span <= RAW_SPAN and start >= now - timedelta(days=RAW_DAYS):
        source, floor_s = "raw", 1
    elif span <= MINUTE_SPAN and start >= now - timedelta(days=MINUTE_DAYS):
        source, floor_s = "minute", 60
    else:
        source, floor_s = "hour", 3600
    width = max(floor_s, math.ceil(span.total_seconds() / points))
    return Window(source, width - width % floor_s, int(start.timestamp()) // floor_s * floor_s)


def _epoch(session: Session, column: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", column)
    return cast(func.strftime("%s", column), Integer)  # SQLite keeps naive UTC text


def _bucketed(session: Session, rows: Any, w: Window) -> pd.DataFrame:
    """`rows` (tag_id, t, lo, hi, total, n) summed per tag and bucket of `w`: the TREND_COLUMNS."""
    bucket = func.floor((_epoch(session, rows.c.t) - w.start_epoch) / w.width).label("bucket")
    statement = (select(rows.c.tag_id, bucket, func.min(rows.c.lo).label("minimum"),
                        func.max(rows.c.hi).label("maximum"), func.sum(rows.c.total).label("total"),
                        func.sum(rows.c.n).label("count"))
                 .group_by(rows.c.tag_id, bucket).order_by(rows.c.tag_id, bucket))
    table = frame(session, statement)
    starts = w.start_epoch + table["bucket"].astype("int64") * w.width
    return pd.DataFrame({
        "tag_id": table["tag_id"].astype(int), "t": pd.to_datetime(starts, unit="s", utc=True),
        "minimum": table["minimum"].astype(float), "maximum": table["maximum"].astype(float),
        "mean": table["total"].astype(float) / table["count"].astype(float), "count": table["count"].astype(int),
    }, columns=TREND_COLUMNS)


def _raw(tag_ids: list[int], start: datetime, end: datetime) -> Any:
    return select(Sample.tag_id, Sample.source_time.label("t"), Sample.value.label("lo"), Sample.value.label("hi"),
                  Sample.value.label("total"), literal(1).label("n")).where(
        Sample.tag_id.in_(tag_ids), Sample.source_time >= start, Sample.source_time < end, Sample.value.is_not(None))


def _rollups(tag_ids: list[int], source: str, start: datetime, end: datetime) -> Any:
    return select(TagRollup.tag_id, TagRollup.bucket.label("t"), TagRollup.minimum.label("lo"),
                  TagRollup.maximum.label("hi"), TagRollup.total, TagRollup.count.label("n")).where(
        TagRollup.tag_id.in_(tag_ids), TagRollup.resolution == source, TagRollup.bucket >= start,
        TagRollup.bucket < end)


def trends(session: Session, tag_ids: list[int], start: datetime, end: datetime, points: int,
           now: datetime) -> tuple[Window, pd.DataFrame]:
    """The tags' values in [start, end) as at most `points` buckets each (one query for all tags)."""
    w = window(start, end, points, now)
    if not tag_ids:
        return w, pd.DataFrame(columns=TREND_COLUMNS)
    rows = _raw(tag_ids, start, end) if w.source == "raw" else _rollups(tag_ids, w.source, start, end)
    return w, _bucketed(session, rows.subquery(), w)


@dataclass(frozen=True)
class Trace:
    """What a machine recorded while one step execution ran on it."""

    execution_id: int
    machine_id: int
    start: datetime
    end: datetime
    window: Window
    values: pd.DataFrame  # TREND_COLUMNS


def execution_trace(session: Session, execution_id: int, tag_ids: list[int], points: int, now: datetime) -> Trace:
    """The tags' values while the execution ran (its samples, kept ones included; long steps from rollups)."""
    machine_id, start, end = session.execute(select(StepExecution.machine_id, StepExecution.started_at,
                                                    StepExecution.ended_at)
                                             .where(StepExecution.id == execution_id)).one()
    end = end or now
    span, w = end - start, window(start, end, points, now)
    # The unit's own record where it is cheap enough: raw samples and, past their retention, those kept with it.
    if span <= RAW_SPAN or (w.source == "hour" and span <= OLD_SAMPLES_SPAN):
        w = Window("raw", max(1, math.ceil(span.total_seconds() / points)), int(start.timestamp()))
        kept = select(ProcessSample.tag_id, ProcessSample.source_time.label("t"), ProcessSample.value.label("lo"),
                      ProcessSample.value.label("hi"), ProcessSample.value.label("total"), literal(1).label("n")).where(
            ProcessSample.execution_id == execution_id, ProcessSample.tag_id.in_(tag_ids),
            ProcessSample.value.is_not(None))
        rows = union_all(_raw(tag_ids, start, end + timedelta(microseconds=1)), kept).subquery()
    else:  # whole minutes (or hours) around the step: its edges are read to the minute
        rows = _rollups(tag_ids, w.source, datetime.fromtimestamp(w.start_epoch, UTC), end).subquery()
    values = _bucketed(session, rows, w) if tag_ids else pd.DataFrame(columns=TREND_COLUMNS)
    return Trace(execution_id, machine_id, start, end, w, values)


def overlapping(started: Any, ended: Any, start: datetime, end: datetime) -> Any:
    return and_(started < end, or_(ended.is_(None), ended > start))


def executions(session: Session, machine_id: int, start: datetime, end: datetime,
               limit: int | None = None) -> pd.DataFrame:
    """Step executions on the machine overlapping [start, end), newest first: id, serial, step_code, step_name,
    status, rework, run_id, started_at, ended_at."""
    statement = (select(StepExecution.id, Unit.serial, StepExecution.step_code, RoutingStep.name.label("step_name"),
                        StepExecution.status, StepExecution.rework, StepExecution.run_id, StepExecution.started_at,
                        StepExecution.ended_at)
                 .join(Unit, Unit.id == StepExecution.unit_id)
                 .join(RoutingStep, RoutingStep.id == StepExecution.step_id)
                 .where(StepExecution.machine_id == machine_id,
                        overlapping(StepExecution.started_at, StepExecution.ended_at, start, end))
                 .order_by(StepExecution.started_at.desc(), StepExecution.id.desc()))
    return frame(session, statement.limit(limit) if limit else statement, ("started_at", "ended_at"))


def execution_count(session: Session, machine_id: int, start: datetime, end: datetime) -> int:
    return session.scalar(select(func.count()).select_from(StepExecution).where(
        StepExecution.machine_id == machine_id,
        overlapping(StepExecution.started_at, StepExecution.ended_at, start, end))) or 0


def gaps(session: Session, machine_id: int, start: datetime | None = None, end: datetime | None = None,
         limit: int = 200) -> pd.DataFrame:
    """Telemetry gaps of the machine overlapping [start, end), newest first: started_at, ended_at, reason,
    backfilled (samples read back from the PLC's history)."""
    statement = (select(TelemetryGap.started_at, TelemetryGap.ended_at, TelemetryGap.reason, TelemetryGap.backfilled)
                 .where(TelemetryGap.machine_id == machine_id,
                        overlapping(TelemetryGap.started_at, TelemetryGap.ended_at, start, end)
                        if start and end else true())
                 .order_by(TelemetryGap.started_at.desc()).limit(limit))
    return frame(session, statement, ("started_at", "ended_at"))


def health(session: Session, endpoint: str) -> EndpointHealth | None:
    """What the adapter last reported of the machine's endpoint (None if it never has)."""
    return session.get(EndpointHealth, endpoint)


def unit_machine_executions(session: Session, serial: str) -> list[tuple[int, int | None]]:
    """The unit's executions in record order (as `mes.as_built` lists them) as (id, machine_id)."""
    return [tuple(r) for r in session.execute(  # type: ignore[misc]
        select(StepExecution.id, StepExecution.machine_id).join(Unit, Unit.id == StepExecution.unit_id)
        .where(Unit.serial == serial).order_by(StepExecution.id))]
