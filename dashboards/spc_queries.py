"""SPC data from the database: the characteristics worth charting and their measured values, as DataFrames.

A characteristic is identified across routing revisions by its unit type, step code and name: a new
revision copies it under a new id, and its chart must carry on through the change.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from mes.models import Characteristic, Line, Measurement, RoutingRevision, RoutingStep, StepExecution, Unit, UnitType

SERIES_COLUMNS = ["recorded_at", "serial", "value"]


@dataclass(frozen=True)
class CharacteristicChoice:
    """A variable characteristic of a unit type's current routing, with its specification as numbers."""

    id: int
    line_code: str
    line_name: str
    step_code: str
    name: str
    unit: str | None
    lsl: float | None
    usl: float | None
    key: bool

    @property
    def label(self) -> str:
        return f"{self.step_code} · {self.name}" + (f" ({self.unit})" if self.unit else "")


def _current_revisions() -> Select[tuple[int]]:
    latest = (select(RoutingRevision.unit_type_id, func.max(RoutingRevision.revision).label("revision"))
              .group_by(RoutingRevision.unit_type_id).subquery())
    return (select(RoutingRevision.id).join(latest, (latest.c.unit_type_id == RoutingRevision.unit_type_id)
                                            & (latest.c.revision == RoutingRevision.revision)))


def _number(text: str | None) -> float | None:
    return float(text) if text is not None and text.strip() else None


def variable_characteristics(session: Session, characteristic_id: int | None = None) -> list[CharacteristicChoice]:
    """Variable characteristics with a numeric limit, in line, step and characteristic order (or just one)."""
    query = (
        select(Characteristic, RoutingStep.code, Line.code, Line.name)
        .join(RoutingStep, RoutingStep.id == Characteristic.step_id)
        .join(RoutingRevision, RoutingRevision.id == RoutingStep.routing_revision_id)
        .join(UnitType, UnitType.id == RoutingRevision.unit_type_id)
        .join(Line, Line.id == UnitType.line_id)
        .where(Characteristic.kind == "variable",
               Characteristic.lower.is_not(None) | Characteristic.upper.is_not(None),
               RoutingRevision.id.in_(_current_revisions()))
        .order_by(Line.number, RoutingStep.sequence, Characteristic.sequence)
    )
    if characteristic_id is not None:
        query = query.where(Characteristic.id == characteristic_id)
    return [CharacteristicChoice(c.id, line_code, line_name, step_code, c.name, c.unit, _number(c.lower),
                                 _number(c.upper), c.key)
            for c, step_code, line_code, line_name in session.execute(query)]


def _same_characteristic(characteristic_id: int) -> Select[tuple[int]]:
    """Ids of `characteristic_id` in every routing revision of its unit type."""
    picked = (select(Characteristic.name, RoutingStep.code, RoutingRevision.unit_type_id)
              .join(RoutingStep, RoutingStep.id == Characteristic.step_id)
              .join(RoutingRevision, RoutingRevision.id == RoutingStep.routing_revision_id)
              .where(Characteristic.id == characteristic_id).subquery())
    return (select(Characteristic.id)
            .join(RoutingStep, RoutingStep.id == Characteristic.step_id)
            .join(RoutingRevision, RoutingRevision.id == RoutingStep.routing_revision_id)
            .join(picked, (picked.c.name == Characteristic.name) & (picked.c.code == RoutingStep.code)
                  & (picked.c.unit_type_id == RoutingRevision.unit_type_id)))


def _values(characteristic_id: int) -> Select[tuple[datetime, str, float]]:
    # Voided entries were wrong; the entry that replaced each of them is a row of its own.
    return (select(Measurement.recorded_at, Unit.serial, Measurement.value)
            .join(StepExecution, StepExecution.id == Measurement.execution_id)
            .join(Unit, Unit.id == StepExecution.unit_id)
            .where(Measurement.characteristic_id.in_(_same_characteristic(characteristic_id)),
                   Measurement.voided_at.is_(None), Measurement.value.is_not(None))
            .order_by(Measurement.recorded_at, Measurement.id))


def series(session: Session, characteristic_id: int, start: datetime, end: datetime) -> pd.DataFrame:
    """Values recorded in [start, end), oldest first: recorded_at (UTC), serial, value."""
    query = _values(characteristic_id).where(Measurement.recorded_at >= start, Measurement.recorded_at < end)
    return pd.DataFrame(session.execute(query).all(), columns=SERIES_COLUMNS)


def baseline_values(session: Session, characteristic_id: int, count: int) -> list[float]:
    """The first `count` values ever recorded: the baseline the control limits come from, whatever range is shown."""
    return list(session.scalars(_values(characteristic_id).with_only_columns(Measurement.value).limit(count)))
