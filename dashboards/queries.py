"""SQL aggregates -> DataFrames: the only place the dashboards read the database (machines: `queries_machines`).

Every function takes a `Session` and filters, and returns a DataFrame with the columns the pure KPI modules
(`kpi`, `flow`, `oee`, `spc`) name in their docstrings. Conventions:
- `line` is a line code ("RWA") or a line id; `start`/`end` are aware datetimes bounding a half-open window
  [start, end); None leaves that side open.
- Timestamps come back as tz-aware UTC pandas timestamps on SQLite (naive UTC text) and PostgreSQL alike.
- Work that reduces rows (first executions, repeats, counts) happens in SQL, so pandas only gets what a
  figure shows; the same statements run on both databases.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import ColumnElement, Select, String, and_, func, or_, select, true, type_coerce
from sqlalchemy.orm import Session

from dashboards.kpi import EXECUTED
from mes.models import (
    Characteristic,
    Line,
    Measurement,
    NcrDisposition,
    Nonconformance,
    RoutingRevision,
    RoutingStep,
    Signature,
    StepExecution,
    Unit,
    UnitType,
)

ENDED = ("accepted", "scrapped")
EXECUTION_COLUMNS = ["id", "unit_id", "step_code", "status", "started_at", "ended_at", "line", "sequence",
                     "machine_id"]
LineKey = str | int | None


def frame(session: Session, statement: Select[Any], times: Iterable[str] = ()) -> pd.DataFrame:
    """Run `statement` into a DataFrame named by its labels, `times` as tz-aware UTC timestamps."""
    times = list(times)
    # Timestamps come through as the driver gives them (SQLite: naive UTC text, PostgreSQL: aware datetimes) and
    # pandas converts them in one vectorised pass: per-value type processing and ORM row loading were most of
    # the cost of a large frame. Core execution: these are plain rows, not entities.
    raw = statement.with_only_columns(*[type_coerce(c, String).label(c.key) if c.key in times else c
                                        for c in statement.selected_columns])
    result = session.connection().execute(raw)
    keys = list(result.keys())
    rows = result.fetchall()
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in keys]
    table = pd.DataFrame({key: list(values) for key, values in zip(keys, columns, strict=True)}, columns=keys)
    for column in times:
        table[column] = pd.to_datetime(table[column], utc=True, format="ISO8601")  # naive text is UTC
    return table


def line_clause(line: LineKey) -> ColumnElement[bool]:
    """Filter on the joined `Line`: a code or an id; no filter for None."""
    if line is None:
        return true()
    return Line.id == line if isinstance(line, int) else Line.code == line


def window(column: Any, start: datetime | None, end: datetime | None) -> ColumnElement[bool]:
    """start <= column < end, each side only when given."""
    clauses = [column >= start] if start is not None else []
    if end is not None:
        clauses.append(column < end)
    return and_(true(), *clauses)


def _execution_columns() -> list[Any]:
    return [StepExecution.id, StepExecution.unit_id, StepExecution.step_code, StepExecution.status,
            StepExecution.started_at, StepExecution.ended_at, Line.code.label("line"),
            RoutingStep.sequence.label("sequence"), StepExecution.machine_id]


def _execution_base(*columns: Any) -> Select[Any]:
    return (select(*columns).join(Unit, Unit.id == StepExecution.unit_id)
            .join(UnitType, UnitType.id == Unit.unit_type_id).join(Line, Line.id == UnitType.line_id)
            .join(RoutingStep, RoutingStep.id == StepExecution.step_id))


def executions(session: Session, line: LineKey = None, start: datetime | None = None, end: datetime | None = None,
               machine_id: int | None = None, previous: bool = False) -> pd.DataFrame:
    """Step executions (any status) started in [start, end): EXECUTION_COLUMNS, by start time.

    `previous=True` adds each unit's last execution started before `start`, so `flow.queue_times` can time
    the wait in front of the unit's first execution in the window (leave those rows out of cycle times).
    """
    scope = and_(line_clause(line), StepExecution.machine_id == machine_id if machine_id is not None else true())
    wanted = window(StepExecution.started_at, start, end)
    if previous and start is not None:
        rank = func.row_number().over(partition_by=StepExecution.unit_id,
                                      order_by=(StepExecution.started_at.desc(), StepExecution.id.desc()))
        in_window = _execution_base(StepExecution.unit_id).where(scope, wanted)
        before = (select(StepExecution.id, rank.label("rank"))
                  .where(StepExecution.started_at < start, StepExecution.unit_id.in_(in_window)).subquery())
        wanted = or_(wanted, StepExecution.id.in_(select(before.c.id).where(before.c.rank == 1)))
    statement = (_execution_base(*_execution_columns()).where(scope, wanted)
                 .order_by(StepExecution.started_at, StepExecution.id))
    return frame(session, statement, ("started_at", "ended_at")).astype({"machine_id": "Int64"})


def first_executions(session: Session, line: LineKey = None, start: datetime | None = None,
                     end: datetime | None = None, step_code: str | None = None) -> pd.DataFrame:
    """The first judged (passed or failed) execution of each unit and step, if its result came (ended_at)
    in [start, end): EXECUTION_COLUMNS, one row a trial, for kpi.step_fpy / fpy_by_step / yield_by_week."""
    rank = func.row_number().over(partition_by=(StepExecution.unit_id, StepExecution.step_code),
                                  order_by=(StepExecution.started_at, StepExecution.id))
    step = StepExecution.step_code == step_code if step_code is not None else true()
    judged = StepExecution.status.in_(EXECUTED)
    units_in_window = true()
    if start is not None or end is not None:
        # Rank only the units with a result in the window, so a week's yield does not rank a year of history.
        units_in_window = StepExecution.unit_id.in_(
            select(StepExecution.unit_id).where(judged, window(StepExecution.ended_at, start, end)))
    ranked = (_execution_base(*_execution_columns(), rank.label("attempt"))
              .where(line_clause(line), step, judged, units_in_window).subquery())
    columns = [ranked.c[name] for name in EXECUTION_COLUMNS]
    statement = (select(*columns).where(ranked.c.attempt == 1, window(ranked.c.ended_at, start, end))
                 .order_by(ranked.c.ended_at, ranked.c.id))
    return frame(session, statement, ("started_at", "ended_at")).astype({"machine_id": "Int64"})


def _unit_ends() -> tuple[Any, Any, Any]:
    """(scrap subquery, accepted_at, scrapped_at): when a unit was accepted (its signature) or scrapped."""
    scraps = (select(Nonconformance.unit_id, func.max(Nonconformance.closed_at).label("scrapped_at"))
              .join(NcrDisposition, NcrDisposition.ncr_id == Nonconformance.id)
              .where(NcrDisposition.decision == "scrap", Nonconformance.unit_id.is_not(None))
              .group_by(Nonconformance.unit_id).subquery())
    return scraps, Signature.at.label("accepted_at"), scraps.c.scrapped_at


def units(session: Session, line: LineKey = None, start: datetime | None = None,
          end: datetime | None = None) -> pd.DataFrame:
    """Units that reached an end (accepted, scrapped) in [start, end), plus those still open (in_work, ready)
    released before `end`: id, serial, status, accepted_at, scrapped_at, routing_revision_id, next_sequence,
    current_execution_id, line, created_at. Feeds kpi.final_yield / scrap_ratio and flow.throughput / wip_by_step."""
    scraps, accepted_at, scrapped_at = _unit_ends()
    ended = and_(Unit.status.in_(ENDED), window(func.coalesce(Signature.at, scrapped_at), start, end))
    open_ = and_(Unit.status.not_in(ENDED), Unit.created_at < end if end else true())
    statement = (select(Unit.id, Unit.serial, Unit.status, accepted_at, scrapped_at, Unit.routing_revision_id,
                        Unit.next_sequence, Unit.current_execution_id, Line.code.label("line"), Unit.created_at)
                 .join(UnitType, UnitType.id == Unit.unit_type_id).join(Line, Line.id == UnitType.line_id)
                 .outerjoin(Signature, Signature.id == Unit.acceptance_signature_id)
                 .outerjoin(scraps, scraps.c.unit_id == Unit.id)
                 .where(line_clause(line), or_(ended, open_)).order_by(Unit.id))
    table = frame(session, statement, ("accepted_at", "scrapped_at", "created_at"))
    return table.astype({"current_execution_id": "Int64"})


def rework_executions(session: Session, line: LineKey = None, start: datetime | None = None,
                      end: datetime | None = None) -> pd.DataFrame:
    """Judged executions of the units that reached an end in [start, end), only of the (unit, step) pairs
    executed more than once (all `kpi.rework_ratio` looks at): unit_id, step_code, status."""
    scraps, _, scrapped_at = _unit_ends()
    produced = (select(Unit.id).join(UnitType, UnitType.id == Unit.unit_type_id)
                .join(Line, Line.id == UnitType.line_id)
                .outerjoin(Signature, Signature.id == Unit.acceptance_signature_id)
                .outerjoin(scraps, scraps.c.unit_id == Unit.id)
                .where(line_clause(line), Unit.status.in_(ENDED),
                       window(func.coalesce(Signature.at, scrapped_at), start, end)))
    repeats = (select(StepExecution.unit_id, StepExecution.step_code)
               .where(StepExecution.status.in_(EXECUTED), StepExecution.unit_id.in_(produced))
               .group_by(StepExecution.unit_id, StepExecution.step_code).having(func.count() > 1).subquery())
    statement = (select(StepExecution.unit_id, StepExecution.step_code, StepExecution.status)
                 .join(repeats, and_(repeats.c.unit_id == StepExecution.unit_id,
                                     repeats.c.step_code == StepExecution.step_code))
                 .where(StepExecution.status.in_(EXECUTED)).order_by(StepExecution.unit_id, StepExecution.id))
    return frame(session, statement)


def routing_steps(session: Session, line: LineKey = None) -> pd.DataFrame:
    """Steps of every routing revision: routing_revision_id, revision, sequence, code, name, line (flow.wip_by_step)."""
    statement = (select(RoutingStep.routing_revision_id, RoutingRevision.revision, RoutingStep.sequence,
                        RoutingStep.code, RoutingStep.name, Line.code.label("line"))
                 .join(RoutingRevision, RoutingRevision.id == RoutingStep.routing_revision_id)
                 .join(UnitType, UnitType.id == RoutingRevision.unit_type_id).join(Line, Line.id == UnitType.line_id)
                 .where(line_clause(line)).order_by(Line.number, RoutingRevision.revision, RoutingStep.sequence))
    return frame(session, statement)


def ncrs(session: Session, line: LineKey = None, start: datetime | None = None,
         end: datetime | None = None) -> pd.DataFrame:
    """NCRs opened in [start, end): id, number, defect_code, line, step_code, status, opened_at, unit_id
    (kpi.defect_pareto). Without a line, NCRs on received material come too, with line None."""
    statement = (select(Nonconformance.id, Nonconformance.number, Nonconformance.defect_code,
                        Line.code.label("line"), Nonconformance.step_code, Nonconformance.status,
                        Nonconformance.opened_at, Nonconformance.unit_id)
                 .outerjoin(Unit, Unit.id == Nonconformance.unit_id)
                 .outerjoin(UnitType, UnitType.id == Unit.unit_type_id).outerjoin(Line, Line.id == UnitType.line_id)
                 .where(line_clause(line), window(Nonconformance.opened_at, start, end))
                 .order_by(Nonconformance.opened_at, Nonconformance.id))
    return frame(session, statement, ("opened_at",)).astype({"unit_id": "Int64"})


def _number(text: object) -> float | None:
    return None if text is None or pd.isna(text) else float(str(text))  # a missing str reads NaN in pandas 3


def characteristics(session: Session, line: LineKey = None, key_only: bool = False) -> pd.DataFrame:
    """Variable characteristics for the SPC picker: id, line, revision, step_code, sequence, name, unit, nominal,
    lower, upper (floats, None for an open side), key, measurements (standing numeric values recorded)."""
    counts = (select(Measurement.characteristic_id, func.count().label("measurements"))
              .where(Measurement.voided_at.is_(None), Measurement.value.is_not(None))
              .group_by(Measurement.characteristic_id).subquery())
    statement = (select(Characteristic.id, Line.code.label("line"), RoutingRevision.revision,
                        RoutingStep.code.label("step_code"), RoutingStep.sequence, Characteristic.name,
                        Characteristic.unit, Characteristic.nominal, Characteristic.lower, Characteristic.upper,
                        Characteristic.key, func.coalesce(counts.c.measurements, 0).label("measurements"))
                 .join(RoutingStep, RoutingStep.id == Characteristic.step_id)
                 .join(RoutingRevision, RoutingRevision.id == RoutingStep.routing_revision_id)
                 .join(UnitType, UnitType.id == RoutingRevision.unit_type_id).join(Line, Line.id == UnitType.line_id)
                 .outerjoin(counts, counts.c.characteristic_id == Characteristic.id)
                 .where(line_clause(line), Characteristic.kind == "variable",
                        Characteristic.key.is_(True) if key_only else true())
                 .order_by(Line.number, RoutingRevision.revision, RoutingStep.sequence, Characteristic.sequence))
    table = frame(session, statement)
    for column in ("nominal", "lower", "upper"):  # exact decimal text in the database; charts want numbers
        # None, not NaN, for an open side: spc.capability takes None as "no limit" and NaN as a number.
        table[column] = pd.Series([_number(v) for v in table[column]], index=table.index, dtype=object)
    return table


def measurements(session: Session, characteristic_id: int, start: datetime | None = None,
                 end: datetime | None = None) -> pd.DataFrame:
    """Standing (not voided) numeric values of one characteristic recorded in [start, end), oldest first:
    id, execution_id, serial, value, passed, recorded_at (spc.imr_chart takes `value`)."""
    statement = (select(Measurement.id, Measurement.execution_id, Unit.serial, Measurement.value, Measurement.passed,
                        Measurement.recorded_at)
                 .join(StepExecution, StepExecution.id == Measurement.execution_id)
                 .join(Unit, Unit.id == StepExecution.unit_id)
                 .where(Measurement.characteristic_id == characteristic_id, Measurement.voided_at.is_(None),
                        Measurement.value.is_not(None), window(Measurement.recorded_at, start, end))
                 .order_by(Measurement.recorded_at, Measurement.id))
    return frame(session, statement, ("recorded_at",))
