"""SQL aggregates -> DataFrames for machines: the machine list, state intervals, part counts, working calendars.

Conventions as in `dashboards.queries`; `machine` is a machine id, a machine code or a list of ids.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import ColumnElement, Select, and_, func, or_, select, true
from sqlalchemy.orm import Session

from dashboards.queries import LineKey, frame, line_clause, window
from mes.demo_calendar import WorkCalendar
from mes.models import Calendar, Line, Machine, MachineState, ProductionCount, StepExecution, Tag
from mes.plant_time import plant_zone
from mes.telemetry import COUNTS

MachineKey = int | str | Sequence[int] | None
COUNT_COLUMNS = ["machine_id", "kind", "delta", "at", "source"]


def machine_clause(machine: MachineKey) -> ColumnElement[bool]:
    """Filter on the joined `Machine`: an id, a code or a list of ids; no filter for None."""
    if machine is None:
        return true()
    if isinstance(machine, int):
        return Machine.id == machine
    if isinstance(machine, str):
        return Machine.code == machine
    return Machine.id.in_(list(machine))


def _machine_scope(statement: Select[Any], machine_id: Any, line: LineKey, machine: MachineKey) -> Select[Any]:
    return (statement.join(Machine, Machine.id == machine_id).join(Line, Line.id == Machine.line_id)
            .where(line_clause(line), machine_clause(machine)))


def _has_counters() -> Any:
    """True where the machine has an active part-counter tag (else its output comes from step records)."""
    return (select(Tag.id).where(Tag.machine_id == Machine.id, Tag.active.is_(True), Tag.meaning.in_(list(COUNTS)))
            .correlate(Machine).exists())


def machines(session: Session, line: LineKey = None, machine: MachineKey = None) -> pd.DataFrame:
    """Active machines: id, code, name, kind, line, ideal_cycle_s (seconds a part, None where not configured),
    positions, calendar (its name), counters (has part-counter tags). The `machines` frame of oee.oee_by_machine."""
    statement = (select(Machine.id, Machine.code, Machine.name, Machine.kind, Line.code.label("line"),
                        Machine.ideal_cycle_s, Machine.positions, Calendar.name.label("calendar"),
                        _has_counters().label("counters"))
                 .join(Line, Line.id == Machine.line_id).join(Calendar, Calendar.id == Machine.calendar_id)
                 .where(Machine.active.is_(True), line_clause(line), machine_clause(machine))
                 .order_by(Line.number, Machine.code))
    table = frame(session, statement)
    # Float, so a machine without an ideal cycle reads NaN (pd.notna is what oee checks), not a mixed object column.
    return table.astype({"ideal_cycle_s": float, "counters": bool})


def machine_states(session: Session, line: LineKey = None, machine: MachineKey = None,
                   start: datetime | None = None, end: datetime | None = None) -> pd.DataFrame:
    """State intervals overlapping [start, end) (an open one has ended_at NaT): id, machine_id, state, started_at,
    ended_at, reason. No stop reason is recorded yet, so `reason` is always None (oee.downtime_pareto by reason)."""
    overlaps = and_(MachineState.started_at < end if end else true(),
                    or_(MachineState.ended_at.is_(None), MachineState.ended_at > start) if start else true())
    statement = _machine_scope(
        select(MachineState.id, MachineState.machine_id, MachineState.state, MachineState.started_at,
               MachineState.ended_at), MachineState.machine_id, line, machine)
    statement = statement.where(overlaps).order_by(MachineState.machine_id, MachineState.started_at)
    table = frame(session, statement, ("started_at", "ended_at"))
    return table.assign(reason=pd.Series([None] * len(table), index=table.index, dtype=object))


def _minute(session: Session, column: Any) -> Any:
    """The UTC minute of a timestamp, as a grouping key (its form differs by database; only equality matters)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date_trunc("minute", column)
    return func.substr(column, 1, 16)  # SQLite keeps naive UTC text: "YYYY-MM-DD HH:MM"


def production_counts(session: Session, line: LineKey = None, machine: MachineKey = None,
                      start: datetime | None = None, end: datetime | None = None) -> pd.DataFrame:
    """Parts made in [start, end), summed per machine, kind (good | reject) and UTC minute: machine_id, kind,
    delta, at (the minute's first count), source ("counters", or "steps" for machines without counter tags,
    whose passed and failed executions on the machine count one part each). The counts frame of oee.

    Minutes keep the sums exact against calendars whose shifts start and end on whole minutes (every HH:MM one).
    """
    # Constants stay out of the grouped SELECT (PostgreSQL sees each bound one as a new expression).
    counters = _machine_scope(
        select(ProductionCount.machine_id, ProductionCount.kind, func.sum(ProductionCount.delta).label("delta"),
               func.min(ProductionCount.at).label("at")), ProductionCount.machine_id, line, machine)
    counters = (counters.where(window(ProductionCount.at, start, end))
                .group_by(ProductionCount.machine_id, ProductionCount.kind, _minute(session, ProductionCount.at)))
    steps = _machine_scope(
        select(StepExecution.machine_id, StepExecution.status.label("kind"), func.count().label("delta"),
               func.min(StepExecution.ended_at).label("at")), StepExecution.machine_id, line, machine)
    steps = (steps.where(~_has_counters(), StepExecution.status.in_(("passed", "failed")),
                         window(StepExecution.ended_at, start, end))
             .group_by(StepExecution.machine_id, StepExecution.status, _minute(session, StepExecution.ended_at)))
    from_counters = frame(session, counters, ("at",)).assign(source="counters")
    from_steps = frame(session, steps, ("at",)).assign(source="steps")
    from_steps["kind"] = from_steps["kind"].map({"passed": "good", "failed": "reject"})
    parts = [p for p in (from_counters, from_steps) if not p.empty] or [from_counters]
    table = pd.concat(parts, ignore_index=True).sort_values(["machine_id", "at", "kind"], kind="stable")
    return table.reset_index(drop=True).astype({"machine_id": int, "delta": int})[COUNT_COLUMNS]


def calendar(session: Session, name: str, start: datetime, end: datetime) -> pd.DataFrame:
    """Planned working intervals of a named calendar within [start, end): start, end (UTC), one row a shift.

    Shifts and days off are read on the plant's calendar (its time zone); around-the-clock is one interval.
    """
    row = session.scalars(select(Calendar).filter_by(name=name)).one()
    if row.around_the_clock:
        spans = [(start, end)] if start < end else []
    else:
        zone = plant_zone(session)
        # A day's late shift may run past midnight into the window, so begin the day before.
        first, last = (start.astimezone(zone) - timedelta(days=1)).date(), end.astimezone(zone).date()
        spans = [(max(s.start, start), min(s.end, end)) for s in WorkCalendar(row, zone, first, last).shifts
                 if s.start < end and s.end > start]
    table = pd.DataFrame(spans, columns=["start", "end"])
    return table.assign(start=pd.to_datetime(table["start"], utc=True), end=pd.to_datetime(table["end"], utc=True))


def calendars(session: Session, start: datetime, end: datetime, line: LineKey = None,
              machine: MachineKey = None) -> dict[int, pd.DataFrame]:
    """Each machine's working intervals in [start, end) by machine id: the `calendars` mapping of oee."""
    statement = (select(Machine.id, Calendar.name).join(Calendar, Calendar.id == Machine.calendar_id)
                 .join(Line, Line.id == Machine.line_id)
                 .where(Machine.active.is_(True), line_clause(line), machine_clause(machine)))
    by_name: dict[str, pd.DataFrame] = {}
    result = {}
    for machine_id, name in session.execute(statement).all():
        if name not in by_name:
            by_name[name] = calendar(session, name, start, end)
        result[machine_id] = by_name[name]
    return result
