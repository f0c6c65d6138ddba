"""Reading a unit's record: where it stands in its routing and everything done to it."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from mes.errors import NotFound
from mes.models import RoutingRevision, RoutingStep
from mes.models.production import Nonconformance, StepEvent, StepExecution, Unit


def lock_unit(session: Session, serial: str) -> Unit:
    """Load a unit for change; on PostgreSQL the row stays locked until commit, so racers queue."""
    unit = session.scalars(select(Unit).where(Unit.serial == serial).with_for_update()).one_or_none()
    if unit is None:
        raise NotFound(f"no unit with serial {serial!r}", "serial")
    return unit


@dataclass(frozen=True)
class UnitRecord:
    unit: Unit
    next_step: RoutingStep | None
    open_ncrs: list[Nonconformance]


def unit_record(session: Session, serial: str) -> UnitRecord:
    """The unit with its routing revision, executions (events, people, measurements) and open NCRs."""
    unit = session.scalars(
        select(Unit).where(Unit.serial == serial).options(
            selectinload(Unit.work_order), selectinload(Unit.unit_type),
            selectinload(Unit.routing_revision).selectinload(RoutingRevision.steps).options(
                selectinload(RoutingStep.stations), selectinload(RoutingStep.characteristics)),
            selectinload(Unit.executions).options(
                selectinload(StepExecution.station), selectinload(StepExecution.machine),
                selectinload(StepExecution.measurements),
                selectinload(StepExecution.events).selectinload(StepEvent.user)),
        )
    ).one_or_none()
    if unit is None:
        raise NotFound(f"no unit with serial {serial!r}", "serial")
    next_step = None
    if unit.status == "in_work" and unit.current_execution_id is None:
        next_step = next((s for s in unit.routing_revision.steps if s.sequence == unit.next_sequence), None)
    ncrs = list(session.scalars(select(Nonconformance).filter_by(unit_id=unit.id, status="open")
                                .order_by(Nonconformance.id)))
    return UnitRecord(unit, next_step, ncrs)
