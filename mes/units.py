"""Reading a unit's record: where it stands in its routing and everything done to it."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from mes.errors import Conflict, NotFound
from mes.models import Allocation, Consumption, RoutingRevision, RoutingStep, Satellite
from mes.models.production import Nonconformance, StepEvent, StepExecution, Unit


def lock_unit(session: Session, serial: str) -> Unit:
    """Load a unit for change; on PostgreSQL the row stays locked until commit, so racers queue."""
    # populate_existing: a copy read earlier in this session is replaced by the locked, current row.
    unit = session.scalars(select(Unit).where(Unit.serial == serial).with_for_update()
                           .execution_options(populate_existing=True)).one_or_none()
    if unit is None:
        raise NotFound(f"no unit with serial {serial!r}", "serial")
    return unit


def current_execution(session: Session, serial: str, step_code: str, statuses: tuple[str, ...]) -> StepExecution:
    """The unit's execution of `step_code` now under way, locking the unit; refused unless in `statuses`."""
    unit = lock_unit(session, serial)
    execution = session.get(StepExecution, unit.current_execution_id) if unit.current_execution_id else None
    if execution is None or execution.step_code != step_code:
        raise Conflict(f"{serial} is not in step {step_code}", "step")
    if execution.status not in statuses:
        raise Conflict(f"step {step_code} of {serial} is {execution.status}", "step")
    return execution


def open_ncr_of(session: Session, unit: Unit) -> str | None:
    """The number of an NCR on the unit still open or awaiting MRB, if there is one."""
    return session.scalar(select(Nonconformance.number).where(
        Nonconformance.unit_id == unit.id, Nonconformance.status.in_(("open", "awaiting_mrb"))))


def built_into(session: Session, unit: Unit) -> str | None:
    """The serial of the unit this one is built into now, if any."""
    return session.scalar(select(Unit.serial).join(Consumption, Consumption.unit_id == Unit.id).where(
        Consumption.component_unit_id == unit.id, Consumption.removed_at.is_(None)))


def allocated_to(session: Session, unit: Unit) -> str | None:
    """The build number of the satellite this unit is allocated to now, if any."""
    return session.scalar(select(Satellite.build).join(Allocation).where(
        Allocation.unit_id == unit.id, Allocation.removed_at.is_(None)))


def check_not_held(session: Session, unit: Unit, field: str) -> None:
    """Refuse a unit with an open NCR or a standing hold."""
    if (ncr := open_ncr_of(session, unit)) is not None:
        raise Conflict(f"{unit.serial} has an open NCR ({ncr})", field)
    if unit.on_hold:
        raise Conflict(f"{unit.serial} is on hold", field)


def check_free_to_install(session: Session, unit: Unit, field: str, into: str) -> None:
    """Refuse a unit that is not accepted, is held, or already sits in another unit or a satellite."""
    if unit.status != "accepted":
        raise Conflict(f"{unit.serial} is {unit.status.replace('_', ' ')}; only an accepted unit goes into {into}",
                       field)
    check_not_held(session, unit, field)
    if (parent := built_into(session, unit)) is not None:
        raise Conflict(f"{unit.serial} is already built into {parent}", field)
    if (build := allocated_to(session, unit)) is not None:
        raise Conflict(f"{unit.serial} is allocated to satellite {build}", field)


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
