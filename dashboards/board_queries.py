"""SQL -> DataFrames for the plant board: machine states as of now, adapter health, gaps, today's output, NCRs.

Conventions as in `dashboards.queries`: `start`/`end` bound a half-open window [start, end); timestamps come back
tz-aware UTC. Each query returns a few rows per machine or line, whatever the length of the history.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from dashboards.queries import frame, window
from mes.machine_capture import GOOD_BELOW
from mes.models import (
    EndpointHealth,
    Line,
    Machine,
    MachineState,
    Nonconformance,
    ProcessSample,
    Sample,
    Signature,
    StepExecution,
    Tag,
    TelemetryGap,
    Unit,
    UnitType,
)

OPEN_EXECUTIONS = ("running", "paused")
EXCURSION_COLUMNS = ["machine_id", "serial", "step_code", "tag", "side", "limit", "extreme", "first_at"]


def lines(session: Session) -> pd.DataFrame:
    """Active lines in their number order: id, number, code, name."""
    return frame(session, select(Line.id, Line.number, Line.code, Line.name).where(Line.active.is_(True))
                 .order_by(Line.number))


def machine_links(session: Session) -> pd.DataFrame:
    """Active machines with where the adapter reaches them: machine_id, endpoint, clock_alarm_s."""
    return frame(session, select(Machine.id.label("machine_id"), Machine.endpoint, Machine.clock_alarm_s)
                 .where(Machine.active.is_(True)).order_by(Machine.id))


def states_at(session: Session, now: datetime) -> pd.DataFrame:
    """Each active machine's state interval as of `now` (the last one started by then): machine_id, state,
    started_at, ended_at. Machines with no state yet are left out."""
    # Machines drive: per machine, the newest row walks the (machine_id, started_at) index to one entry, so a
    # year of intervals costs no more than a day's (joined the other way round, every interval was visited).
    inner = aliased(MachineState)
    newest = (select(inner.id).where(inner.machine_id == Machine.id, inner.started_at <= now)
              .order_by(inner.started_at.desc()).limit(1).correlate(Machine).scalar_subquery())
    statement = (select(MachineState.machine_id, MachineState.state, MachineState.started_at, MachineState.ended_at)
                 .where(MachineState.id.in_(select(newest).where(Machine.active.is_(True))))
                 .order_by(MachineState.machine_id))
    return frame(session, statement, ("started_at", "ended_at"))


def states_between(session: Session, machine_ids: list[int], start: datetime, end: datetime) -> pd.DataFrame:
    """The state intervals of the machines overlapping [start, end): the one each machine was in at `start` and
    those begun since; the columns of queries_machines.machine_states (id, machine_id, state, started_at,
    ended_at, reason). Both halves walk the (machine_id, started_at) index: an "ended after start" condition
    cannot, and read every machine's whole history."""
    inner = aliased(MachineState)
    at_start = (select(inner.id).where(inner.machine_id == Machine.id, inner.started_at <= start)
                .order_by(inner.started_at.desc()).limit(1).correlate(Machine).scalar_subquery())
    columns = (MachineState.id, MachineState.machine_id, MachineState.state, MachineState.started_at,
               MachineState.ended_at)
    first = select(*columns).where(MachineState.id.in_(select(at_start).where(Machine.id.in_(machine_ids))))
    since = select(*columns).where(MachineState.machine_id.in_(machine_ids), MachineState.started_at > start,
                                   MachineState.started_at < end)
    table = pd.concat([frame(session, first, ("started_at", "ended_at")),
                       frame(session, since, ("started_at", "ended_at"))], ignore_index=True)
    table = table[table["ended_at"].isna() | (table["ended_at"] > start)]
    table = table.sort_values(["machine_id", "started_at"], kind="stable").reset_index(drop=True)
    return table.assign(reason=pd.Series([None] * len(table), index=table.index, dtype=object))


def endpoint_health(session: Session) -> pd.DataFrame:
    """What the adapters last reported: endpoint, connected, spool_fill (0..1), clock_offset_s, error, updated_at."""
    statement = select(EndpointHealth.endpoint, EndpointHealth.connected, EndpointHealth.spool_fill,
                       EndpointHealth.clock_offset_s, EndpointHealth.error, EndpointHealth.updated_at)
    table = frame(session, statement, ("updated_at",))
    return table.astype({"connected": bool, "spool_fill": float, "clock_offset_s": float})


def gaps(session: Session, since: datetime) -> pd.DataFrame:
    """Telemetry gaps declared since `since`, or still open: machine_id, reason, started_at, ended_at, declared_at."""
    statement = (select(TelemetryGap.machine_id, TelemetryGap.reason, TelemetryGap.started_at,
                        TelemetryGap.ended_at, TelemetryGap.declared_at)
                 .where(or_(TelemetryGap.declared_at >= since, TelemetryGap.ended_at.is_(None)))
                 .order_by(TelemetryGap.machine_id, TelemetryGap.started_at))
    return frame(session, statement, ("started_at", "ended_at", "declared_at"))


def accepted_by_line(session: Session, start: datetime, end: datetime) -> pd.DataFrame:
    """Units accepted (their acceptance signature) in [start, end), per line: line, accepted."""
    statement = (select(Line.code.label("line"), func.count().label("accepted"))
                 .select_from(Unit).join(Signature, Signature.id == Unit.acceptance_signature_id)
                 .join(UnitType, UnitType.id == Unit.unit_type_id).join(Line, Line.id == UnitType.line_id)
                 .where(Unit.status == "accepted", window(Signature.at, start, end)).group_by(Line.code))
    return frame(session, statement)


def open_ncrs_by_line(session: Session) -> pd.DataFrame:
    """NCRs not closed (open or awaiting the MRB), per line: line (None for received material), open."""
    statement = (select(Line.code.label("line"), func.count().label("open")).select_from(Nonconformance)
                 .outerjoin(Unit, Unit.id == Nonconformance.unit_id)
                 .outerjoin(UnitType, UnitType.id == Unit.unit_type_id).outerjoin(Line, Line.id == UnitType.line_id)
                 .where(Nonconformance.status != "closed").group_by(Line.code))
    return frame(session, statement)


def _outside(value: Any, low: float | None, high: float | None) -> ColumnElement[bool]:
    sides = ([value > high] if high is not None else []) + ([value < low] if low is not None else [])
    return or_(*sides)


def _outside_value(value: float, low: float | None, high: float | None) -> bool:
    return (high is not None and value > high) or (low is not None and value < low)


def _limit(text: Any) -> float | None:
    return None if text is None or pd.isna(text) else float(text)


def in_step_excursions(session: Session, now: datetime) -> pd.DataFrame:
    """Tags out of their limits during the steps running (or paused) on machines now: EXCURSION_COLUMNS, one row
    a step, tag and side crossed. The rule of mes.excursions.detect (active tags with a limit, not `on_excursion =
    "ignore"`; good samples, raw or kept with the execution, from the step's start to now), in two statements
    for the whole plant: detect's query a step, tag and side took most of the board's time."""
    pairs = frame(session, select(
        StepExecution.id.label("execution_id"), StepExecution.machine_id, StepExecution.started_at,
        StepExecution.step_code, Unit.serial, Tag.id.label("tag_id"), Tag.name.label("tag"), Tag.low_limit,
        Tag.high_limit).join(Unit, Unit.id == StepExecution.unit_id)
        .join(Tag, Tag.machine_id == StepExecution.machine_id)
        .where(StepExecution.status.in_(OPEN_EXECUTIONS), StepExecution.ended_at.is_(None), Tag.active.is_(True),
               Tag.on_excursion != "ignore", or_(Tag.low_limit.is_not(None), Tag.high_limit.is_not(None))),
        ("started_at",))
    if pairs.empty:
        return pd.DataFrame(columns=EXCURSION_COLUMNS)
    # Only the samples out of limits come back: one index range a tag, from its earliest open step on (several
    # units may be in one chamber), matched to each step's own window below.
    tags = pairs.groupby("tag_id").agg(since=("started_at", "min"), low=("low_limit", "first"),
                                       high=("high_limit", "first")).reset_index()
    limits = {int(r.tag_id): (_limit(r.low), _limit(r.high)) for r in tags.itertuples()}
    raw = frame(session, select(Sample.tag_id, Sample.source_time.label("at"), Sample.value).where(
        Sample.value.is_not(None), Sample.status < GOOD_BELOW, Sample.source_time <= now, or_(*[
            and_(Sample.tag_id == int(r.tag_id), Sample.source_time >= r.since.to_pydatetime(),
                 _outside(Sample.value, *limits[int(r.tag_id)])) for r in tags.itertuples()])), ("at",))
    # Samples kept with a unit's record are older than the raw window (30 days): a step running that long is
    # rare, so they come back whole and are judged here.
    kept = frame(session, select(ProcessSample.execution_id, ProcessSample.tag_id,
                                 ProcessSample.source_time.label("at"), ProcessSample.value).where(
        ProcessSample.execution_id.in_([int(i) for i in pairs["execution_id"].unique()]),
        ProcessSample.tag_id.in_(list(limits)), ProcessSample.value.is_not(None),
        ProcessSample.status < GOOD_BELOW, ProcessSample.source_time <= now), ("at",))
    outside = [_outside_value(v, *limits[int(t)]) for t, v in zip(kept["tag_id"], kept["value"], strict=True)]
    kept = kept[pd.Series(outside, index=kept.index, dtype=bool)]
    seen = pd.concat([pairs.merge(raw, on="tag_id"), pairs.merge(kept, on=["execution_id", "tag_id"])])
    seen = seen[seen["at"] >= seen["started_at"]]
    if seen.empty:
        return pd.DataFrame(columns=EXCURSION_COLUMNS)
    high = seen["high_limit"].map(_limit)
    seen = seen.assign(side=(high.notna() & (seen["value"] > high.fillna(0.0))).map({True: "high", False: "low"}))
    keys = ["machine_id", "execution_id", "serial", "step_code", "tag", "side", "low_limit", "high_limit"]
    table = seen.groupby(keys, dropna=False).agg(first_at=("at", "min"), highest=("value", "max"),
                                                 lowest=("value", "min")).reset_index()
    table["limit"] = table["high_limit"].where(table["side"] == "high", table["low_limit"])
    table["extreme"] = table["highest"].where(table["side"] == "high", table["lowest"])
    return table.sort_values(["machine_id", "execution_id", "tag", "side"])[EXCURSION_COLUMNS].reset_index(drop=True)
